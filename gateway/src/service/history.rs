//! GetWorkflowExecutionHistory: pages of a run's stored history, a long poll
//! for new events, and the close-event filter that `handle.result()` waits on;
//! GetWorkflowExecutionHistoryReverse: the same history newest first.

use prost::Message;
use temper_engine::notify::{RunProgress, RunWatch};
use temper_engine::store::{RawEvent, RunKey};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::HistoryEventFilterType;
use temper_proto::api::history::v1::{History, HistoryEvent};
use temper_proto::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryReverseRequest, GetWorkflowExecutionHistoryReverseResponse,
};
use temper_proto::raw::{EncodedHistory, GetWorkflowExecutionHistoryResponse};
use temper_proto::records::{HistoryPageToken, WorkflowMutableState};
use tokio::time::Instant;

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;

/// Events per page when the request does not say (pages are also bounded in bytes).
pub const DEFAULT_PAGE_SIZE: usize = 10_000;
/// How long a history long poll waits before answering empty.
pub const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(20);

pub async fn get_workflow_execution_history(
    gateway: &Gateway,
    request: GetWorkflowExecutionHistoryRequest,
    deadline: Instant,
    _forwarded: bool,
) -> ApiResult<GetWorkflowExecutionHistoryResponse> {
    let (run, token) = paged_run(gateway, &request.namespace, request.execution.as_ref(), &request.next_page_token).await?;
    // Subscribed before the state is read, so a commit in between is not missed.
    let mut changes = request.wait_new_event.then(|| gateway.notifier.subscribe(&run));
    let state = gateway.load_state(&run).await?;
    let page_size = if request.maximum_page_size > 0 { request.maximum_page_size as usize } else { DEFAULT_PAGE_SIZE };
    if request.history_event_filter_type() == HistoryEventFilterType::CloseEvent {
        return close_event(gateway, run, &state, changes, deadline).await;
    }
    let token = token.unwrap_or(HistoryPageToken { run_id: run.run_id.clone(), next_event_id: 1, ..Default::default() });
    let from = token.next_event_id.max(1);
    let bounded = token.end_event_id > 0;
    let mut progress = RunProgress::of(&state);
    if let Some(changes) = changes.as_mut().filter(|_| !bounded) {
        progress = wait_for(gateway, &run, changes, progress, deadline, |p| p.closed || p.next_event_id > from).await;
    }
    let end = if bounded { token.end_event_id } else { progress.next_event_id };
    let page = raw_page(gateway, &run, from, end, token.transient_events, page_size).await?;
    let mut next_page_token = page.next_page_token.clone();
    if next_page_token.is_empty() && request.wait_new_event && !bounded && !progress.closed {
        // The client keeps polling from where this page ends.
        next_page_token = HistoryPageToken { run_id: run.run_id.clone(), next_event_id: end, ..Default::default() }.encode_to_vec();
    }
    Ok(GetWorkflowExecutionHistoryResponse { history: page.encoded(), next_page_token, ..Default::default() })
}

/// The run a history request reads (the page token's, once paging) and its
/// decoded page token.
async fn paged_run(
    gateway: &Gateway,
    namespace: &str,
    execution: Option<&WorkflowExecution>,
    page_token: &[u8],
) -> ApiResult<(RunKey, Option<HistoryPageToken>)> {
    let namespace = gateway.namespaces.resolve(namespace).await?;
    let token = decode_token(page_token)?;
    let mut execution = execution.cloned().ok_or_else(|| ApiError::invalid("Execution is not set on request."))?;
    if let Some(token) = &token {
        execution.run_id = token.run_id.clone();
    }
    let run = gateway.resolve_run(&namespace.id, Some(&execution)).await?;
    Ok((run, token))
}

/// GetWorkflowExecutionHistoryReverse: a run's stored events newest first,
/// in pages; each page token says below which event id the next page ends.
pub async fn get_workflow_execution_history_reverse(
    gateway: &Gateway,
    request: GetWorkflowExecutionHistoryReverseRequest,
) -> ApiResult<GetWorkflowExecutionHistoryReverseResponse> {
    let (run, token) = paged_run(gateway, &request.namespace, request.execution.as_ref(), &request.next_page_token).await?;
    // A token never reaches past what the run has (a forged one would page through nothing).
    let stored_end = RunProgress::of(&gateway.load_state(&run).await?).next_event_id;
    let end = token.map_or(stored_end, |token| token.end_event_id.clamp(1, stored_end));
    let page_size = if request.maximum_page_size > 0 { (request.maximum_page_size as usize).min(DEFAULT_PAGE_SIZE) } else { DEFAULT_PAGE_SIZE };
    let (from, mut events) = newest_events_below(gateway, &run, end, page_size).await?;
    events.reverse();
    let next_page_token = if from > 1 {
        HistoryPageToken { run_id: run.run_id.clone(), next_event_id: 1, end_event_id: from, ..Default::default() }.encode_to_vec()
    } else {
        Vec::new()
    };
    let history = RawPage { events, transient: Vec::new(), next_page_token: Vec::new() }.decoded()?.0;
    Ok(GetWorkflowExecutionHistoryReverseResponse { history: Some(history), next_page_token })
}

/// The newest stored events below `end`, at most `page_size` of them and
/// about [`PAGE_BYTES`] (at least one), oldest first, with the id of the
/// oldest: the window shrinks from below until its events fit.
async fn newest_events_below(gateway: &Gateway, run: &RunKey, end: i64, page_size: usize) -> ApiResult<(i64, Vec<RawEvent>)> {
    let mut from = end.saturating_sub(page_size as i64).max(1);
    loop {
        let wanted = (end - from).max(0) as usize;
        let events = gateway.read_raw_events(run, from, end, wanted, PAGE_BYTES).await?;
        if events.len() >= wanted || events.is_empty() {
            return Ok((from, events));
        }
        // Cut short by size: keep as many of the newest as fit.
        from = end - events.len() as i64;
    }
}

/// Largest page of history a response carries; clients accept 4 MiB messages.
const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// A page of stored events, as stored, with what follows it.
pub struct RawPage {
    events: Vec<RawEvent>,
    /// Transient events, on the last page only.
    transient: Vec<HistoryEvent>,
    next_page_token: Vec<u8>,
}

impl RawPage {
    /// The page as an encoded `History`, without decoding the stored events.
    fn encoded(&self) -> bytes::Bytes {
        let mut history = EncodedHistory::default();
        for event in &self.events {
            history.push(&event.encoded);
        }
        for event in &self.transient {
            history.push(&event.encode_to_vec());
        }
        history.finish()
    }

    /// The page as Temporal's `History` (for responses that embed one).
    fn decoded(self) -> ApiResult<(History, Vec<u8>)> {
        let mut events = Vec::with_capacity(self.events.len() + self.transient.len());
        for raw in self.events {
            let event = HistoryEvent::decode(raw.encoded)
                .map_err(|e| ApiError::Unavailable(format!("stored history event {} is corrupt: {e}", raw.event_id)))?;
            events.push(event);
        }
        events.extend(self.transient);
        Ok((History { events }, self.next_page_token))
    }
}

/// One page of events `[from, end)`, then `transient` after the last page;
/// the token (empty when done) resumes after this page.
async fn raw_page(
    gateway: &Gateway,
    run: &RunKey,
    from: i64,
    end: i64,
    transient: Vec<HistoryEvent>,
    page_size: usize,
) -> ApiResult<RawPage> {
    let events = gateway.read_raw_events(run, from, end, page_size, PAGE_BYTES).await?;
    let next = events.last().map_or(from, |event| event.event_id + 1);
    if next < end && !events.is_empty() {
        let token = HistoryPageToken { run_id: run.run_id.clone(), next_event_id: next, end_event_id: end, transient_events: transient };
        return Ok(RawPage { events, transient: Vec::new(), next_page_token: token.encode_to_vec() });
    }
    Ok(RawPage { events, transient, next_page_token: Vec::new() })
}

/// One page of events as Temporal's `History`; see [`raw_page`].
pub async fn page(
    gateway: &Gateway,
    run: &RunKey,
    from: i64,
    end: i64,
    transient: Vec<HistoryEvent>,
    page_size: usize,
) -> ApiResult<(History, Vec<u8>)> {
    raw_page(gateway, run, from, end, transient, page_size).await?.decoded()
}

/// The close filter answers with the closing event alone, once there is one
/// (waiting for it on `changes` when the request asks to wait).
async fn close_event(
    gateway: &Gateway,
    run: RunKey,
    state: &WorkflowMutableState,
    changes: Option<RunWatch<'_>>,
    deadline: Instant,
) -> ApiResult<GetWorkflowExecutionHistoryResponse> {
    let mut progress = RunProgress::of(state);
    let wait = changes.is_some();
    if let Some(mut changes) = changes {
        progress = wait_for(gateway, &run, &mut changes, progress, deadline, |p| p.closed).await;
    }
    if !progress.closed {
        let next_page_token = if wait {
            HistoryPageToken { run_id: run.run_id.clone(), next_event_id: progress.next_event_id, ..Default::default() }.encode_to_vec()
        } else {
            Vec::new()
        };
        return Ok(GetWorkflowExecutionHistoryResponse { next_page_token, ..Default::default() });
    }
    // A closed run's closing event is its last.
    let closing = progress.next_event_id - 1;
    let page = raw_page(gateway, &run, closing, closing + 1, Vec::new(), 1).await?;
    Ok(GetWorkflowExecutionHistoryResponse { history: page.encoded(), ..Default::default() })
}

/// How often a long poll re-reads the run when the engine runs in another
/// process: a notification can be lost there (this gateway joined after the
/// engine last looked at the gateways, or a batch was dropped), and a poll
/// should not wait out its whole deadline for an event already committed.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits on `changes` (subscribed before `progress` was read) until the
/// run's progress satisfies `done` or the deadline passes, and returns the
/// latest progress. The subscription ends with the request, also when a
/// client that gave up drops it.
pub(super) async fn wait_for(
    gateway: &Gateway,
    run: &RunKey,
    changes: &mut RunWatch<'_>,
    mut progress: RunProgress,
    deadline: Instant,
    done: impl Fn(&RunProgress) -> bool,
) -> RunProgress {
    let recheck = gateway.committed.is_none();
    let mut draining = gateway.draining.subscribe();
    while !done(&progress) {
        let until = if recheck { deadline.min(Instant::now() + RECHECK) } else { deadline };
        let changed = tokio::select! {
            changed = tokio::time::timeout_at(until, changes.changed()) => changed,
            // The gateway is stopping: answer with what is known; the client polls again elsewhere.
            _ = draining.wait_for(|draining| *draining) => break,
        };
        match changed {
            Ok(Some(published)) => progress = progress.further(published),
            Ok(None) => break,
            Err(_) if until >= deadline => break,
            Err(_) => {
                if let Ok(state) = gateway.load_state(run).await {
                    progress = progress.further(RunProgress::of(&state));
                }
            }
        }
    }
    progress
}

fn decode_token(bytes: &[u8]) -> ApiResult<Option<HistoryPageToken>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let token = HistoryPageToken::decode(bytes).map_err(|_| ApiError::invalid("Invalid NextPageToken."))?;
    if token.run_id.is_empty() || token.next_event_id < 1 {
        return Err(ApiError::invalid("Invalid NextPageToken."));
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use temper_engine::embedded_db::EmbeddedDb;
    use temper_engine::notify::HistoryNotifier;
    use temper_engine::replies::{LocalReplies, RemoteReplies};
    use temper_engine::{Engine, EngineConfig};
    use temper_proto::api::common::v1::WorkflowExecution;
    use temper_proto::api::workflowservice::v1::SignalWorkflowExecutionRequest;
    use tokio::net::TcpListener;
    use tokio::sync::watch;
    use tonic::transport::Server;
    use tonic::transport::server::TcpIncoming;

    use super::*;
    use crate::cluster_service::cluster_service;
    use crate::matching::Matching;
    use crate::service::start::hello_start;

    /// A gateway and an engine as two processes would have them: sharing the
    /// log and the store, the engine's replies and run progress reaching the
    /// gateway only through its Cluster service (progress only when the
    /// engine knows the gateway).
    async fn split_processes(engine_knows_gateway: bool) -> (Arc<Gateway>, Engine, watch::Sender<bool>) {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let replies = Arc::new(LocalReplies::with_address(7, address.clone()));
        let notifier = Arc::new(HistoryNotifier::default());
        let service = cluster_service(replies.clone(), notifier.clone());
        tokio::spawn(Server::builder().add_service(service).serve_with_incoming(TcpIncoming::from(listener)));

        let (_, gateways) = watch::channel(if engine_knows_gateway { vec![address] } else { Vec::new() });
        let engine_replies = Arc::new(RemoteReplies::new(Arc::new(LocalReplies::new(1)), gateways));
        let config = EngineConfig { shard_count: 1, ..EngineConfig::default() };
        let engine = Engine::start(config, log.clone(), store.clone(), engine_replies, Arc::new(HistoryNotifier::default())).await.unwrap();
        let (stop, stopped) = watch::channel(false);
        let matching = Matching::start(log.clone(), store.clone(), stopped).await.unwrap();
        let gateway = Arc::new(Gateway::of_one_shard(log, store, replies, engine.health(), notifier, matching).await);
        (gateway, engine, stop)
    }

    fn execution() -> WorkflowExecution {
        WorkflowExecution { workflow_id: "wf".into(), run_id: String::new() }
    }

    /// Starts a run (its reply crossing processes), then long-polls for the
    /// event after its first ones while a signal adds it: how long the poll took.
    async fn poll_across_a_signal(gateway: Arc<Gateway>) -> (Duration, History) {
        let start = hello_start("wf");
        let run_id = super::super::start::start_workflow_execution(&gateway, start).await.unwrap().run_id;
        let first = history_request(WorkflowExecution { run_id, ..execution() }, Vec::new());
        let first = get_workflow_execution_history(&gateway, first, Instant::now() + LONG_POLL, false).await.unwrap();
        let poll = history_request(execution(), first.next_page_token);
        let polling = {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                let began = Instant::now();
                let page = get_workflow_execution_history(&gateway, poll, began + LONG_POLL, false).await.unwrap();
                (began.elapsed(), page.decoded_history().unwrap())
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let signal = SignalWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(execution()),
            signal_name: "go".into(),
            ..Default::default()
        };
        super::super::signal::signal_workflow_execution(&gateway, signal).await.unwrap();
        polling.await.unwrap()
    }

    fn history_request(execution: WorkflowExecution, next_page_token: Vec<u8>) -> GetWorkflowExecutionHistoryRequest {
        GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(execution),
            wait_new_event: true,
            next_page_token,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_gateway_without_the_engine_is_woken_by_the_progress_it_sends() {
        let (gateway, _engine, _stop) = split_processes(true).await;
        let (took, history) = poll_across_a_signal(gateway).await;
        assert_eq!(history.events.len(), 1, "the signal");
        assert!(took < RECHECK, "woken by the engine's notification, not the re-read: {took:?}");
    }

    #[tokio::test]
    async fn a_long_poll_whose_notification_is_lost_rereads_the_run() {
        let (gateway, _engine, _stop) = split_processes(false).await;
        let (took, history) = poll_across_a_signal(gateway).await;
        assert_eq!(history.events.len(), 1, "the signal");
        assert!(took < RECHECK * 2, "answered at the next re-read, not at the deadline: {took:?}");
    }
}
