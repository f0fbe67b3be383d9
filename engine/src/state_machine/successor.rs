//! A run followed by the next run of its workflow: continue-as-new, a retry
//! of a run that failed or timed out, and the next run of a cron schedule.
//! The successor is created in the same transition that closes its
//! predecessor. Both belong to one workflow id, hence to one shard, so the
//! chain is one atomic write and can never break.

use temper_proto::api::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes;
use temper_proto::api::common::v1::Payloads;
use temper_proto::api::enums::v1::{ContinueAsNewInitiator, RetryState, TimeoutType};
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{Failure, TimeoutFailureInfo};
use temper_proto::api::history::v1::WorkflowExecutionStartedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::history::RunMutation;
use super::new_run::{ChainPosition, RunSpec, create_run};
use super::reset_points::handed_on;
use super::retry::{RetryDecision, next_retry};
use super::Nanos;
use super::derived_ids::successor_run_id;
use crate::cron::CronSchedule;
use crate::time::{duration_nanos, timestamp_nanos};

/// Why a run gets a successor, and what it starts from.
#[derive(Debug)]
pub(super) enum Successor {
    ContinueAsNew(Box<ContinueAsNewWorkflowExecutionCommandAttributes>),
    Retry { backoff: Nanos, failure: Option<Failure>, last_completion_result: Option<Payloads> },
    Cron { backoff: Nanos, failure: Option<Failure>, last_completion_result: Option<Payloads> },
}

/// How a run that did not complete ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Unsuccessful {
    /// The workflow failed itself.
    Failed,
    /// Its run timeout passed.
    TimedOut,
}

/// Points a run's closing event at the run that follows it.
pub(super) fn set_new_execution_run_id(attributes: &mut Attributes, run_id: String) {
    match attributes {
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => a.new_execution_run_id = run_id,
        Attributes::WorkflowExecutionFailedEventAttributes(a) => a.new_execution_run_id = run_id,
        Attributes::WorkflowExecutionTimedOutEventAttributes(a) => a.new_execution_run_id = run_id,
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a) => a.new_execution_run_id = run_id,
        _ => {}
    }
}

/// The failure a run timeout hands to the retry policy and to the next run.
pub(super) fn run_timeout_failure() -> Failure {
    Failure {
        message: "workflow timeout".to_string(),
        source: "Server".to_string(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: TimeoutType::StartToClose as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    }
}

impl RunMutation<'_> {
    /// The id the run's successor gets.
    pub(super) fn successor_run_id(&self) -> String {
        successor_run_id(&self.info().run_id)
    }

    /// Whether the chain's execution timeout has passed.
    pub(super) fn chain_expired(&self) -> bool {
        self.info().execution_expiration_time.as_ref().is_some_and(|expiration| timestamp_nanos(expiration) <= self.now())
    }

    /// The next cron run of a completed run, if it has a schedule.
    pub(super) fn cron_successor(&self, result: Option<Payloads>) -> Option<Successor> {
        let backoff = self.cron_backoff()?;
        Some(Successor::Cron { backoff, failure: None, last_completion_result: result })
    }

    /// What follows a run that failed or timed out: a retry if its retry
    /// policy allows one, else its next cron run; with the retry state the
    /// closing event records.
    pub(super) fn successor_after(&self, ending: Unsuccessful, failure: &Failure) -> (Option<Successor>, RetryState) {
        if ending == Unsuccessful::TimedOut && self.chain_expired() {
            return (None, RetryState::Timeout);
        }
        let previous_result = || self.state.started_for_successor.as_ref().and_then(|s| s.last_completion_result.clone());
        let retry_state = match self.retry_decision(failure) {
            RetryDecision::RetryAfter(backoff) => {
                let last_completion_result = if ending == Unsuccessful::TimedOut { previous_result() } else { None };
                let retry = Successor::Retry { backoff, failure: Some(failure.clone()), last_completion_result };
                return (Some(retry), RetryState::InProgress);
            }
            RetryDecision::GiveUp(state) => state,
        };
        let cron = self.cron_backoff().map(|backoff| Successor::Cron {
            backoff,
            failure: Some(failure.clone()),
            last_completion_result: previous_result(),
        });
        (cron, retry_state)
    }

    fn retry_decision(&self, failure: &Failure) -> RetryDecision {
        let info = self.info();
        let Some(policy) = info.retry_policy.as_ref() else { return RetryDecision::GiveUp(RetryState::RetryPolicyNotSet) };
        let expiration = info.execution_expiration_time.as_ref().map(timestamp_nanos).unwrap_or(0);
        next_retry(policy, info.attempt.max(1), failure, self.now(), expiration)
    }

    fn cron_backoff(&self) -> Option<Nanos> {
        let info = self.info();
        if info.cron_schedule.is_empty() {
            return None;
        }
        let schedule = CronSchedule::parse(&info.cron_schedule).ok()?;
        let scheduled = info.execution_time.as_ref().map(timestamp_nanos).unwrap_or_else(|| self.now());
        schedule.backoff_for_next_run(scheduled, self.now())
    }

    /// Creates the successor of the run, which has just closed; the shard
    /// commits it with the close and makes it the workflow's current run.
    pub(super) fn start_successor(&mut self, successor: Successor) {
        let spec = self.successor_spec(successor);
        self.expire_own_reset_points();
        self.info_mut().new_execution_run_id = spec.run_id.clone();
        let new_run = create_run(spec, self.clock, |_| {});
        self.set_successor(new_run);
    }

    fn successor_spec(&self, successor: Successor) -> RunSpec {
        match successor {
            Successor::ContinueAsNew(attributes) => self.continued_as_new(*attributes),
            Successor::Retry { backoff, failure, last_completion_result } => {
                self.restarted(ContinueAsNewInitiator::Retry, backoff, failure, last_completion_result)
            }
            Successor::Cron { backoff, failure, last_completion_result } => {
                self.restarted(ContinueAsNewInitiator::CronSchedule, backoff, failure, last_completion_result)
            }
        }
    }

    /// The next run as the workflow's continue-as-new command describes it;
    /// what the command leaves out comes from this run, as in Temporal.
    fn continued_as_new(&self, command: ContinueAsNewWorkflowExecutionCommandAttributes) -> RunSpec {
        let info = self.info();
        let initiator = match command.initiator() {
            ContinueAsNewInitiator::Unspecified => ContinueAsNewInitiator::Workflow,
            other => other,
        };
        let attempt = if initiator == ContinueAsNewInitiator::Retry { info.attempt.saturating_add(1) } else { 1 };
        let requested_backoff = command.backoff_start_interval.as_ref().map(|interval| duration_nanos(Some(interval)));
        // The command arrives normalized: type, queue and timeouts are set.
        RunSpec {
            workflow_type: command.workflow_type,
            task_queue: command.task_queue.map(|queue| queue.name).unwrap_or_default(),
            input: command.input,
            run_timeout: duration_nanos(command.workflow_run_timeout.as_ref()),
            show_run_timeout: true,
            task_timeout: duration_nanos(command.workflow_task_timeout.as_ref()),
            retry_policy: command.retry_policy,
            cron_schedule: command.cron_schedule,
            memo: command.memo,
            search_attributes: command.search_attributes,
            header: command.header,
            first_task_backoff: self.at_least_min_run_interval(requested_backoff),
            chain: ChainPosition {
                attempt,
                initiator,
                last_completion_result: command.last_completion_result,
                continued_failure: command.failure,
                ..self.next_chain_position()
            },
            ..self.spec_from_this_run()
        }
    }

    /// A retry or the next cron run: it starts as this run started.
    fn restarted(
        &self,
        initiator: ContinueAsNewInitiator,
        backoff: Nanos,
        failure: Option<Failure>,
        last_completion_result: Option<Payloads>,
    ) -> RunSpec {
        let info = self.info();
        let started: WorkflowExecutionStartedEventAttributes = self.state.started_for_successor.clone().unwrap_or_default();
        let attempt = if initiator == ContinueAsNewInitiator::Retry { info.attempt.saturating_add(1) } else { 1 };
        let task_timeout = duration_nanos(started.workflow_task_timeout.as_ref());
        RunSpec {
            workflow_type: started.workflow_type.or_else(|| info.workflow_type.clone()),
            input: started.input,
            run_timeout: duration_nanos(started.workflow_run_timeout.as_ref()),
            show_execution_timeout: started.workflow_execution_timeout.is_some(),
            show_run_timeout: started.workflow_run_timeout.is_some(),
            task_timeout: if task_timeout > 0 { task_timeout } else { duration_nanos(info.workflow_task_timeout.as_ref()) },
            retry_policy: started.retry_policy,
            cron_schedule: started.cron_schedule,
            memo: started.memo,
            search_attributes: started.search_attributes,
            header: started.header,
            priority: started.priority,
            first_task_backoff: self.at_least_min_run_interval(Some(backoff)),
            chain: ChainPosition {
                attempt,
                initiator,
                last_completion_result,
                continued_failure: failure,
                ..self.next_chain_position()
            },
            ..self.spec_from_this_run()
        }
    }

    /// What every successor takes from this run unchanged.
    fn spec_from_this_run(&self) -> RunSpec {
        let info = self.info();
        RunSpec {
            namespace_id: info.namespace_id.clone(),
            workflow_id: info.workflow_id.clone(),
            run_id: self.successor_run_id(),
            // No client asked for the successor: it is named after its run
            // (Temporal makes up a request id; describe lists it).
            request_id: self.successor_run_id(),
            workflow_type: info.workflow_type.clone(),
            task_queue: info.task_queue.clone(),
            input: None,
            execution_timeout: duration_nanos(info.execution_timeout.as_ref()),
            run_timeout: duration_nanos(info.run_timeout.as_ref()),
            show_execution_timeout: info.execution_timeout.is_some(),
            show_run_timeout: info.run_timeout.is_some(),
            task_timeout: duration_nanos(info.workflow_task_timeout.as_ref()),
            identity: String::new(),
            retry_policy: None,
            cron_schedule: String::new(),
            memo: None,
            search_attributes: None,
            header: None,
            user_metadata: None,
            priority: info.priority.clone(),
            retention: info.retention,
            first_task_backoff: None,
            chain: self.next_chain_position(),
            parent: info.parent.clone(),
            scheduled_by: info.scheduled_by.clone(),
            eager: false,
        }
    }

    fn next_chain_position(&self) -> ChainPosition {
        let info = self.info();
        ChainPosition {
            continued_execution_run_id: info.run_id.clone(),
            first_execution_run_id: info.first_run_id.clone(),
            execution_expiration: info.execution_expiration_time.as_ref().map(timestamp_nanos),
            reset_points: handed_on(info, self.now()),
            ..ChainPosition::first(ContinueAsNewInitiator::Unspecified)
        }
    }

    /// A successor's first workflow task comes at least the minimal run
    /// interval after this run began, so a workflow that continues as new
    /// at once cannot spin; otherwise it waits as asked.
    fn at_least_min_run_interval(&self, requested: Option<Nanos>) -> Option<Nanos> {
        let began = self.info().execution_time.as_ref().map(timestamp_nanos).unwrap_or_else(|| self.now());
        let lifetime = self.now().saturating_sub(began).max(0);
        let interval = lifetime.saturating_add(requested.unwrap_or(0));
        let minimum = self.clock.config.min_run_interval;
        if interval < minimum { Some(minimum - lifetime) } else { requested }
    }
}
