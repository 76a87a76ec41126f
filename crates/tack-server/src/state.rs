//! What every request handler shares, on either front door: config, hub, HTTP sessions,
//! metrics, the shutdown signal and the global connection cap.

use crate::config::ServerConfig;
use crate::feed::Retention;
use crate::hub::Hub;
use crate::memory_hub::MemoryHub;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::session::{Reach, Session, SessionLimits};
use crate::sessions::HttpSessions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tack_protocol::chat::{ServerEvent, Welcome};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Own events queued for one session before it counts as not reading and is disconnected.
/// Replies to its own frames only (room traffic is read from the feeds), which its rate limits
/// bound.
const OUTBOX_LEN: usize = 1024;

/// The server's shared state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: ServerConfig,
    pub hub: Arc<dyn Hub>,
    pub sessions: HttpSessions,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server begins to shut down: sockets close with 1001, holds answer.
    pub shutdown: CancellationToken,
    /// One permit per open client connection, held by its socket (see [`crate::listener`]).
    connections: Arc<Semaphore>,
    next_key: AtomicU64,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State with the in-memory hub.
    pub fn new(config: ServerConfig) -> AppState {
        let hub = MemoryHub::new(config.retention());
        AppState::with_hub(config, Arc::new(hub))
    }

    /// State with another hub (one that publishes to Pushpin, or shared by tests).
    pub fn with_hub(config: ServerConfig, hub: Arc<dyn Hub>) -> AppState {
        AppState(Arc::new(Shared {
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config,
            hub,
            sessions: HttpSessions::default(),
            metrics: Arc::new(Metrics::default()),
            shutdown: CancellationToken::new(),
            next_key: AtomicU64::new(1),
        }))
    }

    /// Starts shutting down: every connection is told to reconnect and every hold answered.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// The client connection cap's permits.
    pub fn permits(&self) -> Arc<Semaphore> {
        self.connections.clone()
    }

    /// A new session. `greeted`: the transport is one only Tack clients use, so the client is
    /// not an original-system page even before it says `hello`.
    pub fn new_session(&self, reach: Reach, greeted: bool) -> Arc<Session> {
        let outbox = Outbox::within(OUTBOX_LEN, self.metrics.clone(), &self.shutdown);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let limits = SessionLimits {
            max_rooms: self.config.max_rooms_per_connection,
            messages_per_second: self.config.messages_per_second,
            message_burst: self.config.message_burst,
            max_lag: self.config.max_subscriber_lag,
        };
        Arc::new(Session::new(key, outbox, limits, reach, greeted))
    }

    /// The first event on every transport.
    pub fn welcome(&self, session: &Session) -> ServerEvent {
        ServerEvent::Welcome(Welcome {
            session: session.id.clone(),
            nick: session.nick().to_string(),
            heartbeat: self.config.heartbeat_secs,
            server: concat!("tack/", env!("CARGO_PKG_VERSION")).to_owned(),
            epoch: Some(self.hub.epoch().to_owned()),
        })
    }

    /// `session` becomes the HTTP session `old_id` in every room and channel, with no leave
    /// and no enter: a client that switched transport (an upgrade to WebSocket, a reconnect)
    /// is one viewer all along, and its old session does not linger until it expires. The
    /// client then re-enters its rooms with `since`, which replays what the old session had
    /// not delivered. False (and nothing changes) when there is no such session or `session`
    /// has already joined something.
    pub fn take_over(&self, session: &Session, old_id: &str) -> bool {
        if old_id == session.id || session.following() > 0 {
            return false;
        }
        let Some(old) = self.sessions.remove(old_id) else {
            return false;
        };
        let adopted = session.adopt(&old.session);
        // A stream or poll still reading the old session ends now.
        old.release();
        tracing::debug!(old = %old_id, new = %session.id, adopted, "session taken over");
        adopted
    }

    /// Checks `Authorization: Bearer` against the access token, when one is configured.
    pub fn client_authorized(&self, headers: &http::HeaderMap) -> bool {
        match &self.config.access_token {
            None => true,
            Some(token) => crate::access::tokens_match(crate::access::bearer(headers), token),
        }
    }

    /// Resolves when every connection has ended (all permits are back).
    pub async fn wait_for_connections(&self) {
        let all = u32::try_from(self.config.max_connections).unwrap_or(u32::MAX);
        let _ = self.connections.acquire_many(all).await;
    }
}

impl ServerConfig {
    /// How long each channel's feed keeps its items.
    pub fn retention(&self) -> Retention {
        Retention {
            len: self.history_len,
            live: std::time::Duration::from_millis(self.live_window_ms),
            age: self.history_age(),
            max_bytes: self.channel_max_bytes,
        }
    }
}
