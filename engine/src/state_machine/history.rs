//! Building a run's history within one transition: event ids, buffering of
//! events that arrive while a workflow task is running, and the effects the
//! transition collects.

use prost::Message;
use temper_proto::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::records::{TimerTask, VisibilityRecord, WorkflowMutableState};

use super::timers::timeouts_of_run;
use super::{Clock, Effect, Nanos, Transition};
use crate::time::{duration_from_nanos, timestamp_from_nanos, timestamp_nanos};

/// One run's state while a command is applied to it, plus what the command
/// produces. Created per command; `finish` turns it into a [`Transition`].
pub struct RunMutation<'a> {
    pub(super) state: &'a mut WorkflowMutableState,
    pub(super) clock: Clock<'a>,
    events: Vec<HistoryEvent>,
    /// Bufferable events of this transition not yet given an id. Like
    /// Temporal, they are placed after the transition's other events.
    pending_buffer: Vec<HistoryEvent>,
    pub(super) effects: Vec<Effect>,
    visibility_changed: bool,
    /// The timers armed when the transition began; `finish` re-arms against them.
    timers_before: Vec<TimerTask>,
    successor: Option<Box<super::NewRun>>,
    /// The state changed in a way no event or effect shows (an update's
    /// progress): it still counts as a state transition, which wakes callers
    /// waiting on the run.
    touched: bool,
}

impl<'a> RunMutation<'a> {
    pub fn new(state: &'a mut WorkflowMutableState, clock: Clock<'a>) -> Self {
        let timers_before = timeouts_of_run(state);
        Self::with_armed_timers(state, clock, timers_before)
    }

    /// For a run being created: nothing is armed yet.
    pub fn creating(state: &'a mut WorkflowMutableState, clock: Clock<'a>) -> Self {
        Self::with_armed_timers(state, clock, Vec::new())
    }

    fn with_armed_timers(state: &'a mut WorkflowMutableState, clock: Clock<'a>, timers_before: Vec<TimerTask>) -> Self {
        RunMutation {
            timers_before,
            state,
            clock,
            events: Vec::new(),
            pending_buffer: Vec::new(),
            effects: Vec::new(),
            visibility_changed: false,
            successor: None,
            touched: false,
        }
    }

    pub fn now(&self) -> Nanos {
        self.clock.now
    }

    pub(super) fn info(&self) -> &temper_proto::records::ExecutionInfo {
        self.state.info.as_ref().expect("a run always has execution info")
    }

    pub(super) fn info_mut(&mut self) -> &mut temper_proto::records::ExecutionInfo {
        self.state.info.as_mut().expect("a run always has execution info")
    }

    pub fn is_running(&self) -> bool {
        self.info().status == WorkflowExecutionStatus::Running as i32
    }

    pub fn next_event_id(&self) -> i64 {
        self.info().next_event_id
    }

    /// Adds an event. Events that may arrive while a workflow task runs are
    /// held back and get their ids later; the rest get the next id now.
    /// Returns the id, or 0 for a held-back event. Nothing may follow the
    /// event that closes the run, so everything held back gets its id first.
    pub fn add_event(&mut self, attributes: Attributes) -> i64 {
        let event = self.new_event(attributes);
        if is_bufferable(event.event_type()) {
            self.pending_buffer.push(event);
            return 0;
        }
        if closes_run(event.event_type()) {
            self.flush_buffered_events();
        }
        self.append_with_next_id(event)
    }

    /// Adds an event with an explicit time (a transient event recorded late).
    pub fn add_event_at(&mut self, attributes: Attributes, time: Nanos) -> i64 {
        let mut event = self.new_event(attributes);
        event.event_time = Some(timestamp_from_nanos(time));
        self.append_with_next_id(event)
    }

    fn new_event(&self, attributes: Attributes) -> HistoryEvent {
        HistoryEvent {
            event_time: Some(timestamp_from_nanos(self.clock.now)),
            event_type: event_type_of(&attributes) as i32,
            attributes: Some(attributes),
            ..Default::default()
        }
    }

    fn append_with_next_id(&mut self, mut event: HistoryEvent) -> i64 {
        let info = self.info_mut();
        event.event_id = info.next_event_id;
        info.next_event_id += 1;
        info.history_size_bytes += event.encoded_len() as i64;
        let id = event.event_id;
        self.events.push(event);
        id
    }

    /// Attaches user metadata (summary, details) to an event of this transition.
    pub fn set_user_metadata(&mut self, event_id: i64, metadata: Option<temper_proto::api::sdk::v1::UserMetadata>) {
        if let Some(event) = self.events.iter_mut().find(|event| event.event_id == event_id) {
            event.user_metadata = metadata;
        }
    }

    pub fn has_buffered_events(&self) -> bool {
        !self.state.buffered_events.is_empty() || !self.pending_buffer.is_empty()
    }

    /// Gives every held-back event its id, completions last, and points each
    /// completion at the started event it now follows.
    pub fn flush_buffered_events(&mut self) {
        let mut buffered = std::mem::take(&mut self.state.buffered_events);
        buffered.append(&mut self.pending_buffer);
        if buffered.is_empty() {
            return;
        }
        let (completions, others): (Vec<_>, Vec<_>) =
            buffered.into_iter().partition(|event| is_completion(event.event_type()));
        let mut started_ids = std::collections::HashMap::new();
        for event in others.into_iter().chain(completions) {
            let id = self.append_with_next_id(event);
            let appended = self.events.last_mut().expect("just appended");
            wire_started_event_id(appended, id, &mut started_ids);
            if let Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(started)) = &appended.attributes {
                if let Some(child) = self.state.children.get_mut(&started.initiated_event_id) {
                    child.started_event_id = id;
                }
            }
        }
    }

    /// Forgets the events this transition held back (see `close_workflow`).
    pub(super) fn drop_events_held_back_in_this_transition(&mut self) {
        self.pending_buffer.clear();
    }

    /// Drops held-back timer-fired events of `timer_id`, returning the started
    /// event id of the first dropped: a timer cancelled after it fired.
    pub fn remove_buffered_timer_fired(&mut self, timer_id: &str) -> Option<i64> {
        let is_fired_of = |event: &HistoryEvent| match &event.attributes {
            Some(Attributes::TimerFiredEventAttributes(fired)) => fired.timer_id == timer_id,
            _ => false,
        };
        for buffer in [&mut self.state.buffered_events, &mut self.pending_buffer] {
            if let Some(index) = buffer.iter().position(is_fired_of) {
                let event = buffer.remove(index);
                if let Some(Attributes::TimerFiredEventAttributes(fired)) = event.attributes {
                    return Some(fired.started_event_id);
                }
            }
        }
        None
    }

    pub fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub(super) fn has_successor(&self) -> bool {
        self.successor.is_some()
    }

    /// A copy of an event this transition wrote (not one it holds back).
    pub(super) fn event_of_this_transition(&self, event_id: i64) -> Option<HistoryEvent> {
        self.events.iter().find(|event| event.event_id == event_id).cloned()
    }

    pub(super) fn set_successor(&mut self, run: super::NewRun) {
        self.successor = Some(Box::new(run));
    }

    pub(super) fn touch(&mut self) {
        self.touched = true;
    }

    pub fn mark_visibility_changed(&mut self) {
        self.visibility_changed = true;
    }

    /// Ends the transition: held-back events stay held while a workflow task
    /// is running and get their ids otherwise.
    pub fn finish(mut self) -> Transition {
        if self.workflow_task_is_running() {
            let pending = std::mem::take(&mut self.pending_buffer);
            self.state.buffered_events.extend(pending);
        } else {
            self.flush_buffered_events();
        }
        self.enforce_history_limits();
        let timers_before = std::mem::take(&mut self.timers_before);
        self.rearm_timers(&timers_before);
        if !self.events.is_empty() || !self.effects.is_empty() || self.visibility_changed || self.touched {
            self.info_mut().state_transition_count += 1;
        }
        if self.visibility_changed {
            let record = visibility_record(self.state);
            self.effects.push(Effect::Visibility(record));
        }
        Transition { events: self.events, effects: self.effects, successor: self.successor }
    }

    /// Terminates a run whose history outgrew the limits (Temporal's reasons).
    fn enforce_history_limits(&mut self) {
        let limits = &self.clock.config.run_limits;
        let info = self.info();
        let reason = if info.next_event_id - 1 > limits.history_count_limit {
            "Workflow history count exceeds limit."
        } else if info.history_size_bytes > limits.history_size_limit_bytes {
            "Workflow history size exceeds limit."
        } else {
            return;
        };
        if self.is_running() {
            self.terminate_run(reason, None, super::commands::SERVER_IDENTITY);
        }
    }

    /// The history is long enough that the workflow should continue as new.
    pub(super) fn history_past_warn_limits(&self) -> bool {
        let limits = &self.clock.config.run_limits;
        let info = self.info();
        info.next_event_id - 1 > limits.history_count_warn || info.history_size_bytes > limits.history_size_warn_bytes
    }

    pub fn workflow_task_is_running(&self) -> bool {
        self.state.workflow_task.as_ref().is_some_and(|task| task.started_event_id != 0)
    }
}

/// The summary projections index for a run.
pub fn visibility_record(state: &WorkflowMutableState) -> VisibilityRecord {
    let info = state.info.as_ref().expect("a run always has execution info");
    let history_length = info.next_event_id - 1;
    let execution_duration = match (&info.close_time, &info.execution_time) {
        (Some(close), Some(execution)) => {
            Some(duration_from_nanos(timestamp_nanos(close).saturating_sub(timestamp_nanos(execution)).max(0)))
        }
        _ => None,
    };
    VisibilityRecord {
        namespace_id: info.namespace_id.clone(),
        workflow_id: info.workflow_id.clone(),
        run_id: info.run_id.clone(),
        workflow_type: info.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        task_queue: info.task_queue.clone(),
        start_time: info.start_time,
        execution_time: info.execution_time,
        close_time: info.close_time,
        status: info.status,
        history_length,
        history_size_bytes: info.history_size_bytes,
        memo: info.memo.clone(),
        search_attributes: info.search_attributes.clone(),
        state_transition_count: info.state_transition_count,
        version: info.state_transition_count,
        execution_duration,
        deleted: false,
        parent: info.parent.clone(),
        first_run_id: info.first_run_id.clone(),
        // Stamped by the shard with the applied command's.
        trace_context: Default::default(),
        schedule: state.schedule.as_ref().map(super::scheduler::list_info),
    }
}

/// Events that may arrive while a workflow task runs; they must not land
/// between its started event and its completion.
fn is_bufferable(event_type: EventType) -> bool {
    !matches!(
        event_type,
        EventType::WorkflowExecutionStarted
            | EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionContinuedAsNew
            | EventType::WorkflowExecutionCanceled
            | EventType::WorkflowTaskScheduled
            | EventType::WorkflowTaskStarted
            | EventType::WorkflowTaskCompleted
            | EventType::WorkflowTaskFailed
            | EventType::WorkflowTaskTimedOut
            | EventType::ActivityTaskScheduled
            | EventType::ActivityTaskCancelRequested
            | EventType::TimerStarted
            | EventType::TimerCanceled
            | EventType::MarkerRecorded
            | EventType::RequestCancelExternalWorkflowExecutionInitiated
            | EventType::StartChildWorkflowExecutionInitiated
            | EventType::SignalExternalWorkflowExecutionInitiated
            | EventType::UpsertWorkflowSearchAttributes
            | EventType::WorkflowPropertiesModified
            | EventType::WorkflowExecutionUpdateAccepted
            | EventType::WorkflowExecutionUpdateCompleted
    )
}

fn closes_run(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionContinuedAsNew
            | EventType::WorkflowExecutionCanceled
    )
}

fn is_completion(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::ActivityTaskCompleted
            | EventType::ActivityTaskFailed
            | EventType::ActivityTaskTimedOut
            | EventType::ActivityTaskCanceled
            | EventType::ChildWorkflowExecutionCompleted
            | EventType::ChildWorkflowExecutionFailed
            | EventType::ChildWorkflowExecutionCanceled
            | EventType::ChildWorkflowExecutionTimedOut
            | EventType::ChildWorkflowExecutionTerminated
    )
}

/// Buffered activity-started and child-started events get their ids only at
/// flush time, so the completion that follows learns its started event id
/// here. Activities are keyed by their scheduled event id, children by their
/// initiated event id: both are event ids, so they never collide.
fn wire_started_event_id(
    event: &mut HistoryEvent,
    id: i64,
    started_ids: &mut std::collections::HashMap<i64, i64>,
) {
    match event.attributes.as_mut() {
        Some(Attributes::ActivityTaskStartedEventAttributes(started)) => {
            started_ids.insert(started.scheduled_event_id, id);
        }
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
            rewire(started_ids, a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
            rewire(started_ids, a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
            rewire(started_ids, a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
            rewire(started_ids, a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(started)) => {
            started_ids.insert(started.initiated_event_id, id);
        }
        Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(a)) => {
            rewire(started_ids, a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(a)) => {
            rewire(started_ids, a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionCanceledEventAttributes(a)) => {
            rewire(started_ids, a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a)) => {
            rewire(started_ids, a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a)) => {
            rewire(started_ids, a.initiated_event_id, &mut a.started_event_id)
        }
        _ => {}
    }
}

fn rewire(started_ids: &std::collections::HashMap<i64, i64>, scheduled_event_id: i64, started_event_id: &mut i64) {
    if let Some(id) = started_ids.get(&scheduled_event_id) {
        *started_event_id = *id;
    }
}

/// The event type each attribute kind belongs to.
pub fn event_type_of(attributes: &Attributes) -> EventType {
    use Attributes as A;
    match attributes {
        A::WorkflowExecutionStartedEventAttributes(_) => EventType::WorkflowExecutionStarted,
        A::WorkflowExecutionCompletedEventAttributes(_) => EventType::WorkflowExecutionCompleted,
        A::WorkflowExecutionFailedEventAttributes(_) => EventType::WorkflowExecutionFailed,
        A::WorkflowExecutionTimedOutEventAttributes(_) => EventType::WorkflowExecutionTimedOut,
        A::WorkflowTaskScheduledEventAttributes(_) => EventType::WorkflowTaskScheduled,
        A::WorkflowTaskStartedEventAttributes(_) => EventType::WorkflowTaskStarted,
        A::WorkflowTaskCompletedEventAttributes(_) => EventType::WorkflowTaskCompleted,
        A::WorkflowTaskTimedOutEventAttributes(_) => EventType::WorkflowTaskTimedOut,
        A::WorkflowTaskFailedEventAttributes(_) => EventType::WorkflowTaskFailed,
        A::ActivityTaskScheduledEventAttributes(_) => EventType::ActivityTaskScheduled,
        A::ActivityTaskStartedEventAttributes(_) => EventType::ActivityTaskStarted,
        A::ActivityTaskCompletedEventAttributes(_) => EventType::ActivityTaskCompleted,
        A::ActivityTaskFailedEventAttributes(_) => EventType::ActivityTaskFailed,
        A::ActivityTaskTimedOutEventAttributes(_) => EventType::ActivityTaskTimedOut,
        A::TimerStartedEventAttributes(_) => EventType::TimerStarted,
        A::TimerFiredEventAttributes(_) => EventType::TimerFired,
        A::ActivityTaskCancelRequestedEventAttributes(_) => EventType::ActivityTaskCancelRequested,
        A::ActivityTaskCanceledEventAttributes(_) => EventType::ActivityTaskCanceled,
        A::TimerCanceledEventAttributes(_) => EventType::TimerCanceled,
        A::MarkerRecordedEventAttributes(_) => EventType::MarkerRecorded,
        A::WorkflowExecutionSignaledEventAttributes(_) => EventType::WorkflowExecutionSignaled,
        A::WorkflowExecutionTerminatedEventAttributes(_) => EventType::WorkflowExecutionTerminated,
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => EventType::WorkflowExecutionCancelRequested,
        A::WorkflowExecutionCanceledEventAttributes(_) => EventType::WorkflowExecutionCanceled,
        A::WorkflowExecutionContinuedAsNewEventAttributes(_) => EventType::WorkflowExecutionContinuedAsNew,
        A::UpsertWorkflowSearchAttributesEventAttributes(_) => EventType::UpsertWorkflowSearchAttributes,
        A::WorkflowPropertiesModifiedEventAttributes(_) => EventType::WorkflowPropertiesModified,
        A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionInitiated
        }
        A::StartChildWorkflowExecutionInitiatedEventAttributes(_) => EventType::StartChildWorkflowExecutionInitiated,
        A::SignalExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::SignalExternalWorkflowExecutionInitiated
        }
        A::StartChildWorkflowExecutionFailedEventAttributes(_) => EventType::StartChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionStartedEventAttributes(_) => EventType::ChildWorkflowExecutionStarted,
        A::ChildWorkflowExecutionCompletedEventAttributes(_) => EventType::ChildWorkflowExecutionCompleted,
        A::ChildWorkflowExecutionFailedEventAttributes(_) => EventType::ChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionCanceledEventAttributes(_) => EventType::ChildWorkflowExecutionCanceled,
        A::ChildWorkflowExecutionTimedOutEventAttributes(_) => EventType::ChildWorkflowExecutionTimedOut,
        A::ChildWorkflowExecutionTerminatedEventAttributes(_) => EventType::ChildWorkflowExecutionTerminated,
        A::SignalExternalWorkflowExecutionFailedEventAttributes(_) => EventType::SignalExternalWorkflowExecutionFailed,
        A::ExternalWorkflowExecutionSignaledEventAttributes(_) => EventType::ExternalWorkflowExecutionSignaled,
        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionFailed
        }
        A::ExternalWorkflowExecutionCancelRequestedEventAttributes(_) => {
            EventType::ExternalWorkflowExecutionCancelRequested
        }
        A::WorkflowExecutionUpdateAcceptedEventAttributes(_) => EventType::WorkflowExecutionUpdateAccepted,
        A::WorkflowExecutionUpdateCompletedEventAttributes(_) => EventType::WorkflowExecutionUpdateCompleted,
        _ => EventType::Unspecified,
    }
}
