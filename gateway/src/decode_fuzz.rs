//! Property tests of what the gateway does with bytes a client controls:
//! task tokens and request messages, arbitrary or mutated from valid
//! encodings, are decoded and validated without a panic: held to the limits
//! every request is checked against, then to the checks their handlers add.
//!
//! The default case count keeps `cargo test --workspace` quick; set
//! `PROPTEST_CASES` for a longer search.

use prost::Message;
use proptest::prelude::*;
use proptest::sample::Index;
use temper_proto::api::command::v1::command::Attributes as CommandAttributes;
use temper_proto::api::command::v1::{Command, ScheduleActivityTaskCommandAttributes, StartTimerCommandAttributes};
use temper_proto::api::common::v1::{
    ActivityType, Header, Memo, Payload, Payloads, SearchAttributes, WorkflowExecution, WorkflowType,
};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::*;
use temper_proto::records::{TaskKind, TaskToken};

use crate::gateway::Limits;
use crate::service::bounds::Bounded;
use crate::tokens;
use crate::validation::{non_negative, optional_run_id, request_id_or_new, require_id};

const DEFAULT_CASES: u32 = 512;
/// Longer than the 65,535-byte keys the store accepts (issue 6, defect 1).
const HUGE_ID_CHARS: usize = 70_000;
/// prost refuses messages nested deeper than 100; chains around that depth
/// probe its limit and the stack of a debug build.
const DEEPEST_FAILURE: usize = 160;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_CASES);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

const KINDS: [TaskKind; 4] = [TaskKind::Unspecified, TaskKind::Workflow, TaskKind::Activity, TaskKind::Query];

/// Decodes a token as every RPC would; what `decode` accepts has ids and
/// the kind the RPC expects.
fn decode_token_as_every_kind(bytes: &[u8]) -> Result<(), TestCaseError> {
    for kind in KINDS {
        if let Ok(token) = tokens::decode(bytes, kind, &Limits::default()) {
            prop_assert_eq!(token.kind, kind as i32);
            prop_assert!(!token.namespace_id.is_empty() && !token.workflow_id.is_empty() && !token.run_id.is_empty());
        }
    }
    Ok(())
}

/// How a byte string is damaged; applied in order.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit { at: Index, bit: u8 },
    SetByte { at: Index, value: u8 },
    Truncate { at: Index },
    Insert { at: Index, bytes: Vec<u8> },
    Remove { at: Index, length: usize },
    /// Repeats a slice, as a length-prefixed field copied into itself would.
    Repeat { at: Index, length: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        3 => (any::<Index>(), prop::sample::select(vec![0x00, 0x01, 0x7f, 0x80, 0xff])).prop_map(|(at, value)| Mutation::SetByte { at, value }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..12)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<Index>(), 1usize..16).prop_map(|(at, length)| Mutation::Remove { at, length }),
        1 => (any::<Index>(), 1usize..64).prop_map(|(at, length)| Mutation::Repeat { at, length }),
    ]
}

fn mutated(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        let position = |at: &Index| at.index(bytes.len());
        match mutation {
            Mutation::FlipBit { at, bit } => {
                let at = position(at);
                bytes[at] ^= 1 << bit;
            }
            Mutation::SetByte { at, value } => {
                let at = position(at);
                bytes[at] = *value;
            }
            Mutation::Truncate { at } => bytes.truncate(position(at)),
            Mutation::Insert { at, bytes: inserted } => {
                let at = position(at);
                bytes.splice(at..at, inserted.iter().copied());
            }
            Mutation::Remove { at, length } => {
                let at = position(at);
                let end = (at + length).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Repeat { at, length } => {
                let at = position(at);
                let slice = bytes[at..(at + length).min(bytes.len())].to_vec();
                bytes.splice(at..at, slice);
            }
        }
    }
    bytes
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z0-9-]{1,12}",
        1 => Just(String::new()),
        1 => "\\PC{0,16}",
        1 => (1_000usize..=HUGE_ID_CHARS).prop_map(|length| "i".repeat(length)),
    ]
}

fn task_token() -> impl Strategy<Value = TaskToken> {
    ((id(), id(), id()), (any::<i64>(), any::<i32>(), any::<i64>(), any::<i64>()), 0i32..5).prop_map(
        |((namespace_id, workflow_id, run_id), (scheduled_event_id, attempt, started_event_id, started_time_nanos), kind)| {
            TaskToken {
                namespace_id,
                workflow_id,
                run_id,
                scheduled_event_id,
                attempt,
                started_event_id,
                started_time_nanos,
                kind,
                ..Default::default()
            }
        },
    )
}

fn payloads(size: usize) -> Option<Payloads> {
    let payload = Payload { metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(), data: vec![b'x'; size], external_payloads: vec![] };
    Some(Payloads { payloads: vec![payload] })
}

/// A failure whose cause chain is `depth` deep.
fn nested_failure(depth: usize) -> Failure {
    (0..depth).fold(Failure { message: "root".into(), ..Default::default() }, |cause, level| Failure {
        message: format!("level {level}"),
        cause: Some(Box::new(cause)),
        ..Default::default()
    })
}

/// Seed messages of the request types the gateway decodes, every validated
/// field set, with a given id and a failure chain of a given depth.
#[derive(Clone, Copy, Debug)]
enum RequestKind {
    Start,
    SignalWithStart,
    Signal,
    RequestCancel,
    Terminate,
    PollWorkflowTask,
    RespondWorkflowTaskCompleted,
    RespondWorkflowTaskFailed,
    PollActivityTask,
    RespondActivityTaskCompleted,
    RespondActivityTaskFailed,
    RespondActivityTaskCanceled,
    RecordActivityTaskHeartbeat,
    Query,
    RespondQueryTaskCompleted,
    GetHistory,
}

const REQUEST_KINDS: [RequestKind; 16] = [
    RequestKind::Start,
    RequestKind::SignalWithStart,
    RequestKind::Signal,
    RequestKind::RequestCancel,
    RequestKind::Terminate,
    RequestKind::PollWorkflowTask,
    RequestKind::RespondWorkflowTaskCompleted,
    RequestKind::RespondWorkflowTaskFailed,
    RequestKind::PollActivityTask,
    RequestKind::RespondActivityTaskCompleted,
    RequestKind::RespondActivityTaskFailed,
    RequestKind::RespondActivityTaskCanceled,
    RequestKind::RecordActivityTaskHeartbeat,
    RequestKind::Query,
    RequestKind::RespondQueryTaskCompleted,
    RequestKind::GetHistory,
];

struct Seed<'a> {
    id: &'a str,
    token: Vec<u8>,
    failure: Failure,
}

impl Seed<'_> {
    fn execution(&self) -> Option<WorkflowExecution> {
        Some(WorkflowExecution { workflow_id: self.id.to_string(), run_id: "8f0c7a2e-1c1d-4f8e-9a57-3b1f0e6d2c44".into() })
    }

    fn task_queue(&self) -> Option<TaskQueue> {
        Some(TaskQueue { name: self.id.to_string(), kind: 1, normal_name: String::new() })
    }

    fn start(&self) -> StartWorkflowExecutionRequest {
        StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: self.id.to_string(),
            workflow_type: Some(WorkflowType { name: self.id.to_string() }),
            task_queue: self.task_queue(),
            input: payloads(16),
            workflow_execution_timeout: Some(prost_types::Duration { seconds: 60, nanos: 0 }),
            workflow_run_timeout: Some(prost_types::Duration { seconds: -1, nanos: 0 }),
            identity: self.id.to_string(),
            request_id: self.id.to_string(),
            memo: Some(Memo { fields: [("m".to_string(), Payload::default())].into() }),
            search_attributes: Some(SearchAttributes { indexed_fields: [(self.id.to_string(), Payload::default())].into() }),
            header: Some(Header { fields: [("h".to_string(), Payload::default())].into() }),
            ..Default::default()
        }
    }

    fn encoded(&self, kind: RequestKind) -> Vec<u8> {
        match kind {
            RequestKind::Start => self.start().encode_to_vec(),
            RequestKind::SignalWithStart => {
                let start = self.start();
                SignalWithStartWorkflowExecutionRequest {
                    namespace: start.namespace,
                    workflow_id: start.workflow_id,
                    workflow_type: start.workflow_type,
                    task_queue: start.task_queue,
                    input: start.input,
                    signal_name: self.id.to_string(),
                    signal_input: payloads(8),
                    request_id: start.request_id,
                    ..Default::default()
                }
                .encode_to_vec()
            }
            RequestKind::Signal => SignalWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_execution: self.execution(),
                signal_name: self.id.to_string(),
                input: payloads(8),
                request_id: self.id.to_string(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::RequestCancel => RequestCancelWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_execution: self.execution(),
                request_id: self.id.to_string(),
                reason: self.id.to_string(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::Terminate => TerminateWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_execution: self.execution(),
                reason: self.id.to_string(),
                details: payloads(8),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::PollWorkflowTask => {
                PollWorkflowTaskQueueRequest { namespace: "default".into(), task_queue: self.task_queue(), identity: self.id.to_string(), ..Default::default() }
                    .encode_to_vec()
            }
            RequestKind::RespondWorkflowTaskCompleted => RespondWorkflowTaskCompletedRequest {
                task_token: self.token.clone(),
                commands: self.commands(),
                identity: self.id.to_string(),
                namespace: "default".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::RespondWorkflowTaskFailed => RespondWorkflowTaskFailedRequest {
                task_token: self.token.clone(),
                failure: Some(self.failure.clone()),
                identity: self.id.to_string(),
                namespace: "default".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::PollActivityTask => {
                PollActivityTaskQueueRequest { namespace: "default".into(), task_queue: self.task_queue(), identity: self.id.to_string(), ..Default::default() }
                    .encode_to_vec()
            }
            RequestKind::RespondActivityTaskCompleted => RespondActivityTaskCompletedRequest {
                task_token: self.token.clone(),
                result: payloads(32),
                identity: self.id.to_string(),
                namespace: "default".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::RespondActivityTaskFailed => RespondActivityTaskFailedRequest {
                task_token: self.token.clone(),
                failure: Some(self.failure.clone()),
                identity: self.id.to_string(),
                namespace: "default".into(),
                last_heartbeat_details: payloads(8),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::RespondActivityTaskCanceled => RespondActivityTaskCanceledRequest {
                task_token: self.token.clone(),
                details: payloads(8),
                identity: self.id.to_string(),
                namespace: "default".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::RecordActivityTaskHeartbeat => RecordActivityTaskHeartbeatRequest {
                task_token: self.token.clone(),
                details: payloads(8),
                identity: self.id.to_string(),
                namespace: "default".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::Query => QueryWorkflowRequest {
                namespace: "default".into(),
                execution: self.execution(),
                query: Some(temper_proto::api::query::v1::WorkflowQuery {
                    query_type: self.id.to_string(),
                    query_args: payloads(8),
                    header: None,
                }),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::RespondQueryTaskCompleted => RespondQueryTaskCompletedRequest {
                task_token: self.token.clone(),
                query_result: payloads(8),
                error_message: self.id.to_string(),
                namespace: "default".into(),
                failure: Some(self.failure.clone()),
                ..Default::default()
            }
            .encode_to_vec(),
            RequestKind::GetHistory => GetWorkflowExecutionHistoryRequest {
                namespace: "default".into(),
                execution: self.execution(),
                next_page_token: self.token.clone(),
                wait_new_event: true,
                ..Default::default()
            }
            .encode_to_vec(),
        }
    }

    fn commands(&self) -> Vec<Command> {
        let schedule = ScheduleActivityTaskCommandAttributes {
            activity_id: self.id.to_string(),
            activity_type: Some(ActivityType { name: self.id.to_string() }),
            start_to_close_timeout: Some(prost_types::Duration { seconds: 5, nanos: 0 }),
            input: payloads(16),
            ..Default::default()
        };
        let timer = StartTimerCommandAttributes {
            timer_id: self.id.to_string(),
            start_to_fire_timeout: Some(prost_types::Duration { seconds: i64::MAX, nanos: 999_999_999 }),
        };
        [CommandAttributes::ScheduleActivityTaskCommandAttributes(schedule), CommandAttributes::StartTimerCommandAttributes(timer)]
            .into_iter()
            .map(|attributes| Command { command_type: 1, attributes: Some(attributes), ..Default::default() })
            .collect()
    }
}

/// Decodes bytes as a request of `kind` and, if they decode, checks them the
/// way the gateway does before a handler runs (every id, name and payload
/// against the limits), then with the checks its handler adds. Only a panic
/// is a failure: refusing the request is the expected outcome for most inputs.
fn decode_and_validate(kind: RequestKind, bytes: &[u8]) -> Result<(), prost::DecodeError> {
    let limits = Limits::default();
    let token = |task_token: &[u8], kind: TaskKind| drop(tokens::decode(task_token, kind, &limits));
    match kind {
        RequestKind::Start => bounded::<StartWorkflowExecutionRequest>(bytes).map(|r| validate_start(&r)),
        RequestKind::SignalWithStart => bounded::<SignalWithStartWorkflowExecutionRequest>(bytes).map(|r| {
            validate_start(&temper_engine::state_machine::commands::start_request_of(&r));
            let _ = require_id(&r.signal_name, "SignalName");
        }),
        RequestKind::Signal => bounded::<SignalWorkflowExecutionRequest>(bytes).map(|r| {
            validate_execution(r.workflow_execution.as_ref());
            let _ = require_id(&r.signal_name, "SignalName");
        }),
        RequestKind::RequestCancel => {
            bounded::<RequestCancelWorkflowExecutionRequest>(bytes).map(|r| validate_execution(r.workflow_execution.as_ref()))
        }
        RequestKind::Terminate => {
            bounded::<TerminateWorkflowExecutionRequest>(bytes).map(|r| validate_execution(r.workflow_execution.as_ref()))
        }
        RequestKind::PollWorkflowTask => {
            bounded::<PollWorkflowTaskQueueRequest>(bytes).map(|r| validate_task_queue(r.task_queue.as_ref()))
        }
        RequestKind::RespondWorkflowTaskCompleted => bounded::<RespondWorkflowTaskCompletedRequest>(bytes).map(|r| {
            token(&r.task_token, TaskKind::Workflow);
            for command in &r.commands {
                validate_command(command);
            }
        }),
        RequestKind::RespondWorkflowTaskFailed => {
            bounded::<RespondWorkflowTaskFailedRequest>(bytes).map(|r| token(&r.task_token, TaskKind::Workflow))
        }
        RequestKind::PollActivityTask => {
            bounded::<PollActivityTaskQueueRequest>(bytes).map(|r| validate_task_queue(r.task_queue.as_ref()))
        }
        RequestKind::RespondActivityTaskCompleted => {
            bounded::<RespondActivityTaskCompletedRequest>(bytes).map(|r| token(&r.task_token, TaskKind::Activity))
        }
        RequestKind::RespondActivityTaskFailed => {
            bounded::<RespondActivityTaskFailedRequest>(bytes).map(|r| token(&r.task_token, TaskKind::Activity))
        }
        RequestKind::RespondActivityTaskCanceled => {
            bounded::<RespondActivityTaskCanceledRequest>(bytes).map(|r| token(&r.task_token, TaskKind::Activity))
        }
        RequestKind::RecordActivityTaskHeartbeat => {
            bounded::<RecordActivityTaskHeartbeatRequest>(bytes).map(|r| token(&r.task_token, TaskKind::Activity))
        }
        RequestKind::Query => bounded::<QueryWorkflowRequest>(bytes).map(|r| {
            validate_execution(r.execution.as_ref());
            let _ = require_id(&r.query.unwrap_or_default().query_type, "QueryType");
        }),
        RequestKind::RespondQueryTaskCompleted => {
            bounded::<RespondQueryTaskCompletedRequest>(bytes).map(|r| token(&r.task_token, TaskKind::Query))
        }
        RequestKind::GetHistory => {
            bounded::<GetWorkflowExecutionHistoryRequest>(bytes).map(|r| validate_execution(r.execution.as_ref()))
        }
    }
}

/// Decodes a request and holds it to the gateway's limits.
fn bounded<M: Message + Default + Bounded>(bytes: &[u8]) -> Result<M, prost::DecodeError> {
    let request = M::decode(bytes)?;
    let _ = request.check_bounds(&Limits::default());
    Ok(request)
}

fn validate_start(request: &StartWorkflowExecutionRequest) {
    let _ = require_id(&request.workflow_id, "WorkflowId");
    let _ = require_id(request.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default(), "WorkflowType");
    validate_task_queue(request.task_queue.as_ref());
    let _ = non_negative(request.workflow_execution_timeout.as_ref(), "WorkflowExecutionTimeout");
    let _ = non_negative(request.workflow_run_timeout.as_ref(), "WorkflowRunTimeout");
    let _ = non_negative(request.workflow_task_timeout.as_ref(), "WorkflowTaskTimeout");
    let _ = request_id_or_new(&request.request_id);
}

fn validate_execution(execution: Option<&WorkflowExecution>) {
    let execution = execution.cloned().unwrap_or_default();
    let _ = require_id(&execution.workflow_id, "WorkflowId");
    let _ = optional_run_id(&execution.run_id);
}

fn validate_task_queue(task_queue: Option<&TaskQueue>) {
    let _ = require_id(task_queue.map(|q| q.name.as_str()).unwrap_or_default(), "TaskQueue");
}

fn validate_command(command: &Command) {
    let limits = Limits::default();
    match &command.attributes {
        Some(CommandAttributes::ScheduleActivityTaskCommandAttributes(a)) => {
            let _ = limits.id(&a.activity_id, "ActivityId");
            let _ = non_negative(a.start_to_close_timeout.as_ref(), "StartToCloseTimeout");
            let _ = limits.payload(a.input.as_ref(), "Input");
        }
        Some(CommandAttributes::StartTimerCommandAttributes(a)) => {
            let _ = limits.id(&a.timer_id, "TimerId");
            let _ = non_negative(a.start_to_fire_timeout.as_ref(), "StartToFireTimeout");
        }
        _ => {}
    }
}

fn seed_bytes(kind: RequestKind, id: &str, token: &TaskToken, failure_depth: usize) -> Vec<u8> {
    let seed = Seed { id, token: tokens::encode(token), failure: nested_failure(failure_depth) };
    seed.encoded(kind)
}

/// The seeds are valid requests, so the mutations start from bytes that
/// reach validation; a failure chain past prost's nesting limit is refused.
#[test]
fn seeds_decode_unless_nested_past_the_recursion_limit() {
    let token = TaskToken { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into(), ..Default::default() };
    for kind in REQUEST_KINDS {
        assert!(decode_and_validate(kind, &seed_bytes(kind, "wf", &token, 2)).is_ok(), "{kind:?}");
    }
    let kind = RequestKind::RespondWorkflowTaskFailed;
    assert!(decode_and_validate(kind, &seed_bytes(kind, "wf", &token, DEEPEST_FAILURE)).is_err());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_decode_as_a_task_token_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_token_as_every_kind(&bytes)?;
    }

    #[test]
    fn mutated_task_tokens_decode_without_panic(token in task_token(), mutations in prop::collection::vec(mutation(), 0..6)) {
        decode_token_as_every_kind(&mutated(tokens::encode(&token), &mutations))?;
    }

    #[test]
    fn arbitrary_bytes_decode_as_any_request_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for kind in REQUEST_KINDS {
            let _ = decode_and_validate(kind, &bytes);
        }
    }

    #[test]
    fn mutated_requests_decode_and_validate_without_panic(
        kind in prop::sample::select(REQUEST_KINDS.to_vec()),
        id in id(),
        token in task_token(),
        failure_depth in prop_oneof![4 => 0usize..8, 1 => 90usize..=DEEPEST_FAILURE],
        mutations in prop::collection::vec(mutation(), 0..6),
    ) {
        let _ = decode_and_validate(kind, &mutated(seed_bytes(kind, &id, &token, failure_depth), &mutations));
    }
}
