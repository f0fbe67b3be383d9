//! Calls that clients abandon (dropped futures, connection resets, short
//! grpc-timeouts) leave nothing behind in the server, and a task handed to a
//! poll that is then dropped still reaches a worker: no task is lost.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use temper_bench::{BenchArgs, HistoryRead, Scenario, read_history};
use temper_gateway::server::{DevServer, DevServerConfig, Held};
use temper_proto::api::common::v1::{WorkflowExecution, WorkflowType};
use temper_proto::api::enums::v1::{EventType, HistoryEventFilterType, TaskQueueKind};
use temper_proto::api::query::v1::WorkflowQuery;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, PollWorkflowTaskQueueRequest, QueryWorkflowRequest, StartWorkflowExecutionRequest,
};
use temper_proto::service::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

type Client = WorkflowServiceClient<Channel>;

const NAMESPACE: &str = "default";
/// Calls in flight at once: below HTTP/2's usual stream limit, so every call
/// of a round reaches the server together.
const ROUND: usize = 100;
const ROUNDS: usize = 10;

struct TestServer {
    address: SocketAddr,
    held: Held,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        let config = DevServerConfig::new("127.0.0.1:0".parse().expect("an address"));
        let server = DevServer::start(config).await.expect("the server starts");
        let (address, held) = (server.address(), server.held());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            server.serve(async { stopped.await.unwrap_or(()) }).await.expect("the server serves until stopped");
        });
        TestServer { address, held, stop: Some(stop), serving }
    }

    async fn client(&self) -> Client {
        WorkflowServiceClient::connect(format!("http://{}", self.address)).await.expect("a connection")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.serving).await.expect("the server stops cleanly");
    }
}

/// Waits (bounded) until the server's counts satisfy `settled`; the server
/// frees what a call held when it notices the call is gone, shortly after.
async fn wait_until<T: std::fmt::Debug>(what: &str, read: impl Fn() -> T, settled: impl Fn(&T) -> bool) -> T {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let value = read();
        if settled(&value) {
            return value;
        }
        assert!(Instant::now() < give_up, "{what}: still {value:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How a round of calls is abandoned.
#[derive(Clone, Copy, Debug)]
enum GiveUp {
    /// Every call is dropped once the server holds it (the client resets the stream).
    AfterServerHoldsIt,
    /// Each call is dropped at a random moment, before or after the server got it.
    AtRandom,
    /// Each call carries a short random grpc-timeout the server must honour.
    GrpcTimeout,
}

impl GiveUp {
    fn of_round(round: usize) -> GiveUp {
        [GiveUp::AfterServerHoldsIt, GiveUp::AtRandom, GiveUp::GrpcTimeout][round % 3]
    }
}

fn random_up_to(millis: u64) -> Duration {
    Duration::from_millis(fastrand::u64(1..=millis))
}

/// Makes `ROUND` calls at once and abandons them as `give_up` says; `held`
/// tells how many calls the server holds, to drop them only once it holds all.
async fn abandon_round<F>(give_up: GiveUp, held: impl Fn() -> usize, call: impl Fn(Option<Duration>) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let calls: Vec<JoinHandle<()>> = (0..ROUND)
        .map(|_| match give_up {
            GiveUp::AfterServerHoldsIt => tokio::spawn(call(None)),
            GiveUp::AtRandom => {
                let call = call(None);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(random_up_to(30), call).await;
                })
            }
            GiveUp::GrpcTimeout => tokio::spawn(call(Some(random_up_to(800)))),
        })
        .collect();
    if let GiveUp::AfterServerHoldsIt = give_up {
        wait_until("the server holds every call of the round", &held, |held| *held == ROUND).await;
        for call in &calls {
            call.abort();
        }
    }
    for call in calls {
        let _ = call.await;
    }
}

fn with_timeout<T>(message: T, timeout: Option<Duration>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

fn task_queue(name: &str) -> Option<TaskQueue> {
    Some(TaskQueue { name: name.to_string(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() })
}

async fn start_workflow(client: &mut Client, workflow_id: &str, queue: &str) -> WorkflowExecution {
    let request = StartWorkflowExecutionRequest {
        namespace: NAMESPACE.to_string(),
        workflow_id: workflow_id.to_string(),
        workflow_type: Some(WorkflowType { name: "never-run".to_string() }),
        task_queue: task_queue(queue),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let run_id = client.start_workflow_execution(request).await.expect("the workflow starts").into_inner().run_id;
    WorkflowExecution { workflow_id: workflow_id.to_string(), run_id }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_queries_and_history_long_polls_abandoned_by_clients_leave_nothing_behind() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // A run nobody works on: queries to it wait for a poller, and its close event never comes.
    let execution = start_workflow(&mut client, "abandoned-calls", "nobody-polls").await;
    let held = server.held.clone();

    for round in 0..ROUNDS {
        let poll = |timeout| {
            let mut client = client.clone();
            let request = PollWorkflowTaskQueueRequest {
                namespace: NAMESPACE.to_string(),
                task_queue: task_queue("polled-in-vain"),
                identity: "abandoning-worker".to_string(),
                ..Default::default()
            };
            async move {
                let _ = client.poll_workflow_task_queue(with_timeout(request, timeout)).await;
            }
        };
        abandon_round(GiveUp::of_round(round), || held.matching().waiting_pollers, poll).await;
    }
    for round in 0..ROUNDS {
        let query = |timeout| {
            let mut client = client.clone();
            let request = QueryWorkflowRequest {
                namespace: NAMESPACE.to_string(),
                execution: Some(execution.clone()),
                query: Some(WorkflowQuery { query_type: "state".to_string(), query_args: large_query_args(), ..Default::default() }),
                ..Default::default()
            };
            async move {
                let _ = client.query_workflow(with_timeout(request, timeout)).await;
            }
        };
        abandon_round(GiveUp::of_round(round), || held.matching().pending_queries, query).await;
    }
    for round in 0..3 {
        let wait_for_close = |timeout| {
            let mut client = client.clone();
            let request = GetWorkflowExecutionHistoryRequest {
                namespace: NAMESPACE.to_string(),
                execution: Some(execution.clone()),
                wait_new_event: true,
                history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
                ..Default::default()
            };
            async move {
                let _ = client.get_workflow_execution_history(with_timeout(request, timeout)).await;
            }
        };
        abandon_round(GiveUp::of_round(round), || held.history_watchers(), wait_for_close).await;
    }

    let matching = wait_until(
        "matching holds nothing for abandoned calls",
        || held.matching(),
        |counts| counts.waiting_pollers + counts.pending_queries + counts.queued_queries + counts.leased == 0,
    )
    .await;
    assert_eq!(matching.backlog, 1, "only the run's first workflow task waits");
    assert_eq!(matching.returned, 0, "no poll was handed anything to give back");
    wait_until("no history long poll is left", || (held.history_watchers(), held.watched_runs()), |held| *held == (0, 0)).await;
    server.stop().await;
}

/// Query arguments of some size, which an abandoned query must not keep in memory.
fn large_query_args() -> Option<temper_proto::api::common::v1::Payloads> {
    let data = vec![b'x'; 64 * 1024];
    Some(temper_proto::api::common::v1::Payloads { payloads: vec![temper_proto::api::common::v1::Payload { data, ..Default::default() }] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_task_is_lost_while_pollers_reset_at_random() {
    const WORKFLOWS: u64 = 500;
    let server = TestServer::start().await;
    let args = BenchArgs {
        address: server.address.to_string(),
        worker_address: None,
        namespace: NAMESPACE.to_string(),
        scenario: Scenario::HelloActivity,
        workflows: Some(WORKFLOWS),
        concurrency: 50,
        duration: None,
        fetches: 0,
        pollers: 8,
        json: false,
        reset_polls_within: Some(Duration::from_millis(500)),
        // A task started for a poll that was dropped just after waits out its
        // start-to-close timeout (it is not lost); short, so the test stays short.
        task_timeout: Some(Duration::from_secs(5)),
        id_prefix: Some("reset".to_string()),
    };
    let report = temper_bench::run(args).await.expect("the bench runs");
    assert_eq!(report.errors, Default::default(), "every workflow completed with its result");
    assert_eq!(report.completed, WORKFLOWS);

    let mut client = server.client().await;
    for index in 0..WORKFLOWS {
        let execution = WorkflowExecution { workflow_id: format!("reset-{index}"), run_id: String::new() };
        let history = read_history(&mut client, NAMESPACE, &execution, Vec::new(), HistoryRead::All).await.expect("a history");
        let count = |event_type| history.iter().filter(|event| event.event_type() == event_type).count();
        assert_eq!(
            (count(EventType::ActivityTaskCompleted), count(EventType::WorkflowExecutionCompleted)),
            (1, 1),
            "workflow reset-{index} ran its activity and completed exactly once"
        );
    }

    let held = server.held.clone();
    let matching = wait_until("the stopped worker's polls are gone", || held.matching(), |counts| counts.waiting_pollers + counts.leased == 0).await;
    assert!(matching.returned > 0, "some polls were dropped holding a task, which went back to the queue: {matching:?}");
    // Tasks a dropped poll gave back and the engine had started anyway were
    // refused as stale to the next poller; any left wait in the backlog.
    assert_eq!(
        matching.outstanding_tasks, matching.backlog,
        "every task matching read is done with or still queued, none vanished: {matching:?}"
    );
    server.stop().await;
}
