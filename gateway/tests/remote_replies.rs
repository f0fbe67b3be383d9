//! An engine's replies and run progress reach a gateway in another process
//! through `temper.v1.Cluster`, intact, and how long a reply takes.

use std::sync::Arc;
use std::time::Duration;

use temper_engine::notify::{HistoryNotifier, RunProgress};
use temper_engine::replies::{LocalReplies, RemoteReplies, ReplySink};
use temper_engine::state_machine::CommandError;
use temper_engine::state_machine::commands::Reply;
use temper_engine::store::RunKey;
use temper_gateway::cluster_service::cluster_service;
use temper_proto::records::cluster_client::ClusterClient;
use temper_proto::records::command_reply::Outcome;
use temper_proto::records::{AcceptedReply, CommandReply, DeliverRepliesRequest, RunProgressEntry};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::{Instant, timeout};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

const INCARNATION: u64 = 7;
const WAIT: Duration = Duration::from_secs(10);

/// A gateway process's side: its Cluster service on a port of its own.
struct GatewaySide {
    replies: Arc<LocalReplies>,
    notifier: Arc<HistoryNotifier>,
    address: String,
}

async fn start_gateway() -> GatewaySide {
    start_gateway_at("127.0.0.1:0").await
}

async fn start_gateway_at(address: &str) -> GatewaySide {
    let listener = TcpListener::bind(address).await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let replies = Arc::new(LocalReplies::with_address(INCARNATION, address.clone()));
    let notifier = Arc::new(HistoryNotifier::default());
    let service = cluster_service(replies.clone(), notifier.clone());
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(Server::builder().add_service(service).serve_with_incoming(incoming));
    GatewaySide { replies, notifier, address }
}

/// An engine process without a gateway of its own, knowing `gateways`.
fn engine_side(gateways: &[&str]) -> RemoteReplies {
    let (_, live) = watch::channel(gateways.iter().map(|address| address.to_string()).collect());
    RemoteReplies::new(Arc::new(LocalReplies::new(1)), live)
}

fn run() -> RunKey {
    RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() }
}

#[tokio::test]
async fn replies_reach_the_waiting_request_intact() {
    let gateway = start_gateway().await;
    let engine = engine_side(&[&gateway.address]);
    let outcomes = [
        Ok(Reply::Started { run_id: "run-1".into(), started: true }),
        Err(CommandError::WorkflowAlreadyStarted {
            message: "Workflow execution is already running.".into(),
            start_request_id: "request-1".into(),
            run_id: "run-1".into(),
        }),
    ];
    for outcome in outcomes {
        let pending = gateway.replies.register();
        assert_eq!(pending.reply_to.address, gateway.address);
        engine.deliver(&pending.reply_to, outcome.clone());
        assert_eq!(timeout(WAIT, pending.wait()).await.unwrap(), Some(outcome));
    }
}

#[tokio::test]
async fn run_progress_wakes_the_gateways_long_polls() {
    let gateway = start_gateway().await;
    let engine = engine_side(&[&gateway.address]);
    let mut changes = gateway.notifier.subscribe(&run());
    let progress = RunProgress { next_event_id: 9, closed: true, state_transitions: 3 };
    engine.progressed(&[(run(), progress)]);
    assert_eq!(timeout(WAIT, changes.changed()).await.unwrap(), Some(progress));
}

#[tokio::test]
async fn a_gateway_refuses_replies_for_an_earlier_incarnation_but_takes_the_progress() {
    let gateway = start_gateway().await;
    let mut changes = gateway.notifier.subscribe(&run());
    let mut client = ClusterClient::connect(format!("http://{}", gateway.address)).await.unwrap();
    let batch = DeliverRepliesRequest {
        gateway: INCARNATION + 1,
        replies: vec![CommandReply { request: 1, outcome: Some(Outcome::Accepted(AcceptedReply {})) }],
        progress: vec![RunProgressEntry { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into(), next_event_id: 4, state_transitions: 2, closed: false }],
        acquired: vec![],
    };
    let status = client.deliver_replies(batch).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(timeout(WAIT, changes.changed()).await.unwrap().map(|p| p.next_event_id), Some(4));
}

#[tokio::test]
async fn requests_of_a_gateway_in_the_engines_process_are_answered_without_a_call() {
    // Nothing listens at this address: a call would fail.
    let local = Arc::new(LocalReplies::with_address(INCARNATION, "127.0.0.1:9"));
    let (_, live) = watch::channel(vec!["127.0.0.1:9".to_string()]);
    let engine = RemoteReplies::new(local.clone(), live);
    let pending = local.register();
    engine.deliver(&pending.reply_to, Ok(Reply::Accepted));
    assert_eq!(timeout(WAIT, pending.wait()).await.unwrap(), Some(Ok(Reply::Accepted)));
}

#[tokio::test]
async fn a_gateway_that_was_unreachable_gets_the_replies_after() {
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let engine = engine_side(&[&address]);
    let early = LocalReplies::with_address(INCARNATION, address.clone());
    let lost = early.register();
    engine.deliver(&lost.reply_to, Ok(Reply::Accepted));
    assert!(timeout(Duration::from_millis(300), lost.wait()).await.is_err(), "nothing listened, so the reply was dropped");

    let gateway = start_gateway_at(&address).await;
    let pending = gateway.replies.register();
    engine.deliver(&pending.reply_to, Ok(Reply::Accepted));
    assert_eq!(timeout(WAIT, pending.wait()).await.unwrap(), Some(Ok(Reply::Accepted)));
}

#[tokio::test]
async fn a_request_answered_by_an_engine_that_died_is_told_once_its_shard_is_taken_again() {
    let gateway = start_gateway().await;
    let engine = engine_side(&[&gateway.address]);
    let lost = gateway.replies.register();
    lost.appended(2, 10);
    let replayed = gateway.replies.register();
    replayed.appended(2, 11);
    let elsewhere = gateway.replies.register();
    elsewhere.appended(3, 5);

    engine.shard_acquired(2, 10);
    match timeout(WAIT, lost.wait()).await.unwrap() {
        Some(Err(CommandError::Unavailable(message))) => {
            assert!(message.contains("Shard 2 changed owner") && message.contains("same request id"), "{message}")
        }
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    // The new owner applies offset 11 itself and answers it; shard 3 is untouched.
    engine.deliver(&replayed.reply_to, Ok(Reply::Accepted));
    assert_eq!(timeout(WAIT, replayed.wait()).await.unwrap(), Some(Ok(Reply::Accepted)));
    assert!(timeout(Duration::from_millis(200), elsewhere.wait()).await.is_err(), "a request on another shard keeps waiting");

    // A command whose append returns only after the shard was taken past it.
    let late = gateway.replies.register();
    late.appended(2, 9);
    assert!(matches!(timeout(WAIT, late.wait()).await.unwrap(), Some(Err(CommandError::Unavailable(_)))));
}

const REPLIES: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_latency() {
    let gateway = start_gateway().await;
    let remote = Arc::new(engine_side(&[&gateway.address]));
    // The first call connects.
    one_reply(&gateway.replies, &remote).await;
    measure("through Cluster", &gateway.replies, &remote).await;
    // For comparison: the same requests answered within the process.
    let (_, live) = watch::channel(vec![gateway.address.clone()]);
    let local = Arc::new(RemoteReplies::new(gateway.replies.clone(), live));
    measure("in-process", &gateway.replies, &local).await;
}

async fn measure(path: &str, replies: &Arc<LocalReplies>, engine: &Arc<RemoteReplies>) {
    let mut sequential = Vec::with_capacity(REPLIES);
    for _ in 0..REPLIES {
        sequential.push(one_reply(replies, engine).await);
    }
    report(path, "sequential", sequential);

    let waiters: Vec<_> = (0..REPLIES)
        .map(|_| {
            let (replies, engine) = (replies.clone(), engine.clone());
            tokio::spawn(async move { one_reply(&replies, &engine).await })
        })
        .collect();
    let mut concurrent = Vec::with_capacity(REPLIES);
    for waiter in waiters {
        concurrent.push(waiter.await.unwrap());
    }
    report(path, "concurrent", concurrent);
}

/// From handing the engine a reply to its request being woken with it.
async fn one_reply(replies: &LocalReplies, engine: &RemoteReplies) -> Duration {
    let pending = replies.register();
    let delivered = Instant::now();
    engine.deliver(&pending.reply_to, Ok(Reply::Accepted));
    let outcome = timeout(WAIT, pending.wait()).await.expect("the reply arrives");
    assert_eq!(outcome, Some(Ok(Reply::Accepted)));
    delivered.elapsed()
}

fn report(path: &str, kind: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |quantile: f64| latencies[((latencies.len() - 1) as f64 * quantile) as usize];
    println!(
        "reply latency {path}, {} {kind} replies: p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
