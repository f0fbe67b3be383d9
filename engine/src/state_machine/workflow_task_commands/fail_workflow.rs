//! FailWorkflowExecution: the workflow raised. Its retry policy may retry it
//! as a new run; failing that, a cron workflow's next run follows.

use temper_proto::api::command::v1::FailWorkflowExecutionCommandAttributes;
use temper_proto::api::enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause};
use temper_proto::api::history::v1::WorkflowExecutionFailedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, WorkflowTaskFailure, check_failure, close_workflow};
use crate::state_machine::history::RunMutation;
use crate::state_machine::successor::Unsuccessful;

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
    let failure = attributes.failure.clone().unwrap_or_default();
    let (successor, retry_state) = mutation.successor_after(Unsuccessful::Failed, &failure);
    let event_id = close_workflow(
        mutation,
        Attributes::from(WorkflowExecutionFailedEventAttributes {
            failure: attributes.failure.clone(),
            retry_state: retry_state as i32,
            workflow_task_completed_event_id: context.completed_event_id,
            new_execution_run_id: String::new(),
        }),
        WorkflowExecutionStatus::Failed,
        successor,
    );
    Ok(event_id)
}
