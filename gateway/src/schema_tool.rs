//! `temper schema setup|update`: creates and migrates the Cassandra/ScyllaDB
//! keyspace, like Temporal's `temporal-cassandra-tool setup-schema` and
//! `update-schema`. Both are harmless to run again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use temper_engine::store::cassandra::{
    CassandraConfig, CassandraError, SchemaVersion, builtin_versions, setup_schema, update_schema, versions_in,
};

use crate::cassandra_settings::{CassandraFlags, CassandraSection, InvalidSetting};
use crate::config_file::{self, ConfigError};

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Create the keyspace and apply every schema version.
    Setup(SchemaArgs),
    /// Apply the schema versions the keyspace lacks, in order.
    Update(SchemaArgs),
}

#[derive(Debug, thiserror::Error)]
enum SchemaToolError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
    #[error(transparent)]
    Cassandra(#[from] CassandraError),
}

#[derive(Args)]
pub struct SchemaArgs {
    /// A server config file whose persistence.cassandra section says how to
    /// reach the cluster; the environment and the flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    cassandra: CassandraFlags,
    /// The keyspace's CQL replication map, used when `setup` creates it.
    #[arg(long, default_value = "{'class': 'SimpleStrategy', 'replication_factor': 1}")]
    replication: String,
    /// A directory of versions (`v1/`, `v2/`, ... of `.cql` files) to apply
    /// instead of those built into this binary.
    #[arg(long)]
    schema_dir: Option<PathBuf>,
}

impl SchemaArgs {
    /// The file, then the environment, then the flags: the way the server
    /// reads the same section, plus what only this tool has.
    fn into_config(self) -> Result<(CassandraConfig, Vec<SchemaVersion>), SchemaToolError> {
        let versions = self.versions()?;
        let mut section = match &self.config {
            Some(path) => config_file::cassandra_section(path)?,
            None => CassandraSection::local(),
        };
        section.apply_environment(|name| std::env::var(name).ok());
        self.cassandra.apply_to(&mut section);
        let config = CassandraConfig { replication: self.replication, ..section.into_config()? };
        Ok((config, versions))
    }

    fn versions(&self) -> Result<Vec<SchemaVersion>, CassandraError> {
        match &self.schema_dir {
            Some(dir) => versions_in(dir),
            None => Ok(builtin_versions()),
        }
    }
}

pub async fn run(command: SchemaCommand) -> ExitCode {
    let outcome = match command {
        SchemaCommand::Setup(args) => setup(args).await,
        SchemaCommand::Update(args) => update(args).await,
    };
    match outcome {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("temper schema: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn setup(args: SchemaArgs) -> Result<String, SchemaToolError> {
    let (config, versions) = args.into_config()?;
    let version = setup_schema(&config, &versions).await?;
    Ok(format!("keyspace `{}` is set up at schema version {version}", config.keyspace))
}

async fn update(args: SchemaArgs) -> Result<String, SchemaToolError> {
    let (config, versions) = args.into_config()?;
    let (before, after) = update_schema(&config, &versions).await?;
    Ok(if before == after {
        format!("keyspace `{}` is already at schema version {after}", config.keyspace)
    } else {
        format!("keyspace `{}` updated from schema version {before} to {after}", config.keyspace)
    })
}
