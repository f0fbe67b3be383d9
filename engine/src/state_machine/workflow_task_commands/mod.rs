//! The commands a worker sends when it completes a workflow task, one module
//! each. A command the workflow got wrong fails the whole workflow task: the
//! caller then discards every change the earlier commands made.

mod cancel_timer;
mod cancel_workflow;
mod complete_workflow;
mod continue_as_new;
mod fail_workflow;
mod record_marker;
mod request_cancel_activity;
mod schedule_activity;
mod signal_external;
mod start_child_workflow;
mod start_timer;
mod upsert_search_attributes;

use prost::Message;
use temper_proto::api::command::v1::Command;
use temper_proto::api::command::v1::command::Attributes;
use temper_proto::api::enums::v1::{CommandType, WorkflowExecutionStatus, WorkflowTaskFailedCause};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::history::v1::history_event::Attributes as EventAttributes;

pub(super) use upsert_search_attributes::{recorded_memo, recorded_search_attributes, upsert_memo_of, upsert_search_attributes_of};

use super::history::RunMutation;
use super::updates::UpdateMessage;
use temper_proto::api::protocol::v1::Message as ProtocolMessage;
use super::successor::Successor;

/// Why a workflow task completion is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowTaskFailure {
    pub cause: WorkflowTaskFailedCause,
    pub message: String,
    /// Too large to keep: Temporal terminates the run instead of retrying.
    pub terminate: bool,
}

impl WorkflowTaskFailure {
    pub(super) fn new(cause: WorkflowTaskFailedCause, message: impl Into<String>) -> Self {
        WorkflowTaskFailure { cause, message: message.into(), terminate: false }
    }

    fn terminating(cause: WorkflowTaskFailedCause, message: impl Into<String>) -> Self {
        WorkflowTaskFailure { cause, message: message.into(), terminate: true }
    }

    fn unhandled_events() -> Self {
        WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::UnhandledCommand,
            "new events arrived while the workflow task ran; the workflow must see them before it closes",
        )
    }
}

/// What the commands of one completion did, beyond their events.
#[derive(Default)]
pub(super) struct CommandsOutcome {
    /// A not-yet-started activity was cancelled at once: the workflow has a
    /// new event to react to.
    pub activity_cancelled_before_start: bool,
    /// Activities started for the completing worker itself (eager activity
    /// dispatch), returned with the completion's reply.
    pub eager_activities: Vec<super::activity::ActivityTaskStarted>,
}

/// Context every command handler needs.
pub(super) struct CommandContext {
    pub completed_event_id: i64,
    /// The workflow's namespace, by name (as the worker's request names it).
    pub namespace: String,
    /// Events arrived while the task ran, so the workflow may not close yet.
    pub had_buffered_events: bool,
    pub identity: String,
    pub max_payload_bytes: usize,
    pub max_id_length: usize,
    pub max_failure_depth: usize,
    /// The namespace's custom search attributes, as the gateway passed them
    /// with the completion; `None` checks no search attribute's name or type.
    pub search_attribute_types: Option<std::collections::HashMap<String, i32>>,
}

/// Refuses search attributes the namespace does not define or values not of
/// their attribute's type, as Temporal does (`BAD_SEARCH_ATTRIBUTES`). A
/// command that starts a run (`what` names its attributes) has the checks
/// of values prefixed with it, as in Temporal's messages.
fn check_search_attributes(
    attributes: Option<&temper_proto::api::common::v1::SearchAttributes>,
    context: &CommandContext,
    what: &str,
) -> Result<(), WorkflowTaskFailure> {
    use crate::search_attributes::{check_defined, check_values};
    let Some(types) = &context.search_attribute_types else {
        return Ok(());
    };
    let bad = |message| WorkflowTaskFailure::new(WorkflowTaskFailedCause::BadSearchAttributes, message);
    check_defined(attributes, &context.namespace, types).map_err(bad)?;
    check_values(attributes, &context.namespace, types).map_err(|message| match what.strip_suffix("Attributes") {
        Some(command) => bad(format!("invalid SearchAttributes on {command}: {message}")),
        None => bad(message),
    })
}

/// Rejects sequences Temporal rejects outright: a command after the one that
/// closes the workflow.
pub(super) fn validate_sequence(commands: &[Command]) -> Result<(), String> {
    let closing = commands.iter().position(closes_workflow);
    match closing {
        Some(index) if index + 1 < commands.len() => Err(format!(
            "invalid command sequence: {} must be the last command, but {} more follow it",
            command_name(commands[index].command_type()),
            commands.len() - index - 1
        )),
        _ => Ok(()),
    }
}

/// Whether a command closes the workflow. Commands are handled by their
/// attributes, so a closing command sent under another type closes it too.
fn closes_workflow(command: &Command) -> bool {
    let closing_type = matches!(
        command.command_type(),
        CommandType::CompleteWorkflowExecution
            | CommandType::FailWorkflowExecution
            | CommandType::CancelWorkflowExecution
            | CommandType::ContinueAsNewWorkflowExecution
    );
    let closing_attributes = matches!(
        command.attributes,
        Some(
            Attributes::CompleteWorkflowExecutionCommandAttributes(_)
                | Attributes::FailWorkflowExecutionCommandAttributes(_)
                | Attributes::CancelWorkflowExecutionCommandAttributes(_)
                | Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(_)
        )
    );
    closing_type || closing_attributes
}

/// Applies the commands in order, and the protocol messages: each where a
/// ProtocolMessage command places it, the rest after the commands, as
/// Temporal does. Updates the worker got and did not answer are rejected.
pub(super) fn handle_commands(
    mutation: &mut RunMutation,
    commands: &[Command],
    messages: &[ProtocolMessage],
    context: &CommandContext,
) -> Result<CommandsOutcome, WorkflowTaskFailure> {
    let mut outcome = CommandsOutcome::default();
    let mut unhandled: Vec<&ProtocolMessage> = messages.iter().collect();
    for command in commands {
        let event_id = match &command.attributes {
            Some(Attributes::ProtocolMessageCommandAttributes(a)) => handle_message(mutation, take_message(&mut unhandled, &a.message_id)?)?,
            _ => handle_command(mutation, command, context, &mut outcome)?,
        };
        if event_id > 0 && command.user_metadata.is_some() {
            mutation.set_user_metadata(event_id, command.user_metadata.clone());
        }
    }
    for message in unhandled {
        handle_message(mutation, message)?;
    }
    if mutation.is_running() {
        mutation.reject_unanswered_updates();
    } else {
        // The workflow closed: its activities went with it.
        outcome.eager_activities.clear();
    }
    Ok(outcome)
}

fn take_message<'m>(unhandled: &mut Vec<&'m ProtocolMessage>, message_id: &str) -> Result<&'m ProtocolMessage, WorkflowTaskFailure> {
    let index = unhandled.iter().position(|message| message.id == message_id).ok_or_else(|| {
        WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
            format!("ProtocolMessageCommand names message {message_id:?}, which the completion does not carry"),
        )
    })?;
    Ok(unhandled.remove(index))
}

/// Applies a worker's message about an update. Messages about a run that
/// closed in this same completion are moot: its updates failed as it closed.
fn handle_message(mutation: &mut RunMutation, message: &ProtocolMessage) -> Result<i64, WorkflowTaskFailure> {
    let body = UpdateMessage::decode(message)?;
    if !mutation.is_running() {
        return Ok(0);
    }
    mutation.apply_update_message(message, body)
}

/// Whether a completion only rejects updates: a speculative task that
/// did nothing else leaves no trace in history.
pub(super) fn only_rejects_updates(commands: &[Command], messages: &[ProtocolMessage]) -> bool {
    commands.is_empty()
        && messages.iter().all(|message| UpdateMessage::decode(message).is_ok_and(|body| body.is_rejection()))
}

/// Applies one command; returns the id of the event it wrote (0 if none).
fn handle_command(
    mutation: &mut RunMutation,
    command: &Command,
    context: &CommandContext,
    outcome: &mut CommandsOutcome,
) -> Result<i64, WorkflowTaskFailure> {
    let command_type = command.command_type();
    match &command.attributes {
        Some(Attributes::ScheduleActivityTaskCommandAttributes(a)) => schedule_activity::handle(mutation, a, context, outcome),
        Some(Attributes::RequestCancelActivityTaskCommandAttributes(a)) => {
            request_cancel_activity::handle(mutation, a, context, outcome)
        }
        Some(Attributes::StartTimerCommandAttributes(a)) => start_timer::handle(mutation, a, context),
        Some(Attributes::CancelTimerCommandAttributes(a)) => cancel_timer::handle(mutation, a, context),
        Some(Attributes::CompleteWorkflowExecutionCommandAttributes(a)) => complete_workflow::handle(mutation, a, context),
        Some(Attributes::FailWorkflowExecutionCommandAttributes(a)) => fail_workflow::handle(mutation, a, context),
        Some(Attributes::CancelWorkflowExecutionCommandAttributes(a)) => cancel_workflow::handle(mutation, a, context),
        Some(Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => continue_as_new::handle(mutation, a, context),
        Some(Attributes::StartChildWorkflowExecutionCommandAttributes(a)) => start_child_workflow::handle(mutation, a, context),
        Some(Attributes::SignalExternalWorkflowExecutionCommandAttributes(a)) => signal_external::signal(mutation, a, context),
        Some(Attributes::RequestCancelExternalWorkflowExecutionCommandAttributes(a)) => {
            signal_external::request_cancel(mutation, a, context)
        }
        Some(Attributes::RecordMarkerCommandAttributes(a)) => record_marker::handle(mutation, a, context),
        Some(Attributes::UpsertWorkflowSearchAttributesCommandAttributes(a)) => {
            upsert_search_attributes::upsert_search_attributes(mutation, a, context)
        }
        Some(Attributes::ModifyWorkflowPropertiesCommandAttributes(a)) => {
            upsert_search_attributes::modify_workflow_properties(mutation, a, context)
        }
        None => Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::Unspecified,
            format!("{} command has no attributes", command_name(command_type)),
        )),
        Some(_) => Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::Unspecified,
            format!("{} is not supported by Temper yet", command_name(command_type)),
        )),
    }
}

/// The command type Temporal pairs with each kind of attributes.
pub fn command_type_of(attributes: &Attributes) -> CommandType {
    match attributes {
        Attributes::ScheduleActivityTaskCommandAttributes(_) => CommandType::ScheduleActivityTask,
        Attributes::RequestCancelActivityTaskCommandAttributes(_) => CommandType::RequestCancelActivityTask,
        Attributes::StartTimerCommandAttributes(_) => CommandType::StartTimer,
        Attributes::CancelTimerCommandAttributes(_) => CommandType::CancelTimer,
        Attributes::CompleteWorkflowExecutionCommandAttributes(_) => CommandType::CompleteWorkflowExecution,
        Attributes::FailWorkflowExecutionCommandAttributes(_) => CommandType::FailWorkflowExecution,
        Attributes::CancelWorkflowExecutionCommandAttributes(_) => CommandType::CancelWorkflowExecution,
        Attributes::RecordMarkerCommandAttributes(_) => CommandType::RecordMarker,
        Attributes::UpsertWorkflowSearchAttributesCommandAttributes(_) => CommandType::UpsertWorkflowSearchAttributes,
        Attributes::ModifyWorkflowPropertiesCommandAttributes(_) => CommandType::ModifyWorkflowProperties,
        Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(_) => CommandType::ContinueAsNewWorkflowExecution,
        Attributes::StartChildWorkflowExecutionCommandAttributes(_) => CommandType::StartChildWorkflowExecution,
        Attributes::SignalExternalWorkflowExecutionCommandAttributes(_) => CommandType::SignalExternalWorkflowExecution,
        Attributes::RequestCancelExternalWorkflowExecutionCommandAttributes(_) => {
            CommandType::RequestCancelExternalWorkflowExecution
        }
        Attributes::ProtocolMessageCommandAttributes(_) => CommandType::ProtocolMessage,
        Attributes::ScheduleNexusOperationCommandAttributes(_) => CommandType::ScheduleNexusOperation,
        Attributes::RequestCancelNexusOperationCommandAttributes(_) => CommandType::RequestCancelNexusOperation,
    }
}

/// Temporal's name of a command type, for messages.
pub fn command_name(command_type: CommandType) -> &'static str {
    match command_type {
        CommandType::ScheduleActivityTask => "ScheduleActivityTask",
        CommandType::RequestCancelActivityTask => "RequestCancelActivityTask",
        CommandType::StartTimer => "StartTimer",
        CommandType::CompleteWorkflowExecution => "CompleteWorkflowExecution",
        CommandType::FailWorkflowExecution => "FailWorkflowExecution",
        CommandType::CancelTimer => "CancelTimer",
        CommandType::CancelWorkflowExecution => "CancelWorkflowExecution",
        CommandType::RequestCancelExternalWorkflowExecution => "RequestCancelExternalWorkflowExecution",
        CommandType::RecordMarker => "RecordMarker",
        CommandType::ContinueAsNewWorkflowExecution => "ContinueAsNewWorkflowExecution",
        CommandType::StartChildWorkflowExecution => "StartChildWorkflowExecution",
        CommandType::SignalExternalWorkflowExecution => "SignalExternalWorkflowExecution",
        CommandType::UpsertWorkflowSearchAttributes => "UpsertWorkflowSearchAttributes",
        CommandType::ProtocolMessage => "ProtocolMessage",
        CommandType::ModifyWorkflowProperties => "ModifyWorkflowProperties",
        CommandType::ScheduleNexusOperation => "ScheduleNexusOperation",
        CommandType::RequestCancelNexusOperation => "RequestCancelNexusOperation",
        _ => "an unknown command",
    }
}

/// Closes the run as the workflow asked, and starts its successor if it has
/// one. What the same completion held back (the cancellation of an activity
/// that never started) is dropped, as Temporal does: the workflow is done
/// with it, and nothing may follow the close event.
fn close_workflow(
    mutation: &mut RunMutation,
    attributes: EventAttributes,
    status: WorkflowExecutionStatus,
    successor: Option<Successor>,
) -> i64 {
    mutation.drop_events_held_back_in_this_transition();
    mutation.close_run_with(attributes, status, successor)
}

/// What a command that starts a run (a child, or the workflow's next run)
/// carries, for the checks both share.
pub(super) struct NewRunOptions<'a> {
    /// Names the command in messages ("StartChildWorkflowExecutionCommandAttributes").
    pub what: &'static str,
    pub cause: WorkflowTaskFailedCause,
    pub durations: &'a [(Option<&'a prost_types::Duration>, &'static str)],
    pub retry_policy: Option<&'a temper_proto::api::common::v1::RetryPolicy>,
    pub cron_schedule: &'a str,
    pub input: Option<&'a temper_proto::api::common::v1::Payloads>,
    pub header: Option<&'a temper_proto::api::common::v1::Header>,
    pub memo: Option<&'a temper_proto::api::common::v1::Memo>,
    pub search_attributes: Option<&'a temper_proto::api::common::v1::SearchAttributes>,
}

/// The [`NewRunOptions`] of a command that starts a run: both kinds of
/// command name these fields alike.
macro_rules! new_run_options {
    ($attributes:expr, $what:expr, $cause:expr, $durations:expr) => {
        NewRunOptions {
            what: $what,
            cause: $cause,
            durations: $durations,
            retry_policy: $attributes.retry_policy.as_ref(),
            cron_schedule: &$attributes.cron_schedule,
            input: $attributes.input.as_ref(),
            header: $attributes.header.as_ref(),
            memo: $attributes.memo.as_ref(),
            search_attributes: $attributes.search_attributes.as_ref(),
        }
    };
}
pub(super) use new_run_options;

/// Records on a command that starts a run what Temporal fills in: its
/// capped timeouts, and memo and search attributes without null values.
macro_rules! record_new_run_fields {
    ($command:ident, $timeouts:expr) => {{
        let (run_timeout, task_timeout) = $timeouts;
        $command.workflow_run_timeout = crate::time::explicit_duration(run_timeout);
        $command.workflow_task_timeout = crate::time::explicit_duration(task_timeout);
        $command.memo = super::recorded_memo($command.memo.take());
        $command.search_attributes = super::recorded_search_attributes($command.search_attributes.take());
        $command
    }};
}
pub(super) use record_new_run_fields;

/// Refuses negative durations, a bad retry policy or cron schedule, and
/// payloads over the limit, as Temporal does for a new run.
fn check_new_run_options(
    mutation: &RunMutation,
    options: &NewRunOptions,
    context: &CommandContext,
) -> Result<(), WorkflowTaskFailure> {
    let (what, cause) = (options.what, options.cause);
    let bad = |message: String| WorkflowTaskFailure::new(cause, message);
    if let Some((_, name)) = options.durations.iter().find(|(duration, _)| crate::time::is_negative(*duration)) {
        return Err(bad(format!("{what}.{name} is negative")));
    }
    if let Some(policy) = options.retry_policy {
        let policy = super::retry::with_defaults(Some(policy.clone()), &mutation.clock.config.workflow_retry);
        super::retry::validate(&policy).map_err(|message| bad(format!("{what}.RetryPolicy: {message}")))?;
    }
    if !options.cron_schedule.is_empty() {
        crate::cron::CronSchedule::parse(options.cron_schedule).map_err(|error| bad(error.to_string()))?;
    }
    check_size(options.input, context, cause, &format!("{what}.Input"))?;
    check_size(options.header, context, cause, &format!("{what}.Header"))?;
    check_size(options.memo, context, cause, &format!("{what}.Memo"))?;
    check_size(options.search_attributes, context, cause, &format!("{what}.SearchAttributes"))?;
    check_search_attributes(options.search_attributes, context, what)
}

/// Refuses an id or name that is missing or longer than Temporal's limit;
/// `what` names the field as Temporal's messages do ("ActivityId").
fn check_id(value: &str, what: &str, context: &CommandContext, cause: WorkflowTaskFailedCause) -> Result<(), WorkflowTaskFailure> {
    if value.is_empty() {
        return Err(WorkflowTaskFailure::new(cause, format!("{what} is not set on the command")));
    }
    if value.len() > context.max_id_length {
        return Err(WorkflowTaskFailure::new(
            cause,
            format!("{what} exceeds length limit: {} bytes, at most {}", value.len(), context.max_id_length),
        ));
    }
    Ok(())
}

/// Refuses a failure nested deeper than the limit (the workflow task fails:
/// a fixed workflow can send a shallower one), then checks its size.
fn check_failure(
    failure: Option<&Failure>,
    context: &CommandContext,
    cause: WorkflowTaskFailedCause,
    what: &str,
) -> Result<(), WorkflowTaskFailure> {
    let depth = super::failure_depth(failure);
    if depth > context.max_failure_depth {
        return Err(WorkflowTaskFailure::new(
            cause,
            format!("{what} is nested {depth} causes deep, more than the {} allowed", context.max_failure_depth),
        ));
    }
    check_size(failure, context, cause, what)
}

/// Refuses a payload over the size limit; Temporal terminates the run rather
/// than retrying a task that can never succeed.
fn check_size<M: Message>(
    payload: Option<&M>,
    context: &CommandContext,
    cause: WorkflowTaskFailedCause,
    what: &str,
) -> Result<(), WorkflowTaskFailure> {
    let size = payload.map(|p| p.encoded_len()).unwrap_or_default();
    if size > context.max_payload_bytes {
        return Err(WorkflowTaskFailure::terminating(
            cause,
            format!("{what} is {size} bytes, over the {} byte limit", context.max_payload_bytes),
        ));
    }
    Ok(())
}
