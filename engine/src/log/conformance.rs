//! The behaviour every [`Log`] adapter must show.
//!
//! An adapter's tests provide a [`LogFactory`] and either call [`run_all`] or
//! list the checks below as separate tests:
//!
//! ```text
//! #[tokio::test]
//! async fn log_trim_discards_records_below_the_point() {
//!     conformance::trim_discards_records_below_the_point(&MyLogFactory::new()).await;
//! }
//! ```
//!
//! Each check expects a factory of its own, whose log starts empty.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;

use super::{Log, LogError, LogLayout, LogName, LogRecord, Offset};

/// The layout every factory opens its log with.
pub const LAYOUT: LogLayout = LogLayout { commands: 4, tasks: 2, visibility: 1 };

/// How long a check waits for something that must happen. Generous: only a
/// broken adapter ever reaches it.
const EVENTUALLY: Duration = Duration::from_secs(10);
/// How long a check gives a read to return early when it must not.
const BRIEFLY: Duration = Duration::from_millis(100);

#[async_trait]
pub trait LogFactory: Send + Sync {
    /// Opens the log under test with [`LAYOUT`]. The first call sees no
    /// records; a later call, made once every handle from the previous one is
    /// dropped, must see the same data (that is how durability is checked).
    async fn open(&self) -> Arc<dyn Log>;
}

/// Runs every check, each with a fresh factory from `new_factory`.
pub async fn run_all<F: LogFactory>(new_factory: impl Fn() -> F) {
    macro_rules! run {
        ($($check:ident),* $(,)?) => {
            $(run_check("log", stringify!($check), $check(&new_factory())).await;)*
        };
    }
    crate::with_log_checks!(run {});
}

/// Calls `$then!` with `$prefix` followed by the name of every check, so an
/// adapter's tests can list each check as a test of its own without
/// repeating the list: `with_log_checks!(my_tests { some prefix: })`.
#[macro_export]
macro_rules! with_log_checks {
    ($then:ident { $($prefix:tt)* }) => {
        $then!(
            $($prefix)*
            offsets_start_at_zero_and_are_contiguous,
            read_returns_records_in_order_and_respects_max,
            partitions_are_independent,
            read_waits_for_an_append,
            concurrent_appends_get_distinct_contiguous_offsets,
            end_offset_is_the_next_offset,
            trim_discards_records_below_the_point,
            unknown_partitions_are_refused,
            records_survive_reopen,
            records_as_large_as_a_request_round_trip,
        );
    };
}

/// Runs one check, naming it in the panic if it fails. Shared with the store
/// suite.
pub(crate) async fn run_check(suite: &str, name: &str, check: impl Future<Output = ()>) {
    if let Err(panic) = AssertUnwindSafe(check).catch_unwind().await {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        panic!("{suite} conformance check `{name}` failed: {message}");
    }
}

pub async fn offsets_start_at_zero_and_are_contiguous(factory: &impl LogFactory) {
    let log = open(factory).await;
    assert_eq!(end_offset(&log, LogName::Commands, 0).await, 0, "an empty partition ends at 0");
    assert_eq!(append(&log, LogName::Commands, 0, &["a", "b", "c"]).await, 0);
    assert_eq!(append(&log, LogName::Commands, 0, &["d"]).await, 3);
    assert_eq!(append(&log, LogName::Commands, 0, &["e", "f"]).await, 4);
    let records = read(&log, LogName::Commands, 0, 0, 100).await;
    assert_eq!(offsets(&records), (0..6).collect::<Vec<_>>());
    assert_eq!(texts(&records), ["a", "b", "c", "d", "e", "f"]);
}

pub async fn read_returns_records_in_order_and_respects_max(factory: &impl LogFactory) {
    let log = open(factory).await;
    let written: Vec<String> = (0..10).map(|i| format!("record-{i}")).collect();
    let written: Vec<&str> = written.iter().map(String::as_str).collect();
    append(&log, LogName::Tasks, 0, &written).await;

    let all = read_range(&log, LogName::Tasks, 0, 0, 10).await;
    assert_eq!(texts(&all), written);
    let middle = read(&log, LogName::Tasks, 0, 4, 3).await;
    assert!(!middle.is_empty() && middle.len() <= 3, "read(max = 3) returned {} records", middle.len());
    assert_eq!(middle.first().map(|record| record.offset), Some(4), "a read starts at `from`");
    assert_eq!(texts(&middle), written[4..4 + middle.len()]);
    assert_eq!(texts(&read(&log, LogName::Tasks, 0, 9, 5).await), ["record-9"]);
}

pub async fn partitions_are_independent(factory: &impl LogFactory) {
    let log = open(factory).await;
    assert_eq!(append(&log, LogName::Commands, 0, &["c0-a", "c0-b"]).await, 0);
    assert_eq!(append(&log, LogName::Commands, 1, &["c1-a"]).await, 0);
    assert_eq!(append(&log, LogName::Tasks, 0, &["t0-a"]).await, 0);
    assert_eq!(append(&log, LogName::Visibility, 0, &["v0-a"]).await, 0);

    assert_eq!(texts(&read_range(&log, LogName::Commands, 0, 0, 2).await), ["c0-a", "c0-b"]);
    assert_eq!(texts(&read_range(&log, LogName::Commands, 1, 0, 1).await), ["c1-a"]);
    assert_eq!(texts(&read_range(&log, LogName::Tasks, 0, 0, 1).await), ["t0-a"]);
    assert_eq!(texts(&read_range(&log, LogName::Visibility, 0, 0, 1).await), ["v0-a"]);
    assert_eq!(end_offset(&log, LogName::Commands, 1).await, 1);
    assert_eq!(end_offset(&log, LogName::Commands, 2).await, 0, "an untouched partition stays empty");
    assert_eq!(end_offset(&log, LogName::Tasks, 1).await, 0, "an untouched partition stays empty");
}

pub async fn read_waits_for_an_append(factory: &impl LogFactory) {
    let log = open(factory).await;

    let mut waiting = spawn_read(&log, LogName::Tasks, 1, 0);
    assert!(
        tokio::time::timeout(BRIEFLY, &mut waiting).await.is_err(),
        "a read of an empty partition returned instead of waiting"
    );
    append(&log, LogName::Tasks, 1, &["first"]).await;
    assert_eq!(texts(&finish_read(waiting).await), ["first"]);

    let waiting = spawn_read(&log, LogName::Tasks, 1, 1);
    tokio::task::yield_now().await;
    append(&log, LogName::Tasks, 1, &["second", "third"]).await;
    let woken = finish_read(waiting).await;
    assert_eq!(woken.first().map(|record| record.offset), Some(1), "a read at the tail starts at `from`");
    assert_eq!(woken.first().map(text), Some("second".to_string()));

    let abandoned = log.read(LogName::Tasks, 1, 3, 10);
    assert!(tokio::time::timeout(BRIEFLY, abandoned).await.is_err(), "a read past the end returned");
    assert_eq!(append(&log, LogName::Tasks, 1, &["after-abandoned-read"]).await, 3);
    assert_eq!(
        texts(&read(&log, LogName::Tasks, 1, 3, 10).await),
        ["after-abandoned-read"],
        "dropping a waiting read must lose nothing"
    );
}

pub async fn concurrent_appends_get_distinct_contiguous_offsets(factory: &impl LogFactory) {
    const TASKS: usize = 8;
    const APPENDS_PER_TASK: usize = 200;
    let log = open(factory).await;

    let appenders: Vec<_> = (0..TASKS)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut placed = Vec::with_capacity(APPENDS_PER_TASK);
                for call in 0..APPENDS_PER_TASK {
                    // Calls of one, two and three records, so contiguity within a call is tested.
                    let payloads: Vec<String> =
                        (0..1 + (task + call) % 3).map(|i| format!("{task}/{call}/{i}")).collect();
                    let first = log
                        .append(LogName::Commands, 2, payloads.iter().map(|p| Bytes::from(p.clone())).collect())
                        .await
                        .expect("a concurrent append failed");
                    placed.push((first, payloads));
                }
                placed
            })
        })
        .collect();
    let mut placed = Vec::new();
    for appender in appenders {
        placed.extend(appender.await.expect("an appending task panicked"));
    }
    placed.sort_by_key(|(first, _)| *first);

    let mut next = 0;
    for (first, payloads) in &placed {
        assert_eq!(*first, next, "offsets must be distinct and contiguous across calls");
        next += payloads.len() as Offset;
    }
    assert_eq!(end_offset(&log, LogName::Commands, 2).await, next);
    let stored = read_range(&log, LogName::Commands, 2, 0, next).await;
    let expected: Vec<String> = placed.into_iter().flat_map(|(_, payloads)| payloads).collect();
    assert_eq!(texts(&stored), expected, "each call's records must be stored contiguously, in order");
}

pub async fn end_offset_is_the_next_offset(factory: &impl LogFactory) {
    let log = open(factory).await;
    assert_eq!(end_offset(&log, LogName::Visibility, 0).await, 0);
    append(&log, LogName::Visibility, 0, &["a", "b"]).await;
    assert_eq!(end_offset(&log, LogName::Visibility, 0).await, 2);
    log.trim(LogName::Visibility, 0, 1).await.expect("trim");
    assert_eq!(end_offset(&log, LogName::Visibility, 0).await, 2, "trimming does not move the end");
    assert_eq!(append(&log, LogName::Visibility, 0, &["c"]).await, 2);
    assert_eq!(end_offset(&log, LogName::Visibility, 0).await, 3);
}

pub async fn trim_discards_records_below_the_point(factory: &impl LogFactory) {
    let log = open(factory).await;
    let written: Vec<String> = (0..10).map(|i| format!("record-{i}")).collect();
    let written: Vec<&str> = written.iter().map(String::as_str).collect();
    append(&log, LogName::Commands, 3, &written).await;

    log.trim(LogName::Commands, 3, 4).await.expect("trim");
    expect_trimmed(log.read(LogName::Commands, 3, 2, 10).await, 2, 4);
    assert_eq!(texts(&read_range(&log, LogName::Commands, 3, 4, 10).await), written[4..]);
    assert_eq!(texts(&read(&log, LogName::Commands, 3, 9, 10).await), ["record-9"]);

    log.trim(LogName::Commands, 3, 2).await.expect("trimming below the trim point is harmless");
    assert_eq!(read(&log, LogName::Commands, 3, 4, 1).await.first().map(text), Some("record-4".to_string()));

    log.trim(LogName::Commands, 3, 10).await.expect("trim everything");
    expect_trimmed(log.read(LogName::Commands, 3, 9, 10).await, 9, 10);
    drop(log);

    let log = open(factory).await;
    assert_eq!(end_offset(&log, LogName::Commands, 3).await, 10, "the end survives trimming every record");
    expect_trimmed(log.read(LogName::Commands, 3, 5, 10).await, 5, 10);
    assert_eq!(append(&log, LogName::Commands, 3, &["after-trim"]).await, 10);
    assert_eq!(texts(&read(&log, LogName::Commands, 3, 10, 10).await), ["after-trim"]);
}

pub async fn unknown_partitions_are_refused(factory: &impl LogFactory) {
    let log = open(factory).await;
    for name in LogName::ALL {
        let partitions = LAYOUT.partitions(name);
        let partition = partitions;
        let refused = |result: Result<(), LogError>, call: &str| match result {
            Err(LogError::NoSuchPartition { log, partition: p, partitions: n })
                if log == name && p == partition && n == partitions => {}
            other => panic!("{call} on {name} partition {partition}: expected NoSuchPartition, got {other:?}"),
        };
        refused(log.append(name, partition, vec![Bytes::from_static(b"x")]).await.map(drop), "append");
        refused(log.read(name, partition, 0, 1).await.map(drop), "read");
        refused(log.end_offset(name, partition).await.map(drop), "end_offset");
        refused(log.trim(name, partition, 0).await, "trim");
    }
}

pub async fn records_survive_reopen(factory: &impl LogFactory) {
    let log = open(factory).await;
    append(&log, LogName::Commands, 1, &["c-0", "c-1", "c-2"]).await;
    append(&log, LogName::Tasks, 1, &["t-0"]).await;
    drop(log);

    let log = open(factory).await;
    assert_eq!(texts(&read_range(&log, LogName::Commands, 1, 0, 3).await), ["c-0", "c-1", "c-2"]);
    assert_eq!(texts(&read_range(&log, LogName::Tasks, 1, 0, 1).await), ["t-0"]);
    assert_eq!(end_offset(&log, LogName::Commands, 1).await, 3);
    assert_eq!(append(&log, LogName::Commands, 1, &["c-3"]).await, 3, "offsets continue after a reopen");
}

/// A command carries a whole request, which the gateway admits up to 4 MiB
/// (Temporal's limit): the log must take records that large, and more.
pub async fn records_as_large_as_a_request_round_trip(factory: &impl LogFactory) {
    const LARGE: usize = 6 * 1024 * 1024;
    let log = open(factory).await;
    let large: Bytes = (0..LARGE).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    let first = log
        .append(LogName::Commands, 1, vec![Bytes::from_static(b"small"), large.clone()])
        .await
        .expect("appending a record of 6 MiB");
    assert_eq!(first, 0);
    let records = read_range(&log, LogName::Commands, 1, 0, 2).await;
    assert_eq!(records[0].payload, Bytes::from_static(b"small"));
    assert!(records[1].payload == large, "the large record comes back whole ({} bytes read)", records[1].payload.len());
}

async fn open(factory: &impl LogFactory) -> Arc<dyn Log> {
    let log = factory.open().await;
    assert_eq!(log.layout(), LAYOUT, "the factory must open its log with conformance::LAYOUT");
    log
}

async fn append(log: &Arc<dyn Log>, name: LogName, partition: u32, texts: &[&str]) -> Offset {
    let records = texts.iter().map(|text| Bytes::from(text.to_string())).collect();
    log.append(name, partition, records).await.unwrap_or_else(|e| panic!("append to {name}/{partition}: {e}"))
}

async fn end_offset(log: &Arc<dyn Log>, name: LogName, partition: u32) -> Offset {
    log.end_offset(name, partition).await.unwrap_or_else(|e| panic!("end_offset of {name}/{partition}: {e}"))
}

/// One read of records that already exist, so it must not wait.
async fn read(log: &Arc<dyn Log>, name: LogName, partition: u32, from: Offset, max: usize) -> Vec<LogRecord> {
    tokio::time::timeout(EVENTUALLY, log.read(name, partition, from, max))
        .await
        .unwrap_or_else(|_| panic!("read of existing records of {name}/{partition} from {from} did not return"))
        .unwrap_or_else(|e| panic!("read of {name}/{partition} from {from}: {e}"))
}

/// Reads `from..until`, over as many calls as the adapter needs, checking
/// that offsets are consecutive.
async fn read_range(log: &Arc<dyn Log>, name: LogName, partition: u32, from: Offset, until: Offset) -> Vec<LogRecord> {
    let mut records: Vec<LogRecord> = Vec::new();
    let mut next = from;
    while next < until {
        let batch = read(log, name, partition, next, (until - next) as usize).await;
        for record in batch {
            assert_eq!(record.offset, next, "records must come back in offset order without gaps");
            next += 1;
            records.push(record);
        }
    }
    records
}

fn spawn_read(
    log: &Arc<dyn Log>,
    name: LogName,
    partition: u32,
    from: Offset,
) -> tokio::task::JoinHandle<Result<Vec<LogRecord>, LogError>> {
    let log = log.clone();
    tokio::spawn(async move { log.read(name, partition, from, 10).await })
}

async fn finish_read(waiting: tokio::task::JoinHandle<Result<Vec<LogRecord>, LogError>>) -> Vec<LogRecord> {
    tokio::time::timeout(EVENTUALLY, waiting)
        .await
        .expect("a waiting read was not woken by an append")
        .expect("the reading task panicked")
        .expect("the woken read failed")
}

fn expect_trimmed(result: Result<Vec<LogRecord>, LogError>, offset: Offset, oldest: Offset) {
    match result {
        Err(LogError::Trimmed { offset: o, oldest: old, .. }) if o == offset && old == oldest => {}
        other => panic!("reading offset {offset} should fail with Trimmed (oldest {oldest}), got {other:?}"),
    }
}

fn offsets(records: &[LogRecord]) -> Vec<Offset> {
    records.iter().map(|record| record.offset).collect()
}

fn text(record: &LogRecord) -> String {
    String::from_utf8_lossy(&record.payload).into_owned()
}

fn texts(records: &[LogRecord]) -> Vec<String> {
    records.iter().map(text).collect()
}
