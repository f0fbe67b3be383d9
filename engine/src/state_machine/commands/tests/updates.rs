//! Workflow updates: admission, delivery with a workflow task, acceptance,
//! completion, rejection without a trace, and the ends an update can meet.

use super::*;
use prost::Message as _;
use temper_proto::api::protocol::v1::Message as ProtocolMessage;
use temper_proto::api::update::v1::{Acceptance, Input, Meta, Outcome, Rejection, Request, Response, outcome};

fn update_request(update_id: &str) -> Request {
    Request {
        meta: Some(Meta { update_id: update_id.into(), identity: "client".into() }),
        input: Some(Input { name: "add".into(), args: payloads("1"), header: None }),
        ..Default::default()
    }
}

fn admit(h: &mut Harness, update_id: &str) -> Result<Reply, CommandError> {
    h.apply(Command::UpdateWorkflow(UpdateWorkflow {
        request: Some(UpdateWorkflowExecutionRequest { request: Some(update_request(update_id)), ..Default::default() }),
    }))
}

fn message(update_id: &str, suffix: &str, type_name: &str, body: Vec<u8>) -> ProtocolMessage {
    ProtocolMessage {
        id: format!("{update_id}/request/{suffix}"),
        protocol_instance_id: update_id.into(),
        sequencing_id: None,
        body: Some(prost_types::Any { type_url: format!("type.googleapis.com/temporal.api.update.v1.{type_name}"), value: body }),
    }
}

fn accept(update_id: &str) -> ProtocolMessage {
    let acceptance = Acceptance { accepted_request_message_id: format!("{update_id}/request"), ..Default::default() };
    message(update_id, "accept", "Acceptance", acceptance.encode_to_vec())
}

fn respond(update_id: &str, result: &str) -> ProtocolMessage {
    let response = Response {
        meta: Some(Meta { update_id: update_id.into(), identity: "worker".into() }),
        outcome: Some(Outcome { value: Some(outcome::Value::Success(payloads(result).unwrap())) }),
    };
    message(update_id, "complete", "Response", response.encode_to_vec())
}

fn reject(update_id: &str) -> ProtocolMessage {
    let rejection = Rejection { failure: Some(application_failure("no", true)), ..Default::default() };
    message(update_id, "reject", "Rejection", rejection.encode_to_vec())
}

fn complete_with_messages(h: &mut Harness, started: &StartedTask, messages: Vec<ProtocolMessage>) -> Reply {
    let request = RespondWorkflowTaskCompletedRequest { messages, ..Default::default() };
    h.complete_workflow_task_with(started, request).unwrap()
}

fn stage(h: &Harness, update_id: &str) -> UpdateStage {
    h.state.updates[update_id].stage()
}

/// A run whose first workflow task completed, so updates get tasks of their own.
fn idle_run() -> Harness {
    let mut h = Harness::start();
    h.complete_workflow_task(vec![]).unwrap();
    h
}

#[test]
fn an_update_is_delivered_accepted_and_completed_with_events() {
    let mut h = idle_run();
    let events_before = h.history.len();
    assert_eq!(admit(&mut h, "u1").unwrap(), Reply::UpdateAdmitted { run_id: RUN.into(), started: false });
    assert!(h.wft().speculative && h.wft().transient, "a task just for the update");
    assert_eq!(h.history.len(), events_before, "admission writes no event");
    let started = h.start_workflow_task();
    let [delivered] = started.messages.clone().try_into().expect("the update rides with the task");
    assert_eq!(delivered.protocol_instance_id, "u1");
    assert_eq!(delivered.sequencing_id, Some(temper_proto::api::protocol::v1::message::SequencingId::EventId(started.started_event_id - 1)));
    complete_with_messages(&mut h, &started, vec![accept("u1"), respond("u1", "done")]);
    let types = h.event_types();
    assert_eq!(
        types[events_before..],
        [WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskCompleted, WorkflowExecutionUpdateAccepted, WorkflowExecutionUpdateCompleted]
    );
    assert_eq!(stage(&h, "u1"), UpdateStage::Completed);
    assert!(matches!(h.state.updates["u1"].outcome.as_ref().unwrap().value, Some(outcome::Value::Success(_))));
}

#[test]
fn a_rejected_update_leaves_no_trace_and_the_worker_rolls_back() {
    let mut h = idle_run();
    let events_before = h.history.len();
    let last_started = h.state.info.as_ref().unwrap().last_completed_workflow_task_started_event_id;
    admit(&mut h, "u1").unwrap();
    let started = h.start_workflow_task();
    let reply = complete_with_messages(&mut h, &started, vec![reject("u1")]);
    assert_eq!(reply, Reply::WorkflowTaskCompleted { new_task: None, reset_history_event_id: last_started, activity_tasks: vec![] });
    assert_eq!(h.history.len(), events_before, "no event at all");
    assert!(h.state.workflow_task.is_none());
    assert_eq!(stage(&h, "u1"), UpdateStage::Completed);
    assert!(matches!(h.state.updates["u1"].outcome.as_ref().unwrap().value, Some(outcome::Value::Failure(_))));
}

#[test]
fn a_speculative_task_that_times_out_is_written_to_history_as_temporal_does() {
    let mut h = idle_run();
    let events_before = h.history.len();
    admit(&mut h, "u1").unwrap();
    h.start_workflow_task();
    h.advance(10 * S);
    h.fire_due_timers();
    assert_eq!(h.event_types()[events_before..], [WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskTimedOut]);
    assert_eq!((h.wft().attempt, h.wft().transient, h.wft().speculative), (2, true, false), "the retry is transient");
    assert_eq!(stage(&h, "u1"), UpdateStage::Admitted, "the update rides with the retry");
    let retry = h.start_workflow_task();
    assert_eq!(retry.messages.len(), 1);
    assert_eq!(retry.transient_events.len(), 2);
}

#[test]
fn a_speculative_task_the_worker_fails_is_written_to_history_and_a_failing_retry_is_not() {
    let mut h = idle_run();
    let events_before = h.history.len();
    admit(&mut h, "u1").unwrap();
    for _ in 0..2 {
        let started = h.start_workflow_task();
        let token = h.workflow_token(&started);
        let request = RespondWorkflowTaskFailedRequest { cause: WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32, ..Default::default() };
        h.apply(Command::FailWorkflowTask(FailWorkflowTask { token: Some(token), request: Some(request) })).unwrap();
    }
    assert_eq!(h.event_types()[events_before..], [WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskFailed]);
    assert_eq!(h.wft().attempt, 3);
}

#[test]
fn the_same_update_id_is_admitted_once() {
    let mut h = idle_run();
    admit(&mut h, "u1").unwrap();
    let dispatched = h.dispatched.len();
    admit(&mut h, "u1").unwrap();
    assert_eq!(h.state.updates.len(), 1);
    assert_eq!(h.dispatched.len(), dispatched, "no second task");
}

#[test]
fn an_update_a_worker_ignores_is_rejected_and_one_admitted_during_a_task_waits_for_the_next() {
    let mut h = idle_run();
    admit(&mut h, "ignored").unwrap();
    let started = h.start_workflow_task();
    admit(&mut h, "late").unwrap();
    let request = RespondWorkflowTaskCompletedRequest { commands: vec![start_timer("t", S)], ..Default::default() };
    h.complete_workflow_task_with(&started, request).unwrap();
    assert_eq!(stage(&h, "ignored"), UpdateStage::Completed, "the worker did not answer it");
    assert_eq!(stage(&h, "late"), UpdateStage::Admitted);
    assert!(h.state.workflow_task.is_some(), "a new task carries the late update");
    let next = h.start_workflow_task();
    assert_eq!(next.messages.len(), 1);
    assert_eq!(next.messages[0].protocol_instance_id, "late");
}

/// The type of the failure an update ended with.
fn failure_type(h: &Harness, update_id: &str) -> String {
    match h.state.updates[update_id].outcome.as_ref().and_then(|outcome| outcome.value.clone()) {
        Some(outcome::Value::Failure(Failure { failure_info: Some(FailureInfo::ApplicationFailureInfo(info)), .. })) => info.r#type,
        other => panic!("{update_id} did not fail: {other:?}"),
    }
}

#[test]
fn a_closing_run_aborts_updates_not_accepted_yet_and_fails_accepted_ones_as_temporal_does() {
    let mut h = idle_run();
    admit(&mut h, "accepted").unwrap();
    let started = h.start_workflow_task();
    complete_with_messages(&mut h, &started, vec![accept("accepted")]);
    admit(&mut h, "pending").unwrap();
    h.apply(Command::TerminateWorkflow(TerminateWorkflow { request: Some(Default::default()) })).unwrap();
    assert_eq!(stage(&h, "pending"), UpdateStage::Aborted, "its caller gets an error, not an outcome");
    assert!(h.state.updates["pending"].outcome.is_none());
    assert_eq!(stage(&h, "accepted"), UpdateStage::Completed);
    assert_eq!(failure_type(&h, "accepted"), "AcceptedUpdateCompletedWorkflow");
    assert_eq!(admit(&mut h, "after").unwrap_err(), CommandError::WorkflowCompleted);
    // The first one asked again is answered from what the run kept.
    assert!(admit(&mut h, "pending").is_ok());
    assert_eq!(stage(&h, "pending"), UpdateStage::Aborted);
}

#[test]
fn an_update_admitted_while_the_run_continues_as_new_is_aborted_on_the_old_run() {
    let mut h = idle_run();
    h.signal("wake", "s1").unwrap();
    let started = h.start_workflow_task();
    admit(&mut h, "during").unwrap();
    let continue_as_new = temper_proto::api::command::v1::Command {
        command_type: CommandType::ContinueAsNewWorkflowExecution as i32,
        attributes: Some(CommandAttributes::ContinueAsNewWorkflowExecutionCommandAttributes(Default::default())),
        ..Default::default()
    };
    let request = RespondWorkflowTaskCompletedRequest { commands: vec![continue_as_new], ..Default::default() };
    h.complete_workflow_task_with(&started, request).unwrap();
    assert_eq!(h.last_event().event_type(), WorkflowExecutionContinuedAsNew);
    assert_eq!(stage(&h, "during"), UpdateStage::Aborted, "the gateway sends it on to the new run");
}

#[test]
fn an_update_a_worker_got_and_ignored_fails_as_unprocessed() {
    let mut h = idle_run();
    admit(&mut h, "ignored").unwrap();
    let started = h.start_workflow_task();
    let request = RespondWorkflowTaskCompletedRequest { commands: vec![start_timer("t", S)], ..Default::default() };
    h.complete_workflow_task_with(&started, request).unwrap();
    assert_eq!(failure_type(&h, "ignored"), "UnprocessedUpdate");
}

#[test]
fn a_message_about_an_unknown_update_fails_the_task() {
    let mut h = idle_run();
    h.signal("wake", "s1").unwrap();
    let started = h.start_workflow_task();
    let request = RespondWorkflowTaskCompletedRequest { messages: vec![accept("nobody")], ..Default::default() };
    assert!(h.complete_workflow_task_with(&started, request).is_err());
    assert_eq!(h.last_event().event_type(), WorkflowTaskFailed);
}

#[test]
fn update_with_start_delivers_the_update_with_the_first_task() {
    let config = Config::default();
    let command = UpdateWithStartWorkflow {
        start: Some(StartWorkflow { request: Some(start_request()), run_id: RUN.into(), ..Default::default() }),
        update: Some(UpdateWorkflowExecutionRequest { request: Some(update_request("u1")), ..Default::default() }),
    };
    let outcome = update_with_start_workflow(NS, None, &command, Clock { now: 0, config: &config }).unwrap();
    assert_eq!(outcome.reply, Reply::UpdateAdmitted { run_id: RUN.into(), started: true });
    let mut h = Harness::with_new_run(config, 0, outcome.new_run.unwrap());
    assert_eq!(h.event_types(), [WorkflowExecutionStarted, WorkflowTaskScheduled], "one (normal) first task");
    let started = h.start_workflow_task();
    assert_eq!(started.messages.len(), 1);
}
