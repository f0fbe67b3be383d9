//! What passes between workflows: child workflows (started, closed, and the
//! parent close policy), and signals and cancel requests one workflow sends
//! another. Two workflows may live on different shards, so everything goes
//! as commands through the sender's outbox to the receiver's `commands`
//! partition, never as a write to another shard. Outbox records may be
//! published twice; each command carries a derived request id, or finds the
//! state telling it that it was applied already, so it takes effect once.

// `control` and the commands' `namespace` are deprecated in the API, yet
// SDKs still send them and Temporal still records them.
#![allow(deprecated)]

use temper_proto::api::common::v1::{Header, WorkflowExecution};
use temper_proto::api::enums::v1::{
    CancelExternalWorkflowExecutionFailedCause, ParentClosePolicy, SignalExternalWorkflowExecutionFailedCause,
    StartChildWorkflowExecutionFailedCause,
};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{
    ChildWorkflowExecutionCanceledEventAttributes, ChildWorkflowExecutionCompletedEventAttributes,
    ChildWorkflowExecutionFailedEventAttributes, ChildWorkflowExecutionStartedEventAttributes,
    ChildWorkflowExecutionTerminatedEventAttributes, ChildWorkflowExecutionTimedOutEventAttributes,
    ExternalWorkflowExecutionCancelRequestedEventAttributes, ExternalWorkflowExecutionSignaledEventAttributes,
    HistoryEvent, RequestCancelExternalWorkflowExecutionFailedEventAttributes,
    SignalExternalWorkflowExecutionFailedEventAttributes, StartChildWorkflowExecutionFailedEventAttributes,
};
use temper_proto::api::workflowservice::v1::{RequestCancelWorkflowExecutionRequest, TerminateWorkflowExecutionRequest};
use temper_proto::records::command_record::Command;
use temper_proto::records::{
    RecordScheduledWorkflowClosed,
    ChildExecutionInfo, CommandRecord, Origin, ParentExecution, RecordChildWorkflowClosed, RequestCancelWorkflow,
    TerminateWorkflow,
};

use super::Effect;
use super::commands::SERVER_IDENTITY;
use super::derived_ids::request_id;
use super::history::RunMutation;

/// Temporal's reason for what a parent close policy does to a child.
const PARENT_CLOSE_REASON: &str = "by parent close policy";

impl RunMutation<'_> {
    /// Sends `command` to workflow `workflow_id` of this run's namespace;
    /// with `initiated_event_id`, its outcome comes back to this run.
    pub(super) fn send_command(&mut self, workflow_id: &str, command: Command, initiated_event_id: Option<i64>) {
        let info = self.info();
        let origin = initiated_event_id.map(|initiated_event_id| Origin {
            namespace_id: info.namespace_id.clone(),
            workflow_id: info.workflow_id.clone(),
            run_id: info.run_id.clone(),
            initiated_event_id,
        });
        let record = CommandRecord {
            reply_to: None,
            namespace_id: info.namespace_id.clone(),
            workflow_id: workflow_id.to_string(),
            command: Some(command),
            origin,
            trace_context: Default::default(),
        };
        self.effect(Effect::SendCommand(record));
    }

    /// This run as the parent of the children it starts.
    pub(super) fn as_parent(&self, namespace: &str, initiated_event_id: i64) -> ParentExecution {
        let info = self.info();
        let (root_workflow_id, root_run_id) = match &info.parent {
            Some(parent) => (parent.root_workflow_id.clone(), parent.root_run_id.clone()),
            None => (info.workflow_id.clone(), info.run_id.clone()),
        };
        ParentExecution {
            namespace: namespace.to_string(),
            namespace_id: info.namespace_id.clone(),
            workflow_id: info.workflow_id.clone(),
            run_id: info.run_id.clone(),
            initiated_event_id,
            root_workflow_id,
            root_run_id,
        }
    }

    /// The child initiated at `initiated_event_id` started as run
    /// `child_run_id`. Returns whether that was news.
    pub(super) fn record_child_started(&mut self, initiated_event_id: i64, child_run_id: &str, header: Option<Header>) -> bool {
        let namespace_id = self.info().namespace_id.clone();
        let Some(child) = self.state.children.get(&initiated_event_id).filter(|c| c.started_run_id.is_empty()).cloned()
        else {
            return false;
        };
        let started_event_id = self.add_event(Attributes::from(ChildWorkflowExecutionStartedEventAttributes {
            namespace: child.namespace.clone(),
            namespace_id,
            initiated_event_id,
            workflow_execution: Some(WorkflowExecution { workflow_id: child.workflow_id.clone(), run_id: child_run_id.to_string() }),
            workflow_type: child.workflow_type.clone(),
            header,
        }));
        let child = self.state.children.get_mut(&initiated_event_id).expect("found above");
        child.started_run_id = child_run_id.to_string();
        // 0 while held back: the flush sets it.
        child.started_event_id = started_event_id;
        true
    }

    /// The child initiated at `initiated_event_id` could not be started.
    pub(super) fn record_child_start_failed(
        &mut self,
        initiated_event_id: i64,
        cause: StartChildWorkflowExecutionFailedCause,
    ) -> bool {
        let Some(child) = self.state.children.get(&initiated_event_id).filter(|c| c.started_run_id.is_empty()).cloned()
        else {
            return false;
        };
        self.state.children.remove(&initiated_event_id);
        let namespace_id = self.info().namespace_id.clone();
        self.add_event(Attributes::from(StartChildWorkflowExecutionFailedEventAttributes {
            namespace: child.namespace,
            namespace_id,
            workflow_id: child.workflow_id,
            workflow_type: child.workflow_type,
            cause: cause as i32,
            control: child.control,
            initiated_event_id,
            workflow_task_completed_event_id: child.workflow_task_completed_event_id,
        }));
        true
    }

    /// A child's last run closed: the parent records how.
    pub(super) fn record_child_closed(&mut self, closed: &RecordChildWorkflowClosed) -> bool {
        let initiated_event_id = closed.initiated_event_id;
        let child_run = closed.child.clone().unwrap_or_default();
        let Some(child) = self.state.children.get(&initiated_event_id).cloned() else { return false };
        if child.workflow_id != child_run.workflow_id {
            return false;
        }
        if child.started_run_id.is_empty() {
            // The start's news may come later (or have been lost with a
            // parent that was reset); the close implies it.
            self.record_child_started(initiated_event_id, &closed.child_first_run_id, None);
        } else if !closed.child_first_run_id.is_empty() && child.started_run_id != closed.child_first_run_id {
            return false;
        }
        let child = self.state.children.remove(&initiated_event_id).expect("found above");
        let Some(event) = child_closed_event(&child, closed, self.info().namespace_id.clone()) else { return false };
        self.add_event(event);
        true
    }

    /// The signal or cancel request initiated at `initiated_event_id` was
    /// delivered (no cause) or could not be.
    pub(super) fn record_external_outcome(
        &mut self,
        initiated_event_id: i64,
        failure: Option<SignalExternalWorkflowExecutionFailedCause>,
    ) -> bool {
        let Some(request) = self.state.external_requests.remove(&initiated_event_id) else { return false };
        let namespace_id = self.info().namespace_id.clone();
        let execution = request.execution.clone();
        let event = match (request.cancel, failure) {
            (false, None) => Attributes::from(ExternalWorkflowExecutionSignaledEventAttributes {
                initiated_event_id,
                namespace: request.namespace,
                namespace_id,
                workflow_execution: execution,
                control: request.control,
            }),
            (false, Some(cause)) => Attributes::from(SignalExternalWorkflowExecutionFailedEventAttributes {
                cause: cause as i32,
                workflow_task_completed_event_id: request.workflow_task_completed_event_id,
                namespace: request.namespace,
                namespace_id,
                workflow_execution: execution,
                initiated_event_id,
                control: request.control,
            }),
            (true, None) => Attributes::from(ExternalWorkflowExecutionCancelRequestedEventAttributes {
                initiated_event_id,
                namespace: request.namespace,
                namespace_id,
                workflow_execution: execution,
            }),
            (true, Some(_)) => Attributes::from(RequestCancelExternalWorkflowExecutionFailedEventAttributes {
                cause: CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
                workflow_task_completed_event_id: request.workflow_task_completed_event_id,
                namespace: request.namespace,
                namespace_id,
                workflow_execution: execution,
                initiated_event_id,
                control: request.control,
            }),
        };
        self.add_event(event);
        true
    }

    /// As the run closes: its children get what their parent close policy
    /// says, and its parent, if this was the child's last run, hears how it
    /// ended.
    pub(super) fn tell_related_workflows_of_close(&mut self, closing_event_id: i64) {
        let mut children: Vec<ChildExecutionInfo> = std::mem::take(&mut self.state.children).into_values().collect();
        children.sort_by_key(|child| child.initiated_event_id);
        for child in children {
            self.apply_parent_close_policy(&child);
        }
        self.state.external_requests.clear();
        if self.has_successor() {
            return;
        }
        self.tell_schedule_of_close(closing_event_id);
        let Some(parent) = self.info().parent.clone() else { return };
        let closing_event = self.event_of_this_transition(closing_event_id);
        let info = self.info();
        let closed = RecordChildWorkflowClosed {
            run_id: parent.run_id.clone(),
            initiated_event_id: parent.initiated_event_id,
            child: Some(WorkflowExecution { workflow_id: info.workflow_id.clone(), run_id: info.run_id.clone() }),
            child_first_run_id: info.first_run_id.clone(),
            closing_event,
        };
        let record = CommandRecord {
            reply_to: None,
            namespace_id: parent.namespace_id.clone(),
            workflow_id: parent.workflow_id.clone(),
            command: Some(Command::RecordChildWorkflowClosed(closed)),
            origin: None,
            trace_context: Default::default(),
        };
        self.effect(Effect::SendCommand(record));
    }

    /// The workflow's last run closed: the schedule that started it hears
    /// how it ended, with its result or failure.
    fn tell_schedule_of_close(&mut self, closing_event_id: i64) {
        let Some(schedule) = self.info().scheduled_by.clone() else { return };
        let (result, failure) = match self.event_of_this_transition(closing_event_id).and_then(|event| event.attributes) {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(completed)) => (completed.result, None),
            Some(Attributes::WorkflowExecutionFailedEventAttributes(failed)) => (None, failed.failure),
            _ => (None, None),
        };
        let info = self.info();
        let closed = RecordScheduledWorkflowClosed {
            execution: Some(WorkflowExecution { workflow_id: info.workflow_id.clone(), run_id: info.first_run_id.clone() }),
            status: info.status,
            result,
            failure,
            close_time: Some(crate::time::timestamp_from_nanos(self.now())),
        };
        self.effect(Effect::SendCommand(CommandRecord {
            reply_to: None,
            namespace_id: schedule.namespace_id,
            workflow_id: schedule.workflow_id,
            command: Some(Command::RecordScheduledWorkflowClosed(closed)),
            origin: None,
            trace_context: Default::default(),
        }));
    }

    fn apply_parent_close_policy(&mut self, child: &ChildExecutionInfo) {
        let execution = Some(WorkflowExecution { workflow_id: child.workflow_id.clone(), run_id: String::new() });
        let command = match child.parent_close_policy() {
            ParentClosePolicy::Abandon => return,
            ParentClosePolicy::RequestCancel => Command::RequestCancelWorkflow(RequestCancelWorkflow {
                request: Some(RequestCancelWorkflowExecutionRequest {
                    namespace: child.namespace.clone(),
                    workflow_execution: execution,
                    identity: SERVER_IDENTITY.to_string(),
                    request_id: request_id(&self.info().run_id, child.initiated_event_id),
                    first_execution_run_id: child.started_run_id.clone(),
                    reason: PARENT_CLOSE_REASON.to_string(),
                    ..Default::default()
                }),
            }),
            ParentClosePolicy::Terminate | ParentClosePolicy::Unspecified => {
                Command::TerminateWorkflow(TerminateWorkflow {
                    request: Some(TerminateWorkflowExecutionRequest {
                        namespace: child.namespace.clone(),
                        workflow_execution: execution,
                        reason: PARENT_CLOSE_REASON.to_string(),
                        identity: SERVER_IDENTITY.to_string(),
                        first_execution_run_id: child.started_run_id.clone(),
                        ..Default::default()
                    }),
                })
            }
        };
        self.send_command(&child.workflow_id.clone(), command, None);
    }
}

/// The parts every child-closed event of the parent shares.
struct ClosedChild {
    namespace: String,
    namespace_id: String,
    workflow_execution: Option<WorkflowExecution>,
    workflow_type: Option<temper_proto::api::common::v1::WorkflowType>,
    initiated_event_id: i64,
    started_event_id: i64,
}

/// Builds a child-closed event: the shared parts, plus what is its own.
macro_rules! child_closed {
    ($attributes:ident, $child:expr $(, $field:ident: $value:expr)*) => {{
        let child: ClosedChild = $child;
        Attributes::from($attributes {
            namespace: child.namespace,
            namespace_id: child.namespace_id,
            workflow_execution: child.workflow_execution,
            workflow_type: child.workflow_type,
            initiated_event_id: child.initiated_event_id,
            started_event_id: child.started_event_id,
            $($field: $value,)*
        })
    }};
}

/// The parent's event for a child's closing event.
fn child_closed_event(
    child: &ChildExecutionInfo,
    closed: &RecordChildWorkflowClosed,
    namespace_id: String,
) -> Option<Attributes> {
    let closing: &HistoryEvent = closed.closing_event.as_ref()?;
    let shared = ClosedChild {
        namespace: child.namespace.clone(),
        namespace_id,
        workflow_execution: closed.child.clone(),
        workflow_type: child.workflow_type.clone(),
        initiated_event_id: child.initiated_event_id,
        started_event_id: child.started_event_id,
    };
    Some(match closing.attributes.as_ref()? {
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
            child_closed!(ChildWorkflowExecutionCompletedEventAttributes, shared, result: a.result.clone())
        }
        Attributes::WorkflowExecutionFailedEventAttributes(a) => child_closed!(
            ChildWorkflowExecutionFailedEventAttributes, shared, failure: a.failure.clone(), retry_state: a.retry_state
        ),
        Attributes::WorkflowExecutionCanceledEventAttributes(a) => {
            child_closed!(ChildWorkflowExecutionCanceledEventAttributes, shared, details: a.details.clone())
        }
        Attributes::WorkflowExecutionTimedOutEventAttributes(a) => {
            child_closed!(ChildWorkflowExecutionTimedOutEventAttributes, shared, retry_state: a.retry_state)
        }
        Attributes::WorkflowExecutionTerminatedEventAttributes(_) => {
            child_closed!(ChildWorkflowExecutionTerminatedEventAttributes, shared)
        }
        _ => return None,
    })
}
