//! The schedule RPCs: CreateSchedule, DescribeSchedule, UpdateSchedule,
//! PatchSchedule, DeleteSchedule, ListSchedules, CountSchedules and
//! ListScheduleMatchingTimes. A schedule lives in a run of its own (see
//! `temper_engine::state_machine::scheduler`): writes are commands to that
//! run's shard, describe reads the run, and the list comes from the
//! visibility index, where schedules sit in Temporal's namespace division
//! for them.

use temper_engine::schedules::spec::CompiledSpec;
use temper_engine::state_machine::commands::Reply;
use temper_engine::state_machine::scheduler::{
    NAMESPACE_DIVISION, WORKFLOW_ID_PREFIX, describe_info, described_schedule, jitter_seed, schedule_id_of,
};
use temper_engine::time::{timestamp_from_nanos, timestamp_nanos};
use temper_projections::query::{self, Attribute, Expr, Literal, Query, Value};
use temper_proto::api::common::v1::{Memo, SearchAttributes, WorkflowExecution};
use temper_proto::api::schedule::v1::{Schedule, ScheduleListEntry, schedule_action};
use temper_proto::api::workflowservice::v1::{
    CountSchedulesRequest, CountSchedulesResponse, CreateScheduleRequest, CreateScheduleResponse, DeleteScheduleRequest, DeleteScheduleResponse, DescribeScheduleRequest,
    DescribeScheduleResponse, ListScheduleMatchingTimesRequest, ListScheduleMatchingTimesResponse, ListSchedulesRequest,
    ListSchedulesResponse, PatchScheduleRequest, PatchScheduleResponse, UpdateScheduleRequest, UpdateScheduleResponse,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{CreateSchedule, DeleteSchedule, PatchSchedule, ScheduleState, UpdateSchedule};

use crate::errors::{ApiError, ApiResult, unexpected};
use crate::gateway::Gateway;
use temper_proto::records::NamespaceRecord;
use crate::validation::{new_run_in, request_id_or_new, require_id, search_attributes_in};

/// Temporal's limit on a pause or unpause note.
const NOTES_LIMIT: usize = 1000;
/// Temporal's limit on the times ListScheduleMatchingTimes returns.
const MATCHING_TIMES_LIMIT: usize = 1000;
/// Search attributes the server keeps on a schedule's run for itself.
const INTERNAL_ATTRIBUTES: [&str; 2] = ["TemporalSchedulePaused", "TemporalNamespaceDivision"];

pub async fn create_schedule(gateway: &Gateway, mut request: CreateScheduleRequest) -> ApiResult<CreateScheduleResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = schedule_workflow_id(&request.schedule_id)?;
    if request.request_id.is_empty() {
        return Err(ApiError::invalid("RequestId is not set on request."));
    }
    let schedule = request.schedule.get_or_insert_with(Default::default);
    validate_schedule(&namespace, schedule)?;
    search_attributes_in(&namespace, request.search_attributes.as_ref())?;
    if let Some(patch) = &mut request.initial_patch {
        validate_patch(patch)?;
    }
    let command = Command::CreateSchedule(CreateSchedule {
        request: Some(request),
        run_id: uuid::Uuid::new_v4().to_string(),
        namespace_retention: namespace.retention,
    });
    match gateway.bus.run(&namespace.id, &workflow_id, command).await? {
        Reply::Started { .. } => Ok(CreateScheduleResponse { conflict_token: conflict_token_bytes(1) }),
        other => Err(unexpected(other)),
    }
}

pub async fn describe_schedule(gateway: &Gateway, request: DescribeScheduleRequest) -> ApiResult<DescribeScheduleResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let (info, schedule) = load_schedule(gateway, &namespace.id, &request.schedule_id).await?;
    // The next times take bounded searches: off the request threads.
    let (schedule, described) = tokio::task::spawn_blocking(move || {
        let described = describe_info(&schedule);
        (schedule, described)
    })
    .await
    .map_err(|error| ApiError::Unavailable(format!("describing the schedule failed: {error}")))?;
    Ok(DescribeScheduleResponse {
        schedule: described_schedule(&schedule),
        info: Some(described),
        memo: user_memo(info.memo),
        search_attributes: user_search_attributes(info.search_attributes),
        conflict_token: conflict_token_bytes(schedule.conflict_token),
    })
}

pub async fn update_schedule(gateway: &Gateway, mut request: UpdateScheduleRequest) -> ApiResult<UpdateScheduleResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = schedule_workflow_id(&request.schedule_id)?;
    let schedule = request.schedule.get_or_insert_with(Default::default);
    validate_schedule(&namespace, schedule)?;
    search_attributes_in(&namespace, request.search_attributes.as_ref())?;
    request.request_id = request_id_or_new(&request.request_id);
    let command =
        Command::UpdateSchedule(UpdateSchedule { request: Some(request), namespace_retention: namespace.retention });
    gateway.bus.run(&namespace.id, &workflow_id, command).await?;
    Ok(UpdateScheduleResponse::default())
}

pub async fn patch_schedule(gateway: &Gateway, mut request: PatchScheduleRequest) -> ApiResult<PatchScheduleResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = schedule_workflow_id(&request.schedule_id)?;
    let patch = request.patch.as_mut().ok_or_else(|| ApiError::invalid("Patch is not set on request."))?;
    validate_patch(patch)?;
    request.request_id = request_id_or_new(&request.request_id);
    gateway.bus.run(&namespace.id, &workflow_id, Command::PatchSchedule(PatchSchedule { request: Some(request) })).await?;
    Ok(PatchScheduleResponse::default())
}

pub async fn delete_schedule(gateway: &Gateway, request: DeleteScheduleRequest) -> ApiResult<DeleteScheduleResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = schedule_workflow_id(&request.schedule_id)?;
    gateway.bus.run(&namespace.id, &workflow_id, Command::DeleteSchedule(DeleteSchedule { request: Some(request) })).await?;
    Ok(DeleteScheduleResponse::default())
}

pub async fn list_schedules(gateway: &Gateway, request: ListSchedulesRequest) -> ApiResult<ListSchedulesResponse> {
    let query = schedules_query(&request.query)?;
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let page = super::visibility::list_records(gateway, &namespace, query, request.maximum_page_size, request.next_page_token).await?;
    let schedules = page
        .executions
        .into_iter()
        .filter_map(|record| {
            let schedule_id = schedule_id_of(&record.workflow_id)?.to_string();
            Some(ScheduleListEntry {
                schedule_id,
                memo: user_memo(record.memo),
                search_attributes: user_search_attributes(record.search_attributes),
                info: record.schedule,
            })
        })
        .collect();
    Ok(ListSchedulesResponse { schedules, next_page_token: page.next_page_token })
}

pub async fn count_schedules(gateway: &Gateway, request: CountSchedulesRequest) -> ApiResult<CountSchedulesResponse> {
    let query = schedules_query(&request.query)?;
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let count = super::visibility::count_records(gateway, &namespace, query).await?;
    Ok(CountSchedulesResponse { count, groups: Vec::new() })
}

pub async fn list_schedule_matching_times(
    gateway: &Gateway,
    request: ListScheduleMatchingTimesRequest,
) -> ApiResult<ListScheduleMatchingTimesResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let (Some(start), Some(end)) = (request.start_time.as_ref(), request.end_time.as_ref()) else {
        return Err(ApiError::invalid("StartTime and EndTime must both be set on request."));
    };
    let (_, schedule) = load_schedule(gateway, &namespace.id, &request.schedule_id).await?;
    let spec = schedule.schedule.as_ref().and_then(|s| s.spec.clone()).unwrap_or_default();
    let spec = CompiledSpec::compile(&spec).map_err(|error| ApiError::invalid(format!("invalid schedule: {error}")))?;
    let seed = jitter_seed(&namespace.id, &request.schedule_id);
    let (start, end) = (timestamp_nanos(start), timestamp_nanos(end));
    // Up to a thousand searches, each bounded: off the request threads.
    let times = tokio::task::spawn_blocking(move || matching_times(&spec, &seed, start, end))
        .await
        .map_err(|error| ApiError::Unavailable(format!("computing the matching times failed: {error}")))??;
    Ok(ListScheduleMatchingTimesResponse { start_time: times })
}

/// The spec's times in `(start, end]`, at most [`MATCHING_TIMES_LIMIT`].
fn matching_times(spec: &CompiledSpec, seed: &str, start: i64, end: i64) -> ApiResult<Vec<prost_types::Timestamp>> {
    let mut times = Vec::new();
    let mut after = start;
    while times.len() < MATCHING_TIMES_LIMIT {
        match spec.next_time_checked(seed, after) {
            Ok(Some(next)) if next.next <= end => {
                times.push(timestamp_from_nanos(next.next));
                after = next.next;
            }
            Ok(_) => break,
            Err(_) => {
                return Err(ApiError::invalid(
                    "the schedule calendar specification has too many exclusions. Please modify the specification.",
                ));
            }
        }
    }
    Ok(times)
}

fn schedule_workflow_id(schedule_id: &str) -> ApiResult<String> {
    require_id(schedule_id, "ScheduleId")?;
    Ok(format!("{WORKFLOW_ID_PREFIX}{schedule_id}"))
}

/// The schedule's run, if the schedule exists (its run is running).
async fn load_schedule(
    gateway: &Gateway,
    namespace_id: &str,
    schedule_id: &str,
) -> ApiResult<(temper_proto::records::ExecutionInfo, ScheduleState)> {
    let execution = WorkflowExecution { workflow_id: schedule_workflow_id(schedule_id)?, run_id: String::new() };
    let not_found = || ApiError::NotFound("schedule not found".into());
    let (_, state) = gateway.load_run(namespace_id, Some(&execution)).await.map_err(|error| match error {
        ApiError::NotFound(_) | ApiError::Command(_) => not_found(),
        other => other,
    })?;
    let info = state.info.clone().unwrap_or_default();
    match state.schedule {
        Some(schedule) if info.close_time.is_none() => Ok((info, schedule)),
        _ => Err(not_found()),
    }
}

/// Checks what a create or update carries: the spec compiles (its errors
/// name the field), the action names a workflow to start, and its search
/// attributes are known.
fn validate_schedule(namespace: &NamespaceRecord, schedule: &Schedule) -> ApiResult<()> {
    let spec = schedule.spec.clone().unwrap_or_default();
    CompiledSpec::compile(&spec).map_err(|error| ApiError::invalid(format!("Invalid schedule spec: {error}")))?;
    if let Some(policies) = &schedule.policies
        && crate::validation::non_negative(policies.catchup_window.as_ref(), "CatchupWindow").is_err()
    {
        return Err(ApiError::invalid("CatchupWindow must not be negative."));
    }
    let Some(schedule_action::Action::StartWorkflow(start)) = schedule.action.as_ref().and_then(|a| a.action.as_ref()) else {
        return Err(ApiError::invalid("Schedule action is not set: a schedule starts a workflow (Action.StartWorkflow)."));
    };
    require_id(&start.workflow_id, "WorkflowId")?;
    if start.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return Err(ApiError::invalid("WorkflowType is not set on request."));
    }
    if start.task_queue.as_ref().is_none_or(|q| q.name.is_empty()) {
        return Err(ApiError::invalid("TaskQueue is not set on request."));
    }
    new_run_in(namespace, start.search_attributes.as_ref())
}

fn validate_patch(patch: &mut temper_proto::api::schedule::v1::SchedulePatch) -> ApiResult<()> {
    if patch.pause.len() > NOTES_LIMIT || patch.unpause.len() > NOTES_LIMIT {
        return Err(ApiError::invalid("Schedule notes exceeds limit."));
    }
    if let Some(trigger) = &mut patch.trigger_immediately
        && trigger.scheduled_time.is_none()
    {
        trigger.scheduled_time = Some(timestamp_from_nanos(temper_engine::time::now_nanos()));
    }
    for backfill in &patch.backfill_request {
        if backfill.start_time.is_none() || backfill.end_time.is_none() {
            return Err(ApiError::invalid("A backfill request needs both StartTime and EndTime."));
        }
    }
    Ok(())
}

/// Schedules in the namespace, running, narrowed by the user's filter. As
/// Temporal, a filter may name custom search attributes, ScheduleId and
/// TemporalSchedulePaused, but no other attribute the server keeps.
fn schedules_query(text: &str) -> ApiResult<Query> {
    let base = format!("TemporalNamespaceDivision = '{NAMESPACE_DIVISION}' AND ExecutionStatus = 'Running'");
    let mut query = query::parse(&base).expect("the schedules' base query is well formed");
    if text.trim().is_empty() {
        return Ok(query);
    }
    let user = query::parse(text).map_err(|error| ApiError::invalid(format!("Invalid query: {error}.")))?;
    if !user.group_by.is_empty() || !user.order_by.is_empty() {
        return Err(ApiError::invalid("invalid query filter for schedules: GROUP BY and ORDER BY are not supported"));
    }
    let Some(mut filter) = user.filter else { return Ok(query) };
    rewrite_for_schedules(&mut filter)?;
    query.filter = query.filter.map(|base| Expr::And(Box::new(base), Box::new(filter)));
    Ok(query)
}

fn rewrite_for_schedules(expr: &mut Expr) -> ApiResult<()> {
    match expr {
        Expr::And(left, right) | Expr::Or(left, right) => {
            rewrite_for_schedules(left)?;
            rewrite_for_schedules(right)
        }
        Expr::Not(inner) => rewrite_for_schedules(inner),
        Expr::Compare { attribute, value, .. } => rewrite_attribute(attribute, std::slice::from_mut(value)),
        Expr::Between { attribute, low, high, .. } => {
            rewrite_attribute(attribute, std::slice::from_mut(low))?;
            rewrite_attribute(attribute, std::slice::from_mut(high))
        }
        Expr::In { attribute, values, .. } => rewrite_attribute(attribute, values),
        Expr::StartsWith { attribute, prefix, .. } => rewrite_attribute(attribute, std::slice::from_mut(prefix)),
        Expr::IsNull { attribute, .. } => rewrite_attribute(attribute, &mut []),
    }
}

/// ScheduleId becomes the schedule run's workflow id; other attributes the
/// server keeps are refused.
fn rewrite_attribute(attribute: &mut Attribute, values: &mut [Value]) -> ApiResult<()> {
    if attribute.name == "ScheduleId" {
        attribute.name = "WorkflowId".to_string();
        for value in values {
            if let Literal::String(text) = &mut value.literal {
                *text = format!("{WORKFLOW_ID_PREFIX}{text}");
            }
        }
        return Ok(());
    }
    let reserved = temper_engine::search_attributes::is_reserved(&attribute.name);
    if reserved && attribute.name != "TemporalSchedulePaused" {
        return Err(ApiError::invalid(format!("invalid query filter for schedules: cannot filter on {:?}", attribute.name)));
    }
    Ok(())
}

fn conflict_token_bytes(token: i64) -> Vec<u8> {
    token.to_be_bytes().to_vec()
}

fn user_memo(memo: Option<Memo>) -> Option<Memo> {
    memo.filter(|memo| !memo.fields.is_empty())
}

/// The schedule's search attributes without those the server keeps.
fn user_search_attributes(attributes: Option<SearchAttributes>) -> Option<SearchAttributes> {
    let mut attributes = attributes?;
    attributes.indexed_fields.retain(|name, _| !INTERNAL_ATTRIBUTES.contains(&name.as_str()));
    (!attributes.indexed_fields.is_empty()).then_some(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_filter_is_narrowed_to_running_schedules_and_schedule_ids_are_rewritten() {
        let query = schedules_query("ScheduleId = 'nightly' AND TemporalSchedulePaused = false").unwrap();
        assert_eq!(
            query.to_string(),
            "TemporalNamespaceDivision = 'TemporalScheduler' AND ExecutionStatus = 'Running' AND \
             (WorkflowId = 'temporal-sys-scheduler:nightly' AND TemporalSchedulePaused = false)"
        );
    }

    #[test]
    fn a_schedule_filter_may_not_name_other_server_attributes() {
        let error = schedules_query("WorkflowType = 'x'").unwrap_err();
        assert!(error.to_string().contains("cannot filter on \"WorkflowType\""), "{error}");
    }
}
