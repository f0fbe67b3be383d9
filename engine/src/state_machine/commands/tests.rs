//! Unit tests of the state machine, a group per command and per timeout kind.
//! A small harness plays the engine: it keeps the run's state, the armed
//! timers and every event, and checks that event ids stay contiguous.

use std::collections::BTreeMap;

use temper_proto::api::command::v1::command::Attributes as CommandAttributes;
use temper_proto::api::command::v1::*;
use temper_proto::api::common::v1::{ActivityType, Payload, Payloads, WorkflowExecution, WorkflowType};
use temper_proto::api::enums::v1::*;
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{ApplicationFailureInfo, Failure};
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::history::v1::history_event::Attributes as EventAttributes;
use temper_proto::api::taskqueue::v1::{StickyExecutionAttributes, TaskQueue};
use temper_proto::api::workflowservice::v1::*;
use temper_proto::records::command_record::Command;
use temper_proto::records::*;

use super::*;

type StartedTask = super::WorkflowTaskStarted;
type StartedActivity = super::ActivityTaskStarted;
use crate::state_machine::{Config, Effect};
use crate::store::TimerKey;
use crate::time::{duration_from_nanos, timestamp_nanos};

const S: i64 = 1_000_000_000;
const NS: &str = "ns-id";
const WF: &str = "wf-1";
const RUN: &str = "run-1";
const QUEUE: &str = "queue";

struct Harness {
    config: Config,
    now: i64,
    state: WorkflowMutableState,
    history: Vec<HistoryEvent>,
    timers: BTreeMap<TimerKey, TimerTask>,
    dispatched: Vec<TaskRecord>,
    /// The run's retention ran out and it asked to be deleted.
    deleted: bool,
    /// The run that followed this one when it closed.
    successor: Option<crate::state_machine::NewRun>,
    /// Commands the run sent to other workflows.
    sent: Vec<CommandRecord>,
    /// What the run's transitions asked the metrics to count.
    measured: Vec<crate::state_machine::Measurement>,
}

fn payloads(text: &str) -> Option<Payloads> {
    Some(Payloads { payloads: vec![Payload { metadata: Default::default(), data: text.as_bytes().to_vec(), external_payloads: vec![] }] })
}

fn start_request() -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: WF.into(),
        workflow_type: Some(WorkflowType { name: "Greet".into() }),
        task_queue: Some(TaskQueue { name: QUEUE.into(), kind: 1, normal_name: String::new() }),
        input: payloads("input"),
        identity: "client".into(),
        request_id: "start-request".into(),
        ..Default::default()
    }
}

impl Harness {
    fn start() -> Self {
        Self::start_with(start_request())
    }

    fn start_with(request: StartWorkflowExecutionRequest) -> Self {
        Self::start_command(StartWorkflow { request: Some(request), run_id: RUN.into(), ..Default::default() })
    }

    fn start_retained_for(retention: i64) -> Self {
        let namespace_retention = Some(duration_from_nanos(retention));
        Self::start_command(StartWorkflow { request: Some(start_request()), run_id: RUN.into(), namespace_retention, scheduled_by: None })
    }

    fn start_command(command: StartWorkflow) -> Self {
        let config = Config::default();
        let now = 1_000 * S;
        let outcome = start_workflow(NS, None, &command, Clock { now, config: &config }).expect("start");
        Self::with_new_run(config, now, outcome.new_run.expect("a new run"))
    }

    fn with_new_run(config: Config, now: i64, new_run: crate::state_machine::NewRun) -> Self {
        let mut harness = Harness {
            config,
            now,
            state: new_run.state,
            history: Vec::new(),
            timers: BTreeMap::new(),
            dispatched: Vec::new(),
            deleted: false,
            successor: None,
            sent: Vec::new(),
            measured: Vec::new(),
        };
        harness.absorb(new_run.transition);
        harness
    }

    fn absorb(&mut self, mut transition: Transition) {
        if let Some(successor) = transition.successor.take() {
            assert!(self.successor.is_none(), "a run has one successor at most");
            self.successor = Some(*successor);
        }
        let mut expected_id = self.history.last().map(|e| e.event_id + 1).unwrap_or(1);
        for event in &transition.events {
            assert_eq!(event.event_id, expected_id, "event ids must be contiguous: {:?}", event_types(&transition.events));
            expected_id += 1;
        }
        assert_eq!(self.state.info.as_ref().unwrap().next_event_id, expected_id);
        self.history.extend(transition.events);
        for effect in transition.effects {
            match effect {
                Effect::AddTimer(key, task) => {
                    self.timers.insert(key, task);
                }
                Effect::DeleteTimer(key) => {
                    self.timers.remove(&key);
                }
                Effect::DispatchTask(task) => self.dispatched.push(task),
                Effect::Visibility(_) => {}
                Effect::SendCommand(command) => self.sent.push(command),
                Effect::DeleteRun(_) => self.deleted = true,
                Effect::Measure(measurement) => self.measured.push(measurement),
            }
        }
    }

    fn apply(&mut self, command: Command) -> Result<Reply, CommandError> {
        self.apply_from(command, None)
    }

    /// Applies a command another workflow (`origin`) sent.
    fn apply_from(&mut self, command: Command, origin: Option<&Origin>) -> Result<Reply, CommandError> {
        let config = self.config.clone();
        let applied = apply_to_run(&mut self.state, &command, origin, Clock { now: self.now, config: &config })?;
        self.absorb(applied.transition);
        applied.reply
    }

    fn advance(&mut self, nanos: i64) {
        self.now += nanos;
    }

    /// Fires every armed timer that is due, as the engine's timer service does.
    fn fire_due_timers(&mut self) {
        loop {
            let due: Vec<(TimerKey, TimerTask)> =
                self.timers.iter().filter(|(k, _)| k.fire_time_nanos <= self.now).map(|(k, t)| (k.clone(), t.clone())).collect();
            if due.is_empty() {
                return;
            }
            for (key, task) in due {
                self.timers.remove(&key);
                let config = self.config.clone();
                let transition = fire_timer(&mut self.state, &task, Clock { now: self.now, config: &config });
                self.absorb(transition);
            }
        }
    }

    fn event_types(&self) -> Vec<EventType> {
        event_types(&self.history)
    }

    fn wft(&self) -> &WorkflowTaskInfo {
        self.state.workflow_task.as_ref().expect("a pending workflow task")
    }

    fn start_workflow_task(&mut self) -> StartedTask {
        let scheduled_event_id = self.wft().scheduled_event_id;
        match self.apply(Command::RecordWorkflowTaskStarted(RecordWorkflowTaskStarted {
            run_id: RUN.into(),
            scheduled_event_id,
            request_id: format!("poll-{scheduled_event_id}-{}", self.now),
            identity: "worker".into(),
            task_queue: None,
        })) {
            Ok(Reply::WorkflowTaskStarted(started)) => started,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn workflow_token(&self, started: &StartedTask) -> TaskToken {
        TaskToken {
            namespace_id: NS.into(),
            workflow_id: WF.into(),
            run_id: RUN.into(),
            scheduled_event_id: started.scheduled_event_id,
            attempt: started.attempt,
            started_event_id: started.started_event_id,
            kind: TaskKind::Workflow as i32,
            ..Default::default()
        }
    }

    fn complete_workflow_task_with(&mut self, started: &StartedTask, request: RespondWorkflowTaskCompletedRequest) -> Result<Reply, CommandError> {
        let token = self.workflow_token(started);
        self.apply(Command::CompleteWorkflowTask(CompleteWorkflowTask { token: Some(token), request: Some(request), search_attribute_types: None }))
    }

    fn complete_workflow_task(&mut self, commands: Vec<temper_proto::api::command::v1::Command>) -> Result<Reply, CommandError> {
        let started = self.start_workflow_task();
        self.complete_workflow_task_with(&started, RespondWorkflowTaskCompletedRequest { commands, identity: "worker".into(), ..Default::default() })
    }

    /// Completes the pending workflow task from a worker that asks for its
    /// next tasks on its sticky queue `sticky_queue`.
    fn complete_workflow_task_asking_for_sticky(&mut self, sticky_queue: &str, schedule_to_start: i64) {
        let started = self.start_workflow_task();
        let sticky = StickyExecutionAttributes {
            worker_task_queue: Some(TaskQueue { name: sticky_queue.into(), kind: 2, normal_name: QUEUE.into() }),
            schedule_to_start_timeout: Some(duration_from_nanos(schedule_to_start)),
        };
        let request = RespondWorkflowTaskCompletedRequest { sticky_attributes: Some(sticky), ..Default::default() };
        self.complete_workflow_task_with(&started, request).unwrap();
    }

    fn start_activity(&mut self, scheduled_event_id: i64) -> StartedActivity {
        let attempt = self.state.activities[&scheduled_event_id].attempt;
        match self.apply(Command::RecordActivityTaskStarted(RecordActivityTaskStarted {
            run_id: RUN.into(),
            scheduled_event_id,
            attempt,
            request_id: format!("activity-poll-{attempt}"),
            identity: "worker".into(),
        })) {
            Ok(Reply::ActivityTaskStarted(started)) => started,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn activity_token(&self, started: &StartedActivity) -> TaskToken {
        TaskToken {
            namespace_id: NS.into(),
            workflow_id: WF.into(),
            run_id: RUN.into(),
            scheduled_event_id: started.scheduled_event_id,
            attempt: started.attempt,
            started_time_nanos: started.started_time_nanos,
            kind: TaskKind::Activity as i32,
            ..Default::default()
        }
    }

    fn complete_activity(&mut self, started: &StartedActivity, result: &str) -> Result<Reply, CommandError> {
        let token = self.activity_token(started);
        self.apply(Command::CompleteActivityTask(CompleteActivityTask { token: Some(token), result: payloads(result), identity: "worker".into() }))
    }

    fn fail_activity(&mut self, started: &StartedActivity, failure: Failure) -> Result<Reply, CommandError> {
        let token = self.activity_token(started);
        self.apply(Command::FailActivityTask(FailActivityTask {
            token: Some(token),
            request: Some(RespondActivityTaskFailedRequest { failure: Some(failure), identity: "worker".into(), ..Default::default() }),
        }))
    }

    fn heartbeat(&mut self, started: &StartedActivity, details: &str) -> Result<Reply, CommandError> {
        let token = self.activity_token(started);
        self.apply(Command::RecordActivityTaskHeartbeat(RecordActivityTaskHeartbeat {
            token: Some(token),
            details: payloads(details),
            identity: "worker".into(),
        }))
    }

    fn signal(&mut self, name: &str, request_id: &str) -> Result<Reply, CommandError> {
        self.apply(Command::SignalWorkflow(SignalWorkflow {
            request: Some(SignalWorkflowExecutionRequest {
                workflow_execution: Some(WorkflowExecution { workflow_id: WF.into(), run_id: String::new() }),
                signal_name: name.into(),
                request_id: request_id.into(),
                ..Default::default()
            }),
        }))
    }

    fn status(&self) -> WorkflowExecutionStatus {
        self.state.info.as_ref().unwrap().status()
    }

    fn last_event(&self) -> &HistoryEvent {
        self.history.last().unwrap()
    }

    fn timer_kinds(&self) -> Vec<String> {
        let run = format!("{}/", self.state.info.as_ref().unwrap().run_id);
        self.timers.keys().map(|k| k.id.rsplit_once(&run).unwrap().1.to_string()).collect()
    }
}

fn event_types(events: &[HistoryEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.event_type()).collect()
}

fn command(attributes: CommandAttributes) -> temper_proto::api::command::v1::Command {
    let command_type = crate::state_machine::command_type_of(&attributes);
    temper_proto::api::command::v1::Command { command_type: command_type as i32, attributes: Some(attributes), ..Default::default() }
}

fn schedule_activity(id: &str, start_to_close: i64) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
        activity_id: id.into(),
        activity_type: Some(ActivityType { name: "Act".into() }),
        start_to_close_timeout: Some(duration_from_nanos(start_to_close)),
        ..Default::default()
    }))
}

fn schedule_activity_with(attributes: ScheduleActivityTaskCommandAttributes) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
        activity_type: Some(ActivityType { name: "Act".into() }),
        ..attributes
    }))
}

fn complete_workflow(result: &str) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes { result: payloads(result) }))
}

fn start_timer(id: &str, nanos: i64) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::StartTimerCommandAttributes(StartTimerCommandAttributes {
        timer_id: id.into(),
        start_to_fire_timeout: Some(duration_from_nanos(nanos)),
    }))
}

fn application_failure(message: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            r#type: "MyError".into(),
            non_retryable,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn retry_policy(initial: i64, maximum_attempts: i32) -> temper_proto::api::common::v1::RetryPolicy {
    temper_proto::api::common::v1::RetryPolicy {
        initial_interval: Some(duration_from_nanos(initial)),
        backoff_coefficient: 2.0,
        maximum_interval: None,
        maximum_attempts,
        non_retryable_error_types: vec![],
    }
}

use EventType::*;

mod start_workflow_command {
    use super::*;

    #[test]
    fn start_writes_started_and_schedules_the_first_workflow_task() {
        let h = Harness::start();
        assert_eq!(h.event_types(), vec![WorkflowExecutionStarted, WorkflowTaskScheduled]);
        assert_eq!(h.status(), WorkflowExecutionStatus::Running);
        assert_eq!(h.dispatched.len(), 1);
        assert_eq!(h.dispatched[0].task_queue, QUEUE);
        assert_eq!(h.dispatched[0].kind, TaskKind::Workflow as i32);
        assert_eq!(h.wft().start_to_close_timeout, Some(duration_from_nanos(10 * S)), "default task timeout");
    }

    #[test]
    fn same_request_id_gets_the_first_outcome_and_a_running_id_is_refused() {
        let mut h = Harness::start();
        let config = h.config.clone();
        let retry = StartWorkflow { request: Some(start_request()), run_id: "run-2".into(), ..Default::default() };
        let outcome = start_workflow(NS, Some(&mut h.state), &retry, Clock { now: h.now, config: &config }).unwrap();
        assert_eq!(outcome.reply, Reply::Started { run_id: RUN.into(), started: true });
        assert!(outcome.new_run.is_none());

        let other = StartWorkflow {
            request: Some(StartWorkflowExecutionRequest { request_id: "other".into(), ..start_request() }),
            run_id: "run-3".into(),
            ..Default::default()
        };
        let error = start_workflow(NS, Some(&mut h.state), &other, Clock { now: h.now, config: &config }).unwrap_err();
        match error {
            CommandError::WorkflowAlreadyStarted { run_id, start_request_id, message } => {
                assert_eq!(run_id, RUN);
                assert_eq!(start_request_id, "start-request");
                assert!(message.contains("already running"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn conflict_policies_use_or_terminate_the_running_run() {
        let mut h = Harness::start();
        let config = h.config.clone();
        let use_existing = StartWorkflow {
            request: Some(StartWorkflowExecutionRequest {
                request_id: "r2".into(),
                workflow_id_conflict_policy: WorkflowIdConflictPolicy::UseExisting as i32,
                ..start_request()
            }),
            run_id: "run-2".into(),
            ..Default::default()
        };
        let outcome = start_workflow(NS, Some(&mut h.state), &use_existing, Clock { now: h.now, config: &config }).unwrap();
        assert_eq!(outcome.reply, Reply::Started { run_id: RUN.into(), started: false });

        let terminate = StartWorkflow {
            request: Some(StartWorkflowExecutionRequest {
                request_id: "r3".into(),
                workflow_id_conflict_policy: WorkflowIdConflictPolicy::TerminateExisting as i32,
                ..start_request()
            }),
            run_id: "run-3".into(),
            ..Default::default()
        };
        let outcome = start_workflow(NS, Some(&mut h.state), &terminate, Clock { now: h.now, config: &config }).unwrap();
        assert_eq!(outcome.reply, Reply::Started { run_id: "run-3".into(), started: true });
        let previous = outcome.previous_run.expect("previous run terminated");
        assert_eq!(event_types(&previous.events), vec![WorkflowExecutionTerminated]);
        assert_eq!(h.status(), WorkflowExecutionStatus::Terminated);
    }

    #[test]
    fn reuse_policies_apply_to_closed_runs() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![complete_workflow("done")]).unwrap();
        let config = h.config.clone();
        let again = |policy: WorkflowIdReusePolicy| StartWorkflow {
            request: Some(StartWorkflowExecutionRequest {
                request_id: format!("r-{}", policy as i32),
                workflow_id_reuse_policy: policy as i32,
                ..start_request()
            }),
            run_id: "run-2".into(),
            ..Default::default()
        };
        let clock = Clock { now: h.now, config: &config };
        assert!(start_workflow(NS, Some(&mut h.state), &again(WorkflowIdReusePolicy::AllowDuplicate), clock).unwrap().new_run.is_some());
        assert!(matches!(
            start_workflow(NS, Some(&mut h.state), &again(WorkflowIdReusePolicy::RejectDuplicate), clock),
            Err(CommandError::WorkflowAlreadyStarted { .. })
        ));
        assert!(matches!(
            start_workflow(NS, Some(&mut h.state), &again(WorkflowIdReusePolicy::AllowDuplicateFailedOnly), clock),
            Err(CommandError::WorkflowAlreadyStarted { .. })
        ));
    }

    #[test]
    fn run_timeout_defaults_to_the_execution_timeout_and_bounds_the_task_timeout() {
        let h = Harness::start_with(StartWorkflowExecutionRequest {
            workflow_execution_timeout: Some(duration_from_nanos(5 * S)),
            ..start_request()
        });
        let info = h.state.info.as_ref().unwrap();
        assert_eq!(info.run_timeout, Some(duration_from_nanos(5 * S)));
        assert_eq!(info.workflow_task_timeout, Some(duration_from_nanos(5 * S)));
    }
}

mod workflow_task_commands {
    use super::*;

    #[test]
    fn hello_activity_history_matches_temporal() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![schedule_activity("1", 10 * S)]).unwrap();
        let activity = h.start_activity(5);
        h.complete_activity(&activity, "hello").unwrap();
        h.complete_workflow_task(vec![complete_workflow("hello")]).unwrap();
        assert_eq!(
            h.event_types(),
            vec![
                WorkflowExecutionStarted,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskCompleted,
                ActivityTaskScheduled,
                ActivityTaskStarted,
                ActivityTaskCompleted,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskCompleted,
                WorkflowExecutionCompleted,
            ]
        );
        match &h.history[6].attributes {
            Some(EventAttributes::ActivityTaskCompletedEventAttributes(a)) => {
                assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 6));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(h.status(), WorkflowExecutionStatus::Completed);
        assert!(h.timers.is_empty(), "a closed run has no armed timers: {:?}", h.timer_kinds());
    }

    #[test]
    fn a_stale_or_unknown_token_is_refused_without_changes() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        let mut token = h.workflow_token(&started);
        token.started_event_id += 1;
        let before = h.state.clone();
        let error = h
            .apply(Command::CompleteWorkflowTask(CompleteWorkflowTask { token: Some(token), request: Some(Default::default()), search_attribute_types: None }))
            .unwrap_err();
        assert_eq!(error, CommandError::WorkflowTaskNotFound);
        assert_eq!(h.state, before);
    }

    #[test]
    fn a_bad_command_fails_the_task_and_drops_the_commands_before_it() {
        let mut h = Harness::start();
        let bad_activity = schedule_activity_with(ScheduleActivityTaskCommandAttributes { activity_id: "2".into(), ..Default::default() });
        let error = h.complete_workflow_task(vec![start_timer("t", S), bad_activity]).unwrap_err();
        assert!(matches!(&error, CommandError::InvalidArgument(m) if m.contains("StartToCloseTimeout")), "{error:?}");
        assert_eq!(h.event_types(), vec![WorkflowExecutionStarted, WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskFailed]);
        assert!(h.state.timers.is_empty(), "the timer of the failed completion is not kept");
        assert!(h.wft().transient, "the retry is a transient attempt");
        assert_eq!(h.wft().attempt, 2);
        match &h.history[3].attributes {
            Some(EventAttributes::WorkflowTaskFailedEventAttributes(a)) => {
                assert_eq!(a.cause(), WorkflowTaskFailedCause::BadScheduleActivityAttributes)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn search_attributes_a_namespace_does_not_define_or_mistyped_fail_the_task() {
        let json = |data: &str| Payload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        };
        let upsert = |name: &str, data: &str| {
            command(CommandAttributes::UpsertWorkflowSearchAttributesCommandAttributes(UpsertWorkflowSearchAttributesCommandAttributes {
                search_attributes: Some(temper_proto::api::common::v1::SearchAttributes {
                    indexed_fields: [(name.to_string(), json(data))].into(),
                }),
            }))
        };
        let types = SearchAttributeTypes { custom: [("CustomerId".to_string(), IndexedValueType::Keyword as i32)].into() };
        let mut h = Harness::start();
        let complete = |h: &mut Harness, commands| {
            let started = h.start_workflow_task();
            let token = h.workflow_token(&started);
            let request = RespondWorkflowTaskCompletedRequest { commands, namespace: "default".into(), ..Default::default() };
            h.apply(Command::CompleteWorkflowTask(CompleteWorkflowTask {
                token: Some(token),
                request: Some(request),
                search_attribute_types: Some(types.clone()),
            }))
        };
        let error = complete(&mut h, vec![upsert("Unknown", r#""x""#)]).unwrap_err();
        assert_eq!(
            error,
            CommandError::InvalidArgument("Namespace default has no mapping defined for search attribute Unknown".into())
        );
        match &h.history.last().expect("events").attributes {
            Some(EventAttributes::WorkflowTaskFailedEventAttributes(a)) => {
                assert_eq!(a.cause(), WorkflowTaskFailedCause::BadSearchAttributes)
            }
            other => panic!("unexpected {other:?}"),
        }
        complete(&mut h, vec![upsert("CustomerId", r#""c-1""#), upsert("TemporalChangeVersion", r#"["p1"]"#)])
            .expect("registered and predefined attributes of the right type are accepted");
        assert_eq!(h.event_types().iter().filter(|t| **t == UpsertWorkflowSearchAttributes).count(), 2);

        let mut h = Harness::start();
        let error = complete(&mut h, vec![upsert("CustomerId", "42")]).unwrap_err();
        assert_eq!(error, CommandError::InvalidArgument("invalid value for search attribute CustomerId of type Keyword: 42".into()));
        assert_eq!(h.event_types().last(), Some(&WorkflowTaskFailed));

        let continue_as_new = command(CommandAttributes::ContinueAsNewWorkflowExecutionCommandAttributes(
            ContinueAsNewWorkflowExecutionCommandAttributes {
                workflow_type: Some(WorkflowType { name: "Hello".into() }),
                search_attributes: Some(temper_proto::api::common::v1::SearchAttributes {
                    indexed_fields: [("CustomerId".to_string(), json("[1]"))].into(),
                }),
                ..Default::default()
            },
        ));
        let mut h = Harness::start();
        let error = complete(&mut h, vec![continue_as_new]).unwrap_err();
        assert_eq!(
            error,
            CommandError::InvalidArgument(
                "invalid SearchAttributes on ContinueAsNewWorkflowExecutionCommand: \
                 invalid value for search attribute CustomerId of type Keyword: [1]"
                    .into()
            )
        );
        assert_eq!(h.status(), WorkflowExecutionStatus::Running, "the run did not continue");
    }

    #[test]
    fn completing_with_unseen_signals_is_refused_and_a_new_task_delivers_them() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        h.signal("go", "s1").unwrap();
        assert_eq!(h.state.buffered_events.len(), 1, "signal waits for the running task");
        let error = h
            .complete_workflow_task_with(&started, RespondWorkflowTaskCompletedRequest { commands: vec![complete_workflow("x")], ..Default::default() })
            .unwrap_err();
        assert!(matches!(error, CommandError::InvalidArgument(_)));
        assert_eq!(
            h.event_types(),
            vec![
                WorkflowExecutionStarted,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskFailed,
                WorkflowExecutionSignaled,
                WorkflowTaskScheduled
            ]
        );
        assert_eq!(h.wft().attempt, 1, "new events make the next attempt normal");
    }

    #[test]
    fn events_arriving_during_a_task_follow_its_completion_and_cause_a_new_task() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        h.signal("go", "s1").unwrap();
        h.complete_workflow_task_with(&started, RespondWorkflowTaskCompletedRequest { commands: vec![start_timer("t", 60 * S)], ..Default::default() })
            .unwrap();
        assert_eq!(
            h.event_types()[3..],
            [WorkflowTaskCompleted, TimerStarted, WorkflowExecutionSignaled, WorkflowTaskScheduled]
        );
    }

    #[test]
    fn return_new_workflow_task_starts_the_next_task_inline() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        h.signal("go", "s1").unwrap();
        let dispatched_before = h.dispatched.len();
        let reply = h
            .complete_workflow_task_with(
                &started,
                RespondWorkflowTaskCompletedRequest { return_new_workflow_task: true, ..Default::default() },
            )
            .unwrap();
        let Reply::WorkflowTaskCompleted { new_task: Some(next), .. } = reply else { panic!("{reply:?}") };
        assert_eq!(h.dispatched.len(), dispatched_before, "an inline task is not dispatched");
        assert_eq!(next.previous_started_event_id, 3);
        assert_eq!(next.started_event_id, 7);
        assert!(next.sticky);
        assert_eq!(h.event_types()[3..], [WorkflowTaskCompleted, WorkflowExecutionSignaled, WorkflowTaskScheduled, WorkflowTaskStarted]);
    }

    #[test]
    fn a_command_after_the_closing_command_is_refused_without_changes() {
        let mut h = Harness::start();
        let before_events = h.history.len();
        let error = h.complete_workflow_task(vec![complete_workflow("x"), start_timer("t", S)]).unwrap_err();
        assert!(matches!(&error, CommandError::InvalidArgument(m) if m.contains("must be the last command")), "{error:?}");
        assert_eq!(h.history.len(), before_events + 1, "only the started event of the task");
        assert!(h.state.workflow_task.as_ref().unwrap().started_event_id > 0, "the task is still running");
    }

    #[test]
    fn a_closing_command_sent_under_another_type_must_still_be_last() {
        let mut h = Harness::start();
        let mut disguised = complete_workflow("x");
        disguised.command_type = CommandType::RecordMarker as i32;
        let error = h.complete_workflow_task(vec![disguised, start_timer("t", S)]).unwrap_err();
        assert!(matches!(&error, CommandError::InvalidArgument(m) if m.contains("must be the last command")), "{error:?}");
        assert_eq!(h.status(), WorkflowExecutionStatus::Running);
        assert!(!h.event_types().contains(&TimerStarted), "{:?}", h.event_types());
    }

    #[test]
    fn unsupported_commands_fail_the_task_with_a_message_naming_them() {
        let mut h = Harness::start();
        let nexus = temper_proto::api::command::v1::Command {
            command_type: CommandType::ScheduleNexusOperation as i32,
            attributes: Some(CommandAttributes::ScheduleNexusOperationCommandAttributes(Default::default())),
            ..Default::default()
        };
        let error = h.complete_workflow_task(vec![nexus]).unwrap_err();
        assert!(matches!(&error, CommandError::InvalidArgument(m) if m.contains("ScheduleNexusOperation")), "{error:?}");
    }

    #[test]
    fn sticky_attributes_route_the_next_task_to_the_worker_queue() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        h.complete_workflow_task_with(
            &started,
            RespondWorkflowTaskCompletedRequest {
                commands: vec![start_timer("t", S)],
                sticky_attributes: Some(StickyExecutionAttributes {
                    worker_task_queue: Some(TaskQueue { name: "sticky-1".into(), kind: 2, normal_name: QUEUE.into() }),
                    schedule_to_start_timeout: Some(duration_from_nanos(5 * S)),
                }),
                ..Default::default()
            },
        )
        .unwrap();
        h.advance(S);
        h.fire_due_timers();
        let task = h.dispatched.last().unwrap();
        assert_eq!(task.task_queue, "sticky-1");
        assert!(h.wft().sticky);
    }
}

mod timers {
    use super::*;

    #[test]
    fn a_timer_fires_when_due_and_not_before() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![start_timer("sleep", 2 * S)]).unwrap();
        h.advance(S);
        h.fire_due_timers();
        assert!(!h.event_types().contains(&TimerFired));
        h.advance(S);
        h.fire_due_timers();
        assert_eq!(h.event_types()[5..], [TimerFired, WorkflowTaskScheduled]);
    }

    #[test]
    fn a_cancelled_timer_is_disarmed() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![start_timer("sleep", 60 * S)]).unwrap();
        assert!(h.timer_kinds().iter().any(|k| k.starts_with("timer/")));
        h.signal("wake", "s").unwrap();
        h.complete_workflow_task(vec![command(CommandAttributes::CancelTimerCommandAttributes(CancelTimerCommandAttributes {
            timer_id: "sleep".into(),
        }))])
        .unwrap();
        assert!(h.event_types().contains(&TimerCanceled));
        assert!(!h.timer_kinds().iter().any(|k| k.starts_with("timer/")), "{:?}", h.timer_kinds());
    }

    #[test]
    fn duplicate_timer_ids_fail_the_task() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![start_timer("t", 60 * S)]).unwrap();
        h.signal("s", "s").unwrap();
        let error = h.complete_workflow_task(vec![start_timer("t", 60 * S)]).unwrap_err();
        assert!(matches!(error, CommandError::InvalidArgument(_)));
    }
}

mod workflow_task_timeouts {
    use super::*;

    #[test]
    fn start_to_close_timeout_retries_as_a_transient_attempt() {
        let mut h = Harness::start();
        let first = h.start_workflow_task();
        h.advance(10 * S);
        h.fire_due_timers();
        assert_eq!(h.event_types()[3..], [WorkflowTaskTimedOut]);
        assert_eq!(h.wft().attempt, 2);
        assert!(h.wft().transient);
        let second = h.start_workflow_task();
        assert_eq!(second.transient_events.len(), 2, "the worker sees the transient scheduled and started events");
        assert_eq!((second.scheduled_event_id, second.started_event_id), (5, 6));
        assert_eq!(second.history_end_event_id, 5);
        assert_eq!(h.history.len(), 4, "transient events are not stored");
        let token = h.workflow_token(&first);
        let stale = h.apply(Command::CompleteWorkflowTask(CompleteWorkflowTask { token: Some(token), request: Some(Default::default()), search_attribute_types: None }));
        assert_eq!(stale.unwrap_err(), CommandError::WorkflowTaskNotFound);
        h.complete_workflow_task_with(&second, RespondWorkflowTaskCompletedRequest { commands: vec![complete_workflow("ok")], ..Default::default() })
            .unwrap();
        assert_eq!(
            h.event_types()[3..],
            [WorkflowTaskTimedOut, WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskCompleted, WorkflowExecutionCompleted]
        );
    }

    #[test]
    fn a_transient_attempt_becomes_normal_when_events_arrive_before_it_starts() {
        let mut h = Harness::start();
        h.start_workflow_task();
        h.advance(10 * S);
        h.fire_due_timers();
        h.signal("go", "s1").unwrap();
        let started = h.start_workflow_task();
        assert_eq!(started.attempt, 1);
        assert!(started.transient_events.is_empty());
        assert_eq!(h.event_types()[3..], [WorkflowTaskTimedOut, WorkflowExecutionSignaled, WorkflowTaskScheduled, WorkflowTaskStarted]);
    }

    #[test]
    fn failure_reported_by_the_worker_retries_and_later_failures_leave_no_events() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        let token = h.workflow_token(&started);
        h.apply(Command::FailWorkflowTask(FailWorkflowTask {
            token: Some(token),
            request: Some(RespondWorkflowTaskFailedRequest { cause: WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32, ..Default::default() }),
        }))
        .unwrap();
        assert_eq!(h.event_types()[3..], [WorkflowTaskFailed]);
        let second = h.start_workflow_task();
        let token = h.workflow_token(&second);
        h.apply(Command::FailWorkflowTask(FailWorkflowTask { token: Some(token), request: Some(Default::default()) })).unwrap();
        assert_eq!(h.history.len(), 4, "a transient attempt's failure is not recorded");
        assert_eq!(h.wft().attempt, 3);
    }

    #[test]
    fn sticky_schedule_to_start_timeout_moves_the_task_to_the_normal_queue() {
        let mut h = Harness::start();
        h.complete_workflow_task_asking_for_sticky("sticky-1", 5 * S);
        h.signal("s", "s").unwrap();
        assert_eq!(h.dispatched.last().unwrap().task_queue, "sticky-1");
        h.advance(5 * S);
        h.fire_due_timers();
        assert_eq!(h.dispatched.last().unwrap().task_queue, QUEUE);
        assert_eq!(h.wft().attempt, 1);
        assert!(h.event_types().contains(&WorkflowTaskTimedOut));
    }
}

mod activities {
    use super::*;

    fn with_activity(attributes: ScheduleActivityTaskCommandAttributes) -> Harness {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![schedule_activity_with(ScheduleActivityTaskCommandAttributes { activity_id: "a".into(), ..attributes })])
            .unwrap();
        h
    }

    #[test]
    fn failures_retry_with_server_computed_backoff_then_succeed() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(10 * S)),
            retry_policy: Some(retry_policy(S, 0)),
            ..Default::default()
        });
        let first = h.start_activity(5);
        h.fail_activity(&first, application_failure("one", false)).unwrap();
        assert_eq!(h.history.len(), 5, "a retried failure writes no event");
        h.advance(S - 1);
        h.fire_due_timers();
        assert_eq!(h.dispatched.last().unwrap().attempt, 1, "not redispatched before the backoff");
        h.advance(1);
        h.fire_due_timers();
        assert_eq!(h.dispatched.last().unwrap().attempt, 2);
        let second = h.start_activity(5);
        h.fail_activity(&second, application_failure("two", false)).unwrap();
        h.advance(2 * S);
        h.fire_due_timers();
        let third = h.start_activity(5);
        assert_eq!(third.attempt, 3);
        h.complete_activity(&third, "ok").unwrap();
        assert_eq!(h.event_types()[5..], [ActivityTaskStarted, ActivityTaskCompleted, WorkflowTaskScheduled]);
        match &h.history[5].attributes {
            Some(EventAttributes::ActivityTaskStartedEventAttributes(a)) => {
                assert_eq!(a.attempt, 3);
                assert_eq!(a.last_failure.as_ref().unwrap().message, "two");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn attempts_closures_and_the_run_close_are_measured() {
        use crate::state_machine::{ActivityEnd, Measurement};
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(10 * S)),
            retry_policy: Some(retry_policy(S, 0)),
            ..Default::default()
        });
        let first = h.start_activity(5);
        h.advance(3 * S);
        h.fail_activity(&first, application_failure("one", false)).unwrap();
        h.advance(S);
        h.fire_due_timers();
        let second = h.start_activity(5);
        h.advance(2 * S);
        h.complete_activity(&second, "ok").unwrap();
        h.complete_workflow_task(vec![complete_workflow("done")]).unwrap();
        let namespace_id = h.state.info.as_ref().unwrap().namespace_id.clone();
        let attempt = |failed, seconds| Measurement::ActivityAttemptReported {
            namespace_id: namespace_id.clone(),
            activity_type: "Act".into(),
            failed,
            execution_nanos: seconds * S,
        };
        assert_eq!(
            h.measured,
            [
                attempt(true, 3),
                attempt(false, 2),
                Measurement::ActivityClosed { namespace_id: namespace_id.clone(), activity_type: "Act".into(), end: ActivityEnd::Completed },
                Measurement::WorkflowClosed { namespace_id, workflow_type: h.state.info.as_ref().unwrap().workflow_type.clone().unwrap().name, status: WorkflowExecutionStatus::Completed },
            ]
        );
    }

    #[test]
    fn a_non_retryable_failure_fails_the_activity_at_once() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(10 * S)),
            ..Default::default()
        });
        let first = h.start_activity(5);
        h.fail_activity(&first, application_failure("bad", true)).unwrap();
        assert_eq!(h.event_types()[5..], [ActivityTaskStarted, ActivityTaskFailed, WorkflowTaskScheduled]);
        match &h.history[6].attributes {
            Some(EventAttributes::ActivityTaskFailedEventAttributes(a)) => {
                assert_eq!(a.retry_state(), RetryState::NonRetryableFailure);
                assert_eq!(a.started_event_id, 6);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn maximum_attempts_ends_retries() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(10 * S)),
            retry_policy: Some(retry_policy(S, 2)),
            ..Default::default()
        });
        let first = h.start_activity(5);
        h.fail_activity(&first, application_failure("one", false)).unwrap();
        h.advance(S);
        h.fire_due_timers();
        let second = h.start_activity(5);
        h.fail_activity(&second, application_failure("two", false)).unwrap();
        match &h.history[6].attributes {
            Some(EventAttributes::ActivityTaskFailedEventAttributes(a)) => assert_eq!(a.retry_state(), RetryState::MaximumAttemptsReached),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn start_to_close_timeout_retries() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(2 * S)),
            retry_policy: Some(retry_policy(S, 0)),
            ..Default::default()
        });
        let first = h.start_activity(5);
        h.advance(2 * S);
        h.fire_due_timers();
        assert_eq!(h.history.len(), 5);
        h.advance(S);
        h.fire_due_timers();
        let second = h.start_activity(5);
        assert_eq!(second.attempt, 2);
        assert_eq!(h.complete_activity(&first, "late").unwrap_err(), CommandError::ActivityTaskNotFound);
        h.complete_activity(&second, "ok").unwrap();
        assert!(h.event_types().contains(&ActivityTaskCompleted));
    }

    #[test]
    fn schedule_to_start_timeout_times_the_activity_out_without_retry() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(10 * S)),
            schedule_to_start_timeout: Some(duration_from_nanos(3 * S)),
            ..Default::default()
        });
        h.advance(3 * S);
        h.fire_due_timers();
        assert_eq!(h.event_types()[5..], [ActivityTaskTimedOut, WorkflowTaskScheduled]);
        match &h.history[5].attributes {
            Some(EventAttributes::ActivityTaskTimedOutEventAttributes(a)) => {
                assert_eq!(a.retry_state(), RetryState::Timeout);
                assert_eq!(a.started_event_id, 0);
                assert_eq!(a.failure.as_ref().unwrap().message, "activity ScheduleToStart timeout");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn schedule_to_close_timeout_ends_a_retrying_activity() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            schedule_to_close_timeout: Some(duration_from_nanos(5 * S)),
            start_to_close_timeout: Some(duration_from_nanos(2 * S)),
            retry_policy: Some(retry_policy(S, 0)),
            ..Default::default()
        });
        h.start_activity(5);
        h.advance(2 * S);
        h.fire_due_timers();
        h.advance(S);
        h.fire_due_timers();
        h.start_activity(5);
        h.advance(2 * S);
        h.fire_due_timers();
        let timed_out = h.history.iter().find(|e| e.event_type() == ActivityTaskTimedOut).expect("timed out");
        match &timed_out.attributes {
            Some(EventAttributes::ActivityTaskTimedOutEventAttributes(a)) => {
                assert_eq!(a.retry_state(), RetryState::Timeout);
                let failure = a.failure.as_ref().unwrap();
                assert!(matches!(&failure.failure_info, Some(FailureInfo::TimeoutFailureInfo(t)) if t.timeout_type() == TimeoutType::ScheduleToClose));
                assert_eq!(failure.cause.as_ref().unwrap().message, "activity StartToClose timeout");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(h.state.activities.is_empty());
    }

    #[test]
    fn heartbeat_timeout_carries_the_last_details_to_the_next_attempt() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(60 * S)),
            heartbeat_timeout: Some(duration_from_nanos(2 * S)),
            retry_policy: Some(retry_policy(S, 0)),
            ..Default::default()
        });
        let first = h.start_activity(5);
        h.advance(S);
        assert_eq!(h.heartbeat(&first, "progress-1").unwrap(), Reply::Heartbeat { cancel_requested: false });
        h.advance(S + S / 2);
        h.fire_due_timers();
        assert!(h.state.activities[&5].started_time.is_some(), "a recent heartbeat keeps the attempt alive");
        h.advance(S);
        h.fire_due_timers();
        assert_eq!(h.state.activities[&5].attempt, 2, "no heartbeat for the timeout: retried");
        h.advance(S);
        h.fire_due_timers();
        let second = h.start_activity(5);
        assert_eq!(second.heartbeat_details, payloads("progress-1"));
    }

    #[test]
    fn cancelling_a_started_activity_is_seen_by_its_heartbeat() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(60 * S)),
            heartbeat_timeout: Some(duration_from_nanos(10 * S)),
            ..Default::default()
        });
        let started = h.start_activity(5);
        h.signal("stop", "s").unwrap();
        h.complete_workflow_task(vec![command(CommandAttributes::RequestCancelActivityTaskCommandAttributes(
            RequestCancelActivityTaskCommandAttributes { scheduled_event_id: 5 },
        ))])
        .unwrap();
        assert_eq!(h.heartbeat(&started, "x").unwrap(), Reply::Heartbeat { cancel_requested: true });
        let token = h.activity_token(&started);
        h.apply(Command::CancelActivityTask(CancelActivityTask { token: Some(token), details: None, identity: "worker".into() }))
            .unwrap();
        let types = h.event_types();
        assert_eq!(types[types.len() - 3..], [ActivityTaskStarted, ActivityTaskCanceled, WorkflowTaskScheduled]);
    }

    #[test]
    fn cancelling_an_activity_before_it_starts_cancels_it_at_once() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(60 * S)),
            ..Default::default()
        });
        h.signal("stop", "s").unwrap();
        h.complete_workflow_task(vec![command(CommandAttributes::RequestCancelActivityTaskCommandAttributes(
            RequestCancelActivityTaskCommandAttributes { scheduled_event_id: 5 },
        ))])
        .unwrap();
        let types = h.event_types();
        assert_eq!(types[types.len() - 4..], [WorkflowTaskCompleted, ActivityTaskCancelRequested, ActivityTaskCanceled, WorkflowTaskScheduled]);
        assert!(h.state.activities.is_empty());
    }

    #[test]
    fn an_activity_completed_during_a_workflow_task_is_held_back_then_wired_to_its_started_event() {
        let mut h = with_activity(ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: Some(duration_from_nanos(60 * S)),
            ..Default::default()
        });
        let activity = h.start_activity(5);
        h.signal("s", "s").unwrap();
        let started = h.start_workflow_task();
        h.complete_activity(&activity, "ok").unwrap();
        h.complete_workflow_task_with(&started, RespondWorkflowTaskCompletedRequest::default()).unwrap();
        let types = h.event_types();
        assert_eq!(types[5..], [WorkflowExecutionSignaled, WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskCompleted, ActivityTaskStarted, ActivityTaskCompleted, WorkflowTaskScheduled]);
        match &h.history[10].attributes {
            Some(EventAttributes::ActivityTaskCompletedEventAttributes(a)) => assert_eq!(a.started_event_id, 10),
            other => panic!("unexpected {other:?}"),
        }
    }
}

mod signals_cancellation_and_termination {
    use super::*;

    #[test]
    fn a_retried_signal_is_applied_once() {
        let mut h = Harness::start();
        h.signal("s", "same").unwrap();
        h.signal("s", "same").unwrap();
        assert_eq!(h.event_types().iter().filter(|t| **t == WorkflowExecutionSignaled).count(), 1);
    }

    fn signal_with_start_request(request_id: &str) -> SignalWithStartWorkflowExecutionRequest {
        let start = start_request();
        SignalWithStartWorkflowExecutionRequest {
            namespace: start.namespace,
            workflow_id: start.workflow_id,
            workflow_type: start.workflow_type,
            task_queue: start.task_queue,
            identity: start.identity,
            request_id: request_id.into(),
            signal_name: "go".into(),
            signal_input: payloads("signal"),
            ..Default::default()
        }
    }

    /// Applies a signal-with-start to the harness's run, as the engine does
    /// for a workflow id whose current run is `h.state`.
    fn signal_with_start(h: &mut Harness, request_id: &str, run_id: &str) -> StartOutcome {
        let config = h.config.clone();
        let command = SignalWithStartWorkflow { request: Some(signal_with_start_request(request_id)), run_id: run_id.into(), ..Default::default() };
        let outcome = signal_with_start_workflow(NS, Some(&mut h.state), &command, Clock { now: h.now, config: &config }).unwrap();
        if let Some(transition) = outcome.previous_run.clone() {
            h.absorb(transition);
        }
        outcome
    }

    fn signals(h: &Harness) -> usize {
        h.event_types().iter().filter(|t| **t == WorkflowExecutionSignaled).count()
    }

    /// A harness whose run was created by signal-with-start `request_id`.
    fn started_by_signal_with_start(request_id: &str) -> Harness {
        let config = Config::default();
        let now = 1_000 * S;
        let command = SignalWithStartWorkflow { request: Some(signal_with_start_request(request_id)), run_id: RUN.into(), ..Default::default() };
        let outcome = signal_with_start_workflow(NS, None, &command, Clock { now, config: &config }).unwrap();
        assert_eq!(outcome.reply, Reply::Started { run_id: RUN.into(), started: true });
        Harness::with_new_run(config, now, outcome.new_run.unwrap())
    }

    #[test]
    fn a_retried_signal_with_start_that_created_the_run_gets_the_first_outcome() {
        let mut h = started_by_signal_with_start("sws-1");
        assert_eq!(signals(&h), 1);
        let retry = signal_with_start(&mut h, "sws-1", "run-2");
        assert_eq!(retry.reply, Reply::Started { run_id: RUN.into(), started: true });
        assert!(retry.new_run.is_none() && retry.previous_run.is_none(), "a retry changes nothing");
        assert_eq!(signals(&h), 1);

        h.complete_workflow_task(vec![complete_workflow("done")]).unwrap();
        let late_retry = signal_with_start(&mut h, "sws-1", "run-3");
        assert_eq!(late_retry.reply, Reply::Started { run_id: RUN.into(), started: true });
        assert!(late_retry.new_run.is_none(), "a retry after the run closed starts no new run");
    }

    #[test]
    fn a_retried_signal_with_start_that_signalled_a_running_run_signals_once() {
        let mut h = Harness::start();
        let first = signal_with_start(&mut h, "sws-1", "run-2");
        assert_eq!(first.reply, Reply::Started { run_id: RUN.into(), started: false });
        let retry = signal_with_start(&mut h, "sws-1", "run-3");
        assert_eq!(retry.reply, Reply::Started { run_id: RUN.into(), started: false });
        assert_eq!(signals(&h), 1);
        let other = signal_with_start(&mut h, "sws-2", "run-4");
        assert_eq!(other.reply, Reply::Started { run_id: RUN.into(), started: false });
        assert_eq!(signals(&h), 2, "another request id is another signal");

        h.complete_workflow_task(vec![complete_workflow("done")]).unwrap();
        let late_retry = signal_with_start(&mut h, "sws-1", "run-5");
        assert!(late_retry.new_run.is_none(), "its signal was delivered; a retry starts nothing");
        let fresh = signal_with_start(&mut h, "sws-3", "run-6");
        assert_eq!(fresh.reply, Reply::Started { run_id: "run-6".into(), started: true }, "a new request starts a new run");
    }

    #[test]
    fn a_retried_signal_succeeds_after_the_run_closed() {
        let mut h = Harness::start();
        h.signal("s", "same").unwrap();
        h.complete_workflow_task(vec![complete_workflow("done")]).unwrap();
        assert_eq!(h.signal("s", "same"), Ok(Reply::Accepted));
        assert_eq!(h.signal("s", "other").unwrap_err(), CommandError::WorkflowCompleted);
        assert_eq!(signals(&h), 1);
    }

    #[test]
    fn a_cancel_request_is_recorded_once_and_succeeds_after_the_run_closed() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![]).unwrap();
        let cancel = |request_id: &str| {
            Command::RequestCancelWorkflow(RequestCancelWorkflow {
                request: Some(RequestCancelWorkflowExecutionRequest { request_id: request_id.into(), ..Default::default() }),
            })
        };
        h.apply(cancel("c-1")).unwrap();
        assert_eq!(h.apply(cancel("c-1")), Ok(Reply::Accepted));
        assert_eq!(h.apply(cancel("c-2")), Ok(Reply::Accepted), "as in Temporal, asking again with another id succeeds");
        assert_eq!(h.event_types().iter().filter(|t| **t == WorkflowExecutionCancelRequested).count(), 1);
        h.complete_workflow_task(vec![command(CommandAttributes::CancelWorkflowExecutionCommandAttributes(Default::default()))]).unwrap();
        let events = h.history.len();
        assert_eq!(h.apply(cancel("c-1")), Ok(Reply::Accepted), "the retry of the recorded request");
        assert_eq!(h.apply(cancel("c-3")), Ok(Reply::Accepted), "as in Temporal, cancelling a closed run succeeds");
        assert_eq!(h.history.len(), events);
    }

    #[test]
    fn cancel_request_is_recorded_once_and_the_workflow_cancels_itself() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![]).unwrap();
        let cancel = || {
            Command::RequestCancelWorkflow(RequestCancelWorkflow {
                request: Some(RequestCancelWorkflowExecutionRequest { reason: "user".into(), ..Default::default() }),
            })
        };
        h.apply(cancel()).unwrap();
        h.apply(cancel()).unwrap();
        assert_eq!(h.event_types().iter().filter(|t| **t == WorkflowExecutionCancelRequested).count(), 1);
        h.complete_workflow_task(vec![command(CommandAttributes::CancelWorkflowExecutionCommandAttributes(Default::default()))]).unwrap();
        assert_eq!(h.status(), WorkflowExecutionStatus::Canceled);
        assert_eq!(h.last_event().event_type(), WorkflowExecutionCanceled);
    }

    #[test]
    fn terminate_fails_a_running_task_and_closes_the_run() {
        let mut h = Harness::start();
        h.start_workflow_task();
        h.signal("s", "s").unwrap();
        h.apply(Command::TerminateWorkflow(TerminateWorkflow {
            request: Some(TerminateWorkflowExecutionRequest { reason: "stop".into(), ..Default::default() }),
        }))
        .unwrap();
        assert_eq!(h.event_types()[3..], [WorkflowTaskFailed, WorkflowExecutionSignaled, WorkflowExecutionTerminated]);
        assert_eq!(h.status(), WorkflowExecutionStatus::Terminated);
        assert!(h.timers.is_empty());
        assert_eq!(h.signal("late", "l").unwrap_err(), CommandError::WorkflowCompleted);
    }

    #[test]
    fn run_timeout_closes_the_run() {
        let mut h = Harness::start_with(StartWorkflowExecutionRequest {
            workflow_run_timeout: Some(duration_from_nanos(30 * S)),
            ..start_request()
        });
        h.complete_workflow_task(vec![start_timer("t", 3600 * S)]).unwrap();
        h.advance(30 * S);
        h.fire_due_timers();
        assert_eq!(h.status(), WorkflowExecutionStatus::TimedOut);
        assert_eq!(h.last_event().event_type(), WorkflowExecutionTimedOut);
        assert!(h.timers.is_empty());
    }
}

mod retention {
    use super::*;

    fn terminate(h: &mut Harness) {
        h.apply(Command::TerminateWorkflow(TerminateWorkflow { request: Some(Default::default()) })).unwrap();
    }

    #[test]
    fn a_closed_run_is_deleted_once_its_namespace_retention_passed() {
        let mut h = Harness::start_retained_for(10 * S);
        assert!(!h.timer_kinds().contains(&"retention".to_string()), "a running run is kept: {:?}", h.timer_kinds());
        terminate(&mut h);
        assert_eq!(h.timer_kinds(), ["retention"], "a closed run arms only its retention");
        h.advance(10 * S - 1);
        h.fire_due_timers();
        assert!(!h.deleted, "deleted before its retention passed");
        h.advance(1);
        h.fire_due_timers();
        assert!(h.deleted);
        assert!(h.timers.is_empty());
    }

    #[test]
    fn delete_refuses_a_running_run_and_deletes_a_closed_one_before_its_retention() {
        let mut h = Harness::start_retained_for(10 * S);
        let delete = || Command::DeleteWorkflow(temper_proto::records::DeleteWorkflow::default());
        assert!(matches!(h.apply(delete()), Err(CommandError::InvalidArgument(_))), "a running run is terminated first");
        assert!(!h.deleted);
        terminate(&mut h);
        assert_eq!(h.apply(delete()).unwrap(), Reply::Accepted);
        assert!(h.deleted, "deleted without waiting for its retention");
    }

    #[test]
    fn expiry_publishes_a_deleted_summary_outranking_every_other() {
        let mut h = Harness::start_retained_for(S);
        terminate(&mut h);
        let task = h.timers.values().next().cloned().expect("the retention timer");
        let config = h.config.clone();
        let transition = fire_timer(&mut h.state, &task, Clock { now: h.now + S, config: &config });
        assert!(transition.events.is_empty(), "a deleted run's history gains nothing");
        let summary = transition.effects.iter().find_map(|e| if let Effect::Visibility(v) = e { Some(v) } else { None });
        let summary = summary.expect("a visibility record");
        assert!(summary.deleted);
        assert!(summary.version > h.state.info.as_ref().unwrap().state_transition_count);
    }

    #[test]
    fn a_retention_timer_firing_on_a_running_run_does_nothing() {
        let mut h = Harness::start_retained_for(S);
        let mut closed = h.state.clone();
        closed.info.as_mut().unwrap().close_time = Some(crate::time::timestamp_from_nanos(h.now));
        let task = crate::state_machine::timers_of_run(&closed).pop().expect("a closed run's retention timer");
        let config = h.config.clone();
        assert!(fire_timer(&mut h.state, &task, Clock { now: h.now + S, config: &config }).is_empty());
    }

    #[test]
    fn a_run_started_without_a_retention_is_kept() {
        let mut h = Harness::start();
        terminate(&mut h);
        assert!(h.timers.is_empty(), "{:?}", h.timer_kinds());
    }
}

#[test]
fn visibility_is_published_on_start_and_close() {
    let config = Config::default();
    let command = StartWorkflow { request: Some(start_request()), run_id: RUN.into(), ..Default::default() };
    let outcome = start_workflow(NS, None, &command, Clock { now: 0, config: &config }).unwrap();
    let records: Vec<_> = outcome
        .new_run
        .unwrap()
        .transition
        .effects
        .into_iter()
        .filter_map(|e| if let Effect::Visibility(v) = e { Some(v) } else { None })
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, WorkflowExecutionStatus::Running as i32);
    assert_eq!(records[0].workflow_type, "Greet");
    let _ = timestamp_nanos;
}

mod chains;
mod children;
mod eager;
mod reset;
mod updates;
mod robustness;
mod schedules;
