//! StartChildWorkflowExecution: records the initiated event and sends the
//! child's start to the child's shard; the outcome comes back as a command
//! (see `children`).

// The command's `namespace` and `inherit_build_id` are deprecated in the API,
// yet SDKs still send them and Temporal still records them.
#![allow(deprecated)]

use temper_proto::api::command::v1::StartChildWorkflowExecutionCommandAttributes;
use temper_proto::api::enums::v1::{ParentClosePolicy, TaskQueueKind, WorkflowTaskFailedCause};
use temper_proto::api::history::v1::StartChildWorkflowExecutionInitiatedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use temper_proto::records::command_record::Command;
use temper_proto::records::{ChildExecutionInfo, StartChildWorkflow};

use super::{CommandContext, NewRunOptions, check_new_run_options, new_run_options, record_new_run_fields, WorkflowTaskFailure, check_id};
use crate::state_machine::derived_ids::{child_run_id, request_id};
use crate::state_machine::history::RunMutation;
use crate::state_machine::new_run::normalized_timeouts;
use crate::time::duration_nanos;

const CAUSE: WorkflowTaskFailedCause = WorkflowTaskFailedCause::BadStartChildExecutionAttributes;
const WHAT: &str = "StartChildWorkflowExecutionCommandAttributes";

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &StartChildWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    validate(mutation, attributes, context)?;
    let command = normalized(mutation, attributes.clone(), context);
    let initiated_event_id = mutation.add_event(Attributes::from(StartChildWorkflowExecutionInitiatedEventAttributes {
        namespace: command.namespace.clone(),
        namespace_id: mutation.info().namespace_id.clone(),
        workflow_id: command.workflow_id.clone(),
        workflow_type: command.workflow_type.clone(),
        task_queue: command.task_queue.clone(),
        input: command.input.clone(),
        workflow_execution_timeout: command.workflow_execution_timeout,
        workflow_run_timeout: command.workflow_run_timeout,
        workflow_task_timeout: command.workflow_task_timeout,
        parent_close_policy: command.parent_close_policy,
        control: command.control.clone(),
        workflow_task_completed_event_id: context.completed_event_id,
        workflow_id_reuse_policy: command.workflow_id_reuse_policy,
        retry_policy: command.retry_policy.clone(),
        cron_schedule: command.cron_schedule.clone(),
        header: command.header.clone(),
        memo: command.memo.clone(),
        search_attributes: command.search_attributes.clone(),
        inherit_build_id: command.inherit_build_id,
        priority: command.priority.clone(),
        ..Default::default()
    }));
    mutation.state.children.insert(
        initiated_event_id,
        ChildExecutionInfo {
            initiated_event_id,
            workflow_task_completed_event_id: context.completed_event_id,
            namespace: command.namespace.clone(),
            workflow_id: command.workflow_id.clone(),
            workflow_type: command.workflow_type.clone(),
            parent_close_policy: command.parent_close_policy,
            started_run_id: String::new(),
            started_event_id: 0,
            control: command.control.clone(),
        },
    );
    let run_id = mutation.info().run_id.clone();
    let start = StartChildWorkflow {
        request: Some(StartWorkflowExecutionRequest {
            namespace: command.namespace.clone(),
            workflow_id: command.workflow_id.clone(),
            workflow_type: command.workflow_type,
            task_queue: command.task_queue,
            input: command.input,
            workflow_execution_timeout: command.workflow_execution_timeout,
            workflow_run_timeout: command.workflow_run_timeout,
            workflow_task_timeout: command.workflow_task_timeout,
            request_id: request_id(&run_id, initiated_event_id),
            workflow_id_reuse_policy: command.workflow_id_reuse_policy,
            retry_policy: command.retry_policy,
            cron_schedule: command.cron_schedule,
            memo: command.memo,
            search_attributes: command.search_attributes,
            header: command.header,
            priority: command.priority,
            ..Default::default()
        }),
        run_id: child_run_id(&run_id, initiated_event_id),
        namespace_retention: mutation.info().retention,
        parent: Some(mutation.as_parent(&command.namespace, initiated_event_id)),
    };
    mutation.send_command(&command.workflow_id, Command::StartChildWorkflow(start), Some(initiated_event_id));
    Ok(initiated_event_id)
}

/// The command as Temporal records it: namespace, task queue and parent
/// close policy filled in, run and task timeouts capped.
fn normalized(
    mutation: &RunMutation,
    mut command: StartChildWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> StartChildWorkflowExecutionCommandAttributes {
    if command.namespace.is_empty() {
        command.namespace = context.namespace.clone();
    }
    let queue = command.task_queue.take().map(|queue| queue.name).filter(|name| !name.is_empty());
    command.task_queue = Some(TaskQueue {
        name: queue.unwrap_or_else(|| mutation.info().task_queue.clone()),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    });
    if command.parent_close_policy() == ParentClosePolicy::Unspecified {
        command.parent_close_policy = ParentClosePolicy::Terminate as i32;
    }
    record_new_run_fields!(command, normalized_timeouts(
        duration_nanos(command.workflow_execution_timeout.as_ref()),
        duration_nanos(command.workflow_run_timeout.as_ref()),
        duration_nanos(command.workflow_task_timeout.as_ref()),
        mutation.clock.config,
    ))
}

fn validate(
    mutation: &RunMutation,
    attributes: &StartChildWorkflowExecutionCommandAttributes,
    context: &CommandContext,
) -> Result<(), WorkflowTaskFailure> {
    let bad = |message: String| WorkflowTaskFailure::new(CAUSE, message);
    check_id(&attributes.workflow_id, "WorkflowId", context, CAUSE)?;
    check_id(attributes.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default(), "WorkflowType", context, CAUSE)?;
    if !attributes.namespace.is_empty() && attributes.namespace != context.namespace {
        return Err(bad(format!(
            "cross namespace commands are not allowed: start the child in {1}, not {0}",
            attributes.namespace, context.namespace
        )));
    }
    if let Some(name) = attributes.task_queue.as_ref().map(|q| q.name.as_str()).filter(|name| !name.is_empty()) {
        check_id(name, "TaskQueue", context, CAUSE)?;
    }
    let options = new_run_options!(attributes, WHAT, CAUSE, &[
            (attributes.workflow_execution_timeout.as_ref(), "WorkflowExecutionTimeout"),
            (attributes.workflow_run_timeout.as_ref(), "WorkflowRunTimeout"),
            (attributes.workflow_task_timeout.as_ref(), "WorkflowTaskTimeout"),
        ]);
    check_new_run_options(mutation, &options, context)
}
