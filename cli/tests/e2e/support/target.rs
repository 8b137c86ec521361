//! An HTTP target for webhook receivers, on the test kit's fake: records every request
//! (headers and body) and answers 200, 503 or never, as the test switches it.

use herald_testkit::{FakeHttp, Recorded, Reply};

/// How the target answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 OK.
    Accept,
    /// 503 Service Unavailable (retriable).
    Unavailable,
    /// Never answers.
    Hang,
}

impl Mode {
    fn reply(self) -> Reply {
        match self {
            Mode::Accept => Reply::ok(),
            Mode::Unavailable => Reply::status(503),
            Mode::Hang => Reply::hang(),
        }
    }
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Hit {
    request: Recorded,
    /// Request body.
    pub body: bytes::Bytes,
    /// The status answered; `None` when the request was left hanging.
    pub status: Option<u16>,
}

impl Hit {
    /// A header as text, any case ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.request
            .header(name)
            .first()
            .copied()
            .unwrap_or_default()
            .to_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        self.request.json()
    }
}

/// A running target on 127.0.0.1; stopped on drop.
pub struct Target {
    fake: FakeHttp,
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
}

impl Target {
    /// Starts a target answering `mode`.
    pub async fn start(mode: Mode) -> Target {
        let fake = FakeHttp::start().await;
        fake.set_default(mode.reply());
        let url = format!("{}/hook", fake.url());
        Target { fake, url }
    }

    /// Switches how the target answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.fake.set_default(mode.reply());
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.fake
            .requests()
            .into_iter()
            .map(|request| Hit {
                body: request.body.clone(),
                status: request.status,
                request,
            })
            .collect()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.status == Some(200))
            .collect()
    }
}
