//! What every request handler shares, on either front door: config, hub, HTTP sessions,
//! metrics, the shutdown signal and the global connection cap.

use crate::access;
use crate::config::ServerConfig;
use crate::feed::Retention;
use crate::hub::{Hub, ItemSink};
use crate::identity::{Identity, IdentityError, Verifier};
use crate::memory_hub::MemoryHub;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
#[cfg(feature = "redis")]
use crate::redis_hub::{store::RedisTarget, RedisHub};
use crate::session::{Reach, Session, SessionLimits};
use crate::sessions::HttpSessions;
use globset::GlobMatcher;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use tack_protocol::chat::{ClientFrame, ErrorEvent, Hello, ServerEvent, Welcome};
use tack_protocol::ErrorCode;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Own events queued for one session before it counts as not reading and is disconnected.
/// Replies to its own frames only (room traffic is read from the feeds), which its rate limits
/// bound.
const OUTBOX_LEN: usize = 1024;

/// What carries a session: decides how far it reads its channels itself, and whether it may be
/// an original-system page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A WebSocket this server holds.
    WebSocket,
    /// A WebSocket Pushpin holds: Pushpin delivers room traffic.
    PushpinWebSocket,
    /// `/stream`, `/poll` and `/send`, on either door.
    Http,
}

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
    /// Sessions on a WebSocket, by id, so a newer session of the same client can take one
    /// over (HTTP sessions are in `sessions`).
    websockets: parking_lot::Mutex<HashMap<String, Weak<Session>>>,
    /// Signed identity, when a key is configured.
    pub verifier: Option<Verifier>,
    /// Channels clients may watch but not write to.
    read_only: Vec<GlobMatcher>,
}

/// Who is asking, as the request's credentials say (see [`AppState::admit`]).
pub enum Admitted {
    /// No signed identity asked for, or an anonymous client where those are allowed.
    Anonymous,
    /// A client with a verified token.
    Signed(Arc<Identity>),
    /// A WebSocket that has not signed in yet: it may still, with `hello{token}`.
    NotYet,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State with the hub `config` asks for: in memory, or on Redis with `redis` set (whose
    /// URLs [`check_redis`] has accepted).
    pub fn new(config: ServerConfig) -> AppState {
        let hub = hub_for(&config, None);
        AppState::with_hub(config, hub)
    }

    /// State with another hub (one that publishes to Pushpin, or shared by tests). The config
    /// must have passed [`ServerConfig::check`].
    pub fn with_hub(config: ServerConfig, hub: Arc<dyn Hub>) -> AppState {
        let verifier = Verifier::from_config(&config).expect("the identity settings were checked");
        let read_only = access::globs("read_only", &config.read_only).expect("checked");
        AppState(Arc::new(Shared {
            verifier,
            read_only,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config,
            hub,
            sessions: HttpSessions::default(),
            metrics: Arc::new(Metrics::on_this_runtime()),
            shutdown: CancellationToken::new(),
            // A random start, not 1: behind Pushpin a session's key is the mark its own
            // `chatRoomEnter` carries so Pushpin skips it for that connection, and several
            // origins publish to one Pushpin; counting from 1 in each made one origin's session
            // the "self" of another's and hid events from it. Never 0 ("no sender"). Kept
            // below 2^62: signed users' nicks are held under keys at 2^63 and above.
            next_key: AtomicU64::new((rand::random::<u64>() >> 2) + 1),
            websockets: parking_lot::Mutex::new(HashMap::new()),
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

    /// A new session with a guest nick of its own.
    pub async fn start_session(&self, kind: SessionKind) -> Arc<Session> {
        let (reach, greeted) = match kind {
            SessionKind::WebSocket => (Reach::Live, false),
            SessionKind::PushpinWebSocket => (Reach::UntilJoined, false),
            // Only Tack clients use the HTTP transports: comments go out as typed.
            SessionKind::Http => (Reach::Live, true),
        };
        let session = self.new_session(reach, greeted);
        // Guest nicks are drawn from 10,000: a few draws find a free one even on a busy server.
        for _ in 0..8 {
            let nick = crate::session::guest_nick();
            if let Ok(true) = self.hub.claim_nick(&nick, session.key()).await {
                session.set_nick(&nick);
                break;
            }
        }
        if kind != SessionKind::Http {
            // A WebSocket (here or behind Pushpin) may be taken over by its client's next one.
            self.websockets
                .lock()
                .insert(session.id.clone(), Arc::downgrade(&session));
        }
        session
    }

    /// The client is gone: the session leaves its rooms and gives up its nick.
    pub async fn end_session(&self, session: &Session) {
        self.websockets.lock().remove(&session.id);
        session.end(self.hub.as_ref()).await;
    }

    fn new_session(&self, reach: Reach, greeted: bool) -> Arc<Session> {
        let outbox = Outbox::within(OUTBOX_LEN, self.metrics.clone(), &self.shutdown);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let limits = SessionLimits {
            max_rooms: self.config.max_rooms_per_connection,
            messages_per_second: self.config.messages_per_second,
            message_burst: self.config.message_burst,
            room_changes_per_second: self.config.room_changes_per_second,
            room_change_burst: self.config.room_change_burst,
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

    /// `session` becomes the session `old_id` — an HTTP session, or a WebSocket the server
    /// still thinks is open — in every room and channel and under its nick, with no leave and
    /// no enter: a client that switched transport (an upgrade to WebSocket) or reconnected
    /// before the server noticed its old connection was gone is one viewer all along, keeps
    /// its nick, and its old session does not linger. The client then re-enters its rooms with
    /// `since`, which replays what the old session had not delivered. False (and nothing
    /// changes) when there is no such session or `session` has already joined something.
    /// Knowing a session's id (which only its client was told) is what proves it is the same
    /// client.
    pub async fn take_over(&self, session: &Session, old_id: &str) -> bool {
        if old_id == session.id || session.following() > 0 {
            return false;
        }
        let websocket = self.websockets.lock().get(old_id).and_then(Weak::upgrade);
        let old = match websocket {
            Some(old) => old,
            None => match self.sessions.remove(old_id) {
                Some(http) => {
                    // A stream or poll still reading the old session ends now.
                    http.release();
                    http.session.clone()
                }
                None => return false,
            },
        };
        let (own_nick, own_key) = (session.nick(), session.key());
        if !session.adopt(&old) {
            return false;
        }
        self.websockets.lock().remove(old_id);
        self.hub.release_nick(&own_nick, own_key).await;
        // An old WebSocket still open closes now, with the reason.
        old.outbox
            .kick("replaced by a newer connection of the same client".to_owned());
        tracing::debug!(old = %old_id, new = %session.id, "session taken over");
        true
    }

    /// Checks a client request's credentials: the access token, or a signed identity
    /// (`Authorization: Bearer`, or `token` from the query for EventSource). `websocket`: the
    /// token may still come in `hello`, so a missing one is not refused yet.
    pub fn admit(
        &self,
        headers: &http::HeaderMap,
        query_token: Option<&str>,
        websocket: bool,
    ) -> Result<Admitted, ErrorEvent> {
        let bearer = access::bearer(headers);
        if let Some(token) = &self.config.access_token {
            // `?token=` too: a browser's EventSource cannot set headers.
            if !access::tokens_match(bearer.or(query_token), token) {
                return Err(refusal(
                    ErrorCode::Unauthorized,
                    "this server needs its access token: Authorization: Bearer <token>, or ?token=",
                ));
            }
            return Ok(Admitted::Anonymous);
        }
        let Some(verifier) = &self.verifier else {
            return Ok(Admitted::Anonymous);
        };
        match bearer.or(query_token) {
            Some(token) => verifier
                .verify(token)
                .map(|identity| Admitted::Signed(Arc::new(identity)))
                .map_err(identity_refusal),
            None if self.config.allow_anonymous => Ok(Admitted::Anonymous),
            None if websocket => Ok(Admitted::NotYet),
            None => Err(refusal(
                ErrorCode::Unauthorized,
                "this server needs a signed token: Authorization: Bearer <token>, or ?token= (allow_anonymous lets clients in without one)",
            )),
        }
    }

    /// Makes `session` the signed user's, under the token's nick.
    pub async fn sign_in(&self, session: &Session, identity: Arc<Identity>) {
        let nick = identity.nick.clone();
        session.set_identity(identity);
        let hello = ClientFrame::Hello(Hello {
            nick,
            client: None,
            takeover: None,
            token: None,
        });
        if let Some(refused) = crate::client_frame::apply(self, session, hello).await {
            session.outbox.send_event(&refused);
        }
    }

    /// Whether `channel` is a feed clients may only watch.
    pub fn is_read_only(&self, channel: &str) -> bool {
        self.read_only.iter().any(|g| g.is_match(channel))
    }

    /// Resolves when every connection has ended (all permits are back).
    pub async fn wait_for_connections(&self) {
        let all = u32::try_from(self.config.max_connections).unwrap_or(u32::MAX);
        let _ = self.connections.acquire_many(all).await;
    }
}

/// The hub `config` asks for, handing every numbered item to `sink`: the Redis hub when
/// `config.redis` names a Redis (call [`check_redis`] first: a bad URL panics here), otherwise
/// the in-memory one. Call inside a tokio runtime.
pub fn hub_for(config: &ServerConfig, sink: Option<Arc<dyn ItemSink>>) -> Arc<dyn Hub> {
    #[cfg(feature = "redis")]
    if !config.redis.is_empty() {
        return Arc::new(
            // A bad URL is refused before this (`check_redis`); what is left is the OS refusing
            // a thread, which no server could work around.
            RedisHub::new(config, sink).expect("the Redis hub starts"),
        );
    }
    match sink {
        Some(sink) => Arc::new(MemoryHub::with_sink(config.retention(), sink)),
        None => Arc::new(MemoryHub::new(config.retention())),
    }
}

/// Refuses Redis URLs that cannot work, naming the bad one.
pub fn check_redis(config: &ServerConfig) -> std::io::Result<()> {
    if config.redis.is_empty() {
        return Ok(());
    }
    #[cfg(feature = "redis")]
    return RedisTarget::parse(&config.redis)
        .map(|_| ())
        .map_err(|why| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--redis: {why}"))
        });
    #[cfg(not(feature = "redis"))]
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "--redis: this build has no Redis hub (built without tack-server's `redis` feature); \
         `tack serve` has it",
    ))
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

/// The refusal for a token that is not accepted.
pub fn identity_refusal(err: IdentityError) -> ErrorEvent {
    let code = match err {
        IdentityError::Expired => ErrorCode::TokenExpired,
        IdentityError::Invalid(_) => ErrorCode::Unauthorized,
    };
    refusal(code, &err.to_string())
}

fn refusal(code: ErrorCode, message: &str) -> ErrorEvent {
    ErrorEvent {
        code,
        message: message.to_owned(),
        cid: None,
        event: None,
        suggestion: None,
    }
}
