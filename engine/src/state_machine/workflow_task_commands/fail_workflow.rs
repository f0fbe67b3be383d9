//! FailWorkflowExecution: the workflow raised.

use temper_proto::api::command::v1::FailWorkflowExecutionCommandAttributes;
use temper_proto::api::enums::v1::{RetryState, WorkflowExecutionStatus, WorkflowTaskFailedCause};
use temper_proto::api::history::v1::WorkflowExecutionFailedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, WorkflowTaskFailure, check_failure, close_workflow};
use crate::state_machine::history::RunMutation;

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &FailWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    if context.had_buffered_events {
        return Err(WorkflowTaskFailure::unhandled_events());
    }
    check_failure(
        attributes.failure.as_ref(),
        context,
        WorkflowTaskFailedCause::BadFailWorkflowExecutionAttributes,
        "FailWorkflowExecutionCommandAttributes.Failure",
    )?;
    let event_id = close_workflow(
        mutation,
        Attributes::from(WorkflowExecutionFailedEventAttributes {
            failure: attributes.failure.clone(),
            // Runs with a retry policy are refused at start until workflow retries exist.
            retry_state: RetryState::RetryPolicyNotSet as i32,
            workflow_task_completed_event_id: context.completed_event_id,
            new_execution_run_id: String::new(),
        }),
        WorkflowExecutionStatus::Failed,
    );
    Ok(event_id)
}
