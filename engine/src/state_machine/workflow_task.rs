//! The workflow task's life: scheduled, started, then completed, failed or
//! timed out. Attempts after a failure are transient: their scheduled and
//! started events stay out of history (the worker still sees them) until an
//! attempt completes, so a workflow whose code keeps failing does not grow its
//! history with every retry.

use temper_proto::api::common::v1::WorkflowType;
use temper_proto::api::enums::v1::{TaskQueueKind, TimeoutType, WorkflowTaskFailedCause};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{
    HistoryEvent, WorkflowTaskCompletedEventAttributes, WorkflowTaskFailedEventAttributes,
    WorkflowTaskScheduledEventAttributes, WorkflowTaskStartedEventAttributes, WorkflowTaskTimedOutEventAttributes,
};
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest;
use temper_proto::records::{TaskKind, TaskRecord, WorkflowTaskInfo};

use super::history::{RunMutation, event_type_of};
use super::Effect;
use crate::time::{deadline, duration_nanos, timestamp_from_nanos, timestamp_nanos};

/// What the worker that starts a workflow task needs beyond stored history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkflowTaskStarted {
    pub scheduled_event_id: i64,
    pub started_event_id: i64,
    pub attempt: i32,
    pub scheduled_time_nanos: i64,
    pub started_time_nanos: i64,
    /// Started event id of the last completed workflow task: a sticky worker
    /// already has every event up to it.
    pub previous_started_event_id: i64,
    /// Dispatched on the sticky queue: the worker gets only new events.
    pub sticky: bool,
    /// Events of a transient attempt, not yet in stored history, which the
    /// worker must see after it.
    pub transient_events: Vec<HistoryEvent>,
    /// Stored history ends just before this id when the task starts.
    pub history_end_event_id: i64,
    pub run_id: String,
    pub workflow_type: Option<WorkflowType>,
    /// The workflow's normal task queue.
    pub task_queue: String,
    /// Protocol messages for the worker: the updates this task delivers.
    pub messages: Vec<temper_proto::api::protocol::v1::Message>,
}

impl RunMutation<'_> {
    /// The queue the next workflow task goes to: the sticky worker's, if any.
    fn current_task_queue(&self) -> (TaskQueue, bool) {
        let info = self.info();
        if info.sticky_task_queue.is_empty() {
            (TaskQueue { name: info.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() }, false)
        } else {
            (
                TaskQueue {
                    name: info.sticky_task_queue.clone(),
                    kind: TaskQueueKind::Sticky as i32,
                    normal_name: info.task_queue.clone(),
                },
                true,
            )
        }
    }

    /// Schedules a workflow task unless one is pending or the run is closed,
    /// and hands it to matching.
    pub(super) fn schedule_workflow_task(&mut self) {
        if self.add_scheduled_workflow_task() {
            self.dispatch_workflow_task();
        }
    }

    /// Schedules a speculative workflow task to deliver updates, unless one
    /// is pending (it will carry them, or the next one will).
    pub(super) fn schedule_workflow_task_for_update(&mut self) {
        if self.add_scheduled_task(true) {
            self.dispatch_workflow_task();
        }
    }

    /// Schedules a workflow task without dispatching it (the caller starts it
    /// inline). Returns whether one was scheduled.
    pub(super) fn add_scheduled_workflow_task(&mut self) -> bool {
        self.add_scheduled_task(false)
    }

    fn add_scheduled_task(&mut self, speculative: bool) -> bool {
        if !self.is_running() || self.state.workflow_task.is_some() || self.info().first_workflow_task_backoff_pending {
            return false;
        }
        let had_new_events = self.has_buffered_events();
        if had_new_events {
            // New events make the next attempt a normal one again.
            self.flush_buffered_events();
            self.info_mut().workflow_task_attempt = 1;
        }
        let attempt = self.info().workflow_task_attempt.max(1);
        let speculative = speculative && !had_new_events && attempt == 1;
        let transient = attempt > 1 || speculative;
        let (task_queue, sticky) = self.current_task_queue();
        let start_to_close = self.info().workflow_task_timeout;
        let scheduled_event_id = if transient {
            self.next_event_id()
        } else {
            self.add_event(Attributes::from(WorkflowTaskScheduledEventAttributes {
                task_queue: Some(task_queue.clone()),
                start_to_close_timeout: start_to_close,
                attempt,
            }))
        };
        let now = self.now();
        self.state.workflow_task = Some(WorkflowTaskInfo {
            scheduled_event_id,
            started_event_id: 0,
            attempt,
            scheduled_time: Some(timestamp_from_nanos(now)),
            started_time: None,
            task_queue: task_queue.name.clone(),
            sticky,
            request_id: String::new(),
            identity: String::new(),
            start_to_close_timeout: start_to_close,
            transient,
            speculative,
        });
        true
    }

    pub(super) fn dispatch_workflow_task(&mut self) {
        let wft = self.state.workflow_task.clone().expect("dispatching a scheduled workflow task");
        let info = self.info();
        let sticky_timeout = duration_nanos(info.sticky_schedule_to_start_timeout.as_ref());
        let expiry = (wft.sticky && sticky_timeout > 0).then(|| timestamp_from_nanos(deadline(self.now(), sticky_timeout)));
        let record = TaskRecord {
            namespace_id: info.namespace_id.clone(),
            task_queue: wft.task_queue.clone(),
            kind: TaskKind::Workflow as i32,
            workflow_id: info.workflow_id.clone(),
            run_id: info.run_id.clone(),
            scheduled_event_id: wft.scheduled_event_id,
            attempt: wft.attempt,
            scheduled_time: wft.scheduled_time,
            expiry,
            sticky: wft.sticky,
            trace_context: Default::default(),
        };
        self.effect(Effect::DispatchTask(record));
    }

    /// Starts the scheduled workflow task for a poller.
    pub(super) fn start_workflow_task(&mut self, request_id: &str, identity: &str) -> WorkflowTaskStarted {
        let mut wft = self.state.workflow_task.clone().expect("starting a scheduled workflow task");
        let now = self.now();
        if wft.transient && wft.scheduled_event_id != self.next_event_id() {
            // Events arrived after this attempt was scheduled; it can no
            // longer sit invisibly before them, so it becomes a normal task.
            wft.transient = false;
            wft.speculative = false;
            wft.attempt = 1;
            self.info_mut().workflow_task_attempt = 1;
            let (task_queue, _) = self.current_task_queue();
            wft.scheduled_event_id = self.add_event(Attributes::from(WorkflowTaskScheduledEventAttributes {
                task_queue: Some(task_queue),
                start_to_close_timeout: wft.start_to_close_timeout,
                attempt: 1,
            }));
        }
        let started_attributes = WorkflowTaskStartedEventAttributes {
            scheduled_event_id: wft.scheduled_event_id,
            identity: identity.to_string(),
            request_id: request_id.to_string(),
            history_size_bytes: self.info().history_size_bytes,
            suggest_continue_as_new: self.history_past_warn_limits(),
            ..Default::default()
        };
        wft.started_event_id = if wft.transient {
            wft.scheduled_event_id + 1
        } else {
            self.add_event(Attributes::from(started_attributes.clone()))
        };
        wft.started_time = Some(timestamp_from_nanos(now));
        wft.request_id = request_id.to_string();
        wft.identity = identity.to_string();
        let transient_events = if wft.transient {
            vec![
                detached_event(wft.scheduled_event_id, wft.scheduled_time_nanos(), self.scheduled_attributes(&wft)),
                detached_event(wft.started_event_id, now, Attributes::from(started_attributes)),
            ]
        } else {
            Vec::new()
        };
        self.state.workflow_task = Some(wft.clone());
        self.deliver_updates();
        self.started_info(&wft, transient_events)
    }

    fn scheduled_attributes(&self, wft: &WorkflowTaskInfo) -> Attributes {
        let (task_queue, _) = self.current_task_queue();
        Attributes::from(WorkflowTaskScheduledEventAttributes {
            task_queue: Some(task_queue),
            start_to_close_timeout: wft.start_to_close_timeout,
            attempt: wft.attempt,
        })
    }

    /// Describes an already started workflow task again (a re-delivered start).
    pub(super) fn started_info(&self, wft: &WorkflowTaskInfo, transient_events: Vec<HistoryEvent>) -> WorkflowTaskStarted {
        let history_end_event_id = if wft.transient { wft.scheduled_event_id } else { wft.started_event_id + 1 };
        WorkflowTaskStarted {
            scheduled_event_id: wft.scheduled_event_id,
            started_event_id: wft.started_event_id,
            attempt: wft.attempt,
            scheduled_time_nanos: wft.scheduled_time_nanos(),
            started_time_nanos: wft.started_time.as_ref().map(timestamp_nanos).unwrap_or_default(),
            previous_started_event_id: self.info().last_completed_workflow_task_started_event_id,
            sticky: wft.sticky,
            transient_events,
            history_end_event_id,
            run_id: self.info().run_id.clone(),
            workflow_type: self.info().workflow_type.clone(),
            task_queue: self.info().task_queue.clone(),
            messages: self.update_messages(wft.started_event_id),
        }
    }

    /// The transient events of a started transient attempt, rebuilt.
    pub(super) fn transient_events_of(&self, wft: &WorkflowTaskInfo) -> Vec<HistoryEvent> {
        if !wft.transient {
            return Vec::new();
        }
        let started = WorkflowTaskStartedEventAttributes {
            scheduled_event_id: wft.scheduled_event_id,
            identity: wft.identity.clone(),
            request_id: wft.request_id.clone(),
            ..Default::default()
        };
        vec![
            detached_event(wft.scheduled_event_id, wft.scheduled_time_nanos(), self.scheduled_attributes(wft)),
            detached_event(
                wft.started_event_id,
                wft.started_time.as_ref().map(timestamp_nanos).unwrap_or_default(),
                Attributes::from(started),
            ),
        ]
    }

    /// Records the completion of the running workflow task and returns the
    /// completed event's id.
    pub(super) fn record_workflow_task_completed(&mut self, request: &RespondWorkflowTaskCompletedRequest) -> i64 {
        let wft = self.state.workflow_task.take().expect("completing a started workflow task");
        let (scheduled_event_id, started_event_id) = self.materialize_transient(&wft);
        let completed_event_id = self.add_event(Attributes::from(WorkflowTaskCompletedEventAttributes {
            scheduled_event_id,
            started_event_id,
            identity: request.identity.clone(),
            #[allow(deprecated)]
            binary_checksum: request.binary_checksum.clone(),
            #[allow(deprecated)]
            worker_version: request.worker_version_stamp.clone(),
            sdk_metadata: request.sdk_metadata.clone(),
            metering_metadata: request.metering_metadata,
            versioning_behavior: request.versioning_behavior,
            ..Default::default()
        }));
        #[allow(deprecated)]
        self.add_reset_point(&request.binary_checksum, &worker_build_id(request), completed_event_id);
        let info = self.info_mut();
        info.last_completed_workflow_task_started_event_id = started_event_id;
        info.workflow_task_attempt = 1;
        completed_event_id
    }

    /// Writes a transient attempt's scheduled and started events, now that it
    /// completes; returns their ids.
    fn materialize_transient(&mut self, wft: &WorkflowTaskInfo) -> (i64, i64) {
        if !wft.transient {
            return (wft.scheduled_event_id, wft.started_event_id);
        }
        let scheduled = self.scheduled_attributes(wft);
        let scheduled_event_id = self.add_event_at(scheduled, wft.scheduled_time_nanos());
        let started_event_id = self.add_event_at(
            Attributes::from(WorkflowTaskStartedEventAttributes {
                scheduled_event_id,
                identity: wft.identity.clone(),
                request_id: wft.request_id.clone(),
                ..Default::default()
            }),
            wft.started_time.as_ref().map(timestamp_nanos).unwrap_or_default(),
        );
        (scheduled_event_id, started_event_id)
    }

    /// A speculative task that fails or times out did change what the worker
    /// saw, so, as Temporal does, its events are written before the failure:
    /// only a retry after a failure stays out of history.
    fn record_speculative_task(&mut self, mut wft: WorkflowTaskInfo, started: bool) -> WorkflowTaskInfo {
        if !(wft.speculative && wft.transient) {
            return wft;
        }
        if started {
            (wft.scheduled_event_id, wft.started_event_id) = self.materialize_transient(&wft);
        } else {
            wft.scheduled_event_id = self.add_event_at(self.scheduled_attributes(&wft), wft.scheduled_time_nanos());
        }
        wft.transient = false;
        wft.speculative = false;
        wft
    }

    /// Fails the running workflow task. A transient attempt leaves no event.
    pub(super) fn fail_workflow_task(
        &mut self,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: &str,
        binary_checksum: &str,
    ) {
        let wft = self.state.workflow_task.take().expect("failing a started workflow task");
        let wft = self.record_speculative_task(wft, true);
        if !wft.transient {
            self.add_event(Attributes::from(WorkflowTaskFailedEventAttributes {
                scheduled_event_id: wft.scheduled_event_id,
                started_event_id: wft.started_event_id,
                cause: cause as i32,
                failure,
                identity: identity.to_string(),
                #[allow(deprecated)]
                binary_checksum: binary_checksum.to_string(),
                ..Default::default()
            }));
        }
        self.prepare_next_attempt(&wft, true);
    }

    pub(super) fn time_out_workflow_task(&mut self, timeout_type: TimeoutType) {
        let wft = self.state.workflow_task.take().expect("timing out a pending workflow task");
        let wft = self.record_speculative_task(wft, timeout_type != TimeoutType::ScheduleToStart);
        let started_event_id = if timeout_type == TimeoutType::ScheduleToStart { 0 } else { wft.started_event_id };
        if !wft.transient {
            self.add_event(Attributes::from(WorkflowTaskTimedOutEventAttributes {
                scheduled_event_id: wft.scheduled_event_id,
                started_event_id,
                timeout_type: timeout_type as i32,
            }));
        }
        // A sticky worker that never picked the task up is no reason to make
        // the next attempt transient.
        self.prepare_next_attempt(&wft, timeout_type != TimeoutType::ScheduleToStart);
    }

    /// After a failed attempt: a sticky worker loses its stickiness (the next
    /// attempt goes to the normal queue with full history) instead of the
    /// attempt count growing.
    fn prepare_next_attempt(&mut self, wft: &WorkflowTaskInfo, increment_attempt: bool) {
        self.redeliver_updates();
        let was_sticky = !self.info().sticky_task_queue.is_empty();
        self.clear_sticky_task_queue();
        self.info_mut().workflow_task_attempt =
            if increment_attempt && !was_sticky { wft.attempt + 1 } else { 1 };
    }
}

trait ScheduledTime {
    fn scheduled_time_nanos(&self) -> i64;
}

impl ScheduledTime for WorkflowTaskInfo {
    fn scheduled_time_nanos(&self) -> i64 {
        self.scheduled_time.as_ref().map(timestamp_nanos).unwrap_or_default()
    }
}

/// An event that is shown to a worker but not (yet) part of stored history.
/// The build of the worker that completed a workflow task: the one its
/// deployment options name, else its (older) version stamp's.
fn worker_build_id(request: &RespondWorkflowTaskCompletedRequest) -> String {
    let deployment_build = request.deployment_options.as_ref().map(|options| &options.build_id).filter(|id| !id.is_empty());
    #[allow(deprecated)]
    let stamp_build = request.worker_version_stamp.as_ref().map(|stamp| &stamp.build_id);
    deployment_build.or(stamp_build).cloned().unwrap_or_default()
}

fn detached_event(event_id: i64, time: i64, attributes: Attributes) -> HistoryEvent {
    HistoryEvent {
        event_id,
        event_time: Some(timestamp_from_nanos(time)),
        event_type: event_type_of(&attributes) as i32,
        attributes: Some(attributes),
        ..Default::default()
    }
}
