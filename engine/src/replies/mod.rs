//! How the engine answers the gateway request that appended a command.
//!
//! Commands carry a [`ReplyTo`]: the gateway process (by incarnation and
//! cluster address) and its request. In one process the answer goes straight
//! through a channel ([`LocalReplies`]); across processes it is sent to the
//! gateway's address ([`RemoteReplies`]). A command replayed after a restart
//! names an incarnation that no longer exists and its answer is dropped, as
//! nobody waits for it.
//!
//! An engine that dies between committing a command and sending its answer
//! leaves the request waiting for an answer nobody will send: the shard's
//! next owner starts after that command. So every engine tells every gateway
//! which shard it took and up to which offset earlier owners applied
//! ([`ReplySink::shard_acquired`]); a request whose command lies at or below
//! that offset and is still waiting is answered UNAVAILABLE at once, and its
//! client's retry with the same request id gets the command's outcome.

mod remote;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use temper_proto::records::ReplyTo;
use tokio::sync::oneshot;

pub use remote::RemoteReplies;

use crate::log::Offset;
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

    /// This process took `shard`, whose commands up to and including
    /// `applied_offset` earlier owners applied (and answered, unless they
    /// died first).
    fn shard_acquired(&self, shard: u32, applied_offset: i64);
}

/// Replies within one process.
pub struct LocalReplies {
    incarnation: u64,
    /// Where other processes reach this one; empty when all roles share it.
    address: String,
    next_request: AtomicU64,
    waiting: DashMap<u64, Waiter>,
    /// Per shard, the highest applied offset an engine took it at.
    acquired_at: DashMap<u32, i64>,
}

struct Waiter {
    sender: oneshot::Sender<CommandResult>,
    /// The shard and offset of the request's command, once appended.
    command_at: Option<(u32, Offset)>,
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
        LocalReplies {
            incarnation,
            address: address.into(),
            next_request: AtomicU64::new(1),
            waiting: DashMap::new(),
            acquired_at: DashMap::new(),
        }
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
        self.waiting.insert(request, Waiter { sender, command_at: None });
        let reply_to = ReplyTo { gateway: self.incarnation, request, address: self.address.clone() };
        PendingReply { reply_to, receiver, owner: self }
    }

    /// Records where the command landed, then answers the request at once
    /// if an engine already took `shard` past it (its owner then applied it
    /// and answered, or died first). Recorded before checking, while
    /// `shard_acquired` records before scanning: of a notice and an append
    /// racing, one of the two sees the other.
    fn appended(&self, request: u64, shard: u32, offset: Offset) {
        if let Some(mut waiter) = self.waiting.get_mut(&request) {
            waiter.command_at = Some((shard, offset));
        }
        if self.acquired_at.get(&shard).is_some_and(|applied| applied_before(offset, *applied)) {
            self.answer_lost(request, shard);
        }
    }

    fn answer_lost(&self, request: u64, shard: u32) {
        if let Some((_, waiter)) = self.waiting.remove(&request) {
            let message = format!(
                "Shard {shard} changed owner after applying this request; its answer was lost with the previous owner. Retry with the same request id to get the outcome."
            );
            let _ = waiter.sender.send(Err(CommandError::Unavailable(message)));
        }
    }
}

/// Whether the command at `offset` is among those applied up to `applied_offset`.
fn applied_before(offset: Offset, applied_offset: i64) -> bool {
    i64::try_from(offset).is_ok_and(|offset| offset <= applied_offset)
}

impl PendingReply<'_> {
    /// Records where the request's command landed in the commands log.
    pub fn appended(&self, shard: u32, offset: Offset) {
        self.owner.appended(self.reply_to.request, shard, offset);
    }

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
        if let Some((_, waiter)) = self.waiting.remove(&to.request) {
            let _ = waiter.sender.send(result);
        }
    }

    fn shard_acquired(&self, shard: u32, applied_offset: i64) {
        {
            let mut highest = self.acquired_at.entry(shard).or_insert(applied_offset);
            *highest = (*highest).max(applied_offset);
        }
        let lost: Vec<u64> = self
            .waiting
            .iter()
            .filter(|waiter| waiter.command_at.is_some_and(|(on, offset)| on == shard && applied_before(offset, applied_offset)))
            .map(|waiter| *waiter.key())
            .collect();
        for request in lost {
            self.answer_lost(request, shard);
        }
    }
}
