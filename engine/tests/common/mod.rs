//! What the engine's integration tests share.

use temper_proto::api::common::v1::WorkflowType;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use temper_proto::records::StartWorkflow;
use temper_proto::records::command_record::Command;

/// A start of `workflow_id` on task queue `q`, with a request id and run id
/// derived from the workflow id.
pub fn start(workflow_id: &str) -> Command {
    Command::StartWorkflow(StartWorkflow {
        request: Some(StartWorkflowExecutionRequest {
            workflow_id: workflow_id.into(),
            workflow_type: Some(WorkflowType { name: "W".into() }),
            task_queue: Some(TaskQueue { name: "q".into(), ..Default::default() }),
            request_id: format!("start-{workflow_id}"),
            ..Default::default()
        }),
        run_id: format!("run-{workflow_id}"),
        ..Default::default()
    })
}
