//! Plays the shard processor for one workflow id: keeps its runs' states and
//! histories and the shard's armed timers, applies each step through the
//! state machine's entry points, and checks the invariants after each.

use std::collections::{BTreeMap, BTreeSet};

use temper_engine::state_machine::commands::{
    self, Applied, StartOutcome, Target, apply_to_run, fire_timer, signal_with_start_workflow, start_workflow,
};
use temper_engine::state_machine::{Clock, CommandError, Config, Effect, Transition, timer_key, timers_of_run};
use temper_engine::store::TimerKey;
use temper_proto::api::command::v1::command::Attributes as CommandAttributes;
use temper_proto::api::command::v1::{Command as WorkflowCommand, RequestCancelActivityTaskCommandAttributes};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::CommandType;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest;
use temper_proto::records::command_record::Command;
use temper_proto::records::*;
use temper_engine::time::timestamp_nanos;

use super::generators::{Aim, RunPick, Step, WorkflowTaskCommand};
use super::history_checks::check_history;

const NAMESPACE_ID: &str = "fuzz-namespace";
const UNKNOWN_RUN_ID: &str = "no-such-run";

struct Run {
    state: WorkflowMutableState,
    history: Vec<HistoryEvent>,
}

impl Run {
    fn id(&self) -> &str {
        &self.state.info.as_ref().expect("a run has execution info").run_id
    }
}

pub struct Simulation {
    config: Config,
    now: i64,
    workflow_id: String,
    /// Oldest first; the last is the workflow's current run.
    runs: Vec<Run>,
    armed: BTreeMap<TimerKey, TimerTask>,
    fired: Vec<TimerTask>,
}

/// A violated invariant, described for the failure report.
pub type Violation = String;

impl Simulation {
    pub fn new(workflow_id: String, now: i64) -> Self {
        // A small payload limit reaches the oversized-payload paths with small inputs.
        let config = Config { max_payload_bytes: 4_096, ..Config::default() };
        Simulation { config, now, workflow_id, runs: Vec::new(), armed: BTreeMap::new(), fired: Vec::new() }
    }

    pub fn apply(&mut self, step: &Step) -> Result<(), Violation> {
        match step {
            Step::Start(request) => {
                let mut request = request.clone();
                request.workflow_id = self.workflow_id.clone();
                let command = StartWorkflow { request: Some(request), run_id: self.next_run_id(), ..Default::default() };
                self.start(|namespace, current, clock| start_workflow(namespace, current, &command, clock))?
            }
            Step::SignalWithStart(request) => {
                let mut request = request.clone();
                request.workflow_id = self.workflow_id.clone();
                let command = SignalWithStartWorkflow { request: Some(request), run_id: self.next_run_id(), ..Default::default() };
                self.start(|namespace, current, clock| signal_with_start_workflow(namespace, current, &command, clock))?
            }
            Step::FireTimer { timer, lateness } => self.fire_armed_timer(timer.index(self.armed.len().max(1)), *lateness)?,
            Step::FireStaleTimer { timer } => self.fire_stale_timer(timer.index(self.fired.len().max(1)))?,
            Step::AdvanceClock { by } => self.now = self.now.saturating_add(*by),
            Step::AfterPoll(answer) => {
                if let Some(poll) = self.poll_for(answer) {
                    self.apply(&poll)?;
                }
                self.apply(answer)?;
            }
            _ => {
                if let Some(command) = self.command_of(step) {
                    self.apply_to_target(&command)?;
                }
            }
        }
        self.check_armed_timers()
    }

    fn next_run_id(&self) -> String {
        format!("run-{}", self.runs.len() + 1)
    }

    /// A start or signal-with-start, against the current run if there is one.
    fn start(
        &mut self,
        apply: impl FnOnce(&str, Option<&mut WorkflowMutableState>, Clock<'_>) -> Result<StartOutcome, CommandError>,
    ) -> Result<(), Violation> {
        let config = self.config.clone();
        let clock = Clock { now: self.now, config: &config };
        let before = self.runs.last().map(|run| run.state.clone());
        let outcome = apply(NAMESPACE_ID, self.runs.last_mut().map(|run| &mut run.state), clock);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => return self.require_unchanged(before.as_ref(), self.runs.last().map(|run| &run.state), &error),
        };
        if let Some(transition) = outcome.previous_run {
            let current = self.runs.len() - 1;
            self.absorb(current, transition)?;
        }
        if let Some(new_run) = outcome.new_run {
            self.runs.push(Run { state: new_run.state, history: Vec::new() });
            self.absorb(self.runs.len() - 1, new_run.transition)?;
        }
        Ok(())
    }

    /// Applies a command to the run it addresses, as the shard does.
    fn apply_to_target(&mut self, command: &Command) -> Result<(), Violation> {
        let index = match commands::target_of(command) {
            Target::CurrentRun => self.runs.len().checked_sub(1),
            Target::Run(run_id) => self.runs.iter().position(|run| run.id() == run_id),
        };
        let Some(index) = index else { return Ok(()) };
        let config = self.config.clone();
        let clock = Clock { now: self.now, config: &config };
        let before = self.runs[index].state.clone();
        match apply_to_run(&mut self.runs[index].state, command, None, clock) {
            Ok(Applied { transition, .. }) => self.absorb(index, transition),
            Err(error) => self.require_unchanged(Some(&before), Some(&self.runs[index].state), &error),
        }
    }

    fn require_unchanged(
        &self,
        before: Option<&WorkflowMutableState>,
        after: Option<&WorkflowMutableState>,
        error: &CommandError,
    ) -> Result<(), Violation> {
        // Debug output tells NaN (a retry policy may carry one) equal to itself.
        let unchanged = before == after || format!("{before:?}") == format!("{after:?}");
        if unchanged { Ok(()) } else { Err(format!("a refused command ({error}) changed the state")) }
    }

    fn fire_armed_timer(&mut self, pick: usize, lateness: i64) -> Result<(), Violation> {
        let Some(key) = self.armed.keys().nth(pick).cloned() else { return Ok(()) };
        let task = self.armed.remove(&key).expect("picked from the armed timers");
        self.now = self.now.max(key.fire_time_nanos).saturating_add(lateness);
        self.fired.push(task.clone());
        self.fire(&task)
    }

    fn fire_stale_timer(&mut self, pick: usize) -> Result<(), Violation> {
        let Some(task) = self.fired.get(pick).cloned() else { return Ok(()) };
        let fire_time = task.fire_time.as_ref().map(timestamp_nanos).unwrap_or_default();
        self.now = self.now.max(fire_time);
        self.fire(&task)
    }

    fn fire(&mut self, task: &TimerTask) -> Result<(), Violation> {
        let Some(index) = self.runs.iter().position(|run| run.id() == task.run_id) else { return Ok(()) };
        let config = self.config.clone();
        let clock = Clock { now: self.now, config: &config };
        let transition = fire_timer(&mut self.runs[index].state, task, clock);
        self.absorb(index, transition)
    }

    /// Takes a transition in as the shard's commit would, then checks the run.
    fn absorb(&mut self, index: usize, transition: Transition) -> Result<(), Violation> {
        for effect in transition.effects {
            match effect {
                Effect::AddTimer(key, task) => {
                    self.armed.insert(key, task);
                }
                Effect::DeleteTimer(key) => {
                    self.armed.remove(&key);
                }
                // Other workflows (children, signal targets) are not simulated.
                Effect::DispatchTask(_) | Effect::Visibility(_) | Effect::SendCommand(_) | Effect::Measure(_) => {}
                // The simulated namespace keeps runs for ever (retention is
                // covered by the state machine's unit tests).
                Effect::DeleteRun(run) => return Err(format!("run {} was deleted though its namespace keeps runs", run.run_id)),
            }
        }
        let run = &mut self.runs[index];
        run.history.extend(transition.events);
        check_history(&run.history).map_err(|problem| format!("run {}: {problem}", run.id()))?;
        let next_event_id = run.state.info.as_ref().map(|info| info.next_event_id).unwrap_or_default();
        if next_event_id != run.history.len() as i64 + 1 {
            return Err(format!("run {}: next event id {next_event_id} after {} events", run.id(), run.history.len()));
        }
        Ok(())
    }

    /// The shard's armed timers are exactly those its runs' states call for:
    /// a timer the state needs but nobody armed would never fire.
    fn check_armed_timers(&self) -> Result<(), Violation> {
        for run in &self.runs {
            let wanted: BTreeSet<TimerKey> = timers_of_run(&run.state).iter().map(timer_key).collect();
            let armed: BTreeSet<TimerKey> =
                self.armed.iter().filter(|(_, task)| task.run_id == run.id()).map(|(key, _)| key.clone()).collect();
            if wanted != armed {
                return Err(format!("run {}: armed timers {armed:?}, but the state calls for {wanted:?}", run.id()));
            }
        }
        Ok(())
    }

    /// The command a step sends, with its run, tokens and event ids resolved
    /// against the run it addresses; `None` when the workflow has no run yet.
    fn command_of(&self, step: &Step) -> Option<Command> {
        let command = match step {
            Step::Signal { run, request } => {
                let mut request = request.clone();
                request.workflow_execution = Some(self.execution(run));
                Command::SignalWorkflow(SignalWorkflow { request: Some(request) })
            }
            Step::RequestCancel { run, request } => {
                let mut request = request.clone();
                request.workflow_execution = Some(self.execution(run));
                Command::RequestCancelWorkflow(RequestCancelWorkflow { request: Some(request) })
            }
            Step::Terminate { run, request } => {
                let mut request = request.clone();
                request.workflow_execution = Some(self.execution(run));
                Command::TerminateWorkflow(TerminateWorkflow { request: Some(request) })
            }
            Step::RecordWorkflowTaskStarted { run, aim, request_id } => {
                let token = self.workflow_token(run, aim).unwrap_or_default();
                Command::RecordWorkflowTaskStarted(RecordWorkflowTaskStarted {
                    run_id: self.run_id(run),
                    scheduled_event_id: token.scheduled_event_id,
                    request_id: request_id.clone(),
                    identity: "worker".into(),
                    task_queue: None,
                })
            }
            Step::RecordActivityTaskStarted { run, activity, aim, request_id } => {
                let token = self.activity_token(run, activity.index(usize::MAX), aim).unwrap_or_default();
                Command::RecordActivityTaskStarted(RecordActivityTaskStarted {
                    run_id: self.run_id(run),
                    scheduled_event_id: token.scheduled_event_id,
                    attempt: token.attempt,
                    request_id: request_id.clone(),
                    identity: "worker".into(),
                })
            }
            Step::CompleteWorkflowTask { run, aim, commands, request } => {
                Command::CompleteWorkflowTask(CompleteWorkflowTask {
                    token: self.workflow_token(run, aim),
                    request: Some(self.completion(run, commands, request)),
                    search_attribute_types: None,
                })
            }
            Step::FailWorkflowTask { run, aim, request } => {
                Command::FailWorkflowTask(FailWorkflowTask { token: self.workflow_token(run, aim), request: Some(request.clone()) })
            }
            Step::CompleteActivity { run, activity, aim, result } => Command::CompleteActivityTask(CompleteActivityTask {
                token: self.activity_token(run, activity.index(usize::MAX), aim),
                result: result.clone(),
                identity: "worker".into(),
            }),
            Step::FailActivity { run, activity, aim, request } => Command::FailActivityTask(FailActivityTask {
                token: self.activity_token(run, activity.index(usize::MAX), aim),
                request: Some(request.clone()),
            }),
            Step::CancelActivity { run, activity, aim, details } => Command::CancelActivityTask(CancelActivityTask {
                token: self.activity_token(run, activity.index(usize::MAX), aim),
                details: details.clone(),
                identity: "worker".into(),
            }),
            Step::Heartbeat { run, activity, aim, details } => Command::RecordActivityTaskHeartbeat(RecordActivityTaskHeartbeat {
                token: self.activity_token(run, activity.index(usize::MAX), aim),
                details: details.clone(),
                identity: "worker".into(),
            }),
            Step::ResetStickyTaskQueue { run } => {
                Command::ResetStickyTaskQueue(ResetStickyTaskQueue { run_id: self.run_id(run) })
            }
            Step::Start(_)
            | Step::SignalWithStart(_)
            | Step::FireTimer { .. }
            | Step::FireStaleTimer { .. }
            | Step::AdvanceClock { .. }
            | Step::AfterPoll(_) => unreachable!("not a command to a run: {step:?}"),
        };
        (!self.runs.is_empty()).then_some(command)
    }

    /// The poll that hands out the task an answer is for.
    fn poll_for(&self, answer: &Step) -> Option<Step> {
        let request_id = "poll".to_string();
        match answer {
            Step::CompleteWorkflowTask { run, .. } | Step::FailWorkflowTask { run, .. } => {
                Some(Step::RecordWorkflowTaskStarted { run: run.clone(), aim: Aim::Right, request_id })
            }
            Step::CompleteActivity { run, activity, .. }
            | Step::FailActivity { run, activity, .. }
            | Step::CancelActivity { run, activity, .. }
            | Step::Heartbeat { run, activity, .. } => {
                Some(Step::RecordActivityTaskStarted { run: run.clone(), activity: *activity, aim: Aim::Right, request_id })
            }
            _ => None,
        }
    }

    fn run_id(&self, pick: &RunPick) -> String {
        match pick {
            RunPick::Current => String::new(),
            RunPick::Existing(index) if !self.runs.is_empty() => self.runs[index.index(self.runs.len())].id().to_string(),
            RunPick::Existing(_) | RunPick::Unknown => UNKNOWN_RUN_ID.to_string(),
        }
    }

    fn execution(&self, pick: &RunPick) -> WorkflowExecution {
        WorkflowExecution { workflow_id: self.workflow_id.clone(), run_id: self.run_id(pick) }
    }

    /// The run a pick resolves to, for reading what it handed out.
    fn picked_state(&self, pick: &RunPick) -> Option<&WorkflowMutableState> {
        match pick {
            RunPick::Current => self.runs.last().map(|run| &run.state),
            RunPick::Existing(index) if !self.runs.is_empty() => Some(&self.runs[index.index(self.runs.len())].state),
            RunPick::Existing(_) | RunPick::Unknown => None,
        }
    }

    fn token(&self, pick: &RunPick, kind: TaskKind) -> TaskToken {
        TaskToken {
            namespace_id: NAMESPACE_ID.into(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id(pick),
            kind: kind as i32,
            ..Default::default()
        }
    }

    /// The token of the run's workflow task, as aimed.
    fn workflow_token(&self, pick: &RunPick, aim: &Aim) -> Option<TaskToken> {
        let mut token = self.token(pick, TaskKind::Workflow);
        if let Some(task) = self.picked_state(pick).and_then(|state| state.workflow_task.as_ref()) {
            token.scheduled_event_id = task.scheduled_event_id;
            token.started_event_id = task.started_event_id;
            token.attempt = task.attempt;
        }
        match aim {
            Aim::Right => {}
            Aim::Off { field: 0, by } => token.scheduled_event_id = token.scheduled_event_id.wrapping_add(*by),
            Aim::Off { field: 1, by } => token.started_event_id = token.started_event_id.wrapping_add(*by),
            Aim::Off { by, .. } => token.attempt = token.attempt.wrapping_add(*by as i32 | 1),
            Aim::Missing => return None,
        }
        Some(token)
    }

    /// The token of one of the run's pending activities (the `pick`-th, in
    /// scheduled order), as aimed.
    fn activity_token(&self, run: &RunPick, pick: usize, aim: &Aim) -> Option<TaskToken> {
        let mut token = self.token(run, TaskKind::Activity);
        let activities = self.picked_state(run).map(|state| &state.activities);
        if let Some(activity) = activities.filter(|a| !a.is_empty()).and_then(|a| a.values().nth(pick % a.len())) {
            token.scheduled_event_id = activity.scheduled_event_id;
            token.attempt = activity.attempt;
            token.started_time_nanos = activity.started_time.as_ref().map(timestamp_nanos).unwrap_or_default();
        }
        match aim {
            Aim::Right => {}
            Aim::Off { field: 0, by } => token.scheduled_event_id = token.scheduled_event_id.wrapping_add(*by),
            Aim::Off { field: 1, by } => token.attempt = token.attempt.wrapping_add(*by as i32 | 1),
            Aim::Off { by, .. } => token.started_time_nanos = token.started_time_nanos.wrapping_add(*by),
            Aim::Missing => return None,
        }
        Some(token)
    }

    fn completion(
        &self,
        run: &RunPick,
        commands: &[WorkflowTaskCommand],
        request: &RespondWorkflowTaskCompletedRequest,
    ) -> RespondWorkflowTaskCompletedRequest {
        let commands = commands.iter().map(|command| self.workflow_command(run, command)).collect();
        RespondWorkflowTaskCompletedRequest { commands, ..request.clone() }
    }

    fn workflow_command(&self, run: &RunPick, command: &WorkflowTaskCommand) -> WorkflowCommand {
        match command {
            WorkflowTaskCommand::Ready(command) => command.clone(),
            WorkflowTaskCommand::RequestCancelActivity { activity, aim } => {
                let scheduled_event_id = self
                    .activity_token(run, activity.index(usize::MAX), aim)
                    .map(|token| token.scheduled_event_id)
                    .unwrap_or_default();
                WorkflowCommand {
                    command_type: CommandType::RequestCancelActivityTask as i32,
                    attributes: Some(CommandAttributes::RequestCancelActivityTaskCommandAttributes(
                        RequestCancelActivityTaskCommandAttributes { scheduled_event_id },
                    )),
                    ..Default::default()
                }
            }
        }
    }
}
