//! What every request handler shares: config, hub, HTTP sessions, metrics, the shutdown signal
//! and the global connection cap.

use crate::config::ServerConfig;
use crate::http_session::HttpSessions;
use crate::hub::Hub;
use crate::memory_hub::{HistoryLimits, MemoryHub};
use crate::metrics::Metrics;
use crate::outbox::{Outbound, Outbox};
use crate::session::frame_error;
use crate::session::{Session, SessionLimits};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tack_protocol::chat::{ClientFrame, Hello, ServerEvent, Welcome};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

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
    /// One permit per open connection (WebSocket, SSE stream, held poll).
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
        let hub = MemoryHub::new(HistoryLimits {
            len: config.history_len,
            age: config.history_age(),
        });
        AppState::with_hub(config, Arc::new(hub))
    }

    /// State with another hub implementation (Redis, or one shared with the Pushpin origin).
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

    /// A slot under the global connection cap, or None when the server is full.
    pub fn connection_permit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.connections.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.metrics.refused();
        }
        permit
    }

    /// A new session with its own queue.
    pub fn new_session(&self, nick: Option<String>) -> (Arc<Session>, mpsc::Receiver<Outbound>) {
        let (outbox, rx) =
            Outbox::within(self.config.queue_len, self.metrics.clone(), &self.shutdown);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let limits = SessionLimits {
            max_rooms: self.config.max_rooms_per_connection,
            messages_per_second: self.config.messages_per_second,
            message_burst: self.config.message_burst,
        };
        let session = Session::new(crate::session::new_session_id(), key, nick, outbox, limits);
        (Arc::new(session), rx)
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

    /// Parses and applies one client frame; the immediate reply, if any. A `hello` that names
    /// an earlier HTTP session of this client (`takeover`) first takes that session over.
    pub async fn handle_text(&self, session: &Session, text: &str) -> Option<ServerEvent> {
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(err) => return Some(frame_error(&err)),
        };
        if let ClientFrame::Hello(Hello {
            takeover: Some(old),
            ..
        }) = &frame
        {
            self.take_over(session, old);
        }
        session.apply(self.hub.as_ref(), frame).await
    }

    /// `session` becomes the HTTP session `old_id` in every room and channel, with no leave
    /// and no enter: a client that switched transport (an upgrade to WebSocket, a reconnect)
    /// is one viewer all along, and its old session does not linger until it expires. The
    /// client then re-enters its rooms with `since`, which replays what the old session had
    /// not delivered. False (and nothing changes) when there is no such session or `session`
    /// has already joined something.
    pub fn take_over(&self, session: &Session, old_id: &str) -> bool {
        if old_id == session.id || !session.rooms().is_empty() || !session.watching().is_empty() {
            return false;
        }
        let Some(old) = self.sessions.remove(old_id) else {
            return false;
        };
        let adopted = session.adopt(&old.session);
        // A stream or poll still holding the old session's queue ends now.
        old.release();
        tracing::debug!(old = %old_id, new = %session.id, adopted, "session taken over");
        adopted
    }

    /// Checks `Authorization: Bearer` against the access token, when one is configured.
    pub fn client_authorized(&self, headers: &http::HeaderMap) -> bool {
        match &self.config.access_token {
            None => true,
            Some(token) => bearer(headers) == Some(token.as_str()),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl AppState {
    /// Resolves when every connection has ended (all permits are back).
    pub async fn wait_for_connections(&self) {
        let all = u32::try_from(self.config.max_connections).unwrap_or(u32::MAX);
        let _ = self.connections.acquire_many(all).await;
    }
}
