//! Temper's engine: consumers of the `commands` log that own shards and apply
//! each command to the pure workflow state machine, committing the result to
//! the store one shard at a time.

pub mod cron;
pub mod embedded_db;
pub mod engine;
pub mod health;
pub mod log;
pub mod membership;
pub mod metrics;
pub mod notify;
pub mod partitioning;
pub mod replies;
pub mod schedules;
pub mod search_attributes;
mod shard;
pub mod state_machine;
pub mod store;
pub mod time;
pub mod traces;

pub use engine::{CommittedStates, Engine, EngineConfig};
