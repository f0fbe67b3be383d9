//! ListWorkflowExecutions, ScanWorkflowExecutions, CountWorkflowExecutions
//! and the legacy ListOpenWorkflowExecutions / ListClosedWorkflowExecutions,
//! answered by the visibility index of a projection (see
//! `temper_projections::reader`). Queries are parsed here, so a malformed
//! one is refused before it reaches a projection; the legacy filters are
//! built as the same typed queries Temporal's frontend writes as text.

use prost_types::Timestamp;
use temper_engine::time::timestamp_nanos;
use temper_projections::index::{Count, IndexError, ListPage, ListRequest, status_name};
use temper_proto::records::NamespaceRecord;
use temper_projections::query::{self, Attribute, Comparison, Expr, Literal, Query, Value};
use temper_proto::api::common::v1::Payload;
use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use temper_proto::api::filter::v1::StartTimeFilter;
use temper_proto::api::workflow::v1::WorkflowExecutionInfo;
use temper_proto::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, CountWorkflowExecutionsResponse, ListClosedWorkflowExecutionsRequest,
    ListClosedWorkflowExecutionsResponse, ListOpenWorkflowExecutionsRequest, ListOpenWorkflowExecutionsResponse,
    ListWorkflowExecutionsRequest, ListWorkflowExecutionsResponse, ScanWorkflowExecutionsRequest, ScanWorkflowExecutionsResponse,
    count_workflow_executions_response::AggregationGroup, list_closed_workflow_executions_request,
    list_open_workflow_executions_request,
};

use super::describe::execution_info;
use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::namespaces::custom_search_attribute_types;

pub async fn list_workflow_executions(gateway: &Gateway, request: ListWorkflowExecutionsRequest) -> ApiResult<ListWorkflowExecutionsResponse> {
    let (executions, next_page_token) =
        list(gateway, &request.namespace, parsed(&request.query)?, request.page_size, request.next_page_token).await?;
    Ok(ListWorkflowExecutionsResponse { executions, next_page_token })
}

/// Temporal keeps Scan for old clients; it lists as List does.
pub async fn scan_workflow_executions(gateway: &Gateway, request: ScanWorkflowExecutionsRequest) -> ApiResult<ScanWorkflowExecutionsResponse> {
    let (executions, next_page_token) =
        list(gateway, &request.namespace, parsed(&request.query)?, request.page_size, request.next_page_token).await?;
    Ok(ScanWorkflowExecutionsResponse { executions, next_page_token })
}

pub async fn count_workflow_executions(
    gateway: &Gateway,
    request: CountWorkflowExecutionsRequest,
) -> ApiResult<CountWorkflowExecutionsResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let query = parsed(&request.query)?;
    let count = gateway.visibility()?.count(&namespace.id, query, custom_search_attribute_types(&namespace)).await.map_err(index_error)?;
    Ok(match count {
        Count::Total(count) => CountWorkflowExecutionsResponse { count, groups: Vec::new() },
        Count::ByStatus(groups) => CountWorkflowExecutionsResponse {
            count: groups.iter().map(|(_, count)| count).sum(),
            groups: groups
                .into_iter()
                .map(|(status, count)| AggregationGroup { group_values: vec![status_payload(status)], count })
                .collect(),
        },
    })
}

pub async fn list_open_workflow_executions(
    gateway: &Gateway,
    request: ListOpenWorkflowExecutionsRequest,
) -> ApiResult<ListOpenWorkflowExecutionsResponse> {
    use list_open_workflow_executions_request::Filters;
    let mut conditions = vec![status_is(WorkflowExecutionStatus::Running, Comparison::Equal)];
    conditions.extend(time_range("StartTime", request.start_time_filter.as_ref())?);
    conditions.extend(match request.filters {
        Some(Filters::ExecutionFilter(filter)) => Some(text_is("WorkflowId", filter.workflow_id)),
        Some(Filters::TypeFilter(filter)) => Some(text_is("WorkflowType", filter.name)),
        None => None,
    });
    let query = Query { filter: all_of(conditions), group_by: Vec::new(), order_by: Vec::new() };
    let (executions, next_page_token) =
        list(gateway, &request.namespace, query, request.maximum_page_size, request.next_page_token).await?;
    Ok(ListOpenWorkflowExecutionsResponse { executions, next_page_token })
}

pub async fn list_closed_workflow_executions(
    gateway: &Gateway,
    request: ListClosedWorkflowExecutionsRequest,
) -> ApiResult<ListClosedWorkflowExecutionsResponse> {
    use list_closed_workflow_executions_request::Filters;
    let mut conditions = vec![status_is(WorkflowExecutionStatus::Running, Comparison::NotEqual)];
    // As in Temporal, a closed list's time range applies to the close time.
    conditions.extend(time_range("CloseTime", request.start_time_filter.as_ref())?);
    conditions.extend(match request.filters {
        Some(Filters::ExecutionFilter(filter)) => Some(text_is("WorkflowId", filter.workflow_id)),
        Some(Filters::TypeFilter(filter)) => Some(text_is("WorkflowType", filter.name)),
        Some(Filters::StatusFilter(filter)) => {
            let status = WorkflowExecutionStatus::try_from(filter.status)
                .map_err(|_| ApiError::invalid(format!("Unknown workflow execution status {}.", filter.status)))?;
            Some(status_is(status, Comparison::Equal))
        }
        None => None,
    });
    let query = Query { filter: all_of(conditions), group_by: Vec::new(), order_by: Vec::new() };
    let (executions, next_page_token) =
        list(gateway, &request.namespace, query, request.maximum_page_size, request.next_page_token).await?;
    Ok(ListClosedWorkflowExecutionsResponse { executions, next_page_token })
}

async fn list(
    gateway: &Gateway,
    namespace: &str,
    query: Query,
    page_size: i32,
    next_page_token: Vec<u8>,
) -> ApiResult<(Vec<WorkflowExecutionInfo>, Vec<u8>)> {
    let namespace = gateway.namespaces.resolve(namespace).await?;
    let page = list_records(gateway, &namespace, query, page_size, next_page_token).await?;
    Ok((page.executions.iter().map(execution_info).collect(), page.next_page_token))
}

/// How many runs a query without GROUP BY matches in the namespace.
pub(super) async fn count_records(gateway: &Gateway, namespace: &NamespaceRecord, query: Query) -> ApiResult<i64> {
    let count = gateway.visibility()?.count(&namespace.id, query, custom_search_attribute_types(namespace)).await.map_err(index_error)?;
    Ok(match count {
        Count::Total(count) => count,
        Count::ByStatus(groups) => groups.iter().map(|(_, count)| count).sum(),
    })
}

/// A page of the run summaries a query matches in the namespace.
pub(super) async fn list_records(
    gateway: &Gateway,
    namespace: &NamespaceRecord,
    query: Query,
    page_size: i32,
    next_page_token: Vec<u8>,
) -> ApiResult<ListPage> {
    if !query.group_by.is_empty() {
        return Err(ApiError::invalid("GROUP BY is only supported by CountWorkflowExecutions."));
    }
    let request = ListRequest {
        attributes: custom_search_attribute_types(namespace),
        namespace_id: namespace.id.clone(),
        query,
        page_size: usize::try_from(page_size).unwrap_or(0),
        next_page_token,
    };
    gateway.visibility()?.list(request).await.map_err(index_error)
}

fn parsed(text: &str) -> ApiResult<Query> {
    query::parse(text).map_err(|error| ApiError::invalid(format!("Invalid query: {error}.")))
}

fn index_error(error: IndexError) -> ApiError {
    match error {
        IndexError::InvalidQuery { position, message } => ApiError::invalid(format!("Invalid query: {message} at position {position}.")),
        IndexError::InvalidPageToken(message) => ApiError::invalid(format!("Invalid next page token: {message}.")),
        IndexError::Storage(message) => ApiError::Unavailable(format!("The visibility index cannot be read now; retry: {message}")),
    }
}

/// A status as Temporal's count groups carry it: its name, JSON-encoded.
fn status_payload(status: i32) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into_iter().collect(),
        data: format!("\"{}\"", status_name(status)).into_bytes(),
        ..Default::default()
    }
}

fn attribute(name: &str) -> Attribute {
    Attribute { name: name.to_string(), position: 0 }
}

fn text(value: String) -> Value {
    Value { literal: Literal::String(value), position: 0 }
}

fn text_is(name: &str, value: String) -> Expr {
    Expr::Compare { attribute: attribute(name), comparison: Comparison::Equal, value: text(value) }
}

fn status_is(status: WorkflowExecutionStatus, comparison: Comparison) -> Expr {
    Expr::Compare { attribute: attribute("ExecutionStatus"), comparison, value: text(status_name(status as i32).to_string()) }
}

/// The legacy filters' time range on `name`, as Temporal's frontend builds
/// it; an unset or zero bound is no bound.
fn time_range(name: &str, filter: Option<&StartTimeFilter>) -> ApiResult<Option<Expr>> {
    let bound = |time: Option<&Timestamp>| time.filter(|time| timestamp_nanos(time) != 0).cloned();
    let Some(filter) = filter else { return Ok(None) };
    let compare = |comparison, time: Timestamp| Expr::Compare { attribute: attribute(name), comparison, value: text(time.to_string()) };
    Ok(match (bound(filter.earliest_time.as_ref()), bound(filter.latest_time.as_ref())) {
        (Some(earliest), Some(latest)) if timestamp_nanos(&earliest) > timestamp_nanos(&latest) => {
            return Err(ApiError::invalid("EarliestTime in StartTimeFilter should not be larger than LatestTime"));
        }
        (Some(earliest), Some(latest)) => {
            Some(Expr::Between { attribute: attribute(name), low: text(earliest.to_string()), high: text(latest.to_string()), negated: false })
        }
        (Some(earliest), None) => Some(compare(Comparison::GreaterOrEqual, earliest)),
        (None, Some(latest)) => Some(compare(Comparison::LessOrEqual, latest)),
        (None, None) => None,
    })
}

fn all_of(conditions: Vec<Expr>) -> Option<Expr> {
    conditions.into_iter().reduce(|all, next| Expr::And(Box::new(all), Box::new(next)))
}
