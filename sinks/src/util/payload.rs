//! The payload of layout-based sinks: the rendered `layout:` when there is
//! one, else the KEE event JSON; `deDot` applied first.

use std::borrow::Cow;

use bytes::Bytes;

use crate::driver::{Delivery, EncodeError};
use crate::model::{dedot_event, event_value, kee_json};
use crate::util::layout::LayoutSpec;
use crate::util::line_arena::LineArena;

/// Encodes events as one JSON document each (without newline).
#[derive(Debug, Clone, Default)]
pub struct PayloadEncoder {
    layout: Option<LayoutSpec>,
    dedot: bool,
}

impl PayloadEncoder {
    /// Creates an encoder for a sink's `layout` and `deDot`.
    pub fn new(layout: Option<LayoutSpec>, dedot: bool) -> PayloadEncoder {
        PayloadEncoder { layout, dedot }
    }

    /// Returns the payload of `d` as one JSON line (with `\n`), as the line-oriented
    /// sinks (stdout, file, pipe) write it.
    ///
    /// # Errors
    /// The layout fails for this event.
    pub fn encode_line(&self, d: &Delivery, arena: &LineArena) -> Result<Bytes, EncodeError> {
        arena.encode(|line| {
            self.encode(d, line)?;
            line.push(b'\n');
            Ok(())
        })
    }

    /// Appends the payload of `d` to `out`.
    ///
    /// # Errors
    /// The layout fails for this event.
    pub fn encode(&self, d: &Delivery, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let Some(layout) = &self.layout else {
            kee_json(&d.event, self.dedot, out);
            return Ok(());
        };
        if self.dedot
            && let Cow::Owned(dedotted) = dedot_event(&d.event)
        {
            return layout.render_json(&event_value(&dedotted), out);
        }
        layout.render_json(d.value(), out)
    }
}
