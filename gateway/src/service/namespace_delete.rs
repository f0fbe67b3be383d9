//! OperatorService.DeleteNamespace, as Temporal's delete-namespace system
//! workflow does it (`service/worker/deletenamespace`): the namespace is
//! marked DELETED and renamed to `<name>-deleted-<first 5 characters of its
//! id>` in one conditional write, so its name is free at once and every
//! call naming it is refused; the response names the new name. Its runs are
//! then deleted in the background, running ones terminated first, and once
//! none is left (and the requested delay has passed) the namespace's record
//! goes too.
//!
//! The background part is a loop in every gateway ([`reclaim_deleted_namespaces`])
//! rather than a workflow: it finds the deleted namespaces in the store and
//! the runs through the visibility index, so it resumes after any restart
//! and several gateways doing it at once only repeat idempotent deletes.

use std::time::Duration;

use temper_engine::state_machine::CommandError;
use temper_engine::store::StoreError;
use temper_engine::time::{deadline, duration_nanos, is_negative, now_nanos, timestamp_from_nanos, timestamp_nanos};
use temper_projections::index::ListRequest;
use temper_projections::query::Query;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::NamespaceState;
use temper_proto::api::operatorservice::v1::{DeleteNamespaceRequest, DeleteNamespaceResponse};
use temper_proto::records::NamespaceRecord;
use tokio::sync::watch;

use super::delete::delete_run;
use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::namespaces::{CACHE_TTL, custom_search_attribute_types, state_of};
use crate::validation::require_id;

/// How often each gateway looks for deleted namespaces to reclaim.
const RECLAIM_INTERVAL: Duration = Duration::from_secs(2);
/// Runs deleted per visibility page, one command each.
const RUNS_PER_PAGE: usize = 500;
/// The longest delay a request may ask for before the record goes.
const MAX_DELETE_DELAY_NANOS: i64 = 10 * 365 * 24 * 3600 * 1_000_000_000;
/// Temporal's: deleted namespaces get the first 5 characters of their id,
/// more only when a namespace has that name already.
const SHORTEST_SUFFIX: usize = 5;

pub async fn delete_namespace(gateway: &Gateway, request: DeleteNamespaceRequest) -> ApiResult<DeleteNamespaceResponse> {
    let delay = delete_delay(&request)?;
    let record = namespace_to_delete(gateway, &request).await?;
    if state_of(&record) == NamespaceState::Deleted {
        // Asked again: the reclaiming goes on under the name it already has.
        return Ok(DeleteNamespaceResponse { deleted_namespace: record.name });
    }
    let deleted_name = free_deleted_name(gateway, &record).await?;
    // Gateways may hold the old record for a cache lifetime and take new
    // runs meanwhile: the record stays at least that long, so the loop
    // still finds and deletes them.
    let delete_after = deadline(now_nanos(), delay.max(CACHE_TTL.as_nanos() as i64));
    let renamed = gateway
        .namespaces
        .update(&record.name, |current| {
            if current.id != record.id {
                return Err(ApiError::NamespaceNotFound(record.name.clone()));
            }
            current.name = deleted_name.clone();
            current.state = NamespaceState::Deleted as i32;
            current.delete_after = Some(timestamp_from_nanos(delete_after));
            Ok(())
        })
        .await?;
    tracing::info!(namespace = %record.name, deleted_namespace = %renamed.name, id = %renamed.id, "namespace deleted; reclaiming its runs");
    Ok(DeleteNamespaceResponse { deleted_namespace: renamed.name })
}

fn delete_delay(request: &DeleteNamespaceRequest) -> ApiResult<i64> {
    let delay = request.namespace_delete_delay.as_ref();
    if is_negative(delay) {
        return Err(ApiError::invalid("NamespaceDeleteDelay cannot be negative."));
    }
    let nanos = duration_nanos(delay);
    if nanos > MAX_DELETE_DELAY_NANOS {
        return Err(ApiError::invalid("NamespaceDeleteDelay is longer than 10 years."));
    }
    Ok(nanos)
}

/// The namespace the request names by name or by id (exactly one of them),
/// refused with Temporal's messages (NOT_FOUND when there is none).
async fn namespace_to_delete(gateway: &Gateway, request: &DeleteNamespaceRequest) -> ApiResult<NamespaceRecord> {
    match (request.namespace.is_empty(), request.namespace_id.is_empty()) {
        (true, true) => return Err(ApiError::invalid("namespace or namespace ID is required")),
        (false, false) => return Err(ApiError::invalid("only one of namespace or namespace ID must be set")),
        (false, true) => {
            require_id(&request.namespace, "Namespace")?;
            gateway.namespaces.lookup(&request.namespace).await
        }
        (true, false) => {
            require_id(&request.namespace_id, "NamespaceId")?;
            gateway.namespaces.by_id(&request.namespace_id).await
        }
    }
}

/// `<name>-deleted-<id prefix>` with the shortest prefix no namespace has.
async fn free_deleted_name(gateway: &Gateway, record: &NamespaceRecord) -> ApiResult<String> {
    let id_prefixes = (SHORTEST_SUFFIX..=record.id.len()).filter_map(|length| record.id.get(..length));
    for prefix in id_prefixes {
        let candidate = format!("{}-deleted-{prefix}", record.name);
        match gateway.namespaces.lookup(&candidate).await {
            Err(ApiError::NamespaceNotFound(_)) => return Ok(candidate),
            Ok(_) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::Unavailable(format!("No free name was found for deleted namespace {}; retry.", record.name)))
}

/// Deletes the runs of every deleted namespace, then the namespace, until
/// `stop` turns true.
pub async fn reclaim_deleted_namespaces(gateway: std::sync::Arc<Gateway>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = reclaim_once(&gateway).await {
            tracing::warn!(%error, "reclaiming deleted namespaces failed; trying again");
        }
        tokio::select! {
            _ = tokio::time::sleep(RECLAIM_INTERVAL) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

async fn reclaim_once(gateway: &Gateway) -> ApiResult<()> {
    if gateway.visibility.is_none() {
        return Ok(());
    }
    for namespace in gateway.namespaces.list().await? {
        if state_of(&namespace) == NamespaceState::Deleted {
            reclaim(gateway, &namespace).await?;
        }
    }
    Ok(())
}

/// Deletes one page of the namespace's runs; removes the namespace once
/// there are none and its time has come.
async fn reclaim(gateway: &Gateway, namespace: &NamespaceRecord) -> ApiResult<()> {
    let page = gateway
        .visibility()?
        .list(ListRequest {
            namespace_id: namespace.id.clone(),
            query: Query::default(),
            attributes: custom_search_attribute_types(namespace),
            page_size: RUNS_PER_PAGE,
            next_page_token: Vec::new(),
        })
        .await
        .map_err(|error| ApiError::Unavailable(format!("the visibility index cannot be read: {error:?}")))?;
    for run in &page.executions {
        let execution = WorkflowExecution { workflow_id: run.workflow_id.clone(), run_id: run.run_id.clone() };
        match delete_run(gateway, namespace, Some(&execution)).await {
            // Deleted meanwhile, by another gateway or by its retention.
            Ok(()) | Err(ApiError::NotFound(_) | ApiError::Command(CommandError::WorkflowNotFound { .. })) => {}
            Err(error) => return Err(error),
        }
    }
    let due = namespace.delete_after.as_ref().is_none_or(|after| timestamp_nanos(after) <= now_nanos());
    if !page.executions.is_empty() || !due {
        return Ok(());
    }
    match gateway.namespaces.remove(namespace).await {
        Ok(()) => tracing::info!(namespace = %namespace.name, id = %namespace.id, "deleted namespace reclaimed"),
        // Another gateway removed it, or it changed since it was read: the next pass sees.
        Err(ApiError::Store(StoreError::NamespaceNotFound(_) | StoreError::NamespaceVersionConflict { .. })) => {}
        Err(error) => return Err(error),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use temper_engine::embedded_db::EmbeddedDb;
    use temper_engine::health::ShardHealth;
    use temper_engine::log::embedded::EmbeddedLog;
    use temper_engine::log::{Log, LogLayout};
    use temper_engine::notify::HistoryNotifier;
    use temper_engine::replies::LocalReplies;
    use temper_engine::store::Store;
    use temper_engine::store::embedded::EmbeddedStore;
    use tokio::sync::watch;

    use super::*;
    use crate::matching::Matching;
    use crate::namespaces::new_namespace;

    async fn gateway() -> (Gateway, watch::Sender<bool>) {
        let db = EmbeddedDb::open_temporary().expect("a temporary database");
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(db.clone(), LogLayout { commands: 1, tasks: 1, visibility: 1 }).expect("a log"));
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::new(db));
        let (stop, stopped) = watch::channel(false);
        let matching = Matching::start(log.clone(), store.clone(), stopped).await.expect("matching started");
        let (replies, health) = (Arc::new(LocalReplies::new(1)), Arc::new(ShardHealth::new(1)));
        (Gateway::of_one_shard(log, store, replies, health, Arc::new(HistoryNotifier::default()), matching).await, stop)
    }

    async fn register(gateway: &Gateway, name: &str, id: &str) {
        gateway.namespaces.register(NamespaceRecord { id: id.into(), ..new_namespace(name, "", "", 1) }).await.expect("registered");
    }

    fn by_name(namespace: &str) -> DeleteNamespaceRequest {
        DeleteNamespaceRequest { namespace: namespace.into(), ..Default::default() }
    }

    #[tokio::test]
    async fn a_deleted_namespace_takes_a_longer_id_prefix_when_the_short_name_is_taken() {
        let (gateway, _stop) = gateway().await;
        register(&gateway, "orders", "abcdefgh-1").await;
        register(&gateway, "orders-deleted-abcde", "zzzzzzzz-2").await;
        let deleted = delete_namespace(&gateway, by_name("orders")).await.expect("deleted");
        assert_eq!(deleted.deleted_namespace, "orders-deleted-abcdef");

        let record = gateway.namespaces.lookup("orders-deleted-abcdef").await.expect("found by its new name");
        assert_eq!((record.id.as_str(), state_of(&record)), ("abcdefgh-1", NamespaceState::Deleted));
        let delete_after = timestamp_nanos(record.delete_after.as_ref().expect("a delete time"));
        assert!(delete_after >= now_nanos() + CACHE_TTL.as_nanos() as i64 - 1_000_000_000, "kept at least a cache lifetime");
        assert!(matches!(gateway.namespaces.lookup("orders").await, Err(ApiError::NamespaceNotFound(_))), "the old name is free");

        let again = delete_namespace(&gateway, by_name("orders-deleted-abcdef")).await.expect("deleted again");
        assert_eq!(again.deleted_namespace, "orders-deleted-abcdef", "asking again changes nothing");
        let by_id = DeleteNamespaceRequest { namespace_id: "zzzzzzzz-2".into(), ..Default::default() };
        assert_eq!(delete_namespace(&gateway, by_id).await.expect("deleted by id").deleted_namespace, "orders-deleted-abcde-deleted-zzzzz");
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_anything_changes() {
        let (gateway, _stop) = gateway().await;
        register(&gateway, "orders", "abcdefgh-1").await;
        let refusal = |result: ApiResult<DeleteNamespaceResponse>| match result {
            Err(error) => error.to_string(),
            Ok(answer) => panic!("expected a refusal, got {answer:?}"),
        };
        assert!(matches!(delete_namespace(&gateway, by_name("missing")).await, Err(ApiError::NamespaceNotFound(_))));
        assert!(refusal(delete_namespace(&gateway, DeleteNamespaceRequest::default()).await).contains("namespace or namespace ID is required"));
        let both = DeleteNamespaceRequest { namespace: "orders".into(), namespace_id: "abcdefgh-1".into(), ..Default::default() };
        assert!(refusal(delete_namespace(&gateway, both).await).contains("only one of"));
        for seconds in [-1, 11 * 365 * 24 * 3600] {
            let delay = Some(prost_types::Duration { seconds, nanos: 0 });
            let request = DeleteNamespaceRequest { namespace_delete_delay: delay, ..by_name("orders") };
            assert!(refusal(delete_namespace(&gateway, request).await).contains("NamespaceDeleteDelay"));
        }
        let record = gateway.namespaces.lookup("orders").await.expect("still there");
        assert_eq!(state_of(&record), NamespaceState::Registered);
    }
}
