//! Checks requests share before anything is appended to a log: whether a
//! field is set, and whether it is within the limits (`Limits`) that keep
//! one request from growing a store key, an event or a log record beyond
//! what the rest of the server can handle.

use prost::Message;
use prost_types::Duration;
use temper_engine::time::is_negative;
use temper_proto::api::common::v1::{Memo, SearchAttributes};
use temper_proto::api::failure::v1::Failure;

use temper_proto::records::NamespaceRecord;

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Limits;
use crate::namespaces::check_accepts_new_runs;

pub fn require_id(value: &str, what: &str) -> ApiResult<()> {
    if value.is_empty() {
        return Err(ApiError::invalid(format!("{what} is not set on request.")));
    }
    Ok(())
}

/// Run ids are UUIDs; anything else cannot name a run.
pub fn optional_run_id(run_id: &str) -> ApiResult<()> {
    if run_id.is_empty() || uuid::Uuid::parse_str(run_id).is_ok() {
        Ok(())
    } else {
        Err(ApiError::invalid("Invalid RunId."))
    }
}

pub fn non_negative(duration: Option<&Duration>, what: &str) -> ApiResult<()> {
    if is_negative(duration) {
        return Err(ApiError::invalid(format!("Invalid {what}: it cannot be negative.")));
    }
    Ok(())
}

/// A request id is how a retried request is recognised; SDKs always send one,
/// and a request without gets a fresh one (it cannot be deduplicated). Its
/// length is bounded with every other id (`Bounded`).
pub fn request_id_or_new(request_id: &str) -> String {
    if request_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { request_id.to_string() }
}

impl Limits {
    /// Ids and names become store keys and history fields; Temporal bounds
    /// them by `limit.maxIDLength`, with the same message.
    pub fn id(&self, value: &str, what: &str) -> ApiResult<()> {
        if value.len() > self.max_id_length {
            return Err(ApiError::invalid(format!(
                "{what} length exceeds limit: {} bytes, at most {}.",
                value.len(),
                self.max_id_length
            )));
        }
        Ok(())
    }

    /// Refuses a payload-carrying field over the payload limit
    /// (`--max-payload-bytes`), with Temporal's message.
    pub fn payload<M: Message>(&self, payload: Option<&M>, what: &str) -> ApiResult<()> {
        self.blob(payload.map(Message::encoded_len).unwrap_or_default(), what)
    }

    /// Free text that ends up in an event (reasons, messages) counts like a payload.
    pub fn text(&self, text: &str, what: &str) -> ApiResult<()> {
        self.blob(text.len(), what)
    }

    pub fn blob(&self, size: usize, what: &str) -> ApiResult<()> {
        if size > self.max_payload_bytes {
            return Err(ApiError::invalid(format!(
                "{what} is {size} bytes, over the {} byte payload limit. Blob data size exceeds limit.",
                self.max_payload_bytes
            )));
        }
        Ok(())
    }

    pub fn memo(&self, memo: Option<&Memo>, what: &str) -> ApiResult<()> {
        if let Some(memo) = memo {
            self.map_keys(memo.fields.keys(), what)?;
        }
        self.payload(memo, what)
    }

    /// Search attribute names are ids; their values count as one payload.
    pub fn search_attributes(&self, attributes: Option<&SearchAttributes>, what: &str) -> ApiResult<()> {
        if let Some(attributes) = attributes {
            self.map_keys(attributes.indexed_fields.keys(), &format!("{what} name"))?;
        }
        self.payload(attributes, what)
    }

    fn map_keys<'k>(&self, keys: impl Iterator<Item = &'k String>, what: &str) -> ApiResult<()> {
        keys.map(|key| self.id(key, what)).collect()
    }

    /// A failure counts as a payload, and its cause chain is bounded: a chain
    /// close to the protobuf recursion limit fits the request but not the log
    /// record and stored state that wrap it, which then cannot be decoded.
    pub fn failure(&self, failure: Option<&Failure>, what: &str) -> ApiResult<()> {
        let depth = failure_depth(failure);
        if depth > self.max_failure_depth {
            return Err(ApiError::invalid(format!(
                "{what} is nested {depth} causes deep, more than the {} allowed.",
                self.max_failure_depth
            )));
        }
        self.payload(failure, what)
    }
}

pub use temper_engine::state_machine::failure_depth;

/// What a new run (StartWorkflowExecution, SignalWithStartWorkflowExecution)
/// needs of its namespace: that it takes new runs (a deprecated one does
/// not), and search attributes it defines, each value of its attribute's
/// type, as Temporal checks them (Temporal's messages, INVALID_ARGUMENT).
pub fn new_run_in(namespace: &NamespaceRecord, search_attributes: Option<&SearchAttributes>) -> ApiResult<()> {
    check_accepts_new_runs(namespace)?;
    search_attributes_in(namespace, search_attributes)
}

/// Refuses search attributes the namespace does not define, or values not
/// of their attribute's type (see `temper_engine::search_attributes::validate`).
pub fn search_attributes_in(namespace: &NamespaceRecord, search_attributes: Option<&SearchAttributes>) -> ApiResult<()> {
    temper_engine::search_attributes::validate(search_attributes, &namespace.name, &namespace.custom_search_attributes)
        .map_err(ApiError::InvalidArgument)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use temper_proto::api::common::v1::Payload;

    use super::*;

    fn limits() -> Limits {
        Limits { max_payload_bytes: 100, max_id_length: 10, ..Limits::default() }
    }

    fn chain(depth: usize) -> Option<Failure> {
        (0..depth).fold(None, |cause, level| {
            Some(Failure { message: format!("level {level}"), cause: cause.map(Box::new), ..Default::default() })
        })
    }

    fn refusal(result: ApiResult<()>) -> String {
        match result {
            Err(ApiError::InvalidArgument(message)) => message,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_temporals() {
        let limits = Limits::default();
        assert_eq!(limits.max_id_length, 1000);
        assert_eq!(limits.max_payload_bytes, 2 * 1024 * 1024);
        assert_eq!(limits.max_request_bytes, 4 * 1024 * 1024);
    }

    #[test]
    fn ids_up_to_the_limit_pass_and_longer_ones_name_the_field() {
        assert!(limits().id("0123456789", "WorkflowId").is_ok());
        assert!(limits().id("", "WorkflowId").is_ok(), "presence is require_id's business");
        let message = refusal(limits().id("0123456789a", "WorkflowId"));
        assert!(message.starts_with("WorkflowId length exceeds limit"), "{message}");
        assert!(message.contains("11 bytes"), "{message}");
    }

    #[test]
    fn payloads_over_the_limit_are_refused_with_temporals_message() {
        let small = Payload { data: vec![0; 50], ..Default::default() };
        let large = Payload { data: vec![0; 101], ..Default::default() };
        assert!(limits().payload(Some(&small), "Input").is_ok());
        assert!(limits().payload(None::<&Payload>, "Input").is_ok());
        let message = refusal(limits().payload(Some(&large), "Input"));
        assert!(message.starts_with("Input is") && message.contains("Blob data size exceeds limit."), "{message}");
        assert!(refusal(limits().text(&"r".repeat(101), "Reason")).starts_with("Reason"));
    }

    #[test]
    fn memo_and_search_attribute_names_are_ids_and_their_sizes_payloads() {
        let named = |name: &str, size: usize| HashMap::from([(name.to_string(), Payload { data: vec![0; size], ..Default::default() })]);
        assert!(limits().memo(Some(&Memo { fields: named("k", 10) }), "Memo").is_ok());
        assert!(refusal(limits().memo(Some(&Memo { fields: named("k", 200) }), "Memo")).starts_with("Memo is"));
        let long_name = SearchAttributes { indexed_fields: named("a-very-long-name", 1) };
        let message = refusal(limits().search_attributes(Some(&long_name), "SearchAttributes"));
        assert!(message.starts_with("SearchAttributes name length exceeds limit"), "{message}");
    }

    #[test]
    fn failure_chains_are_bounded_in_depth() {
        assert_eq!(failure_depth(None), 0);
        assert_eq!(failure_depth(chain(3).as_ref()), 3);
        let limits = Limits { max_failure_depth: 5, ..Limits::default() };
        assert!(limits.failure(chain(5).as_ref(), "Failure").is_ok());
        let message = refusal(limits.failure(chain(6).as_ref(), "Failure"));
        assert!(message.starts_with("Failure is nested 6 causes deep"), "{message}");
    }

    #[test]
    fn new_runs_need_registered_search_attributes_of_their_types_and_a_registered_namespace() {
        use temper_proto::api::enums::v1::{IndexedValueType, NamespaceState};
        let json = |data: &str| Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        };
        let set = |name: &str, data: &str| SearchAttributes { indexed_fields: HashMap::from([(name.to_string(), json(data))]) };
        let mut namespace = crate::namespaces::new_namespace("orders", "", "", 1);
        namespace.custom_search_attributes.insert("CustomerId".into(), IndexedValueType::Keyword as i32);
        assert!(new_run_in(&namespace, Some(&set("CustomerId", r#""c-1""#))).is_ok());
        assert!(new_run_in(&namespace, None).is_ok());
        assert_eq!(
            refusal(new_run_in(&namespace, Some(&set("OrderId", r#""o-1""#)))),
            "Namespace orders has no mapping defined for search attribute OrderId"
        );
        assert_eq!(
            refusal(new_run_in(&namespace, Some(&set("CustomerId", "7")))),
            "invalid value for search attribute CustomerId of type Keyword: 7"
        );
        namespace.state = NamespaceState::Deprecated as i32;
        assert!(matches!(new_run_in(&namespace, None), Err(ApiError::NamespaceInvalidState { .. })));
    }

    #[test]
    fn request_ids_are_kept_or_made() {
        assert_eq!(request_id_or_new("abc"), "abc");
        assert!(uuid::Uuid::parse_str(&request_id_or_new("")).is_ok());
    }
}
