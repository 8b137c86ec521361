//! The request builder of the line-oriented sinks (`stdout`, `file`, `pipe`):
//! one JSON document plus `\n` per event, a batch being the lines in queue
//! order.

use std::sync::Arc;

use bytes::Bytes;

use crate::driver::{Delivery, EncodeError, RequestBuilder};
use crate::util::PayloadEncoder;
use crate::util::line_arena::LineArena;

/// Encodes events as JSON lines: the rendered `layout` or the KEE event
/// JSON, `deDot` applied first.
#[derive(Debug, Clone, Default)]
pub struct JsonLines {
    encoder: PayloadEncoder,
    arena: LineArena,
}

impl JsonLines {
    /// Creates the builder of a sink's `layout` and `deDot`.
    pub fn new(encoder: PayloadEncoder) -> JsonLines {
        JsonLines {
            encoder,
            arena: LineArena::default(),
        }
    }
}

/// A batch of JSON lines, each ending in `\n`; cheap to clone.
#[derive(Debug, Clone)]
pub struct Lines {
    /// Every line, concatenated.
    data: Bytes,
    /// Where each line ends in `data` (exclusive).
    ends: Arc<[usize]>,
}

impl Lines {
    /// Returns every line, concatenated.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Returns the lines one by one (each with its `\n`).
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.data[start..end])
    }

    /// Returns the number of lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Returns whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl RequestBuilder for JsonLines {
    type Item = Bytes;
    type Request = Lines;

    fn encode(&self, delivery: &Delivery) -> Result<Bytes, EncodeError> {
        self.encoder.encode_line(delivery, &self.arena)
    }

    fn item_size(&self, item: &Bytes) -> usize {
        item.len()
    }

    fn build_request(&self, items: &[Bytes]) -> Lines {
        let mut data = Vec::with_capacity(items.iter().map(Bytes::len).sum());
        let mut ends = Vec::with_capacity(items.len());
        for item in items {
            data.extend_from_slice(item);
            ends.push(data.len());
        }
        Lines {
            data: Bytes::from(data),
            ends: ends.into(),
        }
    }

    /// The lines as written, without the last `\n`. Layouts and the event
    /// JSON carry no credentials of the receiver, so nothing is masked.
    fn describe(&self, request: &Lines) -> String {
        let text = String::from_utf8_lossy(request.as_bytes());
        text.strip_suffix('\n').unwrap_or(&text).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::AckRef;
    use crate::model::tests::compat_example;

    #[test]
    fn lines_keep_their_boundaries_and_describe_as_written() {
        let b = JsonLines::default();
        let d = Delivery::from_event(compat_example(), AckRef::detached());
        let one = b.encode(&d).unwrap();
        assert!(one.ends_with(b"\n"));
        let request = b.build_request(&[one.clone(), Bytes::from_static(b"{}\n"), one.clone()]);
        assert_eq!(request.len(), 3);
        let lines: Vec<&[u8]> = request.iter().collect();
        assert_eq!(lines, [&one[..], b"{}\n", &one[..]]);
        assert_eq!(request.as_bytes(), [&one[..], b"{}\n", &one[..]].concat());
        let text = b.describe(&request);
        assert_eq!(text.lines().count(), 3);
        assert!(!text.ends_with('\n'));
        assert_eq!(text.lines().nth(1), Some("{}"));
    }
}
