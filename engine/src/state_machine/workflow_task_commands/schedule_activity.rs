//! ScheduleActivityTask: validates and completes the activity's options the
//! way Temporal does, records the scheduled event and dispatches the task.

use temper_proto::api::command::v1::ScheduleActivityTaskCommandAttributes;
use temper_proto::api::enums::v1::{TaskQueueKind, WorkflowTaskFailedCause};
use temper_proto::api::history::v1::ActivityTaskScheduledEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::records::ActivityInfo;

use super::{CommandContext, CommandsOutcome, WorkflowTaskFailure, check_id, check_size};
use crate::state_machine::derived_ids::request_id;
use crate::state_machine::history::RunMutation;
use crate::state_machine::retry;
use crate::time::{duration_nanos, explicit_duration, is_negative, optional_duration, timestamp_from_nanos};

const CAUSE: WorkflowTaskFailedCause = WorkflowTaskFailedCause::BadScheduleActivityAttributes;

/// The four timeouts after Temporal's defaulting rules.
#[derive(Debug, PartialEq)]
struct Timeouts {
    schedule_to_close: i64,
    schedule_to_start: i64,
    start_to_close: i64,
    heartbeat: i64,
}

// `use_workflow_build_id` is deprecated (worker versioning moved on), but
// Temporal still echoes it into the event, so Temper does too.
#[allow(deprecated)]
pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &ScheduleActivityTaskCommandAttributes,
    context: &CommandContext,
    outcome: &mut CommandsOutcome,
) -> Result<i64, WorkflowTaskFailure> {
    let bad = |message: String| WorkflowTaskFailure::new(CAUSE, message);
    let activity_type = attributes.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
    check_id(&attributes.activity_id, "ActivityId", context, CAUSE)?;
    check_id(&activity_type, "ActivityType", context, CAUSE)?;
    if let Some(queue) = attributes.task_queue.as_ref().filter(|queue| !queue.name.is_empty()) {
        check_id(&queue.name, "TaskQueue", context, CAUSE)?;
    }
    let max_pending = mutation.clock.config.run_limits.max_pending_activities;
    if mutation.state.activities.len() >= max_pending {
        return Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::PendingActivitiesLimitExceeded,
            format!("the workflow has {max_pending} pending activities, the most it may have"),
        ));
    }
    if mutation.state.activities.values().any(|a| a.activity_id == attributes.activity_id) {
        return Err(bad(format!("activity id `{}` is already used by a pending activity", attributes.activity_id)));
    }
    check_size(attributes.input.as_ref(), context, CAUSE, "ScheduleActivityTaskCommandAttributes.Input")?;
    check_size(attributes.header.as_ref(), context, CAUSE, "ScheduleActivityTaskCommandAttributes.Header")?;
    let run_timeout = duration_nanos(mutation.info().run_timeout.as_ref());
    let timeouts = normalize_timeouts(attributes, run_timeout).map_err(|message| {
        bad(format!("{message}. ActivityId={} ActivityType={activity_type}", attributes.activity_id))
    })?;
    let policy = retry::with_defaults(attributes.retry_policy.clone(), &mutation.clock.config.activity_retry);
    retry::validate(&policy).map_err(bad)?;
    let task_queue = match attributes.task_queue.as_ref().map(|q| q.name.as_str()) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => mutation.info().task_queue.clone(),
    };

    let scheduled_event_id = mutation.add_event(Attributes::from(ActivityTaskScheduledEventAttributes {
        activity_id: attributes.activity_id.clone(),
        activity_type: attributes.activity_type.clone(),
        task_queue: Some(TaskQueue { name: task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
        header: attributes.header.clone(),
        input: attributes.input.clone(),
        schedule_to_close_timeout: explicit_duration(timeouts.schedule_to_close),
        schedule_to_start_timeout: explicit_duration(timeouts.schedule_to_start),
        start_to_close_timeout: explicit_duration(timeouts.start_to_close),
        heartbeat_timeout: explicit_duration(timeouts.heartbeat),
        workflow_task_completed_event_id: context.completed_event_id,
        retry_policy: Some(policy.clone()),
        priority: attributes.priority.clone(),
        // Echoed as Temporal does (the SDKs set it for worker versioning).
        use_workflow_build_id: attributes.use_workflow_build_id,
        ..Default::default()
    }));
    let now = timestamp_from_nanos(mutation.now());
    let on_workflow_queue = task_queue == mutation.info().task_queue;
    mutation.state.activities.insert(
        scheduled_event_id,
        ActivityInfo {
            scheduled_event_id,
            activity_id: attributes.activity_id.clone(),
            activity_type: attributes.activity_type.clone(),
            task_queue,
            first_scheduled_time: Some(now),
            scheduled_time: Some(now),
            attempt: 1,
            schedule_to_close_timeout: optional_duration(timeouts.schedule_to_close),
            schedule_to_start_timeout: optional_duration(timeouts.schedule_to_start),
            start_to_close_timeout: optional_duration(timeouts.start_to_close),
            heartbeat_timeout: optional_duration(timeouts.heartbeat),
            retry_policy: Some(policy),
            priority: attributes.priority.clone(),
            ..Default::default()
        },
    );
    let eager = attributes.request_eager_execution
        && on_workflow_queue
        && outcome.eager_activities.len() < MAX_EAGER_ACTIVITIES;
    if eager {
        // The completing worker asked to run it itself and polls this queue.
        let request_id = request_id(&mutation.info().run_id, scheduled_event_id);
        outcome.eager_activities.push(mutation.start_activity(scheduled_event_id, &request_id, &context.identity));
    } else {
        mutation.dispatch_activity(scheduled_event_id);
    }
    Ok(scheduled_event_id)
}

/// Most activities one workflow task completion starts eagerly, as
/// Temporal's `system.maxActivityEagerExecution` default does.
const MAX_EAGER_ACTIVITIES: usize = 3;

/// Temporal's rules: schedule-to-close fills the other two when set;
/// otherwise start-to-close is required and the run timeout bounds the
/// activity; nothing outlasts the run; heartbeat never exceeds start-to-close.
fn normalize_timeouts(attributes: &ScheduleActivityTaskCommandAttributes, run_timeout: i64) -> Result<Timeouts, String> {
    for (name, value) in [
        ("ScheduleToCloseTimeout", &attributes.schedule_to_close_timeout),
        ("ScheduleToStartTimeout", &attributes.schedule_to_start_timeout),
        ("StartToCloseTimeout", &attributes.start_to_close_timeout),
        ("HeartbeatTimeout", &attributes.heartbeat_timeout),
    ] {
        if is_negative(value.as_ref()) {
            return Err(format!("invalid {name}: negative duration"));
        }
    }
    let mut schedule_to_close = duration_nanos(attributes.schedule_to_close_timeout.as_ref());
    let mut schedule_to_start = duration_nanos(attributes.schedule_to_start_timeout.as_ref());
    let mut start_to_close = duration_nanos(attributes.start_to_close_timeout.as_ref());
    let mut heartbeat = duration_nanos(attributes.heartbeat_timeout.as_ref());
    if schedule_to_close > 0 {
        schedule_to_start = if schedule_to_start > 0 { schedule_to_start.min(schedule_to_close) } else { schedule_to_close };
        start_to_close = if start_to_close > 0 { start_to_close.min(schedule_to_close) } else { schedule_to_close };
    } else if start_to_close > 0 {
        schedule_to_close = run_timeout;
        if schedule_to_start == 0 {
            schedule_to_start = run_timeout;
        }
    } else {
        return Err("a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity".into());
    }
    if run_timeout > 0 {
        for timeout in [&mut schedule_to_close, &mut schedule_to_start, &mut start_to_close, &mut heartbeat] {
            *timeout = (*timeout).min(run_timeout);
        }
    }
    heartbeat = heartbeat.min(start_to_close);
    Ok(Timeouts { schedule_to_close, schedule_to_start, start_to_close, heartbeat })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::duration_from_nanos;

    const S: i64 = 1_000_000_000;

    fn attributes(schedule_to_close: i64, schedule_to_start: i64, start_to_close: i64, heartbeat: i64) -> ScheduleActivityTaskCommandAttributes {
        ScheduleActivityTaskCommandAttributes {
            schedule_to_close_timeout: optional_duration(schedule_to_close),
            schedule_to_start_timeout: optional_duration(schedule_to_start),
            start_to_close_timeout: optional_duration(start_to_close),
            heartbeat_timeout: optional_duration(heartbeat),
            ..Default::default()
        }
    }

    #[test]
    fn schedule_to_close_fills_and_bounds_the_others() {
        let t = normalize_timeouts(&attributes(10 * S, 0, 30 * S, 0), 0).unwrap();
        assert_eq!(t, Timeouts { schedule_to_close: 10 * S, schedule_to_start: 10 * S, start_to_close: 10 * S, heartbeat: 0 });
    }

    #[test]
    fn start_to_close_alone_leaves_the_activity_bounded_by_the_run() {
        let t = normalize_timeouts(&attributes(0, 0, 5 * S, 20 * S), 60 * S).unwrap();
        assert_eq!(t, Timeouts { schedule_to_close: 60 * S, schedule_to_start: 60 * S, start_to_close: 5 * S, heartbeat: 5 * S });
        let unbounded = normalize_timeouts(&attributes(0, 0, 5 * S, 0), 0).unwrap();
        assert_eq!(unbounded.schedule_to_close, 0);
    }

    #[test]
    fn an_activity_needs_start_to_close_or_schedule_to_close() {
        let error = normalize_timeouts(&attributes(0, 3 * S, 0, 0), 0).unwrap_err();
        assert!(error.contains("StartToCloseTimeout or ScheduleToCloseTimeout"));
    }

    #[test]
    fn negative_timeouts_are_refused() {
        let mut bad = attributes(0, 0, S, 0);
        bad.heartbeat_timeout = Some(duration_from_nanos(-S));
        assert!(normalize_timeouts(&bad, 0).unwrap_err().contains("HeartbeatTimeout"));
    }
}
