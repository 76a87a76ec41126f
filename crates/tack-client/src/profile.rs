//! A server profile: where to connect and how.

use serde::{Deserialize, Serialize};

/// Which transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum TransportChoice {
    /// WebSocket first, falling back to HTTP streaming, then long-polling.
    #[default]
    Auto,
    Ws,
    Stream,
    Poll,
}

/// A transport actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Ws,
    Stream,
    Poll,
}

/// Where to connect and how. `url` is either a base `http(s)://host:port` (Tack's paths `/ws`,
/// `/stream`, `/poll`, `/send`) or a full `ws(s)://` URL of one WebSocket endpoint (e.g. an
/// original-system server at `ws://host:7999/websocket/chat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Profile {
    /// Display name ("This computer", "staging").
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub transport: TransportChoice,
    /// Sent as `Authorization: Bearer <token>` on every request and handshake.
    #[serde(default)]
    pub token: Option<String>,
    /// Extra headers on every request and handshake.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Nickname to say `hello` with; the server picks one when absent.
    #[serde(default)]
    pub nick: Option<String>,
    /// Accept invalid TLS certificates (self-signed development servers only).
    #[serde(default)]
    pub insecure_tls: bool,
}

/// The desktop's built-in server, as the user's own scripts reach it: nothing is accepted there
/// without `token`, a secret made at each launch (clients send it as `Authorization: Bearer`,
/// backends publish with it at `publish_url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BuiltinServer {
    /// Where clients connect: `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where backends publish: `http://127.0.0.1:PORT/publish/`.
    pub publish_url: String,
    pub token: String,
}

impl Profile {
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Profile {
        Profile {
            name: name.into(),
            url: url.into(),
            transport: TransportChoice::Auto,
            token: None,
            headers: Vec::new(),
            nick: None,
            insecure_tls: false,
        }
    }
}
