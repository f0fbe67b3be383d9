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

temper_engine::with_log_checks!(conformance_tests { mod log uses log_conformance: });
temper_engine::with_store_checks!(conformance_tests { mod store uses store_conformance: });

/// `run_all` is what other adapters will call; it must run on its own too.
#[tokio::test]
async fn log_suite_runs_as_a_whole() {
    log_conformance::run_all(EmbeddedFactory::new).await;
}

#[tokio::test]
async fn store_suite_runs_as_a_whole() {
    store_conformance::run_all(EmbeddedFactory::new).await;
}
