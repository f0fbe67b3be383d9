//! Page tokens: where a listing resumes. A token carries the last row's sort
//! key values and run id (keyset pagination), so runs that start or close
//! before the cursor do not shift later pages, plus a fingerprint of the
//! namespace and order it came from, so a token of another listing is refused.

use rusqlite::types::Value as SqlValue;
use serde_json::{Value as Json, json};

use super::IndexError;
use super::plan::Cursor;

const VERSION: u64 = 1;

pub(super) fn encode(fingerprint: &str, cursor: &Cursor) -> Vec<u8> {
    let keys: Vec<Json> = cursor
        .keys
        .iter()
        .map(|value| match value {
            SqlValue::Null => Json::Null,
            SqlValue::Integer(i) => json!(i),
            // Sort key values are finite: the index stores no NaN or infinity.
            SqlValue::Real(f) => json!(f),
            SqlValue::Text(s) => json!(s),
            SqlValue::Blob(b) => json!({ "b": b }),
        })
        .collect();
    serde_json::to_vec(&json!({ "v": VERSION, "f": fingerprint, "k": keys, "r": cursor.run_id }))
        .expect("JSON of plain values")
}

pub(super) fn decode(token: &[u8], fingerprint: &str, keys: usize) -> Result<Cursor, IndexError> {
    let malformed = || IndexError::InvalidPageToken("the next page token is malformed".to_owned());
    let token: Json = serde_json::from_slice(token).map_err(|_| malformed())?;
    if token.get("v").and_then(Json::as_u64) != Some(VERSION) {
        return Err(malformed());
    }
    if token.get("f").and_then(Json::as_str) != Some(fingerprint) {
        return Err(IndexError::InvalidPageToken(
            "the next page token belongs to another listing (another namespace or order); start again without a token"
                .to_owned(),
        ));
    }
    let run_id = token.get("r").and_then(Json::as_str).ok_or_else(malformed)?.to_owned();
    let values = token.get("k").and_then(Json::as_array).ok_or_else(malformed)?;
    if values.len() != keys {
        return Err(malformed());
    }
    let keys = values
        .iter()
        .map(|value| match value {
            Json::Null => Some(SqlValue::Null),
            Json::String(s) => Some(SqlValue::Text(s.clone())),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Some(SqlValue::Integer(i)),
                None => n.as_f64().map(SqlValue::Real),
            },
            Json::Object(o) => {
                let bytes = o.get("b")?.as_array()?;
                bytes
                    .iter()
                    .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .map(SqlValue::Blob)
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(malformed)?;
    Ok(Cursor { keys, run_id })
}
