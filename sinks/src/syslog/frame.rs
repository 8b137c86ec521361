//! Syslog message frames: RFC 3164 as Go's `log/syslog` writes it (KEE's
//! frame), its local-socket form, and RFC 5424 with structured data.

use chrono::{DateTime, Utc};

use super::config::{Facility, MessageFormat};

/// Severity `warning` (Kubernetes `Warning` events).
pub const SEVERITY_WARNING: u8 = 4;
/// Severity `notice` (`Normal` and any other event type).
pub const SEVERITY_NOTICE: u8 = 5;

/// The SD-ID of herald's structured data element. 32473 is the private
/// enterprise number reserved for documentation (RFC 5612); herald has none
/// of its own.
pub const SD_ID: &str = "herald@32473";

/// The severity of an event of type `event_type`.
pub fn severity_of(event_type: &str) -> u8 {
    if event_type.eq_ignore_ascii_case("warning") {
        SEVERITY_WARNING
    } else {
        SEVERITY_NOTICE
    }
}

/// `PRI`: facility × 8 + severity.
pub fn priority(facility: Facility, severity: u8) -> u16 {
    u16::from(facility.0) * 8 + u16::from(severity)
}

/// What is the same for every message of a receiver.
#[derive(Debug, Clone)]
pub struct Framer {
    /// The message format.
    pub format: MessageFormat,
    /// The local-socket form (no hostname, `Stamp` time).
    pub local: bool,
    /// The facility.
    pub facility: Facility,
    /// HOSTNAME.
    pub hostname: String,
    /// TAG (RFC 3164) / APP-NAME (RFC 5424).
    pub tag: String,
    /// PID / PROCID.
    pub pid: u32,
}

/// The per-event parts of a message.
#[derive(Debug, Clone, Copy)]
pub struct MessageParts<'a> {
    /// The event's severity.
    pub severity: u8,
    /// When the message is written.
    pub time: DateTime<Utc>,
    /// The event reason (RFC 5424 MSGID).
    pub reason: &'a str,
    /// The idempotency key (RFC 5424 structured data).
    pub idempotency_key: &'a str,
    /// The cluster name (RFC 5424 structured data; left out when empty).
    pub cluster: &'a str,
}

impl Framer {
    /// Appends the header of a message (everything before MSG) to `out`.
    pub fn header(&self, parts: &MessageParts<'_>, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let pri = priority(self.facility, parts.severity);
        // Writing into a Vec cannot fail.
        let _ = match (self.format, self.local) {
            (MessageFormat::Rfc3164, true) => write!(
                out,
                "<{pri}>{} {}[{}]: ",
                parts.time.format("%b %e %H:%M:%S"),
                self.tag,
                self.pid
            ),
            (MessageFormat::Rfc3164, false) => write!(
                out,
                "<{pri}>{} {} {}[{}]: ",
                parts.time.format("%Y-%m-%dT%H:%M:%SZ"),
                self.hostname,
                self.tag,
                self.pid
            ),
            (MessageFormat::Rfc5424, _) => {
                let _ = write!(
                    out,
                    "<{pri}>1 {} {} {} {} {} ",
                    parts.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                    header_field(&self.hostname, 255),
                    header_field(&self.tag, 48),
                    self.pid,
                    header_field(parts.reason, 32),
                );
                structured_data(parts, out);
                out.write_all(b" ")
            }
        };
    }
}

/// An RFC 5424 header field: printable ASCII without spaces, at most `max`
/// characters; `-` when empty.
pub fn header_field(value: &str, max: usize) -> String {
    let field: String = value
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if field.is_empty() { "-".to_owned() } else { field }
}

/// `[herald@32473 idempotencyKey="…" cluster="…"]`.
fn structured_data(parts: &MessageParts<'_>, out: &mut Vec<u8>) {
    out.push(b'[');
    out.extend_from_slice(SD_ID.as_bytes());
    param("idempotencyKey", parts.idempotency_key, out);
    if !parts.cluster.is_empty() {
        param("cluster", parts.cluster, out);
    }
    out.push(b']');
}

/// ` name="value"` with `"`, `\` and `]` escaped.
fn param(name: &str, value: &str, out: &mut Vec<u8>) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    for b in value.bytes() {
        if matches!(b, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Cuts `message` to at most `max` bytes without splitting a UTF-8
/// character; returns whether it was cut.
pub fn cut(message: &mut Vec<u8>, max: usize) -> bool {
    if message.len() <= max {
        return false;
    }
    let mut end = max;
    // Back up over continuation bytes (10xxxxxx) to a character start.
    while end > 0 && (message[end] & 0b1100_0000) == 0b1000_0000 {
        end -= 1;
    }
    message.truncate(end);
    true
}

/// The hostname as Go's `os.Hostname` reads it on Linux, else `$HOSTNAME`,
/// else `localhost`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}
