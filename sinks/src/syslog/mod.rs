//! `syslog` sink: events as syslog messages over TCP, UDP, TLS or a unix
//! socket (kubernetes-event-exporter's `syslog:` receiver, which used Go's
//! `log/syslog`).
//!
//! * Frames ([`frame`]): `rfc3164` (the default) is KEE's frame byte for byte,
//!   `<PRI>TIMESTAMP HOSTNAME TAG[PID]: MSG` with an RFC 3339 timestamp (the
//!   local socket form has a `Jan _2 15:04:05` stamp and no hostname);
//!   `rfc5424` adds structured data `[herald@32473 idempotencyKey="…"
//!   cluster="…"]` and the event reason as MSGID.
//! * Priority: facility `local0` unless configured; severity from the event
//!   type (Warning → warning, anything else → notice). KEE sent every event as
//!   an emergency (`<128>`).
//! * MSG: the rendered `layout`, or the KEE event JSON (KEE ignored `layout`).
//! * Transports ([`transport`]): `tcp`, `tls` (RFC 5425), `unix` (stream),
//!   `udp`, `unixgram`, and `""` for the local syslog socket. Stream
//!   transports frame messages with a trailing newline (KEE's way) or by
//!   octet counting (RFC 6587; the default with `tls`). Datagrams longer than
//!   `maxMessageSize` are cut, and each cut is logged with the running count.
//! * Connections are opened lazily and reopened after a write error or when
//!   the server closed them; the driver backs off and retries, so a syslog
//!   server that is down at start or restarts loses nothing sent over a stream
//!   transport.

mod config;
pub mod frame;
mod sink;
#[cfg(test)]
mod tests;
pub mod transport;

pub use config::{Facility, Framing, MessageFormat, Network, SyslogConfig};
pub use sink::{SyslogBuilder, SyslogItem, SyslogRequest, SyslogSink, SyslogStats};

use crate::util::tls::TlsError;

/// The syslog sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// The `tls` block could not be applied.
    #[error(transparent)]
    Tls(#[from] TlsError),
}
