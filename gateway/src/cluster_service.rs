//! The gateway's end of `temper.v1.Cluster`: engines in other processes
//! deliver the outcomes of this process's requests, and the progress of the
//! runs they commit (which wakes history long polls here).

use std::sync::Arc;

use temper_engine::notify::HistoryNotifier;
use temper_engine::replies::wire::{decode_progress, decode_reply};
use temper_engine::replies::{LocalReplies, ReplySink};
use temper_proto::records::cluster_server::{Cluster, ClusterServer};
use temper_proto::records::{DeliverRepliesRequest, DeliverRepliesResponse, ReplyTo, ShardAcquired};
use tonic::{Request, Response, Status};

/// Largest batch accepted: a batch holds everything an engine queued for
/// this gateway while its previous call was in flight, and one reply can
/// carry a workflow task's transient events with their payloads.
const MAX_BATCH_BYTES: usize = 256 * 1024 * 1024;

pub struct ClusterService {
    replies: Arc<LocalReplies>,
    notifier: Arc<HistoryNotifier>,
}

/// The service to add to the gateway's gRPC server; `replies` is what the
/// gateway's requests register with, `notifier` what its long polls wait on.
pub fn cluster_service(replies: Arc<LocalReplies>, notifier: Arc<HistoryNotifier>) -> ClusterServer<ClusterService> {
    ClusterServer::new(ClusterService { replies, notifier }).max_decoding_message_size(MAX_BATCH_BYTES)
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn deliver_replies(&self, request: Request<DeliverRepliesRequest>) -> Result<Response<DeliverRepliesResponse>, Status> {
        let DeliverRepliesRequest { gateway, replies, progress, acquired } = request.into_inner();
        // Progress and shards acquired concern any incarnation, so they are
        // taken even from a batch refused below.
        for ShardAcquired { shard, applied_offset } in acquired {
            self.replies.shard_acquired(shard, applied_offset);
        }
        for entry in progress {
            let (run, progress) = decode_progress(entry);
            self.notifier.publish(&run, progress);
        }
        if replies.is_empty() {
            return Ok(Response::new(DeliverRepliesResponse {}));
        }
        if gateway != self.replies.incarnation() {
            return Err(Status::failed_precondition(format!(
                "replies for gateway incarnation {gateway}, this is incarnation {}",
                self.replies.incarnation()
            )));
        }
        for reply in replies {
            match decode_reply(reply) {
                Ok((request, result)) => {
                    self.replies.deliver(&ReplyTo { gateway, request, address: String::new() }, result);
                }
                Err(error) => tracing::warn!(%error, "skipping a reply this gateway cannot read"),
            }
        }
        Ok(Response::new(DeliverRepliesResponse {}))
    }
}
