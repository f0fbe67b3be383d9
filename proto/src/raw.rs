//! Responses served with parts already encoded.
//!
//! In protobuf's wire format an embedded message and a `bytes` field look the
//! same (a tag, a length, the bytes), so a response can carry stored history
//! events as the bytes they are stored as, without decoding and encoding
//! them again. Clients decode these responses as Temporal's own types.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use temporalio_protos::temporal::api::common::v1::DataBlob;
use temporalio_protos::temporal::api::history::v1::History;

/// `temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse`,
/// with `history` holding an encoded `temporal.api.history.v1.History`.
#[derive(Clone, PartialEq, Message)]
pub struct GetWorkflowExecutionHistoryResponse {
    #[prost(bytes = "bytes", tag = "1")]
    pub history: Bytes,
    #[prost(message, repeated, tag = "2")]
    pub raw_history: Vec<DataBlob>,
    #[prost(bytes = "vec", tag = "3")]
    pub next_page_token: Vec<u8>,
    #[prost(bool, tag = "4")]
    pub archived: bool,
}

impl GetWorkflowExecutionHistoryResponse {
    /// The history as Temporal's type (what a client does on receipt).
    pub fn decoded_history(&self) -> Result<History, prost::DecodeError> {
        History::decode(self.history.clone())
    }
}

/// Builds an encoded `History` from encoded events, in order.
#[derive(Default)]
pub struct EncodedHistory {
    buffer: BytesMut,
}

/// Field 1 of `History` (`events`), length-delimited.
const EVENTS_FIELD_KEY: u8 = (1 << 3) | 2;

impl EncodedHistory {
    pub fn push(&mut self, encoded_event: &[u8]) {
        self.buffer.put_u8(EVENTS_FIELD_KEY);
        prost::encoding::encode_varint(encoded_event.len() as u64, &mut self.buffer);
        self.buffer.put_slice(encoded_event);
    }

    pub fn finish(self) -> Bytes {
        self.buffer.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::history::v1::HistoryEvent;

    #[test]
    fn encoded_events_decode_as_temporals_history() {
        let events: Vec<HistoryEvent> =
            (1..=3).map(|id| HistoryEvent { event_id: id, event_type: 5, ..Default::default() }).collect();
        let mut encoded = EncodedHistory::default();
        for event in &events {
            encoded.push(&event.encode_to_vec());
        }
        let response = GetWorkflowExecutionHistoryResponse {
            history: encoded.finish(),
            next_page_token: b"next".to_vec(),
            ..Default::default()
        };
        let as_temporal = temporalio_protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryResponse::decode(
            response.encode_to_vec().as_slice(),
        )
        .expect("decodes as Temporal's response");
        assert_eq!(as_temporal.history.expect("history").events, events);
        assert_eq!(as_temporal.next_page_token, b"next");
    }
}
