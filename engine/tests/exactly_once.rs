//! The engine applies every command once, even when the log hands records
//! out again (as Kafka does after a consumer restarts) and across restarts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::{Log, LogError, LogLayout, LogName, LogRecord, Offset};
use temper_engine::notify::HistoryNotifier;
use temper_engine::partitioning::shard_of;
use temper_engine::replies::LocalReplies;
use temper_engine::state_machine::commands::Reply;
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::store::{RunKey, Store, WorkflowKey};
use temper_engine::{Engine, EngineConfig};

mod common;
use common::start;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::EventType;
use temper_proto::api::workflowservice::v1::SignalWorkflowExecutionRequest;
use temper_proto::records::command_record::Command;
use temper_proto::records::SignalWorkflow;

const SHARDS: u32 = 2;
const NAMESPACE: &str = "ns-id";

/// A log that, like a Kafka consumer resuming from an older committed
/// position, hands out records again from before the offset first asked for.
struct RedeliveringLog {
    inner: EmbeddedLog,
    rewind: u64,
    rewound: std::sync::Mutex<std::collections::HashSet<(LogName, u32)>>,
}

#[async_trait]
impl Log for RedeliveringLog {
    fn layout(&self) -> LogLayout {
        self.inner.layout()
    }

    async fn append(&self, log: LogName, partition: u32, records: Vec<Bytes>) -> Result<Offset, LogError> {
        self.inner.append(log, partition, records).await
    }

    async fn read(&self, log: LogName, partition: u32, from: Offset, max: usize) -> Result<Vec<LogRecord>, LogError> {
        let first_read = self.rewound.lock().unwrap().insert((log, partition));
        if first_read && from > 0 {
            let rewound = from.saturating_sub(self.rewind);
            return self.inner.read(log, partition, rewound, max + self.rewind as usize).await;
        }
        self.inner.read(log, partition, from, max).await
    }

    async fn end_offset(&self, log: LogName, partition: u32) -> Result<Offset, LogError> {
        self.inner.end_offset(log, partition).await
    }

    async fn trim(&self, log: LogName, partition: u32, before: Offset) -> Result<(), LogError> {
        self.inner.trim(log, partition, before).await
    }
}

struct Harness {
    log: Arc<dyn Log>,
    store: Arc<dyn Store>,
    replies: Arc<LocalReplies>,
    engine: Option<Engine>,
}

impl Harness {
    async fn start(db: Arc<EmbeddedDb>, incarnation: u64) -> Harness {
        let layout = LogLayout { commands: SHARDS, tasks: 1, visibility: 1 };
        let inner = EmbeddedLog::open(db.clone(), layout).expect("open log");
        let log: Arc<dyn Log> = Arc::new(RedeliveringLog { inner, rewind: 3, rewound: Default::default() });
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::new(db));
        let replies = Arc::new(LocalReplies::new(incarnation));
        let config = EngineConfig { shard_count: SHARDS, ..EngineConfig::default() };
        let engine = Engine::start(config, log.clone(), store.clone(), replies.clone(), Arc::new(HistoryNotifier::default()))
            .await
            .expect("start engine");
        Harness { log, store, replies, engine: Some(engine) }
    }

    async fn stop(mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
    }

    async fn execute(&self, workflow_id: &str, command: Command) -> Reply {
        let pending = self.replies.register();
        let shard = shard_of(NAMESPACE, workflow_id, SHARDS);
        common::append_command(self.log.as_ref(), shard, &pending.reply_to, NAMESPACE, workflow_id, command).await;
        let reply = tokio::time::timeout(Duration::from_secs(10), pending.wait()).await.expect("a reply in time");
        reply.expect("the engine replied").expect("the command was applied")
    }

    async fn history(&self, workflow_id: &str) -> Vec<EventType> {
        let shard = shard_of(NAMESPACE, workflow_id, SHARDS);
        let workflow = WorkflowKey { namespace_id: NAMESPACE.into(), workflow_id: workflow_id.into() };
        let current = self.store.get_current_run(shard, &workflow).await.expect("read").expect("a current run");
        let run = RunKey { namespace_id: NAMESPACE.into(), workflow_id: workflow_id.into(), run_id: current.run_id };
        let events = self.store.read_history(&run, 1, 1000).await.expect("read history");
        events.iter().map(|event| event.event_type()).collect()
    }
}

fn signal(workflow_id: &str, n: u32) -> Command {
    Command::SignalWorkflow(SignalWorkflow {
        request: Some(SignalWorkflowExecutionRequest {
            workflow_execution: Some(WorkflowExecution { workflow_id: workflow_id.into(), run_id: String::new() }),
            signal_name: format!("s-{n}"),
            // No request id: only the applied offset keeps a re-delivered
            // signal from being applied twice.
            ..Default::default()
        }),
    })
}

#[tokio::test]
async fn redelivered_commands_and_restarts_apply_nothing_twice() {
    let db = EmbeddedDb::open_temporary().expect("open db");
    let workflows: Vec<String> = (0..6).map(|i| format!("wf-{i}")).collect();
    let first = Harness::start(db.clone(), 1).await;
    for workflow in &workflows {
        assert!(matches!(first.execute(workflow, start(workflow)).await, Reply::Started { started: true, .. }));
        for n in 0..3 {
            assert_eq!(first.execute(workflow, signal(workflow, n)).await, Reply::Accepted);
        }
    }
    let expected = vec![
        EventType::WorkflowExecutionStarted,
        EventType::WorkflowTaskScheduled,
        EventType::WorkflowExecutionSignaled,
        EventType::WorkflowExecutionSignaled,
        EventType::WorkflowExecutionSignaled,
    ];
    for workflow in &workflows {
        assert_eq!(first.history(workflow).await, expected, "{workflow} while every record is read again");
    }
    first.stop().await;

    // A new process: the log hands out its tail again.
    let second = Harness::start(db.clone(), 2).await;
    let extra = &workflows[0];
    assert_eq!(second.execute(extra, signal(extra, 99)).await, Reply::Accepted);
    for workflow in &workflows[1..] {
        assert_eq!(second.history(workflow).await, expected, "{workflow} after a restart");
    }
    let mut with_extra = expected.clone();
    with_extra.push(EventType::WorkflowExecutionSignaled);
    assert_eq!(second.history(extra).await, with_extra, "only the new signal was added");
    second.stop().await;
}
