//! A process's part in a cluster of processes sharing one Cassandra store
//! and one Kafka log: its membership, which task queues its gateway serves,
//! where engine replies go, and what its health check reports.
//!
//! Membership lives in the store (see `temper_engine::membership`): every
//! process renews a row per role it runs; a process is alive while its row
//! is unexpired. Engines spread the shards over the live engines, gateways
//! spread the `tasks` partitions over the live gateways, both with the same
//! assignment function, so every member computes the same owners from the
//! same rows without talking to the others.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use temper_engine::health::ShardHealth;
use temper_engine::log::{Log, LogName};
use temper_engine::membership::assignment::assign;
use temper_engine::membership::{Member, MemberRole, Membership, MembershipConfig};
use temper_engine::store::{Store, StoreResult};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::roles::{ClusterSettings, Roles};

/// The health service names a process reports, besides "" (all its roles).
pub const GATEWAY_HEALTH: &str = "temporal.api.workflowservice.v1.WorkflowService";
pub const ENGINE_HEALTH: &str = "temper.engine";
pub const PROJECTIONS_HEALTH: &str = "temper.projections";

/// How often a gateway checks it can reach the log.
const LOG_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Joins the cluster once per role this process runs, all under one id:
/// its advertised address, unique among live processes and the same when
/// the process restarts, so a restarted engine takes its shards back
/// without waiting for its old lease to run out.
pub async fn join(store: Arc<dyn Store>, roles: Roles, advertise: &str, settings: &ClusterSettings) -> StoreResult<Memberships> {
    let config = MembershipConfig { heartbeat_interval: settings.heartbeat_interval, lease: settings.lease };
    let mut joined = Vec::new();
    for role in roles_of(roles) {
        let member = Member { id: advertise.to_string(), role, address: advertise.to_string() };
        joined.push((role, Membership::join(store.clone(), member, config.clone()).await?));
    }
    Ok(Memberships(joined))
}

/// This process's memberships, one per role it runs.
pub struct Memberships(Vec<(MemberRole, Arc<Membership>)>);

impl Memberships {
    pub fn of(&self, role: MemberRole) -> Option<Arc<Membership>> {
        self.0.iter().find(|(each, _)| *each == role).map(|(_, membership)| membership.clone())
    }

    /// Deletes the rows of the roles given, so the others act at once
    /// rather than when the leases run out.
    pub async fn leave(&self, roles: &[MemberRole]) {
        for (role, membership) in &self.0 {
            if roles.contains(role) {
                membership.leave().await;
            }
        }
    }
}

fn roles_of(roles: Roles) -> Vec<MemberRole> {
    [(roles.gateway, MemberRole::Gateway), (roles.engine, MemberRole::Engine), (roles.projections, MemberRole::Projections)]
        .into_iter()
        .filter_map(|(on, role)| on.then_some(role))
        .collect()
}

/// The addresses of the live gateways, where engines send replies and run progress.
pub fn gateway_addresses(membership: &Membership, background: &mut Vec<JoinHandle<()>>, stop: watch::Receiver<bool>) -> watch::Receiver<Vec<String>> {
    derived(membership.view(MemberRole::Gateway), background, stop, |gateways| {
        gateways.iter().map(|gateway| gateway.address.clone()).collect()
    })
}

/// The addresses of the live projections processes, which answer lists.
pub fn projections_addresses(membership: &Membership, background: &mut Vec<JoinHandle<()>>, stop: watch::Receiver<bool>) -> watch::Receiver<Vec<String>> {
    derived(membership.view(MemberRole::Projections), background, stop, |members| {
        members.iter().map(|member| member.address.clone()).collect()
    })
}

/// The address of the gateway serving each `tasks` partition.
pub fn task_queue_owners(
    membership: &Membership,
    partitions: u32,
    background: &mut Vec<JoinHandle<()>>,
    stop: watch::Receiver<bool>,
) -> watch::Receiver<Vec<String>> {
    derived(membership.view(MemberRole::Gateway), background, stop, move |gateways| owners(partitions, gateways))
}

fn owners(partitions: u32, gateways: &[Member]) -> Vec<String> {
    if gateways.is_empty() {
        return vec![String::new(); partitions as usize];
    }
    let ids: Vec<String> = gateways.iter().map(|gateway| gateway.id.clone()).collect();
    assign(partitions, &ids).into_iter().map(|index| gateways[index].address.clone()).collect()
}

/// The partitions among `owners` that are this gateway's.
pub fn owned_by(
    owners: watch::Receiver<Vec<String>>,
    own_address: String,
    background: &mut Vec<JoinHandle<()>>,
    stop: watch::Receiver<bool>,
) -> watch::Receiver<BTreeSet<u32>> {
    derived(owners, background, stop, move |owners| {
        owners.iter().enumerate().filter(|(_, owner)| **owner == own_address).map(|(partition, _)| partition as u32).collect()
    })
}

/// Keeps the command bus's shard health in step with the engines, for a
/// gateway whose process holds no engine of its own (in one process the
/// engine reports its shards' health itself): while no engine is live, or
/// the store has not answered the membership reads for a lease (the views
/// are stale then), every shard is unavailable. Commands are then refused
/// at once with UNAVAILABLE before they are appended, and requests already
/// waiting are told at once that they may still be applied, rather than
/// waiting out the reply timeout for an engine that is not there.
pub async fn follow_engines(membership: Arc<Membership>, health: Arc<ShardHealth>, shard_count: u32, mut stop: watch::Receiver<bool>) {
    let mut engines = membership.view(MemberRole::Engine);
    let mut store_answering = membership.store_answering();
    let mut refusing = false;
    loop {
        let any_engine = !engines.borrow_and_update().is_empty();
        let reason = why_no_engine_applies(any_engine, *store_answering.borrow_and_update(), membership.lease());
        match &reason {
            Some(reason) if !refusing => tracing::warn!(%reason, "refusing commands until an engine can apply them"),
            None if refusing => tracing::info!("engines are back; accepting commands again"),
            _ => {}
        }
        refusing = reason.is_some();
        for shard in 0..shard_count {
            match &reason {
                Some(reason) => health.set_unavailable(shard, reason),
                None => health.set_available(shard),
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            changed = engines.changed() => if changed.is_err() { return },
            changed = store_answering.changed() => if changed.is_err() { return },
        }
    }
}

fn why_no_engine_applies(any_engine: bool, store_answering: bool, lease: Duration) -> Option<String> {
    if !store_answering {
        Some(format!("the store has not answered this gateway for {lease:?}, so it cannot tell whether any engine is running"))
    } else if !any_engine {
        Some("no engine is running in the cluster".to_string())
    } else {
        None
    }
}

/// A watch following `source` through `map`, until `stop`.
fn derived<S, T>(
    mut source: watch::Receiver<S>,
    background: &mut Vec<JoinHandle<()>>,
    mut stop: watch::Receiver<bool>,
    map: impl Fn(&S) -> T + Send + Sync + 'static,
) -> watch::Receiver<T>
where
    S: Send + Sync + 'static,
    T: PartialEq + Send + Sync + 'static,
{
    let (sender, receiver) = watch::channel(map(&source.borrow_and_update()));
    background.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                changed = source.changed() => if changed.is_err() { return },
            }
            let next = map(&source.borrow_and_update());
            sender.send_if_modified(|current| {
                let differs = *current != next;
                if differs {
                    *current = next;
                }
                differs
            });
        }
    }));
    receiver
}

/// Whether each of this process's roles can do its work, for Kubernetes
/// probes through grpc.health: a gateway when it reaches the log, an engine
/// when it holds every shard assigned to it, projections once running.
#[derive(Clone)]
pub struct Readiness {
    roles: Roles,
    state: Arc<watch::Sender<ReadyRoles>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ReadyRoles {
    gateway: bool,
    engine: bool,
    projections: bool,
}

impl Readiness {
    pub fn new(roles: Roles) -> Readiness {
        Readiness { roles, state: Arc::new(watch::channel(ReadyRoles::default()).0) }
    }

    fn set(&self, change: impl Fn(&mut ReadyRoles)) {
        self.state.send_if_modified(|state| {
            let before = *state;
            change(state);
            before != *state
        });
    }

    pub fn projections_ready(&self) {
        self.set(|state| state.projections = true);
    }

    /// Follows the engine: ready while it holds every shard assigned to it.
    pub async fn follow_engine(self, mut assigned: watch::Receiver<BTreeSet<u32>>, mut owned: watch::Receiver<BTreeSet<u32>>) {
        loop {
            let ready = *assigned.borrow_and_update() == *owned.borrow_and_update();
            self.set(|state| state.engine = ready);
            tokio::select! {
                changed = assigned.changed() => if changed.is_err() { return },
                changed = owned.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Checks every few seconds that the gateway can reach the log it
    /// appends to, and keeps `reachable` (the command bus's flag) in step.
    pub async fn follow_log(self, log: Arc<dyn Log>, reachable_flag: Arc<AtomicBool>, mut stop: watch::Receiver<bool>) {
        loop {
            let reachable = matches!(tokio::time::timeout(LOG_CHECK_INTERVAL, log.end_offset(LogName::Commands, 0)).await, Ok(Ok(_)));
            if reachable_flag.swap(reachable, Ordering::Relaxed) != reachable {
                tracing::warn!(reachable, "the log's reachability changed");
            }
            self.set(|state| state.gateway = reachable);
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(LOG_CHECK_INTERVAL) => {}
            }
        }
    }

    /// Keeps the health service's statuses in step with the roles' readiness.
    pub async fn report(self, reporter: HealthReporter) {
        let mut changes = self.state.subscribe();
        loop {
            let ready = *changes.borrow_and_update();
            let roles = [
                (self.roles.gateway, GATEWAY_HEALTH, ready.gateway),
                (self.roles.engine, ENGINE_HEALTH, ready.engine),
                (self.roles.projections, PROJECTIONS_HEALTH, ready.projections),
            ];
            let mut all = true;
            for (_, name, ready) in roles.into_iter().filter(|(runs, _, _)| *runs) {
                all &= ready;
                reporter.set_service_status(name, status(ready)).await;
            }
            reporter.set_service_status("", status(all)).await;
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

fn status(ready: bool) -> ServingStatus {
    if ready { ServingStatus::Serving } else { ServingStatus::NotServing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(id: &str) -> Member {
        Member { id: id.into(), role: MemberRole::Gateway, address: format!("{id}:7233") }
    }

    #[test]
    fn every_partition_has_one_live_gateway_and_none_without_gateways() {
        let owners = owners(8, &[gateway("a"), gateway("b")]);
        assert_eq!(owners.len(), 8);
        assert_eq!(owners.iter().filter(|o| *o == "a:7233").count(), 4);
        assert_eq!(owners.iter().filter(|o| *o == "b:7233").count(), 4);
        assert!(super::owners(3, &[]).iter().all(String::is_empty));
    }
}
