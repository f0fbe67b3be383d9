//! Auto reset points: the first workflow task each worker build (binary
//! checksum and build id) completed, which DescribeWorkflowExecution shows
//! and reset offers as targets. A chain of runs hands its points on, those
//! of the run that closed expiring with its retention, as in Temporal.

use prost_types::Timestamp;
use temper_proto::api::workflow::v1::{ResetPointInfo, ResetPoints};
use temper_proto::records::ExecutionInfo;

use super::Nanos;
use super::history::RunMutation;
use crate::time::{deadline, duration_nanos, timestamp_from_nanos, timestamp_nanos};

/// Temporal keeps the newest 20 (`limit.maxResetPoints`).
const MAX_RESET_POINTS: usize = 20;

impl RunMutation<'_> {
    /// Records the completed workflow task `completed_event_id` as a reset
    /// point, unless the worker build already has one. Binary checksums are
    /// deprecated, yet older workers still identify their build by them.
    #[allow(deprecated)]
    pub(super) fn add_reset_point(&mut self, binary_checksum: &str, build_id: &str, completed_event_id: i64) {
        let now = self.now();
        let info = self.info_mut();
        let points = &mut info.auto_reset_points.get_or_insert_with(Default::default).points;
        if points.iter().any(|point| point.binary_checksum == binary_checksum && point.build_id == build_id) {
            return;
        }
        points.push(ResetPointInfo {
            binary_checksum: binary_checksum.to_string(),
            build_id: build_id.to_string(),
            run_id: info.run_id.clone(),
            first_workflow_task_completed_id: completed_event_id,
            create_time: Some(timestamp_from_nanos(now)),
            expire_time: None,
            resettable: true,
        });
        if points.len() > MAX_RESET_POINTS {
            points.drain(..points.len() - MAX_RESET_POINTS);
        }
    }
}

/// The points a run hands to the run that follows it, starting at `now`:
/// expired ones are dropped, and the closing run's own expire with its
/// retention.
pub(super) fn handed_on(info: &ExecutionInfo, now: Nanos) -> Option<ResetPoints> {
    let points = info.auto_reset_points.as_ref()?;
    let expiry = own_points_expiry(info, now);
    let kept = points
        .points
        .iter()
        .filter(|point| point.expire_time.as_ref().is_none_or(|expire| timestamp_nanos(expire) >= now))
        .map(|point| {
            let mut point = point.clone();
            if point.run_id == info.run_id && expiry.is_some() {
                point.expire_time = expiry;
            }
            point
        })
        .collect();
    Some(ResetPoints { points: kept })
}

/// When the points of a run closing at `now` expire: with its retention
/// (never, for a run kept for ever).
fn own_points_expiry(info: &ExecutionInfo, now: Nanos) -> Option<Timestamp> {
    let retention = duration_nanos(info.retention.as_ref());
    (retention > 0).then(|| timestamp_from_nanos(deadline(now, retention)))
}

impl RunMutation<'_> {
    /// A run followed by another marks its own points expiring as it hands
    /// them on: Temporal marks them in place, so describing the closed run
    /// shows their expire time.
    pub(super) fn expire_own_reset_points(&mut self) {
        let now = self.now();
        let info = self.info_mut();
        let Some(expiry) = own_points_expiry(info, now) else { return };
        let run_id = info.run_id.clone();
        let points = info.auto_reset_points.iter_mut().flat_map(|points| points.points.iter_mut());
        for point in points.filter(|point| point.run_id == run_id) {
            point.expire_time = Some(expiry);
        }
    }
}
