//! `syslog:` settings: `network`, `address`, `tag` (as kubernetes-event-exporter
//! had them) and herald's `format`, `facility`, `framing`, `maxMessageSize`,
//! `tls`, `layout` and `deDot`.

use std::net::ToSocketAddrs as _;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, Role, child_path, decode_with};
use serde::Deserialize;

use super::{SyslogBuilder, SyslogError, SyslogSink};
use crate::config::TlsConfig;
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

/// Default cut of a datagram: rsyslog's default `maxMessageSize`.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 8192;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyslogConfig {
    #[serde(default)]
    network: Located<String>,
    #[serde(default)]
    address: Located<String>,
    #[serde(default)]
    tag: Located<String>,
    #[serde(default)]
    format: Option<Located<String>>,
    #[serde(default)]
    facility: Option<Located<String>>,
    #[serde(default)]
    framing: Option<Located<String>>,
    #[serde(default)]
    max_message_size: Option<Located<u64>>,
    #[serde(default)]
    tls: Option<Node>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    de_dot: bool,
}

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// TCP.
    Tcp,
    /// TCP with TLS (RFC 5425).
    Tls,
    /// UDP, one message per datagram.
    Udp,
    /// A unix stream socket.
    Unix,
    /// A unix datagram socket.
    Unixgram,
    /// The local syslog socket (`/dev/log`, `/var/run/syslog`,
    /// `/var/run/log`), datagram or stream, with the local frame.
    Local,
}

impl Network {
    /// Returns whether messages are datagrams (cut at `maxMessageSize`).
    pub fn is_datagram(self) -> bool {
        matches!(self, Network::Udp | Network::Unixgram)
    }

    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Tls => "tls",
            Network::Udp => "udp",
            Network::Unix => "unix",
            Network::Unixgram => "unixgram",
            Network::Local => "",
        }
    }
}

/// The message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageFormat {
    /// `<PRI>TIMESTAMP HOSTNAME TAG[PID]: MSG`, as Go's `log/syslog` (and so
    /// KEE) wrote it.
    #[default]
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.
    Rfc5424,
}

/// How messages are delimited on stream transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A newline after each message (KEE's way; RFC 6587 non-transparent
    /// framing).
    Newline,
    /// `LEN SP MSG` (RFC 6587 octet counting, required by RFC 5425).
    OctetCounting,
}

/// A syslog facility (the high bits of PRI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(pub u8);

/// Facility names in code order (`kern` = 0 … `local7` = 23).
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1",
    "local2", "local3", "local4", "local5", "local6", "local7",
];

impl Facility {
    /// `local0`, KEE's facility.
    pub const LOCAL0: Facility = Facility(16);

    fn parse(name: &str) -> Option<Facility> {
        FACILITIES
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
            .and_then(|i| u8::try_from(i).ok())
            .map(Facility)
    }
}

/// A `syslog:` receiver.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// The transport.
    pub network: Network,
    /// `host:port` or a socket path; empty for [`Network::Local`].
    pub address: String,
    /// TAG / APP-NAME.
    pub tag: String,
    /// The message format.
    pub format: MessageFormat,
    /// The facility.
    pub facility: Facility,
    /// Stream framing (ignored for datagrams).
    pub framing: Framing,
    /// Datagrams are cut to this many bytes.
    pub max_message_size: usize,
    /// TLS settings (`network: tls`).
    pub tls: TlsConfig,
    /// MSG per event; `None` sends the KEE event JSON.
    pub layout: Option<LayoutSpec>,
    /// De-dot label and annotation keys first.
    pub dedot: bool,
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !n.is_null())
}

/// The default tag: the program's file name, as Go's `log/syslog` used the
/// program name.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "herald".to_owned())
}

impl SyslogConfig {
    /// Decodes and checks a `syslog:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawSyslogConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let network = match raw.network.value.trim() {
            "" => Network::Local,
            "tcp" | "tcp4" | "tcp6" => Network::Tcp,
            "tls" => Network::Tls,
            "udp" | "udp4" | "udp6" => Network::Udp,
            "unix" => Network::Unix,
            "unixgram" => Network::Unixgram,
            other => {
                raw.network
                    .error(diags, format!("unknown syslog network `{other}`"))
                    .with_hint("use tcp, udp, tls, unix, unixgram, or leave it empty for the local syslog socket");
                Network::Tcp
            }
        };
        let address = raw.address.value.trim().to_owned();
        check_address(network, &raw.address, node, path, diags);
        let format = match raw.format.as_ref().map(|f| (f, f.value.trim())) {
            None | Some((_, "" | "rfc3164")) => MessageFormat::Rfc3164,
            Some((_, "rfc5424")) => MessageFormat::Rfc5424,
            Some((f, other)) => {
                f.error(diags, format!("unknown syslog format `{other}`"))
                    .with_hint("use rfc3164 (the default, KEE's frame) or rfc5424");
                MessageFormat::Rfc3164
            }
        };
        let facility = match raw.facility.as_ref().map(|f| (f, f.value.trim())) {
            None | Some((_, "")) => Facility::LOCAL0,
            Some((f, name)) => Facility::parse(name).unwrap_or_else(|| {
                f.error(diags, format!("unknown syslog facility `{name}`"))
                    .with_hint(format!("use one of: {}", FACILITIES.join(", ")));
                Facility::LOCAL0
            }),
        };
        let framing = match raw.framing.as_ref().map(|f| (f, f.value.trim())) {
            None | Some((_, "")) if network == Network::Tls => Framing::OctetCounting,
            None | Some((_, "")) => Framing::Newline,
            Some((_, "newline")) => Framing::Newline,
            Some((_, "octet-counting")) => Framing::OctetCounting,
            Some((f, other)) => {
                f.error(diags, format!("unknown syslog framing `{other}`"))
                    .with_hint("use newline (a newline after each message) or octet-counting (RFC 6587)");
                Framing::Newline
            }
        };
        let max_message_size = match &raw.max_message_size {
            None => DEFAULT_MAX_MESSAGE_SIZE,
            Some(m) if (480..=65_507).contains(&m.value) => {
                usize::try_from(m.value).unwrap_or(DEFAULT_MAX_MESSAGE_SIZE)
            }
            Some(m) => {
                m.error(diags, format!("maxMessageSize {} is out of range", m.value))
                    .with_hint("use 480 (the RFC 3164 minimum) to 65507 (the largest UDP payload over IPv4)");
                DEFAULT_MAX_MESSAGE_SIZE
            }
        };
        let tls = match present(raw.tls.as_ref()) {
            Some(t) => {
                let tls = TlsConfig::from_node(t, &child_path(path, "tls"), diags);
                if network != Network::Tls {
                    diags
                        .warning(t.loc, "`tls` is ignored unless `network: tls`")
                        .with_path(child_path(path, "tls"))
                        .with_hint("set `network: tls` to send over TLS (RFC 5425)");
                }
                tls.unwrap_or_default()
            }
            None => TlsConfig::default(),
        };
        let layout = present(raw.layout.as_ref())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let tag = match raw.tag.value.trim() {
            "" => program_name(),
            t => t.to_owned(),
        };
        if diags.error_count() > before {
            return None;
        }
        Some(SyslogConfig {
            network,
            address,
            tag,
            format,
            facility,
            framing,
            max_message_size,
            tls,
            layout,
            dedot: raw.de_dot,
        })
    }
}

/// Checks `address` for `network`: `host:port` for the IP transports (the
/// name must resolve when the ruler's files are checked), a path for unix
/// sockets, nothing for the local socket.
fn check_address(
    network: Network,
    address: &Located<String>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) {
    let text = address.value.trim();
    match network {
        Network::Local => {}
        Network::Unix | Network::Unixgram => {
            if text.is_empty() {
                diags
                    .error(node.loc, format!("syslog over `{}` needs an `address`", network.as_str()))
                    .with_path(path)
                    .with_hint("set `address:` to the socket's path, such as /dev/log");
            }
        }
        Network::Tcp | Network::Tls | Network::Udp => {
            if text.is_empty() {
                diags
                    .error(node.loc, format!("syslog over `{}` needs an `address`", network.as_str()))
                    .with_path(path)
                    .with_hint("set `address:` to host:port, such as 127.0.0.1:514");
                return;
            }
            let port_ok = text
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                address
                    .error(diags, format!("syslog address `{text}` has no port"))
                    .with_hint("write host:port, such as syslog.example.com:514 or [::1]:514");
                return;
            }
            if diags.checks_files_of(Role::Ruler) {
                match text.to_socket_addrs().map(|mut a| a.next().is_some()) {
                    Ok(true) => {}
                    Ok(false) => {
                        address
                            .error(diags, format!("syslog address `{text}` resolves to no address"))
                            .with_hint("check the host name (and the DNS the ruler uses)");
                    }
                    Err(e) => {
                        address
                            .error(diags, format!("syslog address `{text}` does not resolve: {e}"))
                            .with_hint("check the host name (and the DNS the ruler uses)");
                    }
                }
            }
        }
    }
}

#[async_trait]
impl SinkType for SyslogConfig {
    const NAME: &'static str = "syslog";
    /// Up to 100 messages per write, waiting at most 50 ms for more.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 100,
        max_bytes: 1024 * 1024,
        linger: std::time::Duration::from_millis(50),
    };
    type Sink = SyslogSink;
    type BuildError = SyslogError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        SyslogConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> SyslogBuilder {
        SyslogBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<SyslogSink, SyslogError> {
        let sink = SyslogSink::new(cx.name, self)?;
        cx.expose(sink.stats());
        Ok(sink)
    }
}
