//! A commit that fails without telling whether it landed (the store's answer
//! lost with its connection, say) is settled before anything else happens:
//! the shard is taken again, and the stored applied offset says whether the
//! commit landed. Its commands are then applied once and its requests
//! answered once either way, and a shard whose store is down says so until
//! it comes back, then recovers by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::{Log, LogLayout, LogName, Offset};
use temper_engine::notify::HistoryNotifier;
use temper_engine::replies::{CommandResult, LocalReplies, PendingReply};
use temper_engine::state_machine::commands::Reply;
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::store::*;
use temper_engine::time::duration_from_nanos;
use temper_engine::{Engine, EngineConfig};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::EventType;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::workflowservice::v1::SignalWorkflowExecutionRequest;
use temper_proto::records::command_record::Command;
use temper_proto::records::{
    CurrentRun, NamespaceRecord, OutboxRecord, ShardInfo, SignalWorkflow, TimerTask,
    WorkflowMutableState,
};

mod common;

/// One shard, so the test knows which commit comes next.
const SHARDS: u32 = 1;
const NAMESPACE: &str = "ns-id";
const IN_TIME: Duration = Duration::from_secs(15);

/// The embedded store, with a switch that takes it down (every call fails
/// as unreachable) and ones that make the next commit fail, after or before
/// it is applied.
struct FlakyStore {
    inner: EmbeddedStore,
    down: AtomicBool,
    lose_next_answer: AtomicBool,
    fail_next_commit: AtomicBool,
    answers_lost: AtomicU64,
    acquisitions: AtomicU64,
}

impl FlakyStore {
    fn new(db: Arc<EmbeddedDb>) -> FlakyStore {
        FlakyStore {
            inner: EmbeddedStore::new(db),
            down: AtomicBool::new(false),
            lose_next_answer: AtomicBool::new(false),
            fail_next_commit: AtomicBool::new(false),
            answers_lost: AtomicU64::new(0),
            acquisitions: AtomicU64::new(0),
        }
    }

    fn reachable(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unreachable("the test took the store down".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl ShardStore for FlakyStore {
    async fn init_shards(&self, shard_count: u32) -> StoreResult<()> {
        self.reachable()?;
        self.inner.init_shards(shard_count).await
    }

    async fn acquire_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo> {
        self.reachable()?;
        let acquired = self.inner.acquire_shard(shard_id).await?;
        self.acquisitions.fetch_add(1, Ordering::SeqCst);
        Ok(acquired)
    }

    async fn read_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo> {
        self.reachable()?;
        self.inner.read_shard(shard_id).await
    }

    async fn take_shard(&self, shard_id: ShardId, owner: &str, expected_epoch: i64) -> StoreResult<ShardInfo> {
        self.reachable()?;
        self.inner.take_shard(shard_id, owner, expected_epoch).await
    }

    async fn release_shard(&self, shard_id: ShardId, epoch: i64) -> StoreResult<()> {
        self.reachable()?;
        self.inner.release_shard(shard_id, epoch).await
    }

    async fn commit(&self, commit: ShardCommit) -> StoreResult<()> {
        self.reachable()?;
        if self.fail_next_commit.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unreachable("the connection dropped before the commit was sent".into()));
        }
        let lose_answer = self.lose_next_answer.swap(false, Ordering::SeqCst);
        self.inner.commit(commit).await?;
        if lose_answer {
            self.answers_lost.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unreachable("the connection dropped before the answer came".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl ExecutionStore for FlakyStore {
    async fn get_current_run(&self, shard_id: ShardId, workflow: &WorkflowKey) -> StoreResult<Option<CurrentRun>> {
        self.reachable()?;
        self.inner.get_current_run(shard_id, workflow).await
    }

    async fn get_execution(&self, shard_id: ShardId, run: &RunKey) -> StoreResult<Option<WorkflowMutableState>> {
        self.reachable()?;
        self.inner.get_execution(shard_id, run).await
    }
}

#[async_trait]
impl HistoryStore for FlakyStore {
    async fn read_raw_history(&self, run: &RunKey, first_event_id: i64, max_events: usize) -> StoreResult<Vec<RawEvent>> {
        self.reachable()?;
        self.inner.read_raw_history(run, first_event_id, max_events).await
    }
}

#[async_trait]
impl TimerStore for FlakyStore {
    async fn load_timers(
        &self,
        shard_id: ShardId,
        from: &TimerKey,
        before_nanos: i64,
        limit: usize,
    ) -> StoreResult<Vec<(TimerKey, TimerTask)>> {
        self.reachable()?;
        self.inner.load_timers(shard_id, from, before_nanos, limit).await
    }
}

#[async_trait]
impl OutboxStore for FlakyStore {
    async fn read_outbox(&self, shard_id: ShardId, from_seq: i64, limit: usize) -> StoreResult<Vec<(i64, OutboxRecord)>> {
        self.reachable()?;
        self.inner.read_outbox(shard_id, from_seq, limit).await
    }
}

impl TrafficReport for FlakyStore {}

#[async_trait]
impl NamespaceStore for FlakyStore {
    async fn create_namespace(&self, namespace: NamespaceRecord) -> StoreResult<()> {
        self.reachable()?;
        self.inner.create_namespace(namespace).await
    }

    async fn get_namespace_by_name(&self, name: &str) -> StoreResult<Option<NamespaceRecord>> {
        self.reachable()?;
        self.inner.get_namespace_by_name(name).await
    }

    async fn get_namespace_by_id(&self, id: &str) -> StoreResult<Option<NamespaceRecord>> {
        self.reachable()?;
        self.inner.get_namespace_by_id(id).await
    }

    async fn list_namespaces(&self) -> StoreResult<Vec<NamespaceRecord>> {
        self.reachable()?;
        self.inner.list_namespaces().await
    }

    async fn update_namespace(&self, namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        self.reachable()?;
        self.inner.update_namespace(namespace, expected_version).await
    }

    async fn rename_namespace(&self, from: &str, namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        self.reachable()?;
        self.inner.rename_namespace(from, namespace, expected_version).await
    }

    async fn delete_namespace(&self, name: &str, id: &str, expected_version: i64) -> StoreResult<()> {
        self.reachable()?;
        self.inner.delete_namespace(name, id, expected_version).await
    }
}

#[async_trait]
impl ConsumerOffsetStore for FlakyStore {
    async fn get_consumer_offset(&self, consumer: &str, log: LogName, partition: u32) -> StoreResult<Option<Offset>> {
        self.reachable()?;
        self.inner.get_consumer_offset(consumer, log, partition).await
    }

    async fn set_consumer_offset(&self, consumer: &str, log: LogName, partition: u32, offset: Offset) -> StoreResult<()> {
        self.reachable()?;
        self.inner.set_consumer_offset(consumer, log, partition, offset).await
    }
}

#[async_trait]
impl MembershipStore for FlakyStore {
    async fn heartbeat(&self, member: &Member, expires_at_nanos: i64) -> StoreResult<()> {
        self.reachable()?;
        self.inner.heartbeat(member, expires_at_nanos).await
    }

    async fn live_members(&self, role: MemberRole, now_nanos: i64) -> StoreResult<Vec<Member>> {
        self.reachable()?;
        self.inner.live_members(role, now_nanos).await
    }

    async fn leave(&self, member: &Member) -> StoreResult<()> {
        self.reachable()?;
        self.inner.leave(member).await
    }
}

struct Harness {
    log: Arc<dyn Log>,
    store: Arc<FlakyStore>,
    replies: Arc<LocalReplies>,
    engine: Engine,
}

impl Harness {
    async fn start() -> Harness {
        let db = EmbeddedDb::open_temporary().expect("open db");
        let layout = LogLayout { commands: SHARDS, tasks: 1, visibility: 1 };
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(db.clone(), layout).expect("open log"));
        let store = Arc::new(FlakyStore::new(db));
        let replies = Arc::new(LocalReplies::new(1));
        let config = EngineConfig { shard_count: SHARDS, ..EngineConfig::default() };
        let engine = Engine::start(config, log.clone(), store.clone(), replies.clone(), Arc::new(HistoryNotifier::default()))
            .await
            .expect("start engine");
        Harness { log, store, replies, engine }
    }

    async fn send(&self, workflow_id: &str, command: Command) -> PendingReply<'_> {
        let pending = self.replies.register();
        common::append_command(self.log.as_ref(), 0, &pending.reply_to, NAMESPACE, workflow_id, command).await;
        pending
    }

    async fn execute(&self, workflow_id: &str, command: Command) -> CommandResult {
        answer(self.send(workflow_id, command).await).await
    }

    async fn history(&self, workflow_id: &str) -> Vec<HistoryEvent> {
        let run = RunKey { namespace_id: NAMESPACE.into(), workflow_id: workflow_id.into(), run_id: format!("run-{workflow_id}") };
        self.store.inner.read_history(&run, 1, 1000).await.expect("read history")
    }

    async fn event_types(&self, workflow_id: &str) -> Vec<EventType> {
        self.history(workflow_id).await.iter().map(|event| event.event_type()).collect()
    }

    async fn started(&self, workflow_id: &str, command: Command) {
        let result = self.execute(workflow_id, command).await;
        assert!(matches!(result, Ok(Reply::Started { started: true, .. })), "{result:?}");
    }
}

async fn answer(pending: PendingReply<'_>) -> CommandResult {
    tokio::time::timeout(IN_TIME, pending.wait()).await.expect("an answer in time").expect("the engine answered")
}

/// A signal without a request id: only the applied offset keeps it from
/// being applied twice.
fn signal(workflow_id: &str, name: &str) -> Command {
    Command::SignalWorkflow(SignalWorkflow {
        request: Some(SignalWorkflowExecutionRequest {
            workflow_execution: Some(WorkflowExecution { workflow_id: workflow_id.into(), run_id: String::new() }),
            signal_name: name.into(),
            ..Default::default()
        }),
    })
}

const STARTED_AND_SCHEDULED: [EventType; 2] = [EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled];

fn signaled(count: usize) -> Vec<EventType> {
    let mut expected = STARTED_AND_SCHEDULED.to_vec();
    expected.extend(std::iter::repeat_n(EventType::WorkflowExecutionSignaled, count));
    expected
}

#[tokio::test]
async fn a_commit_whose_answer_was_lost_is_answered_once_and_applied_once() {
    let harness = Harness::start().await;
    harness.started("wf", common::start("wf")).await;
    let acquisitions = harness.store.acquisitions.load(Ordering::SeqCst);

    harness.store.lose_next_answer.store(true, Ordering::SeqCst);
    assert_eq!(harness.execute("wf", signal("wf", "landed-unheard")).await, Ok(Reply::Accepted));
    assert_eq!(harness.store.answers_lost.load(Ordering::SeqCst), 1, "the commit's answer was lost");
    assert!(harness.store.acquisitions.load(Ordering::SeqCst) > acquisitions, "the shard was taken again to settle it");
    assert_eq!(harness.execute("wf", signal("wf", "after")).await, Ok(Reply::Accepted));

    assert_eq!(harness.event_types("wf").await, signaled(2), "each signal applied once");
    assert_eq!(harness.engine.shard_restarts(), 0);
    harness.engine.shutdown().await;
}

#[tokio::test]
async fn a_commit_that_failed_unsent_is_applied_once_when_retried() {
    let harness = Harness::start().await;
    harness.started("wf", common::start("wf")).await;

    harness.store.fail_next_commit.store(true, Ordering::SeqCst);
    assert_eq!(harness.execute("wf", signal("wf", "failed-first")).await, Ok(Reply::Accepted));
    assert_eq!(harness.execute("wf", signal("wf", "after")).await, Ok(Reply::Accepted));

    assert_eq!(harness.event_types("wf").await, signaled(2), "each signal applied once");
    harness.engine.shutdown().await;
}

#[tokio::test]
async fn a_timer_whose_commit_answer_was_lost_fires_once() {
    let harness = Harness::start().await;
    let mut start = common::start("wf");
    let Command::StartWorkflow(command) = &mut start else { unreachable!() };
    command.request.as_mut().expect("a request").workflow_run_timeout = Some(duration_from_nanos(1_000_000_000));
    harness.started("wf", start).await;

    // The next commit on the shard is the run timeout firing.
    harness.store.lose_next_answer.store(true, Ordering::SeqCst);
    let timed_out = || async { harness.event_types("wf").await.contains(&EventType::WorkflowExecutionTimedOut) };
    let deadline = tokio::time::Instant::now() + IN_TIME;
    while !timed_out().await {
        assert!(tokio::time::Instant::now() < deadline, "the run did not time out in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(harness.store.answers_lost.load(Ordering::SeqCst), 1, "the timer's commit answer was lost");
    // A signal goes through the shard after the settling, so the timers
    // were reloaded by then.
    let refused = harness.execute("wf", signal("wf", "too-late")).await;
    assert!(refused.is_err(), "a closed run takes no signal: {refused:?}");

    let mut expected = STARTED_AND_SCHEDULED.to_vec();
    expected.push(EventType::WorkflowExecutionTimedOut);
    assert_eq!(harness.event_types("wf").await, expected, "the timer fired once");
    harness.engine.shutdown().await;
}

#[tokio::test]
async fn a_shard_whose_store_is_down_says_so_and_recovers_by_itself() {
    let harness = Harness::start().await;
    harness.started("wf", common::start("wf")).await;
    let health = harness.engine.health();
    assert_eq!(health.unavailable(0), None);

    harness.store.down.store(true, Ordering::SeqCst);
    let pending = harness.send("wf", signal("wf", "while-down")).await;
    let reason = tokio::time::timeout(IN_TIME, health.until_unavailable(0)).await.expect("the shard noticed in time");
    assert!(reason.contains("the store is unreachable"), "{reason}");

    harness.store.down.store(false, Ordering::SeqCst);
    assert_eq!(answer(pending).await, Ok(Reply::Accepted), "applied once the store is back");
    assert_eq!(health.unavailable(0), None, "available again");
    assert_eq!(harness.event_types("wf").await, signaled(1));
    assert_eq!(harness.engine.shard_restarts(), 0);
    harness.engine.shutdown().await;
}
