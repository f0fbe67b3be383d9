//! A shard processor: owns one shard, consumes its `commands` partition and
//! fires its timers, applying each to the pure state machine and committing
//! every batch as one shard write fenced by the ownership epoch.

mod batch;
mod outbox;
mod timer_queue;

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use temper_proto::records::command_record::Command;
use temper_proto::records::{CommandRecord, OutboxRecord, TimerTask, WorkflowMutableState};
use tokio::sync::{mpsc, watch};

use batch::{Batch, Committed};
use outbox::OutboxPublisher;
use timer_queue::{LOAD_LIMIT, LOOKAHEAD_NANOS, TimerQueue};

use crate::log::trimmer::LogTrimmer;
use crate::log::{Log, LogName, LogRecord};
use crate::notify::HistoryNotifier;
use crate::replies::ReplySink;
use crate::state_machine::commands::{self, Reply, Target};
use crate::state_machine::{Clock, CommandError, Config};
use crate::store::{RunKey, ShardId, Store, StoreError, WorkflowKey};
use crate::time::now_nanos;

/// Most commands applied in one batch (one commit).
const MAX_BATCH: usize = 512;
/// Pause before retrying after the store failed.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// What every shard processor shares.
pub struct ShardContext {
    pub shard_id: ShardId,
    pub log: Arc<dyn Log>,
    pub store: Arc<dyn Store>,
    pub replies: Arc<dyn ReplySink>,
    pub notifier: Arc<HistoryNotifier>,
    pub config: Arc<Config>,
    pub state_cache: moka::sync::Cache<RunKey, Arc<WorkflowMutableState>>,
    pub current_run_cache: moka::sync::Cache<WorkflowKey, String>,
}

pub(crate) struct ShardProcessor {
    context: ShardContext,
    epoch: i64,
    applied_offset: i64,
    next_outbox_seq: i64,
    timers: TimerQueue,
    outbox: mpsc::UnboundedSender<Vec<(i64, OutboxRecord)>>,
    commands_trimmer: LogTrimmer,
}


impl ShardProcessor {
    /// Takes ownership of the shard and runs until `shutdown` turns true or
    /// another owner fences it out.
    pub async fn run(context: ShardContext, mut shutdown: watch::Receiver<bool>) {
        let shard_id = context.shard_id;
        let info = loop {
            match context.store.acquire_shard(shard_id).await {
                Ok(info) => break info,
                Err(error) => {
                    tracing::error!(shard = shard_id, %error, "acquiring the shard failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        };
        let (outbox, records) = mpsc::unbounded_channel();
        let publisher = OutboxPublisher { shard_id, log: context.log.clone(), store: context.store.clone() };
        let publisher = tokio::spawn(publisher.run(records));
        let commands_trimmer = LogTrimmer::new(context.log.clone(), LogName::Commands, shard_id);
        let mut processor = ShardProcessor {
            commands_trimmer,
            context,
            epoch: info.epoch,
            applied_offset: info.applied_offset,
            next_outbox_seq: info.next_outbox_seq,
            timers: TimerQueue::default(),
            outbox,
        };
        tracing::info!(shard = shard_id, epoch = processor.epoch, applied_offset = processor.applied_offset, "shard acquired");
        processor.refill_timers().await;
        processor.process(&mut shutdown).await;
        drop(processor);
        let _ = publisher.await;
    }

    async fn process(&mut self, shutdown: &mut watch::Receiver<bool>) {
        let log = self.context.log.clone();
        let shard_id = self.context.shard_id;
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Due timers first: under a steady stream of commands the log
            // read below is always ready, and timers must not wait for a lull.
            let outcome = if self.timer_work_due() {
                self.process_timers().await
            } else {
                let sleep = Duration::from_nanos((self.next_timer_work() - now_nanos()).max(0) as u64);
                let from = (self.applied_offset + 1) as u64;
                tokio::select! {
                    _ = shutdown.changed() => return,
                    records = log.read(LogName::Commands, shard_id, from, MAX_BATCH) => match records {
                        Ok(records) => self.process_commands(records).await,
                        Err(error) => {
                            tracing::error!(shard = shard_id, %error, "reading commands failed; retrying");
                            tokio::time::sleep(RETRY_PAUSE).await;
                            Ok(())
                        }
                    },
                    _ = tokio::time::sleep(sleep) => Ok(()),
                }
            };
            if let Err(error) = outcome {
                if matches!(error, StoreError::ShardOwnershipLost { .. }) {
                    tracing::warn!(shard = shard_id, %error, "shard taken over by another owner; stopping");
                    return;
                }
                tracing::error!(shard = shard_id, %error, "applying a batch failed; it will be retried");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }

    /// When timers next need attention: the earliest one, or the refill of
    /// the in-memory window.
    fn next_timer_work(&self) -> i64 {
        let refill_at = self.timers.horizon().saturating_sub(LOOKAHEAD_NANOS / 4);
        self.timers.next_fire_time().map_or(refill_at, |fire| fire.min(refill_at))
    }

    fn timer_work_due(&self) -> bool {
        self.next_timer_work() <= now_nanos()
    }

    async fn refill_timers(&mut self) {
        let until = now_nanos() + LOOKAHEAD_NANOS;
        // Everything before the horizon is in memory already.
        let from = self.timers.horizon();
        match self.context.store.load_timers(self.context.shard_id, from, until, LOAD_LIMIT).await {
            Ok(loaded) => {
                let hit_limit = loaded.len() >= LOAD_LIMIT;
                self.timers.refill(loaded, until, hit_limit);
            }
            Err(error) => tracing::error!(shard = self.context.shard_id, %error, "loading timers failed"),
        }
    }

    async fn process_timers(&mut self) -> Result<(), StoreError> {
        let now = now_nanos();
        if self.timers.horizon().saturating_sub(LOOKAHEAD_NANOS / 4) <= now {
            self.refill_timers().await;
        }
        let due = self.timers.take_due(now, MAX_BATCH);
        if due.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::default();
        for (key, task) in &due {
            // Disarmed first: should the transition arm the same key again, that wins.
            batch.disarm_timer(key.clone());
            self.fire_timer(&mut batch, task, now).await?;
        }
        let result = self.commit(batch, self.applied_offset).await;
        if result.is_err() {
            // Not fired after all: they stay due.
            for (key, task) in due {
                self.timers.add(key, task);
            }
        }
        result
    }

    async fn fire_timer(&self, batch: &mut Batch, task: &TimerTask, now: i64) -> Result<(), StoreError> {
        let run = RunKey { namespace_id: task.namespace_id.clone(), workflow_id: task.workflow_id.clone(), run_id: task.run_id.clone() };
        let Some(state) = batch.state(&self.context, &run).await? else { return Ok(()) };
        let transition = commands::fire_timer(state, task, Clock { now, config: &self.context.config });
        if !transition.is_empty() {
            batch.record(&run, transition);
        }
        Ok(())
    }

    async fn process_commands(&mut self, records: Vec<LogRecord>) -> Result<(), StoreError> {
        // A log may hand out records again (a consumer resuming from an older
        // position); what is at or below the applied offset was applied.
        let applied = self.applied_offset;
        let records: Vec<LogRecord> = records.into_iter().filter(|record| record.offset as i64 > applied).collect();
        let Some(last) = records.last() else { return Ok(()) };
        let last_offset = last.offset as i64;
        let now = now_nanos();
        let mut batch = Batch::default();
        for record in &records {
            match CommandRecord::decode(record.payload.as_ref()) {
                Ok(command) => self.apply_command(&mut batch, command, now).await?,
                Err(error) => {
                    tracing::error!(shard = self.context.shard_id, offset = record.offset, %error, "skipping an undecodable command")
                }
            }
        }
        self.commit(batch, last_offset).await
    }

    async fn apply_command(&self, batch: &mut Batch, record: CommandRecord, now: i64) -> Result<(), StoreError> {
        let reply_to = record.reply_to;
        let Some(command) = record.command else {
            batch.reply(reply_to, Err(CommandError::InvalidArgument("the command record carries no command".into())));
            return Ok(());
        };
        let workflow = WorkflowKey { namespace_id: record.namespace_id, workflow_id: record.workflow_id };
        let result = match &command {
            Command::StartWorkflow(_) | Command::SignalWithStartWorkflow(_) => {
                self.apply_start(batch, &workflow, &command, now).await?
            }
            _ => self.apply_to_existing_run(batch, &workflow, &command, now).await?,
        };
        batch.reply(reply_to, result);
        Ok(())
    }

    async fn apply_start(
        &self,
        batch: &mut Batch,
        workflow: &WorkflowKey,
        command: &Command,
        now: i64,
    ) -> Result<Result<Reply, CommandError>, StoreError> {
        let clock = Clock { now, config: &self.context.config };
        let current_run = batch.current_run(&self.context, workflow).await?;
        let current_key = current_run.map(|run_id| run_key(workflow, run_id));
        let current_state = match &current_key {
            Some(key) => batch.state(&self.context, key).await?,
            None => None,
        };
        let outcome = match command {
            Command::StartWorkflow(start) => commands::start_workflow(&workflow.namespace_id, current_state, start, clock),
            Command::SignalWithStartWorkflow(start) => {
                commands::signal_with_start_workflow(&workflow.namespace_id, current_state, start, clock)
            }
            _ => unreachable!("only start commands come here"),
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => return Ok(Err(error)),
        };
        if let (Some(key), Some(transition)) = (&current_key, outcome.previous_run) {
            batch.record(key, transition);
        }
        if let Some(new_run) = outcome.new_run {
            let Reply::Started { run_id, .. } = &outcome.reply else { unreachable!("a new run is answered with its id") };
            let key = run_key(workflow, run_id.clone());
            batch.insert_new_run(key.clone(), new_run.state);
            batch.record(&key, new_run.transition);
        }
        Ok(Ok(outcome.reply))
    }

    async fn apply_to_existing_run(
        &self,
        batch: &mut Batch,
        workflow: &WorkflowKey,
        command: &Command,
        now: i64,
    ) -> Result<Result<Reply, CommandError>, StoreError> {
        let run_id = match commands::target_of(command) {
            Target::Run(run_id) => Some(run_id),
            Target::CurrentRun => batch.current_run(&self.context, workflow).await?,
        };
        let not_found = || CommandError::WorkflowNotFound {
            workflow_id: workflow.workflow_id.clone(),
            run_id: match commands::target_of(command) {
                Target::Run(run_id) => run_id,
                Target::CurrentRun => String::new(),
            },
        };
        let Some(run_id) = run_id else { return Ok(Err(not_found())) };
        let key = run_key(workflow, run_id);
        let Some(state) = batch.state(&self.context, &key).await? else { return Ok(Err(not_found())) };
        match commands::apply_to_run(state, command, Clock { now, config: &self.context.config }) {
            Ok(applied) => {
                batch.record(&key, applied.transition);
                Ok(applied.reply)
            }
            Err(error) => Ok(Err(error)),
        }
    }

    /// Commits a batch; once durable, answers its requests and hands its
    /// effects on. On failure nothing it did is kept and nobody is answered
    /// yet: the same records are applied again.
    async fn commit(&mut self, batch: Batch, applied_offset: i64) -> Result<(), StoreError> {
        let advances = applied_offset != self.applied_offset;
        if batch.is_empty() && batch.replies.is_empty() && !advances {
            return Ok(());
        }
        let mut next_outbox_seq = self.next_outbox_seq;
        let (commit, committed) = batch.into_commit(&self.context, self.epoch, applied_offset, &mut next_outbox_seq);
        if let Err(error) = self.context.store.commit(commit).await {
            self.reply_unavailable(committed, &error);
            return Err(error);
        }
        self.applied_offset = applied_offset;
        self.next_outbox_seq = next_outbox_seq;
        // The applied offset is durable now: what lies at or below it is done with.
        self.commands_trimmer.consumed_before(u64::try_from(applied_offset + 1).unwrap_or_default());
        self.after_commit(committed);
        Ok(())
    }

    fn reply_unavailable(&self, committed: Committed, error: &StoreError) {
        for (to, _) in committed.replies {
            self.context.replies.deliver(&to, Err(CommandError::Unavailable(format!("the engine could not commit: {error}"))));
        }
        // The cache no longer matches the store; reload on next use.
        for (run, _) in committed.states.iter().chain(committed.unchanged_states.iter()) {
            self.context.state_cache.invalidate(run);
        }
    }

    fn after_commit(&mut self, committed: Committed) {
        for (key, task) in committed.timers_added {
            self.timers.add(key, task);
        }
        for key in &committed.timers_deleted {
            self.timers.remove(key);
        }
        if !committed.outbox.is_empty() {
            let _ = self.outbox.send(committed.outbox);
        }
        for (workflow, run_id) in committed.current_runs {
            self.context.current_run_cache.insert(workflow, run_id);
        }
        for (run, state) in committed.states.into_iter().chain(committed.unchanged_states) {
            self.context.state_cache.insert(run, Arc::new(state));
        }
        for (run, progress) in committed.progress {
            self.context.notifier.publish(&run, progress);
        }
        for (to, result) in committed.replies {
            self.context.replies.deliver(&to, result);
        }
    }
}

fn run_key(workflow: &WorkflowKey, run_id: String) -> RunKey {
    RunKey { namespace_id: workflow.namespace_id.clone(), workflow_id: workflow.workflow_id.clone(), run_id }
}
