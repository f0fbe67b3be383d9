//! How the engine answers the gateway request that appended a command.
//!
//! Commands carry a [`ReplyTo`]: the gateway process (by incarnation) and its
//! request. In one process the answer goes straight through a channel; a
//! command replayed after a restart names an incarnation that no longer
//! exists and its answer is dropped, as nobody waits for it.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use temper_proto::records::ReplyTo;
use tokio::sync::oneshot;

use crate::state_machine::CommandError;
use crate::state_machine::commands::Reply;

pub type CommandResult = Result<Reply, CommandError>;

pub trait ReplySink: Send + Sync + 'static {
    fn deliver(&self, to: &ReplyTo, result: CommandResult);
}

/// Replies within one process.
pub struct LocalReplies {
    incarnation: u64,
    next_request: AtomicU64,
    waiting: DashMap<u64, oneshot::Sender<CommandResult>>,
}

/// A registered request; dropping it (say, the client went away) forgets it.
pub struct PendingReply<'a> {
    pub reply_to: ReplyTo,
    receiver: oneshot::Receiver<CommandResult>,
    owner: &'a LocalReplies,
}

impl LocalReplies {
    /// `incarnation` must differ between process starts.
    pub fn new(incarnation: u64) -> Self {
        LocalReplies { incarnation, next_request: AtomicU64::new(1), waiting: DashMap::new() }
    }

    pub fn register(&self) -> PendingReply<'_> {
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.waiting.insert(request, sender);
        PendingReply { reply_to: ReplyTo { gateway: self.incarnation, request }, receiver, owner: self }
    }
}

impl PendingReply<'_> {
    /// Waits for the engine's answer; `None` if the engine dropped it.
    pub async fn wait(mut self) -> Option<CommandResult> {
        (&mut self.receiver).await.ok()
    }
}

impl Drop for PendingReply<'_> {
    fn drop(&mut self) {
        self.owner.waiting.remove(&self.reply_to.request);
    }
}

impl ReplySink for LocalReplies {
    fn deliver(&self, to: &ReplyTo, result: CommandResult) {
        if to.gateway != self.incarnation {
            return;
        }
        if let Some((_, sender)) = self.waiting.remove(&to.request) {
            let _ = sender.send(result);
        }
    }
}
