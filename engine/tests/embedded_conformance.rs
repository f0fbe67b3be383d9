//! The log and store conformance suites, run against the embedded adapters.
//! Each factory reopens the same temporary directory, so the reopen checks
//! test what fjall actually persisted.

use std::sync::Arc;

use async_trait::async_trait;
use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::Log;
use temper_engine::log::conformance::{self as log_conformance, LogFactory};
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::store::Store;
use temper_engine::store::conformance::{self as store_conformance, StoreFactory};
use temper_engine::store::embedded::EmbeddedStore;
use tempfile::TempDir;

/// A database directory that outlives the adapters opened on it.
struct EmbeddedFactory {
    dir: TempDir,
}

impl EmbeddedFactory {
    fn new() -> EmbeddedFactory {
        EmbeddedFactory { dir: tempfile::tempdir().expect("creating a temporary directory") }
    }

    fn open_db(&self) -> Arc<EmbeddedDb> {
        EmbeddedDb::open(self.dir.path()).expect("opening the embedded database")
    }
}

#[async_trait]
impl LogFactory for EmbeddedFactory {
    async fn open(&self) -> Arc<dyn Log> {
        Arc::new(EmbeddedLog::open(self.open_db(), log_conformance::LAYOUT).expect("opening the embedded log"))
    }
}

#[async_trait]
impl StoreFactory for EmbeddedFactory {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(EmbeddedStore::new(self.open_db()))
    }
}

macro_rules! conformance_tests {
    (mod $module:ident uses $suite:ident: $($check:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    $suite::$check(&EmbeddedFactory::new()).await;
                }
            )*
        }
    };
}

conformance_tests!(mod log uses log_conformance:
    offsets_start_at_zero_and_are_contiguous,
    read_returns_records_in_order_and_respects_max,
    partitions_are_independent,
    read_waits_for_an_append,
    concurrent_appends_get_distinct_contiguous_offsets,
    end_offset_is_the_next_offset,
    trim_discards_records_below_the_point,
    unknown_partitions_are_refused,
    records_survive_reopen,
);

conformance_tests!(mod store uses store_conformance:
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

/// `run_all` is what other adapters will call; it must run on its own too.
#[tokio::test]
async fn log_suite_runs_as_a_whole() {
    log_conformance::run_all(EmbeddedFactory::new).await;
}

#[tokio::test]
async fn store_suite_runs_as_a_whole() {
    store_conformance::run_all(EmbeddedFactory::new).await;
}
