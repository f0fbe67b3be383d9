//! What the engine's integration tests share.

use temper_proto::api::common::v1::WorkflowType;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use bytes::Bytes;
use prost::Message;
use temper_engine::log::{Log, LogName, Offset};
use temper_proto::records::command_record::Command;
use temper_proto::records::{CommandRecord, ReplyTo, StartWorkflow};

// Not every test binary that includes this module appends commands.
#[allow(dead_code)]
/// Appends `command` for a workflow to the `commands` partition `shard`,
/// answered to `reply_to`, as the gateway's command bus does.
/// Appends one command and returns its offset.
pub async fn append_command(log: &dyn Log, shard: u32, reply_to: &ReplyTo, namespace_id: &str, workflow_id: &str, command: Command) -> Offset {
    let record = CommandRecord {
        reply_to: Some(reply_to.clone()),
        namespace_id: namespace_id.into(),
        workflow_id: workflow_id.into(),
        command: Some(command),
        origin: None,
        trace_context: Default::default(),
    };
    log.append(LogName::Commands, shard, vec![Bytes::from(record.encode_to_vec())]).await.expect("append")
}

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
