//! Creating a run: from a start request, or as the successor of a run that
//! continued as new, is retried or runs again on its cron schedule.

use temper_proto::api::common::v1::{Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, WorkflowType};
use temper_proto::api::enums::v1::{ContinueAsNewInitiator, TaskQueueKind, WorkflowExecutionStatus};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::history::v1::WorkflowExecutionStartedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflow::v1::ResetPoints;
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::records::{ExecutionInfo, ParentExecution, ScheduledBy, WorkflowMutableState};

use super::history::RunMutation;
use super::workflow_task_commands::{recorded_memo, recorded_search_attributes};
use super::{Clock, Config, NewRun, Nanos, retry};
use crate::cron::CronSchedule;
use crate::time::{deadline, duration_nanos, explicit_duration, optional_duration, timestamp_from_nanos};

/// Everything a new run is created from.
pub(super) struct RunSpec {
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
    pub request_id: String,
    pub workflow_type: Option<WorkflowType>,
    pub task_queue: String,
    pub input: Option<Payloads>,
    pub execution_timeout: Nanos,
    pub run_timeout: Nanos,
    /// Whether the started event shows the execution and run timeouts:
    /// Temporal shows what the request (or the run before) carried, zero
    /// included, and leaves out what it did not.
    pub show_execution_timeout: bool,
    pub show_run_timeout: bool,
    pub task_timeout: Nanos,
    pub identity: String,
    pub retry_policy: Option<RetryPolicy>,
    pub cron_schedule: String,
    pub memo: Option<Memo>,
    pub search_attributes: Option<SearchAttributes>,
    pub header: Option<Header>,
    pub user_metadata: Option<temper_proto::api::sdk::v1::UserMetadata>,
    pub priority: Option<Priority>,
    pub retention: Option<prost_types::Duration>,
    /// How long the first workflow task waits; `None` leaves the started
    /// event's backoff unset (a continue-as-new without one).
    pub first_task_backoff: Option<Nanos>,
    pub chain: ChainPosition,
    /// The parent, for a child's runs.
    pub parent: Option<ParentExecution>,
    /// The schedule that started the workflow, for its runs.
    pub scheduled_by: Option<ScheduledBy>,
    /// Start the first workflow task at once, for the worker behind the
    /// client that asked (eager workflow start).
    pub eager: bool,
}

/// Where a run stands in its workflow's chain of runs.
pub(super) struct ChainPosition {
    pub attempt: i32,
    /// The run this one follows (empty for the first).
    pub continued_execution_run_id: String,
    /// The chain's first run (empty: this run is the first).
    pub first_execution_run_id: String,
    pub initiator: ContinueAsNewInitiator,
    pub last_completion_result: Option<Payloads>,
    pub continued_failure: Option<Failure>,
    /// The reset points the runs before hand on.
    pub reset_points: Option<ResetPoints>,
    /// When the chain times out; `None` for a first run, which computes it
    /// from its execution timeout.
    pub execution_expiration: Option<Nanos>,
}

impl ChainPosition {
    pub fn first(initiator: ContinueAsNewInitiator) -> Self {
        ChainPosition {
            attempt: 1,
            continued_execution_run_id: String::new(),
            first_execution_run_id: String::new(),
            initiator,
            last_completion_result: None,
            continued_failure: None,
            reset_points: None,
            execution_expiration: None,
        }
    }
}

impl RunSpec {
    pub fn from_start_request(
        namespace_id: &str,
        request: &StartWorkflowExecutionRequest,
        run_id: &str,
        retention: Option<prost_types::Duration>,
        now: Nanos,
    ) -> Self {
        let timeouts_given = request.workflow_execution_timeout.is_some() || request.workflow_run_timeout.is_some();
        let cron = (!request.cron_schedule.is_empty()).then(|| CronSchedule::parse(&request.cron_schedule).ok()).flatten();
        // The gateway refuses a cron schedule with a start delay.
        let first_task_backoff = match &cron {
            Some(cron) => cron.backoff_for_next_run(now, now).unwrap_or(0),
            None => duration_nanos(request.workflow_start_delay.as_ref()),
        };
        let initiator = if cron.is_some() { ContinueAsNewInitiator::CronSchedule } else { ContinueAsNewInitiator::Unspecified };
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
            show_execution_timeout: timeouts_given,
            show_run_timeout: timeouts_given,
            task_timeout: duration_nanos(request.workflow_task_timeout.as_ref()),
            identity: request.identity.clone(),
            retry_policy: request.retry_policy.clone(),
            cron_schedule: request.cron_schedule.clone(),
            memo: request.memo.clone(),
            search_attributes: request.search_attributes.clone(),
            header: request.header.clone(),
            user_metadata: request.user_metadata.clone(),
            priority: request.priority.clone(),
            retention,
            first_task_backoff: Some(first_task_backoff),
            chain: ChainPosition {
                last_completion_result: request.last_completion_result.clone(),
                continued_failure: request.continued_failure.clone(),
                ..ChainPosition::first(initiator)
            },
            parent: None,
            scheduled_by: None,
            eager: request.request_eager_execution,
        }
    }
}

/// Creates a run: its started event, then whatever `before_first_task` adds
/// (signal-with-start's signal), then the first workflow task, unless that
/// waits for a backoff.
pub(super) fn create_run(mut spec: RunSpec, clock: Clock<'_>, before_first_task: impl FnOnce(&mut RunMutation)) -> NewRun {
    let now = clock.now;
    spec.memo = recorded_memo(spec.memo);
    spec.search_attributes = recorded_search_attributes(spec.search_attributes);
    let (run_timeout, task_timeout) =
        normalized_timeouts(spec.execution_timeout, spec.run_timeout, spec.task_timeout, clock.config);
    let retry_policy = spec.retry_policy.map(|policy| retry::with_defaults(Some(policy), &clock.config.workflow_retry));
    let chain = spec.chain;
    let expiration = chain
        .execution_expiration
        .or_else(|| (spec.execution_timeout > 0).then(|| round_to_millis(deadline(now, spec.execution_timeout))));
    let backoff = spec.first_task_backoff.unwrap_or(0);
    // A run that waits before its first task cannot start it now.
    let eager = spec.eager && backoff == 0;
    let execution_time = deadline(now, backoff);
    let first_run_id =
        if chain.first_execution_run_id.is_empty() { spec.run_id.clone() } else { chain.first_execution_run_id.clone() };
    let mut state = WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: spec.namespace_id.clone(),
            workflow_id: spec.workflow_id.clone(),
            run_id: spec.run_id.clone(),
            first_run_id: first_run_id.clone(),
            workflow_type: spec.workflow_type.clone(),
            task_queue: spec.task_queue.clone(),
            execution_timeout: optional_duration(spec.execution_timeout),
            run_timeout: optional_duration(run_timeout),
            workflow_task_timeout: optional_duration(task_timeout),
            start_time: Some(timestamp_from_nanos(now)),
            execution_time: Some(timestamp_from_nanos(execution_time)),
            status: WorkflowExecutionStatus::Running as i32,
            next_event_id: 1,
            create_request_id: spec.request_id.clone(),
            memo: spec.memo.clone(),
            search_attributes: spec.search_attributes.clone(),
            retry_policy: retry_policy.clone(),
            workflow_task_attempt: 1,
            retention: spec.retention,
            cron_schedule: spec.cron_schedule.clone(),
            attempt: chain.attempt,
            execution_expiration_time: expiration.map(timestamp_from_nanos),
            first_workflow_task_backoff_pending: backoff > 0,
            priority: spec.priority.clone(),
            auto_reset_points: chain.reset_points.clone(),
            parent: spec.parent.clone(),
            scheduled_by: spec.scheduled_by.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let shown = |show: bool, nanos: Nanos| if show { explicit_duration(nanos) } else { optional_duration(nanos) };
    let started = WorkflowExecutionStartedEventAttributes {
        workflow_type: spec.workflow_type,
        task_queue: Some(TaskQueue { name: spec.task_queue, kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
        input: spec.input,
        workflow_execution_timeout: shown(spec.show_execution_timeout, spec.execution_timeout),
        workflow_run_timeout: shown(spec.show_run_timeout, run_timeout),
        workflow_task_timeout: explicit_duration(task_timeout),
        continued_execution_run_id: chain.continued_execution_run_id,
        initiator: chain.initiator as i32,
        continued_failure: chain.continued_failure,
        prev_auto_reset_points: chain.reset_points,
        last_completion_result: chain.last_completion_result,
        identity: spec.identity,
        original_execution_run_id: spec.run_id,
        first_execution_run_id: first_run_id,
        retry_policy,
        attempt: chain.attempt,
        workflow_execution_expiration_time: expiration.map(timestamp_from_nanos),
        cron_schedule: spec.cron_schedule,
        first_workflow_task_backoff: spec.first_task_backoff.and_then(explicit_duration),
        memo: spec.memo,
        search_attributes: spec.search_attributes,
        header: spec.header,
        workflow_id: spec.workflow_id,
        priority: spec.priority,
        parent_workflow_namespace: spec.parent.as_ref().map(|p| p.namespace.clone()).unwrap_or_default(),
        parent_workflow_namespace_id: spec.parent.as_ref().map(|p| p.namespace_id.clone()).unwrap_or_default(),
        parent_workflow_execution: spec.parent.as_ref().map(|p| WorkflowExecution { workflow_id: p.workflow_id.clone(), run_id: p.run_id.clone() }),
        parent_initiated_event_id: spec.parent.as_ref().map(|p| p.initiated_event_id).unwrap_or_default(),
        root_workflow_execution: spec.parent.as_ref().map(|p| WorkflowExecution { workflow_id: p.root_workflow_id.clone(), run_id: p.root_run_id.clone() }),
        eager_execution_accepted: eager,
        ..Default::default()
    };
    let may_have_successor = started.retry_policy.is_some() || !started.cron_schedule.is_empty();
    if may_have_successor {
        state.started_for_successor = Some(started.clone());
    }
    let identity = started.identity.clone();
    let mut mutation = RunMutation::creating(&mut state, clock);
    let started_id = mutation.add_event(Attributes::from(started));
    mutation.set_user_metadata(started_id, spec.user_metadata);
    before_first_task(&mut mutation);
    let eager_task = if eager && mutation.add_scheduled_workflow_task() {
        Some(mutation.start_workflow_task(&spec.request_id, &identity))
    } else {
        mutation.schedule_workflow_task();
        None
    };
    mutation.mark_visibility_changed();
    let transition = mutation.finish();
    NewRun { state, transition, eager_task }
}

/// A new run's run and workflow task timeouts, as Temporal fills them in:
/// the run timeout never outlasts the execution timeout (and defaults to
/// it); the task timeout defaults, is capped, and never outlasts the run.
pub(super) fn normalized_timeouts(execution: Nanos, run: Nanos, task: Nanos, config: &Config) -> (Nanos, Nanos) {
    let run = match (run, execution) {
        (0, execution) => execution,
        (run, 0) => run,
        (run, execution) => run.min(execution),
    };
    let mut task = if task > 0 { task } else { config.default_workflow_task_timeout };
    task = task.min(config.max_workflow_task_timeout);
    if run > 0 {
        task = task.min(run);
    }
    (run, task)
}

/// Temporal stores the expiration of an execution timeout to the millisecond.
fn round_to_millis(nanos: Nanos) -> Nanos {
    const MILLI: Nanos = 1_000_000;
    nanos.saturating_add(MILLI / 2).div_euclid(MILLI).saturating_mul(MILLI)
}
