//! RequestCancelActivityTask: an activity that has not started is cancelled
//! at once; a running one learns of the request from its next heartbeat.

use temper_proto::api::command::v1::RequestCancelActivityTaskCommandAttributes;
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::history::v1::ActivityTaskCancelRequestedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, CommandsOutcome, WorkflowTaskFailure};
use crate::state_machine::activity::ActivityOutcome;
use crate::state_machine::history::RunMutation;

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &RequestCancelActivityTaskCommandAttributes,
    context: &CommandContext,
    outcome: &mut CommandsOutcome,
) -> Result<i64, WorkflowTaskFailure> {
    let scheduled_event_id = attributes.scheduled_event_id;
    if !mutation.state.activities.contains_key(&scheduled_event_id) {
        return Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::BadRequestCancelActivityAttributes,
            format!("no pending activity has scheduled event id {scheduled_event_id}"),
        ));
    }
    let event_id = mutation.add_event(Attributes::from(ActivityTaskCancelRequestedEventAttributes {
        scheduled_event_id,
        workflow_task_completed_event_id: context.completed_event_id,
    }));
    let activity = mutation.state.activities.get_mut(&scheduled_event_id).expect("checked above");
    activity.cancel_requested = true;
    activity.cancel_requested_event_id = event_id;
    if activity.started_time.is_none() {
        mutation.close_activity(
            scheduled_event_id,
            ActivityOutcome::Canceled { details: None, identity: context.identity.clone() },
        );
        outcome.activity_cancelled_before_start = true;
    }
    Ok(event_id)
}
