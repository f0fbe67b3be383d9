//! The bench's worker: pollers that answer workflow tasks from the history
//! (see `scenarios::decide`) and complete activities, over raw gRPC.

use std::sync::Arc;
use std::time::Duration;

use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::TaskQueueKind;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse, PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse, RespondActivityTaskCompletedRequest, RespondWorkflowTaskCompletedRequest,
};
use tokio::sync::watch;
use tonic::Request;

use crate::{Client, HistoryRead, read_history};
use crate::scenarios::{ActivityOptions, Scenario, activity_result, decide, payload, text_of};
use crate::stats::Recorder;

const POLL_TIMEOUT: Duration = Duration::from_secs(70);

#[derive(Clone, Copy, Debug)]
pub enum TaskKind {
    Workflow,
    Activity,
}

enum Task {
    Workflow(PollWorkflowTaskQueueResponse),
    Activity(PollActivityTaskQueueResponse),
}

impl Task {
    fn has_token(&self) -> bool {
        match self {
            Task::Workflow(task) => !task.task_token.is_empty(),
            Task::Activity(task) => !task.task_token.is_empty(),
        }
    }
}
const IDENTITY: &str = "temper-bench";

pub struct Worker {
    pub polls: Client,
    /// Answers to tasks; the polls' connection unless polls are reset.
    pub answers: Client,
    pub namespace: String,
    pub scenario: Scenario,
    /// Where activities run (the workflows' task queue too).
    pub activities: ActivityOptions,
    pub recorder: Arc<Recorder>,
    /// Drop each poll after a random time up to this.
    pub reset_polls_within: Option<Duration>,
}

impl Worker {
    fn task_queue(&self) -> Option<TaskQueue> {
        Some(TaskQueue { name: self.activities.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() })
    }

    /// Polls tasks of one kind and answers them until `stop` turns true.
    pub async fn run_poller(self: Arc<Self>, kind: TaskKind, mut stop: watch::Receiver<bool>) {
        let (mut polls, mut answers) = (self.polls.clone(), self.answers.clone());
        loop {
            let polled = tokio::select! {
                _ = stop.changed() => return,
                polled = self.poll_or_reset(&mut polls, kind) => polled,
            };
            match polled {
                Ok(Some(task)) => {
                    if let Err(kind) = self.answer(&mut answers, task).await {
                        self.recorder.error(kind);
                    }
                }
                Ok(None) => {}
                Err(status) => {
                    // A poll the server cannot take now is simply made again, as SDK workers do;
                    // so is one whose connection the server closed for the resets this worker makes.
                    if status.code() != tonic::Code::Unavailable && self.reset_polls_within.is_none() {
                        self.recorder.error(format!("worker: poll {kind:?} task: {:?}", status.code()));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// One long poll, dropped after a random time when resets are asked for;
    /// `None` when it ends without a task.
    async fn poll_or_reset(&self, client: &mut Client, kind: TaskKind) -> Result<Option<Task>, tonic::Status> {
        let Some(within) = self.reset_polls_within else { return self.poll_once(client, kind).await };
        let reset_after = within.mul_f64(fastrand::f64());
        tokio::select! {
            polled = self.poll_once(client, kind) => polled,
            _ = tokio::time::sleep(reset_after) => Ok(None),
        }
    }

    /// One long poll; `None` when it ends without a task.
    async fn poll_once(&self, client: &mut Client, kind: TaskKind) -> Result<Option<Task>, tonic::Status> {
        let namespace = self.namespace.clone();
        let identity = IDENTITY.to_string();
        let task = match kind {
            TaskKind::Workflow => {
                let mut request = Request::new(PollWorkflowTaskQueueRequest {
                    namespace,
                    task_queue: self.task_queue(),
                    identity,
                    ..Default::default()
                });
                request.set_timeout(POLL_TIMEOUT);
                Task::Workflow(client.poll_workflow_task_queue(request).await?.into_inner())
            }
            TaskKind::Activity => {
                let mut request = Request::new(PollActivityTaskQueueRequest {
                    namespace,
                    task_queue: self.task_queue(),
                    identity,
                    ..Default::default()
                });
                request.set_timeout(POLL_TIMEOUT);
                Task::Activity(client.poll_activity_task_queue(request).await?.into_inner())
            }
        };
        Ok(task.has_token().then_some(task))
    }

    async fn answer(&self, client: &mut Client, task: Task) -> Result<(), String> {
        match task {
            Task::Workflow(task) => self.answer_workflow_task(client, task).await,
            Task::Activity(task) => self.answer_activity_task(client, task).await,
        }
    }

    async fn answer_workflow_task(&self, client: &mut Client, task: PollWorkflowTaskQueueResponse) -> Result<(), String> {
        let execution = task.workflow_execution.clone().unwrap_or_default();
        let history = self.full_history(client, &execution, &task).await?;
        let decision = decide(self.scenario, &history, &execution.workflow_id, &self.activities);
        let request = RespondWorkflowTaskCompletedRequest {
            task_token: task.task_token,
            commands: decision.commands,
            identity: IDENTITY.to_string(),
            namespace: self.namespace.clone(),
            force_create_new_workflow_task: decision.force_new_task,
            ..Default::default()
        };
        client
            .respond_workflow_task_completed(request)
            .await
            .map_err(|status| format!("worker: respond workflow task: {:?}", status.code()))?;
        Ok(())
    }

    /// The poll response carries the first page; the rest is fetched.
    async fn full_history(&self, client: &mut Client, execution: &WorkflowExecution, task: &PollWorkflowTaskQueueResponse) -> Result<Vec<HistoryEvent>, String> {
        let mut events = task.history.clone().map(|h| h.events).unwrap_or_default();
        if !task.next_page_token.is_empty() {
            let rest = read_history(client, &self.namespace, execution, task.next_page_token.clone(), HistoryRead::All).await?;
            events.extend(rest);
        }
        Ok(events)
    }

    async fn answer_activity_task(&self, client: &mut Client, task: PollActivityTaskQueueResponse) -> Result<(), String> {
        let input = text_of(task.input.as_ref()).unwrap_or_default();
        let completion = RespondActivityTaskCompletedRequest {
            task_token: task.task_token,
            result: payload(&activity_result(&input)),
            identity: IDENTITY.to_string(),
            namespace: self.namespace.clone(),
            ..Default::default()
        };
        client
            .respond_activity_task_completed(completion)
            .await
            .map_err(|status| format!("worker: respond activity task: {:?}", status.code()))?;
        Ok(())
    }
}
