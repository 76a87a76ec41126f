//! Origin mode: Tack's chat logic behind the real Pushpin, as a GRIP origin.
//!
//! Pushpin holds every client connection; this module only answers the HTTP requests Pushpin
//! forwards and publishes what happens in rooms. Clients see the same wire contract as on the
//! built-in server, on all three transports:
//! - [`websocket_over_http`] — `POST /ws`, WebSocket-over-HTTP: frames in, replies inline,
//!   `c:subscribe` per room.
//! - [`hold`] — `GET /stream` (`Grip-Hold: stream`, reliable through `Grip-Link` and
//!   `prev-id`), `GET /poll` (`Grip-Hold: response`) and `POST /send`.
//! - [`origin_hub`] — the hub, delivering through Pushpin: every item is published once.
//! - [`publisher`] — one queue and task per Pushpin instance, with backoff.
//! - [`channels`] — Pushpin channel names and the publish formats of an item.
//! - [`sessions`] — sessions kept across requests, expiring unless refreshed.
//! - [`signature`] — `Grip-Sig`: nothing bypasses Pushpin.
//!
//! What this module must never do: hold a client connection, or wait for one Pushpin
//! instance while serving a request.

pub mod channels;
pub mod hold;
pub mod origin_hub;
pub mod publisher;
pub mod sessions;
pub mod signature;
pub mod websocket_over_http;

use crate::config::ServerConfig;
use crate::memory_hub::{HistoryLimits, MemoryHub};
use crate::metrics::Metrics;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use origin_hub::OriginHub;
use publisher::Publisher;
use sessions::GripSessions;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Largest body Pushpin may forward: a WebSocket-over-HTTP request carries several messages.
const WS_BODY_LIMIT: usize = 1024 * 1024;
/// Largest `POST /publish/` body (a backend publishing through the origin).
const PUBLISH_BODY_LIMIT: usize = 1024 * 1024;

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
}

impl OriginConfig {
    pub fn new(pushpin: Vec<String>, grip_key: impl Into<String>) -> OriginConfig {
        OriginConfig {
            pushpin,
            grip_key: grip_key.into(),
            websocket_keepalive_secs: 20,
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
        match &config.grip_key {
            Some(key) if !key.is_empty() => {
                let mut origin = OriginConfig::new(config.pushpin.clone(), key);
                origin.websocket_keepalive_secs = config.ws_keepalive_interval_secs;
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
    pub hub: Arc<OriginHub>,
    pub sessions: Arc<GripSessions>,
    /// Times Pushpin followed a held stream's `Grip-Link`: its refreshes, hints and gap
    /// recoveries. Pushpin follows links at most ten a second, so a high rate here is latency.
    pub stream_links_followed: Arc<AtomicU64>,
    /// Requests Pushpin made for a WebSocket with nothing in them: its keep-alives. A watch,
    /// so a test can await the next one.
    pub websocket_keepalives: Arc<tokio::sync::watch::Sender<u64>>,
    /// Stops the publisher tasks.
    stop: CancellationToken,
}

impl FromRef<Origin> for AppState {
    fn from_ref(origin: &Origin) -> AppState {
        origin.app.clone()
    }
}

impl Origin {
    /// The in-memory hub, wrapped to publish through `origin.pushpin`. Starts the publisher
    /// tasks, so call it inside a tokio runtime.
    pub fn new(config: ServerConfig, origin: OriginConfig) -> Origin {
        let stop = CancellationToken::new();
        let publisher = Publisher::start(&origin.pushpin, stop.clone());
        let metrics = Arc::new(Metrics::default());
        let inner = MemoryHub::new(HistoryLimits {
            len: config.history_len,
            age: config.history_age(),
        });
        let hub = Arc::new(OriginHub::new(Arc::new(inner), publisher, metrics));
        let app = AppState::with_hub(config, hub.clone());
        Origin {
            app,
            config: Arc::new(origin),
            hub,
            sessions: Arc::new(GripSessions::default()),
            stream_links_followed: Arc::default(),
            websocket_keepalives: Arc::new(tokio::sync::watch::Sender::new(0)),
            stop,
        }
    }

    pub fn grip_key(&self) -> &[u8] {
        self.config.grip_key.as_bytes()
    }

    /// How long an HTTP session lives after a request (a held poll counts until it times out).
    pub fn http_ttl(&self) -> Duration {
        self.app.config.session_ttl()
    }

    pub fn websocket_ttl(&self) -> Duration {
        self.config.websocket_ttl()
    }
}

/// Every route of origin mode. The paths are the built-in server's, so clients cannot tell.
pub fn app(origin: Origin) -> Router {
    let send_limit = origin.app.config.max_message_bytes.saturating_mul(4);
    Router::new()
        .route(
            "/ws",
            post(websocket_over_http::websocket_events).layer(DefaultBodyLimit::max(WS_BODY_LIMIT)),
        )
        .route("/stream", get(hold::stream))
        .route("/poll", get(hold::poll))
        .route(
            "/send",
            post(hold::send).layer(DefaultBodyLimit::max(send_limit)),
        )
        .route(
            "/publish/",
            post(crate::publish::publish).layer(DefaultBodyLimit::max(PUBLISH_BODY_LIMIT)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(origin)
}

async fn metrics(State(origin): State<Origin>) -> impl IntoResponse {
    let stats = origin.app.hub.stats();
    let (websockets, http) = origin.sessions.counts();
    let mut text = origin
        .app
        .metrics
        .render(stats.rooms, stats.channels, websockets + http);
    text.push_str(&format!(
        "tack_origin_stream_links_followed_total {}\n",
        origin.stream_links_followed.load(Ordering::Relaxed)
    ));
    text.push_str(&format!(
        "tack_origin_websocket_keepalives_total {}\n",
        *origin.websocket_keepalives.borrow()
    ));
    for (url, s) in origin
        .config
        .pushpin
        .iter()
        .zip(origin.hub.publisher().stats())
    {
        text.push_str(&format!(
            "tack_pushpin_published_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_publish_failures_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_dropped_total{{pushpin=\"{url}\"}} {}\ntack_pushpin_queued{{pushpin=\"{url}\"}} {}\n",
            s.published, s.failures, s.dropped, s.queued
        ));
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// Serves origin mode until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    origin: OriginConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, Origin::new(config, origin), shutdown).await
}

/// Like [`run`], with the state made by the caller.
pub async fn serve(
    listener: TcpListener,
    origin: Origin,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, pushpin = ?origin.config.pushpin, "tack origin listening (clients connect through pushpin)");
    let reaper = tokio::spawn(reap(origin.clone()));
    let result = axum::serve(listener, app(origin.clone()))
        .with_graceful_shutdown(shutdown)
        .into_future()
        .await;
    reaper.abort();
    // Every client is told to reconnect (to the next origin), then leaves its rooms.
    origin
        .hub
        .publisher()
        .send(&[publisher::PublishItem::from(channels::shutdown_publish())]);
    for gone in origin.sessions.take_all() {
        gone.session.leave_everything(origin.app.hub.as_ref()).await;
    }
    let grace = Duration::from_secs(origin.app.config.shutdown_grace_secs.clamp(1, 5));
    origin.hub.publisher().flushed(grace).await;
    origin.stop.cancel();
    tracing::info!("tack origin stopped");
    result
}

/// Sessions nobody has heard from leave their rooms; old history is dropped.
async fn reap(origin: Origin) {
    let period = (origin.http_ttl() / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        let (websockets, http) = origin.sessions.take_expired();
        for gone in &http {
            origin.hub.close_session(&gone.session.id);
        }
        for gone in websockets.iter().chain(&http) {
            tracing::debug!(session = %gone.session.id, "session expired: nothing heard through pushpin");
            gone.session.leave_everything(origin.app.hub.as_ref()).await;
        }
        origin.app.hub.sweep().await;
    }
}

/// An origin running in the background (tests, the desktop app).
pub struct OriginHandle {
    addr: SocketAddr,
    origin: Origin,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Binds `config.listen` (port 0 picks one) and serves origin mode in a background task.
pub async fn spawn(config: ServerConfig, origin: OriginConfig) -> std::io::Result<OriginHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    spawn_on(listener, Origin::new(config, origin)).await
}

/// Serves `origin` on an already bound listener (so the address can be known before the
/// Pushpin that points at it starts).
pub async fn spawn_on(listener: TcpListener, origin: Origin) -> std::io::Result<OriginHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, origin.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(OriginHandle {
        addr,
        origin,
        stop: Some(stop),
        task,
    })
}

impl OriginHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, as a Pushpin routes line wants it.
    pub fn route_target(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Err(err)) => tracing::warn!(%err, "origin ended with an error"),
            Err(err) => tracing::warn!(%err, "origin task failed"),
            Ok(Ok(())) => {}
        }
    }
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
