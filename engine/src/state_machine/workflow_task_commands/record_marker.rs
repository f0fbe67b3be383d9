//! RecordMarker: a value the workflow needs again on replay (side effects,
//! local activity results, version markers).

use temper_proto::api::command::v1::RecordMarkerCommandAttributes;
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::history::v1::MarkerRecordedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;

use super::{CommandContext, WorkflowTaskFailure, check_failure, check_id, check_size};
use crate::state_machine::history::RunMutation;

pub(super) fn handle(
    mutation: &mut RunMutation,
    attributes: &RecordMarkerCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let cause = WorkflowTaskFailedCause::BadRecordMarkerAttributes;
    check_id(&attributes.marker_name, "MarkerName", context, cause)?;
    check_size(attributes.header.as_ref(), context, cause, "RecordMarkerCommandAttributes.Header")?;
    check_failure(attributes.failure.as_ref(), context, cause, "RecordMarkerCommandAttributes.Failure")?;
    let size: usize = attributes.details.values().map(prost::Message::encoded_len).sum();
    if size > context.max_payload_bytes {
        return Err(WorkflowTaskFailure::terminating(
            WorkflowTaskFailedCause::BadRecordMarkerAttributes,
            format!("RecordMarkerCommandAttributes.Details is {size} bytes, over the {} byte limit", context.max_payload_bytes),
        ));
    }
    Ok(mutation.add_event(Attributes::from(MarkerRecordedEventAttributes {
        marker_name: attributes.marker_name.clone(),
        details: attributes.details.clone(),
        workflow_task_completed_event_id: context.completed_event_id,
        header: attributes.header.clone(),
        failure: attributes.failure.clone(),
    })))
}
