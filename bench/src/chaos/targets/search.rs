//! `elasticsearch` against osmem-server (an in-memory OpenSearch; its path in
//! `HERALD_OSMEM_BIN`, set by `.ci/test` after `.ci/install-peers.sh`). Documents are
//! read back incrementally in insertion order (`sort: _doc` with `search_after`);
//! their `_id` is the idempotency key. The receiver writes with `create`, so a
//! redelivery is refused by the target (409): duplicates cannot be seen here. Its
//! fault: down, as a hung server (SIGSTOP, then SIGCONT: nothing it stored is lost).

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tracing::warn;

use super::{Deliveries, LAYOUT, Target, TargetEnv};
use crate::chaos::plan::TargetFault;
use crate::error::{BenchError, Result};
use crate::process::{Launch, Proc, free_port};

/// The receiver's name.
pub const NAME: &str = "elasticsearch";
/// The index the receiver writes.
const INDEX: &str = "chaos";
/// Documents read per request.
const PAGE: usize = 5000;

/// osmem-server and its reader.
pub struct SearchTarget {
    proc: Proc,
    url: String,
    deliveries: Deliveries,
    reader: tokio::task::JoinHandle<()>,
}

/// Starts osmem-server, or `None` (with a warning) when `HERALD_OSMEM_BIN` is unset.
pub fn start(env: &TargetEnv) -> BoxFuture<'_, Result<Option<Box<dyn Target>>>> {
    Box::pin(async move {
        let Some(bin) = std::env::var_os("HERALD_OSMEM_BIN") else {
            warn!(
                "HERALD_OSMEM_BIN is not set: the elasticsearch receiver is left out \
                 (run .ci/install-peers.sh; .ci/test sets it)"
            );
            return Ok(None);
        };
        std::fs::create_dir_all(&env.dir)
            .map_err(crate::error::io_err("cannot create", &env.dir))?;
        let port = free_port()?;
        let launch = Launch::new(
            "osmem-server",
            std::path::Path::new(&bin),
            env.dir.join("osmem.log"),
        )
        .with_args(["-addr", &format!("127.0.0.1:{port}"), "-no-stdin-watch"]);
        let mut proc = launch.spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        let client = client()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get(&url).send().await.is_err() {
            proc.check_alive()?;
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    what: "osmem-server to answer".into(),
                    secs: 20,
                    log: Some(proc.log_tail()),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let deliveries = Deliveries::default();
        let reader = tokio::spawn(read(client, url.clone(), deliveries.clone()));
        let t: Box<dyn Target> = Box::new(SearchTarget {
            proc,
            url,
            deliveries,
            reader,
        });
        Ok(Some(t))
    })
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?)
}

/// Reads new documents every 200 ms, forever.
async fn read(client: reqwest::Client, url: String, deliveries: Deliveries) {
    let mut after: Option<Value> = None;
    loop {
        while let Some(page) = next_page(&client, &url, after.as_ref()).await {
            let now = Instant::now();
            let n = page.len();
            for (id, sort) in page {
                deliveries.record(id, now);
                after = Some(sort);
            }
            if n < PAGE {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The documents after `after` (ids and sort values); None when the index cannot be
/// read (not there yet, or the server is stopped).
async fn next_page(
    client: &reqwest::Client,
    url: &str,
    after: Option<&Value>,
) -> Option<Vec<(String, Value)>> {
    let mut body = json!({"size": PAGE, "_source": false, "sort": ["_doc"]});
    if let Some(a) = after {
        body["search_after"] = a.clone();
    }
    let r = client
        .post(format!("{url}/{INDEX}/_search"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    let hits = v["hits"]["hits"].as_array()?;
    Some(
        hits.iter()
            .filter_map(|h| Some((h["_id"].as_str()?.to_owned(), h["sort"].clone())))
            .collect(),
    )
}

impl Drop for SearchTarget {
    fn drop(&mut self) {
        self.reader.abort();
        // a stopped process is killed as well; Proc's drop kills it
    }
}

impl Target for SearchTarget {
    fn name(&self) -> &'static str {
        NAME
    }

    fn receiver_yaml(&self) -> String {
        format!(
            "  - name: {NAME}\n    elasticsearch:\n      hosts: [\"{}\"]\n      index: {INDEX}\n{LAYOUT}",
            self.url
        )
    }

    fn faults(&self) -> &'static [TargetFault] {
        &[TargetFault::Down]
    }

    fn set_fault(&mut self, fault: Option<TargetFault>) -> Result<()> {
        self.proc
            .signal(if fault.is_some() { "STOP" } else { "CONT" })
    }

    fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    fn dedupes(&self) -> bool {
        true
    }

    fn pid(&self) -> Option<u32> {
        Some(self.proc.pid())
    }
}
