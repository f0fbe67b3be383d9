//! Replies and run progress for gateways in other processes, sent by gRPC
//! (`temper.v1.Cluster.DeliverReplies`) to each gateway's cluster address.
//!
//! Shard processors hand over replies synchronously after each commit, so
//! handing over only queues: one task per gateway address sends whatever
//! queued while its previous call was in flight, in one call. A failed call
//! is dropped, not retried: the waiting request times out, or its client
//! retries with the same request id, which the engine answers idempotently.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use prost::Message;
use temper_proto::records::cluster_client::ClusterClient;
use temper_proto::records::{CommandReply, DeliverRepliesRequest, ReplyTo, RunProgressEntry, ShardAcquired};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tonic::transport::{Channel, Endpoint};

use super::wire::{encode_progress, encode_reply};
use super::{CommandResult, LocalReplies, ReplySink};
use crate::notify::RunProgress;
use crate::store::RunKey;

/// Most replies, and most progress entries, queued for one gateway; beyond
/// that the gateway is not keeping up (or is gone) and more are dropped.
const MAX_QUEUED: usize = 10_000;
/// Most bytes of replies queued for one gateway (one reply more is always
/// taken into an empty queue, however large).
const MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;
/// A call carries at most about this many bytes of replies (and at least
/// one reply), well below what the gateway accepts in one message.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// A gateway address with nothing to send for this long loses its task and
/// connection (it left, or its requests all go elsewhere).
const IDLE: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failed call the next waits this long (gathering what queues
/// meanwhile), so a gateway that is gone costs a few calls and log lines a
/// second rather than one per commit.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_millis(250);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers requests of gateways in this process directly and sends the rest.
pub struct RemoteReplies {
    local: Arc<LocalReplies>,
    /// Every gateway's cluster address, this process's own included or not.
    gateways: watch::Receiver<Vec<String>>,
    destinations: Arc<DashMap<String, Destination>>,
    runtime: Handle,
}

/// What waits for one gateway address, and the wake-up of its sender task.
struct Destination {
    queue: Queue,
    wake: Arc<Notify>,
}

#[derive(Default)]
struct Queue {
    replies: Vec<QueuedReply>,
    /// Encoded size of `replies`.
    bytes: usize,
    progress: Vec<RunProgressEntry>,
    /// Never dropped: one per shard taken, and without it a request waits
    /// for an answer that will not come.
    acquired: Vec<ShardAcquired>,
    dropped_replies: usize,
    dropped_progress: usize,
}

struct QueuedReply {
    /// The incarnation of the gateway it is for.
    gateway: u64,
    reply: CommandReply,
    bytes: usize,
}

impl RemoteReplies {
    /// Requests registered with `local` (whose address is this process's own
    /// cluster address, if it runs a gateway) are answered without a call.
    /// `gateways` lists the cluster address of every live gateway. Must be
    /// called within a tokio runtime, which runs the sender tasks.
    pub fn new(local: Arc<LocalReplies>, gateways: watch::Receiver<Vec<String>>) -> Self {
        RemoteReplies { local, gateways, destinations: Arc::new(DashMap::new()), runtime: Handle::current() }
    }

    fn is_local(&self, address: &str) -> bool {
        address.is_empty() || address == self.local.address()
    }

    /// Queues for `address` (under its map entry's lock, so its sender task
    /// cannot retire it in between) and wakes the task.
    fn enqueue(&self, address: &str, push: impl FnOnce(&mut Queue)) {
        let mut destination = self.destinations.entry(address.to_string()).or_insert_with(|| self.start_sender(address));
        push(&mut destination.queue);
        destination.wake.notify_one();
    }

    fn start_sender(&self, address: &str) -> Destination {
        let wake = Arc::new(Notify::new());
        self.runtime.spawn(send_queued(address.to_string(), self.destinations.clone(), wake.clone()));
        Destination { queue: Queue::default(), wake }
    }
}

impl ReplySink for RemoteReplies {
    fn deliver(&self, to: &ReplyTo, result: CommandResult) {
        if self.is_local(&to.address) {
            return self.local.deliver(to, result);
        }
        let reply = encode_reply(to.request, result);
        self.enqueue(&to.address, |queue| queue.push_reply(to.gateway, reply));
    }

    fn progressed(&self, runs: &[(RunKey, RunProgress)]) {
        if runs.is_empty() {
            return;
        }
        let entries: Vec<RunProgressEntry> = runs.iter().map(|(run, progress)| encode_progress(run, *progress)).collect();
        let gateways = self.gateways.borrow();
        for address in gateways.iter().filter(|address| !self.is_local(address)) {
            self.enqueue(address, |queue| queue.push_progress(&entries));
        }
    }

    fn shard_acquired(&self, shard: u32, applied_offset: i64) {
        self.local.shard_acquired(shard, applied_offset);
        let gateways = self.gateways.borrow();
        for address in gateways.iter().filter(|address| !self.is_local(address)) {
            self.enqueue(address, |queue| queue.acquired.push(ShardAcquired { shard, applied_offset }));
        }
    }
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.replies.is_empty()
            && self.progress.is_empty()
            && self.acquired.is_empty()
            && self.dropped_replies == 0
            && self.dropped_progress == 0
    }

    fn push_reply(&mut self, gateway: u64, reply: CommandReply) {
        let bytes = reply.encoded_len();
        let room = self.replies.len() < MAX_QUEUED && self.bytes + bytes <= MAX_QUEUED_BYTES;
        if room || self.replies.is_empty() {
            self.replies.push(QueuedReply { gateway, reply, bytes });
            self.bytes += bytes;
        } else {
            self.dropped_replies += 1;
        }
    }

    fn push_progress(&mut self, entries: &[RunProgressEntry]) {
        let kept = entries.len().min(MAX_QUEUED.saturating_sub(self.progress.len()));
        self.progress.extend_from_slice(&entries[..kept]);
        self.dropped_progress += entries.len() - kept;
    }

    /// The calls that carry the queue: replies in order, split by the
    /// incarnation they are for (almost always one) and by size; the
    /// progress and the shards acquired go along with the first call.
    /// Gateways take those from any call, whatever incarnation it names.
    fn into_requests(mut self) -> Vec<DeliverRepliesRequest> {
        self.replies.sort_by_key(|queued| queued.gateway);
        let mut requests: Vec<DeliverRepliesRequest> = Vec::new();
        let mut batch_bytes = 0;
        for QueuedReply { gateway, reply, bytes } in self.replies {
            match requests.last_mut() {
                Some(request) if request.gateway == gateway && batch_bytes + bytes <= MAX_BATCH_BYTES => request.replies.push(reply),
                _ => {
                    requests.push(DeliverRepliesRequest { gateway, replies: vec![reply], ..Default::default() });
                    batch_bytes = 0;
                }
            }
            batch_bytes += bytes;
        }
        let (progress, acquired) = (self.progress, self.acquired);
        match requests.first_mut() {
            Some(first) => (first.progress, first.acquired) = (progress, acquired),
            None if !progress.is_empty() || !acquired.is_empty() => {
                requests.push(DeliverRepliesRequest { gateway: 0, replies: Vec::new(), progress, acquired });
            }
            None => {}
        }
        requests
    }
}

/// The sender task of one gateway address: sends what queued, one batch at
/// a time, until the address has been idle a while.
async fn send_queued(address: String, destinations: Arc<DashMap<String, Destination>>, wake: Arc<Notify>) {
    let mut client = None;
    loop {
        if tokio::time::timeout(IDLE, wake.notified()).await.is_err() {
            // Retired under the entry's lock, so nothing is queued after the check.
            if destinations.remove_if(&address, |_, destination| destination.queue.is_empty()).is_some() {
                return;
            }
            continue;
        }
        let Some(queue) = destinations.get_mut(&address).map(|mut destination| std::mem::take(&mut destination.queue)) else {
            return;
        };
        if queue.dropped_replies + queue.dropped_progress > 0 {
            tracing::warn!(
                gateway = %address,
                replies = queue.dropped_replies,
                progress = queue.dropped_progress,
                "the gateway does not keep up: dropped replies and run progress beyond what may queue for it"
            );
        }
        let mut failed = false;
        for request in queue.into_requests() {
            failed |= !send(&address, &mut client, request).await;
        }
        if failed {
            tokio::time::sleep(PAUSE_AFTER_FAILURE).await;
        }
    }
}

/// One call, and whether it succeeded; on failure the batch is dropped (see
/// the module comment) and the next call connects afresh.
async fn send(address: &str, client: &mut Option<ClusterClient<Channel>>, request: DeliverRepliesRequest) -> bool {
    let (replies, progress) = (request.replies.len(), request.progress.len());
    let outcome = match client {
        Some(client) => client.deliver_replies(request).await.map(drop),
        None => match connect(address) {
            Ok(connected) => client.insert(connected).deliver_replies(request).await.map(drop),
            Err(error) => Err(tonic::Status::invalid_argument(format!("bad gateway address: {error}"))),
        },
    };
    if let Err(status) = outcome {
        tracing::warn!(gateway = %address, replies, progress, %status, "delivering replies to a gateway failed; dropped them");
        if status.code() != tonic::Code::FailedPrecondition {
            *client = None;
        }
        return false;
    }
    true
}

fn connect(address: &str) -> Result<ClusterClient<Channel>, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))?
        .tcp_nodelay(true)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT);
    Ok(ClusterClient::new(endpoint.connect_lazy()))
}

#[cfg(test)]
mod tests {
    use temper_proto::records::AcceptedReply;
    use temper_proto::records::command_reply::Outcome;

    use super::*;

    fn reply(request: u64) -> CommandReply {
        CommandReply { request, outcome: Some(Outcome::Accepted(AcceptedReply {})) }
    }

    fn progress(run_id: &str) -> RunProgressEntry {
        RunProgressEntry { run_id: run_id.into(), next_event_id: 3, ..Default::default() }
    }

    /// (incarnation, requests, progress entries) of each call.
    fn calls(queue: Queue) -> Vec<(u64, Vec<u64>, usize)> {
        queue
            .into_requests()
            .into_iter()
            .map(|call| (call.gateway, call.replies.iter().map(|reply| reply.request).collect(), call.progress.len()))
            .collect()
    }

    #[test]
    fn one_call_per_incarnation_in_order_with_the_progress_on_the_first() {
        let mut queue = Queue::default();
        for (gateway, request) in [(5, 1), (4, 2), (5, 3)] {
            queue.push_reply(gateway, reply(request));
        }
        queue.push_progress(&[progress("a"), progress("b")]);
        assert_eq!(calls(queue), vec![(4, vec![2], 2), (5, vec![1, 3], 0)]);
    }

    #[test]
    fn progress_alone_names_no_incarnation() {
        let mut queue = Queue::default();
        queue.push_progress(&[progress("a")]);
        assert_eq!(calls(queue), vec![(0, vec![], 1)]);
        assert_eq!(calls(Queue::default()), vec![]);
    }

    #[test]
    fn shards_acquired_ride_the_first_call_or_one_of_their_own() {
        let acquired = |call: &DeliverRepliesRequest| call.acquired.iter().map(|a| (a.shard, a.applied_offset)).collect::<Vec<_>>();
        let mut queue = Queue::default();
        queue.push_reply(5, reply(1));
        queue.push_reply(6, reply(2));
        queue.acquired.push(ShardAcquired { shard: 3, applied_offset: 41 });
        let requests = queue.into_requests();
        assert_eq!(requests.iter().map(acquired).collect::<Vec<_>>(), vec![vec![(3, 41)], vec![]]);

        let mut queue = Queue::default();
        queue.acquired.push(ShardAcquired { shard: 0, applied_offset: -1 });
        assert!(!queue.is_empty());
        let requests = queue.into_requests();
        assert_eq!((requests.len(), requests[0].gateway, acquired(&requests[0])), (1, 0, vec![(0, -1)]));
    }

    #[test]
    fn large_replies_are_split_over_calls() {
        let large = |request| CommandReply {
            request,
            outcome: Some(Outcome::Started(temper_proto::records::StartedReply {
                run_id: "x".repeat(MAX_BATCH_BYTES / 2),
                started: true,
            })),
        };
        let mut queue = Queue::default();
        for request in 1..=3 {
            queue.push_reply(5, large(request));
        }
        queue.push_reply(5, reply(4));
        assert_eq!(calls(queue), vec![(5, vec![1], 0), (5, vec![2], 0), (5, vec![3, 4], 0)]);
    }

    #[test]
    fn a_full_queue_counts_what_it_drops() {
        let mut queue = Queue::default();
        for request in 0..MAX_QUEUED as u64 + 2 {
            queue.push_reply(5, reply(request));
        }
        let entries: Vec<_> = (0..MAX_QUEUED + 3).map(|i| progress(&i.to_string())).collect();
        queue.push_progress(&entries);
        assert_eq!((queue.replies.len(), queue.dropped_replies), (MAX_QUEUED, 2));
        assert_eq!((queue.progress.len(), queue.dropped_progress), (MAX_QUEUED, 3));
    }
}
