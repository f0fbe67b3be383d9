//! Turns a write request into a command on the `commands` log and waits for
//! the engine's answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use prost::Message;
use temper_engine::health::ShardHealth;
use temper_engine::log::{Log, LogName};
use temper_engine::partitioning::shard_of;
use temper_engine::replies::LocalReplies;
use temper_engine::state_machine::CommandError;
use opentelemetry::KeyValue;
use temper_engine::state_machine::commands::Reply;
use temper_engine::traces;
use temper_proto::records::CommandRecord;
use temper_proto::records::command_record::Command;

use crate::errors::{ApiError, ApiResult};

/// How long a request waits for the engine before giving up: short of the
/// SDKs' own 30 s call timeout, so the client gets UNAVAILABLE, which it
/// retries, rather than a timeout, which it does not. An answer lost with a
/// dead engine is told sooner, once the shard's next owner takes it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a request waits for the log to take its command: an SDK call's
/// own timeout is about 10 s, and it must get UNAVAILABLE, not a timeout.
const APPEND_TIMEOUT: Duration = Duration::from_secs(5);

pub struct CommandBus {
    log: Arc<dyn Log>,
    replies: Arc<LocalReplies>,
    health: Arc<ShardHealth>,
    shard_count: u32,
    /// Whether the last check reached the log (see `cluster::Readiness`).
    log_reachable: Arc<AtomicBool>,
    /// Set while the gateway shuts down: new commands go to another gateway.
    draining: AtomicBool,
}

impl CommandBus {
    pub fn new(log: Arc<dyn Log>, replies: Arc<LocalReplies>, health: Arc<ShardHealth>) -> Self {
        let shard_count = log.layout().commands;
        CommandBus { log, replies, health, shard_count, log_reachable: Arc::new(AtomicBool::new(true)), draining: AtomicBool::new(false) }
    }

    /// The flag the gateway's periodic log check keeps: while it is false,
    /// commands are refused before they are appended.
    pub fn log_reachable(&self) -> Arc<AtomicBool> {
        self.log_reachable.clone()
    }

    /// Refuses new commands from now on (the gateway is shutting down);
    /// those appended already are still answered.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Requests waiting for the engine's answer.
    pub fn waiting(&self) -> usize {
        self.replies.waiting()
    }

    /// Appends `command` for one workflow and returns the engine's reply;
    /// a refusal by the state machine comes back as `Ok(Err(..))`.
    ///
    /// While the workflow's shard cannot apply commands (its store is
    /// unreachable), the command is refused before it is appended, so
    /// nothing of it is applied later; a request already waiting when the
    /// shard fails is answered at once, saying its command may still be
    /// applied (a retry with the same request id then gets that outcome).
    pub async fn execute(&self, namespace_id: &str, workflow_id: &str, command: Command) -> ApiResult<Result<Reply, CommandError>> {
        let shard = shard_of(namespace_id, workflow_id, self.shard_count);
        if self.draining.load(Ordering::Relaxed) {
            return Err(ApiError::Unavailable("This gateway is shutting down, nothing was recorded; retry (through another gateway).".into()));
        }
        if !self.log_reachable.load(Ordering::Relaxed) {
            return Err(ApiError::Unavailable("The log cannot be reached now, nothing was recorded; retry later.".into()));
        }
        if let Some(reason) = self.health.unavailable(shard) {
            return Err(ApiError::Unavailable(format!("Shard {shard} cannot apply requests now, nothing was recorded; retry later: {reason}")));
        }
        let command_kind = temper_engine::state_machine::commands::name_of(&command);
        let pending = self.replies.register();
        let record = CommandRecord {
            reply_to: Some(pending.reply_to.clone()),
            namespace_id: namespace_id.to_string(),
            workflow_id: workflow_id.to_string(),
            command: Some(command),
            origin: None,
            trace_context: traces::carrier_of_current(),
        };
        let traced = !record.trace_context.is_empty();
        let encoded = recordable(&record)?;
        let append_started = SystemTime::now();
        match tokio::time::timeout(APPEND_TIMEOUT, self.log.append(LogName::Commands, shard, vec![encoded])).await {
            Ok(appended) => {
                let offset = appended?;
                temper_engine::metrics::shards::command_appended(command_kind);
                if traced {
                    let attributes = vec![KeyValue::new("temper.shard", i64::from(shard)), KeyValue::new("temper.offset", offset as i64)];
                    traces::record_span(&opentelemetry::Context::current(), "log.append", append_started, SystemTime::now(), attributes);
                }
                pending.appended(shard, offset)
            }
            Err(_) => {
                return Err(ApiError::Unavailable(format!(
                    "The log did not take the request within {}s; it may still be applied: retry with the same request id.",
                    APPEND_TIMEOUT.as_secs()
                )));
            }
        };
        let answer = tokio::select! {
            answer = tokio::time::timeout(REPLY_TIMEOUT, pending.wait()) => answer,
            reason = self.health.until_unavailable(shard) => {
                return Err(ApiError::Unavailable(format!(
                    "Shard {shard} cannot apply requests now; this one was recorded and may still be applied: {reason}"
                )));
            }
        };
        match answer {
            Ok(Some(Err(CommandError::Unavailable(message)))) => Err(ApiError::Unavailable(message)),
            Ok(Some(result)) => Ok(result),
            Ok(None) => Err(ApiError::Unavailable("the engine dropped the request; retry".into())),
            Err(_) => Err(ApiError::Unavailable(format!(
                "the engine did not answer within {}s; the request may still be applied",
                REPLY_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Like `execute`, for callers that treat a refusal as the request's error.
    pub async fn run(&self, namespace_id: &str, workflow_id: &str, command: Command) -> ApiResult<Reply> {
        Ok(self.execute(namespace_id, workflow_id, command).await??)
    }
}

/// The record as appended, once it is known to decode: a request can nest
/// messages (failure causes) deep enough to fit prost's recursion limit
/// while the record wrapping it does not, and an engine that cannot decode
/// a record can only skip it, leaving the caller waiting. The request
/// checks bound failure chains already; this catches whatever else nests.
/// Decoding costs about what encoding does (a few µs for a typical record,
/// a copy of the payload for a large one), small next to the commit.
fn recordable(record: &CommandRecord) -> ApiResult<Bytes> {
    let encoded = Bytes::from(record.encode_to_vec());
    match CommandRecord::decode(encoded.clone()) {
        Ok(_) => Ok(encoded),
        Err(error) => Err(ApiError::invalid(format!("The request cannot be recorded: {error}. Is something in it nested too deep?"))),
    }
}

#[cfg(test)]
mod tests {
    use temper_engine::embedded_db::EmbeddedDb;
    use temper_engine::log::LogLayout;
    use temper_engine::log::embedded::EmbeddedLog;
    use temper_proto::api::failure::v1::Failure;
    use temper_proto::api::workflowservice::v1::RespondActivityTaskFailedRequest;
    use temper_proto::records::{FailActivityTask, SignalWorkflow};

    use super::*;

    /// A bus on a one-shard log with no engine behind it.
    fn bus() -> (CommandBus, Arc<dyn Log>, Arc<ShardHealth>) {
        let db = EmbeddedDb::open_temporary().expect("a temporary database");
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(db, LogLayout { commands: 1, tasks: 1, visibility: 1 }).expect("a log"));
        let health = Arc::new(ShardHealth::new(1));
        (CommandBus::new(log.clone(), Arc::new(LocalReplies::new(1)), health.clone()), log, health)
    }

    fn signal() -> Command {
        Command::SignalWorkflow(SignalWorkflow::default())
    }

    #[tokio::test]
    async fn a_shard_that_cannot_apply_refuses_before_recording() {
        let (bus, log, health) = bus();
        health.set_unavailable(0, "the store is unreachable: down");
        match bus.execute("ns", "wf", signal()).await {
            Err(ApiError::Unavailable(message)) => {
                assert!(message.contains("nothing was recorded") && message.contains("the store is unreachable"), "{message}")
            }
            other => panic!("expected UNAVAILABLE, got {other:?}"),
        }
        assert_eq!(log.end_offset(LogName::Commands, 0).await.expect("end offset"), 0, "nothing appended");
    }

    #[tokio::test]
    async fn an_unreachable_log_or_a_draining_gateway_refuses_before_recording() {
        let (bus, log, _) = bus();
        bus.log_reachable().store(false, Ordering::Relaxed);
        match bus.execute("ns", "wf", signal()).await {
            Err(ApiError::Unavailable(message)) => assert!(message.contains("log cannot be reached"), "{message}"),
            other => panic!("expected UNAVAILABLE, got {other:?}"),
        }
        bus.log_reachable().store(true, Ordering::Relaxed);
        bus.drain();
        match bus.execute("ns", "wf", signal()).await {
            Err(ApiError::Unavailable(message)) => assert!(message.contains("shutting down"), "{message}"),
            other => panic!("expected UNAVAILABLE, got {other:?}"),
        }
        assert_eq!(log.end_offset(LogName::Commands, 0).await.expect("end offset"), 0, "nothing appended");
    }

    #[tokio::test]
    async fn a_waiting_request_is_told_at_once_when_its_shard_fails() {
        let (bus, log, health) = bus();
        let failing = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            health.set_unavailable(0, "the store is unreachable: down");
        };
        let (answer, ()) = tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(bus.execute("ns", "wf", signal()), failing) })
            .await
            .expect("answered long before the reply timeout");
        match answer {
            Err(ApiError::Unavailable(message)) => assert!(message.contains("may still be applied"), "{message}"),
            other => panic!("expected UNAVAILABLE, got {other:?}"),
        }
        assert_eq!(log.end_offset(LogName::Commands, 0).await.expect("end offset"), 1, "the command was recorded");
    }

    fn failing_with_depth(depth: usize) -> CommandRecord {
        let failure = (0..depth).fold(None, |cause: Option<Failure>, _| Some(Failure { cause: cause.map(Box::new), ..Default::default() }));
        let request = RespondActivityTaskFailedRequest { failure, ..Default::default() };
        CommandRecord {
            command: Some(Command::FailActivityTask(FailActivityTask { token: None, request: Some(request) })),
            ..Default::default()
        }
    }

    #[test]
    fn a_record_that_decodes_is_appended_as_encoded() {
        let record = failing_with_depth(10);
        assert_eq!(recordable(&record).unwrap(), Bytes::from(record.encode_to_vec()));
    }

    #[test]
    fn a_record_nested_past_the_decoder_limit_is_refused() {
        // 100 failures fit a RespondActivityTaskFailedRequest, but not the
        // two levels of record around it.
        let request = failing_with_depth(100);
        let Some(Command::FailActivityTask(command)) = &request.command else { unreachable!() };
        let inner = command.request.clone().unwrap().encode_to_vec();
        assert!(RespondActivityTaskFailedRequest::decode(&inner[..]).is_ok(), "the request alone decodes");
        assert!(matches!(recordable(&request), Err(ApiError::InvalidArgument(_))));
    }
}
