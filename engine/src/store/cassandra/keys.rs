//! Blob clustering keys of the shard partition, encoded so that Cassandra's
//! byte order (unsigned, lexicographic) is the order the traits read in.

use super::error::CassandraError;
use crate::store::{RunKey, TimerKey, WorkflowKey};

/// Row kinds of the shard partition.
pub const EXECUTION: i8 = 0;
pub const CURRENT_RUN: i8 = 1;
pub const TIMER: i8 = 2;
pub const OUTBOX: i8 = 3;

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
    fn ordered_i64_sorts_like_the_numbers() {
        let numbers = [i64::MIN, -5_000_000_000, -1, 0, 1, 50, i64::MAX];
        for pair in numbers.windows(2) {
            assert!(ordered_i64(pair[0]) < ordered_i64(pair[1]), "{pair:?}");
            assert_eq!(i64_of_ordered(&ordered_i64(pair[0])), Some(pair[0]));
        }
    }
}
