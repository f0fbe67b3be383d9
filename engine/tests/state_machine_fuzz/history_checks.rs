//! What every run's history must satisfy, however it was reached: ids 1..n,
//! nothing after the close event, and every event that answers another
//! (a completion, a fired timer, a started workflow task) refers to an
//! earlier event of the right kind that is still open.

use std::collections::{HashMap, HashSet};

use temper_proto::api::enums::v1::{EventType, TimeoutType};
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::history::v1::history_event::Attributes;

/// Checks a whole history; the error names the first offending event.
pub fn check_history(history: &[HistoryEvent]) -> Result<(), String> {
    let mut ledger = Ledger::default();
    for (index, event) in history.iter().enumerate() {
        let expected_id = index as i64 + 1;
        if event.event_id != expected_id {
            return Err(format!("event #{index} has id {}, expected {expected_id}", event.event_id));
        }
        if let Some(close_id) = ledger.closed_by {
            return Err(format!("event {} ({:?}) follows the close event {close_id}", event.event_id, event.event_type()));
        }
        ledger.record(event).map_err(|problem| format!("event {} ({:?}): {problem}", event.event_id, event.event_type()))?;
    }
    Ok(())
}

/// What is open at a point in the history.
#[derive(Default)]
struct Ledger {
    closed_by: Option<i64>,
    /// Every event id seen so far, with its type.
    types: HashMap<i64, EventType>,
    /// Scheduled activity -> its started event, once written.
    open_activities: HashMap<i64, Option<i64>>,
    closed_activities: HashSet<i64>,
    /// Started event of each pending timer -> its timer id.
    open_timers: HashMap<i64, String>,
    /// The open workflow task: scheduled event, started event once written.
    workflow_task: Option<(i64, Option<i64>)>,
}

impl Ledger {
    fn record(&mut self, event: &HistoryEvent) -> Result<(), String> {
        let id = event.event_id;
        match event.attributes.as_ref().ok_or("no attributes")? {
            Attributes::WorkflowTaskScheduledEventAttributes(_) => self.schedule_workflow_task(id)?,
            Attributes::WorkflowTaskStartedEventAttributes(a) => self.start_workflow_task(a.scheduled_event_id, id)?,
            Attributes::WorkflowTaskCompletedEventAttributes(a) => {
                self.close_workflow_task(a.scheduled_event_id, a.started_event_id, false)?
            }
            Attributes::WorkflowTaskFailedEventAttributes(a) => {
                self.close_workflow_task(a.scheduled_event_id, a.started_event_id, false)?
            }
            Attributes::WorkflowTaskTimedOutEventAttributes(a) => {
                let before_start = a.timeout_type() == TimeoutType::ScheduleToStart;
                self.close_workflow_task(a.scheduled_event_id, a.started_event_id, before_start)?
            }
            Attributes::ActivityTaskScheduledEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?;
                self.open_activities.insert(id, None);
            }
            Attributes::ActivityTaskStartedEventAttributes(a) => self.start_activity(a.scheduled_event_id, id)?,
            Attributes::ActivityTaskCancelRequestedEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?;
                self.require_open_activity(a.scheduled_event_id)?;
            }
            Attributes::ActivityTaskCompletedEventAttributes(a) => self.close_activity(a.scheduled_event_id, a.started_event_id)?,
            Attributes::ActivityTaskFailedEventAttributes(a) => self.close_activity(a.scheduled_event_id, a.started_event_id)?,
            Attributes::ActivityTaskTimedOutEventAttributes(a) => self.close_activity(a.scheduled_event_id, a.started_event_id)?,
            Attributes::ActivityTaskCanceledEventAttributes(a) => self.close_activity(a.scheduled_event_id, a.started_event_id)?,
            Attributes::TimerStartedEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?;
                // The id may be reused while the fired event of its previous
                // timer is still held back (as in Temporal): the started event
                // id, not the timer id, tells timers apart.
                self.open_timers.insert(id, a.timer_id.clone());
            }
            Attributes::TimerFiredEventAttributes(a) => self.close_timer(&a.timer_id, a.started_event_id)?,
            Attributes::TimerCanceledEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?;
                self.close_timer(&a.timer_id, a.started_event_id)?
            }
            Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?
            }
            Attributes::WorkflowExecutionFailedEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?
            }
            Attributes::WorkflowExecutionCanceledEventAttributes(a) => {
                self.require_completed_workflow_task(a.workflow_task_completed_event_id)?
            }
            Attributes::WorkflowExecutionStartedEventAttributes(_) if id != 1 => return Err("a second started event".into()),
            _ => {}
        }
        if id == 1 && event.event_type() != EventType::WorkflowExecutionStarted {
            return Err("the first event is not WorkflowExecutionStarted".into());
        }
        if closes_run(event.event_type()) {
            self.closed_by = Some(id);
        }
        self.types.insert(id, event.event_type());
        Ok(())
    }

    fn schedule_workflow_task(&mut self, id: i64) -> Result<(), String> {
        if let Some((scheduled, _)) = self.workflow_task {
            return Err(format!("a workflow task is scheduled while task {scheduled} is still open"));
        }
        self.workflow_task = Some((id, None));
        Ok(())
    }

    fn start_workflow_task(&mut self, scheduled_event_id: i64, id: i64) -> Result<(), String> {
        match self.workflow_task {
            Some((scheduled, None)) if scheduled == scheduled_event_id => {
                self.workflow_task = Some((scheduled, Some(id)));
                Ok(())
            }
            other => Err(format!("starts workflow task {scheduled_event_id}, but the open task is {other:?}")),
        }
    }

    fn close_workflow_task(&mut self, scheduled_event_id: i64, started_event_id: i64, before_start: bool) -> Result<(), String> {
        let expected = match self.workflow_task {
            Some((scheduled, started)) if before_start && started.is_none() => (scheduled, 0),
            Some((scheduled, Some(started))) if !before_start => (scheduled, started),
            other => return Err(format!("closes workflow task ({scheduled_event_id}, {started_event_id}), but the open task is {other:?}")),
        };
        if (scheduled_event_id, started_event_id) != expected {
            return Err(format!("closes workflow task ({scheduled_event_id}, {started_event_id}), but the open task is {expected:?}"));
        }
        self.workflow_task = None;
        Ok(())
    }

    fn require_completed_workflow_task(&self, event_id: i64) -> Result<(), String> {
        match self.types.get(&event_id) {
            Some(EventType::WorkflowTaskCompleted) => Ok(()),
            other => Err(format!("refers to workflow task completed event {event_id}, which is {other:?}")),
        }
    }

    fn require_open_activity(&self, scheduled_event_id: i64) -> Result<Option<i64>, String> {
        if self.closed_activities.contains(&scheduled_event_id) {
            return Err(format!("refers to activity {scheduled_event_id}, which already closed"));
        }
        self.open_activities
            .get(&scheduled_event_id)
            .copied()
            .ok_or_else(|| format!("refers to activity {scheduled_event_id}, which was never scheduled"))
    }

    fn start_activity(&mut self, scheduled_event_id: i64, id: i64) -> Result<(), String> {
        if let Some(started) = self.require_open_activity(scheduled_event_id)? {
            return Err(format!("activity {scheduled_event_id} already has started event {started}"));
        }
        self.open_activities.insert(scheduled_event_id, Some(id));
        Ok(())
    }

    fn close_activity(&mut self, scheduled_event_id: i64, started_event_id: i64) -> Result<(), String> {
        let started = self.require_open_activity(scheduled_event_id)?.unwrap_or(0);
        if started_event_id != started {
            return Err(format!("names started event {started_event_id} of activity {scheduled_event_id}, whose started event is {started}"));
        }
        self.open_activities.remove(&scheduled_event_id);
        self.closed_activities.insert(scheduled_event_id);
        Ok(())
    }

    fn close_timer(&mut self, timer_id: &str, started_event_id: i64) -> Result<(), String> {
        match self.open_timers.get(&started_event_id) {
            Some(pending) if pending == timer_id => {
                self.open_timers.remove(&started_event_id);
                Ok(())
            }
            other => Err(format!(
                "closes timer `{}` started by {started_event_id}, but the timer pending there is {:?}",
                short(timer_id),
                other.map(|id| short(id))
            )),
        }
    }
}

fn closes_run(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionCanceled
            | EventType::WorkflowExecutionContinuedAsNew
    )
}

/// Ids may be 70,000 characters long; messages show their start.
fn short(id: &str) -> String {
    id.chars().take(40).collect()
}
