//! CompleteWorkflowExecution: the workflow returned. A cron workflow's next
//! run follows.

use temper_proto::api::command::v1::CompleteWorkflowExecutionCommandAttributes;
use temper_proto::api::enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause};
use temper_proto::api::history::v1::WorkflowExecutionCompletedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, WorkflowTaskFailure, check_size, close_workflow};
use crate::state_machine::history::RunMutation;

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &CompleteWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    if context.had_buffered_events {
        return Err(WorkflowTaskFailure::unhandled_events());
    }
    check_size(
        attributes.result.as_ref(),
        context,
        WorkflowTaskFailedCause::BadCompleteWorkflowExecutionAttributes,
        "CompleteWorkflowExecutionCommandAttributes.Result",
    )?;
    // A cron workflow's next run starts with this run's result.
    let successor = mutation.cron_successor(attributes.result.clone());
    let event_id = close_workflow(
        mutation,
        Attributes::from(WorkflowExecutionCompletedEventAttributes {
            result: attributes.result.clone(),
            workflow_task_completed_event_id: context.completed_event_id,
            new_execution_run_id: String::new(),
        }),
        WorkflowExecutionStatus::Completed,
        successor,
    );
    Ok(event_id)
}
