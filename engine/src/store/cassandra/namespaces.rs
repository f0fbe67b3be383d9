//! Namespaces, in one partition ordered by name, and an id -> name table.

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
}
