//! SignalExternalWorkflowExecution and RequestCancelExternalWorkflowExecution:
//! the workflow signals, or asks to cancel, another workflow (a child, or
//! any workflow of its namespace). The initiated event is recorded here; the
//! request goes to the other workflow's shard, and whether it arrived comes
//! back as a command (see `children`).

// `control` and the commands' `namespace` are deprecated in the API, yet
// SDKs still send them and Temporal still records them.
#![allow(deprecated)]

use temper_proto::api::command::v1::{
    RequestCancelExternalWorkflowExecutionCommandAttributes, SignalExternalWorkflowExecutionCommandAttributes,
};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes, SignalExternalWorkflowExecutionInitiatedEventAttributes,
};
use temper_proto::api::workflowservice::v1::{RequestCancelWorkflowExecutionRequest, SignalWorkflowExecutionRequest};
use temper_proto::records::command_record::Command;
use temper_proto::records::{ExternalRequestInfo, RequestCancelWorkflow, SignalWorkflow};

use super::{CommandContext, WorkflowTaskFailure, check_id, check_size};
use crate::state_machine::derived_ids::request_id;
use crate::state_machine::history::RunMutation;

pub(super) fn signal(
    mutation: &mut RunMutation,
    attributes: &SignalExternalWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let cause = WorkflowTaskFailedCause::BadSignalWorkflowExecutionAttributes;
    let execution = attributes.execution.clone().unwrap_or_default();
    check_target(&attributes.namespace, &execution, context, cause)?;
    check_id(&attributes.signal_name, "SignalName", context, cause)?;
    check_size(attributes.input.as_ref(), context, cause, "SignalExternalWorkflowExecutionCommandAttributes.Input")?;
    check_size(attributes.header.as_ref(), context, cause, "SignalExternalWorkflowExecutionCommandAttributes.Header")?;
    let namespace = namespace_or_own(&attributes.namespace, context);
    let initiated_event_id = mutation.add_event(Attributes::from(SignalExternalWorkflowExecutionInitiatedEventAttributes {
        workflow_task_completed_event_id: context.completed_event_id,
        namespace: namespace.clone(),
        namespace_id: mutation.info().namespace_id.clone(),
        workflow_execution: Some(execution.clone()),
        signal_name: attributes.signal_name.clone(),
        input: attributes.input.clone(),
        control: attributes.control.clone(),
        child_workflow_only: attributes.child_workflow_only,
        header: attributes.header.clone(),
    }));
    let request = SignalWorkflowExecutionRequest {
        namespace: namespace.clone(),
        workflow_execution: Some(execution.clone()),
        signal_name: attributes.signal_name.clone(),
        input: attributes.input.clone(),
        request_id: request_id(&mutation.info().run_id, initiated_event_id),
        control: attributes.control.clone(),
        header: attributes.header.clone(),
        ..Default::default()
    };
    remember(mutation, initiated_event_id, false, namespace, execution.clone(), attributes.control.clone(), context);
    mutation.send_command(&execution.workflow_id, Command::SignalWorkflow(SignalWorkflow { request: Some(request) }), Some(initiated_event_id));
    Ok(initiated_event_id)
}

pub(super) fn request_cancel(
    mutation: &mut RunMutation,
    attributes: &RequestCancelExternalWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let cause = WorkflowTaskFailedCause::BadRequestCancelExternalWorkflowExecutionAttributes;
    let execution = WorkflowExecution { workflow_id: attributes.workflow_id.clone(), run_id: attributes.run_id.clone() };
    check_target(&attributes.namespace, &execution, context, cause)?;
    let namespace = namespace_or_own(&attributes.namespace, context);
    let initiated_event_id =
        mutation.add_event(Attributes::from(RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
            workflow_task_completed_event_id: context.completed_event_id,
            namespace: namespace.clone(),
            namespace_id: mutation.info().namespace_id.clone(),
            workflow_execution: Some(execution.clone()),
            control: attributes.control.clone(),
            child_workflow_only: attributes.child_workflow_only,
            reason: attributes.reason.clone(),
        }));
    let request = RequestCancelWorkflowExecutionRequest {
        namespace: namespace.clone(),
        workflow_execution: Some(execution.clone()),
        request_id: request_id(&mutation.info().run_id, initiated_event_id),
        reason: attributes.reason.clone(),
        ..Default::default()
    };
    remember(mutation, initiated_event_id, true, namespace, execution.clone(), attributes.control.clone(), context);
    let command = Command::RequestCancelWorkflow(RequestCancelWorkflow { request: Some(request) });
    mutation.send_command(&execution.workflow_id, command, Some(initiated_event_id));
    Ok(initiated_event_id)
}

fn check_target(
    namespace: &str,
    execution: &WorkflowExecution,
    context: &CommandContext,
    cause: WorkflowTaskFailedCause,
) -> Result<(), WorkflowTaskFailure> {
    check_id(&execution.workflow_id, "WorkflowId", context, cause)?;
    if !execution.run_id.is_empty() && uuid::Uuid::parse_str(&execution.run_id).is_err() {
        return Err(WorkflowTaskFailure::new(cause, format!("RunId {:?} is not a valid UUID", execution.run_id)));
    }
    if !namespace.is_empty() && namespace != context.namespace {
        return Err(WorkflowTaskFailure::new(
            cause,
            format!("cross namespace commands are not allowed: {namespace} is not {}", context.namespace),
        ));
    }
    Ok(())
}

fn namespace_or_own(namespace: &str, context: &CommandContext) -> String {
    if namespace.is_empty() { context.namespace.clone() } else { namespace.to_string() }
}

fn remember(
    mutation: &mut RunMutation,
    initiated_event_id: i64,
    cancel: bool,
    namespace: String,
    execution: WorkflowExecution,
    control: String,
    context: &CommandContext,
) {
    mutation.state.external_requests.insert(
        initiated_event_id,
        ExternalRequestInfo {
            initiated_event_id,
            workflow_task_completed_event_id: context.completed_event_id,
            cancel,
            namespace,
            execution: Some(execution),
            control,
        },
    );
}
