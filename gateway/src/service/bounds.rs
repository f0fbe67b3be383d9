//! The limits every request is held to before its handler runs: ids and
//! names within `max_id_length` (namespace names included, before they are
//! resolved: names and ids become store keys), payload-carrying fields
//! within `max_payload_bytes`, failure chains within `max_failure_depth`.
//! Whether a field is set at all stays with the handler that needs it.
//! Workflow-task commands are checked by the engine, which fails the task
//! with the cause Temporal uses.

use temper_engine::state_machine::commands::start_request_of;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::*;

use crate::errors::ApiResult;
use crate::gateway::Limits;

pub trait Bounded {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()>;
}

fn execution(limits: &Limits, execution: Option<&WorkflowExecution>) -> ApiResult<()> {
    let Some(execution) = execution else { return Ok(()) };
    limits.id(&execution.workflow_id, "WorkflowId")?;
    limits.id(&execution.run_id, "RunId")
}

fn task_queue(limits: &Limits, queue: Option<&TaskQueue>) -> ApiResult<()> {
    let Some(queue) = queue else { return Ok(()) };
    limits.id(&queue.name, "TaskQueue")?;
    limits.id(&queue.normal_name, "TaskQueue.NormalName")
}

/// Who is asking, and under which request id: fields most requests share.
fn caller(limits: &Limits, namespace: &str, identity: &str) -> ApiResult<()> {
    limits.id(namespace, "Namespace")?;
    limits.id(identity, "Identity")
}

impl Bounded for DescribeNamespaceRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        limits.id(&self.id, "Id")
    }
}

impl Bounded for GetClusterInfoRequest {
    fn check_bounds(&self, _limits: &Limits) -> ApiResult<()> {
        Ok(())
    }
}

impl Bounded for GetSystemInfoRequest {
    fn check_bounds(&self, _: &Limits) -> ApiResult<()> {
        Ok(())
    }
}

impl Bounded for ListNamespacesRequest {
    fn check_bounds(&self, _: &Limits) -> ApiResult<()> {
        Ok(())
    }
}

impl Bounded for RegisterNamespaceRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        limits.id(&self.owner_email, "OwnerEmail")?;
        limits.text(&self.description, "Description")?;
        self.data.keys().try_for_each(|key| limits.id(key, "Data key"))?;
        limits.blob(self.data.values().map(String::len).sum(), "Data")
    }
}

impl Bounded for StartWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.id(&self.request_id, "RequestId")?;
        limits.id(&self.workflow_id, "WorkflowId")?;
        limits.id(self.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default(), "WorkflowType")?;
        task_queue(limits, self.task_queue.as_ref())?;
        limits.id(&self.cron_schedule, "CronSchedule")?;
        limits.payload(self.input.as_ref(), "Input")?;
        limits.memo(self.memo.as_ref(), "Memo")?;
        limits.search_attributes(self.search_attributes.as_ref(), "SearchAttributes")?;
        limits.payload(self.header.as_ref(), "Header")?;
        limits.payload(self.user_metadata.as_ref(), "UserMetadata")?;
        limits.failure(self.continued_failure.as_ref(), "ContinuedFailure")?;
        limits.payload(self.last_completion_result.as_ref(), "LastCompletionResult")
    }
}

impl Bounded for SignalWithStartWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        start_request_of(self).check_bounds(limits)?;
        limits.id(&self.signal_name, "SignalName")?;
        limits.payload(self.signal_input.as_ref(), "SignalInput")?;
        #[allow(deprecated)]
        limits.text(&self.control, "Control")
    }
}

impl Bounded for SignalWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.id(&self.request_id, "RequestId")?;
        execution(limits, self.workflow_execution.as_ref())?;
        limits.id(&self.signal_name, "SignalName")?;
        limits.payload(self.input.as_ref(), "Input")?;
        limits.payload(self.header.as_ref(), "Header")?;
        #[allow(deprecated)]
        limits.text(&self.control, "Control")
    }
}

impl Bounded for RequestCancelWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.id(&self.request_id, "RequestId")?;
        execution(limits, self.workflow_execution.as_ref())?;
        limits.id(&self.first_execution_run_id, "FirstExecutionRunId")?;
        limits.text(&self.reason, "Reason")
    }
}

impl Bounded for TerminateWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        execution(limits, self.workflow_execution.as_ref())?;
        limits.id(&self.first_execution_run_id, "FirstExecutionRunId")?;
        limits.text(&self.reason, "Reason")?;
        limits.payload(self.details.as_ref(), "Details")
    }
}

/// Reads and writes that name one execution and nothing else to bound.
macro_rules! namespace_and_execution {
    ($($request:ty),* $(,)?) => {
        $(impl Bounded for $request {
            fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
                limits.id(&self.namespace, "Namespace")?;
                execution(limits, self.execution.as_ref())
            }
        })*
    };
}

namespace_and_execution!(DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest, ResetStickyTaskQueueRequest);

impl Bounded for QueryWorkflowRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        execution(limits, self.execution.as_ref())?;
        let Some(query) = &self.query else { return Ok(()) };
        limits.id(&query.query_type, "QueryType")?;
        limits.payload(query.query_args.as_ref(), "QueryArgs")?;
        limits.payload(query.header.as_ref(), "Header")
    }
}

impl Bounded for PollWorkflowTaskQueueRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        task_queue(limits, self.task_queue.as_ref())?;
        #[allow(deprecated)]
        limits.id(&self.binary_checksum, "BinaryChecksum")
    }
}

impl Bounded for PollActivityTaskQueueRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        task_queue(limits, self.task_queue.as_ref())
    }
}

impl Bounded for RespondWorkflowTaskCompletedRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        task_queue(limits, self.sticky_attributes.as_ref().and_then(|sticky| sticky.worker_task_queue.as_ref()))?;
        #[allow(deprecated)]
        limits.id(&self.binary_checksum, "BinaryChecksum")?;
        for (query_id, result) in &self.query_results {
            limits.id(query_id, "QueryResults key")?;
            limits.payload(result.answer.as_ref(), "QueryResult.Answer")?;
            limits.text(&result.error_message, "QueryResult.ErrorMessage")?;
            limits.failure(result.failure.as_ref(), "QueryResult.Failure")?;
        }
        self.messages.iter().try_for_each(|message| limits.payload(Some(message), "Message"))
    }
}

impl Bounded for RespondWorkflowTaskFailedRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        #[allow(deprecated)]
        limits.id(&self.binary_checksum, "BinaryChecksum")?;
        limits.failure(self.failure.as_ref(), "Failure")?;
        self.messages.iter().try_for_each(|message| limits.payload(Some(message), "Message"))
    }
}

impl Bounded for RespondActivityTaskCompletedRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.payload(self.result.as_ref(), "Result")
    }
}

impl Bounded for RespondActivityTaskFailedRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.failure(self.failure.as_ref(), "Failure")?;
        limits.payload(self.last_heartbeat_details.as_ref(), "LastHeartbeatDetails")
    }
}

impl Bounded for RespondActivityTaskCanceledRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.payload(self.details.as_ref(), "Details")
    }
}

impl Bounded for RecordActivityTaskHeartbeatRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.payload(self.details.as_ref(), "Details")
    }
}

impl Bounded for GetWorkflowExecutionHistoryReverseRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        execution(limits, self.execution.as_ref())
    }
}

/// The ids an activity is named by in the ...ById RPCs.
fn activity_ids(limits: &Limits, workflow_id: &str, run_id: &str, activity_id: &str) -> ApiResult<()> {
    limits.id(workflow_id, "WorkflowId")?;
    limits.id(run_id, "RunId")?;
    limits.id(activity_id, "ActivityId")
}

impl Bounded for RespondActivityTaskCompletedByIdRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        activity_ids(limits, &self.workflow_id, &self.run_id, &self.activity_id)?;
        limits.payload(self.result.as_ref(), "Result")
    }
}

impl Bounded for RespondActivityTaskFailedByIdRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        activity_ids(limits, &self.workflow_id, &self.run_id, &self.activity_id)?;
        limits.failure(self.failure.as_ref(), "Failure")?;
        limits.payload(self.last_heartbeat_details.as_ref(), "LastHeartbeatDetails")
    }
}

impl Bounded for RespondActivityTaskCanceledByIdRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        activity_ids(limits, &self.workflow_id, &self.run_id, &self.activity_id)?;
        limits.payload(self.details.as_ref(), "Details")
    }
}

impl Bounded for RecordActivityTaskHeartbeatByIdRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        activity_ids(limits, &self.workflow_id, &self.run_id, &self.activity_id)?;
        limits.payload(self.details.as_ref(), "Details")
    }
}

impl Bounded for RespondQueryTaskCompletedRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        limits.payload(self.query_result.as_ref(), "QueryResult")?;
        limits.text(&self.error_message, "ErrorMessage")?;
        limits.failure(self.failure.as_ref(), "Failure")
    }
}

impl Bounded for DescribeTaskQueueRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        task_queue(limits, self.task_queue.as_ref())
    }
}

impl Bounded for ShutdownWorkerRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        limits.id(&self.sticky_task_queue, "StickyTaskQueue")?;
        limits.id(&self.task_queue, "TaskQueue")?;
        limits.text(&self.reason, "Reason")
    }
}

/// A schedule's id, as the workflow id of the run that keeps it.
fn schedule_id(limits: &Limits, schedule_id: &str) -> ApiResult<()> {
    let workflow_id = format!("{}{schedule_id}", temper_engine::state_machine::scheduler::WORKFLOW_ID_PREFIX);
    limits.id(&workflow_id, "ScheduleId")
}

/// Temporal checks a scheduled workflow's id with the longest suffix a
/// start appends to it: the nominal time.
const SCHEDULED_ID_SUFFIX: &str = "-2009-11-10T23:00:00Z";

fn schedule(limits: &Limits, schedule: Option<&temper_proto::api::schedule::v1::Schedule>) -> ApiResult<()> {
    use temper_proto::api::schedule::v1::schedule_action::Action;
    let Some(schedule) = schedule else { return Ok(()) };
    if let Some(spec) = &schedule.spec {
        spec.cron_string.iter().try_for_each(|cron| limits.id(cron, "CronString"))?;
        limits.id(&spec.timezone_name, "TimezoneName")?;
        limits.blob(spec.timezone_data.len(), "TimezoneData")?;
        limits.payload(Some(spec), "Spec")?;
    }
    if let Some(state) = &schedule.state {
        limits.text(&state.notes, "Notes")?;
    }
    let Some(Action::StartWorkflow(start)) = schedule.action.as_ref().and_then(|a| a.action.as_ref()) else { return Ok(()) };
    limits.id(&format!("{}{SCHEDULED_ID_SUFFIX}", start.workflow_id), "WorkflowId")?;
    limits.id(start.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default(), "WorkflowType")?;
    task_queue(limits, start.task_queue.as_ref())?;
    limits.payload(start.input.as_ref(), "Input")?;
    limits.memo(start.memo.as_ref(), "Memo")?;
    limits.search_attributes(start.search_attributes.as_ref(), "SearchAttributes")?;
    limits.payload(start.header.as_ref(), "Header")?;
    limits.payload(start.user_metadata.as_ref(), "UserMetadata")
}

fn schedule_patch(limits: &Limits, patch: Option<&temper_proto::api::schedule::v1::SchedulePatch>) -> ApiResult<()> {
    let Some(patch) = patch else { return Ok(()) };
    limits.payload(Some(patch), "Patch")
}

impl Bounded for CreateScheduleRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        schedule_id(limits, &self.schedule_id)?;
        limits.id(&self.request_id, "RequestId")?;
        schedule(limits, self.schedule.as_ref())?;
        schedule_patch(limits, self.initial_patch.as_ref())?;
        limits.memo(self.memo.as_ref(), "Memo")?;
        limits.search_attributes(self.search_attributes.as_ref(), "SearchAttributes")
    }
}

impl Bounded for UpdateScheduleRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        schedule_id(limits, &self.schedule_id)?;
        limits.id(&self.request_id, "RequestId")?;
        schedule(limits, self.schedule.as_ref())?;
        limits.memo(self.memo.as_ref(), "Memo")?;
        limits.search_attributes(self.search_attributes.as_ref(), "SearchAttributes")
    }
}

impl Bounded for PatchScheduleRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        schedule_id(limits, &self.schedule_id)?;
        limits.id(&self.request_id, "RequestId")?;
        schedule_patch(limits, self.patch.as_ref())
    }
}

impl Bounded for DeleteScheduleRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        schedule_id(limits, &self.schedule_id)
    }
}

impl Bounded for DescribeScheduleRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        schedule_id(limits, &self.schedule_id)
    }
}

impl Bounded for ListScheduleMatchingTimesRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        schedule_id(limits, &self.schedule_id)
    }
}

impl Bounded for CountSchedulesRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        limits.text(&self.query, "Query")
    }
}

impl Bounded for ListSchedulesRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        limits.text(&self.query, "Query")?;
        limits.blob(self.next_page_token.len(), "NextPageToken")
    }
}

#[cfg(test)]
mod tests {
    use temper_proto::api::common::v1::{Header, Payload, WorkflowType};
    use temper_proto::api::failure::v1::Failure;

    use super::*;
    use crate::errors::ApiError;

    fn refusal(result: ApiResult<()>) -> String {
        match result {
            Err(ApiError::InvalidArgument(message)) => message,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    fn start() -> StartWorkflowExecutionRequest {
        StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: "wf".into(),
            workflow_type: Some(WorkflowType { name: "Greet".into() }),
            task_queue: Some(TaskQueue { name: "q".into(), ..Default::default() }),
            request_id: "r".into(),
            identity: "me".into(),
            ..Default::default()
        }
    }

    fn long() -> String {
        "x".repeat(1001)
    }

    #[test]
    fn every_id_of_a_start_is_bounded_and_named() {
        let limits = Limits::default();
        assert!(start().check_bounds(&limits).is_ok());
        let cases: Vec<(&str, StartWorkflowExecutionRequest)> = vec![
            ("Namespace", StartWorkflowExecutionRequest { namespace: long(), ..start() }),
            ("WorkflowId", StartWorkflowExecutionRequest { workflow_id: long(), ..start() }),
            ("WorkflowType", StartWorkflowExecutionRequest { workflow_type: Some(WorkflowType { name: long() }), ..start() }),
            ("TaskQueue", StartWorkflowExecutionRequest { task_queue: Some(TaskQueue { name: long(), ..Default::default() }), ..start() }),
            ("RequestId", StartWorkflowExecutionRequest { request_id: long(), ..start() }),
            ("Identity", StartWorkflowExecutionRequest { identity: long(), ..start() }),
        ];
        for (field, request) in cases {
            let message = refusal(request.check_bounds(&limits));
            assert!(message.starts_with(&format!("{field} length exceeds limit")), "{field}: {message}");
        }
    }

    #[test]
    fn a_large_header_counts_against_the_payload_limit() {
        let limits = Limits { max_payload_bytes: 100, ..Limits::default() };
        let header = Header { fields: [("h".to_string(), Payload { data: vec![0; 200], ..Default::default() })].into() };
        let request = SignalWorkflowExecutionRequest { namespace: "default".into(), header: Some(header), ..Default::default() };
        assert!(refusal(request.check_bounds(&limits)).starts_with("Header is"));
    }

    #[test]
    fn signal_with_start_bounds_the_start_and_the_signal() {
        let limits = Limits::default();
        let request = SignalWithStartWorkflowExecutionRequest { namespace: "default".into(), signal_name: long(), ..Default::default() };
        assert!(refusal(request.check_bounds(&limits)).starts_with("SignalName length exceeds limit"));
        let request = SignalWithStartWorkflowExecutionRequest { namespace: "default".into(), workflow_id: long(), ..Default::default() };
        assert!(refusal(request.check_bounds(&limits)).starts_with("WorkflowId length exceeds limit"));
    }

    #[test]
    fn a_deep_failure_is_refused() {
        let limits = Limits::default();
        let failure = (0..90).fold(None, |cause: Option<Failure>, _| Some(Failure { cause: cause.map(Box::new), ..Default::default() }));
        let request = RespondActivityTaskFailedRequest { namespace: "default".into(), failure, ..Default::default() };
        assert!(refusal(request.check_bounds(&limits)).starts_with("Failure is nested 90 causes deep"));
    }

    #[test]
    fn register_namespace_bounds_the_name() {
        let request = RegisterNamespaceRequest { namespace: long(), ..Default::default() };
        assert!(refusal(request.check_bounds(&Limits::default())).starts_with("Namespace length exceeds limit"));
    }
}

impl Bounded for UpdateWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        execution(limits, self.workflow_execution.as_ref())?;
        limits.id(&self.first_execution_run_id, "FirstExecutionRunId")?;
        let Some(request) = self.request.as_ref() else { return Ok(()) };
        if let Some(meta) = request.meta.as_ref() {
            limits.id(&meta.update_id, "UpdateId")?;
            limits.id(&meta.identity, "Identity")?;
        }
        if let Some(input) = request.input.as_ref() {
            limits.id(&input.name, "Update name")?;
            limits.payload(input.args.as_ref(), "Args")?;
            limits.payload(input.header.as_ref(), "Header")?;
        }
        Ok(())
    }
}

impl Bounded for PollWorkflowExecutionUpdateRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        let Some(update_ref) = self.update_ref.as_ref() else { return Ok(()) };
        execution(limits, update_ref.workflow_execution.as_ref())?;
        limits.id(&update_ref.update_id, "UpdateId")
    }
}

impl Bounded for ExecuteMultiOperationRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        use temper_proto::api::workflowservice::v1::execute_multi_operation_request::operation::Operation;
        limits.id(&self.namespace, "Namespace")?;
        for operation in self.operations.iter().filter_map(|operation| operation.operation.as_ref()) {
            match operation {
                Operation::StartWorkflow(start) => start.check_bounds(limits)?,
                Operation::UpdateWorkflow(update) => update.check_bounds(limits)?,
            }
        }
        Ok(())
    }
}

impl Bounded for ResetWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        caller(limits, &self.namespace, &self.identity)?;
        execution(limits, self.workflow_execution.as_ref())?;
        limits.id(&self.request_id, "RequestId")?;
        limits.text(&self.reason, "Reason")
    }
}

/// Longest list query accepted: far beyond any hand-written one, and it
/// bounds what a request makes the parser and the index work through.
const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Longest next page token accepted: the index's tokens are a few hundred bytes.
const MAX_PAGE_TOKEN_BYTES: usize = 16 * 1024;

fn list_query(limits: &Limits, namespace: &str, query: &str, next_page_token: &[u8]) -> ApiResult<()> {
    limits.id(namespace, "Namespace")?;
    if query.len() > MAX_QUERY_BYTES {
        return Err(crate::errors::ApiError::invalid(format!(
            "Query is {} bytes, at most {MAX_QUERY_BYTES} are accepted.",
            query.len()
        )));
    }
    if next_page_token.len() > MAX_PAGE_TOKEN_BYTES {
        return Err(crate::errors::ApiError::invalid("Invalid next page token: it is longer than any this server hands out."));
    }
    Ok(())
}

impl Bounded for ListWorkflowExecutionsRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        list_query(limits, &self.namespace, &self.query, &self.next_page_token)
    }
}

impl Bounded for ScanWorkflowExecutionsRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        list_query(limits, &self.namespace, &self.query, &self.next_page_token)
    }
}

impl Bounded for CountWorkflowExecutionsRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        list_query(limits, &self.namespace, &self.query, &[])
    }
}

/// The legacy lists' filters are ids and names.
fn legacy_filters(limits: &Limits, workflow_id: Option<&str>, workflow_type: Option<&str>) -> ApiResult<()> {
    limits.id(workflow_id.unwrap_or_default(), "WorkflowId")?;
    limits.id(workflow_type.unwrap_or_default(), "WorkflowType")
}

impl Bounded for ListOpenWorkflowExecutionsRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        use list_open_workflow_executions_request::Filters;
        list_query(limits, &self.namespace, "", &self.next_page_token)?;
        match &self.filters {
            Some(Filters::ExecutionFilter(filter)) => legacy_filters(limits, Some(&filter.workflow_id), None),
            Some(Filters::TypeFilter(filter)) => legacy_filters(limits, None, Some(&filter.name)),
            None => Ok(()),
        }
    }
}

impl Bounded for ListClosedWorkflowExecutionsRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        use list_closed_workflow_executions_request::Filters;
        list_query(limits, &self.namespace, "", &self.next_page_token)?;
        match &self.filters {
            Some(Filters::ExecutionFilter(filter)) => legacy_filters(limits, Some(&filter.workflow_id), None),
            Some(Filters::TypeFilter(filter)) => legacy_filters(limits, None, Some(&filter.name)),
            Some(Filters::StatusFilter(_)) | None => Ok(()),
        }
    }
}

impl Bounded for DeleteWorkflowExecutionRequest {
    fn check_bounds(&self, limits: &Limits) -> ApiResult<()> {
        limits.id(&self.namespace, "Namespace")?;
        execution(limits, self.workflow_execution.as_ref())
    }
}
