//! Read-your-writes for visibility starts in the engine: a command that
//! changes what lists show is answered only once its run summary is in the
//! `visibility` log, and one that does not is answered at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::{Log, LogError, LogLayout, LogName, LogRecord, Offset};
use temper_engine::notify::HistoryNotifier;
use temper_engine::replies::LocalReplies;
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::{Engine, EngineConfig};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::workflowservice::v1::SignalWorkflowExecutionRequest;
use temper_proto::records::SignalWorkflow;
use temper_proto::records::command_record::Command;
use tokio::sync::Semaphore;

mod common;

const NAMESPACE: &str = "ns-id";

/// A log whose `visibility` appends wait until the test lets one through.
struct HeldVisibilityLog {
    inner: EmbeddedLog,
    visibility_appends: Semaphore,
}

#[async_trait]
impl Log for HeldVisibilityLog {
    fn layout(&self) -> LogLayout {
        self.inner.layout()
    }

    async fn append(&self, log: LogName, partition: u32, records: Vec<Bytes>) -> Result<Offset, LogError> {
        if log == LogName::Visibility {
            self.visibility_appends.acquire().await.expect("the semaphore stays open").forget();
        }
        self.inner.append(log, partition, records).await
    }

    async fn read(&self, log: LogName, partition: u32, from: Offset, max: usize) -> Result<Vec<LogRecord>, LogError> {
        self.inner.read(log, partition, from, max).await
    }

    async fn end_offset(&self, log: LogName, partition: u32) -> Result<Offset, LogError> {
        self.inner.end_offset(log, partition).await
    }

    async fn trim(&self, log: LogName, partition: u32, before: Offset) -> Result<(), LogError> {
        self.inner.trim(log, partition, before).await
    }
}

#[tokio::test]
async fn a_start_is_answered_once_its_summary_is_in_the_visibility_log_and_a_signal_at_once() {
    let db = EmbeddedDb::open_temporary().expect("a temporary database");
    let layout = LogLayout { commands: 1, tasks: 1, visibility: 1 };
    let held = Arc::new(HeldVisibilityLog { inner: EmbeddedLog::open(db.clone(), layout).expect("log"), visibility_appends: Semaphore::new(0) });
    let log: Arc<dyn Log> = held.clone();
    let replies = Arc::new(LocalReplies::new(1));
    let config = EngineConfig { shard_count: 1, ..EngineConfig::default() };
    let engine = Engine::start(config, log.clone(), Arc::new(EmbeddedStore::new(db)), replies.clone(), Arc::new(HistoryNotifier::default()))
        .await
        .expect("engine started");

    let start = replies.register();
    common::append_command(log.as_ref(), 0, &start.reply_to, NAMESPACE, "wf", common::start("wf")).await;
    let answered = start.wait();
    tokio::pin!(answered);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut answered).await.is_err(),
        "the start was answered before its summary reached the visibility log"
    );
    assert_eq!(log.end_offset(LogName::Visibility, 0).await.expect("end"), 0);

    // A signal changes nothing lists show: it is answered without waiting.
    let signal = replies.register();
    let command = Command::SignalWorkflow(SignalWorkflow {
        request: Some(SignalWorkflowExecutionRequest {
            workflow_execution: Some(WorkflowExecution { workflow_id: "wf".into(), run_id: String::new() }),
            signal_name: "go".into(),
            request_id: "signal-1".into(),
            ..Default::default()
        }),
    });
    common::append_command(log.as_ref(), 0, &signal.reply_to, NAMESPACE, "wf", command).await;
    let signalled = tokio::time::timeout(Duration::from_secs(10), signal.wait()).await.expect("the signal answered at once");
    signalled.expect("a reply").expect("the signal applied");

    held.visibility_appends.add_permits(1);
    let started = tokio::time::timeout(Duration::from_secs(10), answered).await.expect("answered once the summary is in");
    started.expect("a reply").expect("the start applied");
    assert_eq!(log.end_offset(LogName::Visibility, 0).await.expect("end"), 1, "the summary was appended before the answer");
    engine.shutdown().await;
}
