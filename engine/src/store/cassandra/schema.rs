//! The schema's versions (`schema/cassandra/vN/*.cql`) and the tool that
//! applies them, like Temporal's `temporal-cassandra-tool`: `setup` creates
//! the keyspace and applies every version, `update` applies the versions a
//! keyspace lacks, in order. Each version's statements are idempotent, and
//! the keyspace records which versions were applied (`schema_version`,
//! `schema_update_history`), so running either twice is harmless. The store
//! refuses a keyspace older than [`REQUIRED_VERSION`].

use std::path::Path;

use scylla::client::session::Session;

use super::{CassandraConfig, CassandraError, open_session};

const SCHEMA_V1: &str = include_str!("../../../../schema/cassandra/v1/schema.cql");
const SCHEMA_V2: &str = include_str!("../../../../schema/cassandra/v2/schema.cql");
const SCHEMA_V3: &str = include_str!("../../../../schema/cassandra/v3/schema.cql");

/// The schema version this build of Temper needs.
pub const REQUIRED_VERSION: i32 = 3;

/// One version of the schema: its CQL, with `{keyspace}` and `{replication}`
/// to fill in.
#[derive(Clone, Debug)]
pub struct SchemaVersion {
    pub version: i32,
    pub cql: String,
}

/// The versions built into this binary.
pub fn builtin_versions() -> Vec<SchemaVersion> {
    vec![
        SchemaVersion { version: 1, cql: SCHEMA_V1.to_string() },
        SchemaVersion { version: 2, cql: SCHEMA_V2.to_string() },
        SchemaVersion { version: 3, cql: SCHEMA_V3.to_string() },
    ]
}

/// The versions in a directory laid out like `schema/cassandra`: `v1/`,
/// `v2/`, ... each holding `.cql` files applied in name order.
pub fn versions_in(dir: &Path) -> Result<Vec<SchemaVersion>, CassandraError> {
    let unreadable = |error: std::io::Error| CassandraError::SchemaFiles(format!("{}: {error}", dir.display()));
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let Some(version) = path.file_name().and_then(|name| name.to_str()).and_then(|name| name.strip_prefix('v'))
            .and_then(|number| number.parse::<i32>().ok())
        else {
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .map_err(unreadable)?
            .filter_map(|file| file.ok().map(|file| file.path()))
            .filter(|file| file.extension().is_some_and(|extension| extension == "cql"))
            .collect();
        files.sort();
        let cql = files.iter().map(std::fs::read_to_string).collect::<Result<Vec<_>, _>>().map_err(unreadable)?.join("\n");
        versions.push(SchemaVersion { version, cql });
    }
    versions.sort_by_key(|version| version.version);
    if versions.is_empty() {
        return Err(CassandraError::SchemaFiles(format!("{} holds no v1/, v2/, ... directories of .cql files", dir.display())));
    }
    Ok(versions)
}

/// Creates the keyspace and applies every version; returns the keyspace's
/// version afterwards.
pub async fn setup_schema(config: &CassandraConfig, versions: &[SchemaVersion]) -> Result<i32, CassandraError> {
    let keyspace = config.checked_keyspace()?;
    let session = open_session(config).await?;
    for version in versions {
        apply_version(&session, keyspace, &config.replication, version).await?;
    }
    Ok(current_version(&session, keyspace).await?.unwrap_or_default())
}

/// Applies the versions the keyspace lacks, in order; returns the versions
/// before and after. A keyspace never set up is refused.
pub async fn update_schema(config: &CassandraConfig, versions: &[SchemaVersion]) -> Result<(i32, i32), CassandraError> {
    let keyspace = config.checked_keyspace()?;
    let session = open_session(config).await?;
    let Some(before) = current_version(&session, keyspace).await? else {
        return Err(CassandraError::SchemaNotSetUp(keyspace.to_string()));
    };
    for version in versions.iter().filter(|version| version.version > before) {
        apply_version(&session, keyspace, &config.replication, version).await?;
    }
    Ok((before, current_version(&session, keyspace).await?.unwrap_or(before)))
}

/// The version a keyspace's schema is at; `None` if it was never set up.
pub async fn current_version(session: &Session, keyspace: &str) -> Result<Option<i32>, CassandraError> {
    let exists = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'schema_version'",
            (keyspace,),
        )
        .await?
        .into_rows_result()?
        .rows_num()
        > 0;
    if !exists {
        return Ok(None);
    }
    let query = format!("SELECT current_version FROM {keyspace}.schema_version WHERE keyspace_name = ?");
    let rows = session.query_unpaged(query, (keyspace,)).await?.into_rows_result()?;
    let first = rows.rows::<(Option<i32>,)>()?.next().transpose()?;
    Ok(first.and_then(|(version,)| version))
}

/// Refuses a keyspace whose schema is older than this build needs.
pub async fn check_version(session: &Session, keyspace: &str) -> Result<(), CassandraError> {
    match current_version(session, keyspace).await? {
        None => Err(CassandraError::SchemaNotSetUp(keyspace.to_string())),
        Some(found) if found < REQUIRED_VERSION => {
            Err(CassandraError::SchemaTooOld { keyspace: keyspace.to_string(), found, required: REQUIRED_VERSION })
        }
        Some(_) => Ok(()),
    }
}

async fn apply_version(session: &Session, keyspace: &str, replication: &str, version: &SchemaVersion) -> Result<(), CassandraError> {
    for statement in statements_of(&version.cql, keyspace, replication) {
        if let Some((table, column)) = added_column(&statement)
            && column_exists(session, keyspace, table, column).await?
        {
            continue;
        }
        session.query_unpaged(statement, ()).await?;
    }
    for statement in bookkeeping_statements(keyspace) {
        session.query_unpaged(statement, ()).await?;
    }
    let history = format!("INSERT INTO {keyspace}.schema_update_history (version, applied_at) VALUES (?, toTimestamp(now()))");
    session.query_unpaged(history, (version.version,)).await?;
    // Versions are applied in order, so the newest applied is the current one.
    let current = format!("INSERT INTO {keyspace}.schema_version (keyspace_name, current_version) VALUES (?, ?)");
    session.query_unpaged(current, (keyspace, version.version)).await?;
    Ok(())
}

/// The table and column an `ALTER TABLE <keyspace>.<table> ADD <column> ...`
/// adds. CQL has no `IF NOT EXISTS` for it and refuses to add a column
/// twice, so the tool skips it when the column exists.
fn added_column(statement: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    match words.as_slice() {
        [alter, table_word, table, add, column, ..]
            if alter.eq_ignore_ascii_case("ALTER")
                && table_word.eq_ignore_ascii_case("TABLE")
                && add.eq_ignore_ascii_case("ADD") =>
        {
            let table = table.rsplit('.').next().unwrap_or(table);
            Some((table, column))
        }
        _ => None,
    }
}

async fn column_exists(session: &Session, keyspace: &str, table: &str, column: &str) -> Result<bool, CassandraError> {
    let query = "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?";
    Ok(session.query_unpaged(query, (keyspace, table, column)).await?.into_rows_result()?.rows_num() > 0)
}

/// The tables recording which versions a keyspace has.
fn bookkeeping_statements(keyspace: &str) -> [String; 2] {
    [
        format!("CREATE TABLE IF NOT EXISTS {keyspace}.schema_version (keyspace_name text PRIMARY KEY, current_version int)"),
        format!("CREATE TABLE IF NOT EXISTS {keyspace}.schema_update_history (version int PRIMARY KEY, applied_at timestamp)"),
    ]
}

/// A version's statements with the keyspace and replication filled in:
/// comments dropped, split where a line ends with `;`.
fn statements_of(cql: &str, keyspace: &str, replication: &str) -> Vec<String> {
    let uncommented: Vec<&str> = cql
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

/// Sets the keyspace up with the versions built into this binary; running
/// it again changes nothing.
pub async fn create_schema(config: &CassandraConfig) -> Result<(), CassandraError> {
    setup_schema(config, &builtin_versions()).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_statement_is_idempotent_and_filled_in() {
        let replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
        let v1 = super::statements_of(super::SCHEMA_V1, "ks", replication);
        let v2 = super::statements_of(super::SCHEMA_V2, "ks", replication);
        let v3 = super::statements_of(super::SCHEMA_V3, "ks", replication);
        assert_eq!((v1.len(), v2.len(), v3.len()), (9, 2, 2));
        for statement in v1.iter().chain(&v2).chain(&v3) {
            // An added column is skipped when it exists; anything else says so itself.
            let idempotent = statement.contains("IF NOT EXISTS") || statement.starts_with("DROP TABLE IF EXISTS");
            assert!(idempotent || super::added_column(statement).is_some(), "{statement}");
            assert!(
                !statement.contains("{keyspace}") && !statement.contains("{replication}"),
                "{statement}"
            );
        }
        assert_eq!(super::added_column(&v2[1]), Some(("shard", "owner")));
        assert_eq!(super::added_column("CREATE TABLE IF NOT EXISTS ks.t (id int PRIMARY KEY)"), None);
    }
}
