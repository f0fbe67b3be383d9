//! The gateway's errors, and their one mapping to gRPC statuses with the
//! Temporal error details SDKs look for (the Python SDK raises
//! WorkflowAlreadyStartedError only when the ALREADY_EXISTS status carries a
//! WorkflowExecutionAlreadyStartedFailure, for instance).

use prost::Message;
use temper_engine::log::LogError;
use temper_engine::state_machine::CommandError;
use temper_engine::store::StoreError;
use temper_proto::api::errordetails::v1::{
    NamespaceAlreadyExistsFailure, NamespaceInvalidStateFailure, NamespaceNotFoundFailure, NotFoundFailure,
    QueryFailedFailure, WorkflowExecutionAlreadyStartedFailure,
};
use temper_proto::api::enums::v1::NamespaceState;
use temper_proto::api::failure::v1::Failure;
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("Namespace name {0} is not found.")]
    NamespaceNotFound(String),
    #[error("Namespace {0} already exists.")]
    NamespaceAlreadyExists(String),
    /// The namespace's state does not allow the call (Temporal's NamespaceInvalidState).
    #[error("Namespace has invalid state: {}. Must be {}.", state_name(*.state), .allowed.iter().map(|s| state_name(*s)).collect::<Vec<_>>().join(" or "))]
    NamespaceInvalidState { namespace: String, state: NamespaceState, allowed: Vec<NamespaceState> },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    #[error("{message}")]
    QueryFailed { message: String, failure: Option<Box<Failure>> },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// What the gateway a call was forwarded to answered (see `matching::routing`).
    #[error("{}", .0.message())]
    Forwarded(Status),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidArgument(message.into())
    }
}

/// The name Temporal's messages give a namespace state (Go's `String()`).
fn state_name(state: NamespaceState) -> &'static str {
    match state {
        NamespaceState::Unspecified => "Unspecified",
        NamespaceState::Registered => "Registered",
        NamespaceState::Deprecated => "Deprecated",
        NamespaceState::Deleted => "Deleted",
    }
}

/// The engine answered a command with a reply of another command's kind: a
/// bug, reported rather than guessed around.
pub fn unexpected(reply: temper_engine::state_machine::commands::Reply) -> ApiError {
    ApiError::Unavailable(format!("the engine gave an unexpected answer: {reply:?}"))
}

const DETAILS_TYPE_PREFIX: &str = "type.googleapis.com/temporal.api.errordetails.v1.";

fn with_detail(code: Code, message: String, detail_name: &str, detail: impl Message) -> Status {
    let status = temper_proto::google_rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any { type_url: format!("{DETAILS_TYPE_PREFIX}{detail_name}"), value: detail.encode_to_vec() }],
    };
    Status::with_details(code, message, status.encode_to_vec().into())
}

fn not_found(message: String) -> Status {
    with_detail(Code::NotFound, message, "NotFoundFailure", NotFoundFailure::default())
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let message = error.to_string();
        match error {
            ApiError::InvalidArgument(_) => Status::invalid_argument(message),
            ApiError::NamespaceNotFound(namespace) => {
                with_detail(Code::NotFound, message, "NamespaceNotFoundFailure", NamespaceNotFoundFailure { namespace })
            }
            ApiError::NamespaceAlreadyExists(_) => {
                with_detail(Code::AlreadyExists, message, "NamespaceAlreadyExistsFailure", NamespaceAlreadyExistsFailure {})
            }
            ApiError::NamespaceInvalidState { namespace, state, allowed } => with_detail(
                Code::FailedPrecondition,
                message,
                "NamespaceInvalidStateFailure",
                NamespaceInvalidStateFailure {
                    namespace,
                    state: state as i32,
                    allowed_states: allowed.into_iter().map(|state| state as i32).collect(),
                },
            ),
            ApiError::NotFound(_) => not_found(message),
            ApiError::Unimplemented(_) => Status::unimplemented(message),
            ApiError::Unavailable(_) => Status::unavailable(message),
            ApiError::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            ApiError::QueryFailed { failure, .. } => {
                with_detail(Code::InvalidArgument, message, "QueryFailedFailure", QueryFailedFailure { failure: failure.map(|f| *f) })
            }
            ApiError::Command(command_error) => command_status(command_error, message),
            ApiError::Store(StoreError::NamespaceAlreadyExists(name)) => Status::from(ApiError::NamespaceAlreadyExists(name)),
            ApiError::Store(_) | ApiError::Log(_) => Status::unavailable(message),
            ApiError::Forwarded(status) => status,
        }
    }
}

fn command_status(error: CommandError, message: String) -> Status {
    match error {
        CommandError::WorkflowNotFound { .. }
        | CommandError::WorkflowCompleted
        | CommandError::WorkflowTaskNotFound
        | CommandError::ActivityTaskNotFound
        | CommandError::NotFound(_) => not_found(message),
        CommandError::FailedPrecondition(_) => Status::failed_precondition(message),
        CommandError::WorkflowAlreadyStarted { start_request_id, run_id, .. } => with_detail(
            Code::AlreadyExists,
            message,
            "WorkflowExecutionAlreadyStartedFailure",
            WorkflowExecutionAlreadyStartedFailure { start_request_id, first_execution_run_id: run_id.clone(), run_id },
        ),
        CommandError::TaskAlreadyStarted => Status::already_exists(message),
        CommandError::InvalidArgument(_) => Status::invalid_argument(message),
        CommandError::Unimplemented(_) => Status::unimplemented(message),
        CommandError::Unavailable(_) => Status::unavailable(message),
        CommandError::Internal(_) => Status::internal(message),
    }
}
