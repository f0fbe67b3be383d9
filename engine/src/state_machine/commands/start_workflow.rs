//! StartWorkflowExecution: creates a run, unless the workflow id is taken
//! under the request's id reuse and conflict policies. A retried request with
//! the same request id gets the first outcome.

use temper_proto::api::common::v1::{Header, Payloads, WorkflowType};
use temper_proto::api::enums::v1::{
    TaskQueueKind, WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::WorkflowExecutionStartedEventAttributes;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use temper_proto::records::{ExecutionInfo, StartWorkflow, WorkflowMutableState};

use super::terminate_workflow::terminate;
use super::{Reply, is_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, NewRun, Transition};
use crate::time::{deadline, duration_nanos, explicit_duration, optional_duration, timestamp_from_nanos};

/// What a start did: the reply, the new run if one was created, and the
/// change to the previous run if the start terminated it.
#[derive(Debug)]
pub struct StartOutcome {
    pub reply: Reply,
    pub new_run: Option<NewRun>,
    pub previous_run: Option<Transition>,
}

pub fn apply(
    namespace_id: &str,
    current: Option<&mut WorkflowMutableState>,
    command: &StartWorkflow,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    let request = command.request.as_ref().ok_or_else(|| CommandError::InvalidArgument("start request is missing".into()))?;
    let previous_run = match current {
        None => None,
        Some(current) => match resolve_existing_run(current, request, clock)? {
            Resolution::Answer(reply) => return Ok(StartOutcome { reply, new_run: None, previous_run: None }),
            Resolution::StartNew(previous) => previous,
        },
    };
    let spec = RunSpec::from_start_request(namespace_id, request, &command.run_id, command.namespace_retention);
    let new_run = create_run(spec, clock, |_| {});
    Ok(StartOutcome {
        reply: Reply::Started { run_id: command.run_id.clone(), started: true },
        new_run: Some(new_run),
        previous_run,
    })
}

pub(super) enum Resolution {
    /// Do not create a run; answer with this.
    Answer(Reply),
    /// Create the run; the previous one changed as described (if at all).
    StartNew(Option<Transition>),
}

/// Applies Temporal's rules for a start whose workflow id already has a run.
pub(super) fn resolve_existing_run(
    current: &mut WorkflowMutableState,
    request: &StartWorkflowExecutionRequest,
    clock: Clock<'_>,
) -> Result<Resolution, CommandError> {
    let info = current.info.as_ref().expect("a run always has execution info");
    if !request.request_id.is_empty() && info.create_request_id == request.request_id {
        return Ok(Resolution::Answer(Reply::Started { run_id: info.run_id.clone(), started: true }));
    }
    if is_running(current) {
        return match conflict_policy(request) {
            WorkflowIdConflictPolicy::UseExisting => {
                Ok(Resolution::Answer(Reply::Started { run_id: info.run_id.clone(), started: false }))
            }
            WorkflowIdConflictPolicy::TerminateExisting => {
                let transition = terminate(current, "terminated by a new start of the same workflow id", None, &request.identity, clock);
                Ok(Resolution::StartNew(Some(transition)))
            }
            _ => Err(already_started(
                "Workflow execution is already running",
                &request.workflow_id,
                info,
            )),
        };
    }
    match reuse_policy(request) {
        WorkflowIdReusePolicy::RejectDuplicate => Err(already_started(
            "Workflow execution already finished and the workflow id reuse policy rejects duplicates",
            &request.workflow_id,
            info,
        )),
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly if info.status == WorkflowExecutionStatus::Completed as i32 => {
            Err(already_started(
                "Workflow execution already finished successfully and the workflow id reuse policy allows a duplicate only after a failure",
                &request.workflow_id,
                info,
            ))
        }
        _ => Ok(Resolution::StartNew(None)),
    }
}

fn conflict_policy(request: &StartWorkflowExecutionRequest) -> WorkflowIdConflictPolicy {
    #[allow(deprecated)]
    if request.workflow_id_reuse_policy() == WorkflowIdReusePolicy::TerminateIfRunning {
        return WorkflowIdConflictPolicy::TerminateExisting;
    }
    request.workflow_id_conflict_policy()
}

fn reuse_policy(request: &StartWorkflowExecutionRequest) -> WorkflowIdReusePolicy {
    request.workflow_id_reuse_policy()
}

fn already_started(reason: &str, workflow_id: &str, info: &ExecutionInfo) -> CommandError {
    CommandError::WorkflowAlreadyStarted {
        message: format!("{reason}. WorkflowId: {workflow_id}, RunId: {}.", info.run_id),
        start_request_id: info.create_request_id.clone(),
        run_id: info.run_id.clone(),
    }
}

/// Everything a new run is created from; start and signal-with-start share it.
pub(super) struct RunSpec {
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
    pub request_id: String,
    pub workflow_type: Option<WorkflowType>,
    pub task_queue: String,
    pub input: Option<Payloads>,
    pub execution_timeout: i64,
    pub run_timeout: i64,
    /// Whether the request carried either timeout, zero included: Temporal's
    /// started event then shows both (normalized), and neither otherwise.
    pub timeouts_given: bool,
    pub task_timeout: i64,
    pub identity: String,
    pub retry_policy: Option<temper_proto::api::common::v1::RetryPolicy>,
    pub memo: Option<temper_proto::api::common::v1::Memo>,
    pub search_attributes: Option<temper_proto::api::common::v1::SearchAttributes>,
    pub header: Option<Header>,
    pub user_metadata: Option<temper_proto::api::sdk::v1::UserMetadata>,
    pub priority: Option<temper_proto::api::common::v1::Priority>,
    pub retention: Option<prost_types::Duration>,
}

impl RunSpec {
    pub fn from_start_request(
        namespace_id: &str,
        request: &StartWorkflowExecutionRequest,
        run_id: &str,
        retention: Option<prost_types::Duration>,
    ) -> Self {
        RunSpec {
            namespace_id: namespace_id.to_string(),
            workflow_id: request.workflow_id.clone(),
            run_id: run_id.to_string(),
            request_id: request.request_id.clone(),
            workflow_type: request.workflow_type.clone(),
            task_queue: request.task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default(),
            input: request.input.clone(),
            execution_timeout: duration_nanos(request.workflow_execution_timeout.as_ref()),
            run_timeout: duration_nanos(request.workflow_run_timeout.as_ref()),
            timeouts_given: request.workflow_execution_timeout.is_some() || request.workflow_run_timeout.is_some(),
            task_timeout: duration_nanos(request.workflow_task_timeout.as_ref()),
            identity: request.identity.clone(),
            retry_policy: request.retry_policy.clone(),
            memo: request.memo.clone(),
            search_attributes: request.search_attributes.clone(),
            header: request.header.clone(),
            user_metadata: request.user_metadata.clone(),
            priority: request.priority.clone(),
            retention,
        }
    }
}

/// Creates a run: its started event, then whatever `before_first_task` adds
/// (signal-with-start's signal), then the first workflow task.
pub(super) fn create_run(spec: RunSpec, clock: Clock<'_>, before_first_task: impl FnOnce(&mut RunMutation)) -> NewRun {
    let now = clock.now;
    // A run timeout never outlasts the execution timeout; unset means "the execution timeout".
    let run_timeout = match (spec.run_timeout, spec.execution_timeout) {
        (0, execution) => execution,
        (run, 0) => run,
        (run, execution) => run.min(execution),
    };
    let mut task_timeout = if spec.task_timeout > 0 { spec.task_timeout } else { clock.config.default_workflow_task_timeout };
    task_timeout = task_timeout.min(clock.config.max_workflow_task_timeout);
    if run_timeout > 0 {
        task_timeout = task_timeout.min(run_timeout);
    }
    let mut state = WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: spec.namespace_id.clone(),
            workflow_id: spec.workflow_id.clone(),
            run_id: spec.run_id.clone(),
            first_run_id: spec.run_id.clone(),
            workflow_type: spec.workflow_type.clone(),
            task_queue: spec.task_queue.clone(),
            execution_timeout: optional_duration(spec.execution_timeout),
            run_timeout: optional_duration(run_timeout),
            workflow_task_timeout: optional_duration(task_timeout),
            start_time: Some(timestamp_from_nanos(now)),
            execution_time: Some(timestamp_from_nanos(now)),
            status: WorkflowExecutionStatus::Running as i32,
            next_event_id: 1,
            create_request_id: spec.request_id.clone(),
            memo: spec.memo.clone(),
            search_attributes: spec.search_attributes.clone(),
            retry_policy: spec.retry_policy.clone(),
            workflow_task_attempt: 1,
            retention: spec.retention,
            ..Default::default()
        }),
        ..Default::default()
    };
    let given_duration = if spec.timeouts_given { explicit_duration } else { optional_duration };
    let mut mutation = RunMutation::creating(&mut state, clock);
    let started_id = mutation.add_event(Attributes::from(WorkflowExecutionStartedEventAttributes {
        workflow_type: spec.workflow_type,
        task_queue: Some(TaskQueue { name: spec.task_queue, kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
        input: spec.input,
        workflow_execution_timeout: given_duration(spec.execution_timeout),
        workflow_run_timeout: given_duration(run_timeout),
        workflow_task_timeout: explicit_duration(task_timeout),
        identity: spec.identity,
        original_execution_run_id: spec.run_id.clone(),
        first_execution_run_id: spec.run_id,
        retry_policy: spec.retry_policy,
        attempt: 1,
        workflow_execution_expiration_time: (spec.execution_timeout > 0)
            .then(|| timestamp_from_nanos(deadline(now, spec.execution_timeout))),
        memo: spec.memo,
        search_attributes: spec.search_attributes,
        header: spec.header,
        // Temporal writes it even when there is none.
        first_workflow_task_backoff: explicit_duration(0),
        workflow_id: spec.workflow_id,
        priority: spec.priority,
        ..Default::default()
    }));
    mutation.set_user_metadata(started_id, spec.user_metadata);
    before_first_task(&mut mutation);
    mutation.schedule_workflow_task();
    mutation.mark_visibility_changed();
    let transition = mutation.finish();
    NewRun { state, transition }
}
