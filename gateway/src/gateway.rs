//! What every RPC handler works with, and the reads they share.

use std::sync::Arc;

use temper_engine::CommittedStates;
use temper_engine::notify::HistoryNotifier;
use temper_engine::partitioning::shard_of;
use temper_engine::store::{RawEvent, RunKey, Store, WorkflowKey};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_engine::state_machine::commands::Reply;
use temper_proto::records::command_record::Command;
use temper_proto::records::{TaskKind, TaskToken, WorkflowMutableState};

use temper_projections::reader::VisibilityReader;

use crate::bus::CommandBus;
use crate::errors::{ApiError, ApiResult};
use crate::matching::Matching;
use crate::matching::routing::QueueRouter;
use crate::namespaces::NamespaceRegistry;

/// What one request may carry; Temporal's defaults (see `Default`).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest payload (input, result, details, memo, failure) a request may
    /// carry: Temporal's blob size limit.
    pub max_payload_bytes: usize,
    /// Longest id or name (workflow id, task queue, namespace, signal name,
    /// ...): Temporal's `limit.maxIDLength`.
    pub max_id_length: usize,
    /// Largest whole request, enforced by the gRPC server: grpc-go's default,
    /// which Temporal keeps.
    pub max_request_bytes: usize,
    /// Deepest failure cause chain; prost decodes at most 100 nested
    /// messages, and a log record or stored state wraps a failure in a few
    /// more levels than the request did.
    pub max_failure_depth: usize,
    /// Shortest retention RegisterNamespace accepts, in nanoseconds
    /// (Temporal's `system.namespaceMinRetentionLocal`).
    pub min_namespace_retention_nanos: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 2 * 1024 * 1024,
            max_id_length: 1000,
            max_request_bytes: 4 * 1024 * 1024,
            max_failure_depth: 64,
            min_namespace_retention_nanos: 3600 * 1_000_000_000,
        }
    }
}

pub struct Gateway {
    pub store: Arc<dyn Store>,
    pub bus: CommandBus,
    pub notifier: Arc<HistoryNotifier>,
    pub namespaces: NamespaceRegistry,
    pub matching: Arc<Matching>,
    pub limits: Limits,
    pub shard_count: u32,
    /// The engine's committed states when it runs in this process: reads
    /// they answer skip the store.
    pub committed: Option<CommittedStates>,
    /// Which gateway serves each task queue, when there are several.
    pub router: Option<Arc<QueueRouter>>,
    /// Turns true when the gateway starts shutting down: history long polls
    /// answer with what they have, so their connections can close.
    pub draining: tokio::sync::watch::Sender<bool>,
    /// Where lists and counts are answered: this process's projection, or
    /// the projections processes of the cluster.
    pub visibility: Option<Arc<dyn VisibilityReader>>,
}

impl Gateway {
    /// A gateway of one shard, alone in its process with no engine of its
    /// own there (reads go to the store), on the `default` namespace: what
    /// tests of the services build.
    #[cfg(test)]
    pub async fn of_one_shard(
        log: Arc<dyn temper_engine::log::Log>,
        store: Arc<dyn Store>,
        replies: Arc<temper_engine::replies::LocalReplies>,
        health: Arc<temper_engine::health::ShardHealth>,
        notifier: Arc<HistoryNotifier>,
        matching: Arc<Matching>,
    ) -> Gateway {
        let gateway = Gateway {
            store: store.clone(),
            bus: CommandBus::new(log, replies, health),
            notifier,
            namespaces: NamespaceRegistry::new(store),
            matching,
            limits: Limits::default(),
            shard_count: 1,
            committed: None,
            router: None,
            draining: tokio::sync::watch::channel(false).0,
            visibility: None,
        };
        gateway.namespaces.ensure("default", 1).await.expect("the default namespace");
        gateway
    }

    /// The visibility index lists and counts are answered from.
    pub fn visibility(&self) -> ApiResult<&dyn VisibilityReader> {
        self.visibility.as_deref().ok_or_else(|| {
            ApiError::Unavailable("No visibility index serves this gateway: run the projections role (in this process or the cluster).".into())
        })
    }

    /// The run an execution names (its current run when the run id is empty)
    /// and its state.
    pub async fn load_run(&self, namespace_id: &str, execution: Option<&WorkflowExecution>) -> ApiResult<(RunKey, WorkflowMutableState)> {
        let run = self.resolve_run(namespace_id, execution).await?;
        let state = self.load_state(&run).await?;
        Ok((run, state))
    }

    /// The run an execution names: its current run when the run id is empty.
    pub async fn resolve_run(&self, namespace_id: &str, execution: Option<&WorkflowExecution>) -> ApiResult<RunKey> {
        let execution = execution.ok_or_else(|| ApiError::invalid("Execution is not set on request."))?;
        crate::validation::require_id(&execution.workflow_id, "WorkflowId")?;
        crate::validation::optional_run_id(&execution.run_id)?;
        let run_id = if execution.run_id.is_empty() {
            let workflow = WorkflowKey { namespace_id: namespace_id.to_string(), workflow_id: execution.workflow_id.clone() };
            match self.current_run(&workflow).await? {
                Some(run_id) => run_id,
                None => return Err(workflow_not_found(&execution.workflow_id)),
            }
        } else {
            execution.run_id.clone()
        };
        Ok(RunKey { namespace_id: namespace_id.to_string(), workflow_id: execution.workflow_id.clone(), run_id })
    }

    pub async fn load_state(&self, run: &RunKey) -> ApiResult<WorkflowMutableState> {
        if let Some(state) = self.committed.as_ref().and_then(|committed| committed.state(run)) {
            return Ok(Arc::unwrap_or_clone(state));
        }
        let shard = shard_of(&run.namespace_id, &run.workflow_id, self.shard_count);
        self.store.get_execution(shard, run).await?.ok_or_else(|| workflow_not_found(&run.workflow_id))
    }

    async fn current_run(&self, workflow: &WorkflowKey) -> ApiResult<Option<String>> {
        if let Some(run_id) = self.committed.as_ref().and_then(|committed| committed.current_run(workflow)) {
            return Ok(Some(run_id));
        }
        let shard = shard_of(&workflow.namespace_id, &workflow.workflow_id, self.shard_count);
        Ok(self.store.get_current_run(shard, workflow).await?.map(|current| current.run_id))
    }

    /// The gateway that serves a task queue when it is another one: the call
    /// is to be forwarded there. A call forwarded already is served here.
    pub fn queue_served_elsewhere(&self, namespace_id: &str, queue: &str, forwarded: bool) -> ApiResult<Option<QueueClient>> {
        match &self.router {
            Some(router) if !forwarded => router.elsewhere(namespace_id, queue),
            _ => Ok(None),
        }
    }

    /// Runs `call` unless the gateway starts shutting down first (`None`
    /// then): a call held open for long (a forwarded poll) must not keep a
    /// stopping gateway's connections open.
    pub async fn unless_draining<T>(&self, call: impl std::future::Future<Output = T>) -> Option<T> {
        let mut draining = self.draining.subscribe();
        tokio::select! {
            result = call => Some(result),
            _ = draining.wait_for(|draining| *draining) => None,
        }
    }

    /// The address other gateways reach this one at; empty in one process.
    pub fn own_address(&self) -> &str {
        self.router.as_ref().map_or("", |router| router.own_address())
    }

    /// The token of a worker's answer, checked, and authenticated against the
    /// namespace the request names (a request without one acts in the
    /// token's namespace, as in Temporal).
    pub async fn task_token(&self, namespace: &str, bytes: &[u8], kind: TaskKind) -> ApiResult<TaskToken> {
        let token = crate::tokens::decode(bytes, kind, &self.limits)?;
        let token_namespace = self.namespaces.by_id(&token.namespace_id).await?;
        if !namespace.is_empty() && self.namespaces.resolve(namespace).await?.id != token_namespace.id {
            return Err(ApiError::invalid("Operation requested with a token from a different namespace."));
        }
        Ok(token)
    }

    /// Sends the engine a worker's answer to the task `token` names; the
    /// command goes to the token's workflow.
    pub async fn answer_task(&self, token: TaskToken, command: impl FnOnce(TaskToken) -> Command) -> ApiResult<Reply> {
        let (namespace_id, workflow_id) = (token.namespace_id.clone(), token.workflow_id.clone());
        self.bus.run(&namespace_id, &workflow_id, command(token)).await
    }

    /// Stored events from `first` up to (not including) `end`, as stored: at
    /// most `max_events`, and no more once `max_bytes` are reached (but at
    /// least one). Read in chunks so large payloads are not all loaded at once.
    pub async fn read_raw_events(&self, run: &RunKey, first: i64, end: i64, max_events: usize, max_bytes: usize) -> ApiResult<Vec<RawEvent>> {
        const CHUNK: usize = 256;
        let mut events: Vec<RawEvent> = Vec::new();
        let mut bytes = 0;
        let mut next = first;
        while next < end && events.len() < max_events && (bytes < max_bytes || events.is_empty()) {
            let wanted = ((end - next) as usize).min(max_events - events.len()).min(CHUNK);
            let chunk = self.store.read_raw_history(run, next, wanted).await?;
            let Some(last) = chunk.last() else { break };
            next = last.event_id + 1;
            for event in chunk {
                if event.event_id >= end || (bytes >= max_bytes && !events.is_empty()) {
                    return Ok(events);
                }
                bytes += event.encoded.len();
                events.push(event);
            }
        }
        Ok(events)
    }
}

pub type QueueClient = temper_proto::service::workflowservice::v1::workflow_service_client::WorkflowServiceClient<tonic::transport::Channel>;

pub fn workflow_not_found(workflow_id: &str) -> ApiError {
    ApiError::NotFound(format!("workflow not found for ID: {workflow_id}"))
}
