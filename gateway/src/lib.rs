//! Temper's gateway: validates Temporal API requests, turns writes into
//! commands on the `commands` log and waits for the engine's answer, serves
//! reads from the store, and matches tasks to polling workers.

mod bus;
mod cassandra_settings;
mod cluster;
pub mod cli;
pub mod cluster_service;
mod config_file;
#[cfg(test)]
mod decode_fuzz;
mod deadline;
mod errors;
mod gateway;
mod matching;
mod namespaces;
pub mod roles;
mod schema_tool;
pub mod server;
mod service;
pub mod telemetry;
mod tokens;
pub mod ui;
mod validation;
pub use gateway::Limits;
pub use matching::{MatchingCounts, QueueCounts};
