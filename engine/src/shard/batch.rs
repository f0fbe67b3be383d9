//! One batch of a shard's work: the runs it touched, and everything their
//! transitions produced, until it is committed as one shard write.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::records::outbox_record::Record;
use temper_proto::records::{CurrentRun, OutboxRecord, ReplyTo, TimerTask, WorkflowMutableState};

use super::ShardContext;
use crate::notify::RunProgress;
use crate::replies::CommandResult;
use crate::state_machine::{Effect, Measurement, Transition};
use crate::store::{RunKey, ShardCommit, StoreResult, TimerKey, WorkflowKey};

#[derive(Default)]
pub(super) struct Batch {
    states: HashMap<RunKey, WorkflowMutableState>,
    dirty: Vec<RunKey>,
    dirty_set: HashSet<RunKey>,
    current_runs: HashMap<WorkflowKey, Option<String>>,
    changed_current_runs: Vec<WorkflowKey>,
    history: Vec<(RunKey, Vec<HistoryEvent>)>,
    history_index: HashMap<RunKey, usize>,
    /// Timer changes, the last one per key winning: `Some` arms, `None` disarms.
    timer_changes: HashMap<TimerKey, Option<TimerTask>>,
    pub outbox: Vec<OutboxRecord>,
    pub replies: Vec<(ReplyTo, CommandResult)>,
    runs_to_delete: Vec<RunKey>,
    measurements: Vec<Measurement>,
    /// The `engine.apply` span of the command being applied, if traced:
    /// parent of its store reads' spans, and stamped on the tasks, summaries
    /// and commands its transitions send, so the spans of matching,
    /// projections and other workflows join its trace.
    pub apply_span: Option<opentelemetry::Context>,
}

/// What the shard does once the batch is durable.
pub(super) struct Committed {
    pub replies: Vec<(ReplyTo, CommandResult)>,
    pub timers_added: Vec<(TimerKey, TimerTask)>,
    pub timers_deleted: Vec<TimerKey>,
    pub outbox: Vec<(i64, OutboxRecord)>,
    pub progress: Vec<(RunKey, RunProgress)>,
    pub states: Vec<(RunKey, Arc<WorkflowMutableState>)>,
    /// Runs the batch read but did not change; they go back to the cache.
    pub unchanged_states: Vec<(RunKey, WorkflowMutableState)>,
    pub current_runs: Vec<(WorkflowKey, String)>,
    pub measurements: Vec<Measurement>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.dirty.is_empty()
            && self.changed_current_runs.is_empty()
            && self.timer_changes.is_empty()
            && self.runs_to_delete.is_empty()
    }

    pub fn arm_timer(&mut self, key: TimerKey, task: TimerTask) {
        self.timer_changes.insert(key, Some(task));
    }

    pub fn disarm_timer(&mut self, key: TimerKey) {
        self.timer_changes.insert(key, None);
    }

    /// The workflow's current run id, loading it on first use.
    pub async fn current_run(&mut self, context: &ShardContext, workflow: &WorkflowKey) -> StoreResult<Option<String>> {
        if let Some(run_id) = self.current_runs.get(workflow) {
            return Ok(run_id.clone());
        }
        let cached = context.current_run_cache.get(workflow);
        crate::metrics::shards::cache_lookup(crate::metrics::shards::Cache::CurrentRun, cached.is_some());
        let run_id = match cached {
            Some(run_id) => Some(run_id),
            None => {
                let reading = self.store_read("store.get_current_run");
                let current = context.store.get_current_run(context.shard_id, workflow).await?;
                reading.finish();
                current.map(|c| c.run_id)
            }
        };
        self.current_runs.insert(workflow.clone(), run_id.clone());
        Ok(run_id)
    }

    /// A run's state for changing, loading it on first use.
    pub async fn state(&mut self, context: &ShardContext, run: &RunKey) -> StoreResult<Option<&mut WorkflowMutableState>> {
        if !self.states.contains_key(run) {
            let cached = context.state_cache.remove(run);
            crate::metrics::shards::cache_lookup(crate::metrics::shards::Cache::MutableState, cached.is_some());
            let loaded = match cached {
                Some(cached) => Some(Arc::unwrap_or_clone(cached)),
                None => {
                    let reading = self.store_read("store.get_execution");
                    let state = context.store.get_execution(context.shard_id, run).await?;
                    reading.finish();
                    state
                }
            };
            match loaded {
                Some(state) => {
                    self.states.insert(run.clone(), state);
                }
                None => return Ok(None),
            }
        }
        Ok(self.states.get_mut(run))
    }

    /// A store read on behalf of the traced command being applied, if any.
    fn store_read(&self, name: &'static str) -> StoreRead {
        StoreRead { parent: self.apply_span.clone(), name, started: std::time::SystemTime::now() }
    }

    pub fn insert_new_run(&mut self, run: RunKey, state: WorkflowMutableState) {
        let workflow = run.workflow();
        self.current_runs.insert(workflow.clone(), Some(run.run_id.clone()));
        self.changed_current_runs.push(workflow);
        self.states.insert(run.clone(), state);
        self.mark_dirty(&run);
    }

    pub fn mark_dirty(&mut self, run: &RunKey) {
        if self.dirty_set.insert(run.clone()) {
            self.dirty.push(run.clone());
        }
    }

    /// Takes in what a transition of `run` produced.
    pub fn record(&mut self, run: &RunKey, mut transition: Transition) {
        let successor = transition.successor.take();
        self.mark_dirty(run);
        if !transition.events.is_empty() {
            let index = *self.history_index.entry(run.clone()).or_insert_with(|| {
                self.history.push((run.clone(), Vec::new()));
                self.history.len() - 1
            });
            self.history[index].1.extend(transition.events);
        }
        let trace_context = self.apply_span.as_ref().map(crate::traces::carrier_of).unwrap_or_default();
        for effect in transition.effects {
            match effect {
                Effect::DispatchTask(mut task) => {
                    task.trace_context.clone_from(&trace_context);
                    self.outbox.push(OutboxRecord { record: Some(Record::Task(task)) })
                }
                Effect::Visibility(mut record) => {
                    record.trace_context.clone_from(&trace_context);
                    self.outbox.push(OutboxRecord { record: Some(Record::Visibility(record)) })
                }
                Effect::SendCommand(mut command) => {
                    command.trace_context.clone_from(&trace_context);
                    self.send(command)
                }
                Effect::AddTimer(key, task) => self.arm_timer(key, task),
                Effect::DeleteTimer(key) => self.disarm_timer(key),
                Effect::DeleteRun(deleted) => self.delete_run(deleted),
                Effect::Measure(measurement) => self.measurements.push(measurement),
            }
        }
        if let Some(successor) = successor {
            let successor_key = RunKey { run_id: successor_run_id(&successor.state), ..run.clone() };
            self.insert_new_run(successor_key.clone(), successor.state);
            self.record(&successor_key, successor.transition);
        }
    }

    /// Forgets what the batch holds of a run being deleted, so neither the
    /// commit nor the caches write it back; the commit deletes it.
    fn delete_run(&mut self, run: RunKey) {
        self.states.remove(&run);
        if self.dirty_set.remove(&run) {
            self.dirty.retain(|dirty| *dirty != run);
        }
        let workflow = run.workflow();
        if self.current_runs.get(&workflow).is_some_and(|current| current.as_deref() == Some(run.run_id.as_str())) {
            self.current_runs.insert(workflow, None);
        }
        self.runs_to_delete.push(run);
    }

    /// Drops the caches' entries of deleted runs; a failed commit only costs
    /// a reload.
    fn forget_deleted_runs(&self, context: &ShardContext) {
        for run in &self.runs_to_delete {
            context.state_cache.invalidate(run);
            let workflow = run.workflow();
            if context.current_run_cache.get(&workflow).is_some_and(|current| current == run.run_id) {
                context.current_run_cache.invalidate(&workflow);
            }
        }
    }

    /// Sends a command to a workflow through the outbox.
    pub fn send(&mut self, command: temper_proto::records::CommandRecord) {
        self.outbox.push(OutboxRecord { record: Some(Record::Command(command)) });
    }

    pub fn reply(&mut self, to: Option<ReplyTo>, result: CommandResult) {
        if let Some(to) = to {
            self.replies.push((to, result));
        }
    }

    /// Splits the batch into the store write and what follows it.
    pub fn into_commit(mut self, context: &ShardContext, epoch: i64, applied_offset: i64, next_outbox_seq: &mut i64) -> (ShardCommit, Committed) {
        self.forget_deleted_runs(context);
        let deleted: HashSet<&RunKey> = self.runs_to_delete.iter().collect();
        self.history.retain(|(run, _)| !deleted.contains(run));
        let mut timers_to_add = Vec::new();
        let mut timers_to_delete = Vec::new();
        for (key, change) in self.timer_changes {
            match change {
                Some(task) => timers_to_add.push((key, task)),
                None => timers_to_delete.push(key),
            }
        }
        let first_seq = *next_outbox_seq;
        *next_outbox_seq += self.outbox.len() as i64;
        let outbox: Vec<(i64, OutboxRecord)> = self.outbox.into_iter().enumerate().map(|(i, r)| (first_seq + i as i64, r)).collect();
        let states: Vec<(RunKey, Arc<WorkflowMutableState>)> = self
            .dirty
            .iter()
            .filter_map(|run| self.states.remove(run).map(|state| (run.clone(), Arc::new(state))))
            .collect();
        let progress = states.iter().map(|(run, state)| (run.clone(), RunProgress::of(state))).collect();
        let current_runs: Vec<(WorkflowKey, String)> = self
            .changed_current_runs
            .iter()
            .filter_map(|workflow| self.current_runs.get(workflow).cloned().flatten().map(|run_id| (workflow.clone(), run_id)))
            .collect();
        let commit = ShardCommit {
            shard_id: context.shard_id,
            epoch,
            applied_offset,
            next_outbox_seq: *next_outbox_seq,
            history: self.history,
            executions: states.clone(),
            current_runs: current_runs.iter().map(|(w, run_id)| (w.clone(), CurrentRun { run_id: run_id.clone() })).collect(),
            timers_to_add: timers_to_add.clone(),
            timers_to_delete: timers_to_delete.clone(),
            outbox: outbox.clone(),
            // Set by the shard, which knows what was published.
            outbox_to_delete: None,
            runs_to_delete: self.runs_to_delete,
        };
        let committed = Committed {
            replies: self.replies,
            timers_added: timers_to_add,
            timers_deleted: timers_to_delete,
            outbox,
            progress,
            states,
            unchanged_states: self.states.into_iter().collect(),
            current_runs,
            measurements: self.measurements,
        };
        (commit, committed)
    }
}

fn successor_run_id(state: &WorkflowMutableState) -> String {
    state.info.as_ref().map(|info| info.run_id.clone()).unwrap_or_default()
}

/// A store read's span, recorded once it answered (a failed read fails the
/// batch, whose spans go with it).
struct StoreRead {
    parent: Option<opentelemetry::Context>,
    name: &'static str,
    started: std::time::SystemTime,
}

impl StoreRead {
    fn finish(self) {
        if let Some(parent) = &self.parent {
            crate::traces::record_span(parent, self.name, self.started, std::time::SystemTime::now(), Vec::new());
        }
    }
}
