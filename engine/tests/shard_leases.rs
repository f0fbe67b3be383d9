//! Engines in cluster mode (`Engine::start_member`) sharing the shards of one
//! store and log through membership: the shards split evenly among the live
//! engines, a crashed engine's shards are taken over once its lease runs
//! out, a joining engine gets its share by graceful handover (nobody is
//! fenced), and a shard that moved applies each command once.
//!
//! All engines run in this process on the embedded store and log, with a
//! short lease so takeovers happen within a second.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::{Log, LogLayout};
use temper_engine::membership::{Member, MemberRole, Membership, MembershipConfig};
use temper_engine::notify::HistoryNotifier;
use temper_engine::partitioning::shard_of;
use temper_engine::replies::{CommandResult, LocalReplies, ReplySink};
use temper_engine::state_machine::CommandError;
use temper_engine::state_machine::commands::Reply;
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::store::{HistoryStore, RunKey, ShardId, ShardStore, Store};
use temper_engine::{Engine, EngineConfig};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::EventType;
use temper_proto::api::workflowservice::v1::SignalWorkflowExecutionRequest;
use temper_proto::records::command_record::Command;
use temper_proto::records::{ReplyTo, SignalWorkflow};
use tokio::time::Instant;

mod common;

const SHARDS: u32 = 8;
const NAMESPACE: &str = "ns-id";
const HEARTBEAT: Duration = Duration::from_millis(100);
/// Ten heartbeats: a loaded test machine may delay a few without an engine
/// dropping out of the views.
const LEASE: Duration = Duration::from_secs(1);
/// Generous for a loaded test machine; the takeover itself is about a lease.
const IN_TIME: Duration = Duration::from_secs(15);

struct Cluster {
    log: Arc<dyn Log>,
    store: Arc<EmbeddedStore>,
    replies: Arc<LocalReplies>,
    engines: BTreeMap<String, Engine>,
    memberships: BTreeMap<String, Arc<Membership>>,
}

impl Cluster {
    fn new() -> Cluster {
        // RUST_LOG=temper_engine=info shows the takeovers and releases.
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        let db = EmbeddedDb::open_temporary().expect("open db");
        let layout = LogLayout { commands: SHARDS, tasks: 1, visibility: 1 };
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(db.clone(), layout).expect("open log"));
        Cluster {
            log,
            store: Arc::new(EmbeddedStore::new(db)),
            replies: Arc::new(LocalReplies::new(1)),
            engines: BTreeMap::new(),
            memberships: BTreeMap::new(),
        }
    }

    async fn with_engines(ids: &[&str]) -> Cluster {
        let mut cluster = Cluster::new();
        for id in ids {
            cluster.start(id).await;
        }
        cluster
    }

    async fn start(&mut self, id: &str) {
        self.start_answering_through(id, self.replies.clone()).await;
    }

    async fn start_answering_through(&mut self, id: &str, replies: Arc<dyn ReplySink>) {
        let member = Member { id: id.to_string(), role: MemberRole::Engine, address: format!("{id}:7233") };
        let config = MembershipConfig { heartbeat_interval: HEARTBEAT, lease: LEASE };
        // Any whole store will do: `Arc<dyn Store>` upcasts to the membership table.
        let store: Arc<dyn Store> = self.store.clone();
        let membership = Membership::join(store, member, config).await.expect("join");
        let config = EngineConfig { shard_count: SHARDS, ..EngineConfig::default() };
        let notifier = Arc::new(HistoryNotifier::default());
        let engine = Engine::start_member(config, self.log.clone(), self.store.clone(), replies, notifier, membership.clone())
            .await
            .expect("start engine");
        self.engines.insert(id.to_string(), engine);
        self.memberships.insert(id.to_string(), membership);
    }

    /// Waits until every engine holds exactly the shards assigned to it, the
    /// engines' shares cover every shard once, and the store names each
    /// shard's holder as its owner; returns the shares.
    async fn settled(&self) -> BTreeMap<String, BTreeSet<ShardId>> {
        let deadline = Instant::now() + IN_TIME;
        loop {
            if let Some(shares) = self.shares().await {
                return shares;
            }
            if Instant::now() >= deadline {
                panic!("the shards did not settle in time: {:?}; stored owners {:?}", self.describe(), self.stored_owners().await);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn shares(&self) -> Option<BTreeMap<String, BTreeSet<ShardId>>> {
        let mut shares = BTreeMap::new();
        let mut covered = BTreeSet::new();
        for (id, engine) in &self.engines {
            let owned = engine.owned_shards().borrow().clone();
            // With more shards than engines, every engine has some.
            if owned.is_empty() || owned != *engine.assigned_shards().borrow() {
                return None;
            }
            for shard in &owned {
                if !covered.insert(*shard) {
                    return None;
                }
                if self.store.read_shard(*shard).await.expect("read_shard").owner != *id {
                    return None;
                }
            }
            shares.insert(id.clone(), owned);
        }
        (covered.len() == SHARDS as usize).then_some(shares)
    }

    /// Waits until the store names `owner` as the holder of `shard` and
    /// `owner`'s processor holds it.
    async fn until_owned_by(&self, shard: ShardId, owner: &str) {
        let deadline = Instant::now() + IN_TIME;
        while self.store.read_shard(shard).await.expect("read_shard").owner != owner
            || !self.engines[owner].owned_shards().borrow().contains(&shard)
        {
            assert!(Instant::now() < deadline, "{owner} did not take shard {shard} in time: {:?}", self.describe());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn describe(&self) -> Vec<(String, BTreeSet<ShardId>, BTreeSet<ShardId>)> {
        let describe = |(id, engine): (&String, &Engine)| {
            (id.clone(), engine.owned_shards().borrow().clone(), engine.assigned_shards().borrow().clone())
        };
        self.engines.iter().map(describe).collect()
    }

    async fn stored_owners(&self) -> Vec<(i64, String)> {
        let mut owners = Vec::new();
        for shard in 0..SHARDS {
            let stored = self.store.read_shard(shard).await.expect("read_shard");
            owners.push((stored.epoch, stored.owner));
        }
        owners
    }

    fn losses(&self) -> u64 {
        self.engines.values().map(Engine::ownership_losses).sum()
    }

    /// Appends a command for `workflow_id` to `shard`'s partition and waits for its answer.
    async fn execute(&self, shard: ShardId, workflow_id: &str, command: Command) -> CommandResult {
        let pending = self.replies.register();
        let offset = common::append_command(self.log.as_ref(), shard, &pending.reply_to, NAMESPACE, workflow_id, command).await;
        pending.appended(shard, offset);
        tokio::time::timeout(IN_TIME, pending.wait()).await.expect("an answer in time").expect("the engine answered")
    }

    async fn event_types(&self, workflow_id: &str) -> Vec<EventType> {
        let run = RunKey { namespace_id: NAMESPACE.into(), workflow_id: workflow_id.into(), run_id: format!("run-{workflow_id}") };
        let history = self.store.read_history(&run, 1, 1000).await.expect("read history");
        history.iter().map(|event| event.event_type()).collect()
    }

    /// Starts a workflow on `shard` and signals it once, checking both
    /// were applied exactly once.
    async fn start_and_signal(&self, shard: ShardId, workflow_id: &str) {
        let started = self.execute(shard, workflow_id, common::start(workflow_id)).await;
        assert!(matches!(started, Ok(Reply::Started { started: true, .. })), "{started:?}");
        assert_eq!(self.execute(shard, workflow_id, signal(workflow_id)).await, Ok(Reply::Accepted));
        let expected =
            [EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled, EventType::WorkflowExecutionSignaled];
        assert_eq!(self.event_types(workflow_id).await, expected, "each command applied once");
    }

    async fn shutdown(mut self) {
        for (id, engine) in std::mem::take(&mut self.engines) {
            engine.shutdown().await;
            self.memberships[&id].leave().await;
        }
    }
}

/// A signal without a request id: only the applied offset keeps it from
/// being applied twice.
fn signal(workflow_id: &str) -> Command {
    Command::SignalWorkflow(SignalWorkflow {
        request: Some(SignalWorkflowExecutionRequest {
            workflow_execution: Some(WorkflowExecution { workflow_id: workflow_id.into(), run_id: String::new() }),
            signal_name: "moved".into(),
            ..Default::default()
        }),
    })
}

/// Waits until `engine`'s processor for `shard` has noticed it was fenced
/// and stopped holding it (so it reads no more commands of the shard).
async fn until_not_held(engine: &Engine, shard: ShardId) {
    let mut owned = engine.owned_shards();
    let let_go = owned.wait_for(|shards| !shards.contains(&shard));
    tokio::time::timeout(IN_TIME, let_go).await.expect("the fenced engine let the shard go in time").expect("owned shards");
}

fn sizes(shares: &BTreeMap<String, BTreeSet<ShardId>>) -> Vec<usize> {
    let mut sizes: Vec<usize> = shares.values().map(BTreeSet::len).collect();
    sizes.sort_unstable();
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_engines_split_eight_shards_and_own_each_once() {
    let cluster = Cluster::with_engines(&["engine-a", "engine-b", "engine-c"]).await;
    let shares = cluster.settled().await;
    assert_eq!(sizes(&shares), [2, 3, 3], "{shares:?}");
    for shard in 0..SHARDS {
        cluster.start_and_signal(shard, &format!("wf-{shard}")).await;
    }
    assert_eq!(cluster.losses(), 0);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_engines_shards_are_taken_over_once_its_lease_runs_out() {
    let mut cluster = Cluster::with_engines(&["engine-a", "engine-b", "engine-c"]).await;
    let shares = cluster.settled().await;
    let (crashed, moving) = shares.iter().max_by_key(|(_, shards)| shards.len()).map(|(id, shards)| (id.clone(), shards.clone())).unwrap();
    // A workflow on a shard about to move, to be signalled after the move.
    let moved_shard = *moving.first().unwrap();
    let started = cluster.execute(moved_shard, "wf-moved", common::start("wf-moved")).await;
    assert!(matches!(started, Ok(Reply::Started { started: true, .. })), "{started:?}");

    let crashed_at = Instant::now();
    cluster.engines.remove(&crashed).unwrap().crash_for_test().await;
    let shares = cluster.settled().await;
    let took = crashed_at.elapsed();
    assert_eq!(sizes(&shares), [4, 4], "{shares:?}");
    assert!(took < LEASE + Duration::from_secs(2), "the takeover took {took:?}");
    assert!(shares.values().all(|shards| !shards.is_empty()));

    assert_eq!(cluster.execute(moved_shard, "wf-moved", signal("wf-moved")).await, Ok(Reply::Accepted));
    let expected = [EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled, EventType::WorkflowExecutionSignaled];
    assert_eq!(cluster.event_types("wf-moved").await, expected, "the new owner applied the signal once");
    for shard in &moving {
        cluster.start_and_signal(*shard, &format!("wf-after-{shard}")).await;
    }
    cluster.shutdown().await;
}

/// An engine that commits and then dies before its answers go out: it
/// answers nobody.
struct DiesBeforeAnswering;

impl ReplySink for DiesBeforeAnswering {
    fn deliver(&self, _: &ReplyTo, _: CommandResult) {}
    fn shard_acquired(&self, _: u32, _: i64) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_engine_died_before_answering_is_told_when_the_shard_is_taken_over() {
    let mut cluster = Cluster::with_engines(&["engine-a"]).await;
    cluster.start_answering_through("engine-mute", Arc::new(DiesBeforeAnswering)).await;
    let shares = cluster.settled().await;
    let shard = *shares["engine-mute"].first().unwrap();

    let pending = cluster.replies.register();
    let offset = common::append_command(cluster.log.as_ref(), shard, &pending.reply_to, NAMESPACE, "wf-lost", common::start("wf-lost")).await;
    pending.appended(shard, offset);
    let answer = tokio::time::timeout(IN_TIME, pending.wait());
    // Applied, unanswered: the muted engine commits before dying.
    let deadline = Instant::now() + IN_TIME;
    while cluster.event_types("wf-lost").await.is_empty() {
        assert!(Instant::now() < deadline, "the command at offset {offset} was not applied in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.engines.remove("engine-mute").unwrap().crash_for_test().await;
    match answer.await.expect("told before the request's own timeout").expect("answered") {
        Err(CommandError::Unavailable(message)) => assert!(message.contains("same request id"), "{message}"),
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    // The client's retry gets the outcome; the workflow was started once.
    let retried = cluster.execute(shard, "wf-lost", common::start("wf-lost")).await;
    assert!(matches!(&retried, Ok(Reply::Started { run_id, .. }) if run_id == "run-wf-lost"), "{retried:?}");
    assert_eq!(cluster.event_types("wf-lost").await, [EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled]);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_engine_gets_its_share_by_handover_without_fencing_anyone() {
    let mut cluster = Cluster::with_engines(&["engine-a", "engine-b", "engine-c"]).await;
    let before = cluster.settled().await;
    for shard in 0..SHARDS {
        let workflow_id = format!("wf-{shard}");
        let started = cluster.execute(shard, &workflow_id, common::start(&workflow_id)).await;
        assert!(matches!(started, Ok(Reply::Started { started: true, .. })), "{started:?}");
    }

    cluster.start("engine-d").await;
    let after = cluster.settled().await;
    assert_eq!(sizes(&after), [2, 2, 2, 2], "{after:?}");
    assert_eq!(after["engine-d"].len(), 2);
    assert_eq!(cluster.losses(), 0, "a graceful handover fences nobody");
    let owner_of = |shares: &BTreeMap<String, BTreeSet<ShardId>>, shard: ShardId| {
        shares.iter().find(|(_, shards)| shards.contains(&shard)).map(|(id, _)| id.clone())
    };
    let moved: Vec<ShardId> = (0..SHARDS).filter(|shard| owner_of(&before, *shard) != owner_of(&after, *shard)).collect();
    assert!(moved.len() >= 2, "the joiner took over at least its share: {moved:?}");

    for shard in 0..SHARDS {
        let workflow_id = format!("wf-{shard}");
        assert_eq!(cluster.execute(shard, &workflow_id, signal(&workflow_id)).await, Ok(Reply::Accepted));
        let expected = [EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled, EventType::WorkflowExecutionSignaled];
        assert_eq!(cluster.event_types(&workflow_id).await, expected, "shard {shard}: each command applied once");
    }
    assert_eq!(cluster.losses(), 0);
    cluster.shutdown().await;
}

/// An engine fenced out of a shard still assigned to it (as if it had been
/// paused past its lease and another took the shard) takes the shard back
/// once the other owner is not live, instead of leaving it unowned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_engine_takes_back_a_shard_still_assigned_to_it() {
    let cluster = Cluster::with_engines(&["engine-a", "engine-b"]).await;
    let shares = cluster.settled().await;
    let shard = *shares["engine-a"].first().unwrap();
    let started = cluster.execute(shard, "wf-fenced", common::start("wf-fenced")).await;
    assert!(matches!(started, Ok(Reply::Started { started: true, .. })), "{started:?}");

    // An engine no longer live took the shard behind engine-a's back.
    let epoch = cluster.store.read_shard(shard).await.expect("read_shard").epoch;
    cluster.store.take_shard(shard, "engine-gone", epoch).await.expect("take_shard");
    // engine-a's next commit is fenced; it takes the shard back and applies the signal.
    assert_eq!(cluster.execute(shard, "wf-fenced", signal("wf-fenced")).await, Ok(Reply::Accepted));
    assert_eq!(cluster.engines["engine-a"].ownership_losses(), 1, "fenced once");
    let expected = [EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled, EventType::WorkflowExecutionSignaled];
    assert_eq!(cluster.event_types("wf-fenced").await, expected, "the signal applied once");
    assert_eq!(cluster.settled().await, shares, "engine-a holds its shards again");
    cluster.shutdown().await;
}

/// An idle processor commits nothing, so no commit tells it the shard was
/// taken; it checks the shard row once a lease without a commit, and takes
/// back a shard still assigned to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_engine_notices_it_was_fenced_and_takes_the_shard_back() {
    let cluster = Cluster::with_engines(&["engine-a", "engine-b"]).await;
    let shares = cluster.settled().await;
    let shard = *shares["engine-b"].first().unwrap();
    let epoch = cluster.store.read_shard(shard).await.expect("read_shard").epoch;
    cluster.store.take_shard(shard, "engine-gone", epoch).await.expect("take_shard");

    let deadline = Instant::now() + IN_TIME;
    while cluster.store.read_shard(shard).await.expect("read_shard").owner != "engine-b" {
        assert!(Instant::now() < deadline, "engine-b did not take its shard back in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cluster.engines["engine-b"].ownership_losses(), 1, "fenced once, while idle");
    assert_eq!(cluster.settled().await, shares);
    cluster.shutdown().await;
}

/// An engine paused past its lease (its heartbeat stops, its view stays as
/// it was) loses its shards to the other engine, which changes a run that
/// the paused engine still has cached; when the shard comes back, the next
/// command must be applied to the stored state, not the stale cached one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_taking_a_shard_back_applies_to_the_other_owners_changes() {
    let mut cluster = Cluster::with_engines(&["engine-a", "engine-b"]).await;
    let shares = cluster.settled().await;
    let shard = *shares["engine-a"].first().unwrap();
    // A workflow id routed to the shard, as the gateway would route it: the
    // engine drops the cached states of the shard's workflows when it takes it.
    let workflow_id = (0..).map(|n| format!("wf-back-{n}")).find(|id| shard_of(NAMESPACE, id, SHARDS) == shard).unwrap();
    let workflow_id = workflow_id.as_str();
    let started = cluster.execute(shard, workflow_id, common::start(workflow_id)).await;
    assert!(matches!(started, Ok(Reply::Started { started: true, .. })), "{started:?}");
    let run = RunKey { namespace_id: NAMESPACE.into(), workflow_id: workflow_id.into(), run_id: format!("run-{workflow_id}") };
    let cached = || cluster.engines["engine-a"].committed_states().state(&run);
    assert!(cached().is_some(), "engine-a has the run cached");

    // engine-a pauses: engine-b sees it expire and takes its shards; engine-a,
    // fenced, waits for the live engine-b to let them go.
    cluster.memberships["engine-a"].stop_heartbeating();
    cluster.until_owned_by(shard, "engine-b").await;
    until_not_held(&cluster.engines["engine-a"], shard).await;
    assert_eq!(cluster.execute(shard, workflow_id, signal(workflow_id)).await, Ok(Reply::Accepted), "applied by engine-b");
    let stale = cached().expect("engine-a's stale state is still cached");
    assert_eq!(stale.info.as_ref().map(|info| info.next_event_id), Some(3), "engine-a's cache predates engine-b's signal");

    // engine-b stops, releasing the shards; engine-a takes them back.
    let engine_b = cluster.engines.remove("engine-b").unwrap();
    engine_b.shutdown().await;
    cluster.memberships["engine-b"].leave().await;
    cluster.until_owned_by(shard, "engine-a").await;
    assert_eq!(cluster.execute(shard, workflow_id, signal(workflow_id)).await, Ok(Reply::Accepted), "applied by engine-a");
    let expected = [
        EventType::WorkflowExecutionStarted,
        EventType::WorkflowTaskScheduled,
        EventType::WorkflowExecutionSignaled,
        EventType::WorkflowExecutionSignaled,
    ];
    assert_eq!(cluster.event_types(workflow_id).await, expected, "engine-a applied after engine-b's signal");
    cluster.shutdown().await;
}
