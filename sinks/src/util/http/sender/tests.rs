//! The HTTP sender against the test kit's fake target: what it sends, what
//! it shows, how it classifies answers, and the proxy variables.

use std::time::Duration;

use herald_testkit::{FakeHttp, Recorded, Reply};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};

use super::*;

const WAIT: Duration = Duration::from_secs(10);

fn post(url: &str, body: &str) -> HttpRequest {
    let mut r = HttpRequest::new(Method::POST, Url::parse(url).unwrap());
    r.headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.body = Bytes::from(body.to_owned());
    r
}

fn sender() -> HttpSender {
    HttpSender::new(None, Duration::from_secs(5)).unwrap()
}

/// The header lines of a description, as (name, value) pairs.
fn described_headers(description: &str) -> Vec<(String, String)> {
    description
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

fn sorted(mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers.sort();
    headers
}

#[test]
fn describe_shows_the_request_line_headers_and_body_with_credentials_masked() {
    let mut r = post(
        "http://bob:s3cret@hooks.example.com:8080/in?token=abc&team=a#frag",
        "{\"a\":1}",
    );
    let mut auth = HeaderValue::from_static("Bearer t0ken");
    auth.set_sensitive(true);
    r.headers.insert(AUTHORIZATION, auth);
    r.headers.insert(
        HeaderName::from_static("x-api-key"),
        HeaderValue::from_static("k3y"),
    );
    r.headers.insert(
        HeaderName::from_static("x-trace"),
        HeaderValue::from_static("t-1"),
    );
    assert_eq!(
        r.describe(),
        concat!(
            "POST http://***@hooks.example.com:8080/in?token=***&team=a\n",
            "Host: hooks.example.com:8080\n",
            "User-Agent: herald/",
            env!("CARGO_PKG_VERSION"),
            "\n",
            "Accept: */*\n",
            "Content-Type: application/json\n",
            "Authorization: ***\n",
            "X-Api-Key: ***\n",
            "X-Trace: t-1\n",
            "Content-Length: 7\n",
            "\n",
            "{\"a\":1}"
        )
    );
}

#[test]
fn describe_gives_the_size_of_a_binary_body_and_omits_default_ports() {
    let mut r = HttpRequest::new(
        Method::PUT,
        Url::parse("https://logs.example.com:443/push").unwrap(),
    );
    r.body = Bytes::from_static(&[0xff, 0x00, 0x10]);
    let d = r.describe();
    assert!(
        d.starts_with("PUT https://logs.example.com/push\nHost: logs.example.com\n"),
        "{d}"
    );
    assert!(
        d.ends_with("Content-Length: 3\n\n(3 bytes of binary data)"),
        "{d}"
    );
}

#[tokio::test]
async fn what_is_sent_is_what_describe_shows() {
    let fake = FakeHttp::start().await;
    let mut r = post(
        &format!("{}/in?team=a", fake.url()),
        "{\"reason\":\"BackOff\"}",
    );
    r.headers.insert(
        HeaderName::from_static("x-event-key"),
        HeaderValue::from_static("u-1"),
    );
    sender().send(&r).await.unwrap();
    let got: Recorded = fake.requests().remove(0);
    let description = r.describe();
    let request_line = description.lines().next().unwrap();
    assert_eq!(request_line, format!("{} {}", got.method, r.url));
    assert_eq!(got.target, "/in?team=a");
    assert_eq!(
        sorted(got.headers.clone()),
        sorted(described_headers(&description))
    );
    assert_eq!(
        description.split_once("\n\n").unwrap().1.as_bytes(),
        got.body.as_ref()
    );
}

#[tokio::test]
async fn answers_are_classified_with_retry_after_and_a_body_snippet() {
    let fake = FakeHttp::with_replies([
        Reply::status(429).header("Retry-After", "7"),
        Reply::status(503).body("unavailable"),
        Reply::status(400).body("{\"error\":\"bad payload\"}"),
        Reply::status(200).body("{\"took\":3}"),
    ])
    .await;
    let s = sender();
    let r = post(&fake.url(), "{}");
    let e = s.send(&r).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = s.send(&r).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.to_string(), "unexpected HTTP status 503: unavailable");
    let e = s.send(&r).await.unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(
        e.to_string(),
        "unexpected HTTP status 400: {\"error\":\"bad payload\"}"
    );
    let ok = s.send(&r).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.body().await.unwrap(), "{\"took\":3}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let fake = FakeHttp::with_replies([Reply::status(302).header("Location", "/elsewhere")]).await;
    let e = sender()
        .send(&post(&format!("{}/in", fake.url()), "{}"))
        .await
        .unwrap_err();
    assert!(!e.is_retriable(), "{e}");
    assert_eq!(e.to_string(), "unexpected HTTP status 302");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn errors_never_quote_the_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = sender()
        .send(&post(
            &format!("http://user:s3cr3t@{addr}/x?token=abc"),
            "{}",
        ))
        .await
        .unwrap_err();
    assert!(e.is_retriable(), "{e}");
    let text = e.to_string();
    assert!(text.starts_with("cannot connect"), "{text}");
    assert!(!text.contains("s3cr3t") && !text.contains("abc"), "{text}");
}

/// Environment of the child process of [`proxy_variables_are_honoured`]:
/// which case it runs, and the URL of a target it must reach directly.
const CHILD_CASE: &str = "HERALD_TEST_PROXY_CASE";
const CHILD_DIRECT: &str = "HERALD_TEST_PROXY_DIRECT";

/// Every proxy-related variable, cleared in the child before a case sets its
/// own.
const PROXY_VARIABLES: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// Runs [`proxy_child`] for `case` in a child process (this test binary)
/// with `vars` as its only proxy variables.
async fn run_child(case: &str, vars: &[(&str, String)], direct: &FakeHttp) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap());
    child.args([
        "util::http::sender::tests::proxy_child",
        "--exact",
        "--ignored",
        "--test-threads=1",
    ]);
    for name in PROXY_VARIABLES {
        child.env_remove(name);
    }
    child
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env(CHILD_CASE, case)
        .env(CHILD_DIRECT, direct.url());
    let out = tokio::time::timeout(WAIT, child.output())
        .await
        .expect("the child finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "case {case}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The proxy variables are read from the environment when the client is
/// built, so they are set on child processes (this test binary, running
/// [`proxy_child`]) rather than in this multi-threaded one.
#[tokio::test]
async fn proxy_variables_are_honoured() {
    let proxy = FakeHttp::with_replies([Reply::ok(), Reply::status(502)]).await;
    let direct = FakeHttp::start().await;
    run_child(
        "variables",
        &[
            ("HTTP_PROXY", proxy.url()),
            ("HTTPS_PROXY", format!("http://user:pw@{}", proxy.addr())),
            ("NO_PROXY", "127.0.0.1".to_owned()),
        ],
        &direct,
    )
    .await;
    let through_proxy = proxy.requests();
    assert_eq!(through_proxy.len(), 2, "{through_proxy:?}");
    // http:// through HTTP_PROXY: the absolute URL as the request target
    assert_eq!(through_proxy[0].method, "POST");
    assert_eq!(through_proxy[0].target, "http://hooks.invalid/in?team=a");
    assert_eq!(through_proxy[0].text(), "{\"n\":1}");
    // https:// through HTTPS_PROXY: a tunnel, with the proxy's credentials
    assert_eq!(through_proxy[1].method, "CONNECT");
    assert_eq!(through_proxy[1].target, "secure.invalid:443");
    assert_eq!(
        through_proxy[1].header("Proxy-Authorization"),
        ["Basic dXNlcjpwdw=="]
    );
    // NO_PROXY: straight to the target
    assert_eq!(direct.requests().len(), 1);
    assert_eq!(direct.requests()[0].target, "/direct");

    // ALL_PROXY, and the lower-case spelling of HTTP_PROXY
    let all = FakeHttp::start().await;
    let lower = FakeHttp::start().await;
    run_child("all", &[("ALL_PROXY", all.url())], &direct).await;
    run_child("lower", &[("http_proxy", lower.url())], &direct).await;
    assert_eq!(all.requests()[0].target, "http://hooks.invalid/all");
    assert_eq!(lower.requests()[0].target, "http://hooks.invalid/lower");

    // a CGI environment: every proxy variable is ignored
    let ignored = FakeHttp::start().await;
    run_child(
        "cgi",
        &[
            ("REQUEST_METHOD", "GET".to_owned()),
            ("HTTP_PROXY", ignored.url()),
        ],
        &direct,
    )
    .await;
    assert!(ignored.requests().is_empty());
    assert_eq!(direct.requests().len(), 2);
    assert_eq!(direct.requests()[1].target, "/cgi");
}

#[tokio::test]
#[ignore = "run by proxy_variables_are_honoured, in a child process with proxy variables set"]
async fn proxy_child() {
    let case = std::env::var(CHILD_CASE)
        .expect("this is the child half of proxy_variables_are_honoured; run that test");
    let direct = std::env::var(CHILD_DIRECT).unwrap();
    let s = sender();
    match case.as_str() {
        "variables" => {
            s.send(&post("http://hooks.invalid/in?team=a", "{\"n\":1}"))
                .await
                .unwrap();
            // the fake proxy refuses the tunnel
            let e = s
                .send(&post("https://secure.invalid/x", "{}"))
                .await
                .unwrap_err();
            assert!(e.is_retriable(), "{e}");
            s.send(&post(&format!("{direct}/direct"), "{}"))
                .await
                .unwrap();
        }
        "all" | "lower" => {
            s.send(&post(&format!("http://hooks.invalid/{case}"), "{}"))
                .await
                .unwrap();
        }
        "cgi" => {
            s.send(&post(&format!("{direct}/cgi"), "{}")).await.unwrap();
        }
        other => panic!("unknown case {other}"),
    }
}
