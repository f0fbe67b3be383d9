//! RespondWorkflowTaskCompleted: applies the worker's commands. They are
//! applied to a copy of the state; if one is invalid the copy is dropped and
//! the task fails instead, so a bad command never leaves half its batch behind.

use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{Failure, ServerFailureInfo};
use temper_proto::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest;
use temper_proto::records::{CompleteWorkflowTask, WorkflowMutableState};

use super::terminate_workflow::SERVER_IDENTITY;
use super::{Applied, Reply, started_workflow_task};
use crate::state_machine::history::RunMutation;
use crate::state_machine::workflow_task_commands::{
    CommandContext, WorkflowTaskFailure, handle_commands, only_rejects_updates, validate_sequence,
};
use crate::state_machine::{Clock, CommandError};

/// The request id Temporal records for a workflow task started inline.
const INLINE_START_REQUEST_ID: &str = "request-from-RespondWorkflowTaskCompleted";

pub fn apply(state: &mut WorkflowMutableState, command: &CompleteWorkflowTask, clock: Clock<'_>) -> Result<Applied, CommandError> {
    let attempt = started_workflow_task(state, command.token.as_ref())?.attempt;
    let request = command.request.clone().unwrap_or_default();
    validate_sequence(&request.commands).map_err(CommandError::InvalidArgument)?;

    let search_attribute_types = command.search_attribute_types.as_ref().map(|types| types.custom.clone());
    let mut draft = state.clone();
    match complete(&mut draft, &request, search_attribute_types, clock) {
        Ok(applied) => {
            *state = draft;
            Ok(applied)
        }
        Err(failure) if attempt > 1 && failure.cause != WorkflowTaskFailedCause::UnhandledCommand => {
            // A transient attempt that keeps failing is dropped, as in
            // Temporal: it times out and is retried later.
            Err(CommandError::InvalidArgument(failure.message))
        }
        Err(failure) => Ok(fail_task(state, &request, failure, clock)),
    }
}

fn complete(
    state: &mut WorkflowMutableState,
    request: &RespondWorkflowTaskCompletedRequest,
    search_attribute_types: Option<std::collections::HashMap<String, i32>>,
    clock: Clock<'_>,
) -> Result<Applied, WorkflowTaskFailure> {
    let had_buffered_events = !state.buffered_events.is_empty();
    let leaves_no_trace = !had_buffered_events
        && !request.force_create_new_workflow_task
        && state.workflow_task.as_ref().is_some_and(|wft| wft.speculative && wft.transient)
        && only_rejects_updates(&request.commands, &request.messages);
    let mut mutation = RunMutation::new(state, clock);
    let completed_event_id = if leaves_no_trace {
        // A task scheduled for updates the worker only rejected: as in
        // Temporal, none of its events are written, and the reply tells the
        // worker to roll its cache back to the history as stored.
        mutation.state.workflow_task = None;
        0
    } else {
        let completed_event_id = mutation.record_workflow_task_completed(request);
        apply_sticky_attributes(&mut mutation, request);
        completed_event_id
    };
    let context = CommandContext {
        completed_event_id,
        namespace: request.namespace.clone(),
        had_buffered_events,
        identity: request.identity.clone(),
        max_payload_bytes: clock.config.max_payload_bytes,
        max_id_length: clock.config.max_id_length,
        max_failure_depth: clock.config.max_failure_depth,
        search_attribute_types,
    };
    let outcome = handle_commands(&mut mutation, &request.commands, &request.messages, &context)?;
    let needs_new_task = request.force_create_new_workflow_task
        || had_buffered_events
        || outcome.activity_cancelled_before_start
        || mutation.has_undelivered_updates();
    let mut new_task = None;
    if needs_new_task && mutation.add_scheduled_workflow_task() {
        if request.return_new_workflow_task {
            let mut started = mutation.start_workflow_task(INLINE_START_REQUEST_ID, &request.identity);
            // The worker asking for it holds the run in its cache, as in Temporal.
            started.sticky = true;
            new_task = Some(started);
        } else {
            mutation.dispatch_workflow_task();
        }
    }
    let reset_history_event_id =
        if leaves_no_trace { mutation.info().last_completed_workflow_task_started_event_id } else { 0 };
    let reply = Reply::WorkflowTaskCompleted { new_task, reset_history_event_id, activity_tasks: outcome.eager_activities };
    Ok(Applied { reply: Ok(reply), transition: mutation.finish() })
}

fn apply_sticky_attributes(mutation: &mut RunMutation, request: &RespondWorkflowTaskCompletedRequest) {
    let sticky = request.sticky_attributes.as_ref();
    match sticky.and_then(|s| s.worker_task_queue.as_ref()).filter(|queue| !queue.name.is_empty()) {
        Some(queue) => {
            let timeout = sticky.and_then(|s| s.schedule_to_start_timeout);
            let info = mutation.info_mut();
            info.sticky_task_queue = queue.name.clone();
            info.sticky_schedule_to_start_timeout = timeout;
        }
        None => mutation.clear_sticky_task_queue(),
    }
}

/// The completion was refused: the task fails (or, for payloads that can
/// never fit, the run is terminated) and the worker is told why.
fn fail_task(
    state: &mut WorkflowMutableState,
    request: &RespondWorkflowTaskCompletedRequest,
    failure: WorkflowTaskFailure,
    clock: Clock<'_>,
) -> Applied {
    let mut mutation = RunMutation::new(state, clock);
    #[allow(deprecated)]
    let binary_checksum = request.binary_checksum.clone();
    mutation.fail_workflow_task(failure.cause, Some(server_failure(&failure.message)), &request.identity, &binary_checksum);
    if failure.terminate {
        mutation.terminate_run(&failure.message, None, SERVER_IDENTITY);
    } else {
        mutation.schedule_workflow_task();
    }
    Applied { reply: Err(CommandError::InvalidArgument(failure.message)), transition: mutation.finish() }
}

fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        source: "Server".to_string(),
        failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo { non_retryable: false })),
        ..Default::default()
    }
}

