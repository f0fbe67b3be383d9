//! A durable timer fired. Each kind checks that what it guards is still as it
//! was when the timer was armed; otherwise the timer is stale and does nothing.

use temper_proto::api::enums::v1::{TimeoutType, WorkflowExecutionStatus};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{TimerFiredEventAttributes, WorkflowExecutionTimedOutEventAttributes};
use temper_proto::records::timer_task::Kind;
use temper_proto::records::{
    ActivityRetry, ActivityTimeout, TimerTask, UserTimerFired, WorkflowMutableState, WorkflowTaskTimeout,
};

use super::is_running;
use crate::state_machine::history::RunMutation;
use crate::state_machine::successor::{Unsuccessful, run_timeout_failure};
use crate::state_machine::{Clock, Transition};
use crate::time::{deadline, duration_nanos, timestamp_nanos};

pub fn apply(state: &mut WorkflowMutableState, timer: &TimerTask, clock: Clock<'_>) -> Transition {
    fire_timers(state, &[timer], clock)
}

/// Fires several timers of one run in one transition, in order; those that
/// no longer apply (or come after one that closed the run) do nothing. A
/// closed run's retention timer deletes it.
pub fn fire_timers(state: &mut WorkflowMutableState, timers: &[&TimerTask], clock: Clock<'_>) -> Transition {
    if !is_running(state) && timers.iter().any(|timer| matches!(timer.kind, Some(Kind::RunRetention(_)))) {
        return super::expire_run::apply(state);
    }
    if !is_running(state) {
        return Transition::default();
    }
    let mut mutation = RunMutation::new(state, clock);
    for timer in timers {
        if !mutation.is_running() {
            break;
        }
        if applies(mutation.state, timer) {
            fire(&mut mutation, timer);
        }
    }
    mutation.finish()
}

fn applies(state: &WorkflowMutableState, timer: &TimerTask) -> bool {
    match &timer.kind {
        Some(Kind::UserTimer(t)) => user_timer_applies(state, t),
        Some(Kind::ActivityTimeout(t)) => activity_timeout_applies(state, t),
        Some(Kind::ActivityRetry(t)) => activity_retry_applies(state, t),
        Some(Kind::WorkflowTaskTimeout(t)) => workflow_task_timeout_applies(state, t),
        Some(Kind::WorkflowRunTimeout(_)) => true,
        Some(Kind::WorkflowStartBackoff(_)) => state.info.as_ref().is_some_and(|info| info.first_workflow_task_backoff_pending),
        Some(Kind::ScheduleWakeup(_)) => state.schedule.is_some(),
        Some(Kind::RunRetention(_)) | None => false,
    }
}

fn fire(mutation: &mut RunMutation, timer: &TimerTask) {
    match &timer.kind {
        Some(Kind::UserTimer(t)) => fire_user_timer(mutation, t),
        Some(Kind::ActivityTimeout(t)) => fire_activity_timeout(mutation, t),
        Some(Kind::ActivityRetry(t)) => mutation.dispatch_activity_retry(t.scheduled_event_id),
        Some(Kind::WorkflowTaskTimeout(t)) => {
            mutation.time_out_workflow_task(t.timeout_type());
            mutation.schedule_workflow_task();
        }
        Some(Kind::WorkflowRunTimeout(_)) => time_out_run(mutation),
        Some(Kind::WorkflowStartBackoff(_)) => {
            mutation.info_mut().first_workflow_task_backoff_pending = false;
            mutation.schedule_workflow_task();
        }
        Some(Kind::ScheduleWakeup(_)) => mutation.advance_schedule(),
        Some(Kind::RunRetention(_)) | None => {}
    }
}

fn user_timer_applies(state: &WorkflowMutableState, timer: &UserTimerFired) -> bool {
    state.timers.get(&timer.timer_id).is_some_and(|t| t.started_event_id == timer.started_event_id)
}

fn activity_timeout_applies(state: &WorkflowMutableState, timeout: &ActivityTimeout) -> bool {
    let Some(activity) = state.activities.get(&timeout.scheduled_event_id) else { return false };
    if activity.attempt != timeout.attempt {
        return false;
    }
    let started = activity.started_time.is_some();
    match timeout.timeout_type() {
        TimeoutType::ScheduleToStart => !started && !activity.backing_off,
        TimeoutType::StartToClose | TimeoutType::Heartbeat => started,
        TimeoutType::ScheduleToClose => true,
        TimeoutType::Unspecified => false,
    }
}

fn activity_retry_applies(state: &WorkflowMutableState, retry: &ActivityRetry) -> bool {
    state
        .activities
        .get(&retry.scheduled_event_id)
        .is_some_and(|activity| activity.backing_off && activity.attempt == retry.attempt)
}

fn workflow_task_timeout_applies(state: &WorkflowMutableState, timeout: &WorkflowTaskTimeout) -> bool {
    let Some(wft) = state.workflow_task.as_ref() else { return false };
    let started = wft.started_event_id != 0;
    wft.scheduled_event_id == timeout.scheduled_event_id
        && wft.attempt == timeout.attempt
        && match timeout.timeout_type() {
            TimeoutType::StartToClose => started,
            TimeoutType::ScheduleToStart => !started,
            _ => false,
        }
}

fn fire_user_timer(mutation: &mut RunMutation, timer: &UserTimerFired) {
    if let Some(fired) = mutation.state.timers.remove(&timer.timer_id) {
        mutation.disarm_user_timer(&fired);
    }
    mutation.add_event(Attributes::from(TimerFiredEventAttributes {
        timer_id: timer.timer_id.clone(),
        started_event_id: timer.started_event_id,
    }));
    mutation.schedule_workflow_task();
}

fn fire_activity_timeout(mutation: &mut RunMutation, timeout: &ActivityTimeout) {
    if timeout.timeout_type() == TimeoutType::Heartbeat && heartbeat_rearmed(mutation, timeout.scheduled_event_id) {
        return;
    }
    if mutation.time_out_activity(timeout.scheduled_event_id, timeout.timeout_type()) {
        mutation.schedule_workflow_task();
    }
}

/// Heartbeats do not move the armed heartbeat timer; when it fires after a
/// recent heartbeat, it is re-armed for the heartbeat's deadline instead.
fn heartbeat_rearmed(mutation: &mut RunMutation, scheduled_event_id: i64) -> bool {
    let now = mutation.now();
    let activity = mutation.state.activities.get_mut(&scheduled_event_id).expect("checked by activity_timeout_applies");
    let timeout = duration_nanos(activity.heartbeat_timeout.as_ref());
    let last_sign_of_life = activity
        .last_heartbeat_time
        .as_ref()
        .or(activity.started_time.as_ref())
        .map(timestamp_nanos)
        .unwrap_or_default()
        .max(activity.started_time.as_ref().map(timestamp_nanos).unwrap_or_default());
    let due = deadline(last_sign_of_life, timeout);
    if due > now {
        activity.heartbeat_timer_nanos = due;
        true
    } else {
        false
    }
}

/// The run (or its whole chain) ran out of time; unless the chain did, its
/// retry policy or cron schedule may start a successor.
fn time_out_run(mutation: &mut RunMutation) {
    mutation.force_close_workflow_task();
    let (successor, retry_state) = mutation.successor_after(Unsuccessful::TimedOut, &run_timeout_failure());
    let timed_out = WorkflowExecutionTimedOutEventAttributes { retry_state: retry_state as i32, new_execution_run_id: String::new() };
    mutation.close_run_with(Attributes::from(timed_out), WorkflowExecutionStatus::TimedOut, successor);
}
