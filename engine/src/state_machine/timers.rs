//! Durable timers. Which timers a run has armed is a function of its state.
//! The timeouts of the run, its workflow task and its activities are armed
//! and disarmed by comparing that set before and after a change, so no
//! handler has to remember which timers it created; their number is bounded
//! by the pending-activity limit. User timers are not bounded (a workflow may
//! start tens of thousands), so the few places that add or remove one arm or
//! disarm it themselves: a transition then costs nothing per user timer.

use std::collections::HashSet;

use temper_proto::api::enums::v1::TimeoutType;
use temper_proto::records::timer_task::Kind;
use temper_proto::records::{
    ActivityInfo, ActivityRetry, ActivityTimeout, ExecutionInfo, RunRetention, ScheduleWakeup, TimerInfo, TimerTask, UserTimerFired,
    WorkflowMutableState, WorkflowRunTimeout, WorkflowStartBackoff, WorkflowTaskInfo, WorkflowTaskTimeout,
};

use super::Effect;
use super::history::RunMutation;
use crate::store::{RunKey, TimerKey};
use crate::time::{deadline, duration_nanos, timestamp_from_nanos, timestamp_nanos};

/// The key a timer is stored under: its fire time, and an id naming what it
/// is for, unique within the shard.
pub fn timer_key(task: &TimerTask) -> TimerKey {
    let run = format!("{}/{}/{}", task.namespace_id, task.workflow_id, task.run_id);
    let what = match &task.kind {
        Some(Kind::UserTimer(t)) => format!("timer/{}/{}", t.started_event_id, t.timer_id),
        Some(Kind::ActivityTimeout(t)) => {
            format!("activity/{}/{}/{}", t.scheduled_event_id, t.attempt, t.timeout_type)
        }
        Some(Kind::ActivityRetry(t)) => format!("retry/{}/{}", t.scheduled_event_id, t.attempt),
        Some(Kind::WorkflowTaskTimeout(t)) => {
            format!("workflow-task/{}/{}/{}", t.scheduled_event_id, t.attempt, t.timeout_type)
        }
        Some(Kind::WorkflowRunTimeout(_)) => "run".to_string(),
        Some(Kind::RunRetention(_)) => "retention".to_string(),
        Some(Kind::WorkflowStartBackoff(_)) => "start-backoff".to_string(),
        Some(Kind::ScheduleWakeup(_)) => "schedule-wakeup".to_string(),
        None => "none".to_string(),
    };
    TimerKey {
        fire_time_nanos: task.fire_time.as_ref().map(timestamp_nanos).unwrap_or_default(),
        id: format!("{run}/{what}"),
    }
}

fn task(run: &RunKey, fire_time_nanos: i64, kind: Kind) -> TimerTask {
    TimerTask {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        fire_time: Some(timestamp_from_nanos(fire_time_nanos)),
        kind: Some(kind),
    }
}

pub fn user_timer(run: &RunKey, timer: &TimerInfo) -> TimerTask {
    let fire = timer.expiry_time.as_ref().map(timestamp_nanos).unwrap_or_default();
    task(
        run,
        fire,
        Kind::UserTimer(UserTimerFired { timer_id: timer.timer_id.clone(), started_event_id: timer.started_event_id }),
    )
}

/// Timers guarding a workflow task: schedule-to-start on a sticky queue, and
/// start-to-close once started.
pub fn workflow_task_timers(run: &RunKey, wft: &WorkflowTaskInfo, sticky_schedule_to_start: i64) -> Vec<TimerTask> {
    let timeout = |timeout_type: TimeoutType, fire: i64| {
        task(
            run,
            fire,
            Kind::WorkflowTaskTimeout(WorkflowTaskTimeout {
                scheduled_event_id: wft.scheduled_event_id,
                attempt: wft.attempt,
                timeout_type: timeout_type as i32,
            }),
        )
    };
    if wft.started_event_id != 0 {
        let started = wft.started_time.as_ref().map(timestamp_nanos).unwrap_or_default();
        let start_to_close = duration_nanos(wft.start_to_close_timeout.as_ref());
        vec![timeout(TimeoutType::StartToClose, deadline(started, start_to_close))]
    } else if wft.sticky && sticky_schedule_to_start > 0 {
        let scheduled = wft.scheduled_time.as_ref().map(timestamp_nanos).unwrap_or_default();
        vec![timeout(TimeoutType::ScheduleToStart, deadline(scheduled, sticky_schedule_to_start))]
    } else {
        Vec::new()
    }
}

/// Timers guarding an activity in its current phase: the retry backoff, or
/// schedule-to-start while it waits for a worker, or start-to-close and
/// heartbeat while it runs; schedule-to-close throughout.
pub fn activity_timers(run: &RunKey, activity: &ActivityInfo) -> Vec<TimerTask> {
    let timeout = |timeout_type: TimeoutType, fire: i64| {
        task(
            run,
            fire,
            Kind::ActivityTimeout(ActivityTimeout {
                scheduled_event_id: activity.scheduled_event_id,
                attempt: activity.attempt,
                timeout_type: timeout_type as i32,
            }),
        )
    };
    let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(timestamp_nanos).unwrap_or_default();
    let mut timers = Vec::new();
    if activity.backing_off {
        timers.push(task(
            run,
            at(&activity.scheduled_time),
            Kind::ActivityRetry(ActivityRetry {
                scheduled_event_id: activity.scheduled_event_id,
                attempt: activity.attempt,
            }),
        ));
    } else if activity.started_time.is_none() {
        let schedule_to_start = duration_nanos(activity.schedule_to_start_timeout.as_ref());
        if schedule_to_start > 0 {
            timers.push(timeout(TimeoutType::ScheduleToStart, deadline(at(&activity.scheduled_time), schedule_to_start)));
        }
    } else {
        let start_to_close = duration_nanos(activity.start_to_close_timeout.as_ref());
        if start_to_close > 0 {
            timers.push(timeout(TimeoutType::StartToClose, deadline(at(&activity.started_time), start_to_close)));
        }
        if activity.heartbeat_timer_nanos > 0 {
            timers.push(timeout(TimeoutType::Heartbeat, activity.heartbeat_timer_nanos));
        }
    }
    let schedule_to_close = duration_nanos(activity.schedule_to_close_timeout.as_ref());
    if schedule_to_close > 0 {
        timers.push(timeout(TimeoutType::ScheduleToClose, deadline(at(&activity.first_scheduled_time), schedule_to_close)));
    }
    timers
}

/// The run times out at the earlier of its run timeout (counted from the
/// end of any start backoff) and the expiration of its whole chain of runs.
fn run_timeout_timer(run: &RunKey, state: &WorkflowMutableState) -> Option<TimerTask> {
    let info = state.info.as_ref()?;
    let chain_deadline = info.execution_expiration_time.as_ref().map(timestamp_nanos);
    let fire_time = run_expiration(info).or(chain_deadline)?;
    Some(task(run, fire_time, Kind::WorkflowRunTimeout(WorkflowRunTimeout {})))
}

/// When the run's own timeout ends it: its run timeout counted from the end
/// of any start backoff, never past the chain's expiration; `None` without
/// a run timeout.
pub fn run_expiration(info: &ExecutionInfo) -> Option<i64> {
    let run_timeout = duration_nanos(info.run_timeout.as_ref());
    let start = info.execution_time.as_ref().or(info.start_time.as_ref()).map(timestamp_nanos).unwrap_or_default();
    let run_deadline = (run_timeout > 0).then(|| deadline(start, run_timeout))?;
    let chain_deadline = info.execution_expiration_time.as_ref().map(timestamp_nanos);
    Some(chain_deadline.map_or(run_deadline, |chain| run_deadline.min(chain)))
}

/// The first workflow task of a run with a start delay (or a retry or cron
/// backoff) is scheduled when this fires, at the run's execution time.
fn start_backoff_timer(run: &RunKey, info: &ExecutionInfo) -> Option<TimerTask> {
    let execution_time = info.execution_time.as_ref().map(timestamp_nanos)?;
    info.first_workflow_task_backoff_pending
        .then(|| task(run, execution_time, Kind::WorkflowStartBackoff(WorkflowStartBackoff {})))
}

/// A closed run is deleted once its retention has passed; a run without a
/// retention is kept.
fn retention_timer(run: &RunKey, info: &ExecutionInfo) -> Option<TimerTask> {
    let retention = duration_nanos(info.retention.as_ref());
    let closed = info.close_time.as_ref().map(timestamp_nanos)?;
    (retention > 0).then(|| task(run, closed.saturating_add(retention), Kind::RunRetention(RunRetention {})))
}

/// Every timer a run has armed in its current state: while it runs, those
/// guarding its progress; once closed, only its retention.
pub fn timers_of_run(state: &WorkflowMutableState) -> Vec<TimerTask> {
    let mut timers = timeouts_of_run(state);
    if let Some(run) = open_run_key(state) {
        timers.extend(state.timers.values().map(|timer| user_timer(&run, timer)));
    }
    timers
}

fn open_run_key(state: &WorkflowMutableState) -> Option<RunKey> {
    state.info.as_ref().filter(|info| info.close_time.is_none()).map(run_key_of)
}

fn run_key_of(info: &ExecutionInfo) -> RunKey {
    RunKey { namespace_id: info.namespace_id.clone(), workflow_id: info.workflow_id.clone(), run_id: info.run_id.clone() }
}

/// The timers a run has armed in its current state, but for its user timers:
/// while it runs, those guarding its progress; once closed, its retention.
pub(super) fn timeouts_of_run(state: &WorkflowMutableState) -> Vec<TimerTask> {
    let Some(info) = state.info.as_ref() else { return Vec::new() };
    let run = run_key_of(info);
    if info.close_time.is_some() {
        return retention_timer(&run, info).into_iter().collect();
    }
    let sticky_schedule_to_start = duration_nanos(info.sticky_schedule_to_start_timeout.as_ref());
    let mut timers: Vec<TimerTask> = run_timeout_timer(&run, state).into_iter().collect();
    timers.extend(start_backoff_timer(&run, info));
    if let Some(wft) = &state.workflow_task {
        timers.extend(workflow_task_timers(&run, wft, sticky_schedule_to_start));
    }
    for activity in state.activities.values() {
        timers.extend(activity_timers(&run, activity));
    }
    timers.extend(schedule_wakeup_timer(&run, state));
    timers
}

/// A schedule's run wakes when its next time is due.
fn schedule_wakeup_timer(run: &RunKey, state: &WorkflowMutableState) -> Option<TimerTask> {
    let wakeup = state.schedule.as_ref()?.wakeup_time.as_ref().map(timestamp_nanos)?;
    Some(task(run, wakeup, Kind::ScheduleWakeup(ScheduleWakeup {})))
}

impl RunMutation<'_> {
    /// Arms a user timer the workflow just started (and recorded in the state).
    pub(super) fn arm_user_timer(&mut self, timer_id: &str) {
        let (Some(run), Some(timer)) = (open_run_key(self.state), self.state.timers.get(timer_id)) else { return };
        let task = user_timer(&run, timer);
        self.effect(Effect::AddTimer(timer_key(&task), task));
    }

    /// Disarms a user timer that was cancelled, fired or dropped with its run.
    pub(super) fn disarm_user_timer(&mut self, timer: &TimerInfo) {
        let Some(run) = self.state.info.as_ref().map(run_key_of) else { return };
        self.effect(Effect::DeleteTimer(timer_key(&user_timer(&run, timer))));
    }

    /// Arms the timers of the current state that `before` lacked and disarms
    /// those of `before` that no longer apply.
    pub(super) fn rearm_timers(&mut self, before: &[TimerTask]) {
        let after = timeouts_of_run(self.state);
        let before_keys: HashSet<TimerKey> = before.iter().map(timer_key).collect();
        let after_keys: Vec<TimerKey> = after.iter().map(timer_key).collect();
        let after_set: HashSet<&TimerKey> = after_keys.iter().collect();
        let mut disarmed: Vec<&TimerKey> = before_keys.iter().filter(|key| !after_set.contains(key)).collect();
        disarmed.sort();
        for key in disarmed {
            self.effect(Effect::DeleteTimer(key.clone()));
        }
        for (key, timer) in after_keys.iter().zip(after) {
            if !before_keys.contains(key) {
                self.effect(Effect::AddTimer(key.clone(), timer));
            }
        }
    }
}
