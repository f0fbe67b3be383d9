//! A shard processor: owns one shard, consumes its `commands` partition and
//! fires its timers, applying each to the pure state machine and committing
//! every batch as one shard write fenced by the ownership epoch.

mod backoff;
mod batch;
mod outbox;
pub(crate) mod ownership;
mod timer_queue;
mod unknown_commit;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use prost::Message;
use temper_proto::records::command_record::Command;
use temper_proto::records::outbox_record::Record;
use temper_proto::records::ReplyTo;
use temper_proto::records::{CommandRecord, OutboxRecord, ShardInfo, TimerTask, WorkflowMutableState};
use tokio::sync::{mpsc, watch};

use backoff::Backoff;
use batch::{Batch, Committed};
use outbox::{OutboxPublisher, PublishedOutbox};
use ownership::Ownership;
use timer_queue::{LOAD_LIMIT, LOOKAHEAD_NANOS, TimerQueue};
use unknown_commit::UnknownCommit;

use crate::health::ShardHealth;
use crate::log::trimmer::LogTrimmer;
use crate::log::{Log, LogName, LogRecord};
use crate::metrics;
use crate::traces;
use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use crate::metrics::outcomes::OutcomeMetrics;
use crate::metrics::shards::{HeldShards, ShardProgress};
use crate::notify::{HistoryNotifier, RunProgress};
use crate::replies::{CommandResult, ReplySink};
use temper_proto::records::ExecutionInfo;
use temper_proto::api::history::v1::HistoryEvent;
use crate::state_machine::commands::{self, Reply, Target};
use crate::state_machine::{Clock, CommandError, Config};
use crate::partitioning::shard_of;
use crate::store::{RunKey, ShardId, Store, StoreError, TimerKey, WorkflowKey};
use crate::time::now_nanos;

/// Most commands applied in one batch (one commit).
const MAX_BATCH: usize = 512;
/// How long a stopping shard waits for its outbox publisher.
const PUBLISHER_GRACE: Duration = Duration::from_secs(5);
/// Pause before reading the log again after it failed.
const LOG_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// What every shard processor shares.
#[derive(Clone)]
pub struct ShardContext {
    pub shard_id: ShardId,
    pub log: Arc<dyn Log>,
    pub store: Arc<dyn Store>,
    pub replies: Arc<dyn ReplySink>,
    pub notifier: Arc<HistoryNotifier>,
    pub config: Arc<Config>,
    pub state_cache: moka::sync::Cache<RunKey, Arc<WorkflowMutableState>>,
    pub current_run_cache: moka::sync::Cache<WorkflowKey, String>,
    pub health: Arc<ShardHealth>,
    /// How the shard is taken and given up, shared by the engine's shards.
    pub ownership: Arc<Ownership>,
    pub metrics: EngineMetrics,
}

/// Where the engine's shards report what the metrics count.
#[derive(Clone)]
pub struct EngineMetrics {
    pub outcomes: OutcomeMetrics,
    pub held: HeldShards,
}

pub(crate) struct ShardProcessor {
    context: ShardContext,
    epoch: i64,
    applied_offset: i64,
    next_outbox_seq: i64,
    timers: TimerQueue,
    outbox: mpsc::UnboundedSender<Vec<(i64, OutboxRecord)>>,
    published_outbox: Arc<PublishedOutbox>,
    /// How far the outbox publisher appended; see `release_outcomes`.
    outbox_appended: watch::Receiver<i64>,
    commands_trimmer: LogTrimmer,
    /// Set when a commit failed without telling whether it landed.
    unknown_commit: Option<UnknownCommit>,
    /// When the shard was last known to be held (taken, or committed to).
    held_at: Instant,
    progress: Arc<ShardProgress>,
}

/// Why a processor stopped.
enum Ended {
    /// Shut down.
    Stopped,
    /// Fenced out by another owner.
    Fenced,
    /// A commit may or may not have landed: the shard must be taken again
    /// to settle it (see `unknown_commit`).
    OutcomeUnknown(UnknownCommit),
}

impl ShardProcessor {
    /// Takes ownership of the shard and runs until `shutdown` turns true or
    /// another owner fences it out (a leased shard is then taken again once
    /// free: it stays assigned here until the coordinator stops it). A
    /// commit whose outcome is unknown makes it take the shard again, settle
    /// that commit, and go on from the applied offset the store holds.
    pub async fn run(context: ShardContext, mut shutdown: watch::Receiver<bool>) {
        let mut unsettled: Option<UnknownCommit> = None;
        let ownership = context.ownership.clone();
        while let Some(info) = ownership.take(&context, &mut shutdown).await {
            forget_cached_states(&context);
            if let Some(commit) = unsettled.take() {
                commit.settle(&context, &info).await;
            }
            context.replies.shard_acquired(context.shard_id, info.applied_offset);
            match Self::serve(context.clone(), info, &mut shutdown).await {
                Ended::Stopped => return,
                Ended::Fenced if ownership.retakes_after_loss() => {}
                Ended::Fenced => return,
                Ended::OutcomeUnknown(commit) => unsettled = Some(commit),
            }
        }
    }

    /// Processes the shard as `info` took it, with an outbox publisher of its own.
    async fn serve(context: ShardContext, info: ShardInfo, shutdown: &mut watch::Receiver<bool>) -> Ended {
        let shard_id = context.shard_id;
        let (outbox, records) = mpsc::unbounded_channel();
        let published_outbox = Arc::new(PublishedOutbox::default());
        let (appended_through, outbox_appended) = watch::channel(info.next_outbox_seq - 1);
        let publisher =
            OutboxPublisher {
                shard_id,
                leftovers_before: info.next_outbox_seq,
                log: context.log.clone(),
                store: context.store.clone(),
                published: published_outbox.clone(),
                appended_through,
            };
        let publisher = tokio::spawn(publisher.run(records));
        let commands_trimmer = LogTrimmer::new(context.log.clone(), LogName::Commands, shard_id);
        let progress = Arc::new(ShardProgress::new(info.applied_offset, info.next_outbox_seq, outbox_appended.clone()));
        context.metrics.held.held(shard_id, progress.clone());
        let mut processor = ShardProcessor {
            commands_trimmer,
            context: context.clone(),
            epoch: info.epoch,
            applied_offset: info.applied_offset,
            next_outbox_seq: info.next_outbox_seq,
            timers: TimerQueue::default(),
            outbox,
            published_outbox,
            outbox_appended,
            unknown_commit: None,
            held_at: Instant::now(),
            progress,
        };
        tracing::info!(shard = shard_id, epoch = processor.epoch, applied_offset = processor.applied_offset, "shard acquired");
        processor.refill_timers().await;
        let ended = processor.process(shutdown).await;
        drop(processor);
        // The publisher finishes what it was handed, unless the log or the
        // store is down and it would retry forever: what it leaves stays in
        // the outbox (only a commit deletes published records), and the
        // shard's next owner publishes it.
        let mut publisher = publisher;
        if tokio::time::timeout(PUBLISHER_GRACE, &mut publisher).await.is_err() {
            publisher.abort();
            let _ = publisher.await;
        }
        if matches!(ended, Ended::Stopped) {
            context.ownership.release(&context, info.epoch).await;
        }
        context.ownership.let_go(shard_id);
        context.metrics.held.let_go(shard_id);
        ended
    }

    async fn process(&mut self, shutdown: &mut watch::Receiver<bool>) -> Ended {
        let log = self.context.log.clone();
        let shard_id = self.context.shard_id;
        // Timers and commands take turns, a batch each, while both have work:
        // under a steady stream of commands the log read is always ready and
        // timers must not wait for a lull, and thousands of timers due at
        // once must not hold up the commands either.
        let mut timers_went_last = false;
        let mut backoff = Backoff::default();
        loop {
            if *shutdown.borrow() {
                return Ended::Stopped;
            }
            if let Some(ended) = self.check_still_held().await {
                return ended;
            }
            let timers_due = self.timer_work_due();
            let outcome = if timers_due && !timers_went_last {
                timers_went_last = true;
                self.process_timers().await
            } else {
                timers_went_last = false;
                let sleep = Duration::from_nanos(self.next_timer_work().saturating_sub(now_nanos()).max(0) as u64)
                    .min(self.until_holding_check());
                let from = (self.applied_offset + 1) as u64;
                tokio::select! {
                    // Commands first when they are ready: the sleep is zero
                    // when timers are due.
                    biased;
                    _ = shutdown.changed() => return Ended::Stopped,
                    records = log.read(LogName::Commands, shard_id, from, MAX_BATCH) => match records {
                        Ok(records) => self.process_commands(records).await,
                        Err(error) => {
                            tracing::error!(shard = shard_id, %error, "reading commands failed; retrying");
                            tokio::time::sleep(LOG_RETRY_PAUSE).await;
                            Ok(())
                        }
                    },
                    _ = tokio::time::sleep(sleep) => Ok(()),
                }
            };
            match outcome {
                Ok(()) => {
                    // Work that failed went through. It may not have needed
                    // the store again (a retried batch can turn out empty),
                    // and the gateway refuses this shard's commands until
                    // it hears the shard recovered.
                    if backoff.reset() {
                        self.context.health.set_available(shard_id);
                    }
                }
                Err(error) => {
                    if let Some(ended) = self.ended_by(&error) {
                        return ended;
                    }
                    tokio::time::sleep(backoff.pause()).await;
                }
            }
        }
    }

    /// When leased and idle past the proof interval: reads the shard row to
    /// learn whether another engine took the shard meanwhile.
    async fn check_still_held(&mut self) -> Option<Ended> {
        let interval = self.context.ownership.proof_interval()?;
        if self.held_at.elapsed() < interval {
            return None;
        }
        match self.context.ownership.still_holds(&self.context, self.epoch).await {
            Ok(true) => self.held_at = Instant::now(),
            Ok(false) => {
                tracing::warn!(shard = self.context.shard_id, epoch = self.epoch, "shard taken over by another owner while idle; stopping");
                self.context.ownership.count_loss();
                return Some(Ended::Fenced);
            }
            // The next commit or check tells.
            Err(error) => {
                tracing::warn!(shard = self.context.shard_id, %error, "checking the shard's owner failed");
                self.held_at = Instant::now();
            }
        }
        None
    }

    fn until_holding_check(&self) -> Duration {
        match self.context.ownership.proof_interval() {
            Some(interval) => interval.saturating_sub(self.held_at.elapsed()),
            None => Duration::MAX,
        }
    }

    /// After a batch failed: whether the processor must stop, or take the
    /// shard again. Otherwise the batch is retried; until one commits, the
    /// shard tells the gateway it cannot apply commands.
    fn ended_by(&mut self, error: &StoreError) -> Option<Ended> {
        let shard_id = self.context.shard_id;
        if matches!(error, StoreError::ShardOwnershipLost { .. }) {
            tracing::warn!(shard = shard_id, %error, "shard taken over by another owner; stopping");
            self.context.ownership.count_loss();
            return Some(Ended::Fenced);
        }
        self.context.health.set_unavailable(shard_id, &error.to_string());
        if let Some(commit) = self.unknown_commit.take() {
            tracing::error!(shard = shard_id, %error, "a commit failed without telling whether it landed; taking the shard again to settle it");
            return Some(Ended::OutcomeUnknown(commit));
        }
        tracing::error!(shard = shard_id, %error, "applying a batch failed; it will be retried");
        None
    }

    /// When timers next need attention: the earliest one, or the refill of
    /// the in-memory window. While a full load's worth of timers is in
    /// memory, refilling waits for some to fire, so memory stays bounded.
    fn next_timer_work(&self) -> i64 {
        let refill_at = self.refill_at();
        self.timers.next_fire_time().map_or(refill_at, |fire| fire.min(refill_at))
    }

    fn timer_work_due(&self) -> bool {
        self.next_timer_work() <= now_nanos()
    }

    /// When the in-memory window is next refilled: a while before its horizon
    /// comes, unless it holds a full load already.
    fn refill_at(&self) -> i64 {
        if self.timers.len() < LOAD_LIMIT { self.timers.horizon_nanos().saturating_sub(LOOKAHEAD_NANOS / 4) } else { i64::MAX }
    }

    fn refill_due(&self, now: i64) -> bool {
        self.refill_at() <= now
    }

    async fn refill_timers(&mut self) {
        let until = now_nanos().saturating_add(LOOKAHEAD_NANOS);
        // Everything before the horizon is in memory already.
        let from = self.timers.horizon().clone();
        match self.context.store.load_timers(self.context.shard_id, &from, until, LOAD_LIMIT).await {
            Ok(loaded) => {
                let hit_limit = loaded.len() >= LOAD_LIMIT;
                self.timers.refill(loaded, until, hit_limit);
            }
            Err(error) => tracing::error!(shard = self.context.shard_id, %error, "loading timers failed"),
        }
    }

    async fn process_timers(&mut self) -> Result<(), StoreError> {
        let now = now_nanos();
        if self.refill_due(now) {
            self.refill_timers().await;
        }
        let due = self.timers.take_due(now, MAX_BATCH);
        if due.is_empty() {
            return Ok(());
        }
        match self.fire_and_commit(&due, now).await {
            Ok(()) => Ok(()),
            Err(BatchFailure::Retry(error)) => {
                self.keep_due(due);
                Err(error)
            }
            Err(BatchFailure::Poisoned(reason)) => {
                tracing::warn!(shard = self.context.shard_id, %reason, "a batch of timers failed; firing them one at a time");
                self.fire_one_at_a_time(due, now).await
            }
        }
    }

    /// Timers that could not fire yet stay due.
    fn keep_due(&mut self, due: Vec<(TimerKey, TimerTask)>) {
        for (key, task) in due {
            self.timers.add(key, task);
        }
    }

    /// Fires timers in one batch. Timers of one run fire in one transition,
    /// so a run with thousands of timers due at once costs one pass over its
    /// state per batch, not one per timer.
    async fn fire_and_commit(&mut self, due: &[(TimerKey, TimerTask)], now: i64) -> Result<(), BatchFailure> {
        let mut batch = Batch::default();
        let firing = async {
            for (key, _) in due {
                metrics::shards::timer_fired(now.saturating_sub(key.fire_time_nanos));
                // Disarmed first: should the transition arm the same key again, that wins.
                batch.disarm_timer(key.clone());
            }
            for (run, tasks) in group_by_run(due) {
                self.fire_timers(&mut batch, &run, &tasks, now).await?;
            }
            Ok::<(), StoreError>(())
        };
        contain_panics(firing).await?;
        Ok(self.commit(batch, self.applied_offset).await?)
    }

    /// After a batch failed for a reason retrying cannot fix: fires each
    /// timer alone, and drops (with an error in the log) the one that cannot
    /// fire, so it cannot stop the shard.
    async fn fire_one_at_a_time(&mut self, due: Vec<(TimerKey, TimerTask)>, now: i64) -> Result<(), StoreError> {
        let mut due = due.into_iter();
        while let Some((key, task)) = due.next() {
            let single = [(key, task)];
            let failure = match self.fire_and_commit(&single, now).await {
                Ok(()) => continue,
                Err(BatchFailure::Poisoned(reason)) => self.drop_timer(&single[0], &reason).await.err(),
                Err(BatchFailure::Retry(error)) => Some(error),
            };
            if let Some(error) = failure {
                let [(key, task)] = single;
                self.keep_due(std::iter::once((key, task)).chain(due).collect());
                return Err(error);
            }
        }
        Ok(())
    }

    async fn drop_timer(&mut self, (key, task): &(TimerKey, TimerTask), reason: &str) -> Result<(), StoreError> {
        tracing::error!(
            shard = self.context.shard_id, timer = %key.id, workflow_id = %task.workflow_id, run_id = %task.run_id, %reason,
            "dropping a timer that cannot fire"
        );
        let mut batch = Batch::default();
        batch.disarm_timer(key.clone());
        self.commit(batch, self.applied_offset).await
    }

    async fn fire_timers(&self, batch: &mut Batch, run: &RunKey, tasks: &[&TimerTask], now: i64) -> Result<(), StoreError> {
        let Some(state) = batch.state(&self.context, run).await? else { return Ok(()) };
        let transition = commands::fire_timers(state, tasks, Clock { now, config: &self.context.config });
        if !transition.is_empty() {
            batch.record(run, transition);
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
        match self.apply_and_commit(&records, last_offset, now).await {
            Ok(()) => Ok(()),
            Err(BatchFailure::Retry(error)) => Err(error),
            Err(BatchFailure::Poisoned(reason)) => {
                tracing::warn!(shard = self.context.shard_id, %reason, "a batch of commands failed; applying them one at a time");
                self.apply_one_at_a_time(&records, now).await
            }
        }
    }

    async fn apply_and_commit(&mut self, records: &[LogRecord], last_offset: i64, now: i64) -> Result<(), BatchFailure> {
        let mut batch = Batch::default();
        let mut traced = Vec::new();
        let applying = async {
            for record in records {
                match CommandRecord::decode(record.payload.as_ref()) {
                    Ok(command) => {
                        let tracing = TracedCommand::start(&command, self.context.shard_id, record.offset);
                        batch.apply_span = tracing.as_ref().map(|traced| traced.apply.clone());
                        self.apply_command(&mut batch, command, now).await?;
                        batch.apply_span = None;
                        traced.extend(tracing.map(TracedCommand::applied));
                    }
                    Err(error) => {
                        tracing::error!(shard = self.context.shard_id, offset = record.offset, %error, "skipping an undecodable command")
                    }
                }
            }
            Ok::<(), StoreError>(())
        };
        contain_panics(applying).await?;
        let commit_started = SystemTime::now();
        self.commit(batch, last_offset).await?;
        let committed = SystemTime::now();
        for command in traced {
            command.finish(self.context.shard_id, records.len(), commit_started, committed);
        }
        Ok(())
    }

    /// After a batch failed for a reason retrying cannot fix: applies each
    /// command alone; the one that cannot be applied is answered with an
    /// error and passed over, so it is never replayed into the same failure.
    async fn apply_one_at_a_time(&mut self, records: &[LogRecord], now: i64) -> Result<(), StoreError> {
        for record in records {
            let offset = record.offset as i64;
            match self.apply_and_commit(std::slice::from_ref(record), offset, now).await {
                Ok(()) => {}
                Err(BatchFailure::Retry(error)) => return Err(error),
                Err(BatchFailure::Poisoned(reason)) => self.pass_over(record, &reason).await?,
            }
        }
        Ok(())
    }

    async fn pass_over(&mut self, record: &LogRecord, reason: &str) -> Result<(), StoreError> {
        let command = CommandRecord::decode(record.payload.as_ref()).unwrap_or_default();
        tracing::error!(
            shard = self.context.shard_id, offset = record.offset, workflow_id = %truncated(&command.workflow_id),
            command = command_name(&command), %reason,
            "passing over a command that cannot be applied"
        );
        let mut batch = Batch::default();
        batch.reply(command.reply_to, Err(CommandError::Internal(format!("the request could not be applied: {reason}"))));
        self.commit(batch, record.offset as i64).await
    }

    async fn apply_command(&self, batch: &mut Batch, record: CommandRecord, now: i64) -> Result<(), StoreError> {
        let reply_to = record.reply_to;
        let Some(command) = record.command else {
            batch.reply(reply_to, Err(CommandError::InvalidArgument("the command record carries no command".into())));
            return Ok(());
        };
        let workflow = WorkflowKey { namespace_id: record.namespace_id, workflow_id: record.workflow_id };
        let origin = record.origin;
        let result = match &command {
            Command::StartWorkflow(_)
            | Command::SignalWithStartWorkflow(_)
            | Command::StartChildWorkflow(_)
            | Command::UpdateWithStartWorkflow(_)
            | Command::ResetWorkflow(_)
            | Command::CreateSchedule(_) => self.apply_start(batch, &workflow, &command, now).await?,
            _ => self.apply_to_existing_run(batch, &workflow, &command, origin.as_ref(), now).await?,
        };
        if let Some(reply) = origin.and_then(|origin| commands::reply_to_origin(&command, &origin, &result)) {
            batch.send(reply);
        }
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
        let reset_base = match command {
            Command::ResetWorkflow(reset) => match self.reset_base(batch, workflow, reset).await? {
                Ok(base) => Some(base),
                Err(error) => return Ok(Err(error)),
            },
            _ => None,
        };
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
            Command::StartChildWorkflow(start) => commands::start_child_workflow(&workflow.namespace_id, current_state, start, clock),
            Command::UpdateWithStartWorkflow(start) => {
                commands::update_with_start_workflow(&workflow.namespace_id, current_state, start, clock)
            }
            Command::ResetWorkflow(reset) => {
                let (base, events) = reset_base.as_ref().expect("loaded above");
                commands::reset_workflow(base, events, current_state, reset, clock)
            }
            Command::CreateSchedule(create) => {
                commands::create_schedule(&workflow.namespace_id, &workflow.workflow_id, current_state, create, clock)
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
        if let Command::ResetWorkflow(reset) = command
            && current_key.as_ref().is_none_or(|key| key.run_id != reset.base_run_id)
        {
            self.mark_older_reset_base(batch, workflow, reset, clock).await?;
        }
        if let Some(new_run) = outcome.new_run {
            let run_id = new_run.state.info.as_ref().map(|info| info.run_id.clone()).unwrap_or_default();
            let key = run_key(workflow, run_id);
            batch.insert_new_run(key.clone(), new_run.state);
            batch.record(&key, new_run.transition);
        }
        Ok(Ok(outcome.reply))
    }

    /// A reset's base run that is not the current run learns which run its
    /// reset started (the current one learns it in the reset's own transition).
    async fn mark_older_reset_base(
        &self,
        batch: &mut Batch,
        workflow: &WorkflowKey,
        reset: &temper_proto::records::ResetWorkflow,
        clock: Clock<'_>,
    ) -> Result<(), StoreError> {
        let key = run_key(workflow, reset.base_run_id.clone());
        if let Some(base) = batch.state(&self.context, &key).await? {
            let transition = commands::mark_reset_base(base, &reset.new_run_id, clock);
            batch.record(&key, transition);
        }
        Ok(())
    }

    /// The run a reset starts from and its history, as stored.
    async fn reset_base(
        &self,
        batch: &mut Batch,
        workflow: &WorkflowKey,
        reset: &temper_proto::records::ResetWorkflow,
    ) -> Result<Result<(ExecutionInfo, Vec<HistoryEvent>), CommandError>, StoreError> {
        let key = run_key(workflow, reset.base_run_id.clone());
        let Some(info) = batch.state(&self.context, &key).await?.and_then(|state| state.info.clone()) else {
            return Ok(Err(CommandError::WorkflowNotFound { workflow_id: workflow.workflow_id.clone(), run_id: reset.base_run_id.clone() }));
        };
        let stored = (info.next_event_id - 1).max(0) as usize;
        let events = self.context.store.read_history(&key, 1, stored).await?;
        Ok(Ok((info, events)))
    }

    async fn apply_to_existing_run(
        &self,
        batch: &mut Batch,
        workflow: &WorkflowKey,
        command: &Command,
        origin: Option<&temper_proto::records::Origin>,
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
        match commands::apply_to_run(state, command, origin, Clock { now, config: &self.context.config }) {
            Ok(applied) => {
                batch.record(&key, applied.transition);
                Ok(applied.reply)
            }
            Err(error) => Ok(Err(error)),
        }
    }

    /// Commits a batch; once durable, answers its requests and hands its
    /// effects on. On failure nothing it did is kept and nobody is answered
    /// yet. A failure that leaves the outcome unknown is kept, to be settled
    /// once the shard is taken again; after any other, the same records are
    /// applied again and their requests answered then (or, after too long,
    /// told by the gateway that the outcome is unknown).
    async fn commit(&mut self, batch: Batch, applied_offset: i64) -> Result<(), StoreError> {
        let advances = applied_offset != self.applied_offset;
        if batch.is_empty() && batch.replies.is_empty() && !advances {
            return Ok(());
        }
        let mut next_outbox_seq = self.next_outbox_seq;
        let (mut commit, committed) = batch.into_commit(&self.context, self.epoch, applied_offset, &mut next_outbox_seq);
        commit.outbox_to_delete = self.published_outbox.take();
        let outbox_to_delete = commit.outbox_to_delete;
        let started = Instant::now();
        if let Err(error) = self.context.store.commit(commit).await {
            // The batch took the states it changed out of the cache: they are
            // read again from the store when the same records are retried.
            self.published_outbox.restore(outbox_to_delete);
            if may_have_landed(&error) {
                self.unknown_commit = Some(UnknownCommit::after_failure(&self.context, committed, applied_offset, advances));
            }
            return Err(error);
        }
        self.context.health.set_available(self.context.shard_id);
        self.held_at = Instant::now();
        // Offsets of one partition are contiguous: the advance is the
        // number of commands the batch applied (or passed over).
        let commands = usize::try_from(applied_offset - self.applied_offset).unwrap_or_default();
        metrics::shards::commands_committed(commands, started.elapsed().as_nanos() as i64);
        self.applied_offset = applied_offset;
        self.next_outbox_seq = next_outbox_seq;
        self.progress.committed(applied_offset, next_outbox_seq);
        // The applied offset is durable now: what lies at or below it is done with.
        self.commands_trimmer.consumed_before(u64::try_from(applied_offset + 1).unwrap_or_default());
        self.after_commit(committed);
        Ok(())
    }

    fn after_commit(&mut self, committed: Committed) {
        for (key, task) in committed.timers_added {
            self.timers.add(key, task);
        }
        for key in &committed.timers_deleted {
            self.timers.remove(key);
        }
        self.context.metrics.outcomes.record(committed.measurements);
        let visible_at = last_visibility_seq(&committed.outbox);
        if !committed.outbox.is_empty() {
            let _ = self.outbox.send(committed.outbox);
        }
        for (workflow, run_id) in committed.current_runs {
            self.context.current_run_cache.insert(workflow, run_id);
        }
        for (run, state) in committed.states {
            self.context.state_cache.insert(run, state);
        }
        for (run, state) in committed.unchanged_states {
            self.context.state_cache.insert(run, Arc::new(state));
        }
        let outcomes = Outcomes { progress: committed.progress, replies: committed.replies };
        match visible_at {
            None => outcomes.release(&self.context),
            Some(seq) => self.release_once_appended(outcomes, seq),
        }
    }

    /// Read-your-writes for visibility: a batch that changed what lists show
    /// (a run started or closed, its search attributes or memo changed)
    /// answers its requests and announces its progress only once its
    /// summaries are in the `visibility` log. A list that waits for the
    /// projection to apply the log as far as it reaches then sees every
    /// change acknowledged before it. The shard goes on meanwhile. Should the
    /// publisher stop first (the shard is given up), the outcomes go out
    /// anyway: the next owner publishes what is left.
    fn release_once_appended(&self, outcomes: Outcomes, seq: i64) {
        let mut appended = self.outbox_appended.clone();
        let context = self.context.clone();
        tokio::spawn(async move {
            let _ = appended.wait_for(|appended| *appended >= seq).await;
            outcomes.release(&context);
        });
    }
}

/// The outbox sequence number of a batch's last run summary, if it has one.
fn last_visibility_seq(outbox: &[(i64, OutboxRecord)]) -> Option<i64> {
    outbox.iter().filter(|(_, record)| matches!(record.record, Some(Record::Visibility(_)))).map(|(seq, _)| *seq).max()
}

/// What a committed batch tells the world: its runs' progress and its replies.
struct Outcomes {
    progress: Vec<(RunKey, RunProgress)>,
    replies: Vec<(ReplyTo, CommandResult)>,
}

impl Outcomes {
    fn release(self, context: &ShardContext) {
        context.replies.progressed(&self.progress);
        for (run, progress) in self.progress {
            context.notifier.publish(&run, progress);
        }
        for (to, result) in self.replies {
            context.replies.deliver(&to, result);
        }
    }
}

/// Drops what the caches hold of the shard's runs: since this process last
/// held the shard, another engine may have owned it and changed them, and a
/// stale state would be applied to as if it were the stored one.
fn forget_cached_states(context: &ShardContext) {
    // Removed one by one, now: a batch takes states out of the cache with
    // `remove`, which a lazy invalidation (moka's `invalidate_entries_if`)
    // would not stop. Taking a shard is rare; the walk is over memory.
    let (shard, shards) = (context.shard_id, context.log.layout().commands);
    let of_shard = |namespace_id: &str, workflow_id: &str| shard_of(namespace_id, workflow_id, shards) == shard;
    for (run, _) in context.state_cache.iter() {
        if of_shard(&run.namespace_id, &run.workflow_id) {
            context.state_cache.invalidate(run.as_ref());
        }
    }
    for (workflow, _) in context.current_run_cache.iter() {
        if of_shard(&workflow.namespace_id, &workflow.workflow_id) {
            context.current_run_cache.invalidate(workflow.as_ref());
        }
    }
}

/// Whether a failed commit may have been applied all the same. Only a
/// failed epoch check or a write the store refused outright say it was not.
fn may_have_landed(error: &StoreError) -> bool {
    !matches!(error, StoreError::ShardOwnershipLost { .. }) && !error.is_permanent()
}

/// Why a batch was not committed.
enum BatchFailure {
    /// The store or log is unavailable; the same batch can succeed later.
    Retry(StoreError),
    /// Something in the batch can never be applied: a panic while applying,
    /// or a write the store refuses.
    Poisoned(String),
}

impl From<StoreError> for BatchFailure {
    fn from(error: StoreError) -> Self {
        if error.is_permanent() { BatchFailure::Poisoned(error.to_string()) } else { BatchFailure::Retry(error) }
    }
}

/// Runs the application of commands or timers, turning a panic into a
/// poisoned batch: the batch's states are dropped with it (they may be
/// half-changed) and the cache no longer holds them.
async fn contain_panics(applying: impl std::future::Future<Output = Result<(), StoreError>>) -> Result<(), BatchFailure> {
    match AssertUnwindSafe(applying).catch_unwind().await {
        Ok(result) => Ok(result?),
        Err(panic) => Err(BatchFailure::Poisoned(format!("applying it panicked: {}", panic_message(panic.as_ref())))),
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| message.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Timers grouped by run, in the order each run first appears.
fn group_by_run(due: &[(TimerKey, TimerTask)]) -> Vec<(RunKey, Vec<&TimerTask>)> {
    let mut groups: Vec<(RunKey, Vec<&TimerTask>)> = Vec::new();
    let mut index: HashMap<RunKey, usize> = HashMap::new();
    for (_, task) in due {
        let run = RunKey { namespace_id: task.namespace_id.clone(), workflow_id: task.workflow_id.clone(), run_id: task.run_id.clone() };
        let slot = *index.entry(run.clone()).or_insert_with(|| {
            groups.push((run, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(task);
    }
    groups
}

/// A command whose request was traced: its `engine.apply` span, child of
/// the request's span in the gateway, parent of what its transitions send
/// (tasks, summaries, commands); and, once its batch is committed, an
/// `engine.commit` span beside it.
struct TracedCommand {
    parent: opentelemetry::Context,
    apply: opentelemetry::Context,
    applied: SystemTime,
}

impl TracedCommand {
    fn start(record: &CommandRecord, shard: ShardId, offset: u64) -> Option<TracedCommand> {
        let parent = traces::context_from(&record.trace_context)?;
        let attributes = vec![
            KeyValue::new("temper.command", command_name(record)),
            KeyValue::new("temper.shard", i64::from(shard)),
            KeyValue::new("temper.offset", offset as i64),
        ];
        let apply = traces::start_span(&parent, "engine.apply", attributes);
        Some(TracedCommand { parent, apply, applied: SystemTime::now() })
    }

    fn applied(self) -> TracedCommand {
        TracedCommand { applied: SystemTime::now(), ..self }
    }

    fn finish(self, shard: ShardId, batch_size: usize, commit_started: SystemTime, committed: SystemTime) {
        self.apply.span().end_with_timestamp(self.applied);
        let commit = vec![KeyValue::new("temper.shard", i64::from(shard)), KeyValue::new("temper.batch_size", batch_size as i64)];
        traces::record_span(&self.parent, "engine.commit", commit_started, committed, commit);
    }
}

fn command_name(record: &CommandRecord) -> &'static str {
    record.command.as_ref().map_or("none", commands::name_of)
}

/// A request-derived string for a log line, cut to a readable length.
fn truncated(value: &str) -> &str {
    let mut end = value.len().min(200);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn run_key(workflow: &WorkflowKey, run_id: String) -> RunKey {
    RunKey { namespace_id: workflow.namespace_id.clone(), workflow_id: workflow.workflow_id.clone(), run_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_applying_poisons_the_batch_instead_of_the_shard() {
        let panicking = async {
            let limits: Vec<u8> = Vec::new();
            if limits.is_empty() {
                panic!("an invariant broke");
            }
            Ok(())
        };
        match contain_panics(panicking).await {
            Err(BatchFailure::Poisoned(reason)) => assert!(reason.contains("an invariant broke"), "{reason}"),
            _ => panic!("the panic was not contained"),
        }
    }

    #[tokio::test]
    async fn store_errors_are_retried_unless_retrying_cannot_help() {
        let unavailable = contain_panics(async { Err(StoreError::Storage("disk full".into())) }).await;
        assert!(matches!(unavailable, Err(BatchFailure::Retry(_))));
        let refused = contain_panics(async { Err(StoreError::Rejected("key too long".into())) }).await;
        assert!(matches!(refused, Err(BatchFailure::Poisoned(_))));
    }
}
