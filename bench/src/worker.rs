//! The bench's worker: pollers that answer workflow tasks from the history
//! (see `scenarios::decide`) and complete activities, over raw gRPC.

use std::sync::Arc;
use std::time::Duration;

use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::TaskQueueKind;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, PollActivityTaskQueueRequest, PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse, RespondActivityTaskCompletedRequest, RespondWorkflowTaskCompletedRequest,
};
use tokio::sync::watch;
use tonic::Request;

use crate::Client;
use crate::scenarios::{Scenario, activity_result, decide, payload, text_of};
use crate::stats::Recorder;

const POLL_TIMEOUT: Duration = Duration::from_secs(70);
const IDENTITY: &str = "temper-bench";

pub struct Worker {
    pub client: Client,
    pub namespace: String,
    pub task_queue: String,
    pub scenario: Scenario,
    pub recorder: Arc<Recorder>,
}

impl Worker {
    fn task_queue(&self) -> Option<TaskQueue> {
        Some(TaskQueue { name: self.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() })
    }

    /// Polls workflow tasks until `stop` turns true.
    pub async fn run_workflow_poller(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut client = self.client.clone();
        loop {
            let mut request = Request::new(PollWorkflowTaskQueueRequest {
                namespace: self.namespace.clone(),
                task_queue: self.task_queue(),
                identity: IDENTITY.to_string(),
                ..Default::default()
            });
            request.set_timeout(POLL_TIMEOUT);
            let polled = tokio::select! {
                _ = stop.changed() => return,
                polled = client.poll_workflow_task_queue(request) => polled,
            };
            match polled {
                Ok(response) if !response.get_ref().task_token.is_empty() => {
                    if let Err(kind) = self.answer_workflow_task(&mut client, response.into_inner()).await {
                        self.recorder.error(kind);
                    }
                }
                Ok(_) => {}
                Err(status) => {
                    // A poll the server cannot take now is simply made again, as SDK workers do.
                    if status.code() != tonic::Code::Unavailable {
                        self.recorder.error(format!("worker: poll workflow task: {:?}", status.code()));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn answer_workflow_task(&self, client: &mut Client, task: PollWorkflowTaskQueueResponse) -> Result<(), String> {
        let execution = task.workflow_execution.clone().unwrap_or_default();
        let history = self.full_history(client, &execution, &task).await?;
        let decision = decide(self.scenario, &history, &execution.workflow_id, &self.task_queue);
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
        let mut token = task.next_page_token.clone();
        while !token.is_empty() {
            let page = client
                .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                    namespace: self.namespace.clone(),
                    execution: Some(execution.clone()),
                    next_page_token: token,
                    ..Default::default()
                })
                .await
                .map_err(|status| format!("worker: fetch history page: {:?}", status.code()))?
                .into_inner();
            let history = page.decoded_history().map_err(|e| format!("worker: undecodable history page: {e}"))?;
            events.extend(history.events);
            token = page.next_page_token;
        }
        Ok(events)
    }

    /// Polls activity tasks until `stop` turns true.
    pub async fn run_activity_poller(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut client = self.client.clone();
        loop {
            let mut request = Request::new(PollActivityTaskQueueRequest {
                namespace: self.namespace.clone(),
                task_queue: self.task_queue(),
                identity: IDENTITY.to_string(),
                ..Default::default()
            });
            request.set_timeout(POLL_TIMEOUT);
            let polled = tokio::select! {
                _ = stop.changed() => return,
                polled = client.poll_activity_task_queue(request) => polled,
            };
            match polled {
                Ok(response) if !response.get_ref().task_token.is_empty() => {
                    let task = response.into_inner();
                    let input = text_of(task.input.as_ref()).unwrap_or_default();
                    let completion = RespondActivityTaskCompletedRequest {
                        task_token: task.task_token,
                        result: payload(&activity_result(&input)),
                        identity: IDENTITY.to_string(),
                        namespace: self.namespace.clone(),
                        ..Default::default()
                    };
                    if let Err(status) = client.respond_activity_task_completed(completion).await {
                        self.recorder.error(format!("worker: respond activity task: {:?}", status.code()));
                    }
                }
                Ok(_) => {}
                Err(status) => {
                    // A poll the server cannot take now is simply made again, as SDK workers do.
                    if status.code() != tonic::Code::Unavailable {
                        self.recorder.error(format!("worker: poll activity task: {:?}", status.code()));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}
