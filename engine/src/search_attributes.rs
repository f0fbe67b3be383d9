//! Search attributes as Temporal defines them: the system attributes every
//! run has, the predefined ones Temporal's SDKs and features set, the names a
//! custom attribute may not take, and the check of the attributes a start
//! request or a workflow task command sets against the custom attributes
//! registered in its namespace (Temporal's `common/searchattribute`: the
//! lists of `sadefs/constants.go`, the checks of `validator.go`, the value
//! decoding of `sadefs/encode_value.go`, with the defaults of a SQL
//! visibility store). Pure: the gateway and the state machine share it.

use std::collections::HashMap;

use prost::Message;
use serde_json::Value;
use temper_proto::api::common::v1::{Payload, SearchAttributes};
use temper_proto::api::enums::v1::IndexedValueType;

use IndexedValueType::{Bool, Datetime, Double, Int, Keyword, KeywordList, Text};

/// Kept by the server for every run and searchable, never set by a workflow.
pub const SYSTEM: &[(&str, IndexedValueType)] = &[
    ("WorkflowId", Keyword),
    ("RunId", Keyword),
    ("WorkflowType", Keyword),
    ("StartTime", Datetime),
    ("ExecutionTime", Datetime),
    ("CloseTime", Datetime),
    ("ExecutionStatus", Keyword),
    ("TaskQueue", Keyword),
    ("HistoryLength", Int),
    ("ExecutionDuration", Int),
    ("StateTransitionCount", Int),
    ("HistorySizeBytes", Int),
    ("ParentWorkflowId", Keyword),
    ("ParentRunId", Keyword),
    ("RootWorkflowId", Keyword),
    ("RootRunId", Keyword),
];

/// Stored with a run's custom attributes, but defined by Temporal itself
/// (its SDKs, schedules, batches, worker versioning).
pub const PREDEFINED: &[(&str, IndexedValueType)] = &[
    ("TemporalChangeVersion", KeywordList),
    ("BinaryChecksums", KeywordList),
    ("BuildIds", KeywordList),
    ("BatcherNamespace", Keyword),
    ("BatcherUser", Keyword),
    ("TemporalScheduledStartTime", Datetime),
    ("TemporalScheduledById", Keyword),
    ("TemporalSchedulePaused", Bool),
    ("TemporalNamespaceDivision", Keyword),
    ("TemporalPauseInfo", KeywordList),
    ("TemporalReportedProblems", KeywordList),
    ("TemporalWorkerDeploymentVersion", Keyword),
    ("TemporalWorkflowVersioningBehavior", Keyword),
    ("TemporalWorkerDeployment", Keyword),
    ("TemporalUsedWorkerDeploymentVersions", KeywordList),
    ("TemporalExternalPayloadCount", Int),
    ("TemporalExternalPayloadSizeBytes", Int),
];

/// The predefined attributes a request or a workflow may set (Temporal's
/// `predefinedWhiteList`): `workflow.patched()` upserts TemporalChangeVersion,
/// schedules start runs with TemporalScheduledById, and so on. The others
/// are the server's own.
const SETTABLE_PREDEFINED: &[&str] = &[
    "TemporalChangeVersion",
    "BinaryChecksums",
    "BuildIds",
    "BatcherNamespace",
    "BatcherUser",
    "TemporalScheduledStartTime",
    "TemporalScheduledById",
    "TemporalSchedulePaused",
    "TemporalNamespaceDivision",
    "TemporalPauseInfo",
    "TemporalReportedProblems",
];

/// Field names of the visibility store that no attribute may take.
const RESERVED: &[&str] = &["NamespaceId", "MemoEncoding", "Memo", "VisibilityTaskKey"];

/// Names starting with it are Temporal's.
pub const RESERVED_PREFIX: &str = "Temporal";

/// Most search attributes one request or command may set
/// (`frontend.searchAttributesNumberOfKeysLimit`).
pub const MAX_KEYS: usize = 100;
/// Largest value, in bytes of its payload's data (`frontend.searchAttributesSizeOfValueLimit`).
pub const MAX_VALUE_BYTES: usize = 2 * 1024;
/// Largest set of search attributes, encoded (`frontend.searchAttributesTotalSizeLimit`).
pub const MAX_TOTAL_BYTES: usize = 40 * 1024;

/// Every type a custom search attribute may have.
pub const TYPES: [IndexedValueType; 7] = [Text, Keyword, Int, Double, Bool, Datetime, KeywordList];

pub fn system_type(name: &str) -> Option<IndexedValueType> {
    SYSTEM.iter().find(|(system, _)| *system == name).map(|(_, value_type)| *value_type)
}

pub fn predefined_type(name: &str) -> Option<IndexedValueType> {
    PREDEFINED.iter().find(|(predefined, _)| *predefined == name).map(|(_, value_type)| *value_type)
}

/// Whether a custom search attribute may not take this name: a system or
/// predefined attribute's, a field of the store's, or one in Temporal's
/// `Temporal...` space (Temporal's `IsReserved`).
pub fn is_reserved(name: &str) -> bool {
    system_type(name).is_some()
        || predefined_type(name).is_some()
        || RESERVED.contains(&name)
        || name.starts_with(RESERVED_PREFIX)
}

/// Whether the name is a system or predefined attribute: what ListSearchAttributes
/// returns as system attributes, and what RemoveSearchAttributes cannot remove.
pub fn is_builtin(name: &str) -> bool {
    system_type(name).is_some() || predefined_type(name).is_some()
}

/// How many custom attributes of a type one namespace may have: the columns
/// Temporal's SQL visibility schema provides per type.
pub fn custom_limit(value_type: IndexedValueType) -> usize {
    match value_type {
        Keyword => 10,
        _ => 3,
    }
}

/// The name Temporal's API gives a type (`IndexedValueType.String()` in Go,
/// and the CLI's `--type` values).
pub fn type_name(value_type: IndexedValueType) -> &'static str {
    match value_type {
        IndexedValueType::Unspecified => "Unspecified",
        Text => "Text",
        Keyword => "Keyword",
        Int => "Int",
        Double => "Double",
        Bool => "Bool",
        Datetime => "Datetime",
        KeywordList => "KeywordList",
    }
}

/// The type an attribute set by a workflow has, or why it cannot be set:
/// registered custom attributes and the settable predefined ones have a
/// type; system attributes and the server's predefined ones are refused,
/// and any other name is not defined in the namespace.
fn settable_type(name: &str, namespace: &str, custom: &HashMap<String, i32>) -> Result<IndexedValueType, String> {
    if system_type(name).is_some() || (predefined_type(name).is_some() && !SETTABLE_PREDEFINED.contains(&name)) {
        return Err(format!("{name} attribute can't be set in SearchAttributes"));
    }
    if let Some(value_type) = predefined_type(name) {
        return Ok(value_type);
    }
    match custom.get(name).map(|value_type| IndexedValueType::try_from(*value_type)) {
        Some(Ok(value_type)) if value_type != IndexedValueType::Unspecified => Ok(value_type),
        _ => Err(format!("Namespace {namespace} has no mapping defined for search attribute {name}")),
    }
}

/// Checks the search attributes a start request or a workflow task command
/// sets, as Temporal does: every name must be a registered custom attribute
/// of the namespace or a predefined one a workflow may set, every value must
/// decode as the attribute's type (a list of such values too, and a null or
/// empty list, which removes the attribute), and the set must be within the
/// size limits. The error is Temporal's message. Names are checked in order,
/// so the message is the same for the same request.
pub fn validate(attributes: Option<&SearchAttributes>, namespace: &str, custom: &HashMap<String, i32>) -> Result<(), String> {
    check_defined(attributes, namespace, custom)?;
    check_values(attributes, namespace, custom)
}

/// The first step of [`validate`]: every name is a system, predefined or
/// registered custom attribute (Temporal maps each name to its field
/// before anything else, refusing one it cannot map).
pub fn check_defined(attributes: Option<&SearchAttributes>, namespace: &str, custom: &HashMap<String, i32>) -> Result<(), String> {
    let Some(attributes) = attributes else {
        return Ok(());
    };
    let mut names: Vec<&String> = attributes.indexed_fields.keys().collect();
    names.sort();
    match names.into_iter().find(|name| system_type(name).is_none() && predefined_type(name).is_none() && !custom.contains_key(name.as_str())) {
        Some(name) => Err(format!("Namespace {namespace} has no mapping defined for search attribute {name}")),
        None => Ok(()),
    }
}

/// The rest of [`validate`], for names [`check_defined`] accepted: the
/// count, who may set each, each value's type and the sizes.
pub fn check_values(attributes: Option<&SearchAttributes>, namespace: &str, custom: &HashMap<String, i32>) -> Result<(), String> {
    let Some(attributes) = attributes.filter(|attributes| !attributes.indexed_fields.is_empty()) else {
        return Ok(());
    };
    let mut fields: Vec<(&String, &Payload)> = attributes.indexed_fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    if fields.len() > MAX_KEYS {
        return Err(format!("number of search attributes {} exceeds limit {MAX_KEYS}", fields.len()));
    }
    for (name, payload) in &fields {
        let value_type = settable_type(name, namespace, custom)?;
        check_value(payload, value_type).map_err(|shown| {
            format!("invalid value for search attribute {name} of type {}: {shown}", type_name(value_type))
        })?;
    }
    for (name, payload) in &fields {
        if payload.data.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "search attribute {name} value size {} exceeds size limit {MAX_VALUE_BYTES}",
                payload.data.len()
            ));
        }
    }
    let total = attributes.encoded_len();
    if total > MAX_TOTAL_BYTES {
        return Err(format!("total size of search attributes {total} exceeds size limit {MAX_TOTAL_BYTES}"));
    }
    Ok(())
}

/// Whether a payload holds a value of the type: JSON (`json/plain`, how
/// every SDK encodes search attributes) of that type or a list of such, or a
/// null. Otherwise the value as Temporal shows it in its message.
pub fn check_value(payload: &Payload, value_type: IndexedValueType) -> Result<(), String> {
    let encoding = payload.metadata.get("encoding").map(Vec::as_slice);
    let value = match encoding {
        Some(b"binary/null") => return Ok(()),
        Some(b"json/plain") => serde_json::from_slice::<Value>(&payload.data).map_err(|_| undecodable(payload))?,
        _ => return Err(undecodable(payload)),
    };
    let fits = match (&value, value_type) {
        (Value::Null, _) => true,
        // Temporal decodes KeywordList as a list of strings and nothing else;
        // a null element decodes as an empty string.
        (Value::Array(items), KeywordList) => items.iter().all(|item| matches!(item, Value::String(_) | Value::Null)),
        (_, KeywordList) => false,
        // Other types also take a list of their values (`system.visibilityAllowList`).
        (Value::Array(items), _) => items.iter().all(|item| item.is_null() || is_of_type(item, value_type)),
        (single, _) => is_of_type(single, value_type),
    };
    if fits { Ok(()) } else { Err(shown(&value)) }
}

fn is_of_type(value: &Value, value_type: IndexedValueType) -> bool {
    match (value, value_type) {
        (Value::String(_), Keyword | Text) => true,
        (Value::String(text), Datetime) => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        (Value::Number(number), Int) => number.is_i64(),
        (Value::Number(_), Double) => true,
        (Value::Bool(_), Bool) => true,
        _ => false,
    }
}

/// A value as Go's `%v` prints what Temporal decoded: strings bare, lists
/// in brackets separated by spaces, objects as `map[key:value]`.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(shown).collect::<Vec<_>>().join(" ")),
        Value::Object(fields) => {
            let mut entries: Vec<String> = fields.iter().map(|(key, value)| format!("{key}:{}", shown(value))).collect();
            entries.sort();
            format!("map[{}]", entries.join(" "))
        }
        other => other.to_string(),
    }
}

fn undecodable(payload: &Payload) -> String {
    let encoding = payload.metadata.get("encoding").map(|encoding| String::from_utf8_lossy(encoding).into_owned());
    format!("value from <encoding {:?}, {} bytes>", encoding.unwrap_or_default(), payload.data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(data: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn attributes(fields: &[(&str, Payload)]) -> SearchAttributes {
        SearchAttributes { indexed_fields: fields.iter().map(|(name, payload)| (name.to_string(), payload.clone())).collect() }
    }

    fn custom() -> HashMap<String, i32> {
        [("CustomerId", Keyword), ("Note", Text), ("Count", Int), ("Score", Double), ("Vip", Bool), ("Due", Datetime), ("Tags", KeywordList)]
            .into_iter()
            .map(|(name, value_type)| (name.to_string(), value_type as i32))
            .collect()
    }

    fn refusal(fields: &[(&str, Payload)]) -> String {
        validate(Some(&attributes(fields)), "default", &custom()).expect_err("should be refused")
    }

    #[test]
    fn each_type_takes_its_json_values_lists_of_them_and_null() {
        let accepted = [
            (Keyword, r#""abc""#),
            (Text, r#""some words""#),
            (Int, "42"),
            (Int, "-7"),
            (Int, "[1, 2]"),
            (Double, "1.5"),
            (Double, "3"),
            (Bool, "true"),
            (Datetime, r#""2024-05-06T07:08:09.123Z""#),
            (Datetime, r#""2024-05-06T07:08:09+02:00""#),
            (KeywordList, r#"["a", "b"]"#),
            (KeywordList, "[]"),
            (Keyword, "null"),
            (Keyword, "[]"),
        ];
        for (value_type, data) in accepted {
            assert_eq!(check_value(&json(data), value_type), Ok(()), "{data} as {value_type:?}");
        }
        let refused = [
            (Keyword, "5", "5"),
            (Text, "true", "true"),
            (Int, "1.5", "1.5"),
            (Int, r#""12""#, "12"),
            (Int, "1e3", "1000.0"),
            (Double, r#""x""#, "x"),
            (Bool, "1", "1"),
            (Datetime, r#""yesterday""#, "yesterday"),
            (Datetime, "1700000000", "1700000000"),
            (KeywordList, r#""a""#, "a"),
            (KeywordList, "[1, 2]", "[1 2]"),
            (Int, r#"{"a": 1}"#, "map[a:1]"),
        ];
        for (value_type, data, shown) in refused {
            assert_eq!(check_value(&json(data), value_type), Err(shown.to_string()), "{data} as {value_type:?}");
        }
    }

    #[test]
    fn payloads_that_are_not_json_are_refused_except_the_null_encoding() {
        let null = Payload { metadata: HashMap::from([("encoding".to_string(), b"binary/null".to_vec())]), ..Default::default() };
        assert_eq!(check_value(&null, Int), Ok(()));
        let bare = Payload { data: b"\"abc\"".to_vec(), ..Default::default() };
        assert!(check_value(&bare, Keyword).unwrap_err().starts_with("value from <"));
        assert!(check_value(&json("{not json"), Keyword).is_err());
    }

    #[test]
    fn unregistered_names_are_refused_with_temporals_message() {
        assert_eq!(
            refusal(&[("CustomerId", json(r#""c1""#)), ("Unknown", json(r#""x""#))]),
            "Namespace default has no mapping defined for search attribute Unknown"
        );
        assert_eq!(
            refusal(&[("TemporalMadeUp", json(r#""x""#))]),
            "Namespace default has no mapping defined for search attribute TemporalMadeUp",
            "a reserved-looking name that is not predefined is just unregistered"
        );
    }

    #[test]
    fn mistyped_values_name_the_attribute_and_its_type() {
        assert_eq!(refusal(&[("Count", json(r#""many""#))]), "invalid value for search attribute Count of type Int: many");
        assert_eq!(refusal(&[("Tags", json(r#""solo""#))]), "invalid value for search attribute Tags of type KeywordList: solo");
    }

    #[test]
    fn predefined_attributes_a_workflow_may_set_are_accepted_and_the_servers_refused() {
        let custom = HashMap::new();
        let patched = attributes(&[("TemporalChangeVersion", json(r#"["my-patch"]"#)), ("BuildIds", json(r#"["b1"]"#))]);
        assert_eq!(validate(Some(&patched), "default", &custom), Ok(()));
        for name in ["WorkflowId", "ExecutionStatus", "TemporalWorkerDeployment"] {
            let set = attributes(&[(name, json(r#""x""#))]);
            assert_eq!(validate(Some(&set), "default", &custom), Err(format!("{name} attribute can't be set in SearchAttributes")));
        }
        let mistyped = attributes(&[("TemporalChangeVersion", json("3"))]);
        assert!(validate(Some(&mistyped), "default", &custom).is_err());
    }

    #[test]
    fn sizes_and_counts_are_bounded() {
        let big = json(&format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES)));
        assert_eq!(
            refusal(&[("CustomerId", big)]),
            format!("search attribute CustomerId value size {} exceeds size limit {MAX_VALUE_BYTES}", MAX_VALUE_BYTES + 2)
        );
        let many: HashMap<String, i32> = (0..=MAX_KEYS).map(|i| (format!("K{i}"), Keyword as i32)).collect();
        let set = SearchAttributes { indexed_fields: many.keys().map(|name| (name.clone(), json("\"v\""))).collect() };
        assert_eq!(
            validate(Some(&set), "default", &many),
            Err(format!("number of search attributes {} exceeds limit {MAX_KEYS}", MAX_KEYS + 1))
        );
    }

    #[test]
    fn nothing_set_is_always_valid() {
        assert_eq!(validate(None, "default", &HashMap::new()), Ok(()));
        assert_eq!(validate(Some(&SearchAttributes::default()), "default", &HashMap::new()), Ok(()));
    }

    #[test]
    fn reserved_names_are_temporals() {
        for name in ["WorkflowId", "TemporalChangeVersion", "NamespaceId", "Memo", "TemporalAnything", "BuildIds"] {
            assert!(is_reserved(name), "{name}");
        }
        for name in ["CustomerId", "temporalLowercase", "My_Attr"] {
            assert!(!is_reserved(name), "{name}");
        }
        assert!(is_builtin("WorkflowId") && is_builtin("BatcherUser") && !is_builtin("Memo"));
        assert_eq!(custom_limit(Keyword), 10);
        assert_eq!(custom_limit(Int), 3);
    }
}
