//! Batches as the ruler receives them, with each event still in its protobuf
//! encoding until someone needs it decoded.
//!
//! A ruler subscribes once per receiver lane, so every event arrives once per lane.
//! Decoding it is the largest part of a ruler's work (dozens of strings and maps per
//! event), and the result is the same for every lane: the log id and offset name one
//! immutable event. So the gRPC link decodes a batch only down to each event's bytes
//! and offset ([`herald_proto::encoded`]), and [`crate::decoded::SharedEvents`]
//! decodes each event once for all lanes.

use std::collections::BTreeMap;

use bytes::Bytes;
use herald_proto::encoded::offset_of;
use herald_proto::pb;
use prost::Message;

pub use herald_proto::encoded::{EventBatch, Response, SubscribeResponse};

/// One event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum WireEvent {
    /// Already decoded (an exporter in the same process hands events over as they are).
    Decoded(Box<pb::Event>),
    /// The event's protobuf encoding, as received, and its offset.
    Encoded {
        /// The event's offset in the log.
        offset: u64,
        /// `herald.v1.Event`, encoded.
        bytes: Bytes,
    },
}

impl WireEvent {
    /// Reads the offset of an encoded event and keeps its bytes.
    ///
    /// # Errors
    /// The bytes are not a protobuf message.
    pub fn encoded(bytes: Bytes) -> Result<WireEvent, prost::DecodeError> {
        Ok(WireEvent::Encoded {
            offset: offset_of(&bytes)?,
            bytes,
        })
    }

    /// The event's offset in the log.
    pub fn offset(&self) -> u64 {
        match self {
            WireEvent::Decoded(e) => e.offset,
            WireEvent::Encoded { offset, .. } => *offset,
        }
    }

    /// The event, decoded.
    ///
    /// # Errors
    /// The bytes are not a `herald.v1.Event`.
    pub fn decode(self) -> Result<pb::Event, prost::DecodeError> {
        match self {
            WireEvent::Decoded(e) => Ok(*e),
            WireEvent::Encoded { bytes, .. } => pb::Event::decode(bytes),
        }
    }
}

/// A batch of events from one exporter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceivedBatch {
    /// The events, in the order sent.
    pub events: Vec<WireEvent>,
    /// True when the batch holds redeliveries.
    pub redelivery: bool,
    /// W3C Trace Context of the exporter's commit that logged the first event.
    pub trace_context: BTreeMap<String, String>,
}

impl ReceivedBatch {
    /// Every event, decoded.
    ///
    /// # Errors
    /// An event's bytes are not a `herald.v1.Event`.
    pub fn decode_all(self) -> Result<Vec<pb::Event>, prost::DecodeError> {
        self.events.into_iter().map(WireEvent::decode).collect()
    }
}

impl From<pb::EventBatch> for ReceivedBatch {
    fn from(b: pb::EventBatch) -> ReceivedBatch {
        ReceivedBatch {
            events: b
                .events
                .into_iter()
                .map(|e| WireEvent::Decoded(Box::new(e)))
                .collect(),
            redelivery: b.redelivery,
            trace_context: b.trace_context,
        }
    }
}

impl TryFrom<EventBatch> for ReceivedBatch {
    type Error = prost::DecodeError;

    fn try_from(b: EventBatch) -> Result<ReceivedBatch, prost::DecodeError> {
        Ok(ReceivedBatch {
            events: b
                .events
                .into_iter()
                .map(WireEvent::encoded)
                .collect::<Result<_, _>>()?,
            redelivery: b.redelivery,
            trace_context: b.trace_context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(offset: u64) -> pb::Event {
        pb::Event {
            offset,
            idempotency_key: format!("uid-{offset}-1"),
            occurrence: 1,
            reason: "BackOff".into(),
            message: "Back-off restarting failed container".into(),
            involved_object: Some(pb::InvolvedObject {
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: format!("web-{offset}"),
                labels: [("app".to_owned(), "web".to_owned())].into(),
                ..pb::InvolvedObject::default()
            }),
            ..pb::Event::default()
        }
    }

    fn encoded_response(batch: pb::EventBatch) -> Bytes {
        pb::SubscribeResponse {
            response: Some(pb::subscribe_response::Response::Batch(batch)),
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn a_batch_reads_as_encoded_events_that_decode_to_the_originals() {
        let sent = pb::EventBatch {
            events: vec![event(7), event(8), event(300_000)],
            redelivery: true,
            trace_context: [("traceparent".to_owned(), "00-ab-cd-01".to_owned())].into(),
        };
        let raw = SubscribeResponse::decode(encoded_response(sent.clone())).unwrap();
        let Some(Response::Batch(b)) = raw.response else {
            panic!("not a batch: {raw:?}");
        };
        let got = ReceivedBatch::try_from(b).unwrap();
        assert!(got.redelivery);
        assert_eq!(got.trace_context, sent.trace_context);
        let offsets: Vec<u64> = got.events.iter().map(WireEvent::offset).collect();
        assert_eq!(offsets, [7, 8, 300_000]);
        assert_eq!(got.decode_all().unwrap(), sent.events);
    }

    #[test]
    fn the_other_responses_read_as_they_are() {
        let welcome = pb::Welcome {
            member_id: "m".into(),
            group: "ruler.dump".into(),
            log_id: "log-1".into(),
            ..pb::Welcome::default()
        };
        let bytes = pb::SubscribeResponse {
            response: Some(pb::subscribe_response::Response::Welcome(welcome.clone())),
        }
        .encode_to_vec();
        let raw = SubscribeResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(raw.response, Some(Response::Welcome(welcome)));
        let closing = pb::SubscribeResponse {
            response: Some(pb::subscribe_response::Response::Closing(pb::Closing {
                reason: "shutdown".into(),
            })),
        }
        .encode_to_vec();
        assert!(matches!(
            SubscribeResponse::decode(closing.as_slice()).unwrap().response,
            Some(Response::Closing(c)) if c.reason == "shutdown"
        ));
    }

    #[test]
    fn an_offset_written_after_other_fields_is_found() {
        // field 2 (idempotency key) before field 1 (offset)
        let mut bytes = Vec::new();
        prost::encoding::string::encode(2, &"k-1".to_owned(), &mut bytes);
        prost::encoding::uint64::encode(1, &42, &mut bytes);
        let ev = WireEvent::encoded(bytes.into()).unwrap();
        assert_eq!(ev.offset(), 42);
        assert_eq!(ev.decode().unwrap().idempotency_key, "k-1");
        // an event without an offset field has offset 0, as protobuf defaults say
        assert_eq!(WireEvent::encoded(Bytes::new()).unwrap().offset(), 0);
    }

    #[test]
    fn bytes_that_are_no_event_are_an_error_not_a_panic() {
        // a length-delimited field whose length runs past the end
        let broken = Bytes::from_static(&[0x12, 0x40, b'a']);
        assert!(WireEvent::encoded(broken).is_err());
        // a truncated varint offset
        assert!(WireEvent::encoded(Bytes::from_static(&[0x08, 0xff])).is_err());
        // a valid offset followed by garbage fails when decoded
        let ev = WireEvent::encoded(Bytes::from_static(&[0x08, 0x05, 0x12, 0x40])).unwrap();
        assert_eq!(ev.offset(), 5);
        assert!(ev.decode().is_err());
    }
}
