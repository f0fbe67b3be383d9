//! How a processor comes to hold its shard and gives it up.
//!
//! Statically (one process owns every shard): `acquire_shard` raises the
//! epoch whoever held it. Leased (engines in several processes share the
//! shards, see [`crate::membership`]): the shard is taken only from nobody
//! (released), from this engine itself (a restart), or from an owner that is
//! no longer live (its lease ran out) — so a joining engine waits for the old
//! owner's release, and a dead owner's shards move once its lease is gone.
//! The take is conditional on the epoch read, so of two engines racing for
//! a shard one wins and the other reads again (and then waits for it).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use temper_proto::records::ShardInfo;
use tokio::sync::watch;

use super::ShardContext;
use super::backoff::Backoff;
use crate::membership::{MemberRole, Membership};
use crate::store::{ShardId, Store, StoreError, StoreResult};

/// Pause before reading the shard row again while its owner is live.
const TAKE_POLL: Duration = Duration::from_millis(150);

pub enum OwnershipMode {
    /// This process owns every shard (`acquire_shard`).
    Static,
    /// The shards are shared with other engines by membership.
    Leased { membership: Arc<Membership> },
}

/// What the processors of one engine share about holding their shards.
pub struct Ownership {
    pub mode: OwnershipMode,
    /// Shards whose processor currently holds the shard.
    owned: watch::Sender<BTreeSet<ShardId>>,
    /// Processors fenced out by another owner's epoch.
    losses: AtomicU64,
}

impl Ownership {
    pub fn new(mode: OwnershipMode) -> Ownership {
        Ownership { mode, owned: watch::channel(BTreeSet::new()).0, losses: AtomicU64::new(0) }
    }

    pub fn owned(&self) -> watch::Receiver<BTreeSet<ShardId>> {
        self.owned.subscribe()
    }

    pub fn losses(&self) -> u64 {
        self.losses.load(Ordering::Relaxed)
    }

    pub(super) fn count_loss(&self) {
        self.losses.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a processor fenced out should take the shard again: only a
    /// leased one, whose shard may still be assigned here (the coordinator
    /// stops it otherwise); a static one was replaced by another process.
    pub(super) fn retakes_after_loss(&self) -> bool {
        matches!(self.mode, OwnershipMode::Leased { .. })
    }

    fn set_owned(&self, shard_id: ShardId, owned: bool) {
        self.owned.send_if_modified(|shards| if owned { shards.insert(shard_id) } else { shards.remove(&shard_id) });
    }

    /// Forgets every shard at once: the processors are gone without
    /// stopping (a simulated crash).
    pub fn forget_all(&self) {
        self.owned.send_replace(BTreeSet::new());
    }

    pub(super) fn let_go(&self, shard_id: ShardId) {
        self.set_owned(shard_id, false);
    }

    /// Takes the shard, retrying while the store fails and, when leased,
    /// waiting while another live engine holds it; `None` once shut down.
    pub(super) async fn take(&self, context: &ShardContext, shutdown: &mut watch::Receiver<bool>) -> Option<ShardInfo> {
        let shard_id = context.shard_id;
        let started = Instant::now();
        let mut backoff = Backoff::default();
        loop {
            if *shutdown.borrow() {
                return None;
            }
            let pause = match self.try_take(context, started).await {
                Ok(Some(info)) => {
                    context.health.set_available(shard_id);
                    self.set_owned(shard_id, true);
                    return Some(info);
                }
                Ok(None) => TAKE_POLL,
                // Another engine took it between the read and the take:
                // read again, and find it owned by a live engine.
                Err(StoreError::ShardOwnershipLost { .. }) => continue,
                Err(error) => {
                    context.health.set_unavailable(shard_id, &error.to_string());
                    tracing::error!(shard = shard_id, %error, "acquiring the shard failed; retrying");
                    backoff.pause()
                }
            };
            tokio::select! {
                _ = shutdown.changed() => return None,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// The shard taken, or `None` while another live engine holds it.
    async fn try_take(&self, context: &ShardContext, started: Instant) -> StoreResult<Option<ShardInfo>> {
        let shard_id = context.shard_id;
        let membership = match &self.mode {
            OwnershipMode::Static => return context.store.acquire_shard(shard_id).await.map(Some),
            OwnershipMode::Leased { membership } => membership,
        };
        let me = &membership.member().id;
        let stored = context.store.read_shard(shard_id).await?;
        let free = stored.owner.is_empty()
            || stored.owner == *me
            || !membership.is_live(MemberRole::Engine, &stored.owner).await?;
        if !free {
            return Ok(None);
        }
        let taken = context.store.take_shard(shard_id, me, stored.epoch).await?;
        // `started` is when the coordinator decided this shard is ours (it
        // starts the processor then), or when a fenced processor began
        // taking it back.
        tracing::info!(
            shard = shard_id,
            owner = %me,
            previous_owner = %stored.owner,
            epoch = taken.epoch,
            waited_ms = started.elapsed().as_millis() as u64,
            "shard taken"
        );
        Ok(Some(taken))
    }

    /// How long a leased processor may go without proof that it still holds
    /// its shard (a commit, or a check of the shard row): an idle processor
    /// fenced out (its engine paused past its lease, say) would otherwise
    /// never learn it, nor take the shard back. `None` when static.
    pub(super) fn proof_interval(&self) -> Option<Duration> {
        match &self.mode {
            OwnershipMode::Static => None,
            OwnershipMode::Leased { membership } => Some(membership.lease()),
        }
    }

    /// Whether the shard row still carries `epoch`.
    pub(super) async fn still_holds(&self, context: &ShardContext, epoch: i64) -> StoreResult<bool> {
        Ok(context.store.read_shard(context.shard_id).await?.epoch == epoch)
    }

    /// After a processor stopped on request: gives a leased shard up so its
    /// next owner takes it at once. A shard taken by someone else meanwhile
    /// needs nothing. If the store fails, the release is retried in the
    /// background until it lands or the shard's epoch moves on (this engine
    /// or another took it again): while the row names this live engine, no
    /// other engine takes the shard, so it must not be given up on.
    pub(super) async fn release(&self, context: &ShardContext, epoch: i64) {
        let OwnershipMode::Leased { membership } = &self.mode else { return };
        let owner = membership.member().id.clone();
        let store = context.store.clone();
        let shard_id = context.shard_id;
        if let Err(error) = release_once(store.as_ref(), shard_id, &owner, epoch).await {
            tracing::warn!(shard = shard_id, %error, "releasing the shard failed; retrying in the background");
            tokio::spawn(async move {
                let mut backoff = Backoff::default();
                loop {
                    tokio::time::sleep(backoff.pause()).await;
                    match release_once(store.as_ref(), shard_id, &owner, epoch).await {
                        Ok(()) => return,
                        Err(error) if error.is_permanent() => {
                            tracing::error!(shard = shard_id, %error, "the shard cannot be released; it moves once this engine's lease runs out");
                            return;
                        }
                        Err(error) => tracing::warn!(shard = shard_id, %error, "releasing the shard failed; retrying"),
                    }
                }
            });
        }
    }
}

/// Clears the shard's owner if it is still at `epoch`; done as well if the
/// epoch moved on. An error is the store's failure, worth retrying.
async fn release_once(store: &dyn Store, shard_id: ShardId, owner: &str, epoch: i64) -> StoreResult<()> {
    match store.release_shard(shard_id, epoch).await {
        Ok(()) => {
            tracing::info!(shard = shard_id, %owner, epoch, "shard released");
            Ok(())
        }
        Err(StoreError::ShardOwnershipLost { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}
