//! Sessions of the HTTP transports (`/stream`, `/poll`, `/send`), which outlive any one request.
//!
//! A session's queue is held by at most one stream or poll at a time. A newer request for the
//! same session takes over: the older one is told to finish (a generation counter on a `watch`
//! channel, so the signal cannot be missed) and the newer waits for the queue. A session with
//! no holder expires after the TTL; the reaper then leaves its rooms, so viewer counts drop.

use crate::outbox::Outbound;
use crate::session::Session;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, OwnedMutexGuard};
use tokio::time::Instant;

pub struct HttpSession {
    pub session: Arc<Session>,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Outbound>>>,
    generation: watch::Sender<u64>,
    holders: AtomicUsize,
    last_seen: Mutex<Instant>,
}

/// The right to read a session's queue, for one stream or poll.
pub struct Attachment {
    pub queue: OwnedMutexGuard<mpsc::Receiver<Outbound>>,
    pub takeover: Takeover,
    http: Arc<HttpSession>,
}

/// Tells a holder that a newer request for its session wants the queue.
pub struct Takeover {
    generation: u64,
    newest: watch::Receiver<u64>,
}

impl Takeover {
    /// Resolves when a newer request for the same session has asked for the queue.
    pub async fn requested(&mut self) {
        let mine = self.generation;
        let _ = self.newest.wait_for(|g| *g != mine).await;
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        *self.http.last_seen.lock() = Instant::now();
        self.http.holders.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpSession {
    pub fn new(session: Arc<Session>, queue: mpsc::Receiver<Outbound>) -> Arc<HttpSession> {
        Arc::new(HttpSession {
            session,
            queue: Arc::new(tokio::sync::Mutex::new(queue)),
            generation: watch::Sender::new(0),
            holders: AtomicUsize::new(0),
            last_seen: Mutex::new(Instant::now()),
        })
    }

    /// Takes the queue, asking any current holder to let go first.
    pub async fn attach(self: &Arc<Self>) -> Attachment {
        self.holders.fetch_add(1, Ordering::Relaxed);
        self.touch();
        let mut generation = 0;
        self.generation.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        let newest = self.generation.subscribe();
        let queue = self.queue.clone().lock_owned().await;
        Attachment {
            queue,
            takeover: Takeover { generation, newest },
            http: self.clone(),
        }
    }

    /// Tells whoever holds the queue to let go, as a newer request would.
    pub fn release(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn touch(&self) {
        *self.last_seen.lock() = Instant::now();
    }

    fn expired(&self, ttl: Duration, now: Instant) -> bool {
        if self.session.outbox.ended().is_cancelled() {
            return self.holders.load(Ordering::Relaxed) == 0;
        }
        self.holders.load(Ordering::Relaxed) == 0
            && now.saturating_duration_since(*self.last_seen.lock()) > ttl
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

    /// Removes and returns sessions nobody has held for `ttl`, and kicked ones nobody holds.
    pub fn take_expired(&self, ttl: Duration) -> Vec<Arc<HttpSession>> {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.map.lock().retain(|_, http| {
            let expired = http.expired(ttl, now);
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
