//! RegisterNamespace, DescribeNamespace, ListNamespaces, UpdateNamespace,
//! DeprecateNamespace. Updates follow Temporal's `namespace_handler.go`:
//! unset fields are left as they are, data is merged key by key, and the
//! state only moves forward (registered, deprecated, deleted). What Temper
//! has no use for (archival, bad binaries, replication to other clusters,
//! search attribute aliases) is refused naming the field, not dropped.

use temper_engine::time::{duration_nanos, is_negative};
use temper_proto::api::enums::v1::{ArchivalState, NamespaceState, ReplicationState};
use temper_proto::api::namespace::v1::{NamespaceConfig, NamespaceInfo, namespace_info};
use temper_proto::api::replication::v1::{ClusterReplicationConfig, NamespaceReplicationConfig};
use temper_proto::api::workflowservice::v1::{
    DeprecateNamespaceRequest, DeprecateNamespaceResponse, DescribeNamespaceRequest, DescribeNamespaceResponse,
    ListNamespacesRequest, ListNamespacesResponse, RegisterNamespaceRequest, RegisterNamespaceResponse,
    UpdateNamespaceRequest, UpdateNamespaceResponse,
};
use temper_proto::records::NamespaceRecord;

use super::bounds::Bounded;
use crate::errors::{ApiError, ApiResult};
use crate::gateway::{Gateway, Limits};
use crate::namespaces::{new_namespace, state_of};
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

/// Any state: as in Temporal, DescribeNamespace reads a namespace whatever its state.
pub async fn describe_namespace(gateway: &Gateway, request: DescribeNamespaceRequest) -> ApiResult<DescribeNamespaceResponse> {
    let record = if !request.id.is_empty() {
        gateway.namespaces.by_id(&request.id).await?
    } else {
        gateway.namespaces.lookup(&request.namespace).await?
    };
    Ok(describe(gateway, record))
}

/// Deleted namespaces only when the filter asks for them, as in Temporal.
pub async fn list_namespaces(gateway: &Gateway, request: ListNamespacesRequest) -> ApiResult<ListNamespacesResponse> {
    let page_size = if request.page_size > 0 { request.page_size as usize } else { DEFAULT_PAGE_SIZE };
    let after = String::from_utf8(request.next_page_token).map_err(|_| ApiError::invalid("Invalid next page token."))?;
    let include_deleted = request.namespace_filter.is_some_and(|filter| filter.include_deleted);
    let namespaces: Vec<NamespaceRecord> = gateway
        .namespaces
        .list()
        .await?
        .into_iter()
        .filter(|record| record.name > after)
        .filter(|record| include_deleted || state_of(record) != NamespaceState::Deleted)
        .collect();
    let has_more = namespaces.len() > page_size;
    let page: Vec<NamespaceRecord> = namespaces.into_iter().take(page_size).collect();
    let next_page_token = match page.last() {
        Some(last) if has_more => last.name.clone().into_bytes(),
        _ => Vec::new(),
    };
    Ok(ListNamespacesResponse { namespaces: page.into_iter().map(|record| describe(gateway, record)).collect(), next_page_token })
}

/// Changes what the request sets, on the namespace as it is when the
/// change is written (see `NamespaceRegistry::update`). A deleted namespace
/// cannot be updated.
pub async fn update_namespace(gateway: &Gateway, request: UpdateNamespaceRequest) -> ApiResult<UpdateNamespaceResponse> {
    require_id(&request.namespace, "Namespace")?;
    gateway.namespaces.resolve(&request.namespace).await?;
    let minimum = gateway.limits.min_namespace_retention_nanos;
    let record = gateway.namespaces.update(&request.namespace, |record| apply_update(record, &request, minimum)).await?;
    let described = describe(gateway, record);
    Ok(UpdateNamespaceResponse {
        namespace_info: described.namespace_info,
        config: described.config,
        replication_config: described.replication_config,
        failover_version: described.failover_version,
        is_global_namespace: described.is_global_namespace,
    })
}

/// Marks a namespace deprecated: its runs go on, and it takes no new ones
/// (see `namespaces::check_accepts_new_runs`).
pub async fn deprecate_namespace(gateway: &Gateway, request: DeprecateNamespaceRequest) -> ApiResult<DeprecateNamespaceResponse> {
    require_id(&request.namespace, "Namespace")?;
    gateway.namespaces.resolve(&request.namespace).await?;
    gateway
        .namespaces
        .update(&request.namespace, |record| {
            record.state = NamespaceState::Deprecated as i32;
            Ok(())
        })
        .await?;
    Ok(DeprecateNamespaceResponse {})
}

/// What an UpdateNamespaceRequest does to a namespace's record, or why it
/// is refused; pure, so it can be applied again to a newer record.
fn apply_update(record: &mut NamespaceRecord, request: &UpdateNamespaceRequest, min_retention: i64) -> ApiResult<()> {
    if request.promote_namespace {
        return Err(unsupported("PromoteNamespace", "global (replicated) namespaces are not supported by Temper"));
    }
    if !request.delete_bad_binary.is_empty() {
        // Temper keeps no bad binaries, so none can be deleted.
        return Err(ApiError::invalid(format!("Bad binary checksum {} doesn't exists.", request.delete_bad_binary)));
    }
    if let Some(info) = &request.update_info {
        if !info.description.is_empty() {
            record.description = info.description.clone();
        }
        if !info.owner_email.is_empty() {
            record.owner_email = info.owner_email.clone();
        }
        // Merged: keys the update does not name are kept.
        record.data.extend(info.data.iter().map(|(key, value)| (key.clone(), value.clone())));
        let state = NamespaceState::try_from(info.state).map_err(|_| ApiError::invalid("Invalid namespace state update."))?;
        if state != NamespaceState::Unspecified && state != state_of(record) {
            check_state_change(state_of(record), state)?;
            record.state = state as i32;
        }
    }
    if let Some(config) = &request.config {
        apply_config(record, config, min_retention)?;
    }
    if let Some(replication) = &request.replication_config {
        check_replication(replication)?;
    }
    Ok(())
}

fn apply_config(record: &mut NamespaceRecord, config: &NamespaceConfig, min_retention: i64) -> ApiResult<()> {
    if let Some(retention) = &config.workflow_execution_retention_ttl {
        // Unlike registration, an update that names a retention must give one.
        if is_negative(Some(retention)) || duration_nanos(Some(retention)) == 0 {
            return Err(ApiError::invalid("A valid retention period is not set on request."));
        }
        check_retention(duration_nanos(Some(retention)), min_retention)?;
        record.retention = Some(*retention);
    }
    for (state, field) in [
        (config.history_archival_state, "Config.HistoryArchivalState"),
        (config.visibility_archival_state, "Config.VisibilityArchivalState"),
    ] {
        if state == ArchivalState::Enabled as i32 {
            return Err(unsupported(field, "archival is not supported by Temper"));
        }
    }
    for (uri, field) in [
        (&config.history_archival_uri, "Config.HistoryArchivalUri"),
        (&config.visibility_archival_uri, "Config.VisibilityArchivalUri"),
    ] {
        if !uri.is_empty() {
            return Err(unsupported(field, "archival is not supported by Temper"));
        }
    }
    if config.bad_binaries.as_ref().is_some_and(|bad| !bad.binaries.is_empty()) {
        return Err(unsupported("Config.BadBinaries", "bad binaries are not supported by Temper"));
    }
    if !config.custom_search_attribute_aliases.is_empty() {
        return Err(unsupported(
            "Config.CustomSearchAttributeAliases",
            "Temper keeps custom search attributes by name; add them with OperatorService.AddSearchAttributes",
        ));
    }
    Ok(())
}

/// A local namespace lives in this one cluster; naming it again changes nothing.
fn check_replication(replication: &NamespaceReplicationConfig) -> ApiResult<()> {
    let named = replication.clusters.iter().map(|cluster| cluster.cluster_name.as_str());
    if let Some(unknown) = named.chain([replication.active_cluster_name.as_str()]).find(|name| !name.is_empty() && *name != CLUSTER_NAME) {
        return Err(ApiError::invalid(format!("Invalid cluster name: {unknown}")));
    }
    if replication.clusters.len() > 1 {
        return Err(ApiError::invalid("Invalid local namespace clusters"));
    }
    if replication.state == ReplicationState::Handover as i32 {
        return Err(ApiError::invalid("Handover can only be set for global namespace"));
    }
    Ok(())
}

/// Temporal's allowed moves: registered to deprecated or deleted, deprecated to deleted.
fn check_state_change(from: NamespaceState, to: NamespaceState) -> ApiResult<()> {
    match (from, to) {
        (NamespaceState::Registered, NamespaceState::Deprecated | NamespaceState::Deleted)
        | (NamespaceState::Deprecated, NamespaceState::Deleted) => Ok(()),
        _ => Err(ApiError::invalid("Invalid namespace state update.")),
    }
}

fn unsupported(field: &str, why: &str) -> ApiError {
    ApiError::Unimplemented(format!("{field}: {why}."))
}

impl Bounded for UpdateNamespaceRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        limits.id(&self.delete_bad_binary, "DeleteBadBinary")?;
        if let Some(info) = &self.update_info {
            limits.id(&info.owner_email, "OwnerEmail")?;
            limits.text(&info.description, "Description")?;
            info.data.keys().try_for_each(|key| limits.id(key, "Data key"))?;
            limits.blob(info.data.values().map(String::len).sum(), "Data")?;
        }
        Ok(())
    }
}

impl Bounded for DeprecateNamespaceRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")
    }
}

fn describe(gateway: &Gateway, record: NamespaceRecord) -> DescribeNamespaceResponse {
    let payload_limit = gateway.limits.max_payload_bytes as i64;
    let state = state_of(&record) as i32;
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: record.name,
            state,
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

    use temper_proto::api::namespace::v1::UpdateNamespaceInfo;

    fn record() -> NamespaceRecord {
        let mut record = new_namespace("ns", "before", "owner@example.com", 1);
        record.data.insert("kept".into(), "1".into());
        record.data.insert("replaced".into(), "old".into());
        record
    }

    fn update(info: Option<UpdateNamespaceInfo>, config: Option<NamespaceConfig>) -> UpdateNamespaceRequest {
        UpdateNamespaceRequest { namespace: "ns".into(), update_info: info, config, ..Default::default() }
    }

    fn retention_of(hours: i64) -> Option<NamespaceConfig> {
        Some(NamespaceConfig {
            workflow_execution_retention_ttl: Some(prost_types::Duration { seconds: hours * 3600, nanos: 0 }),
            ..Default::default()
        })
    }

    fn refusal(request: &UpdateNamespaceRequest) -> ApiError {
        apply_update(&mut record(), request, HOUR).expect_err("refused")
    }

    #[test]
    fn an_update_sets_what_it_names_and_merges_data() {
        let mut updated = record();
        let info = UpdateNamespaceInfo {
            description: "after".into(),
            data: [("replaced".to_string(), "new".to_string()), ("added".to_string(), "2".to_string())].into(),
            ..Default::default()
        };
        apply_update(&mut updated, &update(Some(info), retention_of(48)), HOUR).expect("update");
        assert_eq!(updated.description, "after");
        assert_eq!(updated.owner_email, "owner@example.com", "an empty field is left as it is");
        assert_eq!(updated.data.len(), 3);
        assert_eq!((updated.data["kept"].as_str(), updated.data["replaced"].as_str()), ("1", "new"));
        assert_eq!(duration_nanos(updated.retention.as_ref()), 48 * HOUR);

        let before = record();
        let mut unchanged = before.clone();
        apply_update(&mut unchanged, &update(None, None), HOUR).expect("an empty update");
        assert_eq!(unchanged, before);
    }

    #[test]
    fn retention_must_be_set_and_above_the_minimum() {
        assert!(matches!(refusal(&update(None, retention_of(0))), ApiError::InvalidArgument(m) if m.contains("retention period")));
        let short = Some(NamespaceConfig {
            workflow_execution_retention_ttl: Some(prost_types::Duration { seconds: 60, nanos: 0 }),
            ..Default::default()
        });
        assert!(matches!(refusal(&update(None, short)), ApiError::InvalidArgument(m) if m.contains("minimum")));
    }

    #[test]
    fn states_only_move_forward() {
        let to = |state: NamespaceState| update(Some(UpdateNamespaceInfo { state: state as i32, ..Default::default() }), None);
        let mut deprecated = record();
        apply_update(&mut deprecated, &to(NamespaceState::Deprecated), HOUR).expect("registered to deprecated");
        assert_eq!(state_of(&deprecated), NamespaceState::Deprecated);
        let refused = apply_update(&mut deprecated.clone(), &to(NamespaceState::Registered), HOUR);
        assert!(matches!(refused, Err(ApiError::InvalidArgument(m)) if m == "Invalid namespace state update."));
        apply_update(&mut deprecated, &to(NamespaceState::Deleted), HOUR).expect("deprecated to deleted");
        assert_eq!(state_of(&deprecated), NamespaceState::Deleted);
    }

    #[test]
    fn what_temper_cannot_honour_is_refused_naming_the_field() {
        let archival = Some(NamespaceConfig { history_archival_state: ArchivalState::Enabled as i32, ..Default::default() });
        assert!(matches!(refusal(&update(None, archival)), ApiError::Unimplemented(m) if m.starts_with("Config.HistoryArchivalState")));
        let aliases = Some(NamespaceConfig {
            custom_search_attribute_aliases: [("Keyword01".to_string(), "CustomerId".to_string())].into(),
            ..Default::default()
        });
        assert!(matches!(refusal(&update(None, aliases)), ApiError::Unimplemented(m) if m.starts_with("Config.CustomSearchAttributeAliases")));
        let promote = UpdateNamespaceRequest { promote_namespace: true, ..update(None, None) };
        assert!(matches!(refusal(&promote), ApiError::Unimplemented(m) if m.starts_with("PromoteNamespace")));
        let elsewhere = UpdateNamespaceRequest {
            replication_config: Some(NamespaceReplicationConfig { active_cluster_name: "other".into(), ..Default::default() }),
            ..update(None, None)
        };
        assert!(matches!(refusal(&elsewhere), ApiError::InvalidArgument(m) if m == "Invalid cluster name: other"));
    }

    #[test]
    fn what_the_cli_sends_when_changing_only_the_description_is_accepted() {
        // `temporal operator namespace update --description x` sends every
        // field it read back, archival unspecified and no clusters.
        let request = UpdateNamespaceRequest {
            namespace: "ns".into(),
            update_info: Some(UpdateNamespaceInfo { description: "x".into(), owner_email: "owner@example.com".into(), ..Default::default() }),
            config: retention_of(24),
            replication_config: Some(NamespaceReplicationConfig::default()),
            ..Default::default()
        };
        let mut updated = record();
        apply_update(&mut updated, &request, HOUR).expect("update");
        assert_eq!(updated.description, "x");
    }
}
