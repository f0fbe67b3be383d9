//! The workloads: what each workflow does, decided from its history alone
//! (the bench worker keeps no state between workflow tasks), and the result
//! each workflow must end with.

use std::collections::HashMap;
use std::time::Duration;

use temper_proto::api::command::v1::command::Attributes;
use temper_proto::api::command::v1::{
    Command, CompleteWorkflowExecutionCommandAttributes, FailWorkflowExecutionCommandAttributes,
    RecordMarkerCommandAttributes, ScheduleActivityTaskCommandAttributes, StartTimerCommandAttributes,
};
use temper_proto::api::common::v1::{ActivityType, Payload, Payloads};
use temper_proto::api::enums::v1::{CommandType, EventType};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::api::history::v1::history_event::Attributes as EventAttributes;
use temper_proto::api::taskqueue::v1::TaskQueue;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// One activity, then complete.
    HelloActivity,
    /// Ten sequential activities.
    #[value(name = "activities-10")]
    #[serde(rename = "activities-10")]
    Activities10,
    /// A 1 s timer, then complete.
    Timer,
    /// 100 signals into one running workflow, then complete.
    Signals,
    /// A workflow that builds 2,000 events, then the time to fetch its full history.
    LongHistory,
    /// StartWorkflowExecution rate, with no worker.
    StartOnly,
    /// Waits until GetSystemInfo succeeds and reports how long that took.
    Ready,
    /// Hello-activity workflows, each listed by its id (ListWorkflowExecutions)
    /// right after its start returns, until the list shows it: how soon a
    /// started workflow is visible.
    Listed,
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let name = self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
        f.write_str(&name)
    }
}

impl Scenario {
    pub fn needs_worker(self) -> bool {
        !matches!(self, Scenario::StartOnly | Scenario::Ready)
    }

    pub fn default_workflows(self) -> u64 {
        match self {
            Scenario::HelloActivity | Scenario::Timer | Scenario::StartOnly | Scenario::Listed => 2000,
            Scenario::Activities10 => 500,
            Scenario::Signals | Scenario::LongHistory => 20,
            Scenario::Ready => 1,
        }
    }

    /// The result a workflow of this scenario must complete with.
    pub fn expected_result(self, workflow_id: &str) -> String {
        match self {
            Scenario::HelloActivity | Scenario::Listed => format!("hello {workflow_id}"),
            Scenario::Activities10 => ACTIVITIES.to_string(),
            Scenario::Timer => "timer fired".to_string(),
            Scenario::Signals => SIGNALS.to_string(),
            Scenario::LongHistory => format!("{LONG_HISTORY_EVENTS} events"),
            Scenario::StartOnly | Scenario::Ready => String::new(),
        }
    }
}

pub const ACTIVITY_TYPE: &str = "bench-activity";
pub const SIGNAL_NAME: &str = "bench-signal";
const ACTIVITIES: u32 = 10;
pub const SIGNALS: u32 = 100;
pub const LONG_HISTORY_EVENTS: i64 = 2000;
/// Markers written per workflow task while building a long history.
const MARKERS_PER_TASK: i64 = 250;

pub fn payload(text: &str) -> Option<Payloads> {
    Some(Payloads {
        payloads: vec![Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: serde_json::to_vec(text).expect("a string serializes"),
            external_payloads: vec![],
        }],
    })
}

pub fn text_of(payloads: Option<&Payloads>) -> Option<String> {
    let payload = payloads?.payloads.first()?;
    serde_json::from_slice(&payload.data).ok()
}

/// What the bench activity returns for an input: one function for every scenario.
pub fn activity_result(input: &str) -> String {
    match input.parse::<u32>() {
        Ok(number) => (number + 1).to_string(),
        Err(_) => format!("hello {input}"),
    }
}

/// Where the workflows' activities run, and how long an attempt may take.
pub struct ActivityOptions {
    pub task_queue: String,
    pub start_to_close: Duration,
}

/// An activity attempt's start-to-close timeout unless the bench is told otherwise.
pub const ACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);

pub fn proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration { seconds: duration.as_secs() as i64, nanos: duration.subsec_nanos() as i32 }
}

/// What a workflow task answers: its commands, and whether the workflow
/// needs another task right away (nothing else would wake it).
pub struct Decision {
    pub commands: Vec<Command>,
    pub force_new_task: bool,
}

/// The next workflow task's answer, given the history so far.
pub fn decide(scenario: Scenario, history: &[HistoryEvent], workflow_id: &str, activities: &ActivityOptions) -> Decision {
    let commands = commands_for(scenario, history, workflow_id, activities);
    let closes = commands.iter().any(|c| c.command_type() == CommandType::CompleteWorkflowExecution || c.command_type() == CommandType::FailWorkflowExecution);
    Decision { force_new_task: scenario == Scenario::LongHistory && !closes, commands }
}

fn commands_for(scenario: Scenario, history: &[HistoryEvent], workflow_id: &str, activities: &ActivityOptions) -> Vec<Command> {
    if let Some(failure) = activity_failure(history) {
        return vec![fail(failure)];
    }
    match scenario {
        Scenario::HelloActivity | Scenario::Listed => match last_activity_result(history) {
            None if count(history, EventType::ActivityTaskScheduled) == 0 => {
                vec![schedule_activity(1, workflow_id, activities)]
            }
            None => vec![],
            Some(result) => vec![complete(&result)],
        },
        Scenario::Activities10 => {
            let completed = count(history, EventType::ActivityTaskCompleted) as u32;
            let scheduled = count(history, EventType::ActivityTaskScheduled) as u32;
            match last_activity_result(history) {
                Some(result) if completed == ACTIVITIES => vec![complete(&result)],
                _ if scheduled == completed => {
                    let input = last_activity_result(history).unwrap_or_else(|| "0".to_string());
                    vec![schedule_activity(scheduled + 1, &input, activities)]
                }
                _ => vec![],
            }
        }
        Scenario::Timer => {
            if count(history, EventType::TimerFired) > 0 {
                vec![complete("timer fired")]
            } else if count(history, EventType::TimerStarted) == 0 {
                vec![start_timer()]
            } else {
                vec![]
            }
        }
        Scenario::Signals => {
            let signals = count(history, EventType::WorkflowExecutionSignaled) as u32;
            if signals >= SIGNALS { vec![complete(&signals.to_string())] } else { vec![] }
        }
        Scenario::LongHistory => {
            let next_event_id = history.last().map_or(1, |event| event.event_id + 1);
            // This task's completed event and the closing event come after the markers.
            let room = LONG_HISTORY_EVENTS - next_event_id - 1;
            let markers = room.clamp(0, MARKERS_PER_TASK);
            let mut commands: Vec<Command> = (0..markers).map(|_| marker()).collect();
            if markers == room {
                commands.push(complete(&format!("{LONG_HISTORY_EVENTS} events")));
            }
            commands
        }
        Scenario::StartOnly | Scenario::Ready => vec![],
    }
}

fn count(history: &[HistoryEvent], event_type: EventType) -> usize {
    history.iter().filter(|event| event.event_type() == event_type).count()
}

fn last_activity_result(history: &[HistoryEvent]) -> Option<String> {
    history.iter().rev().find_map(|event| match &event.attributes {
        Some(EventAttributes::ActivityTaskCompletedEventAttributes(completed)) => text_of(completed.result.as_ref()),
        _ => None,
    })
}

fn activity_failure(history: &[HistoryEvent]) -> Option<Failure> {
    history.iter().find_map(|event| match &event.attributes {
        Some(EventAttributes::ActivityTaskFailedEventAttributes(failed)) => failed.failure.clone(),
        Some(EventAttributes::ActivityTaskTimedOutEventAttributes(timed_out)) => timed_out.failure.clone(),
        _ => None,
    })
}

fn command(command_type: CommandType, attributes: Attributes) -> Command {
    Command { command_type: command_type as i32, attributes: Some(attributes), ..Default::default() }
}

fn schedule_activity(sequence: u32, input: &str, activities: &ActivityOptions) -> Command {
    command(
        CommandType::ScheduleActivityTask,
        Attributes::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
            activity_id: sequence.to_string(),
            activity_type: Some(ActivityType { name: ACTIVITY_TYPE.to_string() }),
            task_queue: Some(TaskQueue { name: activities.task_queue.clone(), kind: 1, normal_name: String::new() }),
            input: payload(input),
            start_to_close_timeout: Some(proto_duration(activities.start_to_close)),
            ..Default::default()
        }),
    )
}

fn start_timer() -> Command {
    command(
        CommandType::StartTimer,
        Attributes::StartTimerCommandAttributes(StartTimerCommandAttributes {
            timer_id: "1".to_string(),
            start_to_fire_timeout: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
        }),
    )
}

fn marker() -> Command {
    command(
        CommandType::RecordMarker,
        Attributes::RecordMarkerCommandAttributes(RecordMarkerCommandAttributes {
            marker_name: "bench".to_string(),
            details: HashMap::from([("data".to_string(), payload("x").expect("a payload"))]),
            ..Default::default()
        }),
    )
}

fn complete(result: &str) -> Command {
    command(
        CommandType::CompleteWorkflowExecution,
        Attributes::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes {
            result: payload(result),
        }),
    )
}

fn fail(failure: Failure) -> Command {
    command(
        CommandType::FailWorkflowExecution,
        Attributes::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
            failure: Some(failure),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_results_chain_for_sequences_and_greet_otherwise() {
        assert_eq!(activity_result("0"), "1");
        assert_eq!(activity_result("9"), "10");
        assert_eq!(activity_result("wf-1"), "hello wf-1");
    }

    #[test]
    fn long_history_stops_exactly_at_its_event_count() {
        let mut history: Vec<HistoryEvent> = (1..=3).map(|id| HistoryEvent { event_id: id, ..Default::default() }).collect();
        let mut written = 3;
        loop {
            let decision = decide(Scenario::LongHistory, &history, "wf", &ActivityOptions { task_queue: "q".into(), start_to_close: ACTIVITY_TIMEOUT });
            let commands = decision.commands;
            // Completed event, then one event per command.
            written += 1 + commands.len() as i64;
            if commands.iter().any(|c| c.command_type() == CommandType::CompleteWorkflowExecution) {
                assert!(!decision.force_new_task);
                break;
            }
            assert!(decision.force_new_task, "an unfinished history asks for the next task");
            written += 2; // the next task's scheduled and started events
            history = (1..=written).map(|id| HistoryEvent { event_id: id, ..Default::default() }).collect();
        }
        assert_eq!(written, LONG_HISTORY_EVENTS);
    }
}
