//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use herald_kubesim::{SimConfig, Simulator};

/// Bytes of a fixture file.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A fixture as a string.
pub fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// A fixture parsed as JSON.
pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// A plain HTTP client with the capture's user agent. It trusts no roots, which skips
/// loading the platform certificate store (slow, and never needed for `http://`).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only(std::iter::empty())
        .user_agent("event-exporter-fixture-capture/1.0")
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A started simulator with default settings.
pub async fn sim() -> Simulator {
    Simulator::start(SimConfig::default()).await.unwrap()
}

/// A started simulator with the captured events loaded (RV 279).
pub async fn sim_with_fixtures(cfg: SimConfig) -> Simulator {
    let sim = Simulator::start(cfg).await.unwrap();
    assert_eq!(sim.load_fixture_events().unwrap(), 72);
    sim
}

/// GET and return status, headers and body.
pub async fn get(sim: &Simulator, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = client()
        .get(format!("{}{path}", sim.url()))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    (status, headers, body)
}

/// GET with an Accept header.
pub async fn get_accept(sim: &Simulator, path: &str, accept: &str) -> (u16, Vec<u8>) {
    let resp = client()
        .get(format!("{}{path}", sim.url()))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

/// An open watch stream, read line by line.
pub struct WatchStream {
    pub status: u16,
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl WatchStream {
    pub async fn open(sim: &Simulator, path: &str) -> Self {
        let resp = client()
            .get(format!("{}{path}", sim.url()))
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        Self {
            status,
            stream: resp.bytes_stream().boxed(),
            buf: Vec::new(),
        }
    }

    /// The next line (without the newline); `Ok(None)` at a clean end of stream,
    /// `Err` when the connection broke or `wait` elapsed.
    pub async fn next_line(&mut self, wait: Duration) -> Result<Option<String>, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(Some(
                    String::from_utf8(line[..line.len() - 1].to_vec()).unwrap(),
                ));
            }
            match tokio::time::timeout(wait, self.stream.next()).await {
                Err(_) => return Err("timed out".into()),
                Ok(None) => {
                    return if self.buf.is_empty() {
                        Ok(None)
                    } else {
                        Err("stream ended mid-line".into())
                    };
                }
                Ok(Some(Err(e))) => return Err(format!("stream error: {e}")),
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
            }
        }
    }

    /// The next line parsed as JSON; panics on timeout or end.
    pub async fn next_json(&mut self) -> serde_json::Value {
        let line = self
            .next_line(Duration::from_secs(10))
            .await
            .unwrap()
            .expect("stream ended");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line}: {e}"))
    }
}

/// The fixture watch lines as JSON.
pub fn fixture_lines(name: &str) -> Vec<String> {
    fixture_str(name).lines().map(str::to_owned).collect()
}
