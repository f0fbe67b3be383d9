//! GetSystemInfo and GetClusterInfo: what the server supports and is; SDKs,
//! the CLI and the Web UI adapt to them.

use temper_proto::api::workflowservice::v1::get_system_info_response::Capabilities;
use temper_proto::api::workflowservice::v1::{
    GetClusterInfoRequest, GetClusterInfoResponse, GetSystemInfoRequest, GetSystemInfoResponse,
};

use crate::errors::ApiResult;
use crate::gateway::Gateway;

/// The Temporal server release whose features Temper offers. The Web UI
/// turns its features on by this version: 1.30 brings standalone
/// activities, which Temper does not run, so Temper says 1.29.
pub const COMPATIBLE_SERVER_VERSION: &str = "1.29.1";

pub async fn get_system_info(_gateway: &Gateway, _request: GetSystemInfoRequest) -> ApiResult<GetSystemInfoResponse> {
    Ok(GetSystemInfoResponse {
        server_version: COMPATIBLE_SERVER_VERSION.to_string(),
        // Only what Temper really does; SDKs skip what is left out.
        capabilities: Some(Capabilities {
            signal_and_query_header: true,
            internal_error_differentiation: true,
            activity_failure_include_heartbeat: true,
            encoded_failure_attributes: true,
            sdk_metadata: true,
            upsert_memo: true,
            supports_schedules: true,
            count_group_by_execution_status: true,
            ..Default::default()
        }),
    })
}

/// The client versions Temporal's server accepts, by client name.
const SUPPORTED_CLIENTS: [(&str, &str); 8] = [
    ("temporal-go", "<2.0.0"),
    ("temporal-java", "<2.0.0"),
    ("temporal-php", "<2.0.0"),
    ("temporal-typescript", "<2.0.0"),
    ("temporal-cli", "<2.0.0"),
    ("temporal-server", "<2.0.0"),
    ("temporal-ui", "<3.0.0"),
    ("nexus-go", "<2.0.0"),
];

/// The cluster's name, as Temporal's dev server names its only cluster.
const CLUSTER_NAME: &str = "active";

pub async fn get_cluster_info(gateway: &Gateway, _request: GetClusterInfoRequest) -> ApiResult<GetClusterInfoResponse> {
    Ok(GetClusterInfoResponse {
        supported_clients: SUPPORTED_CLIENTS.iter().map(|(client, range)| (client.to_string(), range.to_string())).collect(),
        server_version: COMPATIBLE_SERVER_VERSION.to_string(),
        // One Temper cluster per store; its id names the product, not a
        // random draw, since nothing here replicates between clusters.
        cluster_id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://temper.dev/cluster").to_string(),
        cluster_name: CLUSTER_NAME.to_string(),
        history_shard_count: i32::try_from(gateway.shard_count).unwrap_or(i32::MAX),
        persistence_store: "temper".to_string(),
        visibility_store: "temper".to_string(),
        initial_failover_version: 1,
        failover_version_increment: 10,
        ..Default::default()
    })
}
