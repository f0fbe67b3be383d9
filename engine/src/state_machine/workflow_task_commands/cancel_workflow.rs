//! CancelWorkflowExecution: the workflow accepted a cancellation request.

use temper_proto::api::command::v1::CancelWorkflowExecutionCommandAttributes;
use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use temper_proto::api::history::v1::WorkflowExecutionCanceledEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, WorkflowTaskFailure, close_workflow};
use crate::state_machine::history::RunMutation;

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &CancelWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    if context.had_buffered_events {
        return Err(WorkflowTaskFailure::unhandled_events());
    }
    let event_id = close_workflow(
        mutation,
        Attributes::from(WorkflowExecutionCanceledEventAttributes {
            workflow_task_completed_event_id: context.completed_event_id,
            details: attributes.details.clone(),
        }),
        WorkflowExecutionStatus::Canceled,
        None,
    );
    Ok(event_id)
}
