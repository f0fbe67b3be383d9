//! Namespaces by name and id, cached in front of the store. Namespaces are
//! cluster metadata, not workflow state: they are written straight to the
//! store (a conditional insert creates one, a conditional update on its
//! `version` changes one) rather than through a shard.
//!
//! A cached record is used for [`CACHE_TTL`] and then read again, as
//! Temporal's namespace registry refreshes every 10 s: an update made
//! through this gateway is seen here at once, one made through another
//! gateway process within that time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use temper_engine::store::{Store, StoreError};
use temper_engine::time::{duration_from_nanos, now_nanos, timestamp_from_nanos};
use temper_proto::api::enums::v1::{IndexedValueType, NamespaceState};
use temper_proto::records::NamespaceRecord;

use crate::errors::{ApiError, ApiResult};

const DAY_NANOS: i64 = 24 * 3600 * 1_000_000_000;

/// How long a cached namespace is used before it is read again: how long an
/// update made through another gateway may take to be seen here.
pub const CACHE_TTL: Duration = Duration::from_secs(10);

/// How often an update is redone on a fresher record when others keep
/// updating the namespace in between.
const UPDATE_ATTEMPTS: usize = 10;

/// A handle to the registry; clones share the cache.
#[derive(Clone)]
pub struct NamespaceRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    by_name: DashMap<String, Cached>,
    by_id: DashMap<String, Cached>,
}

#[derive(Clone)]
struct Cached {
    record: NamespaceRecord,
    read_at: Instant,
}

impl NamespaceRegistry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        NamespaceRegistry { inner: Arc::new(Inner { store, by_name: DashMap::new(), by_id: DashMap::new() }) }
    }

    /// The namespace a request names, refused if it is deleted (as
    /// Temporal's namespace validator refuses every call but a few); a
    /// missing name or namespace is the caller's error.
    pub async fn resolve(&self, name: &str) -> ApiResult<NamespaceRecord> {
        let record = self.lookup(name).await?;
        check_state(&record, &[NamespaceState::Registered, NamespaceState::Deprecated])?;
        Ok(record)
    }

    /// The namespace a request names, whatever its state (DescribeNamespace).
    pub async fn lookup(&self, name: &str) -> ApiResult<NamespaceRecord> {
        if name.is_empty() {
            return Err(ApiError::invalid("Namespace not set on request."));
        }
        let cached = self.inner.by_name.get(name).map(|entry| entry.clone());
        if let Some(cached) = &cached
            && cached.read_at.elapsed() < CACHE_TTL
        {
            return Ok(cached.record.clone());
        }
        match self.inner.store.get_namespace_by_name(name).await {
            Ok(Some(record)) => Ok(self.remember(record)),
            Ok(None) => {
                self.inner.by_name.remove(name);
                Err(ApiError::NamespaceNotFound(name.to_string()))
            }
            // A record read a little while ago beats failing the call.
            Err(_) if cached.is_some() => Ok(cached.expect("checked").record),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn by_id(&self, id: &str) -> ApiResult<NamespaceRecord> {
        let cached = self.inner.by_id.get(id).map(|entry| entry.clone());
        if let Some(cached) = &cached
            && cached.read_at.elapsed() < CACHE_TTL
        {
            return Ok(cached.record.clone());
        }
        match self.inner.store.get_namespace_by_id(id).await {
            Ok(Some(record)) => Ok(self.remember(record)),
            Ok(None) => Err(ApiError::NotFound(format!("Namespace id {id} is not found."))),
            Err(_) if cached.is_some() => Ok(cached.expect("checked").record),
            Err(error) => Err(error.into()),
        }
    }

    fn remember(&self, record: NamespaceRecord) -> NamespaceRecord {
        let cached = Cached { record: record.clone(), read_at: Instant::now() };
        self.inner.by_name.insert(record.name.clone(), cached.clone());
        self.inner.by_id.insert(record.id.clone(), cached);
        record
    }

    pub async fn register(&self, record: NamespaceRecord) -> ApiResult<()> {
        match self.inner.store.create_namespace(record.clone()).await {
            Ok(()) => {
                self.remember(record);
                Ok(())
            }
            Err(StoreError::NamespaceAlreadyExists(name)) => Err(ApiError::NamespaceAlreadyExists(name)),
            Err(error) => Err(error.into()),
        }
    }

    /// Changes a namespace: `change` is applied to the stored record and the
    /// result written if nobody updated the namespace since it was read;
    /// otherwise it is applied again to the newer record. So two concurrent
    /// updates (a description here, a search attribute there) both stay.
    /// `change` may refuse the update; a change that changes nothing writes
    /// nothing; a change of name moves the namespace to it (refused if the
    /// name is taken). Returns the record as it now is.
    pub async fn update(
        &self,
        name: &str,
        mut change: impl FnMut(&mut NamespaceRecord) -> ApiResult<()>,
    ) -> ApiResult<NamespaceRecord> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(current) = self.inner.store.get_namespace_by_name(name).await? else {
                return Err(ApiError::NamespaceNotFound(name.to_string()));
            };
            let mut updated = current.clone();
            change(&mut updated)?;
            if updated == current {
                return Ok(self.remember(current));
            }
            let written = if updated.name == current.name {
                self.inner.store.update_namespace(updated, current.version).await
            } else {
                self.inner.store.rename_namespace(name, updated, current.version).await
            };
            match written {
                Ok(stored) => {
                    if stored.name != name {
                        self.inner.by_name.remove(name);
                    }
                    return Ok(self.remember(stored));
                }
                Err(StoreError::NamespaceVersionConflict { .. }) => continue,
                Err(StoreError::NamespaceNotFound(name)) => return Err(ApiError::NamespaceNotFound(name)),
                Err(StoreError::NamespaceAlreadyExists(name)) => return Err(ApiError::NamespaceAlreadyExists(name)),
                Err(error) => return Err(error.into()),
            }
        }
        Err(ApiError::Unavailable(format!(
            "Namespace {name} kept changing while it was being updated; try again."
        )))
    }

    /// Removes a namespace as `record` read it; refused (NamespaceVersionConflict
    /// as UNAVAILABLE) if it changed since.
    pub async fn remove(&self, record: &NamespaceRecord) -> ApiResult<()> {
        self.inner.store.delete_namespace(&record.name, &record.id, record.version).await?;
        self.inner.by_name.remove(&record.name);
        self.inner.by_id.remove(&record.id);
        Ok(())
    }

    pub async fn list(&self) -> ApiResult<Vec<NamespaceRecord>> {
        Ok(self.inner.store.list_namespaces().await?)
    }

    /// Creates a namespace unless it exists: how `start-dev` provides `default`.
    pub async fn ensure(&self, name: &str, retention_days: i64) -> ApiResult<()> {
        if self.inner.store.get_namespace_by_name(name).await?.is_some() {
            return Ok(());
        }
        match self.register(new_namespace(name, "", "", retention_days)).await {
            Ok(()) | Err(ApiError::NamespaceAlreadyExists(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// A namespace's state; records written before states were kept are registered.
pub fn state_of(record: &NamespaceRecord) -> NamespaceState {
    match NamespaceState::try_from(record.state) {
        Ok(NamespaceState::Unspecified) | Err(_) => NamespaceState::Registered,
        Ok(state) => state,
    }
}

/// Refuses a namespace in a state the call does not allow, as Temporal's
/// namespace validator does (FAILED_PRECONDITION with NamespaceInvalidStateFailure).
pub fn check_state(record: &NamespaceRecord, allowed: &[NamespaceState]) -> ApiResult<()> {
    let state = state_of(record);
    if allowed.contains(&state) {
        return Ok(());
    }
    Err(ApiError::NamespaceInvalidState { namespace: record.name.clone(), state, allowed: allowed.to_vec() })
}

/// Refuses new runs in a namespace that is not registered: Temporal allows
/// StartWorkflowExecution and SignalWithStartWorkflowExecution only then
/// (a deprecated namespace keeps its runs going but takes no new ones).
pub fn check_accepts_new_runs(record: &NamespaceRecord) -> ApiResult<()> {
    check_state(record, &[NamespaceState::Registered])
}

/// The custom search attributes registered in the namespace
/// (AddSearchAttributes), with their types: what a visibility query may name
/// beside the system and predefined attributes the index knows itself.
/// Custom names never shadow those: registration refuses them.
pub fn custom_search_attribute_types(namespace: &NamespaceRecord) -> HashMap<String, IndexedValueType> {
    namespace
        .custom_search_attributes
        .iter()
        .filter_map(|(name, value_type)| {
            let value_type = IndexedValueType::try_from(*value_type).ok()?;
            (value_type != IndexedValueType::Unspecified).then(|| (name.clone(), value_type))
        })
        .collect()
}

pub fn new_namespace(name: &str, description: &str, owner_email: &str, retention_days: i64) -> NamespaceRecord {
    NamespaceRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        description: description.to_string(),
        owner_email: owner_email.to_string(),
        retention: Some(duration_from_nanos(retention_days * DAY_NANOS)),
        data: Default::default(),
        create_time: Some(timestamp_from_nanos(now_nanos())),
        state: NamespaceState::Registered as i32,
        version: 0,
        custom_search_attributes: Default::default(),
        delete_after: None,
    }
}

#[cfg(test)]
mod tests {
    use temper_engine::embedded_db::EmbeddedDb;
    use temper_engine::store::embedded::EmbeddedStore;

    use super::*;

    /// An update's change that cannot fail.
    fn set(change: impl Fn(&mut NamespaceRecord)) -> impl FnMut(&mut NamespaceRecord) -> ApiResult<()> {
        move |record| {
            change(record);
            Ok(())
        }
    }

    fn registry() -> (NamespaceRegistry, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = EmbeddedDb::open(dir.path()).expect("opening the embedded database");
        (NamespaceRegistry::new(Arc::new(EmbeddedStore::new(db))), dir)
    }

    #[tokio::test]
    async fn concurrent_updates_are_all_kept() {
        let (registry, _dir) = registry();
        registry.ensure("ns", 1).await.expect("ensure");
        let updates: Vec<_> = (0..8)
            .map(|i| {
                let registry = registry.clone();
                tokio::spawn(async move {
                    registry
                        .update("ns", |record| {
                            record.data.insert(format!("key-{i}"), i.to_string());
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        for update in updates {
            update.await.expect("an updating task panicked").expect("update");
        }
        let stored = registry.lookup("ns").await.expect("lookup");
        assert_eq!(stored.data.len(), 8, "no update lost another: {:?}", stored.data);
        assert_eq!(stored.version, 8);
    }

    #[tokio::test]
    async fn an_update_is_seen_at_once_and_a_refused_or_empty_one_writes_nothing() {
        let (registry, _dir) = registry();
        registry.ensure("ns", 1).await.expect("ensure");
        let before = registry.resolve("ns").await.expect("resolve");
        registry.update("ns", set(|record| record.description = "new".into())).await.expect("update");
        assert_eq!(registry.resolve("ns").await.expect("resolve").description, "new", "the cache shows the update");
        assert_eq!(registry.by_id(&before.id).await.expect("by id").description, "new");
        let refused = registry.update("ns", |_| Err(ApiError::invalid("no"))).await;
        assert!(matches!(refused, Err(ApiError::InvalidArgument(_))));
        let same = registry.update("ns", |_| Ok(())).await.expect("an empty update");
        assert_eq!(same.version, 1, "nothing changed, nothing written");
        assert!(matches!(registry.update("missing", |_| Ok(())).await, Err(ApiError::NamespaceNotFound(_))));
    }

    #[tokio::test]
    async fn deleted_namespaces_are_refused_and_deprecated_ones_take_no_new_runs() {
        let (registry, _dir) = registry();
        registry.ensure("ns", 1).await.expect("ensure");
        let record = registry.update("ns", set(|record| record.state = NamespaceState::Deprecated as i32)).await.expect("update");
        assert!(registry.resolve("ns").await.is_ok(), "a deprecated namespace still serves its runs");
        assert!(matches!(check_accepts_new_runs(&record), Err(ApiError::NamespaceInvalidState { .. })));
        registry.update("ns", set(|record| record.state = NamespaceState::Deleted as i32)).await.expect("update");
        assert!(matches!(registry.resolve("ns").await, Err(ApiError::NamespaceInvalidState { .. })));
        assert!(registry.lookup("ns").await.is_ok(), "DescribeNamespace still sees it");
    }

    #[test]
    fn custom_search_attribute_types_are_the_registered_ones_with_a_type() {
        let mut record = new_namespace("ns", "", "", 1);
        record.custom_search_attributes.insert("CustomerId".into(), IndexedValueType::Keyword as i32);
        record.custom_search_attributes.insert("Untyped".into(), IndexedValueType::Unspecified as i32);
        let types = custom_search_attribute_types(&record);
        assert_eq!(types.len(), 1, "{types:?}");
        assert_eq!(types.get("CustomerId"), Some(&IndexedValueType::Keyword));
    }
}
