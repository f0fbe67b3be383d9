//! Creates the keyspace and tables of `schema/cassandra/v1/schema.cql`.

use super::{CassandraConfig, CassandraError, open_session};

const SCHEMA_V1: &str = include_str!("../../../../schema/cassandra/v1/schema.cql");

/// The schema's statements with the keyspace and replication filled in:
/// comments dropped, split where a line ends with `;`.
pub fn schema_statements(keyspace: &str, replication: &str) -> Vec<String> {
    let uncommented: Vec<&str> = SCHEMA_V1
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect();
    uncommented
        .join("\n")
        .split(";\n")
        .map(str::trim)
        .map(|statement| statement.trim_end_matches(';'))
        .filter(|statement| !statement.is_empty())
        .map(|statement| {
            statement
                .replace("{keyspace}", keyspace)
                .replace("{replication}", replication)
        })
        .collect()
}

/// Creates what is missing of the keyspace and its tables; running it again
/// changes nothing.
pub async fn create_schema(config: &CassandraConfig) -> Result<(), CassandraError> {
    let keyspace = config.checked_keyspace()?;
    let session = open_session(config).await?;
    for statement in schema_statements(keyspace, &config.replication) {
        session.query_unpaged(statement, ()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_statement_is_idempotent_and_filled_in() {
        let statements =
            super::schema_statements("ks", "{'class': 'SimpleStrategy', 'replication_factor': 1}");
        assert_eq!(statements.len(), 9);
        for statement in &statements {
            assert!(statement.contains("IF NOT EXISTS"), "{statement}");
            assert!(
                !statement.contains("{keyspace}") && !statement.contains("{replication}"),
                "{statement}"
            );
        }
    }
}
