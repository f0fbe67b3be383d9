//! `temper bench`: a load generator for any server that speaks Temporal's
//! API, Temper's or Temporal's. It is both the starter and the worker, over
//! raw gRPC (no SDK), so the client itself costs little CPU, and it checks
//! every workflow's result: failures and timeouts count as errors, never as
//! completions.

mod scenarios;
mod stats;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use temper_proto::api::common::v1::{WorkflowExecution, WorkflowType};
use temper_proto::api::enums::v1::{EventType, HistoryEventFilterType, TaskQueueKind};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    GetSystemInfoRequest, GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest, SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
};
use temper_proto::service::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

use scenarios::ActivityOptions;
pub use scenarios::Scenario;
pub use stats::Report;
use stats::Recorder;
use worker::{TaskKind, Worker};

pub type Client = WorkflowServiceClient<Channel>;

/// How long one workflow may take before it counts as a timeout error.
const WORKFLOW_TIMEOUT: Duration = Duration::from_secs(120);
/// Signals sent to one workflow at a time.
const SIGNAL_PARALLELISM: usize = 10;
/// How long the listed scenario lists a workflow before counting an error.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between lists that did not show the workflow yet.
const LIST_INTERVAL: Duration = Duration::from_millis(10);

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// The server's gRPC address.
    #[arg(long, default_value = "127.0.0.1:7233")]
    pub address: String,
    /// Where the worker polls and answers, when not `--address`: another
    /// gateway of a Temper cluster, so tasks cross gateways.
    #[arg(long)]
    pub worker_address: Option<String>,
    #[arg(long, default_value = "default")]
    pub namespace: String,
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Workflows to run (default depends on the scenario; ignored with --duration).
    #[arg(long)]
    pub workflows: Option<u64>,
    /// Workflows in flight at once.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Run for this long instead of a fixed number of workflows, e.g. 30s or 2m.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Timed full-history fetches per long-history workflow.
    #[arg(long, default_value_t = 5)]
    pub fetches: usize,
    /// Workflow pollers and activity pollers each.
    #[arg(long, default_value_t = 8)]
    pub pollers: usize,
    /// Drop each poll after a random time up to this (e.g. 50ms), as a worker
    /// whose connections keep resetting would; a task handed to a dropped
    /// poll must still reach a worker.
    #[arg(long, value_parser = parse_duration)]
    pub reset_polls_within: Option<Duration>,
    /// Start-to-close timeout of the workflows' workflow tasks and activity
    /// attempts (default: 10s for workflow tasks, as SDKs ask, and 30s for activities).
    #[arg(long, value_parser = parse_duration)]
    pub task_timeout: Option<Duration>,
    /// Workflow ids are this prefix, a dash and a number from 0 (default:
    /// `bench-` and a random id).
    #[arg(long)]
    pub id_prefix: Option<String>,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid server address: {0}")]
    Address(String),
}

/// A duration like 30s, 500ms, 2m or 1h; also what `temper server start-dev` takes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len()));
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 30s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` in `{text}`: use ms, s, m or h")),
    };
    // A typo of many digits must be an error, not a panic.
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is too long a duration"))
}

fn endpoint(address: &str) -> Result<Endpoint, BenchError> {
    let url = if address.contains("://") { address.to_string() } else { format!("http://{address}") };
    Endpoint::from_shared(url).map_err(|e| BenchError::Address(e.to_string())).map(|e| e.tcp_nodelay(true))
}

fn client(address: &str) -> Result<Client, BenchError> {
    let channel = endpoint(address)?.connect_lazy();
    Ok(WorkflowServiceClient::new(channel).max_decoding_message_size(128 * 1024 * 1024))
}

/// Runs the benchmark and returns its report; progress goes to stderr.
pub async fn run(args: BenchArgs) -> Result<Report, BenchError> {
    if args.scenario == Scenario::Ready {
        return Ok(wait_until_ready(&args).await);
    }
    let recorder = Arc::new(Recorder::default());
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let task_queue = format!("bench-{run_id}");
    let (stop, stopped) = watch::channel(false);
    let mut pollers = Vec::new();
    if args.scenario.needs_worker() {
        let worker_address = args.worker_address.as_deref().unwrap_or(&args.address);
        let polls = client(worker_address)?;
        // A server may close a connection on which many streams are reset
        // (HTTP/2 rapid-reset defence); answers must not go down with it.
        let answers = if args.reset_polls_within.is_some() { client(worker_address)? } else { polls.clone() };
        let worker = Arc::new(Worker {
            polls,
            answers,
            namespace: args.namespace.clone(),
            scenario: args.scenario,
            activities: ActivityOptions {
                task_queue: task_queue.clone(),
                start_to_close: args.task_timeout.unwrap_or(scenarios::ACTIVITY_TIMEOUT),
            },
            recorder: recorder.clone(),
            reset_polls_within: args.reset_polls_within,
        });
        for _ in 0..args.pollers {
            pollers.push(tokio::spawn(worker.clone().run_poller(TaskKind::Workflow, stopped.clone())));
            pollers.push(tokio::spawn(worker.clone().run_poller(TaskKind::Activity, stopped.clone())));
        }
    }
    let starter = Starter {
        client: client(&args.address)?,
        args: args.clone(),
        task_queue,
        id_prefix: args.id_prefix.clone().unwrap_or_else(|| format!("bench-{run_id}")),
        recorder: recorder.clone(),
        next: AtomicU64::new(0),
        long_histories: parking_lot::Mutex::new(Vec::new()),
    };
    let begun = Instant::now();
    let progress = tokio::spawn(report_progress(recorder.clone(), begun, stopped.clone()));
    starter.run().await;
    let elapsed = begun.elapsed();
    // Fetches are timed once nothing else runs, one at a time, so they
    // measure the server's history reads and not the load around them.
    starter.time_history_fetches().await;
    let _ = stop.send(true);
    for poller in pollers {
        let _ = poller.await;
    }
    let _ = progress.await;
    Ok(recorder.report(args.scenario, &args.address, args.concurrency, elapsed))
}

/// Retries a call the server answers UNAVAILABLE (not ready yet, or busy),
/// as SDK clients do; any other outcome is returned as is.
async fn retry_unavailable<T, F>(mut call: impl FnMut() -> F) -> Result<T, tonic::Status>
where
    F: std::future::Future<Output = Result<T, tonic::Status>>,
{
    const ATTEMPTS: u32 = 10;
    let mut pause = Duration::from_millis(50);
    for _ in 1..ATTEMPTS {
        match call().await {
            Err(status) if status.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            outcome => return outcome,
        }
    }
    call().await
}

async fn report_progress(recorder: Arc<Recorder>, begun: Instant, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tick.tick() => {}
        }
        let elapsed = begun.elapsed().as_secs_f64();
        let (started, completed, errors) = recorder.progress();
        eprintln!("[{elapsed:7.1}s] started {started}  completed {completed} ({:.1}/s)  errors {errors}", completed as f64 / elapsed);
    }
}

/// Polls GetSystemInfo every millisecond until it succeeds.
async fn wait_until_ready(args: &BenchArgs) -> Report {
    let recorder = Recorder::default();
    let begun = Instant::now();
    let deadline = begun + args.duration.unwrap_or(Duration::from_secs(60));
    recorder.started();
    loop {
        if let Ok(mut client) = client(&args.address)
            && client.get_system_info(GetSystemInfoRequest {}).await.is_ok()
        {
            recorder.completed(begun.elapsed(), 0);
            break;
        }
        if Instant::now() > deadline {
            recorder.error("the server did not answer GetSystemInfo in time");
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    recorder.report(args.scenario, &args.address, 1, begun.elapsed())
}

struct Starter {
    client: Client,
    args: BenchArgs,
    task_queue: String,
    id_prefix: String,
    recorder: Arc<Recorder>,
    next: AtomicU64,
    /// Completed long-history workflows, whose fetch is timed afterwards.
    long_histories: parking_lot::Mutex<Vec<WorkflowExecution>>,
}

impl Starter {
    async fn run(&self) {
        let until = self.args.duration.map(|d| Instant::now() + d);
        let total = if until.is_some() { u64::MAX } else { self.args.workflows.unwrap_or(self.args.scenario.default_workflows()) };
        let lanes = (0..self.args.concurrency.max(1)).map(|_| async {
            loop {
                if until.is_some_and(|until| Instant::now() >= until) {
                    return;
                }
                let index = self.next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return;
                }
                self.run_workflow(index).await;
            }
        });
        futures::future::join_all(lanes).await;
    }

    async fn run_workflow(&self, index: u64) {
        let client = self.client.clone();
        let workflow_id = format!("{}-{index}", self.id_prefix);
        let begun = Instant::now();
        let start = StartWorkflowExecutionRequest {
            namespace: self.args.namespace.clone(),
            workflow_id: workflow_id.clone(),
            workflow_type: Some(WorkflowType { name: "bench-workflow".to_string() }),
            task_queue: Some(TaskQueue { name: self.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
            input: scenarios::payload(&workflow_id),
            workflow_run_timeout: Some(prost_types::Duration { seconds: 600, nanos: 0 }),
            workflow_task_timeout: self.args.task_timeout.map(scenarios::proto_duration),
            request_id: uuid::Uuid::new_v4().to_string(),
            identity: "temper-bench".to_string(),
            ..Default::default()
        };
        let attempt = || {
            let (mut client, start) = (client.clone(), start.clone());
            async move { client.start_workflow_execution(start).await }
        };
        let run_id = match retry_unavailable(attempt).await {
            Ok(response) => response.into_inner().run_id,
            Err(status) => return self.recorder.error(format!("start: {:?}", status.code())),
        };
        self.recorder.started();
        let execution = WorkflowExecution { workflow_id: workflow_id.clone(), run_id };
        if self.args.scenario == Scenario::StartOnly {
            return self.recorder.completed(begun.elapsed(), 0);
        }
        if self.args.scenario == Scenario::Signals && !self.send_signals(&execution).await {
            return;
        }
        if self.args.scenario == Scenario::Listed && !self.wait_until_listed(&workflow_id).await {
            return;
        }
        match tokio::time::timeout(WORKFLOW_TIMEOUT, self.result(&execution)).await {
            Ok(Ok((result, events))) if result == self.args.scenario.expected_result(&workflow_id) => {
                self.recorder.completed(begun.elapsed(), events);
                if self.args.scenario == Scenario::LongHistory {
                    self.long_histories.lock().push(execution);
                }
            }
            Ok(Ok((result, _))) => self.recorder.error(format!("result: unexpected value {result:?}")),
            Ok(Err(kind)) => self.recorder.error(kind),
            Err(_) => self.recorder.error(format!("timeout: no result within {}s", WORKFLOW_TIMEOUT.as_secs())),
        }
    }

    async fn send_signals(&self, execution: &WorkflowExecution) -> bool {
        let signals = (0..scenarios::SIGNALS).map(|n| {
            let client = self.client.clone();
            let request = SignalWorkflowExecutionRequest {
                namespace: self.args.namespace.clone(),
                workflow_execution: Some(execution.clone()),
                signal_name: scenarios::SIGNAL_NAME.to_string(),
                input: scenarios::payload(&n.to_string()),
                identity: "temper-bench".to_string(),
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            };
            let attempt = move || {
                let (mut client, request) = (client.clone(), request.clone());
                async move { client.signal_workflow_execution(request).await }
            };
            async move { retry_unavailable(attempt).await }
        });
        let results: Vec<_> = futures::stream::iter(signals).buffer_unordered(SIGNAL_PARALLELISM).collect().await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        if let Some(Err(status)) = results.into_iter().find(|r| r.is_err()) {
            self.recorder.error(format!("signal: {:?} ({failed} of {})", status.code(), scenarios::SIGNALS));
            return false;
        }
        true
    }

    /// Lists the workflow by its id until the list shows it (at most
    /// [`LIST_TIMEOUT`]), as a user who just started it would; records how
    /// long that took and whether the first list showed it.
    async fn wait_until_listed(&self, workflow_id: &str) -> bool {
        let started = Instant::now();
        let request = ListWorkflowExecutionsRequest {
            namespace: self.args.namespace.clone(),
            query: format!("WorkflowId = '{workflow_id}'"),
            page_size: 10,
            ..Default::default()
        };
        let mut lists = 0;
        while started.elapsed() < LIST_TIMEOUT {
            lists += 1;
            let mut client = self.client.clone();
            match client.list_workflow_executions(request.clone()).await {
                Ok(page) if !page.get_ref().executions.is_empty() => {
                    self.recorder.listed(started.elapsed(), lists == 1);
                    return true;
                }
                Ok(_) => tokio::time::sleep(LIST_INTERVAL).await,
                Err(status) => {
                    self.recorder.error(format!("list: {:?}", status.code()));
                    return false;
                }
            }
        }
        self.recorder.error(format!("list: not listed within {}s", LIST_TIMEOUT.as_secs()));
        false
    }

    /// Waits for the closing event, as `handle.result()` does; returns the
    /// result and the history length.
    async fn result(&self, execution: &WorkflowExecution) -> Result<(String, u64), String> {
        let mut client = self.client.clone();
        let events = read_history(&mut client, &self.args.namespace, execution, Vec::new(), HistoryRead::CloseEvent).await?;
        let Some(event) = events.into_iter().last() else {
            return Err("result: history ended without a closing event".to_string());
        };
        match event.attributes {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(completed)) => {
                Ok((scenarios::text_of(completed.result.as_ref()).unwrap_or_default(), event.event_id as u64))
            }
            _ => Err(format!("result: workflow closed with {:?}", event.event_type())),
        }
    }

    async fn time_history_fetches(&self) {
        let executions = std::mem::take(&mut *self.long_histories.lock());
        for execution in &executions {
            for _ in 0..self.args.fetches {
                let begun = Instant::now();
                match self.fetch_full_history(execution).await {
                    Ok(events) if events >= scenarios::LONG_HISTORY_EVENTS as usize => {
                        self.recorder.history_fetched(begun.elapsed())
                    }
                    Ok(events) => self.recorder.error(format!("history: only {events} events")),
                    Err(kind) => self.recorder.error(kind),
                }
            }
        }
    }

    async fn fetch_full_history(&self, execution: &WorkflowExecution) -> Result<usize, String> {
        let mut client = self.client.clone();
        let events = read_history(&mut client, &self.args.namespace, execution, Vec::new(), HistoryRead::All).await?;
        if events.iter().any(|e| e.event_type() == EventType::Unspecified) {
            return Err("history: an event without a type".to_string());
        }
        Ok(events.len())
    }
}

/// How a history is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HistoryRead {
    /// Every event, page after page.
    All,
    /// The closing event alone, waiting for it (how `handle.result()` waits).
    CloseEvent,
}

/// Reads a run's history from `token` on (empty: from the start).
pub async fn read_history(
    client: &mut Client,
    namespace: &str,
    execution: &WorkflowExecution,
    mut token: Vec<u8>,
    how: HistoryRead,
) -> Result<Vec<temper_proto::api::history::v1::HistoryEvent>, String> {
    let close_event = how == HistoryRead::CloseEvent;
    let mut events = Vec::new();
    loop {
        let page = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_string(),
                execution: Some(execution.clone()),
                next_page_token: token,
                wait_new_event: close_event,
                history_event_filter_type: if close_event { HistoryEventFilterType::CloseEvent as i32 } else { 0 },
                ..Default::default()
            })
            .await
            .map_err(|status| format!("history: {:?}", status.code()))?
            .into_inner();
        events.extend(page.decoded_history().map_err(|e| format!("history: undecodable page: {e}"))?.events);
        token = page.next_page_token;
        if token.is_empty() || (close_event && !events.is_empty()) {
            return Ok(events);
        }
    }
}
