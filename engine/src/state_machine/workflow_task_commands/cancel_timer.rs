//! CancelTimer: stops a pending timer. A timer that fired while the task ran
//! can still be cancelled: its fired event is dropped, as in Temporal.

use temper_proto::api::command::v1::CancelTimerCommandAttributes;
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::history::v1::TimerCanceledEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, WorkflowTaskFailure, check_id};
use crate::state_machine::history::RunMutation;

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &CancelTimerCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let timer_id = &attributes.timer_id;
    check_id(timer_id, "TimerId", context, WorkflowTaskFailedCause::BadCancelTimerAttributes)?;
    let started_event_id = match mutation.state.timers.remove(timer_id) {
        Some(timer) => {
            mutation.disarm_user_timer(&timer);
            timer.started_event_id
        }
        None => mutation.remove_buffered_timer_fired(timer_id).ok_or_else(|| {
            WorkflowTaskFailure::new(
                WorkflowTaskFailedCause::BadCancelTimerAttributes,
                format!("no pending timer has id `{timer_id}`"),
            )
        })?,
    };
    Ok(mutation.add_event(Attributes::from(TimerCanceledEventAttributes {
        timer_id: timer_id.clone(),
        started_event_id,
        workflow_task_completed_event_id: context.completed_event_id,
        identity: context.identity.clone(),
    })))
}
