//! Checks requests share before anything is appended to a log.

use prost::Message;
use prost_types::Duration;
use temper_engine::time::is_negative;

use crate::errors::{ApiError, ApiResult};

/// Temporal's limit on ids, names and types.
pub const MAX_ID_LENGTH: usize = 1000;

pub fn require_id(value: &str, what: &str) -> ApiResult<()> {
    if value.is_empty() {
        return Err(ApiError::invalid(format!("{what} is not set on request.")));
    }
    if value.len() > MAX_ID_LENGTH {
        return Err(ApiError::invalid(format!("{what} exceeds length limit: {} bytes, at most {MAX_ID_LENGTH}.", value.len())));
    }
    Ok(())
}

pub fn optional_id(value: &str, what: &str) -> ApiResult<()> {
    if value.is_empty() { Ok(()) } else { require_id(value, what) }
}

/// Run ids are UUIDs; anything else cannot name a run.
pub fn optional_run_id(run_id: &str) -> ApiResult<()> {
    if run_id.is_empty() || uuid::Uuid::parse_str(run_id).is_ok() {
        Ok(())
    } else {
        Err(ApiError::invalid("Invalid RunId."))
    }
}

pub fn non_negative(duration: Option<&Duration>, what: &str) -> ApiResult<()> {
    if is_negative(duration) {
        return Err(ApiError::invalid(format!("Invalid {what}: it cannot be negative.")));
    }
    Ok(())
}

/// Refuses a payload over the configured limit (`--max-payload-bytes`).
pub fn payload_within_limit<M: Message>(payload: Option<&M>, what: &str, limit: usize) -> ApiResult<()> {
    let size = payload.map(Message::encoded_len).unwrap_or_default();
    if size > limit {
        return Err(ApiError::invalid(format!(
            "{what} is {size} bytes, over the {limit} byte payload limit. Blob data size exceeds limit."
        )));
    }
    Ok(())
}

/// A request id is how a retried request is recognised; SDKs always send one,
/// and a request without gets a fresh one (it cannot be deduplicated).
pub fn request_id_or_new(request_id: &str) -> ApiResult<String> {
    if request_id.is_empty() {
        return Ok(uuid::Uuid::new_v4().to_string());
    }
    optional_id(request_id, "RequestId")?;
    Ok(request_id.to_string())
}
