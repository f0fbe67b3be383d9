//! Child workflows and signals and cancel requests between workflows. Both
//! sides run in harnesses of their own; the commands one sends are handed to
//! the other as the shards would, through `reply_to_origin` where the
//! receiving shard answers the sender.

use super::*;
use crate::state_machine::derived_ids::{child_run_id, request_id};
use temper_proto::api::history::v1::WorkflowExecutionStartedEventAttributes;

fn start_child(workflow_id: &str, policy: ParentClosePolicy) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::StartChildWorkflowExecutionCommandAttributes(StartChildWorkflowExecutionCommandAttributes {
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType { name: "Child".into() }),
        input: payloads("child input"),
        parent_close_policy: policy as i32,
        ..Default::default()
    }))
}

fn completing(request_commands: Vec<temper_proto::api::command::v1::Command>) -> RespondWorkflowTaskCompletedRequest {
    RespondWorkflowTaskCompletedRequest { commands: request_commands, namespace: "default".into(), ..Default::default() }
}

fn complete_with(h: &mut Harness, commands: Vec<temper_proto::api::command::v1::Command>) {
    let started = h.start_workflow_task();
    h.complete_workflow_task_with(&started, completing(commands)).unwrap();
}

/// Applies a command another workflow sent to the run of harness `to`, and
/// returns the answer its shard would send back, if any.
fn deliver(to: &mut Harness, record: &CommandRecord) -> Option<CommandRecord> {
    let command = record.command.clone().unwrap();
    let result = to.apply_from(command.clone(), record.origin.as_ref());
    record.origin.as_ref().and_then(|origin| reply_to_origin(&command, origin, &result))
}

/// Starts the child the parent sent the start of; returns the child's harness
/// and the answer for the parent.
fn start_child_run(parent: &Harness, start: &CommandRecord, current: Option<&mut WorkflowMutableState>) -> (Option<Harness>, CommandRecord) {
    let Some(Command::StartChildWorkflow(start_command)) = &start.command else { panic!("not a child start: {start:?}") };
    let config = parent.config.clone();
    let outcome = start_child_workflow(NS, current, start_command, Clock { now: parent.now, config: &config });
    let result = outcome.as_ref().map(|o| o.reply.clone()).map_err(Clone::clone);
    let answer = reply_to_origin(start.command.as_ref().unwrap(), start.origin.as_ref().unwrap(), &result).unwrap();
    let child = outcome.ok().and_then(|o| o.new_run).map(|run| Harness::with_new_run(config, parent.now, run));
    (child, answer)
}

fn started_attributes(h: &Harness) -> WorkflowExecutionStartedEventAttributes {
    match &h.history[0].attributes {
        Some(EventAttributes::WorkflowExecutionStartedEventAttributes(started)) => started.clone(),
        other => panic!("unexpected {other:?}"),
    }
}

fn take_sent(h: &mut Harness) -> Vec<CommandRecord> {
    std::mem::take(&mut h.sent)
}

#[test]
fn a_child_starts_on_its_shard_and_its_result_comes_back_to_the_parent() {
    let mut parent = Harness::start();
    complete_with(&mut parent, vec![start_child("child-1", ParentClosePolicy::Terminate)]);
    assert_eq!(parent.last_event().event_type(), StartChildWorkflowExecutionInitiated);
    let initiated_event_id = parent.last_event().event_id;
    let [start] = take_sent(&mut parent).try_into().expect("one command sent");
    assert_eq!(start.workflow_id, "child-1");
    let Some(Command::StartChildWorkflow(start_command)) = &start.command else { panic!() };
    assert_eq!(start_command.run_id, child_run_id(RUN, initiated_event_id));
    assert_eq!(start_command.request.as_ref().unwrap().request_id, request_id(RUN, initiated_event_id));

    let (child, answer) = start_child_run(&parent, &start, None);
    let mut child = child.expect("the child started");
    let started = started_attributes(&child);
    assert_eq!(started.parent_workflow_execution.as_ref().unwrap().workflow_id, WF);
    assert_eq!(started.parent_initiated_event_id, initiated_event_id);
    assert_eq!(started.root_workflow_execution.as_ref().unwrap().run_id, RUN);
    assert_eq!(started.parent_workflow_namespace, "default");

    assert_eq!(deliver(&mut parent, &answer), None);
    assert_eq!(parent.last_event().event_type(), WorkflowTaskScheduled);
    let child_started = parent.history.iter().rev().find(|e| e.event_type() == ChildWorkflowExecutionStarted).unwrap().clone();
    // The same news again (the outbox published it twice) changes nothing.
    let events_before = parent.history.len();
    deliver(&mut parent, &answer);
    assert_eq!(parent.history.len(), events_before);

    child.complete_workflow_task(vec![complete_workflow("child done")]).unwrap();
    let [closed] = take_sent(&mut child).try_into().expect("the parent is told");
    assert_eq!(closed.workflow_id, WF);
    deliver(&mut parent, &closed);
    let completed = parent.history.iter().rev().find(|e| e.event_type() == ChildWorkflowExecutionCompleted).unwrap();
    let Some(EventAttributes::ChildWorkflowExecutionCompletedEventAttributes(a)) = &completed.attributes else { panic!() };
    assert_eq!(a.result, payloads("child done"));
    assert_eq!(a.initiated_event_id, initiated_event_id);
    assert_eq!(a.started_event_id, child_started.event_id);
    assert!(parent.state.children.is_empty());
    // And a duplicate of the close is ignored.
    let events_before = parent.history.len();
    deliver(&mut parent, &closed);
    assert_eq!(parent.history.len(), events_before);
}

#[test]
fn a_child_whose_id_is_running_fails_to_start_with_workflow_already_exists() {
    let mut parent = Harness::start();
    complete_with(&mut parent, vec![start_child(WF, ParentClosePolicy::Abandon)]);
    let [start] = take_sent(&mut parent).try_into().unwrap();
    let mut running = Harness::start();
    let (child, answer) = start_child_run(&parent, &start, Some(&mut running.state));
    assert!(child.is_none());
    deliver(&mut parent, &answer);
    let failed = parent.history.iter().rev().find(|e| e.event_type() == StartChildWorkflowExecutionFailed).unwrap();
    let Some(EventAttributes::StartChildWorkflowExecutionFailedEventAttributes(a)) = &failed.attributes else { panic!() };
    assert_eq!(a.cause(), StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists);
    assert_eq!(a.workflow_id, WF);
    assert!(parent.state.children.is_empty());
}

#[test]
fn a_child_started_while_the_parent_runs_a_task_gets_its_started_event_id_at_the_flush() {
    let mut parent = Harness::start();
    complete_with(&mut parent, vec![start_child("child-1", ParentClosePolicy::Terminate)]);
    let [start] = take_sent(&mut parent).try_into().unwrap();
    let (_, answer) = start_child_run(&parent, &start, None);
    parent.signal("wake", "s1").unwrap();
    let started = parent.start_workflow_task();
    deliver(&mut parent, &answer);
    assert_eq!(parent.state.children.values().next().unwrap().started_event_id, 0, "held back during the task");
    parent.complete_workflow_task_with(&started, completing(vec![])).unwrap();
    let event = parent.history.iter().find(|e| e.event_type() == ChildWorkflowExecutionStarted).unwrap();
    assert_eq!(parent.state.children.values().next().unwrap().started_event_id, event.event_id);
}

#[test]
fn parent_close_policies_terminate_cancel_or_abandon_the_children() {
    let mut parent = Harness::start();
    complete_with(
        &mut parent,
        vec![
            start_child("terminated", ParentClosePolicy::Terminate),
            start_child("cancelled", ParentClosePolicy::RequestCancel),
            start_child("abandoned", ParentClosePolicy::Abandon),
        ],
    );
    for start in take_sent(&mut parent) {
        let (_, answer) = start_child_run(&parent, &start, None);
        deliver(&mut parent, &answer);
    }
    parent.complete_workflow_task(vec![complete_workflow("parent done")]).unwrap();
    let sent = take_sent(&mut parent);
    let targets: Vec<(&str, &str)> = sent
        .iter()
        .map(|record| {
            let kind = match &record.command {
                Some(Command::TerminateWorkflow(_)) => "terminate",
                Some(Command::RequestCancelWorkflow(_)) => "cancel",
                other => panic!("unexpected {other:?}"),
            };
            (record.workflow_id.as_str(), kind)
        })
        .collect();
    assert_eq!(targets, [("terminated", "terminate"), ("cancelled", "cancel")]);
    let Some(Command::TerminateWorkflow(terminate)) = &sent[0].command else { panic!() };
    let request = terminate.request.as_ref().unwrap();
    assert_eq!(request.reason, "by parent close policy");
    assert!(!request.first_execution_run_id.is_empty(), "aimed at the child's chain only");
}

#[test]
fn a_child_that_continues_as_new_tells_its_parent_only_when_its_last_run_closes() {
    let mut parent = Harness::start();
    complete_with(&mut parent, vec![start_child("child-1", ParentClosePolicy::Terminate)]);
    let [start] = take_sent(&mut parent).try_into().unwrap();
    let (child, _) = start_child_run(&parent, &start, None);
    let mut child = child.unwrap();
    child.advance(2 * S);
    child.complete_workflow_task(vec![command(CommandAttributes::ContinueAsNewWorkflowExecutionCommandAttributes(Default::default()))]).unwrap();
    assert!(take_sent(&mut child).is_empty(), "continuing as new is not closing, for the parent");
    let successor = child.successor.take().unwrap();
    assert_eq!(successor.state.info.as_ref().unwrap().parent, child.state.info.as_ref().unwrap().parent);
}

#[test]
fn a_signal_to_another_workflow_is_delivered_and_acknowledged() {
    let mut sender = Harness::start();
    complete_with(
        &mut sender,
        vec![command(CommandAttributes::SignalExternalWorkflowExecutionCommandAttributes(
            SignalExternalWorkflowExecutionCommandAttributes {
                execution: Some(WorkflowExecution { workflow_id: "receiver".into(), run_id: String::new() }),
                signal_name: "ping".into(),
                input: payloads("hello"),
                ..Default::default()
            },
        ))],
    );
    let initiated_event_id = sender.last_event().event_id;
    let [signal] = take_sent(&mut sender).try_into().unwrap();
    let mut receiver = Harness::start();
    let answer = deliver(&mut receiver, &signal).expect("the sender hears back");
    let signaled = receiver.history.iter().rev().find(|e| e.event_type() == WorkflowExecutionSignaled).unwrap();
    let Some(EventAttributes::WorkflowExecutionSignaledEventAttributes(a)) = &signaled.attributes else { panic!() };
    assert_eq!(a.external_workflow_execution.as_ref().unwrap().workflow_id, WF);
    assert_eq!(a.request_id, request_id(RUN, initiated_event_id));
    deliver(&mut sender, &answer);
    assert!(sender.event_types().contains(&ExternalWorkflowExecutionSignaled));
    assert!(sender.state.external_requests.is_empty());
}

#[test]
fn a_cancel_request_to_a_closed_or_missing_workflow_fails_with_not_found() {
    let mut sender = Harness::start();
    complete_with(
        &mut sender,
        vec![command(CommandAttributes::RequestCancelExternalWorkflowExecutionCommandAttributes(
            RequestCancelExternalWorkflowExecutionCommandAttributes { workflow_id: "nobody".into(), ..Default::default() },
        ))],
    );
    let [cancel] = take_sent(&mut sender).try_into().unwrap();
    let command = cancel.command.clone().unwrap();
    let missing: Result<Reply, CommandError> = Err(CommandError::WorkflowNotFound { workflow_id: "nobody".into(), run_id: String::new() });
    let answer = reply_to_origin(&command, cancel.origin.as_ref().unwrap(), &missing).unwrap();
    deliver(&mut sender, &answer);
    let failed = sender.history.iter().rev().find(|e| e.event_type() == RequestCancelExternalWorkflowExecutionFailed).unwrap();
    let Some(EventAttributes::RequestCancelExternalWorkflowExecutionFailedEventAttributes(a)) = &failed.attributes else { panic!() };
    assert_eq!(a.cause(), CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound);
}

#[test]
#[allow(deprecated)] // the commands' namespace field, which SDKs still send
fn commands_naming_another_namespace_fail_the_task_as_temporal_does_by_default() {
    let mut child = start_child("child", ParentClosePolicy::Terminate);
    let Some(CommandAttributes::StartChildWorkflowExecutionCommandAttributes(a)) = &mut child.attributes else { panic!() };
    a.namespace = "elsewhere".into();
    let signal = command(CommandAttributes::SignalExternalWorkflowExecutionCommandAttributes(SignalExternalWorkflowExecutionCommandAttributes {
        namespace: "elsewhere".into(),
        execution: Some(WorkflowExecution { workflow_id: "receiver".into(), run_id: String::new() }),
        signal_name: "ping".into(),
        ..Default::default()
    }));
    for (command, cause) in
        [(child, WorkflowTaskFailedCause::BadStartChildExecutionAttributes), (signal, WorkflowTaskFailedCause::BadSignalWorkflowExecutionAttributes)]
    {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        let refused = h.complete_workflow_task_with(&started, completing(vec![command])).unwrap_err();
        assert!(matches!(&refused, CommandError::InvalidArgument(m) if m.starts_with("cross namespace")), "{refused:?}");
        let Some(EventAttributes::WorkflowTaskFailedEventAttributes(failed)) = &h.last_event().attributes else { panic!("{:?}", h.event_types()) };
        assert_eq!(failed.cause(), cause);
        let message = &failed.failure.as_ref().unwrap().message;
        assert!(message.starts_with("cross namespace commands are not allowed"), "{message}");
        assert!(take_sent(&mut h).is_empty(), "nothing is sent");
    }
}
