//! Task tokens: what a worker gets with a task and hands back with its answer.

use prost::Message;
use temper_proto::records::{TaskKind, TaskToken};

use crate::errors::{ApiError, ApiResult};

pub fn encode(token: &TaskToken) -> Vec<u8> {
    token.encode_to_vec()
}

/// Decodes a token and checks it is of the kind the RPC expects.
pub fn decode(bytes: &[u8], expected: TaskKind) -> ApiResult<TaskToken> {
    if bytes.is_empty() {
        return Err(ApiError::invalid("Task token not set on request."));
    }
    let token = TaskToken::decode(bytes).map_err(|_| ApiError::invalid("Error deserializing task token."))?;
    let complete = !token.namespace_id.is_empty() && !token.workflow_id.is_empty() && !token.run_id.is_empty();
    if !complete || token.kind != expected as i32 {
        return Err(ApiError::invalid(format!("Invalid task token: this is not a {} task token.", kind_name(expected))));
    }
    Ok(token)
}

fn kind_name(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Workflow => "workflow",
        TaskKind::Activity => "activity",
        TaskKind::Query => "query",
        TaskKind::Unspecified => "known",
    }
}
