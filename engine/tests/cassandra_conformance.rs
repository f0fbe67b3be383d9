//! The store conformance suite against a real Cassandra, started by
//! `tests/services/cassandra.sh` (a no-op if it already runs). Each case gets
//! a keyspace of its own, so cases run in parallel without seeing each
//! other, and drops it at the end. The factory's later opens connect a new
//! session to the same keyspace: that is how durability is checked.
//!
//! Without `java` the cases print why and pass: the only allowed skip.

use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use temper_engine::store::Store;
use temper_engine::store::cassandra::{CassandraConfig, CassandraStore, create_schema};
use temper_engine::store::conformance::{self as store_conformance, StoreFactory};
use tokio::sync::OnceCell;

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

fn java_is_installed() -> bool {
    Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Starts Cassandra once per test process; every case waits for it.
fn start_cassandra() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/services/cassandra.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg("start")
            .status()
            .expect("running cassandra.sh");
        assert!(
            status.success(),
            "tests/services/cassandra.sh start failed: {status}"
        );
    });
}

/// Runs one check in a fresh keyspace, then drops the keyspace.
async fn check_with_cassandra<Check, Fut>(check: Check)
where
    Check: FnOnce(&'static CassandraFactory) -> Fut,
    Fut: Future<Output = ()>,
{
    if !java_is_installed() {
        eprintln!(
            "\n!!!!! SKIPPED: no `java` on PATH, so no Cassandra to run the store conformance suite against !!!!!\n"
        );
        return;
    }
    tokio::task::spawn_blocking(start_cassandra)
        .await
        .expect("starting Cassandra");
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

conformance_tests!(
    init_shards_refuses_a_different_count,
    acquire_shard_raises_the_epoch,
    a_commit_applies_every_part,
    a_stale_commit_is_refused_and_applies_nothing,
    history_reads_ranges_and_rewrites_are_idempotent,
    ids_never_collide_whatever_their_characters,
    timers_load_earliest_first_before_the_bound,
    outbox_reads_from_a_sequence_and_deletes_through_one,
    namespaces_are_unique_by_name_and_listed_by_name,
    visibility_keeps_the_highest_version,
    visibility_lists_newest_start_first_in_pages,
    consumer_offsets_are_kept_per_consumer_log_and_partition,
    everything_survives_reopen,
    concurrent_commits_to_different_shards_all_succeed,
    deleting_a_run_removes_its_state_history_and_pointer,
    deleting_a_run_keeps_a_pointer_to_a_newer_run,
    deleting_a_run_is_fenced_and_idempotent,
    a_deleted_visibility_record_removes_the_run,
);
