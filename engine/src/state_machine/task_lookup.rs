//! The task a `tasks` log record names, looked up in its run's state. The
//! engine's start commands and matching share it: matching passes over a
//! record whose task was started already (or is gone) without asking the
//! engine, which it does for records a previous owner of their partition
//! may have handed out.

use temper_proto::records::{ActivityInfo, TaskKind, TaskRecord, WorkflowMutableState, WorkflowTaskInfo};

use super::commands::is_running;

/// The run's workflow task, if it is the one scheduled as `scheduled_event_id`.
pub fn scheduled_workflow_task(state: &WorkflowMutableState, scheduled_event_id: i64) -> Option<&WorkflowTaskInfo> {
    state.workflow_task.as_ref().filter(|wft| wft.scheduled_event_id == scheduled_event_id)
}

/// The pending activity scheduled as `scheduled_event_id`, if `attempt` is
/// its current attempt and it is not backing off before it.
pub fn scheduled_activity_attempt(state: &WorkflowMutableState, scheduled_event_id: i64, attempt: i32) -> Option<&ActivityInfo> {
    state.activities.get(&scheduled_event_id).filter(|activity| activity.attempt == attempt && !activity.backing_off)
}

/// Whether the task `record` names still waits for a worker in `state`:
/// false once it started, or once the run closed or moved on.
pub fn awaits_start(state: &WorkflowMutableState, record: &TaskRecord) -> bool {
    if !is_running(state) {
        return false;
    }
    match record.kind() {
        TaskKind::Workflow => scheduled_workflow_task(state, record.scheduled_event_id).is_some_and(|wft| wft.started_event_id == 0),
        TaskKind::Activity => scheduled_activity_attempt(state, record.scheduled_event_id, record.attempt)
            .is_some_and(|activity| activity.started_time.is_none()),
        // Not a task a worker starts: the engine decides.
        TaskKind::Query | TaskKind::Unspecified => true,
    }
}

#[cfg(test)]
mod tests {
    use temper_proto::records::ExecutionInfo;

    use super::*;

    fn running_with(workflow_task: Option<WorkflowTaskInfo>, activity: Option<ActivityInfo>) -> WorkflowMutableState {
        WorkflowMutableState {
            info: Some(ExecutionInfo::default()),
            workflow_task,
            activities: activity.into_iter().map(|activity| (5, activity)).collect(),
            ..Default::default()
        }
    }

    fn record(kind: TaskKind, scheduled_event_id: i64, attempt: i32) -> TaskRecord {
        TaskRecord { kind: kind as i32, scheduled_event_id, attempt, ..Default::default() }
    }

    #[test]
    fn a_workflow_task_awaits_start_until_started_and_only_as_scheduled() {
        let scheduled = WorkflowTaskInfo { scheduled_event_id: 2, ..Default::default() };
        let state = running_with(Some(scheduled.clone()), None);
        assert!(awaits_start(&state, &record(TaskKind::Workflow, 2, 1)));
        assert!(!awaits_start(&state, &record(TaskKind::Workflow, 7, 1)), "another workflow task");
        let started = running_with(Some(WorkflowTaskInfo { started_event_id: 3, ..scheduled }), None);
        assert!(!awaits_start(&started, &record(TaskKind::Workflow, 2, 1)));
        assert!(!awaits_start(&running_with(None, None), &record(TaskKind::Workflow, 2, 1)));
    }

    #[test]
    fn an_activity_attempt_awaits_start_until_started_and_not_while_backing_off() {
        let pending = ActivityInfo { attempt: 2, ..Default::default() };
        assert!(awaits_start(&running_with(None, Some(pending.clone())), &record(TaskKind::Activity, 5, 2)));
        assert!(!awaits_start(&running_with(None, Some(pending.clone())), &record(TaskKind::Activity, 5, 1)), "an earlier attempt");
        let started = ActivityInfo { started_time: Some(Default::default()), ..pending.clone() };
        assert!(!awaits_start(&running_with(None, Some(started)), &record(TaskKind::Activity, 5, 2)));
        let backing_off = ActivityInfo { backing_off: true, ..pending };
        assert!(!awaits_start(&running_with(None, Some(backing_off)), &record(TaskKind::Activity, 5, 2)));
    }

    #[test]
    fn nothing_awaits_start_in_a_closed_run() {
        let mut state = running_with(Some(WorkflowTaskInfo { scheduled_event_id: 2, ..Default::default() }), None);
        state.info.as_mut().unwrap().close_time = Some(Default::default());
        assert!(!awaits_start(&state, &record(TaskKind::Workflow, 2, 1)));
    }
}
