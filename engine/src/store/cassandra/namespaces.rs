//! Namespaces, in one partition ordered by name, and an id -> name table.
//!
//! A rename is one conditional batch within that partition (the new name
//! inserted if free, the old one deleted if unchanged); the id -> name row
//! follows it, and a lookup by id that finds the pointer stale (a rename
//! whose second write was lost) finds the namespace by scanning the
//! partition, which holds every namespace.
//!
//! An update is conditional on the stored record (`IF data = ?`, the bytes
//! it read with a serial read): the record carries its version, so this is
//! `IF version = ?` without a column of its own, and keyspaces of earlier
//! schema versions need no migration.

use async_trait::async_trait;
use prost::Message;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use temper_proto::records::NamespaceRecord;

use super::error::decode;
use super::{CassandraError, CassandraStore, Preparer, was_applied};
use crate::store::{NamespaceStore, StoreError, StoreResult};

pub(super) struct NamespaceStatements {
    insert: PreparedStatement,
    insert_id: PreparedStatement,
    by_name: PreparedStatement,
    name_of_id: PreparedStatement,
    all: PreparedStatement,
    by_name_serial: PreparedStatement,
    update: PreparedStatement,
    delete_if: PreparedStatement,
    delete_id: PreparedStatement,
}

impl NamespaceStatements {
    pub(super) async fn prepare(
        preparer: &Preparer<'_>,
    ) -> Result<NamespaceStatements, CassandraError> {
        Ok(NamespaceStatements {
            insert: preparer
                .prepare_conditional("INSERT INTO {ks}.namespace (bucket, name, data) VALUES (0, ?, ?) IF NOT EXISTS")
                .await?,
            insert_id: preparer.prepare("INSERT INTO {ks}.namespace_by_id (id, name) VALUES (?, ?)").await?,
            by_name: preparer.prepare("SELECT data FROM {ks}.namespace WHERE bucket = 0 AND name = ?").await?,
            name_of_id: preparer.prepare("SELECT name FROM {ks}.namespace_by_id WHERE id = ?").await?,
            all: preparer.prepare("SELECT data FROM {ks}.namespace WHERE bucket = 0").await?,
            by_name_serial: preparer
                .prepare_serial_read("SELECT data FROM {ks}.namespace WHERE bucket = 0 AND name = ?")
                .await?,
            update: preparer
                .prepare_conditional("UPDATE {ks}.namespace SET data = ? WHERE bucket = 0 AND name = ? IF data = ?")
                .await?,
            delete_if: preparer
                .prepare_conditional("DELETE FROM {ks}.namespace WHERE bucket = 0 AND name = ? IF data = ?")
                .await?,
            delete_id: preparer.prepare("DELETE FROM {ks}.namespace_by_id WHERE id = ?").await?,
        })
    }
}

fn decode_namespaces(rows: Vec<(Vec<u8>,)>) -> Result<Vec<NamespaceRecord>, CassandraError> {
    rows.into_iter()
        .map(|(data,)| decode("namespace", &data))
        .collect()
}

#[async_trait]
impl NamespaceStore for CassandraStore {
    /// The name is taken by a conditional insert; the id is recorded only then.
    async fn create_namespace(&self, namespace: NamespaceRecord) -> StoreResult<()> {
        let statements = &self.statements.namespaces;
        if !self
            .applied(
                &statements.insert,
                (&namespace.name, namespace.encode_to_vec()),
            )
            .await?
        {
            return Err(StoreError::NamespaceAlreadyExists(namespace.name));
        }
        self.execute(&statements.insert_id, (&namespace.id, &namespace.name))
            .await?;
        Ok(())
    }

    async fn get_namespace_by_name(&self, name: &str) -> StoreResult<Option<NamespaceRecord>> {
        let rows = self
            .rows(&self.statements.namespaces.by_name, (name,))
            .await?;
        Ok(decode_namespaces(rows)?.into_iter().next())
    }

    async fn get_namespace_by_id(&self, id: &str) -> StoreResult<Option<NamespaceRecord>> {
        let name: Option<(String,)> = self
            .first_row(&self.statements.namespaces.name_of_id, (id,))
            .await?;
        if let Some((name,)) = name
            && let Some(namespace) = self.get_namespace_by_name(&name).await?
            && namespace.id == id
        {
            return Ok(Some(namespace));
        }
        Ok(self.list_namespaces().await?.into_iter().find(|namespace| namespace.id == id))
    }

    async fn list_namespaces(&self) -> StoreResult<Vec<NamespaceRecord>> {
        let rows = self.rows(&self.statements.namespaces.all, ()).await?;
        Ok(decode_namespaces(rows)?)
    }

    async fn update_namespace(&self, mut namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        namespace.version = expected_version + 1;
        let encoded = self.namespace_at_version(&namespace.name, &namespace.id, expected_version).await?;
        let statements = &self.statements.namespaces;
        if self
            .applied(&statements.update, (namespace.encode_to_vec(), &namespace.name, encoded))
            .await?
        {
            return Ok(namespace);
        }
        Err(self.lost_race(&namespace.name, expected_version).await)
    }

    async fn rename_namespace(&self, from: &str, mut namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        if from == namespace.name {
            return self.update_namespace(namespace, expected_version).await;
        }
        namespace.version = expected_version + 1;
        let encoded = self.namespace_at_version(from, &namespace.id, expected_version).await?;
        let statements = &self.statements.namespaces;
        let mut batch = Batch::new(BatchType::Unlogged);
        batch.set_consistency(self.config.consistency);
        batch.set_serial_consistency(Some(self.config.serial_consistency));
        batch.append_statement(statements.insert.clone());
        batch.append_statement(statements.delete_if.clone());
        self.count_conditional_write();
        let answer = self
            .session
            .batch(&batch, ((&namespace.name, namespace.encode_to_vec()), (from, encoded)))
            .await
            .map_err(CassandraError::from)?;
        if !was_applied(answer)? {
            if self.serial_namespace(&namespace.name).await?.is_some() {
                return Err(StoreError::NamespaceAlreadyExists(namespace.name));
            }
            return Err(self.lost_race(from, expected_version).await);
        }
        self.execute(&statements.insert_id, (&namespace.id, &namespace.name)).await?;
        Ok(namespace)
    }

    async fn delete_namespace(&self, name: &str, id: &str, expected_version: i64) -> StoreResult<()> {
        let encoded = self.namespace_at_version(name, id, expected_version).await?;
        let statements = &self.statements.namespaces;
        if !self.applied(&statements.delete_if, (name, encoded)).await? {
            return Err(self.lost_race(name, expected_version).await);
        }
        self.execute(&statements.delete_id, (id,)).await?;
        Ok(())
    }
}

impl CassandraStore {
    /// The stored bytes of the namespace named `name`, if it is `id` at
    /// `expected_version`: what a conditional write on it compares with.
    async fn namespace_at_version(&self, name: &str, id: &str, expected_version: i64) -> StoreResult<Vec<u8>> {
        let Some((stored, encoded)) = self.serial_namespace(name).await? else {
            return Err(StoreError::NamespaceNotFound(name.to_string()));
        };
        if stored.id != id || stored.version != expected_version {
            return Err(StoreError::NamespaceVersionConflict { name: name.to_string(), expected: expected_version, current: stored.version });
        }
        Ok(encoded)
    }

    /// Why a conditional write on a namespace read at `expected_version`
    /// was not applied: another write came between the read and it.
    async fn lost_race(&self, name: &str, expected_version: i64) -> StoreError {
        match self.serial_namespace(name).await {
            Ok(Some((stored, _))) => {
                StoreError::NamespaceVersionConflict { name: name.to_string(), expected: expected_version, current: stored.version }
            }
            Ok(None) => StoreError::NamespaceNotFound(name.to_string()),
            Err(error) => error.into(),
        }
    }

    /// A namespace's record as last decided, decoded and as stored.
    async fn serial_namespace(&self, name: &str) -> Result<Option<(NamespaceRecord, Vec<u8>)>, CassandraError> {
        let row: Option<(Vec<u8>,)> = self
            .first_row(&self.statements.namespaces.by_name_serial, (name,))
            .await?;
        match row {
            Some((data,)) => Ok(Some((decode("namespace", &data)?, data))),
            None => Ok(None),
        }
    }
}
