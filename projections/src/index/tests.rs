use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use temper_engine::time::{duration_from_nanos, timestamp_from_nanos};
use temper_proto::api::common::v1::{Payload, SearchAttributes};
use temper_proto::api::enums::v1::{IndexedValueType, WorkflowExecutionStatus as Status};
use temper_proto::records::{ParentExecution, VisibilityRecord};

use super::values::{format_rfc3339, parse_execution_duration, parse_rfc3339, text_matches};
use super::*;
use crate::query::parse;

const NS: &str = "ns";
const SECOND: i64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000 * SECOND;

fn at(seconds: i64) -> i64 {
    T0 + seconds * SECOND
}

fn open() -> (tempfile::TempDir, Arc<VisibilityIndex>) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let index = VisibilityIndex::open(&directory.path().join("visibility.db")).expect("the index opens");
    (directory, index)
}

fn running(workflow_id: &str, run_id: &str, start: i64) -> VisibilityRecord {
    VisibilityRecord {
        namespace_id: NS.into(),
        workflow_id: workflow_id.into(),
        run_id: run_id.into(),
        workflow_type: "Type".into(),
        task_queue: "queue".into(),
        start_time: Some(timestamp_from_nanos(at(start))),
        status: Status::Running as i32,
        history_length: 3,
        history_size_bytes: 100,
        state_transition_count: 2,
        version: 1,
        ..Default::default()
    }
}

fn closed(mut record: VisibilityRecord, status: Status, close: i64) -> VisibilityRecord {
    let start = record.start_time.map(|t| temper_engine::time::timestamp_nanos(&t)).unwrap_or_default();
    record.status = status as i32;
    record.close_time = Some(timestamp_from_nanos(at(close)));
    record.execution_duration = Some(duration_from_nanos(at(close) - start));
    record.version += 1;
    record
}

fn with(mut record: VisibilityRecord, name: &str, payload: Payload) -> VisibilityRecord {
    record.search_attributes.get_or_insert_with(SearchAttributes::default).indexed_fields.insert(name.into(), payload);
    record
}

fn payload(json: &str, value_type: Option<&str>) -> Payload {
    let mut metadata = HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]);
    if let Some(value_type) = value_type {
        metadata.insert("type".to_owned(), value_type.as_bytes().to_vec());
    }
    Payload { metadata, data: json.as_bytes().to_vec(), ..Default::default() }
}

fn typed(value_type: &str, json: &str) -> Payload {
    payload(json, Some(value_type))
}

fn untyped(json: &str) -> Payload {
    payload(json, None)
}

fn custom() -> SearchAttributeTypes {
    HashMap::from([
        ("CustomKeywordField".to_owned(), IndexedValueType::Keyword),
        ("CustomIntField".to_owned(), IndexedValueType::Int),
        ("CustomDoubleField".to_owned(), IndexedValueType::Double),
        ("CustomBoolField".to_owned(), IndexedValueType::Bool),
        ("CustomDatetimeField".to_owned(), IndexedValueType::Datetime),
        ("CustomStringField".to_owned(), IndexedValueType::Text),
        ("CustomKeywordListField".to_owned(), IndexedValueType::KeywordList),
    ])
}

/// Applies batches with increasing offsets, as the projection does.
struct Feed {
    index: Arc<VisibilityIndex>,
    offset: u64,
}

impl Feed {
    fn new(index: &Arc<VisibilityIndex>) -> Feed {
        Feed { index: index.clone(), offset: 0 }
    }

    async fn push(&mut self, records: Vec<VisibilityRecord>) {
        self.offset += records.len().max(1) as u64;
        self.index.apply(0, records, self.offset).await.expect("applied");
    }
}

fn request(namespace_id: &str, text: &str, page_size: usize, token: Vec<u8>) -> ListRequest {
    ListRequest {
        namespace_id: namespace_id.into(),
        query: parse(text).unwrap_or_else(|e| panic!("{text}: {e}")),
        attributes: custom(),
        page_size,
        next_page_token: token,
    }
}

/// Every page of the listing, run ids in order.
async fn list_all(index: &VisibilityIndex, namespace_id: &str, text: &str, page_size: usize) -> Vec<String> {
    let mut runs = Vec::new();
    let mut token = Vec::new();
    loop {
        let page =
            index.list(request(namespace_id, text, page_size, token)).await.unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(page.executions.len() <= page_size.max(1), "{text}: a page holds at most its size");
        runs.extend(page.executions.into_iter().map(|r| r.run_id));
        if page.next_page_token.is_empty() {
            return runs;
        }
        token = page.next_page_token;
    }
}

async fn runs(index: &VisibilityIndex, text: &str) -> Vec<String> {
    list_all(index, NS, text, 1000).await
}

async fn list_error(index: &VisibilityIndex, text: &str) -> IndexError {
    index.list(request(NS, text, 10, Vec::new())).await.expect_err(text)
}

async fn count(index: &VisibilityIndex, text: &str) -> Count {
    index.count(NS, &parse(text).expect("parses"), &custom()).await.unwrap_or_else(|e| panic!("{text}: {e}"))
}

// ---------------------------------------------------------------------------
// Applying

/// A deterministic log of updates of 40 runs in 3 namespaces: new versions,
/// stale versions arriving late, records published twice, search attribute
/// changes, closes, and deletions as each deleted run's last record.
fn generated_log() -> Vec<VisibilityRecord> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |bound: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    let mut latest: HashMap<usize, VisibilityRecord> = HashMap::new();
    let mut deleted: HashSet<usize> = HashSet::new();
    let mut log = Vec::new();
    for step in 0..400 {
        let run = next(40) as usize;
        if deleted.contains(&run) {
            continue;
        }
        let namespace = ["ns", "ns", "other"][run % 3];
        let record = match latest.get(&run) {
            None => {
                let mut record = running(&format!("wf-{}", run % 25), &format!("run-{run}"), (run as i64) * 7 % 50);
                record.namespace_id = namespace.into();
                record
            }
            Some(previous) => {
                let mut record = previous.clone();
                record.version += 1 + next(3) as i64;
                record.history_length += 2;
                match next(6) {
                    0 if record.close_time.is_none() => record = closed(record, Status::Completed, 100 + step as i64),
                    1 => record = with(record, "CustomIntField", typed("Int", &next(100).to_string())),
                    2 => {
                        record = with(
                            record,
                            "CustomKeywordListField",
                            typed("KeywordList", &format!("[\"k{}\", \"k{}\"]", next(5), next(5))),
                        )
                    }
                    3 => record = with(record, "CustomKeywordField", untyped(&format!("\"v{}\"", next(4)))),
                    _ => {}
                }
                record
            }
        };
        log.push(record.clone());
        match next(10) {
            // A stale version arrives late.
            0 if latest.contains_key(&run) => log.push(latest[&run].clone()),
            // Published twice.
            1 => log.push(record.clone()),
            // Retention ran out.
            2 if step > 200 => {
                deleted.insert(run);
                log.push(VisibilityRecord { deleted: true, version: i64::MAX, ..record.clone() });
            }
            _ => {}
        }
        latest.insert(run, record);
    }
    log
}

/// The whole visible content of an index: every namespace's listing in
/// several orders and filters, and each run as `get` returns it.
async fn snapshot(index: &VisibilityIndex) -> (Vec<String>, Vec<Option<VisibilityRecord>>) {
    let mut lines = Vec::new();
    let mut records = Vec::new();
    for namespace in ["ns", "other"] {
        for text in [
            "",
            "ORDER BY CustomIntField DESC, WorkflowId",
            "CustomKeywordListField IN ('k1', 'k3')",
            "CustomKeywordField = 'v2'",
        ] {
            lines.push(format!("{namespace} {text}: {:?}", list_all(index, namespace, text, 1000).await));
        }
        for run in 0..40 {
            records.push(index.get(namespace, &format!("run-{run}")).await.expect("get"));
        }
    }
    (lines, records)
}

#[tokio::test]
async fn replaying_from_empty_equals_the_incrementally_built_index() {
    let log = generated_log();
    let (_a_dir, incremental) = open();
    let batches: Vec<Vec<VisibilityRecord>> = log.chunks(7).map(<[_]>::to_vec).collect();
    let mut offset = 0;
    let mut ends = Vec::new();
    for batch in &batches {
        offset += batch.len() as u64;
        incremental.apply(0, batch.clone(), offset).await.expect("applied");
        assert_eq!(incremental.applied(0).await.expect("applied"), offset, "applied follows the batches");
        ends.push(offset);
    }
    let (_b_dir, replayed) = open();
    replayed.apply(0, log.clone(), log.len() as u64).await.expect("applied at once");
    let expected = snapshot(&replayed).await;
    assert!(expected.1.iter().filter(|record| record.is_some()).count() > 20, "the log leaves runs behind");
    assert!(expected.1.iter().filter(|record| record.is_none()).count() > 40, "the log deletes runs");
    assert_eq!(snapshot(&incremental).await, expected);

    // An old batch applied again (a replay after a crash) changes nothing.
    incremental.apply(0, batches[3].clone(), ends[3]).await.expect("applied again");
    incremental.apply(0, batches[batches.len() - 1].clone(), ends[ends.len() - 1]).await.expect("applied again");
    assert_eq!(incremental.applied(0).await.expect("applied"), log.len() as u64);
    assert_eq!(snapshot(&incremental).await, expected, "after applying batches twice");
    // The whole log again, past the stored offset: versions keep it unchanged.
    incremental.apply(0, log.clone(), 2 * log.len() as u64).await.expect("applied again");
    assert_eq!(snapshot(&incremental).await, expected, "after applying the log twice");
}

#[tokio::test]
async fn a_reopened_index_resumes_at_the_stored_offset() {
    let log = generated_log();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("nested").join("visibility.db");
    let (first, rest) = log.split_at(150);
    {
        let index = VisibilityIndex::open(&path).expect("opens");
        assert_eq!(index.applied(0).await.expect("applied"), 0, "new");
        assert_eq!(index.applied(3).await.expect("applied"), 0, "new");
        index.apply(0, first[..100].to_vec(), 100).await.expect("applied");
        index.apply(0, first[100..].to_vec(), 150).await.expect("applied");
        index.apply(1, Vec::new(), 42).await.expect("an empty batch moves the offset");
        // Dropped without a shutdown: what was committed stays.
    }
    let index = VisibilityIndex::open(&path).expect("reopens");
    assert_eq!(index.applied(0).await.expect("applied"), 150);
    assert_eq!(index.applied(1).await.expect("applied"), 42);
    index.apply(0, rest.to_vec(), log.len() as u64).await.expect("applied");
    let (_dir, replayed) = open();
    replayed.apply(0, log.clone(), log.len() as u64).await.expect("applied at once");
    assert_eq!(snapshot(&index).await, snapshot(&replayed).await);
}

#[tokio::test]
async fn versions_order_updates_and_deletion_removes_the_run() {
    let (_dir, index) = open();
    let mut feed = Feed::new(&index);
    let first = with(running("wf", "run", 0), "CustomKeywordField", typed("Keyword", "\"first\""));
    let mut second = with(first.clone(), "CustomKeywordField", typed("Keyword", "\"second\""));
    second.version = 5;
    feed.push(vec![first.clone(), second.clone()]).await;
    feed.push(vec![first.clone()]).await;
    assert_eq!(
        index.get(NS, "run").await.expect("get"),
        Some(second.clone()),
        "a lower version never overwrites a higher one"
    );
    assert_eq!(runs(&index, "CustomKeywordField = 'first'").await, Vec::<String>::new());
    let mut same_version = with(second.clone(), "CustomKeywordField", typed("Keyword", "\"third\""));
    same_version.history_length = 9;
    feed.push(vec![same_version.clone()]).await;
    assert_eq!(index.get(NS, "run").await.expect("get"), Some(same_version.clone()), "an equal version replaces");
    assert_eq!(runs(&index, "CustomKeywordField = 'third'").await, ["run"]);

    feed.push(vec![VisibilityRecord { deleted: true, version: i64::MAX, ..same_version.clone() }]).await;
    assert_eq!(index.get(NS, "run").await.expect("get"), None);
    assert_eq!(runs(&index, "").await, Vec::<String>::new());
    assert_eq!(count(&index, "CustomKeywordField IS NOT NULL").await, Count::Total(0));
    let leftovers: i64 = index
        .inner
        .with_reader(|reader| Ok(reader.query_row("SELECT COUNT(*) FROM search_attributes", [], |row| row.get(0))?))
        .expect("counted");
    assert_eq!(leftovers, 0, "the run's attribute values are gone");
}

#[tokio::test]
async fn waiting_for_an_offset_ends_when_applied_or_at_the_deadline() {
    let (_dir, index) = open();
    let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(50);
    assert!(!index.wait_applied(0, 1, soon).await, "nothing applied");
    assert!(index.wait_applied(0, 0, soon).await, "nothing to wait for");
    let waiting = {
        let index = index.clone();
        tokio::spawn(async move {
            index.wait_applied(0, 3, tokio::time::Instant::now() + std::time::Duration::from_secs(10)).await
        })
    };
    tokio::task::yield_now().await;
    index.apply(0, vec![running("wf", "run", 0)], 3).await.expect("applied");
    assert!(waiting.await.expect("waited"), "woken by the apply");
}

// ---------------------------------------------------------------------------
// Filtering

/// a, e: running; b, c, d: closed; f: a scheduler's (namespace division);
/// and a run of another namespace. Default order: e, a, d, b, c.
async fn fixture() -> (tempfile::TempDir, Arc<VisibilityIndex>) {
    let (dir, index) = open();
    let mut a = running("order-1", "a", 10);
    a.workflow_type = "OrderWorkflow".into();
    a.task_queue = "orders".into();
    a.history_length = 5;
    a.history_size_bytes = 500;
    a.state_transition_count = 4;
    let a = [
        ("CustomKeywordField", typed("Keyword", "\"gold\"")),
        ("CustomIntField", typed("Int", "10")),
        ("CustomDoubleField", typed("Double", "1.5")),
        ("CustomBoolField", typed("Bool", "true")),
        ("CustomDatetimeField", typed("Datetime", "\"2024-01-01T00:00:00Z\"")),
        ("CustomStringField", typed("Text", "\"The quick brown fox\"")),
        ("CustomKeywordListField", typed("KeywordList", "[\"red\", \"green\"]")),
        ("TemporalChangeVersion", typed("KeywordList", "[\"v1\", \"v2\"]")),
    ]
    .into_iter()
    .fold(a, |record, (name, payload)| with(record, name, payload));

    let mut b = running("order-2", "b", 20);
    b.workflow_type = "OrderWorkflow".into();
    b.task_queue = "orders".into();
    b.history_length = 12;
    let b = [
        ("CustomKeywordField", typed("INDEXED_VALUE_TYPE_KEYWORD", "\"silver\"")),
        ("CustomIntField", typed("Int", "20")),
        ("CustomDoubleField", typed("Double", "2")),
        ("CustomBoolField", typed("Bool", "false")),
        ("CustomDatetimeField", typed("Datetime", "\"2024-06-01T12:00:00+02:00\"")),
        ("CustomStringField", typed("Text", "\"lazy dog\"")),
        ("CustomKeywordListField", typed("KeywordList", "[\"blue\"]")),
        ("BuildIds", typed("KeywordList", "[\"b1\"]")),
    ]
    .into_iter()
    .fold(b, |record, (name, payload)| with(record, name, payload));
    let b = closed(b, Status::Completed, 80);

    let mut c = running("ship-1", "c", 30);
    c.workflow_type = "ShipWorkflow".into();
    c.task_queue = "ships".into();
    c.history_length = 7;
    c.parent = Some(ParentExecution {
        namespace_id: NS.into(),
        workflow_id: "order-1".into(),
        run_id: "a".into(),
        root_workflow_id: "order-1".into(),
        root_run_id: "a".into(),
        ..Default::default()
    });
    let c = closed(c, Status::Failed, 40);

    let mut d = running("ship-2", "d", 40);
    d.workflow_type = "ShipWorkflow".into();
    d.task_queue = "ships".into();
    d.parent = Some(ParentExecution {
        namespace_id: NS.into(),
        workflow_id: "ship-1".into(),
        run_id: "c".into(),
        root_workflow_id: "order-1".into(),
        root_run_id: "a".into(),
        ..Default::default()
    });
    let d = [
        ("CustomKeywordField", untyped("\"gold\"")),
        ("CustomIntField", untyped("30")),
        ("CustomDatetimeField", untyped("\"2025-01-01T00:00:00Z\"")),
    ]
    .into_iter()
    .fold(d, |record, (name, payload)| with(record, name, payload));
    let d = closed(d, Status::Terminated, 3640);

    let mut e = running("misc", "e", 50);
    e.workflow_type = "Misc".into();
    // Values that do not fit their declared types are not indexed.
    let e = with(e, "CustomIntField", typed("Int", "\"not a number\""));
    let e = with(e, "CustomBoolField", typed("Bool", "1"));
    let e = with(e, "CustomDoubleField", Payload { data: b"{not json".to_vec(), ..typed("Double", "") });

    let f = with(running("sched", "f", 60), "TemporalNamespaceDivision", typed("Keyword", "\"TemporalScheduler\""));
    let other = VisibilityRecord { namespace_id: "ns2".into(), ..running("order-1", "x", 10) };

    Feed::new(&index).push(vec![a, b, c, d, e, f, other]).await;
    (dir, index)
}

async fn assert_lists(index: &VisibilityIndex, cases: &[(&str, &[&str])]) {
    for (text, expected) in cases {
        assert_eq!(runs(index, text).await, *expected, "{text}");
    }
}

#[tokio::test]
async fn filters_on_system_attributes() {
    let (_dir, index) = fixture().await;
    let t25 = format_rfc3339(at(25));
    let t20 = format_rfc3339(at(20));
    let t30 = format_rfc3339(at(30));
    let b_start = format_rfc3339(at(20));
    // The same instant as at(25), written at +02:00.
    let t25_offset = {
        let utc = format_rfc3339(at(25) + 2 * 3600 * SECOND);
        format!("{}+02:00", utc.trim_end_matches('Z'))
    };
    let queries = [
        ("".to_owned(), vec!["e", "a", "d", "b", "c"]),
        ("WorkflowId = 'order-1'".into(), vec!["a"]),
        ("RunId = 'c'".into(), vec!["c"]),
        ("WorkflowType = 'ShipWorkflow'".into(), vec!["d", "c"]),
        ("WorkflowType STARTS_WITH 'Order'".into(), vec!["a", "b"]),
        ("WorkflowType STARTS_WITH 'order'".into(), vec![]),
        ("WorkflowId NOT STARTS_WITH 'order'".into(), vec!["e", "d", "c"]),
        ("WorkflowId STARTS_WITH '%'".into(), vec![]),
        ("WorkflowId > 'order-2'".into(), vec!["d", "c"]),
        ("WorkflowId IN ('order-1', 'misc')".into(), vec!["e", "a"]),
        ("WorkflowId NOT IN ('order-1', 'misc')".into(), vec!["d", "b", "c"]),
        ("ExecutionStatus = 'Running'".into(), vec!["e", "a"]),
        ("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_COMPLETED'".into(), vec!["b"]),
        ("ExecutionStatus = 3".into(), vec!["c"]),
        ("ExecutionStatus IN ('Failed', 'Terminated')".into(), vec!["d", "c"]),
        ("ExecutionStatus != 'Running'".into(), vec!["d", "b", "c"]),
        (format!("StartTime > '{t25}'"), vec!["e", "d", "c"]),
        (format!("StartTime > '{t25_offset}'"), vec!["e", "d", "c"]),
        (format!("StartTime >= {}", at(40)), vec!["e", "d"]),
        (format!("StartTime BETWEEN '{t20}' AND '{t30}'"), vec!["b", "c"]),
        (format!("StartTime NOT BETWEEN '{t20}' AND '{t30}'"), vec!["e", "a", "d"]),
        ("CloseTime IS NULL".into(), vec!["e", "a"]),
        ("CloseTime IS NOT NULL".into(), vec!["d", "b", "c"]),
        (format!("CloseTime > '{}'", format_rfc3339(at(50))), vec!["d", "b"]),
        (format!("ExecutionTime = '{b_start}'"), vec!["b"]),
        ("ExecutionDuration > '1m'".into(), vec!["d"]),
        ("ExecutionDuration >= '00:01:00'".into(), vec!["d", "b"]),
        ("ExecutionDuration = 10000000000".into(), vec!["c"]),
        ("ExecutionDuration < '1d'".into(), vec!["d", "b", "c"]),
        ("ExecutionDuration = '1h'".into(), vec!["d"]),
        ("HistoryLength > 6".into(), vec!["b", "c"]),
        ("HistoryLength > 6.5".into(), vec!["b", "c"]),
        ("HistorySizeBytes = 500".into(), vec!["a"]),
        ("StateTransitionCount >= 4".into(), vec!["a"]),
        ("TaskQueue = 'ships'".into(), vec!["d", "c"]),
        ("ParentWorkflowId = 'order-1'".into(), vec!["c"]),
        ("ParentWorkflowId IS NULL".into(), vec!["e", "a", "b"]),
        ("ParentRunId = 'c'".into(), vec!["d"]),
        ("RootWorkflowId = 'order-1'".into(), vec!["a", "d", "c"]),
        ("RootRunId = 'b'".into(), vec!["b"]),
        ("RootWorkflowId = 'misc'".into(), vec!["e"]),
        (
            "(WorkflowType = 'OrderWorkflow' OR TaskQueue = 'ships') AND NOT ExecutionStatus = 'Failed'".into(),
            vec!["a", "d", "b"],
        ),
        ("WorkflowId = 'a''; DROP TABLE executions; --'".into(), vec![]),
    ];
    for (text, expected) in &queries {
        assert_eq!(runs(&index, text).await, *expected, "{text}");
    }
    assert_eq!(runs(&index, "").await.len(), 5, "the table survived the quote");
    assert_eq!(list_all(&index, "ns2", "WorkflowId = 'order-1'", 10).await, ["x"], "scoped to the namespace");
}

#[tokio::test]
async fn filters_on_custom_and_predefined_attributes() {
    let (_dir, index) = fixture().await;
    assert_lists(
        &index,
        &[
            ("CustomKeywordField = 'gold'", &["a", "d"]),
            ("CustomKeywordField != 'gold'", &["b"]),
            ("NOT CustomKeywordField = 'gold'", &["b"]),
            ("CustomKeywordField IS NULL", &["e", "c"]),
            ("CustomKeywordField IS NOT NULL", &["a", "d", "b"]),
            ("CustomKeywordField STARTS_WITH 'si'", &["b"]),
            ("CustomKeywordField > 'h'", &["b"]),
            ("CustomKeywordField IN ('silver', 'bronze')", &["b"]),
            ("CustomIntField > 15", &["d", "b"]),
            ("CustomIntField IS NULL", &["e", "c"]),
            ("CustomIntField BETWEEN 10 AND 20", &["a", "b"]),
            ("CustomIntField = 10.0", &["a"]),
            ("CustomIntField IN (20, 30)", &["d", "b"]),
            ("CustomDoubleField >= 2", &["b"]),
            ("CustomDoubleField < 1.6", &["a"]),
            ("CustomDoubleField IS NULL", &["e", "d", "c"]),
            ("CustomBoolField = true", &["a"]),
            ("CustomBoolField = false", &["b"]),
            ("CustomBoolField != true", &["b"]),
            ("CustomBoolField IS NULL", &["e", "d", "c"]),
            ("CustomDatetimeField > '2024-03-01T00:00:00Z'", &["d", "b"]),
            ("CustomDatetimeField = '2024-06-01T10:00:00Z'", &["b"]),
            ("CustomDatetimeField = '2024-06-01T10:00:00.000000000Z'", &["b"]),
            ("CustomDatetimeField BETWEEN '2023-01-01T00:00:00Z' AND '2024-12-31T00:00:00Z'", &["a", "b"]),
            ("CustomStringField = 'fox'", &["a"]),
            ("CustomStringField = 'QUICK'", &["a"]),
            ("CustomStringField = 'cat dog'", &["b"]),
            ("CustomStringField = 'brown-fox'", &["a"]),
            ("CustomStringField = 'fox-brown'", &[]),
            ("CustomStringField != 'fox'", &["e", "d", "b", "c"]),
            ("CustomKeywordListField = 'green'", &["a"]),
            ("CustomKeywordListField IN ('blue', 'green')", &["a", "b"]),
            ("CustomKeywordListField != 'blue'", &["e", "a", "d", "c"]),
            ("CustomKeywordListField NOT IN ('red', 'blue')", &["e", "d", "c"]),
            ("CustomKeywordListField IS NULL", &["e", "d", "c"]),
            ("TemporalChangeVersion = 'v2'", &["a"]),
            ("ChangeVersion = 'v1'", &["a"]),
            ("BuildIds = 'b1'", &["b"]),
            ("BuildIds IS NULL", &["e", "a", "d", "c"]),
            ("TemporalNamespaceDivision = 'TemporalScheduler'", &["f"]),
            (
                "TemporalNamespaceDivision IS NULL OR TemporalNamespaceDivision IS NOT NULL",
                &["f", "e", "a", "d", "b", "c"],
            ),
            ("ORDER BY TemporalNamespaceDivision", &["f", "a", "b", "c", "d", "e"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn long_chains_of_conditions_are_fine() {
    let (_dir, index) = fixture().await;
    let ors: Vec<String> = (0..900).map(|i| format!("HistoryLength = {i}")).collect();
    assert_eq!(runs(&index, &ors.join(" OR ")).await, ["e", "a", "d", "b", "c"]);
    let ands: Vec<String> = (0..900).map(|i| format!("HistoryLength != {}", 100 + i)).collect();
    assert_eq!(runs(&index, &ands.join(" AND ")).await, ["e", "a", "d", "b", "c"]);
}

// ---------------------------------------------------------------------------
// Ordering and paging

#[tokio::test]
async fn orders_by_system_and_custom_attributes() {
    let (_dir, index) = fixture().await;
    let cases: &[(&str, &[&str])] = &[
        ("ORDER BY StartTime", &["a", "b", "c", "d", "e"]),
        ("ORDER BY StartTime ASC", &["a", "b", "c", "d", "e"]),
        ("ORDER BY StartTime DESC", &["e", "d", "c", "b", "a"]),
        ("ORDER BY CloseTime DESC", &["d", "b", "c", "a", "e"]),
        ("ORDER BY CloseTime", &["c", "b", "d", "a", "e"]),
        ("ORDER BY CustomIntField", &["a", "b", "d", "c", "e"]),
        ("ORDER BY CustomIntField DESC", &["d", "b", "a", "c", "e"]),
        ("ORDER BY WorkflowType, StartTime DESC", &["e", "b", "a", "d", "c"]),
        ("ORDER BY CustomKeywordListField DESC", &["a", "b", "c", "d", "e"]),
        ("ORDER BY CustomKeywordListField", &["b", "a", "c", "d", "e"]),
        ("ORDER BY ExecutionStatus DESC", &["d", "c", "b", "a", "e"]),
        ("ORDER BY CustomBoolField, CustomDatetimeField DESC", &["b", "a", "d", "c", "e"]),
        ("ORDER BY CustomDatetimeField DESC", &["d", "b", "a", "c", "e"]),
        ("ORDER BY CustomDoubleField DESC", &["b", "a", "c", "d", "e"]),
        ("ORDER BY ParentWorkflowId, RunId DESC", &["c", "d", "e", "b", "a"]),
        ("WorkflowType = 'OrderWorkflow' ORDER BY HistoryLength DESC", &["b", "a"]),
    ];
    for (text, expected) in cases {
        assert_eq!(runs(&index, text).await, *expected, "{text}");
        for page_size in [1, 2, 3] {
            assert_eq!(list_all(&index, NS, text, page_size).await, *expected, "{text} in pages of {page_size}");
        }
    }
}

#[tokio::test]
async fn pages_visit_every_run_once_while_runs_arrive() {
    let (_dir, index) = open();
    let mut feed = Feed::new(&index);
    // Start times repeat, so the run id breaks ties; every fifth run is closed.
    let records: Vec<VisibilityRecord> = (0..1100)
        .map(|i| {
            let record = with(
                running(&format!("wf-{i}"), &format!("run-{i:04}"), i / 3),
                "CustomIntField",
                typed("Int", &(i % 7).to_string()),
            );
            if i % 5 == 0 { closed(record, Status::Completed, 2000 + i % 13) } else { record }
        })
        .collect();
    for chunk in records.chunks(250) {
        feed.push(chunk.to_vec()).await;
    }
    for text in ["", "ORDER BY CustomIntField DESC", "ExecutionStatus = 'Running' ORDER BY StartTime"] {
        let mut seen: Vec<String> = Vec::new();
        let mut token = Vec::new();
        let mut pages = 0;
        loop {
            let page = index.list(request(NS, text, 100, token)).await.expect("a page");
            pages += 1;
            assert!(page.executions.len() <= 100);
            seen.extend(page.executions.iter().map(|r| r.run_id.clone()));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
            // New runs arrive between pages: later starts (sorting before the
            // cursor by default) and earlier ones, running and closed.
            let arriving = (0..3)
                .map(|j| {
                    let n = pages * 10 + j;
                    let start = if j == 0 { 5000 + n } else { -n };
                    let record = running(&format!("new-{text}-{n}"), &format!("new-{text}-{n}"), start);
                    if j == 2 { closed(record, Status::Failed, 1) } else { record }
                })
                .collect();
            feed.push(arriving).await;
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{text}: no run listed twice");
        let originals = seen.iter().filter(|run| run.starts_with("run-")).count();
        let expected_originals = if text.starts_with("ExecutionStatus") { 880 } else { 1100 };
        assert_eq!(originals, expected_originals, "{text}: every run listed");
        assert!(pages >= 9, "{text}: {pages} pages");
    }
}

#[tokio::test]
async fn page_sizes_default_and_cap_at_temporals_maximum() {
    let (_dir, index) = open();
    let records: Vec<VisibilityRecord> =
        (0..1100).map(|i| running(&format!("wf-{i}"), &format!("run-{i}"), i)).collect();
    Feed::new(&index).push(records).await;
    for page_size in [0, 5000] {
        let page = index.list(request(NS, "", page_size, Vec::new())).await.expect("a page");
        assert_eq!(page.executions.len(), MAX_PAGE_SIZE, "page size {page_size}");
        let rest = index.list(request(NS, "", page_size, page.next_page_token)).await.expect("a page");
        assert_eq!(rest.executions.len(), 100);
        assert!(rest.next_page_token.is_empty(), "the last page has no token");
    }
    let exact = index.list(request(NS, "StartTime >= 0", 1100, Vec::new())).await.expect("a page");
    assert_eq!(exact.executions.len(), 1000);
    let small = index.list(request(NS, "WorkflowId = 'wf-3'", 1, Vec::new())).await.expect("a page");
    assert_eq!(small.executions.len(), 1);
    assert!(small.next_page_token.is_empty(), "one match fills one page of one: no token");
}

#[tokio::test]
async fn a_foreign_or_malformed_page_token_is_refused() {
    let (_dir, index) = fixture().await;
    let page = index.list(request(NS, "", 2, Vec::new())).await.expect("a page");
    assert!(!page.next_page_token.is_empty());
    let token = page.next_page_token;
    let next = index
        .list(request(NS, "ExecutionStatus != 'Failed'", 2, token.clone()))
        .await
        .expect("another filter, same order");
    assert_eq!(next.executions.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["d", "b"]);
    for (namespace, text, token) in [
        ("ns2", "", token.clone()),
        (NS, "ORDER BY StartTime", token.clone()),
        (NS, "", b"garbage".to_vec()),
        (NS, "", b"{\"v\":1}".to_vec()),
        (NS, "", vec![0xff, 0x00]),
    ] {
        let error = index.list(request(namespace, text, 2, token)).await.expect_err("refused");
        assert!(matches!(error, IndexError::InvalidPageToken(_)), "{namespace} {text}: {error:?}");
    }
}

// ---------------------------------------------------------------------------
// Counting

#[tokio::test]
async fn counts_in_total_and_by_status() {
    let (_dir, index) = fixture().await;
    assert_eq!(count(&index, "").await, Count::Total(5));
    assert_eq!(count(&index, "WorkflowType = 'ShipWorkflow'").await, Count::Total(2));
    assert_eq!(count(&index, "CustomKeywordListField = 'red' ORDER BY StartTime").await, Count::Total(1));
    assert_eq!(count(&index, "TemporalNamespaceDivision IS NOT NULL").await, Count::Total(1));
    assert_eq!(count(&index, "GROUP BY ExecutionStatus").await, Count::ByStatus(vec![(1, 2), (2, 1), (3, 1), (5, 1)]));
    assert_eq!(
        count(&index, "ExecutionStatus != 'Running' GROUP BY ExecutionStatus").await,
        Count::ByStatus(vec![(2, 1), (3, 1), (5, 1)])
    );
    assert_eq!(count(&index, "WorkflowId = 'none' GROUP BY ExecutionStatus").await, Count::ByStatus(vec![]));
    let other = index.count("ns2", &parse("").expect("parses"), &custom()).await.expect("counted");
    assert_eq!(other, Count::Total(1));
}

// ---------------------------------------------------------------------------
// Refusing

#[tokio::test]
async fn bad_queries_say_where_and_what_to_fix() {
    let (_dir, index) = fixture().await;
    let cases: &[(&str, &str, &str)] = &[
        ("Foo = 'x'", "Foo", "'Foo' is not a valid search attribute"),
        (
            "WorkflowId = 'a' AND HistoryLength = 'abc'",
            "'abc'",
            "invalid value 'abc' for search attribute 'HistoryLength' of type Int: expected a number",
        ),
        ("StartTime > 'yesterday'", "'yesterday'", "of type Datetime: expected an RFC 3339 time"),
        ("StartTime > 1.5", "1.5", "of type Datetime"),
        (
            "HistoryLength STARTS_WITH '1'",
            "HistoryLength",
            "operator 'STARTS_WITH' is not supported for Int search attribute 'HistoryLength'",
        ),
        (
            "ExecutionStatus = 'Bogus'",
            "'Bogus'",
            "invalid ExecutionStatus value 'Bogus': expected one of 'Running', 'Completed'",
        ),
        ("ExecutionStatus = 42", "42", "expected one of"),
        ("ExecutionStatus STARTS_WITH 'Run'", "ExecutionStatus", "STARTS_WITH"),
        ("ExecutionDuration > 'soon'", "'soon'", "expected nanoseconds (an integer) or a duration such as '1h30m'"),
        ("ExecutionDuration > 1.5", "1.5", "ExecutionDuration"),
        ("CustomBoolField = 'yes'", "'yes'", "of type Bool: expected true or false"),
        ("CustomBoolField BETWEEN true AND false", "CustomBoolField", "operator 'BETWEEN' is not supported for Bool"),
        (
            "CustomKeywordListField > 'a'",
            "CustomKeywordListField",
            "operator '>' is not supported for KeywordList search attribute",
        ),
        ("CustomKeywordListField STARTS_WITH 'a'", "CustomKeywordListField", "not supported for KeywordList"),
        ("CustomStringField IN ('a')", "CustomStringField", "operator 'IN' is not supported for Text"),
        ("CustomStringField = '   '", "'   '", "has no words to match"),
        ("WorkflowId = 5", "5", "of type Keyword: expected a string in quotes"),
        ("CustomIntField = true", "true", "of type Int: expected a number"),
        (
            "ORDER BY CustomStringField",
            "CustomStringField",
            "cannot sort by 'CustomStringField': it is a Text search attribute",
        ),
        ("ORDER BY StartTime, Nope DESC", "Nope", "'Nope' is not a valid search attribute"),
        ("GROUP BY ExecutionStatus", "ExecutionStatus", "GROUP BY is only supported when counting"),
        ("NamespaceId = 'ns'", "NamespaceId", "not a valid search attribute"),
    ];
    for (text, at, message) in cases {
        let error = list_error(&index, text).await;
        let position = text.find(at).expect("the culprit is in the query");
        match &error {
            IndexError::InvalidQuery { position: found, message: said } => {
                assert_eq!(*found, position, "{text}: {said}");
                assert!(said.contains(message), "{text}: {said}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let count_cases: &[(&str, &str, &str)] = &[
        ("GROUP BY WorkflowType", "WorkflowType", "GROUP BY is only supported for ExecutionStatus, not 'WorkflowType'"),
        ("GROUP BY ExecutionStatus, WorkflowType", "WorkflowType", "GROUP BY supports only a single field"),
        ("GROUP BY Nope", "Nope", "not a valid search attribute"),
        ("HistoryLength = 'x' GROUP BY ExecutionStatus", "'x'", "expected a number"),
    ];
    for (text, at, message) in count_cases {
        let error = index.count(NS, &parse(text).expect("parses"), &custom()).await.expect_err(text);
        let IndexError::InvalidQuery { position, message: said } = &error else { panic!("{text}: {error:?}") };
        assert_eq!(*position, text.find(at).expect("in the query"), "{text}: {said}");
        assert!(said.contains(message), "{text}: {said}");
    }
    // A custom attribute the namespace did not register is unknown.
    let unregistered =
        ListRequest { attributes: HashMap::new(), ..request(NS, "CustomKeywordField = 'gold'", 10, Vec::new()) };
    let error = index.list(unregistered).await.expect_err("unknown");
    assert!(matches!(error, IndexError::InvalidQuery { position: 0, .. }), "{error:?}");
    assert!(error.to_string().ends_with("at position 0"), "{error}");
}

// ---------------------------------------------------------------------------
// Values

#[test]
fn parses_rfc3339_like_go() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(T0));
    assert_eq!(parse_rfc3339("2023-11-15T00:13:20+02:00"), Some(T0));
    assert_eq!(parse_rfc3339("2023-11-14T21:13:20-01:00"), Some(T0));
    assert_eq!(parse_rfc3339("2023-11-14T22:13:20.5Z"), Some(T0 + SECOND / 2));
    assert_eq!(parse_rfc3339("2023-11-14T22:13:20.123456789123Z"), Some(T0 + 123_456_789));
    assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-SECOND));
    for bad in [
        "2023-02-29T00:00:00Z",
        "2023-11-14 22:13:20Z",
        "2023-11-14T22:13:20",
        "2023-11-14T24:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20+0200",
        "9999-12-31T23:59:59Z",
        "yesterday",
        "",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    assert_eq!(format_rfc3339(T0 + 5), "2023-11-14T22:13:20.000000005Z");
    assert_eq!(parse_rfc3339(&format_rfc3339(-123_456_789_012)), Some(-123_456_789_012));
}

#[test]
fn parses_execution_durations_like_temporal() {
    let cases: &[(&str, Option<i64>)] = &[
        ("1000", Some(1000)),
        ("-5", Some(-5)),
        ("300ms", Some(300_000_000)),
        ("-1.5h", Some(-5400 * SECOND)),
        ("2h45m", Some((2 * 3600 + 45 * 60) * SECOND)),
        ("1d", Some(86_400 * SECOND)),
        ("1.5d", Some(129_600 * SECOND)),
        ("1d12h", Some(129_600 * SECOND)),
        ("1us", Some(1000)),
        ("1µs", Some(1000)),
        ("0", Some(0)),
        (".5s", Some(SECOND / 2)),
        ("01:30:00", Some(5400 * SECOND)),
        ("100:00:59", Some((100 * 3600 + 59) * SECOND)),
        ("00:60:00", None),
        ("1", Some(1)),
        ("1x", None),
        ("s", None),
        ("", None),
        ("soon", None),
        ("300000000h", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_execution_duration(text), *expected, "{text}");
    }
}

#[test]
fn matches_text_by_words() {
    assert!(text_matches("The quick brown fox", "fox"));
    assert!(text_matches("The quick brown fox", "FOX"));
    assert!(text_matches("The quick brown fox", "cat fox"));
    assert!(text_matches("The quick, brown fox!", "quick,brown"));
    assert!(text_matches("The quick brown fox", "brown quick"), "any of the words");
    assert!(!text_matches("The quick brown fox", "quick,fox"), "a phrase");
    assert!(!text_matches("The quick brown fox", "qui"));
    assert!(!text_matches("", "fox"));
    assert!(!text_matches("fox", "  "));
}

#[test]
fn decodes_search_attribute_payloads() {
    use super::values::{Kind, decode_search_attribute};
    use rusqlite::types::Value as V;
    let decode = |payload: &Payload| decode_search_attribute("Name", payload);
    assert_eq!(decode(&typed("Keyword", "\"x\"")), [(Kind::String, V::Text("x".into()))]);
    assert_eq!(
        decode(&typed("KeywordList", "[\"x\", \"y\"]")),
        [(Kind::String, V::Text("x".into())), (Kind::String, V::Text("y".into()))]
    );
    assert_eq!(decode(&typed("Int", "7")), [(Kind::Number, V::Integer(7))]);
    assert_eq!(decode(&typed("Int", "7.5")), []);
    assert_eq!(decode(&typed("Double", "7.5")), [(Kind::Number, V::Real(7.5))]);
    assert_eq!(decode(&typed("Bool", "true")), [(Kind::Bool, V::Integer(1))]);
    assert_eq!(decode(&typed("Datetime", "\"1970-01-01T00:00:01Z\"")), [(Kind::Datetime, V::Integer(SECOND))]);
    assert_eq!(decode(&typed("Datetime", "\"later\"")), []);
    assert_eq!(
        decode(&untyped("\"1970-01-01T00:00:01Z\"")),
        [(Kind::String, V::Text("1970-01-01T00:00:01Z".into())), (Kind::Datetime, V::Integer(SECOND))]
    );
    assert_eq!(decode(&untyped("[1, 2]")), []);
    assert_eq!(decode(&untyped("null")), []);
    assert_eq!(decode(&untyped("{\"a\": 1}")), []);
    let null =
        Payload { metadata: HashMap::from([("encoding".to_owned(), b"binary/null".to_vec())]), ..Default::default() };
    assert_eq!(decode(&null), []);
    let protobuf = Payload {
        metadata: HashMap::from([("encoding".to_owned(), b"binary/protobuf".to_vec())]),
        data: vec![1],
        ..Default::default()
    };
    assert_eq!(decode(&protobuf), []);
}
