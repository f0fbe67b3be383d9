//! Whether each shard can currently apply commands, as its processor last
//! found out from the store.
//!
//! The gateway reads it so that, while a shard's store is unreachable, a
//! write is refused at once with UNAVAILABLE instead of being appended to a
//! log nobody can apply, and a request already waiting is told promptly
//! rather than after the reply timeout.

use std::sync::Arc;

use tokio::sync::watch;

use crate::store::ShardId;

/// Why a shard cannot apply commands; `None` while it can.
type Status = Option<Arc<str>>;

pub struct ShardHealth {
    shards: Vec<watch::Sender<Status>>,
}

impl ShardHealth {
    /// Every shard starts out available: a processor learns otherwise from
    /// its first failed store operation.
    pub fn new(shard_count: u32) -> ShardHealth {
        ShardHealth { shards: (0..shard_count).map(|_| watch::channel(None).0).collect() }
    }

    pub fn set_unavailable(&self, shard: ShardId, reason: &str) {
        if let Some(status) = self.shards.get(shard as usize) {
            status.send_if_modified(|status| {
                let changed = status.as_deref() != Some(reason);
                if changed {
                    *status = Some(Arc::from(reason));
                }
                changed
            });
        }
    }

    pub fn set_available(&self, shard: ShardId) {
        if let Some(status) = self.shards.get(shard as usize) {
            status.send_if_modified(|status| status.take().is_some());
        }
    }

    /// Why the shard cannot apply commands now, if it cannot.
    pub fn unavailable(&self, shard: ShardId) -> Option<Arc<str>> {
        self.shards.get(shard as usize).and_then(|status| status.borrow().clone())
    }

    /// Resolves with the reason once the shard is unavailable (at once if it
    /// is already); never resolves for a shard that does not exist.
    pub async fn until_unavailable(&self, shard: ShardId) -> Arc<str> {
        let Some(status) = self.shards.get(shard as usize) else { return std::future::pending().await };
        let mut watching = status.subscribe();
        // The guard `wait_for` returns must not live across another await.
        let reason = watching.wait_for(Option::is_some).await.ok().and_then(|reason| reason.clone());
        match reason {
            Some(reason) => reason,
            // Unreachable: the sender lives as long as `self`, borrowed here.
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_waiter_learns_when_its_shard_becomes_unavailable() {
        let health = Arc::new(ShardHealth::new(2));
        assert_eq!(health.unavailable(1), None);
        let waiting = tokio::spawn({
            let health = health.clone();
            async move { health.until_unavailable(1).await }
        });
        health.set_unavailable(0, "another shard's trouble");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "shard 0's trouble is not shard 1's");
        health.set_unavailable(1, "the store is unreachable");
        let reason = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken").expect("no panic");
        assert_eq!(&*reason, "the store is unreachable");
        assert_eq!(health.unavailable(1).as_deref(), Some("the store is unreachable"));
        health.set_available(1);
        assert_eq!(health.unavailable(1), None);
    }

    #[tokio::test]
    async fn an_unavailable_shard_answers_waiters_at_once() {
        let health = ShardHealth::new(1);
        health.set_unavailable(0, "down");
        let reason = tokio::time::timeout(Duration::from_secs(1), health.until_unavailable(0)).await.expect("at once");
        assert_eq!(&*reason, "down");
    }
}
