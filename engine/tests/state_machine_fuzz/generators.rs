//! Random steps in a workflow's life, with random field values. Steps that
//! need an id the run hands out (a token, a scheduled event id) carry an
//! [`Aim`] instead: the simulation resolves it against the run's state when the
//! step is applied, so most steps hit something real and some deliberately miss.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::Index;
use temper_engine::state_machine::command_type_of;
use temper_proto::api::command::v1::command::Attributes as CommandAttributes;
use temper_proto::api::command::v1::*;
use temper_proto::api::common::v1::{
    ActivityType, Header, Memo, Payload, Payloads, RetryPolicy, SearchAttributes, WorkflowType,
};
use temper_proto::api::enums::v1::CommandType;
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{
    ApplicationFailureInfo, CanceledFailureInfo, Failure, ServerFailureInfo, TimeoutFailureInfo,
};
use temper_proto::api::sdk::v1::UserMetadata;
use temper_proto::api::taskqueue::v1::{StickyExecutionAttributes, TaskQueue};
use temper_proto::api::workflowservice::v1::*;

const SECOND: i64 = 1_000_000_000;
const DAY_SECONDS: i64 = 86_400;
const THOUSAND_YEARS_SECONDS: i64 = 1_000 * 365 * DAY_SECONDS;
/// Larger than the 65,535-byte keys the store accepts (issue 6, defect 1).
const HUGE_ID_CHARS: usize = 70_000;

/// Which run a step addresses.
#[derive(Clone, Debug)]
pub enum RunPick {
    /// An empty run id: the workflow's current run.
    Current,
    /// The explicit id of one of the runs created so far.
    Existing(Index),
    Unknown,
}

/// How a step refers to what the run handed out (a token, a scheduled event
/// id, an attempt).
#[derive(Clone, Debug)]
pub enum Aim {
    Right,
    /// One field (chosen by `field`) off by `by` (never 0).
    Off { field: u8, by: i64 },
    /// No token at all.
    Missing,
}

/// A workflow-task command; a cancellation names its activity through the
/// run's pending activities, resolved when applied.
#[derive(Clone, Debug)]
pub enum WorkflowTaskCommand {
    Ready(Command),
    RequestCancelActivity { activity: Index, aim: Aim },
}

#[derive(Clone, Debug)]
pub enum Step {
    Start(StartWorkflowExecutionRequest),
    SignalWithStart(SignalWithStartWorkflowExecutionRequest),
    Signal { run: RunPick, request: SignalWorkflowExecutionRequest },
    RequestCancel { run: RunPick, request: RequestCancelWorkflowExecutionRequest },
    Terminate { run: RunPick, request: TerminateWorkflowExecutionRequest },
    RecordWorkflowTaskStarted { run: RunPick, aim: Aim, request_id: String },
    RecordActivityTaskStarted { run: RunPick, activity: Index, aim: Aim, request_id: String },
    CompleteWorkflowTask { run: RunPick, aim: Aim, commands: Vec<WorkflowTaskCommand>, request: RespondWorkflowTaskCompletedRequest },
    FailWorkflowTask { run: RunPick, aim: Aim, request: RespondWorkflowTaskFailedRequest },
    CompleteActivity { run: RunPick, activity: Index, aim: Aim, result: Option<Payloads> },
    FailActivity { run: RunPick, activity: Index, aim: Aim, request: RespondActivityTaskFailedRequest },
    CancelActivity { run: RunPick, activity: Index, aim: Aim, details: Option<Payloads> },
    Heartbeat { run: RunPick, activity: Index, aim: Aim, details: Option<Payloads> },
    ResetStickyTaskQueue { run: RunPick },
    /// Fires an armed timer at its fire time plus `lateness` (the clock only moves forward).
    FireTimer { timer: Index, lateness: i64 },
    /// Delivers a timer that already fired once more: it must be recognised as stale.
    FireStaleTimer { timer: Index },
    AdvanceClock { by: i64 },
    /// A worker's answer preceded by the poll that handed it the task it answers.
    AfterPoll(Box<Step>),
}

/// One test case: a workflow id, the clock's start, and the steps.
pub fn scenario() -> impl Strategy<Value = (String, i64, Vec<Step>)> {
    (id(), clock_start(), prop::collection::vec(step(), 1..80))
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => start_request().prop_map(Step::Start),
        4 => signal_with_start_request().prop_map(Step::SignalWithStart),
        6 => (run_pick(), signal_request()).prop_map(|(run, request)| Step::Signal { run, request }),
        1 => (run_pick(), pooled_name(), short_text()).prop_map(|(run, request_id, reason)| Step::RequestCancel {
            run,
            request: RequestCancelWorkflowExecutionRequest { request_id, reason, ..Default::default() },
        }),
        1 => (run_pick(), short_text()).prop_map(|(run, reason)| Step::Terminate {
            run,
            request: TerminateWorkflowExecutionRequest { reason, ..Default::default() },
        }),
        8 => (run_pick(), aim(), pooled_name()).prop_map(|(run, aim, request_id)| Step::RecordWorkflowTaskStarted { run, aim, request_id }),
        6 => (run_pick(), any::<Index>(), aim(), pooled_name())
            .prop_map(|(run, activity, aim, request_id)| Step::RecordActivityTaskStarted { run, activity, aim, request_id }),
        24 => workflow_task_answer().prop_map(polled_or_not),
        20 => activity_answer().prop_map(polled_or_not),
        2 => run_pick().prop_map(|run| Step::ResetStickyTaskQueue { run }),
        8 => (any::<Index>(), lateness()).prop_map(|(timer, lateness)| Step::FireTimer { timer, lateness }),
        2 => any::<Index>().prop_map(|timer| Step::FireStaleTimer { timer }),
        4 => clock_advance().prop_map(|by| Step::AdvanceClock { by }),
    ]
}

/// Workers usually answer a task they just polled for: most answers follow
/// a poll of the task they answer, so runs get far.
fn polled_or_not((answer, polled): (Step, bool)) -> Step {
    if polled { Step::AfterPoll(Box::new(answer)) } else { answer }
}

fn polled() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.7)
}

fn workflow_task_answer() -> impl Strategy<Value = (Step, bool)> {
    let commands = prop::collection::vec(workflow_task_command(), 0..5);
    let complete = (run_pick(), aim(), commands, completion_request())
        .prop_map(|(run, aim, commands, request)| Step::CompleteWorkflowTask { run, aim, commands, request });
    let fail = (run_pick(), aim(), any::<i32>(), option_of(failure())).prop_map(|(run, aim, cause, failure)| Step::FailWorkflowTask {
        run,
        aim,
        request: RespondWorkflowTaskFailedRequest { cause: cause % 40, failure, ..Default::default() },
    });
    (prop_oneof![5 => complete, 1 => fail], polled())
}

fn activity_answer() -> impl Strategy<Value = (Step, bool)> {
    let answer = prop_oneof![
        2 => (run_pick(), any::<Index>(), aim(), payloads())
            .prop_map(|(run, activity, aim, result)| Step::CompleteActivity { run, activity, aim, result }),
        2 => (run_pick(), any::<Index>(), aim(), option_of(failure()), payloads()).prop_map(
            |(run, activity, aim, failure, last_heartbeat_details)| Step::FailActivity {
                run,
                activity,
                aim,
                request: RespondActivityTaskFailedRequest { failure, last_heartbeat_details, ..Default::default() },
            }
        ),
        1 => (run_pick(), any::<Index>(), aim(), payloads())
            .prop_map(|(run, activity, aim, details)| Step::CancelActivity { run, activity, aim, details }),
        1 => (run_pick(), any::<Index>(), aim(), payloads())
            .prop_map(|(run, activity, aim, details)| Step::Heartbeat { run, activity, aim, details }),
    ];
    (answer, polled())
}

fn run_pick() -> impl Strategy<Value = RunPick> {
    prop_oneof![
        8 => Just(RunPick::Current),
        2 => any::<Index>().prop_map(RunPick::Existing),
        1 => Just(RunPick::Unknown),
    ]
}

fn aim() -> impl Strategy<Value = Aim> {
    let off_by = prop_oneof![Just(1i64), Just(-1), Just(2), Just(i64::MAX), Just(i64::MIN), any::<i64>()]
        .prop_filter("an offset changes the value", |by| *by != 0);
    prop_oneof![
        8 => Just(Aim::Right),
        2 => (0u8..3, off_by).prop_map(|(field, by)| Aim::Off { field, by }),
        1 => Just(Aim::Missing),
    ]
}

/// Ids and names: a few shared values (so they collide), the empty string,
/// arbitrary text, and rarely one longer than any store key.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => pooled_name(),
        1 => Just(String::new()),
        1 => "\\PC{0,12}",
        1 => (1_000usize..=HUGE_ID_CHARS).prop_map(|length| "i".repeat(length)),
    ]
}

fn pooled_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "q"]).prop_map(String::from)
}

fn short_text() -> impl Strategy<Value = String> {
    "\\PC{0,8}"
}

fn option_of<S: Strategy>(strategy: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::weighted(0.6, strategy)
}

/// Mostly small payloads; sometimes one over the test's payload limit.
fn payloads() -> impl Strategy<Value = Option<Payloads>> {
    let data = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..32),
        1 => (5_000usize..20_000).prop_map(|length| vec![7u8; length]),
    ];
    option_of(prop::collection::vec(data.prop_map(payload), 0..3).prop_map(|payloads| Payloads { payloads }))
}

fn payload(data: Vec<u8>) -> Payload {
    Payload { metadata: HashMap::from([("encoding".to_string(), b"binary/plain".to_vec())]), data, external_payloads: vec![] }
}

fn payload_map() -> impl Strategy<Value = HashMap<String, Payload>> {
    prop::collection::hash_map(id(), prop::collection::vec(any::<u8>(), 0..16).prop_map(payload), 0..3)
}

/// Durations of every odd kind: unset, zero, ordinary, negative, nanoseconds
/// out of range, 1,000 years and `i64::MAX` seconds.
/// Mostly ordinary, so that most commands are valid and runs live long.
fn duration() -> BoxedStrategy<Option<prost_types::Duration>> {
    let at = |seconds: i64, nanos: i32| Some(prost_types::Duration { seconds, nanos });
    let ordinary = prop_oneof![
        3 => Just(None),
        8 => (1i64..120).prop_map(move |seconds| at(seconds, 0)),
        1 => Just(at(0, 0)),
        1 => (0i32..1_000_000_000).prop_map(move |nanos| at(0, nanos)),
        1 => (-DAY_SECONDS..0).prop_map(move |seconds| at(seconds, 0)),
        1 => prop::sample::select(vec![i32::MIN, -1, 1_000_000_000, i32::MAX]).prop_map(move |nanos| at(1, nanos)),
        1 => (1i64..=DAY_SECONDS).prop_map(move |seconds| at(seconds, 0)),
    ];
    // Durations no clock arithmetic can add to a time without saturating.
    let extreme = prop::sample::select(vec![
        THOUSAND_YEARS_SECONDS,
        i64::MAX / SECOND,
        i64::MAX / SECOND - 1,
        i64::MAX,
        i64::MIN,
    ])
    .prop_map(move |seconds| at(seconds, 999_999_999));
    prop_oneof![8 => ordinary, 1 => extreme].boxed()
}

/// A workflow's execution or run timeout: usually unset, so runs live long
/// enough to reach deep states.
fn workflow_timeout() -> impl Strategy<Value = Option<prost_types::Duration>> {
    prop_oneof![4 => Just(None), 1 => duration()]
}

/// Where the clock starts: today, the epoch, just before the end of time and
/// far before the epoch.
fn clock_start() -> BoxedStrategy<i64> {
    let today = 1_764_633_600 * SECOND;
    prop_oneof![Just(today), Just(0i64), Just(i64::MAX - 1_000 * SECOND), Just(i64::MAX), Just(i64::MIN / 2)].boxed()
}

fn clock_advance() -> BoxedStrategy<i64> {
    let ordinary = prop_oneof![(1i64..10 * SECOND), Just(3_600 * SECOND), Just(DAY_SECONDS * SECOND)];
    prop_oneof![3 => ordinary, 1 => Just(THOUSAND_YEARS_SECONDS.saturating_mul(SECOND)), 1 => Just(i64::MAX)].boxed()
}

fn lateness() -> BoxedStrategy<i64> {
    prop_oneof![4 => Just(0i64), 2 => clock_advance()].boxed()
}

/// Usually unset or sensible; sometimes with values Temporal refuses or
/// that strain the backoff arithmetic (NaN, infinite or huge coefficients).
fn retry_policy() -> impl Strategy<Value = Option<RetryPolicy>> {
    let sensible = (1i64..10, 1.0f64..3.0, prop::option::of(10i64..100), 0i32..5).prop_map(
        |(initial_seconds, backoff_coefficient, maximum_seconds, maximum_attempts)| RetryPolicy {
            initial_interval: Some(prost_types::Duration { seconds: initial_seconds, nanos: 0 }),
            backoff_coefficient,
            maximum_interval: maximum_seconds.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
            maximum_attempts,
            non_retryable_error_types: vec![],
        },
    );
    let coefficient = prop::sample::select(vec![0.0, 0.5, 1.0, 2.0, -1.0, f64::NAN, f64::INFINITY, 1e308]);
    let attempts = prop::sample::select(vec![0, 1, 2, 3, -1, i32::MAX, i32::MIN]);
    let error_types = prop::collection::vec(
        prop::sample::select(vec!["E", "TemporalTimeout:StartToClose", "TemporalTimeout:Heartbeat", "TemporalTimeout:Bogus"])
            .prop_map(String::from),
        0..3,
    );
    let odd = (duration(), coefficient, duration(), attempts, error_types).prop_map(
        |(initial_interval, backoff_coefficient, maximum_interval, maximum_attempts, non_retryable_error_types)| RetryPolicy {
            initial_interval,
            backoff_coefficient,
            maximum_interval,
            maximum_attempts,
            non_retryable_error_types,
        },
    );
    prop_oneof![5 => Just(None), 3 => sensible.prop_map(Some), 2 => odd.prop_map(Some)]
}

/// Failures as workers and the server report them, nested a little.
fn failure() -> impl Strategy<Value = Failure> {
    let info = prop_oneof![
        4 => (pooled_name(), any::<bool>(), duration()).prop_map(|(r#type, non_retryable, next_retry_delay)| {
            FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo { r#type, non_retryable, next_retry_delay, ..Default::default() })
        }),
        1 => (0i32..6).prop_map(|timeout_type| FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo { timeout_type, last_heartbeat_details: None })),
        1 => Just(FailureInfo::CanceledFailureInfo(CanceledFailureInfo::default())),
        1 => any::<bool>().prop_map(|non_retryable| FailureInfo::ServerFailureInfo(ServerFailureInfo { non_retryable })),
    ];
    let leaf = (short_text(), option_of(info))
        .prop_map(|(message, failure_info)| Failure { message, failure_info, ..Default::default() });
    leaf.prop_recursive(3, 6, 1, |inner| {
        (inner.clone(), inner).prop_map(|(mut outer, cause)| {
            outer.cause = Some(Box::new(cause));
            outer
        })
    })
}

fn task_queue() -> impl Strategy<Value = Option<TaskQueue>> {
    option_of((id(), 0i32..4).prop_map(|(name, kind)| TaskQueue { name, kind, normal_name: String::new() }))
}

fn start_request() -> impl Strategy<Value = StartWorkflowExecutionRequest> {
    (
        (option_of(id().prop_map(|name| WorkflowType { name })), task_queue(), payloads()),
        (workflow_timeout(), workflow_timeout(), duration()),
        (pooled_name(), id_policy(-1..6), id_policy(-1..5), retry_policy()),
        (option_of(payload_map()), option_of(payload_map()), option_of(payload_map())),
    )
        .prop_map(
            |(
                (workflow_type, task_queue, input),
                (workflow_execution_timeout, workflow_run_timeout, workflow_task_timeout),
                (request_id, workflow_id_reuse_policy, workflow_id_conflict_policy, retry_policy),
                (memo, search_attributes, header),
            )| StartWorkflowExecutionRequest {
                workflow_type,
                task_queue,
                input,
                workflow_execution_timeout,
                workflow_run_timeout,
                workflow_task_timeout,
                request_id,
                workflow_id_reuse_policy,
                workflow_id_conflict_policy,
                retry_policy,
                memo: memo.map(|fields| Memo { fields }),
                search_attributes: search_attributes.map(|indexed_fields| SearchAttributes { indexed_fields }),
                header: header.map(|fields| Header { fields }),
                user_metadata: None,
                identity: "starter".into(),
                ..Default::default()
            },
        )
}

/// A workflow id reuse or conflict policy: usually the default, sometimes
/// any value including ones no enum knows; a start that terminates the
/// running run is then frequent enough without ending most runs early.
fn id_policy(values: std::ops::Range<i32>) -> impl Strategy<Value = i32> {
    prop_oneof![4 => Just(0), 1 => values]
}

fn signal_with_start_request() -> impl Strategy<Value = SignalWithStartWorkflowExecutionRequest> {
    (start_request(), id(), payloads()).prop_map(|(start, signal_name, signal_input)| SignalWithStartWorkflowExecutionRequest {
        namespace: start.namespace,
        workflow_id: start.workflow_id,
        workflow_type: start.workflow_type,
        task_queue: start.task_queue,
        input: start.input,
        workflow_execution_timeout: start.workflow_execution_timeout,
        workflow_run_timeout: start.workflow_run_timeout,
        workflow_task_timeout: start.workflow_task_timeout,
        identity: start.identity,
        request_id: start.request_id,
        workflow_id_reuse_policy: start.workflow_id_reuse_policy,
        workflow_id_conflict_policy: start.workflow_id_conflict_policy,
        signal_name,
        signal_input,
        retry_policy: start.retry_policy,
        memo: start.memo,
        search_attributes: start.search_attributes,
        header: start.header,
        ..Default::default()
    })
}

fn signal_request() -> impl Strategy<Value = SignalWorkflowExecutionRequest> {
    (id(), payloads(), prop_oneof![Just(String::new()), pooled_name()]).prop_map(|(signal_name, input, request_id)| {
        SignalWorkflowExecutionRequest { signal_name, input, request_id, identity: "signaller".into(), ..Default::default() }
    })
}

fn completion_request() -> impl Strategy<Value = RespondWorkflowTaskCompletedRequest> {
    let sticky = option_of((task_queue(), duration()).prop_map(|(worker_task_queue, schedule_to_start_timeout)| {
        StickyExecutionAttributes { worker_task_queue, schedule_to_start_timeout }
    }));
    (sticky, any::<bool>(), any::<bool>()).prop_map(|(sticky_attributes, return_new_workflow_task, force_create_new_workflow_task)| {
        RespondWorkflowTaskCompletedRequest {
            sticky_attributes,
            return_new_workflow_task,
            force_create_new_workflow_task,
            identity: "worker".into(),
            ..Default::default()
        }
    })
}

/// Mostly commands a correct workflow sends, so that runs get far; the
/// rest with random fields, mismatched types or no attributes at all.
fn workflow_task_command() -> impl Strategy<Value = WorkflowTaskCommand> {
    prop_oneof![
        12 => plausible_command_attributes().prop_map(|attributes| WorkflowTaskCommand::Ready(command(attributes, None, None))),
        4 => (command_attributes(), command_type_override(), option_of(Just(UserMetadata::default())))
            .prop_map(|(attributes, command_type, user_metadata)| WorkflowTaskCommand::Ready(command(attributes, command_type, user_metadata))),
        1 => (0i32..20).prop_map(|command_type| WorkflowTaskCommand::Ready(Command { command_type, ..Default::default() })),
        3 => (any::<Index>(), aim()).prop_map(|(activity, aim)| WorkflowTaskCommand::RequestCancelActivity { activity, aim }),
    ]
}

fn command(attributes: CommandAttributes, command_type: Option<CommandType>, user_metadata: Option<UserMetadata>) -> Command {
    Command {
        command_type: command_type.unwrap_or_else(|| command_type_of(&attributes)) as i32,
        attributes: Some(attributes),
        user_metadata,
        ..Default::default()
    }
}

fn plausible_command_attributes() -> impl Strategy<Value = CommandAttributes> {
    let seconds = |range: std::ops::Range<i64>| range.prop_map(|seconds| Some(prost_types::Duration { seconds, nanos: 0 }));
    let schedule_activity = (pooled_name(), seconds(1..60), prop::option::of(seconds(1..60)), prop::option::of(seconds(1..300)), retry_policy())
        .prop_map(|(activity_id, start_to_close_timeout, heartbeat_timeout, schedule_to_close_timeout, retry_policy)| {
            CommandAttributes::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
                activity_id,
                activity_type: Some(ActivityType { name: "Act".into() }),
                start_to_close_timeout,
                heartbeat_timeout: heartbeat_timeout.flatten(),
                schedule_to_close_timeout: schedule_to_close_timeout.flatten(),
                retry_policy,
                ..Default::default()
            })
        });
    let start_timer = (pooled_name(), seconds(1..120)).prop_map(|(timer_id, start_to_fire_timeout)| {
        CommandAttributes::StartTimerCommandAttributes(StartTimerCommandAttributes { timer_id, start_to_fire_timeout })
    });
    prop_oneof![
        5 => schedule_activity,
        4 => start_timer,
        2 => pooled_name().prop_map(|timer_id| CommandAttributes::CancelTimerCommandAttributes(CancelTimerCommandAttributes { timer_id })),
        1 => Just(CommandAttributes::CompleteWorkflowExecutionCommandAttributes(Default::default())),
        1 => pooled_name().prop_map(|marker_name| {
            CommandAttributes::RecordMarkerCommandAttributes(RecordMarkerCommandAttributes { marker_name, ..Default::default() })
        }),
    ]
}

/// Usually the type matching the attributes; sometimes another one, as a
/// confused or hostile worker might send.
fn command_type_override() -> impl Strategy<Value = Option<CommandType>> {
    prop_oneof![
        8 => Just(None),
        1 => (0i32..20).prop_map(|value| Some(CommandType::try_from(value).unwrap_or(CommandType::Unspecified))),
    ]
}

fn command_attributes() -> impl Strategy<Value = CommandAttributes> {
    prop_oneof![
        4 => schedule_activity_attributes(),
        4 => (id(), duration()).prop_map(|(timer_id, start_to_fire_timeout)| {
            CommandAttributes::StartTimerCommandAttributes(StartTimerCommandAttributes { timer_id, start_to_fire_timeout })
        }),
        2 => id().prop_map(|timer_id| CommandAttributes::CancelTimerCommandAttributes(CancelTimerCommandAttributes { timer_id })),
        2 => payloads().prop_map(|result| {
            CommandAttributes::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes { result })
        }),
        1 => option_of(failure()).prop_map(|failure| {
            CommandAttributes::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes { failure })
        }),
        1 => payloads().prop_map(|details| {
            CommandAttributes::CancelWorkflowExecutionCommandAttributes(CancelWorkflowExecutionCommandAttributes { details })
        }),
        1 => (id(), prop::collection::hash_map(id(), payloads().prop_map(Option::unwrap_or_default), 0..3)).prop_map(
            |(marker_name, details)| CommandAttributes::RecordMarkerCommandAttributes(RecordMarkerCommandAttributes {
                marker_name,
                details,
                ..Default::default()
            })
        ),
        1 => option_of(payload_map()).prop_map(|fields| {
            CommandAttributes::UpsertWorkflowSearchAttributesCommandAttributes(UpsertWorkflowSearchAttributesCommandAttributes {
                search_attributes: fields.map(|indexed_fields| SearchAttributes { indexed_fields }),
            })
        }),
        1 => option_of(payload_map()).prop_map(|fields| {
            CommandAttributes::ModifyWorkflowPropertiesCommandAttributes(ModifyWorkflowPropertiesCommandAttributes {
                upserted_memo: fields.map(|fields| Memo { fields }),
            })
        }),
        1 => unsupported_attributes(),
    ]
}

fn unsupported_attributes() -> impl Strategy<Value = CommandAttributes> {
    prop_oneof![
        Just(CommandAttributes::ContinueAsNewWorkflowExecutionCommandAttributes(Default::default())),
        Just(CommandAttributes::StartChildWorkflowExecutionCommandAttributes(Default::default())),
        Just(CommandAttributes::SignalExternalWorkflowExecutionCommandAttributes(Default::default())),
        Just(CommandAttributes::RequestCancelExternalWorkflowExecutionCommandAttributes(Default::default())),
        Just(CommandAttributes::ProtocolMessageCommandAttributes(Default::default())),
        Just(CommandAttributes::ScheduleNexusOperationCommandAttributes(Default::default())),
    ]
}

fn schedule_activity_attributes() -> impl Strategy<Value = CommandAttributes> {
    (
        (id(), prop_oneof![4 => Just(Some(ActivityType { name: "Act".into() })), 1 => option_of(id().prop_map(|name| ActivityType { name }))], task_queue(), payloads()),
        (prop_oneof![2 => Just(None), 1 => duration()], duration(), duration(), duration()),
        retry_policy(),
    )
        .prop_map(
            |(
                (activity_id, activity_type, task_queue, input),
                (schedule_to_close_timeout, schedule_to_start_timeout, start_to_close_timeout, heartbeat_timeout),
                retry_policy,
            )| {
                CommandAttributes::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
                    activity_id,
                    activity_type,
                    task_queue,
                    input,
                    schedule_to_close_timeout,
                    schedule_to_start_timeout,
                    start_to_close_timeout,
                    heartbeat_timeout,
                    retry_policy,
                    ..Default::default()
                })
            },
        )
}
