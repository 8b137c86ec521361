//! The `syslog` sink in the real delivery driver against a real rsyslogd
//! (`HERALD_RSYSLOGD_BIN`, set by `.ci/test`): RFC 3164 and RFC 5424 over TCP
//! (newline and octet-counted framing), UDP, a unix stream socket and a unix
//! datagram socket, each message parsed back by rsyslog; and a restart of
//! rsyslogd in the middle of a stream, after which nothing is missing.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_sinks::syslog::{SyslogConfig, SyslogSink};
use herald_testkit::driver::{DriverHarness, event};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// rsyslogd with imtcp, imudp, imptcp (a unix stream socket) and imuxsock
/// (a unix datagram socket), writing every message it parsed to `out.log`,
/// one line per message: `input|pri|hostname|app-name|procid|msgid|sd|msg`.
/// Stopped (SIGKILL) when dropped.
struct Rsyslog {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    tcp: u16,
    udp: u16,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Rsyslog {
    /// Starts rsyslogd, or returns `None` (loudly) when `HERALD_RSYSLOGD_BIN`
    /// is unset outside CI; in CI a missing peer fails the test.
    fn start() -> Option<Rsyslog> {
        let Some(bin) = std::env::var_os("HERALD_RSYSLOGD_BIN") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_RSYSLOGD_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!\n!!! SKIPPED: HERALD_RSYSLOGD_BIN is not set, the rsyslog test did not run \
                 (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (tcp, udp) = (free_port(), free_port());
        let d = dir.path().display();
        let conf = format!(
            r#"global(workDirectory="{d}")
module(load="imtcp")
module(load="imudp")
module(load="imptcp")
module(load="imuxsock" SysSock.Use="off")
template(name="line" type="string" string="%inputname%|%pri%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
ruleset(name="out") {{
  action(type="omfile" file="{d}/out.log" template="line")
}}
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="out")
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="out")
input(type="imptcp" path="{d}/stream.sock" ruleset="out")
input(type="imuxsock" socket="{d}/dgram.sock" ruleset="out" useSpecialParser="off" parseHostname="on")
"#
        );
        std::fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
        let mut r = Rsyslog {
            bin: PathBuf::from(bin),
            dir,
            child: None,
            tcp,
            udp,
        };
        r.run();
        Some(r)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// (Re)starts the daemon and waits until its TCP port and sockets are up.
    fn run(&mut self) {
        let child = Command::new(&self.bin)
            .arg("-n")
            .arg("-f")
            .arg(self.path("rsyslog.conf"))
            .arg("-i")
            .arg(self.path("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start rsyslogd");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.tcp)).is_err()
            || !self.path("stream.sock").exists()
            || !self.path("dgram.sock").exists()
        {
            assert!(Instant::now() < deadline, "rsyslogd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the daemon gracefully (SIGTERM: it writes what it has queued).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// Waits until `out.log` has `n` lines and returns them, split on `|`
    /// (the message last, whole).
    async fn lines(&self, n: usize) -> Vec<Vec<String>> {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(self.path("out.log")).unwrap_or_default();
            let lines: Vec<Vec<String>> = text
                .lines()
                .map(|l| l.splitn(8, '|').map(str::to_owned).collect())
                .collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages in rsyslog's output, got:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn sink(block: &str) -> SyslogSink {
    let yaml = format!("- name: syslog\n  syslog:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    let c = receivers[0].sink.downcast_ref::<SyslogConfig>().unwrap();
    SyslogSink::new("syslog", c).unwrap()
}

fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events: 10,
        max_bytes: 1024 * 1024,
        linger: Duration::from_millis(20),
    });
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_attempts: 0,
    };
    s
}

/// Sends a Warning and a Normal event through `block` and returns what
/// rsyslog parsed from them.
async fn round_trip(r: &Rsyslog, block: &str) -> Vec<Vec<String>> {
    let before = r.lines(0).await.len();
    let mut h = DriverHarness::start(sink(block), settings());
    let mut warning = event("uid-w", "disk full");
    warning.event_type = "Warning".into();
    warning.occurrence = 3;
    let mut normal = event("uid-n", "pulled");
    normal.event_type = "Normal".into();
    normal.reason = "Pulled".into();
    normal.occurrence = 1;
    h.deliver(warning).await;
    h.deliver(normal).await;
    let acks = h.acks(2, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    r.lines(before + 2).await.split_off(before)
}

fn uid_of(msg: &str) -> String {
    let v: Value = serde_json::from_str(msg.trim()).unwrap_or_else(|e| panic!("{e}: {msg}"));
    v["metadata"]["uid"].as_str().unwrap().to_owned()
}

fn pid() -> String {
    std::process::id().to_string()
}

fn check_3164(lines: &[Vec<String>], input: &str) {
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (l, (pri, uid)) in lines.iter().zip([("132", "uid-w"), ("133", "uid-n")]) {
        assert_eq!(l[0], input, "{l:?}");
        assert_eq!(l[1], pri, "{l:?}");
        assert_eq!(l[3], "k8s.event", "{l:?}");
        assert_eq!(l[4], pid(), "{l:?}");
        assert_eq!(uid_of(&l[7]), uid, "{l:?}");
    }
}

fn check_5424(lines: &[Vec<String>], input: &str) {
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (l, (pri, reason, key)) in lines
        .iter()
        .zip([("132", "BackOff", "uid-w-3"), ("133", "Pulled", "uid-n-1")])
    {
        assert_eq!(l[0], input, "{l:?}");
        assert_eq!(l[1], pri, "{l:?}");
        assert_eq!(l[3], "k8s.event", "{l:?}");
        assert_eq!(l[4], pid(), "{l:?}");
        assert_eq!(l[5], reason, "{l:?}");
        assert_eq!(
            l[6],
            format!("[herald@32473 idempotencyKey=\"{key}\"]"),
            "{l:?}"
        );
        assert_eq!(uid_of(&l[7]), key.rsplit_once('-').unwrap().0, "{l:?}");
    }
}

#[tokio::test]
async fn rfc3164_over_tcp_is_kee_s_frame() {
    let Some(r) = Rsyslog::start() else { return };
    let lines = round_trip(
        &r,
        &format!(
            "    network: tcp\n    address: \"127.0.0.1:{}\"\n    tag: k8s.event\n",
            r.tcp
        ),
    )
    .await;
    check_3164(&lines, "imtcp");
    assert!(!lines[0][2].is_empty(), "hostname: {:?}", lines[0]);
}

#[tokio::test]
async fn rfc5424_over_tcp_with_octet_counting() {
    let Some(r) = Rsyslog::start() else { return };
    let lines = round_trip(
        &r,
        &format!(
            "    network: tcp\n    address: \"127.0.0.1:{}\"\n    tag: k8s.event\n    format: rfc5424\n    framing: octet-counting\n",
            r.tcp
        ),
    )
    .await;
    check_5424(&lines, "imtcp");
}

#[tokio::test]
async fn rfc3164_and_rfc5424_over_udp() {
    let Some(r) = Rsyslog::start() else { return };
    let lines = round_trip(
        &r,
        &format!(
            "    network: udp\n    address: \"127.0.0.1:{}\"\n    tag: k8s.event\n",
            r.udp
        ),
    )
    .await;
    check_3164(&lines, "imudp");
    let lines = round_trip(
        &r,
        &format!(
            "    network: udp\n    address: \"127.0.0.1:{}\"\n    tag: k8s.event\n    format: rfc5424\n",
            r.udp
        ),
    )
    .await;
    check_5424(&lines, "imudp");
}

#[tokio::test]
async fn unix_stream_and_datagram_sockets() {
    let Some(r) = Rsyslog::start() else { return };
    let stream = r.path("stream.sock");
    let lines = round_trip(
        &r,
        &format!(
            "    network: unix\n    address: \"{}\"\n    tag: k8s.event\n",
            stream.display()
        ),
    )
    .await;
    check_3164(&lines, "imptcp");
    let dgram = r.path("dgram.sock");
    let lines = round_trip(
        &r,
        &format!(
            "    network: unixgram\n    address: \"{}\"\n    tag: k8s.event\n    format: rfc5424\n",
            dgram.display()
        ),
    )
    .await;
    check_5424(&lines, "imuxsock");
}

/// rsyslogd stops in the middle of a stream and comes back on the same port:
/// the sink notices the closed connection, retries with backoff until the
/// server is back, and every event arrives.
#[tokio::test]
async fn a_restarted_server_loses_nothing_over_tcp() {
    let Some(mut r) = Rsyslog::start() else {
        return;
    };
    let block = format!(
        "    network: tcp\n    address: \"127.0.0.1:{}\"\n    tag: k8s.event\n",
        r.tcp
    );
    let mut h = DriverHarness::start(sink(&block), settings());
    for i in 0..5 {
        h.deliver(event(&format!("before-{i}"), "m")).await;
    }
    h.acks(5, WAIT).await;
    r.lines(5).await;
    r.stop();
    for i in 0..5 {
        h.deliver(event(&format!("during-{i}"), "m")).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        h.pending_acks().is_empty(),
        "delivered while rsyslogd was down"
    );
    r.run();
    let acks = h.acks(5, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let lines = r.lines(10).await;
    let mut uids: Vec<String> = lines.iter().map(|l| uid_of(&l[7])).collect();
    uids.sort();
    let mut expected: Vec<String> = (0..5)
        .flat_map(|i| [format!("before-{i}"), format!("during-{i}")])
        .collect();
    expected.sort();
    assert_eq!(uids, expected);
    assert!(h.metric("herald_sink_retries_total", "") >= 1.0);
}
