//! Namespaces by name and id, cached in front of the store. Namespaces are
//! cluster metadata, not workflow state: they are written straight to the
//! store with a conditional insert rather than through a shard.

use std::sync::Arc;

use dashmap::DashMap;
use temper_engine::store::{Store, StoreError};
use temper_engine::time::{duration_from_nanos, now_nanos, timestamp_from_nanos};
use temper_proto::api::enums::v1::NamespaceState;
use temper_proto::records::NamespaceRecord;

use crate::errors::{ApiError, ApiResult};

const DAY_NANOS: i64 = 24 * 3600 * 1_000_000_000;

pub struct NamespaceRegistry {
    store: Arc<dyn Store>,
    by_name: DashMap<String, NamespaceRecord>,
    by_id: DashMap<String, NamespaceRecord>,
}

impl NamespaceRegistry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        NamespaceRegistry { store, by_name: DashMap::new(), by_id: DashMap::new() }
    }

    /// The namespace a request names; a missing name or namespace is the caller's error.
    pub async fn resolve(&self, name: &str) -> ApiResult<NamespaceRecord> {
        if name.is_empty() {
            return Err(ApiError::invalid("Namespace not set on request."));
        }
        if let Some(record) = self.by_name.get(name) {
            return Ok(record.clone());
        }
        match self.store.get_namespace_by_name(name).await? {
            Some(record) => Ok(self.remember(record)),
            None => Err(ApiError::NamespaceNotFound(name.to_string())),
        }
    }

    pub async fn by_id(&self, id: &str) -> ApiResult<NamespaceRecord> {
        if let Some(record) = self.by_id.get(id) {
            return Ok(record.clone());
        }
        match self.store.get_namespace_by_id(id).await? {
            Some(record) => Ok(self.remember(record)),
            None => Err(ApiError::NotFound(format!("Namespace id {id} is not found."))),
        }
    }

    fn remember(&self, record: NamespaceRecord) -> NamespaceRecord {
        self.by_name.insert(record.name.clone(), record.clone());
        self.by_id.insert(record.id.clone(), record.clone());
        record
    }

    pub async fn register(&self, record: NamespaceRecord) -> ApiResult<()> {
        match self.store.create_namespace(record.clone()).await {
            Ok(()) => {
                self.remember(record);
                Ok(())
            }
            Err(StoreError::NamespaceAlreadyExists(name)) => Err(ApiError::NamespaceAlreadyExists(name)),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn list(&self) -> ApiResult<Vec<NamespaceRecord>> {
        Ok(self.store.list_namespaces().await?)
    }

    /// Creates a namespace unless it exists: how `start-dev` provides `default`.
    pub async fn ensure(&self, name: &str, retention_days: i64) -> ApiResult<()> {
        if self.store.get_namespace_by_name(name).await?.is_some() {
            return Ok(());
        }
        match self.register(new_namespace(name, "", "", retention_days)).await {
            Ok(()) | Err(ApiError::NamespaceAlreadyExists(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }
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
    }
}
