//! Namespaces, in one partition ordered by name, and an id -> name table.
//!
//! An update is conditional on the stored record (`IF data = ?`, the bytes
//! it read with a serial read): the record carries its version, so this is
//! `IF version = ?` without a column of its own, and keyspaces of earlier
//! schema versions need no migration.

use async_trait::async_trait;
use prost::Message;
use scylla::statement::prepared::PreparedStatement;
use temper_proto::records::NamespaceRecord;

use super::error::decode;
use super::{CassandraError, CassandraStore, Preparer};
use crate::store::{NamespaceStore, StoreError, StoreResult};

pub(super) struct NamespaceStatements {
    insert: PreparedStatement,
    insert_id: PreparedStatement,
    by_name: PreparedStatement,
    name_of_id: PreparedStatement,
    all: PreparedStatement,
    by_name_serial: PreparedStatement,
    update: PreparedStatement,
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
        match name {
            Some((name,)) => self.get_namespace_by_name(&name).await,
            None => Ok(None),
        }
    }

    async fn list_namespaces(&self) -> StoreResult<Vec<NamespaceRecord>> {
        let rows = self.rows(&self.statements.namespaces.all, ()).await?;
        Ok(decode_namespaces(rows)?)
    }

    async fn update_namespace(&self, mut namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        namespace.version = expected_version + 1;
        let conflict = |current: i64, name: String| StoreError::NamespaceVersionConflict {
            name,
            expected: expected_version,
            current,
        };
        let Some((stored, encoded)) = self.serial_namespace(&namespace.name).await? else {
            return Err(StoreError::NamespaceNotFound(namespace.name));
        };
        if stored.id != namespace.id || stored.version != expected_version {
            return Err(conflict(stored.version, namespace.name));
        }
        let statements = &self.statements.namespaces;
        if self
            .applied(&statements.update, (namespace.encode_to_vec(), &namespace.name, encoded))
            .await?
        {
            return Ok(namespace);
        }
        // Another update came between the read and the write.
        let current = self.serial_namespace(&namespace.name).await?.map(|(stored, _)| stored.version);
        Err(conflict(current.unwrap_or_default(), namespace.name))
    }
}

impl CassandraStore {
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
