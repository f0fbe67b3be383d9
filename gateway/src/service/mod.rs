//! The WorkflowService and OperatorService gRPC servers. Each RPC family is
//! a module; this file only wires RPCs to handlers and maps errors to
//! statuses, once. RPCs not listed answer UNIMPLEMENTED with their name.

mod activity_tasks;
pub(crate) mod bounds;
mod delete;
mod describe;
mod history;
mod namespace;
mod namespace_delete;
pub use namespace_delete::reclaim_deleted_namespaces;
pub use task_queue::move_sticky_tasks_to_normal_queues;
mod operator;
mod polling;
mod query;
mod reset;
mod schedules;
mod signal;
mod start;
mod system;
mod task_queue;
mod update;
mod visibility;
mod workflow_tasks;

use std::sync::Arc;

use temper_proto::api::workflowservice::v1::*;
use temper_proto::raw::GetWorkflowExecutionHistoryResponse as RawGetWorkflowExecutionHistoryResponse;
use temper_proto::service::operatorservice::v1::operator_service_server::OperatorService;
use temper_proto::service::workflowservice::v1::workflow_service_server::WorkflowService;
use tonic::{Request, Response, Status};

use self::bounds::Bounded;
use crate::deadline::long_poll_deadline;
use crate::matching::routing::is_forwarded;
use crate::errors::ApiResult;
use crate::gateway::Gateway;
use crate::telemetry::traces;

pub struct Frontend {
    pub gateway: Arc<Gateway>,
}

fn respond<T>(result: ApiResult<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

const WORKFLOW_SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";

/// The call's server span, when tracing is on.
fn traced_call<T: 'static>(method: &str, request: &Request<T>) -> Option<opentelemetry::Context> {
    traces::call_context(WORKFLOW_SERVICE, &traces::operation_name(method), request.metadata(), request.get_ref())
}

/// Runs a call inside its span (if traced), marking the span failed when
/// the call answers an error.
async fn in_call_context<T>(
    context: Option<opentelemetry::Context>,
    answering: impl std::future::Future<Output = Result<Response<T>, Status>>,
) -> Result<Response<T>, Status> {
    use opentelemetry::trace::{FutureExt as _, TraceContextExt as _};
    let Some(context) = context else { return answering.await };
    let answer = answering.with_context(context.clone()).await;
    if let Err(status) = &answer {
        context.span().set_status(opentelemetry::trace::Status::error(format!("{:?}: {}", status.code(), status.message())));
    }
    answer
}

macro_rules! workflow_service {
    (
        unary { $( $method:ident($request:ident) -> $response:ident = $handler:path; )* }
        routed { $( $routed:ident($routed_request:ident) -> $routed_response:ident = $routed_handler:path; )* }
        long_poll { $( $poll:ident($poll_request:ident) -> $poll_response:ident = $poll_handler:path, $cap:expr; )* }
    ) => {
        #[tonic::async_trait]
        impl WorkflowService for Frontend {
            $(
                async fn $method(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    let context = traced_call(stringify!($method), &request);
                    in_call_context(context, async move {
                        let request = request.into_inner();
                        request.check_bounds(&self.gateway.limits)?;
                        respond($handler(&self.gateway, request).await)
                    }).await
                }
            )*
            $(
                async fn $routed(&self, request: Request<$routed_request>) -> Result<Response<$routed_response>, Status> {
                    let context = traced_call(stringify!($routed), &request);
                    in_call_context(context, async move {
                        let forwarded = is_forwarded(request.metadata());
                        let request = request.into_inner();
                        request.check_bounds(&self.gateway.limits)?;
                        respond($routed_handler(&self.gateway, request, forwarded).await)
                    }).await
                }
            )*
            $(
                async fn $poll(&self, request: Request<$poll_request>) -> Result<Response<$poll_response>, Status> {
                    let context = traced_call(stringify!($poll), &request);
                    in_call_context(context, async move {
                        let deadline = long_poll_deadline(request.metadata(), $cap);
                        let forwarded = is_forwarded(request.metadata());
                        let request = request.into_inner();
                        request.check_bounds(&self.gateway.limits)?;
                        respond($poll_handler(&self.gateway, request, deadline, forwarded).await)
                    }).await
                }
            )*
        }
    };
}

workflow_service! {
    unary {
        get_system_info(GetSystemInfoRequest) -> GetSystemInfoResponse = system::get_system_info;
        get_cluster_info(GetClusterInfoRequest) -> GetClusterInfoResponse = system::get_cluster_info;
        register_namespace(RegisterNamespaceRequest) -> RegisterNamespaceResponse = namespace::register_namespace;
        describe_namespace(DescribeNamespaceRequest) -> DescribeNamespaceResponse = namespace::describe_namespace;
        list_namespaces(ListNamespacesRequest) -> ListNamespacesResponse = namespace::list_namespaces;
        update_namespace(UpdateNamespaceRequest) -> UpdateNamespaceResponse = namespace::update_namespace;
        deprecate_namespace(DeprecateNamespaceRequest) -> DeprecateNamespaceResponse = namespace::deprecate_namespace;
        start_workflow_execution(StartWorkflowExecutionRequest) -> StartWorkflowExecutionResponse = start::start_workflow_execution;
        signal_with_start_workflow_execution(SignalWithStartWorkflowExecutionRequest) -> SignalWithStartWorkflowExecutionResponse = start::signal_with_start_workflow_execution;
        signal_workflow_execution(SignalWorkflowExecutionRequest) -> SignalWorkflowExecutionResponse = signal::signal_workflow_execution;
        request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest) -> RequestCancelWorkflowExecutionResponse = signal::request_cancel_workflow_execution;
        terminate_workflow_execution(TerminateWorkflowExecutionRequest) -> TerminateWorkflowExecutionResponse = signal::terminate_workflow_execution;
        delete_workflow_execution(DeleteWorkflowExecutionRequest) -> DeleteWorkflowExecutionResponse = delete::delete_workflow_execution;
        reset_workflow_execution(ResetWorkflowExecutionRequest) -> ResetWorkflowExecutionResponse = reset::reset_workflow_execution;
        describe_workflow_execution(DescribeWorkflowExecutionRequest) -> DescribeWorkflowExecutionResponse = describe::describe_workflow_execution;
        respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest) -> RespondWorkflowTaskCompletedResponse = workflow_tasks::respond_workflow_task_completed;
        respond_workflow_task_failed(RespondWorkflowTaskFailedRequest) -> RespondWorkflowTaskFailedResponse = workflow_tasks::respond_workflow_task_failed;
        respond_activity_task_completed(RespondActivityTaskCompletedRequest) -> RespondActivityTaskCompletedResponse = activity_tasks::respond_activity_task_completed;
        respond_activity_task_failed(RespondActivityTaskFailedRequest) -> RespondActivityTaskFailedResponse = activity_tasks::respond_activity_task_failed;
        respond_activity_task_canceled(RespondActivityTaskCanceledRequest) -> RespondActivityTaskCanceledResponse = activity_tasks::respond_activity_task_canceled;
        record_activity_task_heartbeat(RecordActivityTaskHeartbeatRequest) -> RecordActivityTaskHeartbeatResponse = activity_tasks::record_activity_task_heartbeat;
        respond_activity_task_completed_by_id(RespondActivityTaskCompletedByIdRequest) -> RespondActivityTaskCompletedByIdResponse = activity_tasks::respond_activity_task_completed_by_id;
        respond_activity_task_failed_by_id(RespondActivityTaskFailedByIdRequest) -> RespondActivityTaskFailedByIdResponse = activity_tasks::respond_activity_task_failed_by_id;
        respond_activity_task_canceled_by_id(RespondActivityTaskCanceledByIdRequest) -> RespondActivityTaskCanceledByIdResponse = activity_tasks::respond_activity_task_canceled_by_id;
        record_activity_task_heartbeat_by_id(RecordActivityTaskHeartbeatByIdRequest) -> RecordActivityTaskHeartbeatByIdResponse = activity_tasks::record_activity_task_heartbeat_by_id;
        reset_sticky_task_queue(ResetStickyTaskQueueRequest) -> ResetStickyTaskQueueResponse = task_queue::reset_sticky_task_queue;
        get_workflow_execution_history_reverse(GetWorkflowExecutionHistoryReverseRequest) -> GetWorkflowExecutionHistoryReverseResponse = history::get_workflow_execution_history_reverse;
        list_workflow_executions(ListWorkflowExecutionsRequest) -> ListWorkflowExecutionsResponse = visibility::list_workflow_executions;
        scan_workflow_executions(ScanWorkflowExecutionsRequest) -> ScanWorkflowExecutionsResponse = visibility::scan_workflow_executions;
        count_workflow_executions(CountWorkflowExecutionsRequest) -> CountWorkflowExecutionsResponse = visibility::count_workflow_executions;
        list_open_workflow_executions(ListOpenWorkflowExecutionsRequest) -> ListOpenWorkflowExecutionsResponse = visibility::list_open_workflow_executions;
        list_closed_workflow_executions(ListClosedWorkflowExecutionsRequest) -> ListClosedWorkflowExecutionsResponse = visibility::list_closed_workflow_executions;
        create_schedule(CreateScheduleRequest) -> CreateScheduleResponse = schedules::create_schedule;
        describe_schedule(DescribeScheduleRequest) -> DescribeScheduleResponse = schedules::describe_schedule;
        update_schedule(UpdateScheduleRequest) -> UpdateScheduleResponse = schedules::update_schedule;
        patch_schedule(PatchScheduleRequest) -> PatchScheduleResponse = schedules::patch_schedule;
        delete_schedule(DeleteScheduleRequest) -> DeleteScheduleResponse = schedules::delete_schedule;
        list_schedules(ListSchedulesRequest) -> ListSchedulesResponse = schedules::list_schedules;
        count_schedules(CountSchedulesRequest) -> CountSchedulesResponse = schedules::count_schedules;
        list_schedule_matching_times(ListScheduleMatchingTimesRequest) -> ListScheduleMatchingTimesResponse = schedules::list_schedule_matching_times;
    }
    routed {
        respond_query_task_completed(RespondQueryTaskCompletedRequest) -> RespondQueryTaskCompletedResponse = query::respond_query_task_completed;
        describe_task_queue(DescribeTaskQueueRequest) -> DescribeTaskQueueResponse = task_queue::describe_task_queue;
        shutdown_worker(ShutdownWorkerRequest) -> ShutdownWorkerResponse = task_queue::shutdown_worker;
    }
    long_poll {
        get_workflow_execution_history(GetWorkflowExecutionHistoryRequest) -> RawGetWorkflowExecutionHistoryResponse = history::get_workflow_execution_history, history::LONG_POLL;
        poll_workflow_task_queue(PollWorkflowTaskQueueRequest) -> PollWorkflowTaskQueueResponse = workflow_tasks::poll_workflow_task_queue, workflow_tasks::LONG_POLL;
        poll_activity_task_queue(PollActivityTaskQueueRequest) -> PollActivityTaskQueueResponse = activity_tasks::poll_activity_task_queue, workflow_tasks::LONG_POLL;
        query_workflow(QueryWorkflowRequest) -> QueryWorkflowResponse = query::query_workflow, query::QUERY_TIMEOUT;
        update_workflow_execution(UpdateWorkflowExecutionRequest) -> UpdateWorkflowExecutionResponse = update::update_workflow_execution, update::LONG_POLL;
        poll_workflow_execution_update(PollWorkflowExecutionUpdateRequest) -> PollWorkflowExecutionUpdateResponse = update::poll_workflow_execution_update, update::LONG_POLL;
        execute_multi_operation(ExecuteMultiOperationRequest) -> ExecuteMultiOperationResponse = update::execute_multi_operation, update::LONG_POLL;
    }
}

/// Temporal's operator API: custom search attributes (see `operator`) and
/// DeleteNamespace (see `namespace_delete`); the other RPCs answer
/// UNIMPLEMENTED, naming themselves.
pub struct Operator {
    pub gateway: Arc<Gateway>,
}

#[tonic::async_trait]
impl OperatorService for Operator {
    async fn add_search_attributes(
        &self,
        request: Request<temper_proto::api::operatorservice::v1::AddSearchAttributesRequest>,
    ) -> Result<Response<temper_proto::api::operatorservice::v1::AddSearchAttributesResponse>, Status> {
        respond(operator::add_search_attributes(&self.gateway.namespaces, request.into_inner()).await)
    }

    async fn remove_search_attributes(
        &self,
        request: Request<temper_proto::api::operatorservice::v1::RemoveSearchAttributesRequest>,
    ) -> Result<Response<temper_proto::api::operatorservice::v1::RemoveSearchAttributesResponse>, Status> {
        respond(operator::remove_search_attributes(&self.gateway.namespaces, request.into_inner()).await)
    }

    async fn delete_namespace(
        &self,
        request: Request<temper_proto::api::operatorservice::v1::DeleteNamespaceRequest>,
    ) -> Result<Response<temper_proto::api::operatorservice::v1::DeleteNamespaceResponse>, Status> {
        respond(namespace_delete::delete_namespace(&self.gateway, request.into_inner()).await)
    }

    async fn list_search_attributes(
        &self,
        request: Request<temper_proto::api::operatorservice::v1::ListSearchAttributesRequest>,
    ) -> Result<Response<temper_proto::api::operatorservice::v1::ListSearchAttributesResponse>, Status> {
        respond(operator::list_search_attributes(&self.gateway.namespaces, request.into_inner()).await)
    }
}
