//! Which live engine owns which shard.
//!
//! Rendezvous (highest random weight) hashing with capacity caps: every
//! (shard, member) pair gets a score from a hash of both; pairs are taken in
//! descending score order, and a shard goes to the member of its pair if the
//! shard is still free and the member still has room. Each member has room
//! for `shards / members` shards, and the first `shards % members` members to
//! fill that get one more, so the split is balanced (floor or ceil each).
//! A pair's score does not depend on the other members, so a member joining
//! or leaving reorders little: mostly the shards it takes or gives up move.
//! Everything depends only on shard numbers and member ids (with a hash
//! fixed here, not the standard library's), so every engine computes the
//! same assignment from the same view.

use std::collections::HashMap;

/// For each shard `0..shard_count`, the index in `members` of the member that
/// owns it. Empty when there are no members. Duplicate ids count once (the
/// first one's index is used).
pub fn assign(shard_count: u32, members: &[String]) -> Vec<usize> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (position, id) in members.iter().enumerate() {
        index.entry(id.as_str()).or_insert(position);
    }
    if index.is_empty() {
        return Vec::new();
    }
    let mut ids: Vec<&str> = index.keys().copied().collect();
    ids.sort_unstable();
    let mut pairs: Vec<(u64, u32, usize)> = (0..shard_count)
        .flat_map(|shard| ids.iter().enumerate().map(move |(member, id)| (score(shard, id), shard, member)))
        .collect();
    // Highest score first; ties (practically never) by shard, then member id.
    pairs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut capacity = Capacity::new(shard_count as usize, ids.len());
    let mut owner: Vec<Option<usize>> = vec![None; shard_count as usize];
    for (_, shard, member) in pairs {
        let slot = &mut owner[shard as usize];
        if slot.is_none() && capacity.take(member) {
            *slot = Some(member);
        }
    }
    owner.into_iter().map(|member| index[ids[member.expect("capacities add up to the shard count")]]).collect()
}

/// How many shards each member may still take.
struct Capacity {
    taken: Vec<usize>,
    floor: usize,
    /// Members that may still go one above `floor`.
    ceilings_left: usize,
}

impl Capacity {
    fn new(shards: usize, members: usize) -> Capacity {
        Capacity { taken: vec![0; members], floor: shards / members, ceilings_left: shards % members }
    }

    fn take(&mut self, member: usize) -> bool {
        let taken = self.taken[member];
        if taken < self.floor {
            self.taken[member] += 1;
            return true;
        }
        if taken == self.floor && self.ceilings_left > 0 {
            self.ceilings_left -= 1;
            self.taken[member] += 1;
            return true;
        }
        false
    }
}

/// A pair's rendezvous score: FNV-1a over the shard number and the id, then
/// a 64-bit finaliser (splitmix64) so that close inputs score far apart.
fn score(shard: u32, id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in shard.to_be_bytes().iter().chain(id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: usize) -> Vec<String> {
        (0..count).map(|n| format!("engine-{n}")).collect()
    }

    /// Shard -> member id, for comparing assignments over different lists.
    fn owners(shard_count: u32, members: &[String]) -> Vec<String> {
        assign(shard_count, members).into_iter().map(|index| members[index].clone()).collect()
    }

    fn moved(before: &[String], after: &[String]) -> usize {
        before.iter().zip(after).filter(|(a, b)| a != b).count()
    }

    #[test]
    fn every_member_gets_the_floor_or_the_ceiling() {
        for shard_count in [1u32, 4, 8, 16, 64, 1000] {
            for member_count in 1..=9 {
                let members = ids(member_count);
                let assigned = assign(shard_count, &members);
                assert_eq!(assigned.len(), shard_count as usize);
                let mut counts = vec![0usize; member_count];
                for member in assigned {
                    counts[member] += 1;
                }
                let floor = shard_count as usize / member_count;
                let ceil = floor + usize::from(shard_count as usize % member_count != 0);
                assert!(
                    counts.iter().all(|&count| count == floor || count == ceil),
                    "{shard_count} shards over {member_count} members: {counts:?}"
                );
            }
        }
    }

    #[test]
    fn the_same_members_in_any_order_get_the_same_shards() {
        let members = ids(5);
        let mut reversed = members.clone();
        reversed.reverse();
        let mut rotated = members.clone();
        rotated.rotate_left(2);
        let expected = owners(64, &members);
        assert_eq!(owners(64, &reversed), expected);
        assert_eq!(owners(64, &rotated), expected);
        assert_eq!(owners(64, &members), expected, "and on every call");
    }

    #[test]
    fn no_members_own_nothing() {
        assert!(assign(8, &[]).is_empty());
    }

    #[test]
    fn a_member_joining_moves_about_its_share() {
        for (shard_count, before) in [(8u32, 3usize), (64, 4), (64, 7), (256, 10)] {
            let old = ids(before);
            let new = ids(before + 1);
            let share = (shard_count as usize).div_ceil(before + 1);
            let moved = moved(&owners(shard_count, &old), &owners(shard_count, &new));
            // The joiner's share must move; allow as much again for
            // capacity caps pushing a few shards along.
            assert!(moved <= 2 * share, "{shard_count} shards, {before} -> {} members: {moved} moved", before + 1);
        }
    }

    #[test]
    fn a_member_leaving_moves_about_its_share() {
        for (shard_count, before) in [(8u32, 3usize), (64, 5), (256, 10)] {
            let old = ids(before);
            let mut new = old.clone();
            new.remove(1);
            let share = (shard_count as usize).div_ceil(before);
            let moved = moved(&owners(shard_count, &old), &owners(shard_count, &new));
            assert!(moved <= 2 * share, "{shard_count} shards, {before} -> {} members: {moved} moved", before - 1);
        }
    }
}
