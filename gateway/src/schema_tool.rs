//! `temper schema setup|update`: creates and migrates the Cassandra/ScyllaDB
//! keyspace, like Temporal's `temporal-cassandra-tool setup-schema` and
//! `update-schema`. Both are harmless to run again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use temper_engine::store::cassandra::{
    CassandraConfig, CassandraError, SchemaVersion, builtin_versions, setup_schema, update_schema, versions_in,
};

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Create the keyspace and apply every schema version.
    Setup(SchemaArgs),
    /// Apply the schema versions the keyspace lacks, in order.
    Update(SchemaArgs),
}

#[derive(Args)]
pub struct SchemaArgs {
    /// `host:port` of a node to reach the cluster through (may repeat).
    #[arg(long = "contact-point", default_value = "127.0.0.1:9042")]
    contact_points: Vec<String>,
    /// The keyspace holding Temper's tables.
    #[arg(long, default_value = "temper")]
    keyspace: String,
    /// The keyspace's CQL replication map, used when `setup` creates it.
    #[arg(long, default_value = "{'class': 'SimpleStrategy', 'replication_factor': 1}")]
    replication: String,
    /// A directory of versions (`v1/`, `v2/`, ... of `.cql` files) to apply
    /// instead of those built into this binary.
    #[arg(long)]
    schema_dir: Option<PathBuf>,
}

impl SchemaArgs {
    fn config(&self) -> CassandraConfig {
        CassandraConfig {
            contact_points: self.contact_points.clone(),
            keyspace: self.keyspace.clone(),
            replication: self.replication.clone(),
            ..CassandraConfig::default()
        }
    }

    fn versions(&self) -> Result<Vec<SchemaVersion>, CassandraError> {
        match &self.schema_dir {
            Some(dir) => versions_in(dir),
            None => Ok(builtin_versions()),
        }
    }
}

pub async fn run(command: SchemaCommand) -> ExitCode {
    let outcome = match &command {
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

async fn setup(args: &SchemaArgs) -> Result<String, CassandraError> {
    let version = setup_schema(&args.config(), &args.versions()?).await?;
    Ok(format!("keyspace `{}` is set up at schema version {version}", args.keyspace))
}

async fn update(args: &SchemaArgs) -> Result<String, CassandraError> {
    let (before, after) = update_schema(&args.config(), &args.versions()?).await?;
    Ok(if before == after {
        format!("keyspace `{}` is already at schema version {after}", args.keyspace)
    } else {
        format!("keyspace `{}` updated from schema version {before} to {after}", args.keyspace)
    })
}
