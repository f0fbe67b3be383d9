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

    /// Forgets a run's watcher once nobody listens; a waiter calls it after
    /// dropping its receiver, so runs that never change again leave nothing behind.
    pub fn release(&self, run: &RunKey) {
        self.watchers.remove_if(run, |_, sender| sender.receiver_count() == 0);
    }

    /// How many runs are watched (for tests).
    pub fn watched_runs(&self) -> usize {
        self.watchers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunKey {
        RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() }
    }

    #[tokio::test]
    async fn a_waiter_sees_later_progress_and_leaves_nothing_behind() {
        let notifier = HistoryNotifier::default();
        let mut changes = notifier.subscribe(&run());
        notifier.publish(&run(), RunProgress { next_event_id: 7, closed: false });
        changes.changed().await.expect("a change");
        assert_eq!(changes.borrow().next_event_id, 7);
        drop(changes);
        notifier.release(&run());
        assert_eq!(notifier.watched_runs(), 0);
    }
}
