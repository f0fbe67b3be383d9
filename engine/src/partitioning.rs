//! Stable placement of workflows on shards and task queues on `tasks` log
//! partitions. The hash must never change: it decides where stored data lives.

/// FNV-1a over the parts with a separator between them; stable across
/// processes and releases, unlike the standard library's hasher.
fn stable_hash(parts: &[&str]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            hash ^= 0xff;
            hash = hash.wrapping_mul(PRIME);
        }
        for byte in part.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// The shard (and `commands` partition) of a workflow.
pub fn shard_of(namespace_id: &str, workflow_id: &str, shard_count: u32) -> u32 {
    (stable_hash(&[namespace_id, workflow_id]) % u64::from(shard_count.max(1))) as u32
}

/// The `tasks` partition of a task queue.
pub fn task_partition_of(namespace_id: &str, task_queue: &str, partitions: u32) -> u32 {
    (stable_hash(&[namespace_id, task_queue]) % u64::from(partitions.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_stable_and_spreads_workflows() {
        assert_eq!(shard_of("ns", "order-1", 4), shard_of("ns", "order-1", 4));
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]), "parts are kept apart");
        let mut counts = [0; 4];
        for i in 0..4000 {
            counts[shard_of("ns", &format!("wf-{i}"), 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| *c > 800), "{counts:?}");
    }

    #[test]
    fn the_hash_is_pinned() {
        // Stored data depends on it: changing it would orphan every workflow.
        assert_eq!(stable_hash(&["default", "wf"]), 0xdcbf_c8c5_e373_4b1e);
        assert_eq!(shard_of("default", "wf", 4), 2);
    }
}
