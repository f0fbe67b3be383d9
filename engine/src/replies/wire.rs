//! Replies and run progress as they travel between processes
//! (`temper.v1.Cluster`): the engine's types to and from the protobuf, losing
//! nothing, so a gateway in another process answers exactly as one sharing
//! the engine's process would.

use temper_proto::records::command_failure::Kind;
use temper_proto::records::command_reply::Outcome;
use temper_proto::records::{
    AcceptedReply, ActivityTaskStartedReply, CommandFailure, CommandReply, HeartbeatReply, RunProgressEntry, StartedEagerlyReply, StartedReply, UpdateAdmittedReply,
    WorkflowTaskCompletedReply, WorkflowTaskStartedReply,
};

use super::CommandResult;
use crate::notify::RunProgress;
use crate::state_machine::CommandError;
use crate::state_machine::commands::{ActivityTaskStarted, Reply, WorkflowTaskStarted};
use crate::store::RunKey;

/// A reply that cannot be one of the engine's: sent by a newer or broken peer.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("reply to request {request} carries no outcome")]
    NoOutcome { request: u64 },
    #[error("reply to request {request} carries unknown failure kind {kind}")]
    UnknownFailureKind { request: u64, kind: i32 },
}

pub fn encode_reply(request: u64, result: CommandResult) -> CommandReply {
    let outcome = match result {
        Ok(reply) => encode_outcome(reply),
        Err(error) => Outcome::Failure(encode_error(error)),
    };
    CommandReply { request, outcome: Some(outcome) }
}

/// The request a reply is for, and its outcome.
pub fn decode_reply(reply: CommandReply) -> Result<(u64, CommandResult), WireError> {
    let request = reply.request;
    let result = match reply.outcome.ok_or(WireError::NoOutcome { request })? {
        Outcome::Failure(failure) => {
            let kind = failure.kind;
            Err(decode_error(failure).ok_or(WireError::UnknownFailureKind { request, kind })?)
        }
        outcome => Ok(decode_outcome(outcome)),
    };
    Ok((request, result))
}

pub fn encode_progress(run: &RunKey, progress: RunProgress) -> RunProgressEntry {
    RunProgressEntry {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        next_event_id: progress.next_event_id,
        closed: progress.closed,
        state_transitions: progress.state_transitions,
    }
}

pub fn decode_progress(entry: RunProgressEntry) -> (RunKey, RunProgress) {
    let run = RunKey { namespace_id: entry.namespace_id, workflow_id: entry.workflow_id, run_id: entry.run_id };
    (run, RunProgress { next_event_id: entry.next_event_id, closed: entry.closed, state_transitions: entry.state_transitions })
}

fn encode_outcome(reply: Reply) -> Outcome {
    match reply {
        Reply::Started { run_id, started } => Outcome::Started(StartedReply { run_id, started }),
        Reply::Accepted => Outcome::Accepted(AcceptedReply {}),
        Reply::WorkflowTaskStarted(task) => Outcome::WorkflowTaskStarted(encode_workflow_task(task)),
        Reply::WorkflowTaskCompleted { new_task, reset_history_event_id, activity_tasks } => {
            Outcome::WorkflowTaskCompleted(WorkflowTaskCompletedReply {
                new_task: new_task.map(encode_workflow_task),
                reset_history_event_id,
                activity_tasks: activity_tasks.into_iter().map(encode_activity_task).collect(),
            })
        }
        Reply::ActivityTaskStarted(task) => Outcome::ActivityTaskStarted(encode_activity_task(task)),
        Reply::Heartbeat { cancel_requested } => Outcome::Heartbeat(HeartbeatReply { cancel_requested }),
        Reply::UpdateAdmitted { run_id, started } => Outcome::UpdateAdmitted(UpdateAdmittedReply { run_id, started }),
        Reply::StartedEagerly { run_id, task } => {
            Outcome::StartedEagerly(StartedEagerlyReply { run_id, task: Some(encode_workflow_task(*task)) })
        }
    }
}

/// Every outcome but a failure.
fn decode_outcome(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Started(StartedReply { run_id, started }) => Reply::Started { run_id, started },
        Outcome::Accepted(AcceptedReply {}) => Reply::Accepted,
        Outcome::WorkflowTaskStarted(task) => Reply::WorkflowTaskStarted(decode_workflow_task(task)),
        Outcome::WorkflowTaskCompleted(WorkflowTaskCompletedReply { new_task, reset_history_event_id, activity_tasks }) => {
            Reply::WorkflowTaskCompleted {
                new_task: new_task.map(decode_workflow_task),
                reset_history_event_id,
                activity_tasks: activity_tasks.into_iter().map(decode_activity_task).collect(),
            }
        }
        Outcome::ActivityTaskStarted(task) => Reply::ActivityTaskStarted(decode_activity_task(task)),
        Outcome::Heartbeat(HeartbeatReply { cancel_requested }) => Reply::Heartbeat { cancel_requested },
        Outcome::UpdateAdmitted(UpdateAdmittedReply { run_id, started }) => Reply::UpdateAdmitted { run_id, started },
        Outcome::StartedEagerly(StartedEagerlyReply { run_id, task }) => {
            Reply::StartedEagerly { run_id, task: Box::new(decode_workflow_task(task.unwrap_or_default())) }
        }
        Outcome::Failure(_) => unreachable!("decode_reply takes failures apart"),
    }
}

/// Converts between an engine struct and its wire message, which have the
/// same fields: each listed once, and the struct literals make sure none is
/// missed on either side. `wrapped` fields are a message the engine always
/// has, optional on the wire as every message field is.
macro_rules! mirrored {
    ($encode:ident, $decode:ident: $engine:ident <-> $wire:ident { $($field:ident),* $(,)? } wrapped { $($wrapped:ident),* }) => {
        fn $encode(value: $engine) -> $wire {
            $wire { $($field: value.$field,)* $($wrapped: Some(value.$wrapped),)* }
        }

        fn $decode(value: $wire) -> $engine {
            $engine { $($field: value.$field,)* $($wrapped: value.$wrapped.unwrap_or_default(),)* }
        }
    };
}

mirrored!(encode_workflow_task, decode_workflow_task: WorkflowTaskStarted <-> WorkflowTaskStartedReply {
    scheduled_event_id,
    started_event_id,
    attempt,
    scheduled_time_nanos,
    started_time_nanos,
    previous_started_event_id,
    sticky,
    transient_events,
    history_end_event_id,
    run_id,
    workflow_type,
    task_queue,
    messages,
} wrapped {});

mirrored!(encode_activity_task, decode_activity_task: ActivityTaskStarted <-> ActivityTaskStartedReply {
    scheduled_event_id,
    attempt,
    activity_id,
    first_scheduled_time_nanos,
    current_attempt_scheduled_time_nanos,
    started_time_nanos,
    heartbeat_details,
    workflow_type,
} wrapped { activity_info });

fn encode_error(error: CommandError) -> CommandFailure {
    let failure = |kind: Kind| CommandFailure { kind: kind as i32, ..Default::default() };
    let with_message = |kind: Kind, message: String| CommandFailure { message, ..failure(kind) };
    match error {
        CommandError::WorkflowNotFound { workflow_id, run_id } => {
            CommandFailure { workflow_id, run_id, ..failure(Kind::WorkflowNotFound) }
        }
        CommandError::WorkflowCompleted => failure(Kind::WorkflowCompleted),
        CommandError::WorkflowAlreadyStarted { message, start_request_id, run_id } => {
            CommandFailure { start_request_id, run_id, ..with_message(Kind::WorkflowAlreadyStarted, message) }
        }
        CommandError::WorkflowTaskNotFound => failure(Kind::WorkflowTaskNotFound),
        CommandError::ActivityTaskNotFound => failure(Kind::ActivityTaskNotFound),
        CommandError::TaskAlreadyStarted => failure(Kind::TaskAlreadyStarted),
        CommandError::InvalidArgument(message) => with_message(Kind::InvalidArgument, message),
        CommandError::Unimplemented(message) => with_message(Kind::Unimplemented, message),
        CommandError::Unavailable(message) => with_message(Kind::Unavailable, message),
        CommandError::Internal(message) => with_message(Kind::Internal, message),
        CommandError::NotFound(message) => with_message(Kind::NotFound, message),
        CommandError::FailedPrecondition(message) => with_message(Kind::FailedPrecondition, message),
    }
}

/// `None` for a kind this build does not know.
fn decode_error(failure: CommandFailure) -> Option<CommandError> {
    let CommandFailure { kind, message, start_request_id, run_id, workflow_id } = failure;
    Some(match Kind::try_from(kind).ok()? {
        Kind::Unspecified => return None,
        Kind::WorkflowNotFound => CommandError::WorkflowNotFound { workflow_id, run_id },
        Kind::WorkflowCompleted => CommandError::WorkflowCompleted,
        Kind::WorkflowAlreadyStarted => CommandError::WorkflowAlreadyStarted { message, start_request_id, run_id },
        Kind::WorkflowTaskNotFound => CommandError::WorkflowTaskNotFound,
        Kind::ActivityTaskNotFound => CommandError::ActivityTaskNotFound,
        Kind::TaskAlreadyStarted => CommandError::TaskAlreadyStarted,
        Kind::InvalidArgument => CommandError::InvalidArgument(message),
        Kind::Unimplemented => CommandError::Unimplemented(message),
        Kind::Unavailable => CommandError::Unavailable(message),
        Kind::Internal => CommandError::Internal(message),
        Kind::NotFound => CommandError::NotFound(message),
        Kind::FailedPrecondition => CommandError::FailedPrecondition(message),
    })
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use temper_proto::api::common::v1::{ActivityType, Payload, Payloads, WorkflowType};
    use temper_proto::api::history::v1::HistoryEvent;
    use temper_proto::records::ActivityInfo;

    use super::*;

    /// Through the bytes a gateway receives, and back.
    fn round_trip(result: CommandResult) -> CommandResult {
        let bytes = encode_reply(42, result).encode_to_vec();
        let (request, decoded) = decode_reply(CommandReply::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(request, 42);
        decoded
    }

    fn assert_round_trips(result: CommandResult) {
        assert_eq!(round_trip(result.clone()), result);
    }

    fn payloads(data: &[u8]) -> Payloads {
        Payloads { payloads: vec![Payload { data: data.to_vec(), ..Default::default() }] }
    }

    fn workflow_task() -> WorkflowTaskStarted {
        WorkflowTaskStarted {
            scheduled_event_id: 5,
            started_event_id: 6,
            attempt: 2,
            scheduled_time_nanos: 1_000,
            started_time_nanos: 2_000,
            previous_started_event_id: 3,
            sticky: true,
            transient_events: vec![
                HistoryEvent { event_id: 5, event_type: 5, ..Default::default() },
                HistoryEvent { event_id: 6, event_type: 6, ..Default::default() },
            ],
            history_end_event_id: 5,
            run_id: "run".into(),
            workflow_type: Some(WorkflowType { name: "Hello".into() }),
            task_queue: "queue".into(),
            messages: vec![temper_proto::api::protocol::v1::Message {
                id: "u/request".into(),
                protocol_instance_id: "u".into(),
                ..Default::default()
            }],
        }
    }

    fn activity_task() -> ActivityTaskStarted {
        ActivityTaskStarted {
            scheduled_event_id: 9,
            attempt: 3,
            activity_id: "act".into(),
            first_scheduled_time_nanos: 10,
            current_attempt_scheduled_time_nanos: 20,
            started_time_nanos: 30,
            heartbeat_details: Some(payloads(b"progress")),
            activity_info: ActivityInfo {
                scheduled_event_id: 9,
                activity_id: "act".into(),
                activity_type: Some(ActivityType { name: "say_hello".into() }),
                attempt: 3,
                heartbeat_details: Some(payloads(b"progress")),
                started_identity: "worker".into(),
                ..Default::default()
            },
            workflow_type: Some(WorkflowType { name: "Hello".into() }),
        }
    }

    #[test]
    fn every_reply_round_trips() {
        for reply in [
            Reply::Started { run_id: "run".into(), started: true },
            Reply::Started { run_id: "run".into(), started: false },
            Reply::Accepted,
            Reply::WorkflowTaskStarted(workflow_task()),
            Reply::WorkflowTaskStarted(WorkflowTaskStarted::default()),
            Reply::WorkflowTaskCompleted { new_task: None, reset_history_event_id: 0, activity_tasks: vec![] },
            Reply::WorkflowTaskCompleted {
                new_task: Some(workflow_task()),
                reset_history_event_id: 12,
                activity_tasks: vec![activity_task()],
            },
            Reply::ActivityTaskStarted(activity_task()),
            Reply::ActivityTaskStarted(ActivityTaskStarted { heartbeat_details: None, workflow_type: None, ..activity_task() }),
            Reply::Heartbeat { cancel_requested: true },
            Reply::Heartbeat { cancel_requested: false },
        ] {
            assert_round_trips(Ok(reply));
        }
    }

    #[test]
    fn every_error_round_trips() {
        for error in [
            CommandError::WorkflowNotFound { workflow_id: "wf".into(), run_id: String::new() },
            CommandError::WorkflowNotFound { workflow_id: "wf".into(), run_id: "run".into() },
            CommandError::WorkflowCompleted,
            CommandError::WorkflowAlreadyStarted { message: "already".into(), start_request_id: "req".into(), run_id: "run".into() },
            CommandError::WorkflowTaskNotFound,
            CommandError::ActivityTaskNotFound,
            CommandError::TaskAlreadyStarted,
            CommandError::InvalidArgument("bad".into()),
            CommandError::Unimplemented("later".into()),
            CommandError::Unavailable("retry".into()),
            CommandError::NotFound("schedule not found".into()),
            CommandError::FailedPrecondition("mismatched conflict token".into()),
            CommandError::Internal("bug".into()),
        ] {
            assert_round_trips(Err(error));
        }
    }

    #[test]
    fn progress_round_trips() {
        let run = RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() };
        let progress = RunProgress { next_event_id: 12, closed: true, state_transitions: 7 };
        let bytes = encode_progress(&run, progress).encode_to_vec();
        assert_eq!(decode_progress(RunProgressEntry::decode(bytes.as_slice()).unwrap()), (run, progress));
    }

    #[test]
    fn a_reply_this_build_cannot_read_is_an_error() {
        assert_eq!(decode_reply(CommandReply { request: 7, outcome: None }), Err(WireError::NoOutcome { request: 7 }));
        let unknown = CommandFailure { kind: 99, ..Default::default() };
        assert_eq!(
            decode_reply(CommandReply { request: 7, outcome: Some(Outcome::Failure(unknown)) }),
            Err(WireError::UnknownFailureKind { request: 7, kind: 99 })
        );
        let unspecified = CommandFailure::default();
        assert_eq!(
            decode_reply(CommandReply { request: 7, outcome: Some(Outcome::Failure(unspecified)) }),
            Err(WireError::UnknownFailureKind { request: 7, kind: 0 })
        );
    }
}
