//! Wakes readers waiting for a run's history to grow (history long polls,
//! `handle.result()`), without polling the store.

use dashmap::DashMap;
use tokio::sync::watch;

use crate::store::RunKey;

/// How far a run's stored history reaches, and how often its state changed
/// (an update's progress may change the state without an event).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunProgress {
    pub next_event_id: i64,
    pub closed: bool,
    pub state_transitions: i64,
}

impl RunProgress {
    pub fn of(state: &temper_proto::records::WorkflowMutableState) -> Self {
        let info = state.info.as_ref();
        RunProgress {
            next_event_id: info.map(|i| i.next_event_id).unwrap_or(1),
            closed: info.is_some_and(|i| i.close_time.is_some()),
            state_transitions: info.map(|i| i.state_transition_count).unwrap_or_default(),
        }
    }

    /// The progress that reaches further; notifications may arrive out of order.
    pub fn further(self, seen: RunProgress) -> RunProgress {
        if (seen.next_event_id, seen.state_transitions) >= (self.next_event_id, self.state_transitions) { seen } else { self }
    }
}

#[derive(Default)]
pub struct HistoryNotifier {
    watchers: DashMap<RunKey, watch::Sender<RunProgress>>,
}

impl HistoryNotifier {
    /// Subscribe before reading the store, so no change slips between. The
    /// run stays watched while the returned watch lives, however its reader
    /// ends (answered, timed out, or dropped by a client that gave up).
    pub fn subscribe(&self, run: &RunKey) -> RunWatch<'_> {
        let changes = self.watchers.entry(run.clone()).or_insert_with(|| watch::channel(RunProgress::default()).0).subscribe();
        RunWatch { notifier: self, run: run.clone(), changes: Some(changes) }
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
            self.release(run);
        }
    }

    /// Forgets a run's watcher once nobody listens, so runs that never change
    /// again leave nothing behind.
    fn release(&self, run: &RunKey) {
        self.watchers.remove_if(run, |_, sender| sender.receiver_count() == 0);
    }

    /// How many runs are watched.
    pub fn watched_runs(&self) -> usize {
        self.watchers.len()
    }

    /// How many readers wait on a run, over all runs.
    pub fn watchers(&self) -> usize {
        self.watchers.iter().map(|sender| sender.receiver_count()).sum()
    }
}

/// One reader's subscription to a run's progress.
pub struct RunWatch<'a> {
    notifier: &'a HistoryNotifier,
    run: RunKey,
    /// Always set until dropped; taken in `drop` so the run can be released
    /// once this receiver is gone.
    changes: Option<watch::Receiver<RunProgress>>,
}

impl RunWatch<'_> {
    /// The next published progress, or `None` if the notifier went away.
    pub async fn changed(&mut self) -> Option<RunProgress> {
        let changes = self.changes.as_mut()?;
        changes.changed().await.ok()?;
        Some(*changes.borrow_and_update())
    }
}

impl Drop for RunWatch<'_> {
    fn drop(&mut self) {
        drop(self.changes.take());
        self.notifier.release(&self.run);
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
        notifier.publish(&run(), RunProgress { next_event_id: 7, closed: false, state_transitions: 1 });
        assert_eq!(changes.changed().await.map(|p| p.next_event_id), Some(7));
        drop(changes);
        assert_eq!(notifier.watched_runs(), 0);
    }

    #[tokio::test]
    async fn a_waiter_dropped_mid_wait_frees_its_run_but_not_a_run_others_watch() {
        let notifier = HistoryNotifier::default();
        let staying = notifier.subscribe(&run());
        let mut leaving = notifier.subscribe(&run());
        {
            let wait = leaving.changed();
            let abandoned = tokio::time::timeout(std::time::Duration::from_millis(10), wait).await;
            assert!(abandoned.is_err(), "nothing was published");
        }
        drop(leaving);
        assert_eq!((notifier.watched_runs(), notifier.watchers()), (1, 1));
        drop(staying);
        assert_eq!((notifier.watched_runs(), notifier.watchers()), (0, 0));
    }
}
