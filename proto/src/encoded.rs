//! `herald.v1` messages with each event of a batch left in its protobuf encoding.
//!
//! [`SubscribeResponse`] is wire-compatible with `herald.v1.SubscribeResponse`: its
//! [`EventBatch`] holds `events` as `repeated bytes`, and a length-delimited field
//! reads and writes the same whether it holds a message or bytes. The exporter sends
//! its log's stored records through it without decoding and re-encoding each event
//! for every consumer group, and the ruler reads batches through it so that each
//! event is decoded once for all its receiver lanes. A client generated from the
//! proto sees the same bytes as ever.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use prost::Message;

/// `herald.v1.SubscribeResponse`, with the batch's events left encoded.
#[derive(Clone, PartialEq, Message)]
pub struct SubscribeResponse {
    /// Exactly one of these is set.
    #[prost(oneof = "Response", tags = "1, 2, 3, 4")]
    pub response: Option<Response>,
}

/// `herald.v1.SubscribeResponse.response`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Response {
    /// The answer to `Hello`.
    #[prost(message, tag = "1")]
    Welcome(crate::pb::Welcome),
    /// Events.
    #[prost(message, tag = "2")]
    Batch(EventBatch),
    /// The server is going away.
    #[prost(message, tag = "3")]
    Closing(crate::pb::Closing),
    /// The answer to a `Sync`.
    #[prost(message, tag = "4")]
    Synced(crate::pb::Synced),
}

/// `herald.v1.EventBatch` with `events` as bytes: a length-delimited field reads the
/// same whether it holds a message or bytes.
#[derive(Clone, PartialEq, Message)]
pub struct EventBatch {
    /// Each event's encoding.
    #[prost(bytes = "bytes", repeated, tag = "1")]
    pub events: Vec<Bytes>,
    /// Redeliveries.
    #[prost(bool, tag = "2")]
    pub redelivery: bool,
    /// Trace context.
    #[prost(btree_map = "string, string", tag = "3")]
    pub trace_context: BTreeMap<String, String>,
}

/// `herald.v1.Event`'s offset (field 1), read without decoding the rest. The exporter
/// writes it first; anywhere else it is found by skipping the other fields.
pub fn offset_of(bytes: &Bytes) -> Result<u64, prost::DecodeError> {
    /// Only the offset; every other field is skipped.
    #[derive(Clone, PartialEq, Message)]
    struct OffsetOnly {
        #[prost(uint64, tag = "1")]
        offset: u64,
    }
    let mut fast = bytes.clone();
    // tag 1, wire type varint
    if fast.first() == Some(&0x08) {
        fast.advance(1);
        return prost::encoding::decode_varint(&mut fast);
    }
    OffsetOnly::decode(bytes.clone()).map(|o| o.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    fn event(offset: u64) -> pb::Event {
        pb::Event {
            offset,
            idempotency_key: format!("uid-{offset}-1"),
            reason: "BackOff".into(),
            involved_object: Some(pb::InvolvedObject {
                kind: "Pod".into(),
                name: format!("web-{offset}"),
                ..pb::InvolvedObject::default()
            }),
            ..pb::Event::default()
        }
    }

    #[test]
    fn stored_records_sent_as_bytes_read_as_the_generated_message() {
        let events = [event(1), event(2), event(70_000)];
        let sent = SubscribeResponse {
            response: Some(Response::Batch(EventBatch {
                events: events
                    .iter()
                    .map(|e| Bytes::from(e.encode_to_vec()))
                    .collect(),
                redelivery: true,
                trace_context: [("traceparent".to_owned(), "00-ab-cd-01".to_owned())].into(),
            })),
        }
        .encode_to_vec();
        let got = pb::SubscribeResponse::decode(sent.as_slice()).unwrap();
        let Some(pb::subscribe_response::Response::Batch(b)) = got.response else {
            panic!("not a batch: {got:?}");
        };
        assert_eq!(b.events, events);
        assert!(b.redelivery);
        assert_eq!(b.trace_context["traceparent"], "00-ab-cd-01");
        // and back: the generated message reads as the encoded one, byte for byte
        let again = SubscribeResponse::decode(
            pb::SubscribeResponse {
                response: Some(pb::subscribe_response::Response::Batch(b)),
            }
            .encode_to_vec()
            .as_slice(),
        )
        .unwrap();
        assert_eq!(again.encode_to_vec(), sent);
    }

    #[test]
    fn offsets_are_read_without_decoding_the_event() {
        let bytes = Bytes::from(event(42).encode_to_vec());
        assert_eq!(offset_of(&bytes).unwrap(), 42);
        let mut later = Vec::new();
        prost::encoding::string::encode(2, &"k".to_owned(), &mut later);
        prost::encoding::uint64::encode(1, &7, &mut later);
        assert_eq!(offset_of(&Bytes::from(later)).unwrap(), 7);
        assert!(offset_of(&Bytes::from_static(&[0x08, 0xff])).is_err());
    }

    /// The ruler carries the raw JSON without reading it: decoded from a received
    /// buffer, it points into that buffer (no copy, no UTF-8 check), also once the
    /// event is converted to the domain type.
    #[test]
    fn raw_json_decoded_from_a_buffer_shares_the_buffer() {
        let raw = br#"{"metadata":{"uid":"u-1"},"reason":"BackOff"}"#;
        let sent = pb::Event {
            raw_json: Bytes::from_static(raw),
            ..event(3)
        };
        let received = Bytes::from(sent.encode_to_vec());
        let inside = |b: &Bytes| {
            let start = received.as_ptr() as usize;
            (start..start + received.len()).contains(&(b.as_ptr() as usize))
        };
        let decoded = pb::Event::decode(received.clone()).unwrap();
        assert_eq!(decoded.raw_json, &raw[..]);
        assert!(
            inside(&decoded.raw_json),
            "raw JSON copied out of the buffer"
        );
        let domain = crate::Event::from(decoded);
        assert!(
            inside(&domain.raw_json),
            "raw JSON copied by the conversion"
        );
        assert_eq!(pb::Event::from(domain).raw_json, &raw[..]);
    }
}
