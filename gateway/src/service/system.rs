//! GetSystemInfo: what the server supports; SDKs adapt to it.

use temper_proto::api::workflowservice::v1::get_system_info_response::Capabilities;
use temper_proto::api::workflowservice::v1::{GetSystemInfoRequest, GetSystemInfoResponse};

use crate::errors::ApiResult;
use crate::gateway::Gateway;

/// The Temporal server version whose API Temper serves.
pub const COMPATIBLE_SERVER_VERSION: &str = "1.32.0";

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
