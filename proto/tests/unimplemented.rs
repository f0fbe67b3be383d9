//! RPCs Temper does not implement answer UNIMPLEMENTED and name themselves.

use temper_proto::api::operatorservice::v1::ListSearchAttributesRequest;
use temper_proto::api::workflowservice::v1::{ListWorkflowExecutionsRequest, UpdateWorkflowExecutionRequest};
use temper_proto::service::operatorservice::v1::operator_service_server::OperatorService;
use temper_proto::service::workflowservice::v1::workflow_service_server::WorkflowService;
use tonic::{Code, Request};

struct ImplementsNothing;

impl WorkflowService for ImplementsNothing {}
impl OperatorService for ImplementsNothing {}

#[tokio::test]
async fn unwritten_rpcs_answer_unimplemented_naming_the_rpc() {
    let status = ImplementsNothing.list_workflow_executions(Request::new(ListWorkflowExecutionsRequest::default())).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(status.message(), "WorkflowService.ListWorkflowExecutions is not implemented by Temper");

    let status = ImplementsNothing.update_workflow_execution(Request::new(UpdateWorkflowExecutionRequest::default())).await.unwrap_err();
    assert_eq!(status.message(), "WorkflowService.UpdateWorkflowExecution is not implemented by Temper");

    let status = ImplementsNothing.list_search_attributes(Request::new(ListSearchAttributesRequest::default())).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(status.message(), "OperatorService.ListSearchAttributes is not implemented by Temper");
}
