//! Sessions of clients that Pushpin holds: a WebSocket connection (by Pushpin's
//! `Connection-Id`) or an HTTP session (by the `session` id in `welcome`).
//!
//! Pushpin holds the sockets; the origin only sees requests, so every session here outlives
//! the request that made it and is kept alive by later ones. Pushpin 1.36 does not always tell
//! the origin that a client went away (never for HTTP clients, and not at all when Pushpin
//! itself restarts), so each session has a deadline, pushed back by each request; the reaper
//! makes expired sessions leave their rooms, so viewer counts come right again.

use crate::http::expand;
use crate::item::Transport;
use crate::outbox::Outbound;
use crate::session::Session;
use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tack_protocol::chat::Positions;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub struct GripSession {
    pub session: Arc<Session>,
    /// Only this session's own answers: enter/watch replies and its own `chatRoomEnter`
    /// (see `OriginHub`); room traffic reaches the client through Pushpin.
    queue: Mutex<mpsc::Receiver<Outbound>>,
    deadline: Mutex<Instant>,
    /// The Pushpin channels a WebSocket connection is subscribed to.
    pub subscribed: Mutex<BTreeSet<String>>,
}

impl GripSession {
    pub fn new(session: Arc<Session>, queue: mpsc::Receiver<Outbound>, ttl: Duration) -> Arc<Self> {
        Arc::new(GripSession {
            session,
            queue: Mutex::new(queue),
            deadline: Mutex::new(Instant::now() + ttl),
            subscribed: Mutex::new(BTreeSet::new()),
        })
    }

    /// The client was heard from: it lives at least `ttl` more.
    pub fn touch(&self, ttl: Duration) {
        let mut deadline = self.deadline.lock();
        *deadline = (*deadline).max(Instant::now() + ttl);
    }

    fn expired(&self, now: Instant) -> bool {
        now >= *self.deadline.lock()
    }

    /// Takes everything queued for this session, as the events `transport` sends, with the
    /// session's positions after each numbered one.
    pub fn drain(
        &self,
        transport: Transport,
        emit: &mut dyn FnMut(&Utf8Bytes, Option<&Positions>),
    ) -> usize {
        let mut queue = self.queue.lock();
        let none = Positions::default();
        let mut n = 0;
        while let Ok(out) = queue.try_recv() {
            n += expand(out, transport, &self.session, &none, emit);
        }
        n
    }

    /// Whether anything is queued for this session.
    pub fn has_pending(&self) -> bool {
        !self.queue.lock().is_empty()
    }
}

/// Every session the origin knows, WebSocket and HTTP.
#[derive(Default)]
pub struct GripSessions {
    websockets: Mutex<HashMap<String, Arc<GripSession>>>,
    http: Mutex<HashMap<String, Arc<GripSession>>>,
}

impl GripSessions {
    pub fn websocket(&self, connection: &str) -> Option<Arc<GripSession>> {
        self.websockets.lock().get(connection).cloned()
    }

    pub fn add_websocket(&self, connection: &str, session: Arc<GripSession>) {
        self.websockets
            .lock()
            .insert(connection.to_owned(), session);
    }

    pub fn remove_websocket(&self, connection: &str) -> Option<Arc<GripSession>> {
        self.websockets.lock().remove(connection)
    }

    pub fn http(&self, id: &str) -> Option<Arc<GripSession>> {
        self.http.lock().get(id).cloned()
    }

    pub fn add_http(&self, session: Arc<GripSession>) {
        self.http.lock().insert(session.session.id.clone(), session);
    }

    /// (WebSocket connections, HTTP sessions).
    pub fn counts(&self) -> (usize, usize) {
        (self.websockets.lock().len(), self.http.lock().len())
    }

    /// Removes and returns every session whose deadline has passed: (WebSocket, HTTP).
    pub fn take_expired(&self) -> (Vec<Arc<GripSession>>, Vec<Arc<GripSession>>) {
        let now = Instant::now();
        let take = |map: &Mutex<HashMap<String, Arc<GripSession>>>| {
            let mut gone = Vec::new();
            map.lock().retain(|_, s| {
                let expired = s.expired(now);
                if expired {
                    gone.push(s.clone());
                }
                !expired
            });
            gone
        };
        (take(&self.websockets), take(&self.http))
    }

    /// Removes every session (at shutdown).
    pub fn take_all(&self) -> Vec<Arc<GripSession>> {
        let mut all: Vec<_> = self.websockets.lock().drain().map(|(_, s)| s).collect();
        all.extend(self.http.lock().drain().map(|(_, s)| s));
        all
    }
}
