//! Blob clustering keys of the shard partition, encoded so that Cassandra's
//! byte order (unsigned, lexicographic) is the order the traits read in.

use super::error::CassandraError;
use crate::store::{RunKey, TimerKey, WorkflowKey};

/// Row kinds of the shard partition.
pub const EXECUTION: i8 = 0;
pub const CURRENT_RUN: i8 = 1;
pub const TIMER: i8 = 2;
pub const OUTBOX: i8 = 3;
/// A deleted run whose history may still need deleting (see `history_deletions`).
pub const HISTORY_DELETION: i8 = 4;

/// Sorts after every key the partition holds: no key starts with this many 0xff bytes.
pub const PAST_EVERY_KEY: [u8; 16] = [0xff; 16];

/// The smallest key ordered after `key`.
pub fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// Big-endian with the sign bit flipped: negative numbers sort first.
pub fn ordered_i64(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

fn i64_of_ordered(bytes: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = bytes.try_into().ok()?;
    Some((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

/// Each id length-prefixed, so no two id tuples share an encoding.
fn ids(parts: &[&str]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|part| part.len() + 4).sum());
    for part in parts {
        key.extend_from_slice(&(part.len() as u32).to_be_bytes());
        key.extend_from_slice(part.as_bytes());
    }
    key
}

pub fn execution(run: &RunKey) -> Vec<u8> {
    ids(&[&run.namespace_id, &run.workflow_id, &run.run_id])
}

pub fn execution_of(encoded: &[u8]) -> Result<RunKey, CassandraError> {
    let corrupt = || CassandraError::Corrupt(format!("run key {encoded:?}"));
    let mut rest = encoded;
    let mut parts = Vec::with_capacity(3);
    for _ in 0..3 {
        let length = rest.get(..4).and_then(|bytes| bytes.try_into().ok()).map(u32::from_be_bytes).ok_or_else(corrupt)?;
        let length = usize::try_from(length).map_err(|_| corrupt())?;
        let part = rest.get(4..4 + length).ok_or_else(corrupt)?;
        parts.push(std::str::from_utf8(part).map_err(|_| corrupt())?.to_string());
        rest = &rest[4 + length..];
    }
    if !rest.is_empty() {
        return Err(corrupt());
    }
    let run_id = parts.pop().ok_or_else(corrupt)?;
    let workflow_id = parts.pop().ok_or_else(corrupt)?;
    let namespace_id = parts.pop().ok_or_else(corrupt)?;
    Ok(RunKey { namespace_id, workflow_id, run_id })
}

pub fn current_run(workflow: &WorkflowKey) -> Vec<u8> {
    ids(&[&workflow.namespace_id, &workflow.workflow_id])
}

/// Fire time, then the id raw: equal fire times order by id.
pub fn timer(key: &TimerKey) -> Vec<u8> {
    let mut encoded = ordered_i64(key.fire_time_nanos).to_vec();
    encoded.extend_from_slice(key.id.as_bytes());
    encoded
}

pub fn timer_of(encoded: &[u8]) -> Result<TimerKey, CassandraError> {
    let corrupt = || CassandraError::Corrupt(format!("timer key {encoded:?}"));
    let fire_time_nanos = encoded
        .get(..8)
        .and_then(i64_of_ordered)
        .ok_or_else(corrupt)?;
    let id = std::str::from_utf8(&encoded[8..]).map_err(|_| corrupt())?;
    Ok(TimerKey {
        fire_time_nanos,
        id: id.to_string(),
    })
}

pub fn outbox(seq: i64) -> Vec<u8> {
    ordered_i64(seq).to_vec()
}

pub fn outbox_seq_of(encoded: &[u8]) -> Result<i64, CassandraError> {
    i64_of_ordered(encoded)
        .ok_or_else(|| CassandraError::Corrupt(format!("outbox key {encoded:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_decode_to_what_was_encoded() {
        let run = RunKey { namespace_id: "ns".into(), workflow_id: "wf with ünïcode".into(), run_id: String::new() };
        assert_eq!(execution_of(&execution(&run)).expect("decodes"), run);
        let encoded = execution(&run);
        assert!(execution_of(&encoded[..encoded.len() - 1]).is_err());
        assert!(execution_of(&successor(&encoded)).is_err());
    }

    #[test]
    fn ordered_i64_sorts_like_the_numbers() {
        let numbers = [i64::MIN, -5_000_000_000, -1, 0, 1, 50, i64::MAX];
        for pair in numbers.windows(2) {
            assert!(ordered_i64(pair[0]) < ordered_i64(pair[1]), "{pair:?}");
            assert_eq!(i64_of_ordered(&ordered_i64(pair[0])), Some(pair[0]));
        }
    }
}
