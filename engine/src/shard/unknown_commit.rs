//! A commit whose outcome the store could not tell (the connection dropped
//! mid-write, a timeout): it may have landed or not, and retrying its batch
//! as if it had not would apply its commands twice once it had.
//!
//! How it is settled: the processor takes the shard again, which raises the
//! epoch. From then on the commit, fenced by the old epoch, can no longer
//! land, and the shard row read after the raise tells whether it did: a
//! commit of commands advances the applied offset, so a stored offset that
//! reached the commit's means it landed. Then its requests are answered now,
//! and the replay starts after it; otherwise the replay applies its commands
//! again and answers them then. Either way each is applied and answered
//! once. A batch of timers answers nobody and leaves the offset alone: the
//! timers are loaded again from the store, so those it fired are gone if it
//! landed and fire again if not. Readers waiting on the runs it touched are
//! woken with what the store holds, since it may have added to their
//! histories.

use temper_proto::records::{ReplyTo, ShardInfo};

use super::ShardContext;
use super::batch::Committed;
use crate::notify::RunProgress;
use crate::replies::CommandResult;
use crate::store::RunKey;

pub(super) struct UnknownCommit {
    applied_offset: i64,
    /// Whether the commit moved the applied offset (it applied commands).
    advances: bool,
    replies: Vec<(ReplyTo, CommandResult)>,
    /// Runs whose histories it added to.
    runs: Vec<RunKey>,
}

impl UnknownCommit {
    /// What must be kept of a commit that failed without saying whether it
    /// landed. Current-run pointers it changed are dropped from the cache:
    /// if it landed, the cached ones are stale.
    pub fn after_failure(context: &ShardContext, committed: Committed, applied_offset: i64, advances: bool) -> UnknownCommit {
        for (workflow, _) in &committed.current_runs {
            context.current_run_cache.invalidate(workflow);
        }
        UnknownCommit {
            applied_offset,
            advances,
            replies: committed.replies,
            runs: committed.progress.into_iter().map(|(run, _)| run).collect(),
        }
    }

    /// Settles the commit once the shard was taken again as `shard`.
    pub async fn settle(self, context: &ShardContext, shard: &ShardInfo) {
        let landed = self.advances && shard.applied_offset >= self.applied_offset;
        tracing::warn!(
            shard = context.shard_id,
            commands = self.advances,
            landed,
            "settled a commit whose outcome was unknown"
        );
        if landed {
            for (to, result) in self.replies {
                context.replies.deliver(&to, result);
            }
        }
        wake_readers(context, &self.runs).await;
    }
}

/// Publishes each run's stored progress. Best effort: a reader not woken
/// here sees the change when its long poll ends and it reads again.
async fn wake_readers(context: &ShardContext, runs: &[RunKey]) {
    for run in runs {
        if let Ok(Some(state)) = context.store.get_execution(context.shard_id, run).await {
            context.notifier.publish(run, RunProgress::of(&state));
        }
    }
}
