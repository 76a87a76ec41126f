//! The WebSocket connections Pushpin holds, by its `Connection-Id`.
//!
//! Pushpin holds the sockets; the origin only sees requests, so every connection here outlives
//! the request that made it and is kept alive by later ones. Pushpin 1.36 does not always tell
//! the origin that a client went away (not at all when Pushpin itself restarts), so each
//! connection has a deadline, pushed back by each request — Pushpin's keep-alives included —
//! and the reaper makes expired ones leave their rooms, so viewer counts come right again.

use crate::session::Session;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub struct Connection {
    pub session: Arc<Session>,
    deadline: Mutex<Instant>,
    /// The Pushpin channels the connection is subscribed to.
    pub subscribed: Mutex<BTreeSet<String>>,
}

impl Connection {
    pub fn new(session: Arc<Session>, ttl: Duration) -> Arc<Connection> {
        Arc::new(Connection {
            session,
            deadline: Mutex::new(Instant::now() + ttl),
            subscribed: Mutex::new(BTreeSet::new()),
        })
    }

    /// Pushpin asked about the connection: it lives at least `ttl` more.
    pub fn touch(&self, ttl: Duration) {
        let mut deadline = self.deadline.lock();
        *deadline = (*deadline).max(Instant::now() + ttl);
    }
}

#[derive(Default)]
pub struct Connections {
    map: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.map.lock().get(id).cloned()
    }

    pub fn insert(&self, id: &str, connection: Arc<Connection>) {
        self.map.lock().insert(id.to_owned(), connection);
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Connection>> {
        self.map.lock().remove(id)
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every connection whose deadline has passed.
    pub fn take_expired(&self) -> Vec<Arc<Connection>> {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.map.lock().retain(|_, c| {
            let expired = now >= *c.deadline.lock();
            if expired {
                gone.push(c.clone());
            }
            !expired
        });
        gone
    }

    /// Removes every connection (at shutdown).
    pub fn take_all(&self) -> Vec<Arc<Connection>> {
        self.map.lock().drain().map(|(_, c)| c).collect()
    }
}
