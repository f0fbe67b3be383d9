//! Rebuilds a run's mutable state from a prefix of its history, for reset:
//! the new run starts from the state the old one had after that prefix.
//! Pure, like the rest of the state machine: the shard reads the events.

use prost::Message;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::records::{
    ActivityInfo, ExecutionInfo, TimerInfo, UpdateInfo, UpdateStage, WorkflowMutableState,
};

use super::workflow_task_commands::{upsert_memo_of, upsert_search_attributes_of};
use super::{CommandError, Nanos};
use crate::time::{deadline, duration_nanos, timestamp_from_nanos, timestamp_nanos};

/// Where a rebuilt prefix leaves the workflow task it ends in.
pub(super) struct RebuiltRun {
    pub state: WorkflowMutableState,
    /// The scheduled and started event ids of the workflow task the prefix ends with.
    pub open_task: (i64, i64),
}

/// The state after `events` (ids 1..), for run `run_id` of the same
/// workflow, re-dispatching its pending activities and re-arming its timers
/// from `now`. Refused, as in Temporal, when the prefix leaves a child or a
/// signal or cancel request to another workflow pending.
pub(super) fn rebuild(
    events: &[HistoryEvent],
    base: &ExecutionInfo,
    run_id: &str,
    request_id: &str,
    now: Nanos,
) -> Result<RebuiltRun, CommandError> {
    let mut state = WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: base.namespace_id.clone(),
            workflow_id: base.workflow_id.clone(),
            run_id: run_id.to_string(),
            first_run_id: base.first_run_id.clone(),
            start_time: Some(timestamp_from_nanos(now)),
            execution_time: Some(timestamp_from_nanos(now)),
            status: base.status,
            create_request_id: request_id.to_string(),
            retention: base.retention,
            workflow_task_attempt: 1,
            scheduled_by: base.scheduled_by.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    state.info.as_mut().expect("just set").status = temper_proto::api::enums::v1::WorkflowExecutionStatus::Running as i32;
    let mut open_task = (0, 0);
    // Children started, and signals and cancel requests sent, whose outcome
    // the prefix does not hold yet: a reset cannot take them back.
    let mut reaching_out = std::collections::BTreeSet::new();
    for event in events {
        let info = state.info.as_mut().expect("set above");
        info.next_event_id = event.event_id + 1;
        info.history_size_bytes += event.encoded_len() as i64;
        let event_time = event.event_time.as_ref().map(timestamp_nanos).unwrap_or(now);
        match event.attributes.as_ref() {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                info.workflow_type = a.workflow_type.clone();
                info.task_queue = a.task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default();
                info.execution_timeout = a.workflow_execution_timeout.filter(|d| duration_nanos(Some(d)) > 0);
                info.run_timeout = a.workflow_run_timeout.filter(|d| duration_nanos(Some(d)) > 0);
                info.workflow_task_timeout = a.workflow_task_timeout;
                info.memo = a.memo.clone();
                info.search_attributes = a.search_attributes.clone();
                info.retry_policy = a.retry_policy.clone();
                info.cron_schedule = a.cron_schedule.clone();
                info.attempt = a.attempt;
                info.execution_expiration_time = a.workflow_execution_expiration_time;
                info.priority = a.priority.clone();
                if a.retry_policy.is_some() || !a.cron_schedule.is_empty() {
                    state.started_for_successor = Some(a.clone());
                }
            }
            Some(Attributes::WorkflowTaskScheduledEventAttributes(_)) => open_task = (event.event_id, 0),
            Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => open_task = (a.scheduled_event_id, event.event_id),
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
                info.last_completed_workflow_task_started_event_id = a.started_event_id;
                open_task = (0, 0);
            }
            Some(Attributes::WorkflowTaskFailedEventAttributes(_) | Attributes::WorkflowTaskTimedOutEventAttributes(_)) => {
                open_task = (0, 0);
            }
            Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                state.activities.insert(
                    event.event_id,
                    ActivityInfo {
                        scheduled_event_id: event.event_id,
                        activity_id: a.activity_id.clone(),
                        activity_type: a.activity_type.clone(),
                        task_queue: a.task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default(),
                        first_scheduled_time: Some(timestamp_from_nanos(now)),
                        scheduled_time: Some(timestamp_from_nanos(now)),
                        attempt: 1,
                        schedule_to_close_timeout: a.schedule_to_close_timeout.filter(|d| duration_nanos(Some(d)) > 0),
                        schedule_to_start_timeout: a.schedule_to_start_timeout.filter(|d| duration_nanos(Some(d)) > 0),
                        start_to_close_timeout: a.start_to_close_timeout.filter(|d| duration_nanos(Some(d)) > 0),
                        heartbeat_timeout: a.heartbeat_timeout.filter(|d| duration_nanos(Some(d)) > 0),
                        retry_policy: a.retry_policy.clone(),
                        priority: a.priority.clone(),
                        ..Default::default()
                    },
                );
            }
            Some(Attributes::ActivityTaskCancelRequestedEventAttributes(a)) => {
                if let Some(activity) = state.activities.get_mut(&a.scheduled_event_id) {
                    activity.cancel_requested = true;
                    activity.cancel_requested_event_id = event.event_id;
                }
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => _ = state.activities.remove(&a.scheduled_event_id),
            Some(Attributes::ActivityTaskFailedEventAttributes(a)) => _ = state.activities.remove(&a.scheduled_event_id),
            Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => _ = state.activities.remove(&a.scheduled_event_id),
            Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => _ = state.activities.remove(&a.scheduled_event_id),
            Some(Attributes::TimerStartedEventAttributes(a)) => {
                let fires = deadline(event_time, duration_nanos(a.start_to_fire_timeout.as_ref()));
                state.timers.insert(
                    a.timer_id.clone(),
                    TimerInfo { timer_id: a.timer_id.clone(), started_event_id: event.event_id, expiry_time: Some(timestamp_from_nanos(fires)) },
                );
            }
            Some(Attributes::TimerFiredEventAttributes(a)) => _ = state.timers.remove(&a.timer_id),
            Some(Attributes::TimerCanceledEventAttributes(a)) => _ = state.timers.remove(&a.timer_id),
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
                if !a.request_id.is_empty() {
                    state.signal_request_ids.push(a.request_id.clone());
                }
            }
            Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(_)) => info.cancel_requested = true,
            Some(Attributes::UpsertWorkflowSearchAttributesEventAttributes(a)) => {
                if let Some(updates) = &a.search_attributes {
                    upsert_search_attributes_of(info, updates);
                }
            }
            Some(Attributes::WorkflowPropertiesModifiedEventAttributes(a)) => {
                if let Some(updates) = &a.upserted_memo {
                    upsert_memo_of(info, updates);
                }
            }
            Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => {
                state.updates.insert(
                    a.protocol_instance_id.clone(),
                    UpdateInfo {
                        request: a.accepted_request.clone(),
                        stage: UpdateStage::Accepted as i32,
                        accepted_event_id: event.event_id,
                        ..Default::default()
                    },
                );
            }
            Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(a)) => {
                let update_id = a.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
                if let Some(update) = state.updates.get_mut(&update_id) {
                    update.stage = UpdateStage::Completed as i32;
                    update.outcome = a.outcome.clone();
                }
            }
            Some(
                Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(_)
                | Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(_)
                | Attributes::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(_),
            ) => {
                reaching_out.insert(event.event_id);
            }
            Some(Attributes::StartChildWorkflowExecutionFailedEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ChildWorkflowExecutionCanceledEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ExternalWorkflowExecutionSignaledEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::SignalExternalWorkflowExecutionFailedEventAttributes(a)) => _ = reaching_out.remove(&a.initiated_event_id),
            Some(Attributes::ExternalWorkflowExecutionCancelRequestedEventAttributes(a)) => {
                _ = reaching_out.remove(&a.initiated_event_id)
            }
            Some(Attributes::RequestCancelExternalWorkflowExecutionFailedEventAttributes(a)) => {
                _ = reaching_out.remove(&a.initiated_event_id)
            }
            _ => {}
        }
    }
    if !reaching_out.is_empty() {
        return Err(CommandError::InvalidArgument(
            "it is not allowed resetting to a point where the workflow has pending child workflows, or signals or cancel requests to other workflows not yet delivered"
                .into(),
        ));
    }
    if open_task.1 == 0 {
        return Err(CommandError::InvalidArgument(
            "the reset point must be a workflow task's completed, failed, timed-out or started event".into(),
        ));
    }
    Ok(RebuiltRun { state, open_task })
}
