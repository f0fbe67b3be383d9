//! Turns a write request into a command on the `commands` log and waits for
//! the engine's answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use temper_engine::log::{Log, LogName};
use temper_engine::partitioning::shard_of;
use temper_engine::replies::LocalReplies;
use temper_engine::state_machine::CommandError;
use temper_engine::state_machine::commands::Reply;
use temper_proto::records::CommandRecord;
use temper_proto::records::command_record::Command;

use crate::errors::{ApiError, ApiResult};

/// How long a request waits for the engine before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct CommandBus {
    log: Arc<dyn Log>,
    replies: Arc<LocalReplies>,
    shard_count: u32,
}

impl CommandBus {
    pub fn new(log: Arc<dyn Log>, replies: Arc<LocalReplies>) -> Self {
        let shard_count = log.layout().commands;
        CommandBus { log, replies, shard_count }
    }

    /// Appends `command` for one workflow and returns the engine's reply;
    /// a refusal by the state machine comes back as `Ok(Err(..))`.
    pub async fn execute(&self, namespace_id: &str, workflow_id: &str, command: Command) -> ApiResult<Result<Reply, CommandError>> {
        let pending = self.replies.register();
        let record = CommandRecord {
            reply_to: Some(pending.reply_to),
            namespace_id: namespace_id.to_string(),
            workflow_id: workflow_id.to_string(),
            command: Some(command),
        };
        let shard = shard_of(namespace_id, workflow_id, self.shard_count);
        self.log.append(LogName::Commands, shard, vec![Bytes::from(record.encode_to_vec())]).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, pending.wait()).await {
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
