//! Sessions of the HTTP transports (`/stream`, `/poll`, `/send`), which outlive any one
//! request — on the built-in server and behind Pushpin alike.
//!
//! A session is read by at most one stream or poll at a time. A newer request for the same
//! session takes over: the older one is told to finish (a generation counter on a `watch`
//! channel, so the signal cannot be missed) and the newer waits for it to let go. A session
//! nobody reads lives until its deadline, which every request pushes back; the reaper then
//! leaves its rooms, so viewer counts drop. Behind Pushpin nobody "reads" a session for long
//! (Pushpin holds the connection), so there the deadline alone decides.

use crate::session::Session;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OwnedMutexGuard};
use tokio::time::Instant;

pub struct HttpSession {
    pub session: Arc<Session>,
    reading: Arc<tokio::sync::Mutex<()>>,
    generation: watch::Sender<u64>,
    holders: AtomicUsize,
    deadline: Mutex<Instant>,
    ttl: Duration,
}

/// The right to read a session, for one stream or poll. Dropping it lets the next reader in
/// and starts the session's time to live.
pub struct Reading {
    _turn: OwnedMutexGuard<()>,
    pub takeover: Takeover,
    _holding: Holding,
}

/// Counts a request as holding its session while it lives, however it ends — an await that is
/// dropped half-way included, so a gone request never leaves a ghost viewer behind.
struct Holding(Arc<HttpSession>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.touch(self.0.ttl);
        self.0.holders.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Tells a reader that a newer request for its session wants it.
pub struct Takeover {
    generation: u64,
    newest: watch::Receiver<u64>,
}

impl Takeover {
    /// Resolves when a newer request for the same session has asked to read it.
    pub async fn requested(&mut self) {
        let mine = self.generation;
        let _ = self.newest.wait_for(|g| *g != mine).await;
    }
}

impl HttpSession {
    pub fn new(session: Arc<Session>, ttl: Duration) -> Arc<HttpSession> {
        Arc::new(HttpSession {
            session,
            reading: Arc::new(tokio::sync::Mutex::new(())),
            generation: watch::Sender::new(0),
            holders: AtomicUsize::new(0),
            deadline: Mutex::new(Instant::now() + ttl),
            ttl,
        })
    }

    /// Waits for the turn to read, asking any current reader to let go first.
    pub async fn read(self: &Arc<Self>) -> Reading {
        // Held from here, before the await, so a request dropped while it waits still counts
        // down again (the guard's drop).
        self.holders.fetch_add(1, Ordering::Relaxed);
        let holding = Holding(self.clone());
        let mut generation = 0;
        self.generation.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        let newest = self.generation.subscribe();
        let turn = self.reading.clone().lock_owned().await;
        Reading {
            _turn: turn,
            takeover: Takeover { generation, newest },
            _holding: holding,
        }
    }

    /// Tells whoever reads the session to let go, as a newer request would.
    pub fn release(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// The client was heard from: the session lives at least `ttl` more.
    pub fn touch(&self, ttl: Duration) {
        let mut deadline = self.deadline.lock();
        *deadline = (*deadline).max(Instant::now() + ttl);
    }

    fn expired(&self, now: Instant) -> bool {
        if self.holders.load(Ordering::Relaxed) > 0 {
            return false;
        }
        self.session.outbox.ended().is_cancelled() || now >= *self.deadline.lock()
    }
}

#[derive(Default)]
pub struct HttpSessions {
    map: Mutex<HashMap<String, Arc<HttpSession>>>,
}

impl HttpSessions {
    pub fn get(&self, id: &str) -> Option<Arc<HttpSession>> {
        self.map.lock().get(id).cloned()
    }

    pub fn insert(&self, http: Arc<HttpSession>) {
        self.map.lock().insert(http.session.id.clone(), http);
    }

    /// Takes a session out: it no longer expires (nobody leaves its rooms for it) and no
    /// request finds it.
    pub fn remove(&self, id: &str) -> Option<Arc<HttpSession>> {
        self.map.lock().remove(id)
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns sessions nobody reads whose deadline has passed, and kicked ones
    /// nobody reads.
    pub fn take_expired(&self) -> Vec<Arc<HttpSession>> {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.map.lock().retain(|_, http| {
            let expired = http.expired(now);
            if expired {
                gone.push(http.clone());
            }
            !expired
        });
        gone
    }

    /// Removes every session (at shutdown).
    pub fn take_all(&self) -> Vec<Arc<HttpSession>> {
        self.map.lock().drain().map(|(_, http)| http).collect()
    }
}
