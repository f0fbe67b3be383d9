//! ContinueAsNewWorkflowExecution: the run closes as ContinuedAsNew and a new
//! run of the same workflow id starts with the command's input.

use temper_proto::api::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes;
use temper_proto::api::enums::v1::{TaskQueueKind, WorkflowExecutionStatus, WorkflowTaskFailedCause};
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::history::v1::WorkflowExecutionContinuedAsNewEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, NewRunOptions, check_new_run_options, new_run_options, record_new_run_fields, WorkflowTaskFailure, check_failure, check_id, check_size, close_workflow};
use crate::state_machine::history::RunMutation;
use crate::state_machine::successor::Successor;
use crate::state_machine::new_run::normalized_timeouts;
use crate::time::duration_nanos;

const CAUSE: WorkflowTaskFailedCause = WorkflowTaskFailedCause::BadContinueAsNewAttributes;
const WHAT: &str = "ContinueAsNewWorkflowExecutionCommandAttributes";

// The event's `failure` and `inherit_build_id` are deprecated in the API,
// yet Temporal still records them.
#[allow(deprecated)]
pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &ContinueAsNewWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    if context.had_buffered_events {
        return Err(WorkflowTaskFailure::unhandled_events());
    }
    validate(mutation, attributes, context)?;
    let command = normalized(mutation, attributes.clone());
    let event_id = close_workflow(
        mutation,
        Attributes::from(WorkflowExecutionContinuedAsNewEventAttributes {
            new_execution_run_id: String::new(),
            workflow_type: command.workflow_type.clone(),
            task_queue: command.task_queue.clone(),
            input: command.input.clone(),
            workflow_run_timeout: command.workflow_run_timeout,
            workflow_task_timeout: command.workflow_task_timeout,
            workflow_task_completed_event_id: context.completed_event_id,
            backoff_start_interval: command.backoff_start_interval,
            initiator: command.initiator,
            failure: command.failure.clone(),
            last_completion_result: command.last_completion_result.clone(),
            header: command.header.clone(),
            memo: command.memo.clone(),
            search_attributes: command.search_attributes.clone(),
            inherit_build_id: command.inherit_build_id,
            ..Default::default()
        }),
        WorkflowExecutionStatus::ContinuedAsNew,
        Some(Successor::ContinueAsNew(Box::new(command))),
    );
    Ok(event_id)
}

/// The command with what it left out taken from this run, and its timeouts
/// capped, as Temporal records it in the event and starts the next run.
fn normalized(
    mutation: &RunMutation,
    mut command: ContinueAsNewWorkflowExecutionCommandAttributes,
) -> ContinueAsNewWorkflowExecutionCommandAttributes {
    let info = mutation.info();
    if command.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        command.workflow_type = info.workflow_type.clone();
    }
    let queue = command.task_queue.take().map(|queue| queue.name).filter(|name| !name.is_empty());
    command.task_queue = Some(TaskQueue {
        name: queue.unwrap_or_else(|| info.task_queue.clone()),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    });
    let inherited = |given: Option<&prost_types::Duration>, inherited: Option<&prost_types::Duration>| {
        let given = duration_nanos(given);
        if given > 0 { given } else { duration_nanos(inherited) }
    };
    record_new_run_fields!(command, normalized_timeouts(
        duration_nanos(info.execution_timeout.as_ref()),
        inherited(command.workflow_run_timeout.as_ref(), info.run_timeout.as_ref()),
        inherited(command.workflow_task_timeout.as_ref(), info.workflow_task_timeout.as_ref()),
        mutation.clock.config,
    ))
}

fn validate(
    mutation: &RunMutation,
    attributes: &ContinueAsNewWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<(), WorkflowTaskFailure> {
    if let Some(name) = attributes.workflow_type.as_ref().map(|t| t.name.as_str()).filter(|name| !name.is_empty()) {
        check_id(name, "WorkflowType", context, CAUSE)?;
    }
    if let Some(name) = attributes.task_queue.as_ref().map(|q| q.name.as_str()).filter(|name| !name.is_empty()) {
        check_id(name, "TaskQueue", context, CAUSE)?;
    }
    let options = new_run_options!(attributes, WHAT, CAUSE, &[
            (attributes.workflow_run_timeout.as_ref(), "WorkflowRunTimeout"),
            (attributes.workflow_task_timeout.as_ref(), "WorkflowTaskTimeout"),
            (attributes.backoff_start_interval.as_ref(), "BackoffStartInterval"),
        ]);
    check_new_run_options(mutation, &options, context)?;
    check_size(attributes.last_completion_result.as_ref(), context, CAUSE, &format!("{WHAT}.LastCompletionResult"))?;
    check_failure(attributes.failure.as_ref(), context, CAUSE, &format!("{WHAT}.Failure"))
}
