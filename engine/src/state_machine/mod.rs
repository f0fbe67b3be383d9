//! The pure workflow state machine.
//!
//! `(mutable state, command, now) -> (history events, state changes, effects)`:
//! nothing here does I/O, reads a clock or draws a random number. The shard
//! processor feeds it commands from the `commands` log and timers from the
//! store, and commits what it returns. Handlers mutate the state in place and
//! never leave it half-changed: they validate before they mutate, or work on a
//! copy when validation is interleaved with changes (workflow task completion).
//!
//! The `expect`s and map indexing here state invariants of the run's own
//! state (a run has execution info; an activity found by a validated token is
//! pending), never assumptions about request data: every id, event id or
//! attempt a request names is looked up with a fallible read and refused if
//! absent, and time arithmetic saturates. Should an invariant break anyway,
//! the shard contains the panic and passes over the command (see
//! `shard::contain_panics`); the property test in `engine/tests` drives random
//! workflow lives through every entry point to keep it that way.

mod activity;
pub mod commands;
mod config;
mod derived_ids;
mod errors;
mod history;
mod children;
mod lifecycle;
mod new_run;
mod rebuild;
mod reset_points;
mod retry;
pub mod scheduler;
mod successor;
pub mod task_lookup;
mod timers;
mod updates;
mod workflow_task;
mod workflow_task_commands;

pub use activity::activity_expiration;
pub use config::{Config, RetryDefaults, RunLimits};
pub use errors::CommandError;
pub use history::visibility_record;
pub use retry::{validate as validate_retry_policy, with_defaults as retry_policy_with_defaults};
pub use timers::{run_expiration, timer_key, timers_of_run};
pub use workflow_task_commands::command_type_of;

use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::records::{CommandRecord, TaskRecord, TimerTask, VisibilityRecord, WorkflowMutableState};

use crate::store::{RunKey, TimerKey};

/// How many failures the chain `failure`, `failure.cause`, ... holds.
pub fn failure_depth(failure: Option<&temper_proto::api::failure::v1::Failure>) -> usize {
    std::iter::successors(failure, |failure| failure.cause.as_deref()).count()
}

/// What a transition asks the engine to do once its commit is durable.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Publish a task to the `tasks` log for matching to hand to a worker.
    DispatchTask(TaskRecord),
    /// Arm a durable timer.
    AddTimer(TimerKey, TimerTask),
    /// Disarm a timer that no longer applies.
    DeleteTimer(TimerKey),
    /// Publish the run's summary to the `visibility` log.
    Visibility(VisibilityRecord),
    /// Append a command for another workflow (or this one) to the
    /// `commands` log: workflows reach each other only this way, never by a
    /// write to another shard.
    SendCommand(CommandRecord),
    /// Delete the run: its mutable state, history and (if it still names the
    /// run) the current-run pointer. Its visibility record goes through the
    /// `visibility` log, as a [`Effect::Visibility`] marked deleted.
    DeleteRun(RunKey),
    /// Count what happened, for the metrics.
    Measure(Measurement),
}

/// Something the metrics count, observed by a transition and counted once
/// its commit is durable.
#[derive(Clone, Debug, PartialEq)]
pub enum Measurement {
    /// A run closed (completed, failed, continued as new, ...).
    WorkflowClosed { namespace_id: String, workflow_type: String, status: WorkflowExecutionStatus },
    /// A worker reported the end of an activity attempt it ran for
    /// `execution_nanos`; `failed` if it reported a failure.
    ActivityAttemptReported { namespace_id: String, activity_type: String, failed: bool, execution_nanos: i64 },
    /// An activity closed, for good.
    ActivityClosed { namespace_id: String, activity_type: String, end: ActivityEnd },
    /// Something a schedule did or could not do.
    Schedule { namespace_id: String, event: ScheduleEvent },
}

/// What a schedule's metrics count (Temporal's `schedule_*` metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleEvent {
    /// A start it sent began a workflow, `delay_nanos` after the time it was
    /// due (its jittered time, or the trigger or backfill asking for it).
    ActionSucceeded { delay_nanos: i64 },
    /// A due time fell outside the catchup window and was not run.
    MissedCatchupWindow,
    /// A due time was dropped because the buffer of starts was full.
    BufferOverrun,
}

/// How an activity closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityEnd {
    Completed,
    Failed,
    TimedOut,
    Canceled,
}

/// The output of applying one command or timer to one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transition {
    /// New history events, ids contiguous from the run's previous next event id.
    pub events: Vec<HistoryEvent>,
    pub effects: Vec<Effect>,
    /// The run that follows this one (continue-as-new, a retry, the next cron
    /// run), created as this one closed; committed with it.
    pub successor: Option<Box<NewRun>>,
}

impl Transition {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.effects.is_empty() && self.successor.is_none()
    }
}

/// A newly created run: its state and the transition that created it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub state: WorkflowMutableState,
    pub transition: Transition,
    /// The first workflow task, started already for the caller that asked
    /// for eager execution.
    pub eager_task: Option<commands::WorkflowTaskStarted>,
}

pub type Nanos = i64;

/// The moment and the settings a command is applied with.
#[derive(Clone, Copy, Debug)]
pub struct Clock<'a> {
    pub now: Nanos,
    pub config: &'a Config,
}
