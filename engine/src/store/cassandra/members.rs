//! The members' heartbeat rows: one partition per role, a row per member.
//! Each row carries its expiry, which decides liveness, and is written with
//! a TTL a little longer than that, so the rows of members that died vanish
//! by themselves.

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;

use super::{CassandraError, CassandraStore, Preparer};
use crate::store::{Member, MemberRole, MembershipStore, StoreResult};
use crate::time::now_nanos;

/// How much longer than its lease a row outlives its expiry: enough that
/// clock skew never has a row vanish while its expiry still says live.
const TTL_MARGIN_SECONDS: i64 = 10;

pub(super) struct MemberStatements {
    heartbeat: PreparedStatement,
    live: PreparedStatement,
    leave: PreparedStatement,
}

impl MemberStatements {
    pub(super) async fn prepare(preparer: &Preparer<'_>) -> Result<MemberStatements, CassandraError> {
        Ok(MemberStatements {
            heartbeat: preparer
                .prepare("INSERT INTO {ks}.member (role, id, address, expires_at) VALUES (?, ?, ?, ?) USING TTL ?")
                .await?,
            live: preparer.prepare("SELECT id, address, expires_at FROM {ks}.member WHERE role = ?").await?,
            leave: preparer.prepare("DELETE FROM {ks}.member WHERE role = ? AND id = ?").await?,
        })
    }
}

#[async_trait]
impl MembershipStore for CassandraStore {
    async fn heartbeat(&self, member: &Member, expires_at_nanos: i64) -> StoreResult<()> {
        let values = (member.role.code(), &member.id, &member.address, expires_at_nanos, ttl_seconds(expires_at_nanos));
        self.execute(&self.statements.members.heartbeat, values).await?;
        Ok(())
    }

    async fn live_members(&self, role: MemberRole, now_nanos: i64) -> StoreResult<Vec<Member>> {
        let rows: Vec<(String, Option<String>, Option<i64>)> =
            self.rows(&self.statements.members.live, (role.code(),)).await?;
        // Clustered by id, so already in id order.
        Ok(rows
            .into_iter()
            .filter(|(_, _, expires_at)| expires_at.is_some_and(|expires_at| expires_at > now_nanos))
            .map(|(id, address, _)| Member { id, role, address: address.unwrap_or_default() })
            .collect())
    }

    async fn leave(&self, member: &Member) -> StoreResult<()> {
        self.execute(&self.statements.members.leave, (member.role.code(), &member.id)).await?;
        Ok(())
    }
}

/// The row's TTL: the whole seconds left until its expiry plus one, plus the margin.
fn ttl_seconds(expires_at_nanos: i64) -> i32 {
    let left = expires_at_nanos.saturating_sub(now_nanos()).max(0);
    let seconds = (left / 1_000_000_000 + 1).saturating_add(TTL_MARGIN_SECONDS);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}
