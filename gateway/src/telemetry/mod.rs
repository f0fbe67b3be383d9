//! What operators watch: Prometheus metrics (the endpoint, and the counts of
//! gRPC calls).

pub mod metrics_endpoint;
pub mod rpc_metrics;
pub mod traces;
