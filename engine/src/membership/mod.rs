//! Who is part of the cluster: gateways, engines and projection workers
//! announce themselves in the store, and every process reads the same table
//! to learn who else is live. Engines use it to spread the shards among the
//! live engines ([`assignment`]) and to know when a shard's owner is gone.
//!
//! How membership is detected: each member keeps a heartbeat row in the
//! store ([`crate::store::MembershipStore`]) holding its id, role, address
//! and an explicit expiry (`now + lease`), rewritten every heartbeat
//! interval. A member is live while its row is unexpired; a member that
//! leaves deletes its row, and one that dies simply stops renewing it, so it
//! drops out once its lease runs out (Cassandra also writes the row with a
//! TTL a little above the lease, so dead rows vanish by themselves). Every
//! member reads the same table each interval, so all views converge within
//! one heartbeat interval of a change. Expiries are wall-clock times written
//! by one host and compared by others: clock skew between hosts must stay
//! well under the lease (NTP keeps it in milliseconds; the lease is
//! seconds), or a member could be seen as expired while alive, or live
//! after it died.
//!
//! Liveness only decides who *should* own a shard. Who *does* is decided by
//! the shard row's epoch (`ShardStore::take_shard`), so two members with
//! different views can never both commit to one shard.

pub mod assignment;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::{MembershipStore, StoreResult};
use crate::time::now_nanos;

/// What a member does in the cluster; members of different roles never see
/// each other in a view of one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberRole {
    Gateway,
    Engine,
    Projections,
}

impl MemberRole {
    pub const ALL: [MemberRole; 3] = [MemberRole::Gateway, MemberRole::Engine, MemberRole::Projections];

    /// The role's number as stores keep it; never reused for another role.
    pub fn code(self) -> i8 {
        match self {
            MemberRole::Gateway => 0,
            MemberRole::Engine => 1,
            MemberRole::Projections => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<MemberRole> {
        MemberRole::ALL.into_iter().find(|role| role.code() == code)
    }
}

/// One process taking part in the cluster, in one role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// Unique among live members of the role, and stable across restarts of
    /// the same process if possible (a restarted engine then takes back its
    /// shards without waiting for its old lease).
    pub id: String,
    pub role: MemberRole,
    /// Where other members reach it (`host:port`); informational for engines.
    pub address: String,
}

#[derive(Clone, Debug)]
pub struct MembershipConfig {
    /// How often the heartbeat row is renewed and the views refreshed.
    pub heartbeat_interval: Duration,
    /// How long a heartbeat keeps a member live: a member that dies is
    /// dropped from every view, and its shards taken over, this long after
    /// its last heartbeat. Several heartbeat intervals, so one slow or
    /// failed heartbeat does not cost the lease.
    pub lease: Duration,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig { heartbeat_interval: Duration::from_millis(500), lease: Duration::from_secs(3) }
    }
}

/// This process's membership: its heartbeat, and the live members of every
/// role as last read from the store.
pub struct Membership {
    member: Member,
    config: MembershipConfig,
    store: Arc<dyn MembershipStore>,
    views: Arc<Views>,
    heartbeat: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

/// The live members of each role, sorted by id, and whether the store
/// answers the reads that keep them current.
struct Views {
    members: HashMap<MemberRole, watch::Sender<Vec<Member>>>,
    store_answering: watch::Sender<bool>,
}

impl Views {
    fn new() -> Views {
        Views {
            members: MemberRole::ALL.into_iter().map(|role| (role, watch::channel(Vec::new()).0)).collect(),
            store_answering: watch::channel(true).0,
        }
    }

    fn sender(&self, role: MemberRole) -> &watch::Sender<Vec<Member>> {
        &self.members[&role]
    }

    /// Reads every role's live members; a role whose read fails keeps its
    /// last view until the next refresh. True when every read succeeded.
    async fn refresh(&self, store: &dyn MembershipStore) -> bool {
        let now = now_nanos();
        let mut all_read = true;
        for role in MemberRole::ALL {
            match store.live_members(role, now).await {
                Ok(members) => {
                    self.sender(role).send_if_modified(|view| {
                        let changed = *view != members;
                        if changed {
                            *view = members;
                        }
                        changed
                    });
                }
                Err(error) => {
                    all_read = false;
                    tracing::warn!(?role, %error, "reading the live members failed; keeping the last view");
                }
            }
        }
        all_read
    }

    fn set_store_answering(&self, answering: bool) {
        self.store_answering.send_if_modified(|current| std::mem::replace(current, answering) != answering);
    }
}

impl Membership {
    /// Writes this member's first heartbeat and reads the views, so both are
    /// in place when it returns; then keeps heartbeating and refreshing the
    /// views every interval until [`Membership::leave`].
    pub async fn join(
        store: Arc<dyn MembershipStore>,
        member: Member,
        config: MembershipConfig,
    ) -> StoreResult<Arc<Membership>> {
        heartbeat(store.as_ref(), &member, &config).await?;
        let views = Arc::new(Views::new());
        views.refresh(store.as_ref()).await;
        let task = tokio::spawn(keep_heartbeating(store.clone(), member.clone(), config.clone(), views.clone()));
        Ok(Arc::new(Membership { member, config, store, views, heartbeat: parking_lot::Mutex::new(Some(task)) }))
    }

    pub fn member(&self) -> &Member {
        &self.member
    }

    /// The live members of `role`, sorted by id; changes when a member joins,
    /// leaves or expires (seen within one heartbeat interval).
    pub fn view(&self, role: MemberRole) -> watch::Receiver<Vec<Member>> {
        self.views.sender(role).subscribe()
    }

    /// Whether `id` is a live member of `role`. Live in the view is taken as
    /// it is (at worst a dead member looks live one interval longer); absent
    /// from the view is checked in the store, as the view may predate the
    /// member's joining, and taking a shard from a member wrongly thought
    /// dead would fence it out.
    pub async fn is_live(&self, role: MemberRole, id: &str) -> StoreResult<bool> {
        if self.views.sender(role).borrow().iter().any(|member| member.id == id) {
            return Ok(true);
        }
        let live = self.store.live_members(role, now_nanos()).await?;
        Ok(live.iter().any(|member| member.id == id))
    }

    pub fn lease(&self) -> Duration {
        self.config.lease
    }

    /// False once the membership table could not be read for a whole lease
    /// (the store is down or cut off), true again at the next full read:
    /// meanwhile the views are stale, and whoever relies on them (a gateway
    /// judging whether any engine will apply its commands) must not.
    pub fn store_answering(&self) -> watch::Receiver<bool> {
        self.views.store_answering.subscribe()
    }

    /// Stops heartbeating and deletes this member's row, so the others see it
    /// gone at their next refresh instead of after its lease.
    pub async fn leave(&self) {
        self.stop_heartbeating();
        if let Err(error) = self.store.leave(&self.member).await {
            tracing::warn!(member = %self.member.id, %error, "deleting the membership row failed; it expires with its lease");
        }
    }

    /// Stops heartbeating and refreshing the views, leaving the row to
    /// expire: what a crash looks like to the others (tests use it so).
    pub fn stop_heartbeating(&self) {
        if let Some(task) = self.heartbeat.lock().take() {
            task.abort();
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.stop_heartbeating();
    }
}

async fn heartbeat(store: &dyn MembershipStore, member: &Member, config: &MembershipConfig) -> StoreResult<()> {
    let lease = i64::try_from(config.lease.as_nanos()).unwrap_or(i64::MAX);
    store.heartbeat(member, now_nanos().saturating_add(lease)).await
}

async fn keep_heartbeating(store: Arc<dyn MembershipStore>, member: Member, config: MembershipConfig, views: Arc<Views>) {
    let mut ticks = tokio::time::interval(config.heartbeat_interval);
    // A late tick (a slow store) must not be followed by a burst of heartbeats.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut last_full_read = tokio::time::Instant::now();
    loop {
        ticks.tick().await;
        // Bounded, so a store that hangs rather than fails is noticed too.
        match tokio::time::timeout(config.lease, heartbeat(store.as_ref(), &member, &config)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(member = %member.id, %error, "a heartbeat failed; retrying at the next interval"),
            Err(_) => tracing::warn!(member = %member.id, "a heartbeat took longer than the lease; retrying at the next interval"),
        }
        let all_read = match tokio::time::timeout(config.lease, views.refresh(store.as_ref())).await {
            Ok(all_read) => all_read,
            Err(_) => {
                tracing::warn!(member = %member.id, "reading the live members took longer than the lease; keeping the last views");
                false
            }
        };
        if all_read {
            last_full_read = tokio::time::Instant::now();
            views.set_store_answering(true);
        } else if last_full_read.elapsed() >= config.lease {
            views.set_store_answering(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded_db::EmbeddedDb;
    use crate::store::embedded::EmbeddedStore;

    const CONFIG: MembershipConfig =
        MembershipConfig { heartbeat_interval: Duration::from_millis(50), lease: Duration::from_millis(400) };

    fn engine(id: &str) -> Member {
        Member { id: id.to_string(), role: MemberRole::Engine, address: format!("{id}:1") }
    }

    async fn until_view(membership: &Membership, role: MemberRole, ids: &[&str]) {
        let mut view = membership.view(role);
        let wanted = |members: &Vec<Member>| members.iter().map(|member| member.id.as_str()).eq(ids.iter().copied());
        tokio::time::timeout(Duration::from_secs(10), view.wait_for(wanted))
            .await
            .unwrap_or_else(|_| panic!("the view never became {ids:?}"))
            .expect("the view is open");
    }

    #[tokio::test]
    async fn views_converge_on_joins_leaves_and_expiries() {
        let store: Arc<dyn MembershipStore> = Arc::new(EmbeddedStore::new(EmbeddedDb::open_temporary().expect("db")));
        let a = Membership::join(store.clone(), engine("a"), CONFIG.clone()).await.expect("a joins");
        assert_eq!(a.view(MemberRole::Engine).borrow().clone(), [engine("a")], "the view is read before join returns");
        let b = Membership::join(store.clone(), engine("b"), CONFIG.clone()).await.expect("b joins");
        let gateway = Member { id: "g".into(), role: MemberRole::Gateway, address: "g:1".into() };
        let g = Membership::join(store.clone(), gateway, CONFIG.clone()).await.expect("g joins");
        until_view(&a, MemberRole::Engine, &["a", "b"]).await;
        until_view(&a, MemberRole::Gateway, &["g"]).await;
        assert!(a.is_live(MemberRole::Engine, "b").await.expect("is_live"));

        b.leave().await;
        until_view(&a, MemberRole::Engine, &["a"]).await;
        g.stop_heartbeating();
        until_view(&a, MemberRole::Gateway, &[]).await;
        assert!(!a.is_live(MemberRole::Gateway, "g").await.expect("is_live"), "expired with its lease");
        a.leave().await;
    }

    /// A membership store whose reads fail while `down` is set.
    struct Flaky {
        inner: EmbeddedStore,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl MembershipStore for Flaky {
        async fn heartbeat(&self, member: &Member, expires_at_nanos: i64) -> StoreResult<()> {
            self.inner.heartbeat(member, expires_at_nanos).await
        }

        async fn live_members(&self, role: MemberRole, now_nanos: i64) -> StoreResult<Vec<Member>> {
            if self.down.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(crate::store::StoreError::Storage("unreachable".into()));
            }
            self.inner.live_members(role, now_nanos).await
        }

        async fn leave(&self, member: &Member) -> StoreResult<()> {
            self.inner.leave(member).await
        }
    }

    #[tokio::test]
    async fn the_store_is_reported_unanswering_after_failed_reads_and_answering_after_one_full_read() {
        let flaky = Arc::new(Flaky { inner: EmbeddedStore::new(EmbeddedDb::open_temporary().expect("db")), down: false.into() });
        let a = Membership::join(flaky.clone(), engine("a"), CONFIG.clone()).await.expect("a joins");
        let mut answering = a.store_answering();
        assert!(*answering.borrow_and_update());

        flaky.down.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(10), answering.wait_for(|answering| !answering))
            .await
            .expect("reported unanswering")
            .expect("open");
        assert_eq!(a.view(MemberRole::Engine).borrow().clone(), [engine("a")], "the last view is kept");

        flaky.down.store(false, std::sync::atomic::Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(10), answering.wait_for(|answering| *answering))
            .await
            .expect("answering again")
            .expect("open");
        a.leave().await;
    }
}
