//! OperatorService: a namespace's custom search attributes, kept in its
//! record as Temporal keeps them per namespace with a SQL visibility store
//! (`service/frontend/operator_handler.go`, its `...SQL` paths). Names and
//! types follow `common/searchattribute/sadefs` (see
//! `temper_engine::search_attributes`).

use std::collections::HashMap;

use temper_engine::search_attributes::{TYPES, custom_limit, is_builtin, is_reserved, type_name, PREDEFINED, SYSTEM};
use temper_proto::api::enums::v1::IndexedValueType;
use temper_proto::api::operatorservice::v1::{
    AddSearchAttributesRequest, AddSearchAttributesResponse, ListSearchAttributesRequest, ListSearchAttributesResponse,
    RemoveSearchAttributesRequest, RemoveSearchAttributesResponse,
};
use temper_proto::records::NamespaceRecord;

use crate::errors::{ApiError, ApiResult};
use crate::namespaces::NamespaceRegistry;

/// The registry of the gateway serving in this process.
/// Registers custom search attributes in a namespace. One already
/// registered with the same type is left as it is (Temporal logs it and goes
/// on); with another type it is refused, where Temporal would silently keep
/// the old type.
pub async fn add_search_attributes(
    namespaces: &NamespaceRegistry,
    request: AddSearchAttributesRequest,
) -> ApiResult<AddSearchAttributesResponse> {
    let wanted = requested_types(&request.search_attributes)?;
    let namespace = namespace_of(&request.namespace)?;
    namespaces.resolve(namespace).await?;
    namespaces.update(namespace, |record| add(record, &wanted)).await?;
    Ok(AddSearchAttributesResponse {})
}

/// Removes custom search attributes from a namespace. Names it does not
/// have are skipped, as Temporal does; system and predefined ones cannot
/// be removed. Runs keep the values they were given.
pub async fn remove_search_attributes(
    namespaces: &NamespaceRegistry,
    request: RemoveSearchAttributesRequest,
) -> ApiResult<RemoveSearchAttributesResponse> {
    if request.search_attributes.is_empty() {
        return Err(ApiError::invalid("SearchAttributes are not set on request."));
    }
    let namespace = namespace_of(&request.namespace)?;
    namespaces.resolve(namespace).await?;
    namespaces.update(namespace, |record| remove(record, &request.search_attributes)).await?;
    Ok(RemoveSearchAttributesResponse {})
}

/// The namespace's custom search attributes, and as system attributes the
/// system and predefined ones, as Temporal lists them for a SQL store (no
/// storage schema).
pub async fn list_search_attributes(
    namespaces: &NamespaceRegistry,
    request: ListSearchAttributesRequest,
) -> ApiResult<ListSearchAttributesResponse> {
    let record = namespaces.resolve(namespace_of(&request.namespace)?).await?;
    Ok(ListSearchAttributesResponse {
        custom_attributes: record.custom_search_attributes,
        system_attributes: SYSTEM.iter().chain(PREDEFINED).map(|(name, value_type)| (name.to_string(), *value_type as i32)).collect(),
        storage_schema: HashMap::new(),
    })
}

/// Search attributes are kept per namespace, so a request must name one
/// (Temporal requires it with a SQL visibility store too).
fn namespace_of(namespace: &str) -> ApiResult<&str> {
    if namespace.is_empty() {
        return Err(ApiError::invalid("Namespace is not set on request."));
    }
    Ok(namespace)
}

/// The names and types a request registers, checked as Temporal checks
/// them before it looks at the namespace, in name order.
fn requested_types(requested: &HashMap<String, i32>) -> ApiResult<Vec<(String, IndexedValueType)>> {
    if requested.is_empty() {
        return Err(ApiError::invalid("SearchAttributes are not set on request."));
    }
    let mut wanted: Vec<(String, i32)> = requested.iter().map(|(name, value_type)| (name.clone(), *value_type)).collect();
    wanted.sort();
    wanted
        .into_iter()
        .map(|(name, value_type)| {
            if name.is_empty() {
                return Err(ApiError::invalid("A search attribute name is empty."));
            }
            if is_reserved(&name) {
                return Err(ApiError::invalid(format!("Search attribute {name} is reserved by system.")));
            }
            match IndexedValueType::try_from(value_type) {
                Ok(known) if TYPES.contains(&known) => Ok((name, known)),
                Ok(unspecified) => Err(ApiError::invalid(format!("Unknown search attribute type: {}.", type_name(unspecified)))),
                Err(_) => Err(ApiError::invalid(format!("Unknown search attribute type: {value_type}."))),
            }
        })
        .collect()
}

fn add(record: &mut NamespaceRecord, wanted: &[(String, IndexedValueType)]) -> ApiResult<()> {
    for (name, value_type) in wanted {
        match record.custom_search_attributes.get(name).map(|existing| IndexedValueType::try_from(*existing)) {
            Some(Ok(existing)) if existing == *value_type => continue,
            Some(existing) => {
                let existing = existing.map(type_name).unwrap_or("Unspecified");
                return Err(ApiError::invalid(format!(
                    "Search attribute {name} already exists with type {existing}; remove it first to give it type {}.",
                    type_name(*value_type)
                )));
            }
            None => {}
        }
        let used = record.custom_search_attributes.values().filter(|existing| **existing == *value_type as i32).count();
        let limit = custom_limit(*value_type);
        if used >= limit {
            return Err(ApiError::invalid(format!(
                "Unable to create search attributes: cannot have more than {limit} search attribute of type {}.",
                type_name(*value_type)
            )));
        }
        record.custom_search_attributes.insert(name.clone(), *value_type as i32);
    }
    Ok(())
}

fn remove(record: &mut NamespaceRecord, names: &[String]) -> ApiResult<()> {
    for name in names {
        if record.custom_search_attributes.remove(name).is_none() && is_builtin(name) {
            return Err(ApiError::invalid(format!("Unable to remove non-custom search attributes: {name}.")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespaces::new_namespace;

    fn request(attributes: &[(&str, IndexedValueType)]) -> HashMap<String, i32> {
        attributes.iter().map(|(name, value_type)| (name.to_string(), *value_type as i32)).collect()
    }

    fn refusal<T: std::fmt::Debug>(result: ApiResult<T>) -> String {
        match result {
            Err(ApiError::InvalidArgument(message)) => message,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn reserved_names_and_unknown_types_are_refused_with_temporals_messages() {
        assert_eq!(
            refusal(requested_types(&request(&[("WorkflowId", IndexedValueType::Keyword)]))),
            "Search attribute WorkflowId is reserved by system."
        );
        assert_eq!(
            refusal(requested_types(&request(&[("TemporalMine", IndexedValueType::Int)]))),
            "Search attribute TemporalMine is reserved by system."
        );
        assert_eq!(
            refusal(requested_types(&request(&[("Memo", IndexedValueType::Text)]))),
            "Search attribute Memo is reserved by system."
        );
        assert_eq!(
            refusal(requested_types(&request(&[("Fine", IndexedValueType::Unspecified)]))),
            "Unknown search attribute type: Unspecified."
        );
        assert_eq!(refusal(requested_types(&HashMap::from([("Fine".to_string(), 99)]))), "Unknown search attribute type: 99.");
        assert_eq!(refusal(requested_types(&HashMap::new())), "SearchAttributes are not set on request.");
        assert_eq!(refusal(namespace_of("")), "Namespace is not set on request.");
    }

    #[test]
    fn adding_again_with_the_same_type_changes_nothing_and_with_another_is_refused() {
        let mut record = new_namespace("ns", "", "", 1);
        add(&mut record, &[("CustomerId".to_string(), IndexedValueType::Keyword)]).expect("add");
        let before = record.clone();
        add(&mut record, &[("CustomerId".to_string(), IndexedValueType::Keyword)]).expect("add again");
        assert_eq!(record, before);
        let message = refusal(add(&mut record, &[("CustomerId".to_string(), IndexedValueType::Int)]));
        assert!(message.contains("CustomerId already exists with type Keyword"), "{message}");
    }

    #[test]
    fn each_type_has_temporals_sql_limit() {
        let mut record = new_namespace("ns", "", "", 1);
        let ints: Vec<(String, IndexedValueType)> = (1..=3).map(|i| (format!("Int{i}"), IndexedValueType::Int)).collect();
        add(&mut record, &ints).expect("three Int attributes");
        assert_eq!(
            refusal(add(&mut record, &[("Int4".to_string(), IndexedValueType::Int)])),
            "Unable to create search attributes: cannot have more than 3 search attribute of type Int."
        );
        let keywords: Vec<(String, IndexedValueType)> = (1..=10).map(|i| (format!("Kw{i}"), IndexedValueType::Keyword)).collect();
        add(&mut record, &keywords).expect("ten Keyword attributes");
        assert!(add(&mut record, &[("Kw11".to_string(), IndexedValueType::Keyword)]).is_err());
    }

    #[test]
    fn removing_skips_unknown_names_and_refuses_builtin_ones() {
        let mut record = new_namespace("ns", "", "", 1);
        add(&mut record, &[("CustomerId".to_string(), IndexedValueType::Keyword)]).expect("add");
        remove(&mut record, &["Unknown".to_string(), "CustomerId".to_string()]).expect("remove");
        assert!(record.custom_search_attributes.is_empty());
        assert_eq!(
            refusal(remove(&mut record, &["WorkflowId".to_string()])),
            "Unable to remove non-custom search attributes: WorkflowId."
        );
        assert_eq!(
            refusal(remove(&mut record, &["TemporalChangeVersion".to_string()])),
            "Unable to remove non-custom search attributes: TemporalChangeVersion."
        );
    }
}
