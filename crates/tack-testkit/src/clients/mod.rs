//! Small real clients for Tack's wire protocol, speaking it the way any client written
//! elsewhere would: WebSocket (tokio-tungstenite), HTTP streaming (SSE) and long-polling
//! (reqwest), reading every event as JSON. They connect to either front door — the built-in
//! server or a Pushpin in front of an origin (a [`Front`]) — and every wait is bounded by
//! [`WAIT`].
//!
//! They are not the client engine: no reconnect, no outbox, no fallback. Stories about the
//! engine run `tack_client::Session` itself, with [`crate::engine`].

mod client;
mod http;
mod link;

pub use client::Client;
pub use http::{of_type, poll, send};

use std::time::Duration;

/// How long one wait in a story (an event, an answer, a close) may take before it fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// Which transport a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    WebSocket,
    Stream,
    Poll,
}

/// Where a client connects, and what answers there. A client reads the two differently (see
/// [`Client`]): Pushpin may deliver a numbered event again, and applies a WebSocket's
/// subscriptions after the answer that asked for them.
#[derive(Debug, Clone)]
pub enum Front {
    /// A Tack server answering clients itself, at `url`; backends publish at `control`.
    Tack { url: String, control: String },
    /// A Pushpin in front of a Tack origin: clients use Pushpin's client port `url`,
    /// backends publish at the origin's `control` listener.
    Pushpin { url: String, control: String },
}

impl Front {
    /// The base URL clients use: `http://HOST:PORT`.
    pub fn url(&self) -> &str {
        match self {
            Front::Tack { url, .. } | Front::Pushpin { url, .. } => url,
        }
    }

    /// Where a backend publishes (`POST {control}/publish/`): never reachable by clients.
    pub fn control(&self) -> &str {
        match self {
            Front::Tack { control, .. } | Front::Pushpin { control, .. } => control,
        }
    }

    /// Whether clients reach the server through Pushpin.
    pub fn is_pushpin(&self) -> bool {
        matches!(self, Front::Pushpin { .. })
    }
}

impl From<&Front> for Front {
    fn from(front: &Front) -> Front {
        front.clone()
    }
}

/// The WebSocket endpoint under an `http(s)://` base URL.
pub fn ws_url(base: &str) -> String {
    let base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| panic!("not an http(s) base URL: {base}"));
    format!("{base}/ws")
}
