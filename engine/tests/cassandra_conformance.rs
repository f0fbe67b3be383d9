//! The store conformance suite against a real Cassandra, started by
//! `tests/services/cassandra.sh` (a no-op if it already runs). Each case gets
//! a keyspace of its own, so cases run in parallel without seeing each
//! other, and drops it at the end. The factory's later opens connect a new
//! session to the same keyspace: that is how durability is checked.
//!
//! Without `java` the cases print why and pass: the only allowed skip.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use temper_engine::store::Store;
use temper_engine::store::cassandra::{CassandraConfig, CassandraStore, create_schema};
use temper_engine::store::conformance::{self as store_conformance, StoreFactory};
use tokio::sync::OnceCell;

mod services;

/// A keyspace of its own, created on the first open.
struct CassandraFactory {
    config: CassandraConfig,
    schema: OnceCell<()>,
}

impl CassandraFactory {
    fn new() -> CassandraFactory {
        CassandraFactory {
            config: CassandraConfig {
                keyspace: unique_keyspace(),
                contact_points: vec![contact_point()],
                ..CassandraConfig::default()
            },
            schema: OnceCell::new(),
        }
    }

    async fn drop_keyspace(&self) {
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_nodes(&self.config.contact_points)
            .build()
            .await
            .expect("connecting to drop the test keyspace");
        let drop = format!("DROP KEYSPACE IF EXISTS {}", self.config.keyspace);
        session
            .query_unpaged(drop, ())
            .await
            .expect("dropping the test keyspace");
    }
}

#[async_trait]
impl StoreFactory for CassandraFactory {
    async fn open(&self) -> Arc<dyn Store> {
        self.schema
            .get_or_init(|| async {
                create_schema(&self.config)
                    .await
                    .expect("creating the test keyspace")
            })
            .await;
        Arc::new(
            CassandraStore::connect(&self.config)
                .await
                .expect("connecting to Cassandra"),
        )
    }
}

fn contact_point() -> String {
    format!(
        "127.0.0.1:{}",
        std::env::var("CASSANDRA_PORT").unwrap_or_else(|_| "9042".to_string())
    )
}

/// Unique across processes (the pid) and within one (a counter).
fn unique_keyspace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "conformance_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs one check in a fresh keyspace, then drops the keyspace.
async fn check_with_cassandra<Check, Fut>(check: Check)
where
    Check: FnOnce(&'static CassandraFactory) -> Fut,
    Fut: Future<Output = ()>,
{
    if !services::started("cassandra.sh", "the store conformance suite").await {
        return;
    }
    let factory: &'static CassandraFactory = Box::leak(Box::new(CassandraFactory::new()));
    check(factory).await;
    factory.drop_keyspace().await;
}

macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                check_with_cassandra(|factory| store_conformance::$check(factory)).await;
            }
        )*
    };
}

temper_engine::with_store_checks!(conformance_tests {});

/// Beyond the shared suite: a history longer than one segment (1,000 event
/// ids per partition) reads across segments in any page size, and deleting
/// its run removes every segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_spans_segments_and_is_deleted_whole() {
    use temper_engine::store::{RunKey, ShardCommit};
    use temper_proto::api::history::v1::HistoryEvent;
    use temper_proto::records::{ExecutionInfo, WorkflowMutableState};

    const EVENTS: i64 = 2_500;
    check_with_cassandra(|factory| async move {
        let store = factory.open().await;
        store.init_shards(1).await.expect("init_shards");
        let epoch = store.acquire_shard(0).await.expect("acquire_shard").epoch;
        let run = RunKey {
            namespace_id: "ns".into(),
            workflow_id: "wf".into(),
            run_id: "run".into(),
        };
        let events: Vec<HistoryEvent> = (1..=EVENTS)
            .map(|event_id| HistoryEvent {
                event_id,
                ..HistoryEvent::default()
            })
            .collect();
        let info = ExecutionInfo {
            next_event_id: EVENTS + 1,
            ..ExecutionInfo::default()
        };
        let state = WorkflowMutableState {
            info: Some(info),
            ..WorkflowMutableState::default()
        };
        let history = vec![(run.clone(), events)];
        let executions = vec![(run.clone(), Arc::new(state))];
        store
            .commit(ShardCommit {
                shard_id: 0,
                epoch,
                history,
                executions,
                ..ShardCommit::default()
            })
            .await
            .expect("commit");

        let ids = |events: Vec<HistoryEvent>| {
            events
                .into_iter()
                .map(|event| event.event_id)
                .collect::<Vec<_>>()
        };
        let all = store
            .read_history(&run, 1, 10_000)
            .await
            .expect("read_history");
        assert_eq!(
            ids(all),
            (1..=EVENTS).collect::<Vec<_>>(),
            "every event, across three segments"
        );
        let across = store
            .read_history(&run, 990, 1_020)
            .await
            .expect("read_history");
        assert_eq!(
            ids(across),
            (990..2_010).collect::<Vec<_>>(),
            "a page crossing two segment boundaries"
        );
        let last = store
            .read_history(&run, 2_000, 10)
            .await
            .expect("read_history");
        assert_eq!(
            ids(last),
            (2_000..2_010).collect::<Vec<_>>(),
            "a page starting a segment"
        );

        let deletion = ShardCommit {
            shard_id: 0,
            epoch,
            runs_to_delete: vec![run.clone()],
            ..ShardCommit::default()
        };
        store.commit(deletion).await.expect("deleting the run");
        for first in [1, 1_000, 2_000] {
            let left = store
                .read_history(&run, first, 10)
                .await
                .expect("read_history");
            assert!(
                left.is_empty(),
                "events from {first} remain after the run was deleted"
            );
        }
    })
    .await;
}

/// A crash between a deletion's commit and its history's removal leaves a
/// pending-deletion row (kind 4) beside the history; whoever takes the shard
/// next deletes that history, and its next commit the row. The crash is
/// staged by writing such a row by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_whose_deletion_a_crash_interrupted_is_deleted_by_the_next_owner() {
    use temper_engine::store::{RunKey, ShardCommit};
    use temper_proto::api::history::v1::HistoryEvent;

    check_with_cassandra(|factory| async move {
        let store = factory.open().await;
        store.init_shards(1).await.expect("init_shards");
        let epoch = store.acquire_shard(0).await.expect("acquire_shard").epoch;
        let run = RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() };
        let events: Vec<HistoryEvent> = (1..=1_500).map(|event_id| HistoryEvent { event_id, ..HistoryEvent::default() }).collect();
        let history = vec![(run.clone(), events)];
        store.commit(ShardCommit { shard_id: 0, epoch, history, ..ShardCommit::default() }).await.expect("commit");

        // The run's key as the shard partition encodes it: each id length-prefixed.
        let mut key = Vec::new();
        for id in [&run.namespace_id, &run.workflow_id, &run.run_id] {
            key.extend_from_slice(&(id.len() as u32).to_be_bytes());
            key.extend_from_slice(id.as_bytes());
        }
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_nodes(&factory.config.contact_points)
            .build()
            .await
            .expect("connecting");
        let keyspace = &factory.config.keyspace;
        let segments: i64 = 2;
        session
            .query_unpaged(
                format!("INSERT INTO {keyspace}.shard (shard_id, row_kind, row_key, data) VALUES (0, 4, ?, ?)"),
                (key, segments.to_be_bytes().to_vec()),
            )
            .await
            .expect("staging a pending deletion");
        let pending = || async {
            session
                .query_unpaged(format!("SELECT row_key FROM {keyspace}.shard WHERE shard_id = 0 AND row_kind = 4"), ())
                .await
                .expect("reading pending deletions")
                .into_rows_result()
                .expect("rows")
                .rows_num()
        };
        assert_eq!(pending().await, 1);

        let next_owner = factory.open().await;
        let epoch = next_owner.acquire_shard(0).await.expect("acquire_shard").epoch;
        for first in [1, 1_000] {
            let left = next_owner.read_history(&run, first, 10).await.expect("read_history");
            assert!(left.is_empty(), "events from {first} outlived their run's deletion");
        }
        next_owner.commit(ShardCommit { shard_id: 0, epoch, applied_offset: 1, ..ShardCommit::default() }).await.expect("commit");
        assert_eq!(pending().await, 0, "the next commit deletes the pending row");
    })
    .await;
}

/// A cluster that cannot be reached is a retryable error saying so, not a
/// panic or a hang.
#[tokio::test]
async fn an_unreachable_cluster_is_an_unreachable_store() {
    use temper_engine::store::StoreError;

    // Nothing listens on port 1 of the loopback interface.
    let config = CassandraConfig {
        contact_points: vec!["127.0.0.1:1".to_string()],
        ..CassandraConfig::default()
    };
    let connecting = CassandraStore::connect(&config);
    let error = match tokio::time::timeout(std::time::Duration::from_secs(30), connecting).await {
        Ok(Ok(_)) => panic!("connected to a cluster that does not exist"),
        Ok(Err(error)) => error,
        Err(_) => panic!("connecting to an unreachable cluster did not fail within 30 s"),
    };
    match StoreError::from(error) {
        StoreError::Unreachable(message) => assert!(!message.is_empty()),
        other => panic!("expected StoreError::Unreachable, got {other:?}"),
    }
}

/// The schema tool: the store refuses a keyspace that was never set up,
/// naming the command to run, and one at v1 (too old); `update` from v1
/// applies v2 (member table, shard owner) and v3 (the store's listing of runs
/// dropped), and the store accepts it; `setup` of every version again is
/// harmless, though v2 adds a column (CQL has no `ADD IF NOT EXISTS`);
/// `update` to a test v4 applies v4 only, and running it again changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_setup_then_update_to_a_new_version() {
    use temper_engine::store::cassandra::{
        REQUIRED_VERSION, current_version, open_session, setup_schema, update_schema, versions_in,
    };

    check_with_cassandra(|factory| async move {
        let config = &factory.config;
        let refused = CassandraStore::connect(config).await.err().expect("a keyspace without a schema is refused");
        assert!(refused.to_string().contains("run `temper schema setup`"), "{refused}");

        let dir = tempfile::tempdir().expect("a temporary directory");
        let copy_version = |version: &str| {
            let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/cassandra").join(version).join("schema.cql");
            std::fs::create_dir_all(dir.path().join(version)).expect("a version directory");
            std::fs::copy(repository, dir.path().join(version).join("schema.cql")).expect("copying a version");
        };
        copy_version("v1");
        let v1 = versions_in(dir.path()).expect("reading v1");
        assert_eq!(setup_schema(config, &v1).await.expect("setup"), 1);
        assert!(CassandraStore::connect(config).await.is_err(), "a keyspace at v1 is too old");

        copy_version("v2");
        copy_version("v3");
        let v3 = versions_in(dir.path()).expect("reading v1 to v3");
        assert_eq!(update_schema(config, &v3).await.expect("update"), (1, 3));
        assert_eq!(REQUIRED_VERSION, 3);
        CassandraStore::connect(config).await.expect("the store accepts a keyspace at its version");
        assert_eq!(setup_schema(config, &v3).await.expect("setup again, adding the column again"), 3);
        let session = open_session(config).await.expect("a session");
        let dropped = format!("SELECT run_id FROM {}.visibility", config.keyspace);
        assert!(session.query_unpaged(dropped, ()).await.is_err(), "v3 dropped the store's listing of runs");

        std::fs::create_dir_all(dir.path().join("v4")).expect("v4/");
        std::fs::write(
            dir.path().join("v4/added.cql"),
            "-- A table only the test's v4 has.\nCREATE TABLE IF NOT EXISTS {keyspace}.added_in_v4 (id int PRIMARY KEY);\n",
        )
        .expect("writing v4");
        let v4 = versions_in(dir.path()).expect("reading v1 to v4");
        assert_eq!(update_schema(config, &v4).await.expect("update"), (3, 4));
        assert_eq!(update_schema(config, &v4).await.expect("update again"), (4, 4));
        assert_eq!(current_version(&session, &config.keyspace).await.expect("the version"), Some(4));
        let query = format!("SELECT id FROM {}.added_in_v4", config.keyspace);
        session.query_unpaged(query, ()).await.expect("v4's table exists");
    })
    .await;
}
