//! Reading the visibility index with read-your-writes.
//!
//! The engine answers a command that changes what lists show (a start, a
//! close, a search attribute or memo change) only once the run's summary is
//! in the `visibility` log. A list or count first notes where each
//! `visibility` partition ends, then waits until the index has applied
//! that far, so it sees every change acknowledged before it began. The wait
//! is bounded by [`FRESHNESS_BOUND`]: a projection that fell further behind
//! (it is rebuilding, or the log cannot be read) answers with what it has
//! rather than not at all, as Temporal's eventually consistent visibility
//! always does.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use temper_engine::log::{Log, LogName};
use tokio::time::Instant;

use temper_proto::api::enums::v1::IndexedValueType;
use temper_proto::records::visibility_client::VisibilityClient;
use temper_proto::records::visibility_server::{Visibility, VisibilityServer};
use temper_proto::records::{CountRunsRequest, CountRunsResponse, ListRunsRequest, ListRunsResponse, StatusCount};

use crate::index::{Count, IndexError, ListPage, ListRequest, SearchAttributeTypes, VisibilityIndex};
use crate::query::Query;

/// The longest a read waits for the index to catch up with the log.
pub const FRESHNESS_BOUND: Duration = Duration::from_secs(2);

/// What the gateway lists and counts with.
#[async_trait]
pub trait VisibilityReader: Send + Sync {
    async fn list(&self, request: ListRequest) -> Result<ListPage, IndexError>;
    async fn count(&self, namespace_id: &str, query: Query, attributes: SearchAttributeTypes) -> Result<Count, IndexError>;
}

/// The index of a projection in this process.
pub struct LocalReader {
    pub index: Arc<VisibilityIndex>,
    pub log: Arc<dyn Log>,
}

impl LocalReader {
    /// Waits until the index has applied every partition as far as it
    /// reaches now, or [`FRESHNESS_BOUND`] passed.
    async fn caught_up(&self) {
        let deadline = Instant::now() + FRESHNESS_BOUND;
        for partition in 0..self.log.layout().visibility {
            let Ok(end) = self.log.end_offset(LogName::Visibility, partition).await else {
                tracing::warn!(partition, "reading where the visibility log ends failed; answering without waiting");
                return;
            };
            if !self.index.wait_applied(partition, end, deadline).await {
                tracing::warn!(partition, end, "the visibility index did not catch up in time; answering with what it has");
                return;
            }
        }
    }
}

#[async_trait]
impl VisibilityReader for LocalReader {
    async fn list(&self, request: ListRequest) -> Result<ListPage, IndexError> {
        self.caught_up().await;
        self.index.list(request).await
    }

    async fn count(&self, namespace_id: &str, query: Query, attributes: SearchAttributeTypes) -> Result<Count, IndexError> {
        self.caught_up().await;
        self.index.count(namespace_id, &query, &attributes).await
    }
}

/// The index of the projections processes of a cluster, asked by gRPC
/// (`temper.v1.Visibility`): each holds a full copy, so any live one
/// answers; calls go round the live ones in turn, and on to the next when
/// one cannot be reached.
pub struct RemoteReader {
    /// The addresses of the live projections processes.
    pub projections: tokio::sync::watch::Receiver<Vec<String>>,
    clients: dashmap::DashMap<String, VisibilityClient<tonic::transport::Channel>>,
    turn: std::sync::atomic::AtomicUsize,
}

/// The largest page a projection sends back.
const MAX_LIST_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

impl RemoteReader {
    pub fn new(projections: tokio::sync::watch::Receiver<Vec<String>>) -> Self {
        RemoteReader { projections, clients: dashmap::DashMap::new(), turn: Default::default() }
    }

    /// The live projections processes, starting with the one whose turn it is.
    fn in_turn(&self) -> Vec<String> {
        let mut addresses = self.projections.borrow().clone();
        if !addresses.is_empty() {
            let first = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % addresses.len();
            addresses.rotate_left(first);
        }
        addresses
    }

    fn client(&self, address: &str) -> Result<VisibilityClient<tonic::transport::Channel>, IndexError> {
        if let Some(client) = self.clients.get(address) {
            return Ok(client.clone());
        }
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .map_err(|error| IndexError::Storage(format!("projections address `{address}` is not usable: {error}")))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2));
        let client = VisibilityClient::new(endpoint.connect_lazy()).max_decoding_message_size(MAX_LIST_MESSAGE_BYTES);
        self.clients.insert(address.to_string(), client.clone());
        Ok(client)
    }

    /// Asks the live projections processes in turn until one answers; an
    /// answer that is an error about the request itself is final.
    async fn ask<T, F, Fut>(&self, call: F) -> Result<T, IndexError>
    where
        F: Fn(VisibilityClient<tonic::transport::Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut last = "no projections process is running in the cluster".to_string();
        for address in self.in_turn() {
            match call(self.client(&address)?).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if status.code() == tonic::Code::InvalidArgument => return Err(index_error_of(&status)),
                Err(status) => last = format!("projections process {address}: {}", status.message()),
            }
        }
        Err(IndexError::Storage(last))
    }
}

#[async_trait]
impl VisibilityReader for RemoteReader {
    async fn list(&self, request: ListRequest) -> Result<ListPage, IndexError> {
        let message = ListRunsRequest {
            namespace_id: request.namespace_id,
            query: request.query.to_string(),
            search_attribute_types: wire_types(&request.attributes),
            page_size: u32::try_from(request.page_size).unwrap_or(u32::MAX),
            next_page_token: request.next_page_token,
        };
        let response = self.ask(|mut client| {
            let message = message.clone();
            async move { client.list_runs(message).await }
        })
        .await?;
        Ok(ListPage { executions: response.runs, next_page_token: response.next_page_token })
    }

    async fn count(&self, namespace_id: &str, query: Query, attributes: SearchAttributeTypes) -> Result<Count, IndexError> {
        let message =
            CountRunsRequest { namespace_id: namespace_id.to_string(), query: query.to_string(), search_attribute_types: wire_types(&attributes) };
        let response = self.ask(|mut client| {
            let message = message.clone();
            async move { client.count_runs(message).await }
        })
        .await?;
        Ok(if response.grouped {
            Count::ByStatus(response.groups.into_iter().map(|group| (group.status, group.count)).collect())
        } else {
            Count::Total(response.total)
        })
    }
}

fn wire_types(attributes: &SearchAttributeTypes) -> std::collections::HashMap<String, i32> {
    attributes.iter().map(|(name, kind)| (name.clone(), *kind as i32)).collect()
}

fn types_of(wire: std::collections::HashMap<String, i32>) -> Result<SearchAttributeTypes, tonic::Status> {
    wire.into_iter()
        .map(|(name, kind)| match IndexedValueType::try_from(kind) {
            Ok(kind) => Ok((name, kind)),
            Err(_) => Err(tonic::Status::invalid_argument(format!("search attribute `{name}` has an unknown type {kind}"))),
        })
        .collect()
}

/// How an index error travels between processes, and back.
fn status_of(error: IndexError) -> tonic::Status {
    match error {
        IndexError::InvalidQuery { position, message } => {
            tonic::Status::with_details(tonic::Code::InvalidArgument, message, bytes::Bytes::from(format!("query:{position}")))
        }
        IndexError::InvalidPageToken(message) => {
            tonic::Status::with_details(tonic::Code::InvalidArgument, message, bytes::Bytes::from_static(b"token"))
        }
        IndexError::Storage(message) => tonic::Status::unavailable(message),
    }
}

fn index_error_of(status: &tonic::Status) -> IndexError {
    let message = status.message().to_string();
    match std::str::from_utf8(status.details()).unwrap_or_default() {
        "token" => IndexError::InvalidPageToken(message),
        details => match details.strip_prefix("query:").and_then(|position| position.parse().ok()) {
            Some(position) => IndexError::InvalidQuery { position, message },
            None => IndexError::InvalidQuery { position: 0, message },
        },
    }
}

/// The `temper.v1.Visibility` service of a projections process.
pub struct VisibilityService {
    pub reader: LocalReader,
}

impl VisibilityService {
    pub fn server(self) -> VisibilityServer<VisibilityService> {
        VisibilityServer::new(self).max_encoding_message_size(MAX_LIST_MESSAGE_BYTES)
    }
}

#[async_trait]
impl Visibility for VisibilityService {
    async fn list_runs(&self, request: tonic::Request<ListRunsRequest>) -> Result<tonic::Response<ListRunsResponse>, tonic::Status> {
        let request = request.into_inner();
        let query = crate::query::parse(&request.query).map_err(|error| tonic::Status::invalid_argument(error.to_string()))?;
        let list = ListRequest {
            namespace_id: request.namespace_id,
            query,
            attributes: types_of(request.search_attribute_types)?,
            page_size: usize::try_from(request.page_size).unwrap_or(usize::MAX),
            next_page_token: request.next_page_token,
        };
        let page = self.reader.list(list).await.map_err(status_of)?;
        Ok(tonic::Response::new(ListRunsResponse { runs: page.executions, next_page_token: page.next_page_token }))
    }

    async fn count_runs(&self, request: tonic::Request<CountRunsRequest>) -> Result<tonic::Response<CountRunsResponse>, tonic::Status> {
        let request = request.into_inner();
        let query = crate::query::parse(&request.query).map_err(|error| tonic::Status::invalid_argument(error.to_string()))?;
        let count = self.reader.count(&request.namespace_id, query, types_of(request.search_attribute_types)?).await.map_err(status_of)?;
        Ok(tonic::Response::new(match count {
            Count::Total(total) => CountRunsResponse { total, grouped: false, groups: Vec::new() },
            Count::ByStatus(groups) => CountRunsResponse {
                total: groups.iter().map(|(_, count)| count).sum(),
                grouped: true,
                groups: groups.into_iter().map(|(status, count)| StatusCount { status, count }).collect(),
            },
        }))
    }
}
