//! The fake records what clients really send and answers as scripted.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

const WAIT: Duration = Duration::from_secs(10);

/// Writes raw bytes on one connection and returns everything read back until
/// the server closes it.
async fn raw(fake: &FakeHttp, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(fake.addr()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn records_header_names_as_written_and_bodies_of_keep_alive_requests() {
    let fake = FakeHttp::start().await;
    let answer = raw(
        &fake,
        b"POST /in?team=a HTTP/1.1\r\nHost: h\r\nX-Api-Key: k\r\nx-lower: v\r\nContent-Length: 4\r\n\r\nab\r\n\
          PUT /two HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n2\r\n\r\n\r\n0\r\n\r\n\
          GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 3, "{answer}");
    let r = fake.requests();
    assert_eq!(r.len(), 3);
    assert_eq!(
        (r[0].method.as_str(), r[0].target.as_str()),
        ("POST", "/in?team=a")
    );
    assert_eq!(
        r[0].headers,
        [
            ("Host".to_owned(), "h".to_owned()),
            ("X-Api-Key".to_owned(), "k".to_owned()),
            ("x-lower".to_owned(), "v".to_owned()),
            ("Content-Length".to_owned(), "4".to_owned()),
        ]
    );
    assert_eq!(r[0].header_exact("X-Api-Key"), ["k"]);
    assert!(r[0].header_exact("x-api-key").is_empty());
    assert_eq!(r[0].header("x-api-key"), ["k"]);
    assert_eq!(r[0].body, "ab\r\n");
    // the chunked body is recorded de-chunked, and the request after it is
    // found on the wire
    assert_eq!(
        (r[1].method.as_str(), r[1].target.as_str()),
        ("PUT", "/two")
    );
    assert_eq!(r[1].body, "xyz\r\n");
    assert_eq!(
        (r[2].method.as_str(), r[2].target.as_str()),
        ("GET", "/three")
    );
    assert_eq!(r[2].header_exact("Connection"), ["close"]);
    assert!(r.iter().all(|r| r.status == Some(200)));
}

#[tokio::test]
async fn answers_the_scripted_replies_then_the_default() {
    let fake = FakeHttp::with_replies([
        Reply::status(429)
            .header("Retry-After", "7")
            .body("slow down"),
        Reply::ok().json(&serde_json::json!({"errors": false})),
    ])
    .await;
    fake.set_default(Reply::status(503));
    let client = reqwest::Client::new();
    let url = format!("{}/bulk", fake.url());
    let first = client.post(&url).body("a").send().await.unwrap();
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "7");
    assert_eq!(first.text().await.unwrap(), "slow down");
    let second = client.post(&url).body("b").send().await.unwrap();
    assert_eq!(second.headers()["content-type"], "application/json");
    assert_eq!(second.text().await.unwrap(), "{\"errors\":false}");
    assert_eq!(client.post(&url).send().await.unwrap().status(), 503);
    fake.push_reply(Reply::status(201));
    assert_eq!(client.post(&url).send().await.unwrap().status(), 201);
    let statuses: Vec<Option<u16>> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(429), Some(200), Some(503), Some(201)]);
    assert_eq!(fake.requests()[1].text(), "b");
}

#[tokio::test]
async fn slow_and_hanging_replies() {
    let fake =
        FakeHttp::with_replies([Reply::ok().delay(Duration::from_millis(300)), Reply::hang()])
            .await;
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    client.get(fake.url()).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let hung = client
        .get(fake.url())
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    let r = fake.wait_for_requests(2, WAIT).await;
    assert_eq!(r[1].status, None, "a hanging request has no status");
}

#[tokio::test]
async fn records_the_absolute_target_a_client_sends_to_a_proxy() {
    let fake = FakeHttp::start().await;
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(fake.url()).unwrap())
        .build()
        .unwrap();
    client
        .post("http://hooks.invalid/in?x=1")
        .send()
        .await
        .unwrap();
    let r = fake.requests();
    assert_eq!(r[0].target, "http://hooks.invalid/in?x=1");
    assert_eq!(r[0].header("Host"), ["hooks.invalid"]);
}

#[tokio::test]
async fn stops_when_dropped() {
    let fake = FakeHttp::start().await;
    let addr = fake.addr();
    drop(fake);
    tokio::task::yield_now().await;
    let client = reqwest::Client::new();
    let result = client
        .get(format!("http://{addr}/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(result.is_err());
}
