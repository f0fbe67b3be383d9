//! The behaviour every [`Store`] adapter must show.
//!
//! An adapter's tests provide a [`StoreFactory`] and either call [`run_all`]
//! or list the checks below as separate tests:
//!
//! ```text
//! #[tokio::test]
//! async fn store_a_stale_commit_is_refused_and_applies_nothing() {
//!     conformance::a_stale_commit_is_refused_and_applies_nothing(&MyStoreFactory::new()).await;
//! }
//! ```
//!
//! Each check expects a factory of its own, whose store starts empty.

use std::sync::Arc;

use async_trait::async_trait;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::records::{
    CurrentRun, ExecutionInfo, NamespaceRecord, OutboxRecord, ShardInfo, TaskRecord, TimerTask,
    WorkflowMutableState, outbox_record,
};

use super::{Member, MemberRole, RunKey, ShardCommit, ShardId, Store, StoreError, TimerKey};
use crate::log::LogName;
use crate::log::conformance::run_check;
use crate::time::timestamp_from_nanos;

#[async_trait]
pub trait StoreFactory: Send + Sync {
    /// Opens the store under test. The first call sees an empty store; a
    /// later call, made once every handle from the previous one is dropped,
    /// must see the same data (that is how durability is checked).
    async fn open(&self) -> Arc<dyn Store>;
}

/// Runs every check, each with a fresh factory from `new_factory`.
pub async fn run_all<F: StoreFactory>(new_factory: impl Fn() -> F) {
    macro_rules! run {
        ($($check:ident),* $(,)?) => {
            $(run_check("store", stringify!($check), $check(&new_factory())).await;)*
        };
    }
    crate::with_store_checks!(run {});
}

/// Calls `$then!` with `$prefix` followed by the name of every check, so an
/// adapter's tests can list each check as a test of its own without
/// repeating the list: `with_store_checks!(my_tests { some prefix: })`.
#[macro_export]
macro_rules! with_store_checks {
    ($then:ident { $($prefix:tt)* }) => {
        $then!(
            $($prefix)*
            init_shards_refuses_a_different_count,
            acquire_shard_raises_the_epoch,
            a_commit_applies_every_part,
            a_stale_commit_is_refused_and_applies_nothing,
            history_reads_ranges_and_rewrites_are_idempotent,
            ids_never_collide_whatever_their_characters,
            timers_load_earliest_first_before_the_bound,
            outbox_reads_from_a_sequence_and_a_commit_deletes_a_range,
            namespaces_are_unique_by_name_and_listed_by_name,
            a_namespace_update_needs_the_version_it_was_made_from,
            of_concurrent_namespace_updates_exactly_one_wins,
            a_renamed_namespace_frees_its_name_and_keeps_its_id,
            a_namespace_is_deleted_only_at_the_version_read,
            consumer_offsets_are_kept_per_consumer_log_and_partition,
            everything_survives_reopen,
            concurrent_commits_to_different_shards_all_succeed,
            deleting_a_run_removes_its_state_history_and_pointer,
            deleting_a_run_keeps_a_pointer_to_a_newer_run,
            deleting_a_run_is_fenced_and_idempotent,
            members_are_live_until_their_heartbeat_expires,
            a_member_that_leaves_is_gone_at_once,
            member_roles_are_kept_apart,
            take_shard_needs_the_expected_epoch_and_records_the_owner,
            release_shard_clears_the_owner_only_at_its_epoch,
            of_two_engines_racing_to_take_a_shard_exactly_one_wins,
        );
    };
}

pub async fn init_shards_refuses_a_different_count(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(4).await.expect("first init_shards");
    store.init_shards(4).await.expect("init_shards with the same count again");
    match store.init_shards(5).await {
        Err(StoreError::ShardCountMismatch { stored: 4, requested: 5 }) => {}
        other => panic!("init_shards(5) after init_shards(4): expected ShardCountMismatch, got {other:?}"),
    }
}

pub async fn acquire_shard_raises_the_epoch(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(4).await.expect("init_shards");
    let fresh = ShardInfo { shard_id: 2, epoch: 1, applied_offset: -1, next_outbox_seq: 0, owner: String::new() };
    assert_eq!(acquire(&store, 2).await, fresh, "a new shard starts at epoch 0 with nothing applied");
    assert_eq!(acquire(&store, 2).await.epoch, 2);
    assert_eq!(acquire(&store, 3).await.epoch, 1, "epochs are per shard");
    match store.acquire_shard(4).await {
        Err(StoreError::NoSuchShard(4)) => {}
        other => panic!("acquiring shard 4 of 4: expected NoSuchShard, got {other:?}"),
    }
}

pub async fn a_commit_applies_every_part(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(4).await.expect("init_shards");
    let epoch = acquire(&store, 1).await.epoch;
    let sample = Sample::new("ns", "wf", "run-1");
    commit(&store, sample.commit(1, epoch)).await;
    sample.assert_committed(&store, 1).await;

    assert_eq!(store.get_execution(0, &sample.run).await.expect("get_execution"), None, "executions are per shard");
    let shard = acquire(&store, 1).await;
    assert_eq!((shard.applied_offset, shard.next_outbox_seq), (7, 2), "the shard row records the commit");
}

pub async fn a_stale_commit_is_refused_and_applies_nothing(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(4).await.expect("init_shards");
    let stale = acquire(&store, 1).await.epoch;
    let current = acquire(&store, 1).await.epoch;
    let sample = Sample::new("ns", "wf", "run-1");
    match store.commit(sample.commit(1, stale)).await {
        Err(StoreError::ShardOwnershipLost { shard_id: 1, expected, current: found })
            if expected == stale && found == current => {}
        other => panic!(
            "a commit with epoch {stale} while {current} owns the shard: expected ShardOwnershipLost, got {other:?}"
        ),
    }
    assert_eq!(store.get_execution(1, &sample.run).await.expect("get_execution"), None);
    assert_eq!(store.get_current_run(1, &sample.run.workflow()).await.expect("get_current_run"), None);
    assert!(store.load_timers(1, &TimerKey::earliest_at(i64::MIN), i64::MAX, 100).await.expect("load_timers").is_empty());
    assert!(store.read_outbox(1, 0, 100).await.expect("read_outbox").is_empty());
    let shard = acquire(&store, 1).await;
    assert_eq!((shard.applied_offset, shard.next_outbox_seq), (-1, 0), "a refused commit leaves the shard row alone");

    match store.commit(Sample::new("ns", "wf", "run-9").commit(9, 1)).await {
        Err(StoreError::NoSuchShard(9)) => {}
        other => panic!("a commit to shard 9 of 4: expected NoSuchShard, got {other:?}"),
    }
}

pub async fn history_reads_ranges_and_rewrites_are_idempotent(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(1).await.expect("init_shards");
    let epoch = acquire(&store, 0).await.epoch;
    let run = run_key("ns", "wf", "run");
    // Shares a prefix with `run`'s id: must not leak into its history.
    let longer = run_key("ns", "wf", "run-2");
    let history = vec![(run.clone(), events(1..=10)), (longer.clone(), events(1..=3))];
    commit(&store, ShardCommit { shard_id: 0, epoch, applied_offset: 0, history, ..ShardCommit::default() }).await;

    assert_eq!(event_ids(&store, &run, 1, 100).await, (1..=10).collect::<Vec<_>>());
    assert_eq!(event_ids(&store, &run, 4, 3).await, [4, 5, 6]);
    assert_eq!(event_ids(&store, &run, 10, 5).await, [10]);
    assert!(event_ids(&store, &run, 11, 5).await.is_empty());
    assert_eq!(event_ids(&store, &longer, 0, 100).await, [1, 2, 3]);

    let rewrite = vec![(run.clone(), events(8..=12))];
    commit(&store, ShardCommit { shard_id: 0, epoch, applied_offset: 1, history: rewrite, ..ShardCommit::default() })
        .await;
    let all = store.read_history(&run, 1, 100).await.expect("read_history");
    assert_eq!(all, events(1..=12), "events written twice with the same ids are kept once");
}

pub async fn ids_never_collide_whatever_their_characters(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(1).await.expect("init_shards");
    let epoch = acquire(&store, 0).await.epoch;
    let samples = [
        Sample::new("ns", "a", "bc"),
        Sample::new("ns", "ab", "c"),
        Sample::new("ns", "a\0b", "c"),
        Sample::new("ns\0a", "b", "c"),
        Sample::new("ns", "ünïcødé ☃ 工作流", "c"),
    ];
    for (i, sample) in samples.iter().enumerate() {
        let commit_ = ShardCommit {
            shard_id: 0,
            epoch,
            applied_offset: i as i64,
            history: vec![(sample.run.clone(), sample.history.clone())],
            executions: vec![(sample.run.clone(), Arc::new(sample.execution.clone()))],
            current_runs: vec![(sample.run.workflow(), sample.current.clone())],
            ..ShardCommit::default()
        };
        commit(&store, commit_).await;
    }
    for sample in &samples {
        let what = format!("{:?}", sample.run);
        assert_eq!(
            store.get_execution(0, &sample.run).await.expect("get_execution"),
            Some(sample.execution.clone()),
            "{what}"
        );
        assert_eq!(
            store.get_current_run(0, &sample.run.workflow()).await.expect("get_current_run"),
            Some(sample.current.clone()),
            "{what}"
        );
        assert_eq!(store.read_history(&sample.run, 1, 100).await.expect("read_history"), sample.history, "{what}");
    }
}

pub async fn timers_load_earliest_first_before_the_bound(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(2).await.expect("init_shards");
    let epoch = acquire(&store, 0).await.epoch;
    let other_epoch = acquire(&store, 1).await.epoch;
    let run = run_key("ns", "wf", "run");
    let keys = [
        timer_key(100, "b"),
        timer_key(-5_000_000_000, "before-1970"),
        timer_key(100, "a"),
        timer_key(50, "c"),
        timer_key(200, "d"),
    ];
    let timers_to_add = keys.iter().map(|key| (key.clone(), timer_task(&run, key))).collect();
    commit(&store, ShardCommit { shard_id: 0, epoch, timers_to_add, ..ShardCommit::default() }).await;
    let elsewhere = vec![(timer_key(10, "other-shard"), timer_task(&run, &timer_key(10, "other-shard")))];
    commit(&store, ShardCommit { shard_id: 1, epoch: other_epoch, timers_to_add: elsewhere, ..ShardCommit::default() })
        .await;

    let mut sorted = keys.to_vec();
    sorted.sort();
    assert_eq!(timer_keys(&store, 0, 150, 100).await, sorted[..4], "earliest first, then by id; only before the bound");
    assert_eq!(timer_keys(&store, 0, 100, 100).await, sorted[..2], "a timer firing at the bound is excluded");
    assert_eq!(timer_keys(&store, 0, i64::MAX, 3).await, sorted[..3], "at most `limit`");
    let from_fifty = store.load_timers(0, &TimerKey::earliest_at(50), 150, 100).await.expect("load_timers");
    let from_fifty: Vec<TimerKey> = from_fifty.into_iter().map(|(key, _)| key).collect();
    assert_eq!(from_fifty, sorted[1..4], "only timers at or after the lower bound");
    let from_a = store.load_timers(0, &timer_key(100, "a").successor(), 150, 100).await.expect("load_timers");
    let from_a: Vec<TimerKey> = from_a.into_iter().map(|(key, _)| key).collect();
    assert_eq!(from_a, sorted[3..4], "a lower bound inside one fire time resumes after the ids before it");
    let loaded = store.load_timers(0, &TimerKey::earliest_at(i64::MIN), 75, 10).await.expect("load_timers");
    assert_eq!(loaded[1].1, timer_task(&run, &timer_key(50, "c")), "each timer comes with its task");

    let delete = vec![timer_key(50, "c"), timer_key(100, "b")];
    commit(&store, ShardCommit { shard_id: 0, epoch, timers_to_delete: delete, ..ShardCommit::default() }).await;
    let remaining = vec![timer_key(-5_000_000_000, "before-1970"), timer_key(100, "a"), timer_key(200, "d")];
    assert_eq!(timer_keys(&store, 0, i64::MAX, 100).await, remaining, "deleted timers are gone");
    assert_eq!(timer_keys(&store, 1, i64::MAX, 100).await, [timer_key(10, "other-shard")], "timers are per shard");
}

pub async fn outbox_reads_from_a_sequence_and_a_commit_deletes_a_range(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(2).await.expect("init_shards");
    let epoch = acquire(&store, 0).await.epoch;
    let other_epoch = acquire(&store, 1).await.epoch;
    let outbox: Vec<_> = (0..5).map(|seq| (seq, task_outbox(&format!("queue-{seq}")))).collect();
    commit(
        &store,
        ShardCommit { shard_id: 0, epoch, next_outbox_seq: 5, outbox: outbox.clone(), ..ShardCommit::default() },
    )
    .await;
    let elsewhere = vec![(0, task_outbox("other-shard"))];
    commit(
        &store,
        ShardCommit {
            shard_id: 1,
            epoch: other_epoch,
            next_outbox_seq: 1,
            outbox: elsewhere.clone(),
            ..ShardCommit::default()
        },
    )
    .await;

    assert_eq!(store.read_outbox(0, 0, 100).await.expect("read_outbox"), outbox);
    assert_eq!(store.read_outbox(0, 2, 2).await.expect("read_outbox"), outbox[2..4]);
    let more = vec![(5, task_outbox("queue-5"))];
    commit(
        &store,
        ShardCommit {
            shard_id: 0,
            epoch,
            next_outbox_seq: 6,
            outbox: more.clone(),
            outbox_to_delete: Some((1, 2)),
            ..ShardCommit::default()
        },
    )
    .await;
    let mut kept = vec![outbox[0].clone()];
    kept.extend_from_slice(&outbox[3..]);
    kept.extend(more);
    assert_eq!(store.read_outbox(0, 0, 100).await.expect("read_outbox"), kept, "a commit deleted seqs 1 through 2 only");
    assert_eq!(store.read_outbox(1, 0, 100).await.expect("read_outbox"), elsewhere, "outboxes are per shard");
}

pub async fn namespaces_are_unique_by_name_and_listed_by_name(factory: &impl StoreFactory) {
    let store = factory.open().await;
    for (id, name) in [("id-b", "beta"), ("id-a", "alpha"), ("id-g", "gamma")] {
        store.create_namespace(namespace(id, name)).await.expect("create_namespace");
    }
    match store.create_namespace(namespace("id-other", "beta")).await {
        Err(StoreError::NamespaceAlreadyExists(name)) if name == "beta" => {}
        other => panic!("creating `beta` twice: expected NamespaceAlreadyExists, got {other:?}"),
    }
    let names: Vec<String> =
        store.list_namespaces().await.expect("list_namespaces").into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(store.get_namespace_by_name("beta").await.expect("by name"), Some(namespace("id-b", "beta")));
    assert_eq!(store.get_namespace_by_id("id-a").await.expect("by id"), Some(namespace("id-a", "alpha")));
    assert_eq!(store.get_namespace_by_id("id-other").await.expect("by id"), None, "a refused create stores nothing");
    assert_eq!(store.get_namespace_by_name("delta").await.expect("by name"), None);
}

pub async fn a_namespace_update_needs_the_version_it_was_made_from(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.create_namespace(namespace("id-a", "alpha")).await.expect("create_namespace");
    store.create_namespace(namespace("id-b", "beta")).await.expect("create_namespace");
    let first = NamespaceRecord { description: "first".into(), ..namespace("id-a", "alpha") };
    let stored = store.update_namespace(first.clone(), 0).await.expect("update from version 0");
    assert_eq!(stored, NamespaceRecord { version: 1, ..first.clone() }, "stored with the next version");
    assert_eq!(store.get_namespace_by_name("alpha").await.expect("by name"), Some(stored.clone()));
    assert_eq!(store.get_namespace_by_id("id-a").await.expect("by id"), Some(stored.clone()));

    let stale = NamespaceRecord { description: "stale".into(), ..namespace("id-a", "alpha") };
    match store.update_namespace(stale, 0).await {
        Err(StoreError::NamespaceVersionConflict { name, expected: 0, current: 1 }) if name == "alpha" => {}
        other => panic!("an update from version 0 after one to 1: expected a conflict, got {other:?}"),
    }
    let other_id = NamespaceRecord { description: "impostor".into(), ..namespace("id-other", "alpha") };
    assert!(
        matches!(store.update_namespace(other_id, 1).await, Err(StoreError::NamespaceVersionConflict { .. })),
        "a record of another namespace with the name is not overwritten"
    );
    assert_eq!(store.get_namespace_by_name("alpha").await.expect("by name"), Some(stored), "refused updates store nothing");
    match store.update_namespace(namespace("id-d", "delta"), 0).await {
        Err(StoreError::NamespaceNotFound(name)) if name == "delta" => {}
        other => panic!("updating a namespace never created: expected NamespaceNotFound, got {other:?}"),
    }
    assert_eq!(store.get_namespace_by_name("delta").await.expect("by name"), None);

    let second = NamespaceRecord { description: "second".into(), owner_email: "a@example.com".into(), ..namespace("id-a", "alpha") };
    let stored = store.update_namespace(second.clone(), 1).await.expect("update from version 1");
    assert_eq!(stored.version, 2);
    let listed: Vec<(String, i64)> =
        store.list_namespaces().await.expect("list_namespaces").into_iter().map(|n| (n.description, n.version)).collect();
    assert_eq!(listed, [("second".to_string(), 2), (String::new(), 0)], "listed as updated, the other untouched");
    drop(store);

    let store = factory.open().await;
    assert_eq!(store.get_namespace_by_id("id-a").await.expect("by id"), Some(NamespaceRecord { version: 2, ..second }));
}

pub async fn of_concurrent_namespace_updates_exactly_one_wins(factory: &impl StoreFactory) {
    const UPDATERS: usize = 4;
    let store = factory.open().await;
    store.create_namespace(namespace("id-a", "alpha")).await.expect("create_namespace");
    for round in 0..3i64 {
        let updaters: Vec<_> = (0..UPDATERS)
            .map(|updater| {
                let store = store.clone();
                let record = NamespaceRecord { description: format!("updater {updater}"), ..namespace("id-a", "alpha") };
                tokio::spawn(async move { store.update_namespace(record, round).await })
            })
            .collect();
        let mut winners = Vec::new();
        for updater in updaters {
            match updater.await.expect("an updating task panicked") {
                Ok(stored) => winners.push(stored),
                Err(StoreError::NamespaceVersionConflict { expected, .. }) if expected == round => {}
                Err(other) => panic!("round {round}: unexpected error {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one of the updates from version {round} wins: {winners:?}");
        let stored = store.get_namespace_by_name("alpha").await.expect("by name");
        assert_eq!(stored.as_ref(), winners.first(), "round {round}: the winner's record is what is stored");
    }
}

pub async fn a_renamed_namespace_frees_its_name_and_keeps_its_id(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.create_namespace(namespace("id-a", "alpha")).await.expect("create_namespace");
    store.create_namespace(namespace("id-b", "beta")).await.expect("create_namespace");
    let renamed = NamespaceRecord { description: "renamed".into(), ..namespace("id-a", "alpha-deleted") };
    match store.rename_namespace("alpha", NamespaceRecord { name: "beta".into(), ..renamed.clone() }, 0).await {
        Err(StoreError::NamespaceAlreadyExists(name)) if name == "beta" => {}
        other => panic!("renaming onto a taken name: expected NamespaceAlreadyExists, got {other:?}"),
    }
    match store.rename_namespace("alpha", renamed.clone(), 3).await {
        Err(StoreError::NamespaceVersionConflict { expected: 3, current: 0, .. }) => {}
        other => panic!("renaming from a stale version: expected NamespaceVersionConflict, got {other:?}"),
    }
    match store.rename_namespace("gamma", renamed.clone(), 0).await {
        Err(StoreError::NamespaceNotFound(name)) if name == "gamma" => {}
        other => panic!("renaming a namespace never created: expected NamespaceNotFound, got {other:?}"),
    }
    assert_eq!(store.get_namespace_by_name("alpha").await.expect("by name"), Some(namespace("id-a", "alpha")), "refused renames store nothing");

    let stored = store.rename_namespace("alpha", renamed.clone(), 0).await.expect("rename");
    assert_eq!(stored, NamespaceRecord { version: 1, ..renamed });
    assert_eq!(store.get_namespace_by_name("alpha").await.expect("by name"), None, "the old name is free");
    assert_eq!(store.get_namespace_by_name("alpha-deleted").await.expect("by name"), Some(stored.clone()));
    assert_eq!(store.get_namespace_by_id("id-a").await.expect("by id"), Some(stored), "the id follows the new name");
    store.create_namespace(namespace("id-c", "alpha")).await.expect("the old name can be registered again");
    let names: Vec<(String, String)> =
        store.list_namespaces().await.expect("list_namespaces").into_iter().map(|n| (n.name, n.id)).collect();
    let expected = [("alpha", "id-c"), ("alpha-deleted", "id-a"), ("beta", "id-b")];
    assert_eq!(names, expected.map(|(name, id)| (name.to_string(), id.to_string())));
}

pub async fn a_namespace_is_deleted_only_at_the_version_read(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.create_namespace(namespace("id-a", "alpha")).await.expect("create_namespace");
    store.update_namespace(NamespaceRecord { description: "updated".into(), ..namespace("id-a", "alpha") }, 0).await.expect("update");
    match store.delete_namespace("alpha", "id-a", 0).await {
        Err(StoreError::NamespaceVersionConflict { expected: 0, current: 1, .. }) => {}
        other => panic!("deleting from a stale version: expected NamespaceVersionConflict, got {other:?}"),
    }
    match store.delete_namespace("alpha", "id-other", 1).await {
        Err(StoreError::NamespaceVersionConflict { .. }) => {}
        other => panic!("deleting another namespace's name: expected NamespaceVersionConflict, got {other:?}"),
    }
    assert!(store.get_namespace_by_id("id-a").await.expect("by id").is_some(), "refused deletes delete nothing");
    store.delete_namespace("alpha", "id-a", 1).await.expect("delete");
    assert_eq!(store.get_namespace_by_name("alpha").await.expect("by name"), None);
    assert_eq!(store.get_namespace_by_id("id-a").await.expect("by id"), None);
    assert!(store.list_namespaces().await.expect("list_namespaces").is_empty());
    match store.delete_namespace("alpha", "id-a", 1).await {
        Err(StoreError::NamespaceNotFound(name)) if name == "alpha" => {}
        other => panic!("deleting twice: expected NamespaceNotFound, got {other:?}"),
    }
}

pub async fn consumer_offsets_are_kept_per_consumer_log_and_partition(factory: &impl StoreFactory) {
    let store = factory.open().await;
    assert_eq!(store.get_consumer_offset("matching", LogName::Tasks, 0).await.expect("get"), None);
    let offsets = [
        ("matching", LogName::Tasks, 0, 5),
        ("matching", LogName::Tasks, 1, 7),
        ("projection", LogName::Tasks, 0, 9),
        ("matching", LogName::Visibility, 0, 3),
        ("matching", LogName::Tasks, 0, 6),
    ];
    for (consumer, log, partition, offset) in offsets {
        store.set_consumer_offset(consumer, log, partition, offset).await.expect("set_consumer_offset");
    }
    for (consumer, log, partition, offset) in offsets.into_iter().skip(1) {
        let stored = store.get_consumer_offset(consumer, log, partition).await.expect("get_consumer_offset");
        assert_eq!(stored, Some(offset), "{consumer} {log}/{partition}");
    }
}

pub async fn everything_survives_reopen(factory: &impl StoreFactory) {
    let sample = Sample::new("ns", "wf", "run-1");
    let store = factory.open().await;
    store.init_shards(2).await.expect("init_shards");
    let epoch = acquire(&store, 1).await.epoch;
    commit(&store, sample.commit(1, epoch)).await;
    store.create_namespace(namespace("id-a", "alpha")).await.expect("create_namespace");
    store.set_consumer_offset("matching", LogName::Tasks, 1, 42).await.expect("set_consumer_offset");
    drop(store);

    let store = factory.open().await;
    sample.assert_committed(&store, 1).await;
    let shard = acquire(&store, 1).await;
    assert_eq!((shard.epoch, shard.applied_offset, shard.next_outbox_seq), (epoch + 1, 7, 2));
    assert!(matches!(store.init_shards(3).await, Err(StoreError::ShardCountMismatch { stored: 2, requested: 3 })));
    assert_eq!(store.get_namespace_by_id("id-a").await.expect("by id"), Some(namespace("id-a", "alpha")));
    assert_eq!(store.get_consumer_offset("matching", LogName::Tasks, 1).await.expect("get"), Some(42));
}

pub async fn concurrent_commits_to_different_shards_all_succeed(factory: &impl StoreFactory) {
    const SHARDS: u32 = 8;
    const COMMITS_PER_SHARD: i64 = 25;
    let store = factory.open().await;
    store.init_shards(SHARDS).await.expect("init_shards");
    let committers: Vec<_> = (0..SHARDS)
        .map(|shard_id| {
            let store = store.clone();
            tokio::spawn(async move {
                let epoch = acquire(&store, shard_id).await.epoch;
                for seq in 0..COMMITS_PER_SHARD {
                    let run = run_key("ns", &format!("wf-{shard_id}-{seq}"), "run");
                    let commit_ = ShardCommit {
                        shard_id,
                        epoch,
                        applied_offset: seq,
                        next_outbox_seq: seq + 1,
                        history: vec![(run.clone(), events(1..=1))],
                        executions: vec![(run.clone(), Arc::new(execution(&run, 2)))],
                        outbox: vec![(seq, task_outbox(&run.workflow_id))],
                        ..ShardCommit::default()
                    };
                    commit(&store, commit_).await;
                }
            })
        })
        .collect();
    for committer in committers {
        committer.await.expect("a committing task panicked");
    }
    for shard_id in 0..SHARDS {
        let shard = acquire(&store, shard_id).await;
        assert_eq!((shard.applied_offset, shard.next_outbox_seq), (COMMITS_PER_SHARD - 1, COMMITS_PER_SHARD));
        let outbox = store.read_outbox(shard_id, 0, 100).await.expect("read_outbox");
        assert_eq!(outbox.len() as i64, COMMITS_PER_SHARD, "shard {shard_id}'s outbox");
        let run = run_key("ns", &format!("wf-{shard_id}-0"), "run");
        assert_eq!(store.get_execution(shard_id, &run).await.expect("get_execution"), Some(execution(&run, 2)));
    }
}

/// One run's worth of everything a commit writes.
struct Sample {
    run: RunKey,
    history: Vec<HistoryEvent>,
    execution: WorkflowMutableState,
    current: CurrentRun,
    timers: Vec<(TimerKey, TimerTask)>,
    outbox: Vec<(i64, OutboxRecord)>,
}

impl Sample {
    fn new(namespace_id: &str, workflow_id: &str, run_id: &str) -> Sample {
        let run = run_key(namespace_id, workflow_id, run_id);
        let timers = [timer_key(2_000, "timeout"), timer_key(1_000, "retry")]
            .into_iter()
            .map(|key| {
                let task = timer_task(&run, &key);
                (key, task)
            })
            .collect();
        Sample {
            history: events(1..=3),
            execution: execution(&run, 4),
            current: CurrentRun { run_id: run_id.to_string() },
            timers,
            outbox: vec![(0, task_outbox("queue-a")), (1, task_outbox("queue-b"))],
            run,
        }
    }

    fn commit(&self, shard_id: ShardId, epoch: i64) -> ShardCommit {
        ShardCommit {
            shard_id,
            epoch,
            applied_offset: 7,
            next_outbox_seq: 2,
            history: vec![(self.run.clone(), self.history.clone())],
            executions: vec![(self.run.clone(), Arc::new(self.execution.clone()))],
            current_runs: vec![(self.run.workflow(), self.current.clone())],
            timers_to_add: self.timers.clone(),
            timers_to_delete: Vec::new(),
            outbox: self.outbox.clone(),
            outbox_to_delete: None,
            runs_to_delete: Vec::new(),
        }
    }

    async fn assert_intact(&self, store: &Arc<dyn Store>, shard_id: ShardId) {
        let execution = store.get_execution(shard_id, &self.run).await.expect("get_execution");
        assert_eq!(execution, Some(self.execution.clone()), "a run not deleted keeps its state");
        assert_eq!(store.read_history(&self.run, 1, 100).await.expect("read_history"), self.history, "and its history");
    }

    async fn assert_deleted(&self, store: &Arc<dyn Store>, shard_id: ShardId) {
        assert_eq!(store.get_execution(shard_id, &self.run).await.expect("get_execution"), None, "a deleted run's state");
        let history = store.read_history(&self.run, 1, 100).await.expect("read_history");
        assert!(history.is_empty(), "a deleted run's history is gone, found {} events", history.len());
    }

    async fn assert_committed(&self, store: &Arc<dyn Store>, shard_id: ShardId) {
        let execution = store.get_execution(shard_id, &self.run).await.expect("get_execution");
        assert_eq!(execution, Some(self.execution.clone()), "the execution");
        let current = store.get_current_run(shard_id, &self.run.workflow()).await.expect("get_current_run");
        assert_eq!(current, Some(self.current.clone()), "the current run");
        let history = store.read_history(&self.run, 1, 100).await.expect("read_history");
        assert_eq!(history, self.history, "the history");
        let mut timers = self.timers.clone();
        timers.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(store.load_timers(shard_id, &TimerKey::earliest_at(i64::MIN), i64::MAX, 100).await.expect("load_timers"), timers, "the timers");
        assert_eq!(store.read_outbox(shard_id, 0, 100).await.expect("read_outbox"), self.outbox, "the outbox");
    }
}

fn deletion(shard_id: ShardId, epoch: i64, run: &RunKey) -> ShardCommit {
    ShardCommit { shard_id, epoch, applied_offset: 8, runs_to_delete: vec![run.clone()], ..ShardCommit::default() }
}

/// Commits two runs in order, deletes one and checks it is gone.
async fn commit_then_delete(factory: &impl StoreFactory, committed: [&Sample; 2], deleted: &Sample) -> Arc<dyn Store> {
    let store = factory.open().await;
    store.init_shards(1).await.expect("init_shards");
    let epoch = acquire(&store, 0).await.epoch;
    for sample in committed {
        commit(&store, sample.commit(0, epoch)).await;
    }
    commit(&store, deletion(0, epoch, &deleted.run)).await;
    deleted.assert_deleted(&store, 0).await;
    store
}

pub async fn deleting_a_run_removes_its_state_history_and_pointer(factory: &impl StoreFactory) {
    let sample = Sample::new("ns", "wf", "run-1");
    // Shares a prefix with the deleted run's id: must survive it.
    let neighbour = Sample::new("ns", "wf", "run-10");
    let store = commit_then_delete(factory, [&neighbour, &sample], &sample).await;
    let current = store.get_current_run(0, &sample.run.workflow()).await.expect("get_current_run");
    assert_eq!(current, None, "the pointer named the deleted run");
    neighbour.assert_intact(&store, 0).await;
}

pub async fn deleting_a_run_keeps_a_pointer_to_a_newer_run(factory: &impl StoreFactory) {
    let old = Sample::new("ns", "wf", "run-old");
    let new = Sample::new("ns", "wf", "run-new");
    let store = commit_then_delete(factory, [&old, &new], &old).await;
    let current = store.get_current_run(0, &new.run.workflow()).await.expect("get_current_run");
    assert_eq!(current, Some(new.current.clone()), "the pointer names a newer run");
    new.assert_intact(&store, 0).await;
}

pub async fn deleting_a_run_is_fenced_and_idempotent(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(1).await.expect("init_shards");
    let stale = acquire(&store, 0).await.epoch;
    let sample = Sample::new("ns", "wf", "run-1");
    commit(&store, sample.commit(0, stale)).await;
    let current = acquire(&store, 0).await.epoch;
    match store.commit(deletion(0, stale, &sample.run)).await {
        Err(StoreError::ShardOwnershipLost { .. }) => {}
        other => panic!("a deletion with a stale epoch: expected ShardOwnershipLost, got {other:?}"),
    }
    sample.assert_committed(&store, 0).await;
    commit(&store, deletion(0, current, &sample.run)).await;
    commit(&store, deletion(0, current, &sample.run)).await;
    sample.assert_deleted(&store, 0).await;
    assert_eq!(store.get_current_run(0, &sample.run.workflow()).await.expect("get_current_run"), None);
}

/// Expiries are real times: a store may also expire rows by its own clock.
const SECOND: i64 = 1_000_000_000;

pub async fn members_are_live_until_their_heartbeat_expires(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let now = crate::time::now_nanos();
    store.heartbeat(&member("engine-b", MemberRole::Engine, "b:1"), now + 60 * SECOND).await.expect("heartbeat b");
    store.heartbeat(&member("engine-a", MemberRole::Engine, "a:1"), now + 30 * SECOND).await.expect("heartbeat a");
    assert_eq!(live_ids(&store, MemberRole::Engine, now).await, ["engine-a", "engine-b"], "sorted by id");
    assert_eq!(live_ids(&store, MemberRole::Engine, now + 45 * SECOND).await, ["engine-b"], "a expired");
    assert!(live_ids(&store, MemberRole::Engine, now + 60 * SECOND).await.is_empty(), "live only before the expiry");

    store.heartbeat(&member("engine-a", MemberRole::Engine, "a:2"), now + 90 * SECOND).await.expect("renewing a");
    let live = store.live_members(MemberRole::Engine, now + 45 * SECOND).await.expect("live_members");
    assert_eq!(live, [member("engine-a", MemberRole::Engine, "a:2"), member("engine-b", MemberRole::Engine, "b:1")], "a renewed, with its new address");
}

pub async fn a_member_that_leaves_is_gone_at_once(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let now = crate::time::now_nanos();
    let leaving = member("engine-a", MemberRole::Engine, "a:1");
    store.heartbeat(&leaving, now + 60 * SECOND).await.expect("heartbeat a");
    store.heartbeat(&member("engine-b", MemberRole::Engine, "b:1"), now + 60 * SECOND).await.expect("heartbeat b");
    store.leave(&leaving).await.expect("leave");
    assert_eq!(live_ids(&store, MemberRole::Engine, now).await, ["engine-b"]);
    store.leave(&leaving).await.expect("leaving twice is harmless");
}

pub async fn member_roles_are_kept_apart(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let now = crate::time::now_nanos();
    store.heartbeat(&member("same-id", MemberRole::Engine, "engine:1"), now + 60 * SECOND).await.expect("engine");
    store.heartbeat(&member("same-id", MemberRole::Gateway, "gateway:1"), now + 60 * SECOND).await.expect("gateway");
    store.heartbeat(&member("other", MemberRole::Gateway, "gateway:2"), now + 60 * SECOND).await.expect("gateway 2");
    assert_eq!(store.live_members(MemberRole::Engine, now).await.expect("engines"), [member("same-id", MemberRole::Engine, "engine:1")]);
    assert_eq!(live_ids(&store, MemberRole::Gateway, now).await, ["other", "same-id"]);
    assert!(live_ids(&store, MemberRole::Projections, now).await.is_empty());
    store.leave(&member("same-id", MemberRole::Gateway, "gateway:1")).await.expect("leave");
    assert_eq!(live_ids(&store, MemberRole::Engine, now).await, ["same-id"], "leaving one role leaves the other alone");
}

pub async fn take_shard_needs_the_expected_epoch_and_records_the_owner(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(4).await.expect("init_shards");
    let fresh = store.read_shard(1).await.expect("read_shard");
    assert_eq!(fresh, ShardInfo { shard_id: 1, epoch: 0, applied_offset: -1, next_outbox_seq: 0, owner: String::new() });
    let taken = store.take_shard(1, "engine-a", 0).await.expect("take_shard");
    assert_eq!((taken.epoch, taken.owner.as_str()), (1, "engine-a"));
    assert_eq!(store.read_shard(1).await.expect("read_shard"), taken);
    match store.take_shard(1, "engine-b", 0).await {
        Err(StoreError::ShardOwnershipLost { shard_id: 1, expected: 0, current: 1 }) => {}
        other => panic!("taking shard 1 at epoch 0 after it moved to 1: expected ShardOwnershipLost, got {other:?}"),
    }
    commit(&store, Sample::new("ns", "wf", "run-1").commit(1, 1)).await;
    let committed = store.read_shard(1).await.expect("read_shard");
    assert_eq!((committed.epoch, committed.applied_offset, committed.owner.as_str()), (1, 7, "engine-a"), "a commit keeps the owner");

    let retaken = store.take_shard(1, "engine-b", 1).await.expect("take_shard from a");
    assert_eq!((retaken.epoch, retaken.applied_offset, retaken.owner.as_str()), (2, 7, "engine-b"));
    match store.commit(Sample::new("ns", "wf", "run-2").commit(1, 1)).await {
        Err(StoreError::ShardOwnershipLost { .. }) => {}
        other => panic!("a commit of the previous owner: expected ShardOwnershipLost, got {other:?}"),
    }
    assert_eq!(store.read_shard(0).await.expect("read_shard 0").epoch, 0, "epochs are per shard");
    assert!(matches!(store.read_shard(4).await, Err(StoreError::NoSuchShard(4))));
    assert!(matches!(store.take_shard(4, "engine-a", 0).await, Err(StoreError::NoSuchShard(4))));
}

pub async fn release_shard_clears_the_owner_only_at_its_epoch(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(2).await.expect("init_shards");
    let taken = store.take_shard(0, "engine-a", 0).await.expect("take_shard");
    let again = store.take_shard(0, "engine-a", taken.epoch).await.expect("taking it again");
    match store.release_shard(0, taken.epoch).await {
        Err(StoreError::ShardOwnershipLost { shard_id: 0, .. }) => {}
        other => panic!("releasing at a stale epoch: expected ShardOwnershipLost, got {other:?}"),
    }
    assert_eq!(store.read_shard(0).await.expect("read_shard").owner, "engine-a", "a stale release changes nothing");
    store.release_shard(0, again.epoch).await.expect("release_shard");
    let released = store.read_shard(0).await.expect("read_shard");
    assert_eq!((released.epoch, released.owner.as_str()), (again.epoch, ""), "released: no owner, same epoch");
    let next = store.take_shard(0, "engine-b", released.epoch).await.expect("the next owner takes it");
    assert_eq!((next.epoch, next.owner.as_str()), (again.epoch + 1, "engine-b"));
    let acquired = store.acquire_shard(0).await.expect("acquire_shard");
    assert_eq!((acquired.epoch, acquired.owner.as_str()), (next.epoch + 1, ""), "acquire_shard leaves no owner");
}

pub async fn of_two_engines_racing_to_take_a_shard_exactly_one_wins(factory: &impl StoreFactory) {
    let store = factory.open().await;
    store.init_shards(1).await.expect("init_shards");
    for round in 0..5 {
        let epoch = store.read_shard(0).await.expect("read_shard").epoch;
        let (a, b) = tokio::join!(store.take_shard(0, "engine-a", epoch), store.take_shard(0, "engine-b", epoch));
        let winner = match (a, b) {
            (Ok(won), Err(StoreError::ShardOwnershipLost { .. })) | (Err(StoreError::ShardOwnershipLost { .. }), Ok(won)) => won,
            other => panic!("round {round}: expected exactly one take to win, got {other:?}"),
        };
        assert_eq!(winner.epoch, epoch + 1);
        let stored = store.read_shard(0).await.expect("read_shard");
        assert_eq!((stored.epoch, stored.owner), (winner.epoch, winner.owner), "the winner's take is what is stored");
    }
}

fn member(id: &str, role: MemberRole, address: &str) -> Member {
    Member { id: id.to_string(), role, address: address.to_string() }
}

async fn live_ids(store: &Arc<dyn Store>, role: MemberRole, now_nanos: i64) -> Vec<String> {
    let live = store.live_members(role, now_nanos).await.expect("live_members");
    live.into_iter().map(|member| member.id).collect()
}

async fn acquire(store: &Arc<dyn Store>, shard_id: ShardId) -> ShardInfo {
    store.acquire_shard(shard_id).await.unwrap_or_else(|e| panic!("acquire_shard({shard_id}): {e}"))
}

async fn commit(store: &Arc<dyn Store>, commit: ShardCommit) {
    let shard_id = commit.shard_id;
    store.commit(commit).await.unwrap_or_else(|e| panic!("commit to shard {shard_id}: {e}"));
}

/// Event ids read both ways, which must agree: decoded, and as stored.
async fn event_ids(store: &Arc<dyn Store>, run: &RunKey, first: i64, max: usize) -> Vec<i64> {
    let events = store.read_history(run, first, max).await.expect("read_history");
    let raw = store.read_raw_history(run, first, max).await.expect("read_raw_history");
    let raw_ids: Vec<i64> = raw.iter().map(|event| event.event_id).collect();
    let ids: Vec<i64> = events.iter().map(|event| event.event_id).collect();
    assert_eq!(raw_ids, ids, "raw and decoded reads list the same events");
    for (raw, event) in raw.iter().zip(&events) {
        use prost::Message;
        assert_eq!(raw.encoded.as_ref(), event.encode_to_vec().as_slice(), "raw events are the stored encoding");
    }
    ids
}

async fn timer_keys(store: &Arc<dyn Store>, shard_id: ShardId, before_nanos: i64, limit: usize) -> Vec<TimerKey> {
    let timers = store.load_timers(shard_id, &TimerKey::earliest_at(i64::MIN), before_nanos, limit).await.expect("load_timers");
    timers.into_iter().map(|(key, _)| key).collect()
}

fn run_key(namespace_id: &str, workflow_id: &str, run_id: &str) -> RunKey {
    RunKey { namespace_id: namespace_id.into(), workflow_id: workflow_id.into(), run_id: run_id.into() }
}

fn events(ids: std::ops::RangeInclusive<i64>) -> Vec<HistoryEvent> {
    ids.map(|event_id| HistoryEvent { event_id, task_id: event_id * 10, ..HistoryEvent::default() }).collect()
}

fn execution(run: &RunKey, next_event_id: i64) -> WorkflowMutableState {
    let info = ExecutionInfo {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        next_event_id,
        ..ExecutionInfo::default()
    };
    WorkflowMutableState { info: Some(info), ..WorkflowMutableState::default() }
}

fn timer_key(fire_time_nanos: i64, id: &str) -> TimerKey {
    TimerKey { fire_time_nanos, id: id.to_string() }
}

fn timer_task(run: &RunKey, key: &TimerKey) -> TimerTask {
    TimerTask {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        fire_time: Some(timestamp_from_nanos(key.fire_time_nanos)),
        kind: None,
    }
}

fn task_outbox(task_queue: &str) -> OutboxRecord {
    let task = TaskRecord { task_queue: task_queue.to_string(), ..TaskRecord::default() };
    OutboxRecord { record: Some(outbox_record::Record::Task(task)) }
}

fn namespace(id: &str, name: &str) -> NamespaceRecord {
    NamespaceRecord { id: id.to_string(), name: name.to_string(), ..NamespaceRecord::default() }
}

