//! Origin mode: Tack's chat logic behind the real Pushpin, as a GRIP origin.
//!
//! Pushpin holds every client connection; this module only answers the HTTP requests Pushpin
//! forwards and publishes what happens in rooms. Clients see the same wire contract as on the
//! built-in server, on all three transports:
//! - [`websocket_over_http`] — `POST /ws`, WebSocket-over-HTTP: frames in, replies inline,
//!   `c:subscribe` per room.
//! - [`hold`] — `GET /stream` (`Grip-Hold: stream`, reliable through `Grip-Link` and
//!   `prev-id`), `GET /poll` (`Grip-Hold: response`) and `POST /send`.
//! - [`pushpin_sink`] — every item the hub numbers is published once, to every instance.
//! - [`publisher`] — one queue and task per Pushpin instance, with backoff.
//! - [`channels`] — Pushpin channel names and the publish formats of an item.
//! - [`connections`] — the WebSockets Pushpin holds, expiring unless Pushpin asks about them.
//! - [`signature`] — `Grip-Sig`: nothing bypasses Pushpin.
//! - [`stats`] — each instance's own statistics, read from its stats socket and republished
//!   as the `$pushpin` channels.
//!
//! Sessions, frames and the hub are the built-in server's own ([`crate::client_frame`]); HTTP
//! sessions are kept in the same registry ([`crate::sessions`]).
//!
//! What this module must never do: hold a client connection, or wait for one Pushpin
//! instance while serving a request.

pub mod channels;
pub mod connections;
pub mod hold;
pub mod publisher;
pub mod pushpin_sink;
pub mod signature;
pub mod stats;
pub mod websocket_over_http;

use crate::config::ServerConfig;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use axum::Router;
use connections::Connections;
use publisher::{PublishItem, Publisher};
use pushpin_sink::PushpinSink;
use stats::PushpinStats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Largest body Pushpin may forward: a WebSocket-over-HTTP request carries several messages.
const WS_BODY_LIMIT: usize = 1024 * 1024;

/// Pushpin 1.36 sends keep-alives no more often than this, whatever it is told.
pub const MIN_WEBSOCKET_KEEPALIVE_SECS: u32 = 20;

/// What origin mode needs beyond [`ServerConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginConfig {
    /// Every Pushpin instance's publish address, e.g. `http://127.0.0.1:5561`.
    pub pushpin: Vec<String>,
    /// The key Pushpin signs forwarded requests with (`sig_key` in `pushpin.conf`).
    pub grip_key: String,
    /// Seconds between the requests Pushpin sends for an idle WebSocket (`Keep-Alive-Interval`;
    /// Pushpin's minimum is 20). A connection unheard of for 2.5 times this is gone.
    /// From `ws_keepalive_interval_secs` of the server's config.
    pub websocket_keepalive_secs: u32,
    /// Each instance's stats socket (`stats_spec`), in the order of `pushpin`; empty: none
    /// read. From `pushpin_stats` of the server's config.
    pub stats: Vec<String>,
}

impl OriginConfig {
    pub fn new(pushpin: Vec<String>, grip_key: impl Into<String>) -> OriginConfig {
        OriginConfig {
            pushpin,
            grip_key: grip_key.into(),
            websocket_keepalive_secs: 20,
            stats: Vec::new(),
        }
    }

    /// Origin mode as `config` asks for it: None when no Pushpin is configured. Refused
    /// without a GRIP key, since then anyone could bypass Pushpin.
    pub fn from_server(config: &ServerConfig) -> std::io::Result<Option<OriginConfig>> {
        if config.pushpin.is_empty() {
            return Ok(None);
        }
        if config.ws_keepalive_interval_secs < MIN_WEBSOCKET_KEEPALIVE_SECS {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "ws_keepalive_interval_secs is {}, but Pushpin sends keep-alives at most every {MIN_WEBSOCKET_KEEPALIVE_SECS} s: use {MIN_WEBSOCKET_KEEPALIVE_SECS} or more",
                    config.ws_keepalive_interval_secs
                ),
            ));
        }
        if !config.pushpin_stats.is_empty() && config.pushpin_stats.len() != config.pushpin.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "pushpin_stats names {} stats sockets for {} Pushpin instances: give one --pushpin-stats per --pushpin, in the same order (TACK_PUSHPIN_STATS, comma-separated)",
                    config.pushpin_stats.len(),
                    config.pushpin.len()
                ),
            ));
        }
        match &config.grip_key {
            Some(key) if !key.is_empty() => {
                let mut origin = OriginConfig::new(config.pushpin.clone(), key);
                origin.websocket_keepalive_secs = config.ws_keepalive_interval_secs;
                origin.stats = config.pushpin_stats.clone();
                Ok(Some(origin))
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "origin mode (--pushpin) needs the key Pushpin signs requests with: pass --grip-key KEY (or TACK_GRIP_KEY), the same as sig_key in pushpin.conf",
            )),
        }
    }

    /// What Pushpin is told: `Keep-Alive-Interval`.
    pub fn websocket_keepalive(&self) -> u32 {
        self.websocket_keepalive_secs
            .max(MIN_WEBSOCKET_KEEPALIVE_SECS)
    }

    /// A WebSocket unheard of for this long is gone: two keep-alives missed, and half of one
    /// for the request's way through Pushpin.
    fn websocket_ttl(&self) -> Duration {
        Duration::from_millis(u64::from(self.websocket_keepalive()) * 2500)
    }
}

/// Shared by the origin's handlers; cheap to clone.
#[derive(Clone)]
pub struct Origin {
    pub app: AppState,
    pub config: Arc<OriginConfig>,
    publisher: Publisher,
    /// WebSocket connections Pushpin holds, by its `Connection-Id`.
    pub connections: Arc<Connections>,
    /// Times Pushpin followed a held stream's `Grip-Link`: its refreshes, hints and gap
    /// recoveries. Pushpin follows links at most ten a second, so a high rate here is latency.
    pub stream_links_followed: Arc<AtomicU64>,
    /// Requests Pushpin made for a WebSocket with nothing in them: its keep-alives. A watch,
    /// so a test can await the next one.
    pub websocket_keepalives: Arc<tokio::sync::watch::Sender<u64>>,
    /// Each instance's statistics, when their sockets are configured.
    pub stats: Option<PushpinStats>,
    /// Stops the publisher tasks and the statistics.
    stop: CancellationToken,
}

impl FromRef<Origin> for AppState {
    fn from_ref(origin: &Origin) -> AppState {
        origin.app.clone()
    }
}

impl Origin {
    /// The hub `config` asks for (in memory, or on Redis shared with other origins),
    /// publishing every item this origin numbers through `origin.pushpin`. Starts the
    /// publisher tasks, so call it inside a tokio runtime.
    pub fn new(config: ServerConfig, origin: OriginConfig) -> Origin {
        let stop = CancellationToken::new();
        let publisher = Publisher::start(&origin.pushpin, stop.clone());
        let sink = Arc::new(PushpinSink::new(publisher.clone()));
        let hub = crate::state::hub_for(&config, Some(sink));
        let stats = (!origin.stats.is_empty()).then(|| {
            PushpinStats::start(&origin.pushpin, &origin.stats, hub.clone(), stop.clone())
        });
        let app = AppState::with_hub(config, hub);
        Origin {
            stats,
            app,
            config: Arc::new(origin),
            publisher,
            connections: Arc::default(),
            stream_links_followed: Arc::default(),
            websocket_keepalives: Arc::new(tokio::sync::watch::Sender::new(0)),
            stop,
        }
    }

    pub fn grip_key(&self) -> &[u8] {
        self.config.grip_key.as_bytes()
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// How long an HTTP session lives after a request (a held poll counts until it times out).
    pub fn http_ttl(&self) -> Duration {
        self.app.config.session_ttl()
    }

    pub fn websocket_ttl(&self) -> Duration {
        self.config.websocket_ttl()
    }

    /// Tells every Pushpin instance to ask the origin again for HTTP session `session`.
    pub fn hint(&self, session: &str) {
        self.publisher
            .send(&[PublishItem::from(channels::session_hint(session))]);
    }

    /// Tells every Pushpin instance to end the stream it holds for HTTP session `session`.
    pub fn close_session(&self, session: &str) {
        self.publisher
            .send(&[PublishItem::from(channels::session_close(session))]);
    }

    /// Every client of every Pushpin: reconnect (to the next origin).
    pub fn tell_everyone_to_reconnect(&self) {
        self.publisher
            .send(&[PublishItem::from(channels::shutdown_publish())]);
    }

    /// WebSockets Pushpin has not asked about for their time to live leave their rooms.
    pub async fn reap_websockets(&self) {
        for gone in self.connections.take_expired() {
            tracing::debug!(session = %gone.session.id, "websocket expired: nothing heard through pushpin");
            self.app.end_session(&gone.session).await;
        }
    }

    /// At shutdown: every WebSocket leaves its rooms, and the last publishes reach Pushpin
    /// (waiting at most `grace`, and 5 s) before the publisher stops.
    pub async fn stop(&self, grace: Duration) {
        for gone in self.connections.take_all() {
            self.app.end_session(&gone.session).await;
        }
        self.publisher
            .flushed(grace.clamp(Duration::from_secs(1), Duration::from_secs(5)))
            .await;
        self.stop.cancel();
    }

    /// The origin's own lines of `/metrics`.
    pub fn render_metrics(&self, text: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            text,
            "tack_origin_websockets {}\ntack_origin_stream_links_followed_total {}\ntack_origin_websocket_keepalives_total {}",
            self.connections.len(),
            self.stream_links_followed.load(Ordering::Relaxed),
            *self.websocket_keepalives.borrow()
        );
        for (url, s) in self.config.pushpin.iter().zip(self.publisher.stats()) {
            let _ = writeln!(
                text,
                "tack_pushpin_published_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_publish_failures_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_dropped_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_rejected_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_queued{{pushpin=\"{url}\"}} {}\ntack_pushpin_queued_bytes{{pushpin=\"{url}\"}} {}",
                s.published, s.failures, s.dropped, s.rejected, s.queued, s.queued_bytes
            );
        }
        if let Some(stats) = &self.stats {
            stats.render_metrics(text);
        }
    }
}

/// Every client route of origin mode. The paths are the built-in server's, so clients cannot
/// tell. Publishing and metrics are on the control listener, never reachable through Pushpin.
pub fn app(origin: Origin) -> Router {
    let send_limit = origin.app.config.max_message_bytes.saturating_mul(4);
    Router::new()
        .route(
            "/ws",
            post(websocket_over_http::websocket_events).layer((
                DefaultBodyLimit::max(WS_BODY_LIMIT),
                origin.app.config.body_timeout(),
            )),
        )
        .route("/stream", get(hold::stream))
        .route("/poll", get(hold::poll))
        .route(
            "/send",
            post(hold::send).layer((
                DefaultBodyLimit::max(send_limit),
                origin.app.config.body_timeout(),
            )),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_mode_is_on_with_pushpin_addresses_and_refused_without_a_key() {
        let mut config = ServerConfig::default();
        assert_eq!(OriginConfig::from_server(&config).unwrap(), None);
        config
            .apply_env(|name| {
                (name == "TACK_PUSHPIN")
                    .then(|| "http://127.0.0.1:5561, http://127.0.0.1:6561".into())
            })
            .unwrap();
        let err = OriginConfig::from_server(&config).unwrap_err();
        assert!(err.to_string().contains("--grip-key"), "{err}");
        config.grip_key = Some("k".into());
        let origin = OriginConfig::from_server(&config).unwrap().unwrap();
        assert_eq!(
            origin.pushpin,
            ["http://127.0.0.1:5561", "http://127.0.0.1:6561"]
        );
        assert_eq!(origin.grip_key, "k");
        assert_eq!(
            origin.websocket_keepalive(),
            20,
            "Pushpin's own minimum by default"
        );
        assert_eq!(origin.websocket_ttl(), Duration::from_secs(50));
    }

    #[test]
    fn stats_sockets_come_one_per_pushpin_and_opening_them_to_all_needs_an_unsigned_server() {
        let mut config = ServerConfig::default();
        config
            .apply_env(|name| match name {
                "TACK_PUSHPIN" => Some("http://127.0.0.1:5561,http://127.0.0.1:6561".into()),
                "TACK_PUSHPIN_STATS" => Some("ipc:///run/a-stats".into()),
                "TACK_PUSHPIN_STATS_OPEN" => Some("true".into()),
                "TACK_GRIP_KEY" => Some("k".into()),
                _ => None,
            })
            .unwrap();
        assert!(config.pushpin_stats_open);
        let err = OriginConfig::from_server(&config).unwrap_err();
        assert!(
            err.to_string()
                .contains("one --pushpin-stats per --pushpin"),
            "{err}"
        );
        config.pushpin_stats.push("tcp://127.0.0.1:6564".into());
        let origin = OriginConfig::from_server(&config).unwrap().unwrap();
        assert_eq!(origin.stats, ["ipc:///run/a-stats", "tcp://127.0.0.1:6564"]);

        config.check().unwrap();
        config.auth_key = Some("secret".into());
        let err = config.check().unwrap_err();
        assert!(err.to_string().contains("tack.watch"), "{err}");
    }

    #[test]
    fn the_websocket_keepalive_is_configured_and_the_gone_after_follows_it() {
        let mut config = ServerConfig {
            pushpin: vec!["http://127.0.0.1:5561".into()],
            grip_key: Some("k".into()),
            ..ServerConfig::default()
        };
        config
            .apply_env(|name| (name == "TACK_WS_KEEPALIVE_INTERVAL_SECS").then(|| "60".into()))
            .unwrap();
        let origin = OriginConfig::from_server(&config).unwrap().unwrap();
        assert_eq!(origin.websocket_keepalive(), 60);
        assert_eq!(origin.websocket_ttl(), Duration::from_secs(150));

        config.ws_keepalive_interval_secs = 5;
        let err = OriginConfig::from_server(&config).unwrap_err();
        assert!(err.to_string().contains("at most every 20 s"), "{err}");
    }
}
