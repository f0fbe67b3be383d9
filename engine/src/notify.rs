//! Wakes readers waiting for a run's history to grow (history long polls,
//! `handle.result()`), without polling the store.

use dashmap::DashMap;
use tokio::sync::watch;

use crate::store::RunKey;

/// How far a run's stored history reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunProgress {
    pub next_event_id: i64,
    pub closed: bool,
}

#[derive(Default)]
pub struct HistoryNotifier {
    watchers: DashMap<RunKey, watch::Sender<RunProgress>>,
}

impl HistoryNotifier {
    /// Subscribe before reading the store, so no change slips between.
    pub fn subscribe(&self, run: &RunKey) -> watch::Receiver<RunProgress> {
        self.watchers.entry(run.clone()).or_insert_with(|| watch::channel(RunProgress::default()).0).subscribe()
    }

    pub fn publish(&self, run: &RunKey, progress: RunProgress) {
        let unwatched = match self.watchers.get(run) {
            Some(sender) => {
                sender.send_replace(progress);
                sender.receiver_count() == 0
            }
            None => false,
        };
        if unwatched {
            self.watchers.remove_if(run, |_, sender| sender.receiver_count() == 0);
        }
    }

    /// Drops watchers nobody listens to any more.
    pub fn prune(&self) {
        self.watchers.retain(|_, sender| sender.receiver_count() > 0);
    }
}
