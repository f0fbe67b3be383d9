//! Temper's protobuf records and the Temporal gRPC services it serves.

/// Temper's own records (log entries, persisted state, task tokens) and the
/// Cluster service its processes serve one another.
pub mod temper {
    #[allow(clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/temper.v1.rs"));
    }
}

pub mod raw;

/// Server traits and clients for Temporal's services, over the message types of `temporalio-protos`.
pub mod service {
    pub mod workflowservice {
        #[allow(clippy::all)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/temporal.api.workflowservice.v1.rs"));
        }
    }
    pub mod operatorservice {
        #[allow(clippy::all)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/temporal.api.operatorservice.v1.rs"));
        }
    }
}

pub use temporalio_protos::temporal::api;
pub use temper::v1 as records;
pub use temporalio_protos::google::rpc as google_rpc;
