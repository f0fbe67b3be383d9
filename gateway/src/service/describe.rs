//! DescribeWorkflowExecution, read from the run's mutable state.

use std::collections::HashMap;

use prost_types::Timestamp;
use temper_engine::state_machine::{activity_expiration, run_expiration, visibility_record};
use temper_engine::store::RunKey;
use temper_engine::time::{duration_nanos, explicit_duration, timestamp_from_nanos, timestamp_nanos};
use temper_proto::api::activity::v1::ActivityOptions;
use temper_proto::api::common::v1::{RetryPolicy, WorkflowExecution, WorkflowType};
use temper_proto::api::enums::v1::{EventType, PendingActivityState, PendingWorkflowTaskState, TaskQueueKind};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{HistoryEvent, WorkflowExecutionStartedEventAttributes};
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflow::v1::{
    PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo, RequestIdInfo, WorkflowExecutionConfig,
    WorkflowExecutionExtendedInfo, WorkflowExecutionInfo,
};
use temper_proto::api::workflowservice::v1::{DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse};
use temper_proto::records::{
    ActivityInfo, ChildExecutionInfo, ExecutionInfo, VisibilityRecord, WorkflowMutableState, WorkflowTaskInfo,
};

use crate::errors::ApiResult;
use crate::gateway::{Gateway, workflow_not_found};

pub async fn describe_workflow_execution(
    gateway: &Gateway,
    request: DescribeWorkflowExecutionRequest,
) -> ApiResult<DescribeWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let (run, state) = gateway.load_run(&namespace.id, request.execution.as_ref()).await?;
    let started = started_event(gateway, &run).await?;
    Ok(describe(&state, &started))
}

/// The run's first event: Temporal's describe shows its time, its user
/// metadata and the timeouts as it recorded them.
async fn started_event(gateway: &Gateway, run: &RunKey) -> ApiResult<HistoryEvent> {
    let events = gateway.store.read_history(run, 1, 1).await?;
    events.into_iter().next().ok_or_else(|| workflow_not_found(&run.workflow_id))
}

/// What describe and list show of any run, from its summary.
pub fn execution_info(summary: &VisibilityRecord) -> WorkflowExecutionInfo {
    WorkflowExecutionInfo {
        execution: Some(WorkflowExecution { workflow_id: summary.workflow_id.clone(), run_id: summary.run_id.clone() }),
        r#type: Some(WorkflowType { name: summary.workflow_type.clone() }),
        start_time: summary.start_time,
        close_time: summary.close_time,
        status: summary.status,
        history_length: summary.history_length,
        execution_time: summary.execution_time,
        memo: summary.memo.clone(),
        search_attributes: summary.search_attributes.clone(),
        task_queue: summary.task_queue.clone(),
        state_transition_count: summary.state_transition_count,
        history_size_bytes: summary.history_size_bytes,
        execution_duration: summary.execution_duration,
        first_run_id: summary.first_run_id.clone(),
        parent_namespace_id: summary.parent.as_ref().map(|p| p.namespace_id.clone()).unwrap_or_default(),
        parent_execution: summary
            .parent
            .as_ref()
            .map(|p| WorkflowExecution { workflow_id: p.workflow_id.clone(), run_id: p.run_id.clone() }),
        // A run without a parent is its own root, as Temporal shows it.
        root_execution: Some(match &summary.parent {
            Some(p) => WorkflowExecution { workflow_id: p.root_workflow_id.clone(), run_id: p.root_run_id.clone() },
            None => WorkflowExecution { workflow_id: summary.workflow_id.clone(), run_id: summary.run_id.clone() },
        }),
        ..Default::default()
    }
}

fn describe(state: &WorkflowMutableState, started: &HistoryEvent) -> DescribeWorkflowExecutionResponse {
    let info = state.info.clone().unwrap_or_default();
    let summary = visibility_record(state);
    let started_attributes = match &started.attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(attributes)) => attributes.clone(),
        _ => Default::default(),
    };
    let mut activities: Vec<&ActivityInfo> = state.activities.values().collect();
    activities.sort_by_key(|activity| activity.scheduled_event_id);
    let mut children: Vec<&ChildExecutionInfo> = state.children.values().collect();
    children.sort_by_key(|child| child.initiated_event_id);
    let execution_info = execution_info(&summary);
    DescribeWorkflowExecutionResponse {
        execution_config: Some(WorkflowExecutionConfig {
            task_queue: Some(TaskQueue { name: info.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
            // As the started event has them: a zero timeout it recorded is
            // shown as zero, one it left out is left out.
            workflow_execution_timeout: started_attributes.workflow_execution_timeout,
            workflow_run_timeout: started_attributes.workflow_run_timeout,
            default_workflow_task_timeout: info.workflow_task_timeout,
            user_metadata: started.user_metadata.clone(),
        }),
        workflow_execution_info: Some(WorkflowExecutionInfo {
            // Describe always has these, empty or not.
            memo: execution_info.memo.clone().or_else(|| Some(Default::default())),
            search_attributes: execution_info.search_attributes.clone().or_else(|| Some(Default::default())),
            auto_reset_points: info.auto_reset_points.clone().or_else(|| Some(Default::default())),
            priority: info.priority.clone(),
            ..execution_info
        }),
        pending_activities: activities.into_iter().map(pending_activity).collect(),
        pending_workflow_task: state.workflow_task.as_ref().map(pending_workflow_task),
        pending_children: children.into_iter().map(pending_child).collect(),
        workflow_extended_info: Some(extended_info(&info, started, &started_attributes)),
        ..Default::default()
    }
}

fn extended_info(
    info: &ExecutionInfo,
    started: &HistoryEvent,
    started_attributes: &WorkflowExecutionStartedEventAttributes,
) -> WorkflowExecutionExtendedInfo {
    // A reset run starts with its base run's started event.
    let is_reset_run = started_attributes.original_execution_run_id != info.run_id;
    WorkflowExecutionExtendedInfo {
        execution_expiration_time: info.execution_expiration_time,
        run_expiration_time: Some(run_expiration(info).map_or_else(go_zero_time, timestamp_from_nanos)),
        cancel_requested: info.cancel_requested,
        last_reset_time: if is_reset_run { info.start_time } else { None },
        original_start_time: started.event_time,
        reset_run_id: info.reset_run_id.clone(),
        request_id_infos: request_id_infos(info),
        ..Default::default()
    }
}

/// Temporal reports a run without a run timeout as expiring at Go's zero
/// time (0001-01-01T00:00:00Z), not as never expiring.
fn go_zero_time() -> Timestamp {
    const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;
    Timestamp { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 }
}

/// The request that created the run, and the event it wrote.
fn request_id_infos(info: &ExecutionInfo) -> HashMap<String, RequestIdInfo> {
    let started = RequestIdInfo { event_type: EventType::WorkflowExecutionStarted as i32, event_id: 1, buffered: false };
    (!info.create_request_id.is_empty()).then(|| (info.create_request_id.clone(), started)).into_iter().collect()
}

fn pending_activity(activity: &ActivityInfo) -> PendingActivityInfo {
    let state = if activity.cancel_requested {
        PendingActivityState::CancelRequested
    } else if activity.started_time.is_some() {
        PendingActivityState::Started
    } else {
        PendingActivityState::Scheduled
    };
    let expiration_time = activity_expiration(activity).map(timestamp_from_nanos);
    let next_attempt_schedule_time = if activity.backing_off { activity.scheduled_time } else { None };
    PendingActivityInfo {
        activity_id: activity.activity_id.clone(),
        activity_type: activity.activity_type.clone(),
        state: state as i32,
        heartbeat_details: activity.heartbeat_details.clone(),
        last_heartbeat_time: activity.last_heartbeat_time,
        last_started_time: activity.started_time,
        attempt: activity.attempt,
        maximum_attempts: activity.retry_policy.as_ref().map(|p| p.maximum_attempts).unwrap_or_default(),
        scheduled_time: activity.scheduled_time,
        expiration_time,
        last_failure: activity.last_failure.clone(),
        last_worker_identity: activity.last_worker_identity.clone(),
        current_retry_interval: next_attempt_schedule_time.as_ref().and_then(|next| retry_interval(activity, next)),
        last_attempt_complete_time: activity.last_attempt_complete_time,
        next_attempt_schedule_time,
        priority: activity.priority.clone(),
        activity_options: Some(activity_options(activity)),
        ..Default::default()
    }
}

/// How long the activity waits between its last failed attempt and the next.
fn retry_interval(activity: &ActivityInfo, next_attempt: &Timestamp) -> Option<prost_types::Duration> {
    let failed = activity.last_attempt_complete_time.as_ref()?;
    explicit_duration(timestamp_nanos(next_attempt) - timestamp_nanos(failed))
}

/// The options the activity runs with, every timeout shown (zero when
/// unbounded) and the retry policy without its non-retryable error types,
/// as Temporal shows them.
fn activity_options(activity: &ActivityInfo) -> ActivityOptions {
    let shown = |timeout: Option<&prost_types::Duration>| explicit_duration(duration_nanos(timeout));
    let policy = activity.retry_policy.clone().unwrap_or_default();
    ActivityOptions {
        task_queue: Some(TaskQueue { name: activity.task_queue.clone(), kind: 0, normal_name: activity.task_queue.clone() }),
        schedule_to_close_timeout: shown(activity.schedule_to_close_timeout.as_ref()),
        schedule_to_start_timeout: shown(activity.schedule_to_start_timeout.as_ref()),
        start_to_close_timeout: shown(activity.start_to_close_timeout.as_ref()),
        heartbeat_timeout: shown(activity.heartbeat_timeout.as_ref()),
        retry_policy: Some(RetryPolicy {
            initial_interval: policy.initial_interval,
            backoff_coefficient: policy.backoff_coefficient,
            maximum_interval: policy.maximum_interval,
            maximum_attempts: policy.maximum_attempts,
            non_retryable_error_types: Vec::new(),
        }),
        priority: activity.priority.clone(),
        start_delay: None,
    }
}

fn pending_child(child: &ChildExecutionInfo) -> PendingChildExecutionInfo {
    PendingChildExecutionInfo {
        workflow_id: child.workflow_id.clone(),
        run_id: child.started_run_id.clone(),
        workflow_type_name: child.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        initiated_id: child.initiated_event_id,
        parent_close_policy: child.parent_close_policy,
    }
}

fn pending_workflow_task(task: &WorkflowTaskInfo) -> PendingWorkflowTaskInfo {
    let started = task.started_event_id != 0;
    PendingWorkflowTaskInfo {
        state: if started { PendingWorkflowTaskState::Started } else { PendingWorkflowTaskState::Scheduled } as i32,
        scheduled_time: task.scheduled_time,
        original_scheduled_time: task.scheduled_time,
        started_time: task.started_time,
        attempt: task.attempt,
    }
}
