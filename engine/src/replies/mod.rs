//! How the engine answers the gateway request that appended a command.
//!
//! Commands carry a [`ReplyTo`]: the gateway process (by incarnation and
//! cluster address) and its request. In one process the answer goes straight
//! through a channel ([`LocalReplies`]); across processes it is sent to the
//! gateway's address ([`RemoteReplies`]). A command replayed after a restart
//! names an incarnation that no longer exists and its answer is dropped, as
//! nobody waits for it.

mod remote;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use temper_proto::records::ReplyTo;
use tokio::sync::oneshot;

pub use remote::RemoteReplies;

use crate::notify::RunProgress;
use crate::state_machine::CommandError;
use crate::state_machine::commands::Reply;
use crate::store::RunKey;

pub type CommandResult = Result<Reply, CommandError>;

/// Called by shard processors right after a commit; implementations must
/// not block (they run on the shard's task, ahead of its next batch).
pub trait ReplySink: Send + Sync + 'static {
    fn deliver(&self, to: &ReplyTo, result: CommandResult);

    /// The runs one commit changed. Gateways in this process learn it from
    /// the engine's notifier directly; this is for those in other processes.
    fn progressed(&self, _runs: &[(RunKey, RunProgress)]) {}
}

/// Replies within one process.
pub struct LocalReplies {
    incarnation: u64,
    /// Where other processes reach this one; empty when all roles share it.
    address: String,
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
    /// `incarnation` must differ between process starts (and not be 0).
    pub fn new(incarnation: u64) -> Self {
        Self::with_address(incarnation, String::new())
    }

    /// For a gateway that engines in other processes answer at `address`
    /// (host:port of its gRPC server, which serves `temper.v1.Cluster`).
    pub fn with_address(incarnation: u64, address: impl Into<String>) -> Self {
        LocalReplies { incarnation, address: address.into(), next_request: AtomicU64::new(1), waiting: DashMap::new() }
    }

    /// Requests waiting for the engine's answer.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn register(&self) -> PendingReply<'_> {
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.waiting.insert(request, sender);
        let reply_to = ReplyTo { gateway: self.incarnation, request, address: self.address.clone() };
        PendingReply { reply_to, receiver, owner: self }
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
