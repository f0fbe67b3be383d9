//! Why the state machine refused a command. The gateway maps each kind to a
//! gRPC status once, at its edge.

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("workflow execution not found: workflow id `{workflow_id}`{}", run_suffix(.run_id))]
    WorkflowNotFound { workflow_id: String, run_id: String },
    #[error("workflow execution already completed")]
    WorkflowCompleted,
    #[error("{message}")]
    WorkflowAlreadyStarted { message: String, start_request_id: String, run_id: String },
    #[error("workflow task not found")]
    WorkflowTaskNotFound,
    #[error("activity task not found")]
    ActivityTaskNotFound,
    /// A task that another poll already started; matching drops it.
    #[error("task already started")]
    TaskAlreadyStarted,
    #[error("{0}")]
    InvalidArgument(String),
    /// Something other than a workflow run is missing (a schedule).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a stale conflict token).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unimplemented(String),
    /// The engine could not commit; nothing was applied and a retry may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// Applying the command failed inside the engine (a bug); the command was
    /// dropped so that it cannot stop its shard, and nothing of it was kept.
    #[error("{0}")]
    Internal(String),
}

fn run_suffix(run_id: &str) -> String {
    if run_id.is_empty() { String::new() } else { format!(", run id `{run_id}`") }
}
