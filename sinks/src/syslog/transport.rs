//! Connections to a syslog server: TCP, TLS, unix stream, UDP, unix datagram
//! and the local syslog socket.

use std::io;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::config::Network;

/// Where the local syslog socket may be, in the order Go's `log/syslog`
/// tries them.
pub const LOCAL_SOCKETS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];

/// An open connection.
#[derive(Debug)]
pub enum Connection {
    /// TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// A unix stream socket.
    Unix(UnixStream),
    /// A connected UDP socket.
    Udp(UdpSocket),
    /// A connected unix datagram socket.
    Unixgram(UnixDatagram),
}

/// How to reach the server.
#[derive(Clone)]
pub struct Endpoint {
    /// The transport.
    pub network: Network,
    /// `host:port` or a socket path.
    pub address: String,
    /// The TLS connector and the name checked (`network: tls`).
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("network", &self.network)
            .field("address", &self.address)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// Opens a connection.
    ///
    /// # Errors
    /// The server cannot be reached.
    pub async fn connect(&self) -> io::Result<Connection> {
        match self.network {
            Network::Tcp => {
                let s = TcpStream::connect(&self.address).await?;
                s.set_nodelay(true)?;
                Ok(Connection::Tcp(s))
            }
            Network::Tls => {
                let Some((connector, name)) = &self.tls else {
                    return Err(io::Error::other("TLS is not configured"));
                };
                let s = TcpStream::connect(&self.address).await?;
                s.set_nodelay(true)?;
                let tls = connector.connect(name.clone(), s).await?;
                Ok(Connection::Tls(Box::new(tls)))
            }
            Network::Unix => Ok(Connection::Unix(UnixStream::connect(&self.address).await?)),
            Network::Udp => {
                let target = tokio::net::lookup_host(&self.address)
                    .await?
                    .next()
                    .ok_or_else(|| io::Error::other("the address resolves to nothing"))?;
                let bind = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(bind).await?;
                s.connect(target).await?;
                Ok(Connection::Udp(s))
            }
            Network::Unixgram => {
                let s = UnixDatagram::unbound()?;
                s.connect(&self.address)?;
                Ok(Connection::Unixgram(s))
            }
            Network::Local => connect_local(),
        }
    }
}

/// Opens the local syslog socket: each path of [`LOCAL_SOCKETS`], datagram
/// first, then stream.
fn connect_local() -> io::Result<Connection> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no local syslog socket");
    for path in LOCAL_SOCKETS {
        if let Ok(s) = UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s)) {
            return Ok(Connection::Unixgram(s));
        }
        match std::os::unix::net::UnixStream::connect(path)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(UnixStream::from_std)
        {
            Ok(s) => return Ok(Connection::Unix(s)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Connection {
    /// Returns whether the connection carries datagrams.
    pub fn is_datagram(&self) -> bool {
        matches!(self, Connection::Udp(_) | Connection::Unixgram(_))
    }

    /// Returns whether a stream connection was closed by the server (it
    /// sends nothing in syslog, so anything readable means it is gone: the
    /// end of the stream, an error, or a TLS close_notify).
    pub fn closed_by_peer(&self) -> bool {
        let mut buf = [0u8; 64];
        let read = match self {
            Connection::Tcp(s) => s.try_read(&mut buf),
            Connection::Tls(s) => s.get_ref().0.try_read(&mut buf),
            Connection::Unix(s) => s.try_read(&mut buf),
            Connection::Udp(_) | Connection::Unixgram(_) => return false,
        };
        !matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes `bytes` to a stream connection.
    ///
    /// # Errors
    /// The write failed; the connection must be dropped.
    pub async fn write_stream(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.write_all(bytes).await,
            Connection::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Connection::Unix(s) => s.write_all(bytes).await,
            Connection::Udp(_) | Connection::Unixgram(_) => {
                Err(io::Error::other("not a stream connection"))
            }
        }
    }

    /// Sends one datagram.
    ///
    /// # Errors
    /// The send failed (for UDP, often an earlier datagram's ICMP "port
    /// unreachable" reported now).
    pub async fn send_datagram(&self, bytes: &[u8]) -> io::Result<()> {
        let sent = match self {
            Connection::Udp(s) => s.send(bytes).await?,
            Connection::Unixgram(s) => s.send(bytes).await?,
            _ => return Err(io::Error::other("not a datagram connection")),
        };
        if sent == bytes.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "datagram cut by the kernel ({sent} of {} bytes)",
                bytes.len()
            )))
        }
    }
}

/// Builds the TLS connector of `network: tls` and the server name checked:
/// `serverName`, else the host of `address`.
///
/// # Errors
/// The TLS files cannot be loaded, or the name is not a valid DNS name or IP
/// address.
pub fn tls_connector(
    tls: &crate::config::TlsConfig,
    address: &str,
) -> Result<(TlsConnector, ServerName<'static>), crate::util::tls::TlsError> {
    let mut config = crate::util::tls::client_config(tls)?;
    // Syslog over TLS has no ALPN protocol.
    config.alpn_protocols.clear();
    let host = if tls.server_name.is_empty() {
        let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']').to_owned()
    } else {
        tls.server_name.clone()
    };
    let name = ServerName::try_from(host.clone())
        .map_err(|_| crate::util::tls::TlsError::ServerName(host))?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}
