//! DescribeWorkflowExecution, read from the run's mutable state.

use temper_engine::state_machine::{activity_expiration, visibility_record};
use temper_engine::time::timestamp_from_nanos;
use temper_proto::api::common::v1::{WorkflowExecution, WorkflowType};
use temper_proto::api::enums::v1::{PendingActivityState, PendingWorkflowTaskState, TaskQueueKind};
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflow::v1::{
    PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo, WorkflowExecutionConfig,
    WorkflowExecutionInfo,
};
use temper_proto::api::workflowservice::v1::{DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse};
use temper_proto::records::{ActivityInfo, ChildExecutionInfo, VisibilityRecord, WorkflowMutableState, WorkflowTaskInfo};

use crate::errors::ApiResult;
use crate::gateway::Gateway;

pub async fn describe_workflow_execution(
    gateway: &Gateway,
    request: DescribeWorkflowExecutionRequest,
) -> ApiResult<DescribeWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let (_, state) = gateway.load_run(&namespace.id, request.execution.as_ref()).await?;
    Ok(describe(&state))
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

fn describe(state: &WorkflowMutableState) -> DescribeWorkflowExecutionResponse {
    let info = state.info.clone().unwrap_or_default();
    let summary = visibility_record(state);
    let mut activities: Vec<&ActivityInfo> = state.activities.values().collect();
    activities.sort_by_key(|activity| activity.scheduled_event_id);
    let mut children: Vec<&ChildExecutionInfo> = state.children.values().collect();
    children.sort_by_key(|child| child.initiated_event_id);
    DescribeWorkflowExecutionResponse {
        execution_config: Some(WorkflowExecutionConfig {
            task_queue: Some(TaskQueue { name: info.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
            workflow_execution_timeout: info.execution_timeout,
            workflow_run_timeout: info.run_timeout,
            default_workflow_task_timeout: info.workflow_task_timeout,
            user_metadata: None,
        }),
        workflow_execution_info: Some(WorkflowExecutionInfo {
            auto_reset_points: info.auto_reset_points.clone(),
            priority: info.priority.clone(),
            ..execution_info(&summary)
        }),
        pending_activities: activities.into_iter().map(pending_activity).collect(),
        pending_workflow_task: state.workflow_task.as_ref().map(pending_workflow_task),
        pending_children: children.into_iter().map(pending_child).collect(),
        ..Default::default()
    }
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
        next_attempt_schedule_time: if activity.backing_off { activity.scheduled_time } else { None },
        ..Default::default()
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
