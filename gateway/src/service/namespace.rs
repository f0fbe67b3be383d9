//! RegisterNamespace, DescribeNamespace, ListNamespaces.

use temper_engine::time::duration_nanos;
use temper_proto::api::enums::v1::{ArchivalState, NamespaceState};
use temper_proto::api::namespace::v1::{NamespaceConfig, NamespaceInfo, namespace_info};
use temper_proto::api::replication::v1::{ClusterReplicationConfig, NamespaceReplicationConfig};
use temper_proto::api::workflowservice::v1::{
    DescribeNamespaceRequest, DescribeNamespaceResponse, ListNamespacesRequest, ListNamespacesResponse,
    RegisterNamespaceRequest, RegisterNamespaceResponse,
};
use temper_proto::records::NamespaceRecord;

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::namespaces::new_namespace;
use crate::validation::require_id;

const CLUSTER_NAME: &str = "active";
const DAY_NANOS: i64 = 24 * 3600 * 1_000_000_000;
const DEFAULT_PAGE_SIZE: usize = 100;

pub async fn register_namespace(gateway: &Gateway, request: RegisterNamespaceRequest) -> ApiResult<RegisterNamespaceResponse> {
    require_id(&request.namespace, "Namespace")?;
    if request.is_global_namespace {
        return Err(ApiError::Unimplemented("global (replicated) namespaces are not supported by Temper".into()));
    }
    let retention = duration_nanos(request.workflow_execution_retention_period.as_ref());
    check_retention(retention, gateway.limits.min_namespace_retention_nanos)?;
    let retention_days = if retention == 0 { 1 } else { retention / DAY_NANOS + i64::from(retention % DAY_NANOS != 0) };
    let mut record = new_namespace(&request.namespace, &request.description, &request.owner_email, retention_days);
    if retention > 0 {
        record.retention = request.workflow_execution_retention_period;
    }
    record.data = request.data;
    gateway.namespaces.register(record).await?;
    Ok(RegisterNamespaceResponse {})
}

/// Like Temporal, a retention below the configured minimum is refused
/// (Temporal's `system.namespaceMinRetentionLocal`, 1 h by default); unset
/// means the dev server's one day.
fn check_retention(retention: i64, minimum: i64) -> ApiResult<()> {
    if retention < 0 {
        return Err(ApiError::invalid("WorkflowExecutionRetentionPeriod cannot be negative."));
    }
    if retention > 0 && retention < minimum {
        let shortest = std::time::Duration::from_nanos(minimum.unsigned_abs());
        return Err(ApiError::invalid(format!(
            "WorkflowExecutionRetentionPeriod is shorter than the minimum of {shortest:?} this server accepts (--min-namespace-retention)."
        )));
    }
    Ok(())
}

pub async fn describe_namespace(gateway: &Gateway, request: DescribeNamespaceRequest) -> ApiResult<DescribeNamespaceResponse> {
    let record = if !request.id.is_empty() {
        gateway.namespaces.by_id(&request.id).await?
    } else {
        gateway.namespaces.resolve(&request.namespace).await?
    };
    Ok(describe(gateway, record))
}

pub async fn list_namespaces(gateway: &Gateway, request: ListNamespacesRequest) -> ApiResult<ListNamespacesResponse> {
    let page_size = if request.page_size > 0 { request.page_size as usize } else { DEFAULT_PAGE_SIZE };
    let after = String::from_utf8(request.next_page_token).map_err(|_| ApiError::invalid("Invalid next page token."))?;
    let namespaces: Vec<NamespaceRecord> =
        gateway.namespaces.list().await?.into_iter().filter(|record| record.name > after).collect();
    let has_more = namespaces.len() > page_size;
    let page: Vec<NamespaceRecord> = namespaces.into_iter().take(page_size).collect();
    let next_page_token = match page.last() {
        Some(last) if has_more => last.name.clone().into_bytes(),
        _ => Vec::new(),
    };
    Ok(ListNamespacesResponse { namespaces: page.into_iter().map(|record| describe(gateway, record)).collect(), next_page_token })
}

fn describe(gateway: &Gateway, record: NamespaceRecord) -> DescribeNamespaceResponse {
    let payload_limit = gateway.limits.max_payload_bytes as i64;
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: record.name,
            state: if record.state == 0 { NamespaceState::Registered as i32 } else { record.state },
            description: record.description,
            owner_email: record.owner_email,
            data: record.data,
            id: record.id,
            capabilities: Some(namespace_info::Capabilities::default()),
            limits: Some(namespace_info::Limits {
                blob_size_limit_error: payload_limit,
                memo_size_limit_error: payload_limit,
                ..Default::default()
            }),
            ..Default::default()
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: record.retention,
            history_archival_state: ArchivalState::Disabled as i32,
            visibility_archival_state: ArchivalState::Disabled as i32,
            ..Default::default()
        }),
        replication_config: Some(NamespaceReplicationConfig {
            active_cluster_name: CLUSTER_NAME.to_string(),
            clusters: vec![ClusterReplicationConfig { cluster_name: CLUSTER_NAME.to_string(), ..Default::default() }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600 * 1_000_000_000;

    #[test]
    fn a_retention_below_the_minimum_is_refused_and_unset_means_the_default() {
        assert!(check_retention(HOUR, HOUR).is_ok());
        assert!(check_retention(0, HOUR).is_ok(), "unset: the dev server's one day");
        assert!(matches!(check_retention(HOUR - 1, HOUR), Err(ApiError::InvalidArgument(_))));
        assert!(matches!(check_retention(-1, 0), Err(ApiError::InvalidArgument(_))));
        assert!(check_retention(2_000_000_000, 1_000_000_000).is_ok(), "short retentions once the minimum allows them");
    }
}
