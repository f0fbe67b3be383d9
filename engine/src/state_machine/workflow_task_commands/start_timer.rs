//! StartTimer: a durable timer the workflow waits on (workflow.sleep).

use temper_proto::api::command::v1::StartTimerCommandAttributes;
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::history::v1::TimerStartedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::records::TimerInfo;

use super::{CommandContext, WorkflowTaskFailure, check_id};
use crate::state_machine::history::RunMutation;
use crate::time::{duration_nanos, timestamp_from_nanos};

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &StartTimerCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let cause = WorkflowTaskFailedCause::BadStartTimerAttributes;
    let bad = |message: String| WorkflowTaskFailure::new(cause, message);
    check_id(&attributes.timer_id, "TimerId", context, cause)?;
    let timeout = duration_nanos(attributes.start_to_fire_timeout.as_ref());
    if timeout <= 0 {
        return Err(bad(format!("a positive StartToFireTimeout must be set on timer `{}`", attributes.timer_id)));
    }
    if mutation.state.timers.contains_key(&attributes.timer_id) {
        return Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::StartTimerDuplicateId,
            format!("timer id `{}` is already used by a pending timer", attributes.timer_id),
        ));
    }
    let event_id = mutation.add_event(Attributes::from(TimerStartedEventAttributes {
        timer_id: attributes.timer_id.clone(),
        start_to_fire_timeout: attributes.start_to_fire_timeout,
        workflow_task_completed_event_id: context.completed_event_id,
    }));
    let expiry = timestamp_from_nanos(mutation.now().saturating_add(timeout));
    mutation.state.timers.insert(
        attributes.timer_id.clone(),
        TimerInfo { timer_id: attributes.timer_id.clone(), started_event_id: event_id, expiry_time: Some(expiry) },
    );
    mutation.arm_user_timer(&attributes.timer_id);
    Ok(event_id)
}
