//! UpsertWorkflowSearchAttributes and ModifyWorkflowProperties: the run's
//! search attributes and memo, merged key by key (a null value removes a
//! key). The Python SDK's `workflow.patched()` upserts TemporalChangeVersion.

use std::collections::HashMap;

use temper_proto::api::command::v1::{ModifyWorkflowPropertiesCommandAttributes, UpsertWorkflowSearchAttributesCommandAttributes};
use temper_proto::api::common::v1::{Memo, Payload, SearchAttributes};
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{UpsertWorkflowSearchAttributesEventAttributes, WorkflowPropertiesModifiedEventAttributes};

use super::{CommandContext, WorkflowTaskFailure, check_id, check_search_attributes, check_size};
use crate::state_machine::history::RunMutation;
use temper_proto::records::ExecutionInfo;

pub(super) fn upsert_search_attributes(
    mutation: &mut RunMutation,
    attributes: &UpsertWorkflowSearchAttributesCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let Some(search_attributes) = attributes.search_attributes.clone() else {
        return Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::BadSearchAttributes,
            "SearchAttributes is not set on UpsertWorkflowSearchAttributesCommand",
        ));
    };
    check_size(Some(&search_attributes), context, WorkflowTaskFailedCause::BadSearchAttributes, "SearchAttributes")?;
    for name in search_attributes.indexed_fields.keys() {
        check_id(name, "SearchAttributeName", context, WorkflowTaskFailedCause::BadSearchAttributes)?;
    }
    if context.search_attribute_types.is_some() && search_attributes.indexed_fields.is_empty() {
        return Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::BadSearchAttributes,
            "IndexedFields is not set on UpsertWorkflowSearchAttributesCommand.",
        ));
    }
    check_search_attributes(Some(&search_attributes), context, "")?;
    upsert_search_attributes_of(mutation.info_mut(), &search_attributes);
    mutation.mark_visibility_changed();
    Ok(mutation.add_event(Attributes::from(UpsertWorkflowSearchAttributesEventAttributes {
        workflow_task_completed_event_id: context.completed_event_id,
        search_attributes: Some(search_attributes),
    })))
}

pub(super) fn modify_workflow_properties(
    mutation: &mut RunMutation,
    attributes: &ModifyWorkflowPropertiesCommandAttributes,
    context: &CommandContext,
) -> Result<i64, WorkflowTaskFailure> {
    let Some(memo) = attributes.upserted_memo.clone() else {
        return Err(WorkflowTaskFailure::new(
            WorkflowTaskFailedCause::BadModifyWorkflowPropertiesAttributes,
            "UpsertedMemo is not set on ModifyWorkflowPropertiesCommand",
        ));
    };
    check_size(Some(&memo), context, WorkflowTaskFailedCause::BadModifyWorkflowPropertiesAttributes, "UpsertedMemo")?;
    upsert_memo_of(mutation.info_mut(), &memo);
    mutation.mark_visibility_changed();
    Ok(mutation.add_event(Attributes::from(WorkflowPropertiesModifiedEventAttributes {
        workflow_task_completed_event_id: context.completed_event_id,
        upserted_memo: Some(memo),
    })))
}

/// Merges upserted search attributes into the run's.
pub(in crate::state_machine) fn upsert_search_attributes_of(info: &mut ExecutionInfo, updates: &SearchAttributes) {
    let merged = merge(info.search_attributes.take().map(|s| s.indexed_fields), &updates.indexed_fields);
    info.search_attributes = Some(SearchAttributes { indexed_fields: merged });
}

/// Merges an upserted memo into the run's.
pub(in crate::state_machine) fn upsert_memo_of(info: &mut ExecutionInfo, updates: &Memo) {
    let merged = merge(info.memo.take().map(|m| m.fields), &updates.fields);
    info.memo = Some(Memo { fields: merged });
}

/// A memo as Temporal records it in the events that create runs: null-like
/// values dropped, and no memo at all when nothing is left.
pub(in crate::state_machine) fn recorded_memo(memo: Option<Memo>) -> Option<Memo> {
    let fields = merge(None, &memo?.fields);
    (!fields.is_empty()).then_some(Memo { fields })
}

/// Search attributes as [`recorded_memo`] records a memo.
pub(in crate::state_machine) fn recorded_search_attributes(attributes: Option<SearchAttributes>) -> Option<SearchAttributes> {
    let indexed_fields = merge(None, &attributes?.indexed_fields);
    (!indexed_fields.is_empty()).then_some(SearchAttributes { indexed_fields })
}

/// Temporal's merge: each key is replaced, and a null-like value removes it.
fn merge(current: Option<HashMap<String, Payload>>, updates: &HashMap<String, Payload>) -> HashMap<String, Payload> {
    let mut merged = current.unwrap_or_default();
    for (key, value) in updates {
        if is_null(value) {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

/// No data, JSON `null`, or an empty JSON list.
fn is_null(payload: &Payload) -> bool {
    matches!(payload.data.as_slice(), b"" | b"null" | b"[]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(data: &str) -> Payload {
        Payload { data: data.as_bytes().to_vec(), ..Default::default() }
    }

    #[test]
    fn upserts_replace_keys_and_null_removes_them() {
        let current = HashMap::from([("a".to_string(), payload("1")), ("b".to_string(), payload("2"))]);
        let updates = HashMap::from([("a".to_string(), payload("3")), ("b".to_string(), payload("null"))]);
        let merged = merge(Some(current), &updates);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged["a"].data, b"3");
    }
}
