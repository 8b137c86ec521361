//! FIFO queues and topics (SQS, SNS): the message group id and the
//! deduplication id.
//!
//! The group id is a template (`messageGroupId`), by default the involved
//! object, so that one object's events stay in order while different objects
//! are delivered in parallel. The deduplication id is the event's
//! idempotency key (the Event's uid and occurrence): a redelivery after a
//! restart or a retry is dropped by AWS itself within its five-minute window.

use herald_config::{Diagnostics, Located};
use sha2::{Digest, Sha256};

use super::fields::Field;
use crate::driver::{Delivery, EncodeError};

/// The group id of FIFO messages when `messageGroupId` is not set.
pub const DEFAULT_GROUP_ID: &str =
    "{{ .InvolvedObject.Kind }}/{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}";

/// Longest group id AWS accepts; longer rendered ids are replaced by their
/// SHA-256 (the same group either way).
pub const MAX_GROUP_ID: usize = 128;

/// Checks `messageGroupId` for a queue or topic (`what`) that is FIFO or
/// not: FIFO gets the template or the default, a standard one must not set
/// it.
pub fn decode_group_id(
    raw: Option<&Located<String>>,
    fifo: bool,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<Field> {
    match (raw, fifo) {
        (Some(g), true) if g.value.trim().is_empty() => {
            g.error(diags, format!("a FIFO {what} needs a message group id, and `messageGroupId` is empty"))
                .with_hint(format!(
                    "leave `messageGroupId` out to group by the involved object (`{DEFAULT_GROUP_ID}`), or write a template"
                ));
            None
        }
        (Some(g), true) => Field::parse("messageGroupId", g, diags),
        (None, true) => Some(Field::fixed("messageGroupId", DEFAULT_GROUP_ID)),
        (Some(g), false) => {
            g.error(diags, format!("`messageGroupId` is only for FIFO {what}s"))
                .with_hint(format!(
                    "FIFO {what} names end in `.fifo`; remove `messageGroupId` for a standard {what}"
                ));
            None
        }
        (None, false) => None,
    }
}

/// The group id and deduplication id of one event (`None`s when `group` is
/// `None`, a standard queue or topic).
///
/// # Errors
/// The group id template fails for this event.
pub fn ids(
    group: Option<&Field>,
    delivery: &Delivery,
) -> Result<(Option<String>, Option<String>), EncodeError> {
    let Some(group) = group else {
        return Ok((None, None));
    };
    Ok((
        Some(bounded_group_id(group.render(delivery)?)),
        Some(delivery.event.idempotency_key()),
    ))
}

/// `id` when AWS takes it as a group id, else its SHA-256 in hex.
pub fn bounded_group_id(id: String) -> String {
    if id.len() <= MAX_GROUP_ID && !id.is_empty() {
        return id;
    }
    let digest = Sha256::digest(id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
