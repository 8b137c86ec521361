//! Loki's protobuf push body: `logproto.PushRequest` from Loki's
//! `pkg/push/push.proto`, written with prost derives (field numbers as in
//! that file), compressed with snappy's block format (not the framed stream
//! format) and sent as `Content-Type: application/x-protobuf` without a
//! `Content-Encoding`.

use prost::Message as _;

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    /// The streams of the push.
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`: one stream and its entries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    /// The label set in Prometheus text form: `{a="b", c="d"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    /// The entries, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Set by Loki itself; zero on push.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.EntryAdapter`: one log line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    /// When it happened.
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<prost_types::Timestamp>,
    /// The line.
    #[prost(string, tag = "2")]
    pub line: String,
}

/// Encodes `request` and compresses it with snappy's block format.
pub fn encode_snappy(request: &PushRequest) -> Vec<u8> {
    let raw = request.encode_to_vec();
    // Compressing a slice in memory fails only for inputs over ~4 GiB, which
    // a push (bounded by the batch's maxBytes) never is; fall back to an
    // empty body, which Loki refuses with a 400 that is then logged.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// Decompresses and decodes a snappy protobuf push (the test fake's side).
///
/// # Errors
/// The body is not snappy block data or not a `PushRequest`.
pub fn decode_snappy(body: &[u8]) -> Result<PushRequest, String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    PushRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}
