//! A command the store can never accept (here: a workflow id too long to be
//! a key) is answered with an error and passed over: the commands around it
//! are applied, and neither the shard nor a restart replays it into the same
//! failure.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::{Log, LogLayout, LogName};
use temper_engine::notify::HistoryNotifier;
use temper_engine::partitioning::shard_of;
use temper_engine::replies::{CommandResult, LocalReplies, PendingReply};
use temper_engine::state_machine::CommandError;
use temper_engine::state_machine::commands::Reply;
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::store::Store;
use temper_engine::{Engine, EngineConfig};

mod common;
use common::start;
use temper_proto::records::CommandRecord;

const SHARDS: u32 = 2;
const NAMESPACE: &str = "ns-id";

struct Harness {
    log: Arc<dyn Log>,
    replies: Arc<LocalReplies>,
    engine: Engine,
}

impl Harness {
    async fn start(db: Arc<EmbeddedDb>, incarnation: u64) -> Harness {
        let layout = LogLayout { commands: SHARDS, tasks: 1, visibility: 1 };
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(db.clone(), layout).expect("open log"));
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::new(db));
        let replies = Arc::new(LocalReplies::new(incarnation));
        let config = EngineConfig { shard_count: SHARDS, ..EngineConfig::default() };
        let engine = Engine::start(config, log.clone(), store, replies.clone(), Arc::new(HistoryNotifier::default()))
            .await
            .expect("start engine");
        Harness { log, replies, engine }
    }

    /// Stops the engine and closes the log, so the database can be opened again.
    async fn stop(self) {
        self.engine.shutdown().await;
    }

    /// Appends starts of `workflow_ids` (all on one shard) in one append, so
    /// the engine reads them as one batch, and returns their replies.
    async fn start_together(&self, workflow_ids: &[String]) -> Vec<CommandResult> {
        let shard = shard_of(NAMESPACE, &workflow_ids[0], SHARDS);
        let mut pending: Vec<PendingReply<'_>> = Vec::new();
        let mut records = Vec::new();
        for workflow_id in workflow_ids {
            assert_eq!(shard_of(NAMESPACE, workflow_id, SHARDS), shard, "the starts must share a shard");
            let reply = self.replies.register();
            let record = CommandRecord {
                reply_to: Some(reply.reply_to.clone()),
                namespace_id: NAMESPACE.into(),
                workflow_id: workflow_id.clone(),
                command: Some(start(workflow_id)),
                origin: None,
                trace_context: Default::default(),
            };
            records.push(Bytes::from(record.encode_to_vec()));
            pending.push(reply);
        }
        self.log.append(LogName::Commands, shard, records).await.expect("append");
        let mut results = Vec::new();
        for reply in pending {
            let result = tokio::time::timeout(Duration::from_secs(10), reply.wait()).await.expect("a reply in time");
            results.push(result.expect("the engine replied"));
        }
        results
    }
}

/// Workflow ids on shard 0: a short one per `label`, then one of 70,000 bytes.
fn ids_on_shard_zero(labels: &[&str]) -> (Vec<String>, String) {
    let on_zero = |candidate: &String| shard_of(NAMESPACE, candidate, SHARDS) == 0;
    let short = labels
        .iter()
        .map(|label| (0..).map(|i| format!("{label}-{i}")).find(on_zero).expect("some id lands on shard 0"))
        .collect();
    let huge = (0..).map(|i| format!("{i}-{}", "w".repeat(70_000))).find(on_zero).expect("some id lands on shard 0");
    (short, huge)
}

fn started(result: &CommandResult) -> bool {
    matches!(result, Ok(Reply::Started { started: true, .. }))
}

#[tokio::test]
async fn a_command_the_store_refuses_is_answered_and_passed_over() {
    let db = EmbeddedDb::open_temporary().expect("open db");
    let (short, huge) = ids_on_shard_zero(&["before", "after", "later"]);
    let harness = Harness::start(db.clone(), 1).await;

    let results = harness.start_together(&[short[0].clone(), huge.clone(), short[1].clone()]).await;
    assert!(started(&results[0]), "the start before the bad one is applied: {:?}", results[0]);
    assert!(
        matches!(&results[1], Err(CommandError::Internal(message)) if message.contains("cannot be stored")),
        "the bad start is answered with the reason: {:?}",
        results[1]
    );
    assert!(started(&results[2]), "the start after the bad one is applied: {:?}", results[2]);
    assert_eq!(harness.engine.shard_restarts(), 0);
    harness.stop().await;

    // The bad record is still in the log; a restarted engine must not trip on it.
    let restarted = Harness::start(db, 2).await;
    let results = restarted.start_together(&[short[2].clone()]).await;
    assert!(started(&results[0]), "the shard serves after a restart: {:?}", results[0]);
    restarted.stop().await;
}
