//! Which gateway matches a task queue, when gateways run as separate
//! processes.
//!
//! A task queue's tasks land in one `tasks` log partition (by namespace and
//! queue name), and each partition is read by exactly one live gateway: the
//! gateways spread the partitions among themselves from the membership table
//! the same way engines spread shards. Every call that meets a queue's
//! pollers or backlog (polls, queries, a query's answer, DescribeTaskQueue,
//! ShutdownWorker) is served by that gateway; any other gateway forwards the
//! call to it unchanged, marked so it is not forwarded again. A worker may
//! therefore poll any gateway, sync match works as in one process, and a
//! task still goes to one poller only. When the owning gateway dies, the
//! forwarded polls fail, the SDK polls again, and once the dead gateway's
//! lease runs out another gateway reads the partition from its stored ack
//! level: tasks handed out already are refused by the engine as started,
//! none is lost.

use std::time::Duration;

use dashmap::DashMap;
use temper_engine::partitioning::task_partition_of;
use temper_proto::service::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::errors::{ApiError, ApiResult};

/// Metadata a forwarding gateway adds, so the receiving one serves the call.
pub const FORWARDED_HEADER: &str = "temper-forwarded";

/// Largest message a forwarded call's answer may be (as the server sends).
const MAX_FORWARDED_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

pub struct QueueRouter {
    own_address: String,
    partitions: u32,
    /// The address of the gateway reading each `tasks` partition; empty
    /// while none does.
    owners: watch::Receiver<Vec<String>>,
    clients: DashMap<String, WorkflowServiceClient<Channel>>,
}

impl QueueRouter {
    pub fn new(own_address: String, partitions: u32, owners: watch::Receiver<Vec<String>>) -> Self {
        QueueRouter { own_address, partitions, owners, clients: DashMap::new() }
    }

    /// This gateway's address, as the others reach it.
    pub fn own_address(&self) -> &str {
        &self.own_address
    }

    /// `None` when this gateway serves the queue, else a client of the one that does.
    pub fn elsewhere(&self, namespace_id: &str, queue: &str) -> ApiResult<Option<WorkflowServiceClient<Channel>>> {
        let partition = task_partition_of(namespace_id, queue, self.partitions);
        let owner = self.owners.borrow().get(partition as usize).cloned().unwrap_or_default();
        if owner.is_empty() {
            return Err(ApiError::Unavailable(format!(
                "No gateway serves task queue `{queue}` (tasks partition {partition}) right now; retry shortly."
            )));
        }
        self.at(&owner)
    }

    /// `None` when `address` is this gateway, else a client of it.
    pub fn at(&self, address: &str) -> ApiResult<Option<WorkflowServiceClient<Channel>>> {
        if address.is_empty() || address == self.own_address {
            return Ok(None);
        }
        if let Some(client) = self.clients.get(address) {
            return Ok(Some(client.clone()));
        }
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|error| ApiError::Unavailable(format!("gateway address `{address}` is not usable: {error}")))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2));
        let client = WorkflowServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_FORWARDED_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_FORWARDED_MESSAGE_BYTES);
        self.clients.insert(address.to_string(), client.clone());
        Ok(Some(client))
    }
}

/// A call to pass on to the gateway that serves it, within what is left of
/// the caller's deadline.
pub fn forwarded<T>(message: T, deadline: Instant) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
    request.metadata_mut().insert(FORWARDED_HEADER, tonic::metadata::MetadataValue::from_static("1"));
    request
}

/// Whether a call came from another gateway.
pub fn is_forwarded(metadata: &tonic::metadata::MetadataMap) -> bool {
    metadata.contains_key(FORWARDED_HEADER)
}

/// The answer of the gateway a call was forwarded to, passed back as it came.
pub fn answer_of<T>(result: Result<tonic::Response<T>, tonic::Status>) -> ApiResult<T> {
    result.map(tonic::Response::into_inner).map_err(ApiError::Forwarded)
}
