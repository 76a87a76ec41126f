//! A session's own events — welcome, presence, acks, errors, pongs — and the signal its task
//! waits on.
//!
//! Room traffic does not pass through here: subscribers read it from each channel's
//! [`Feed`](crate::feed::Feed). What does pass are replies to the client's own frames, which
//! its rate limits bound; a client that sends but never reads fills this queue and is
//! disconnected with a reason instead of growing it. The same [`Notify`] is what the channels'
//! feeds wake, so a connection's task sleeps on one thing.

use crate::metrics::Metrics;
use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use tack_protocol::chat::ServerEvent;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct Outbox {
    queue: Mutex<VecDeque<Utf8Bytes>>,
    capacity: usize,
    wake: Arc<Notify>,
    /// Cancelled when the session must end: kicked, or the server shutting down. One token, so
    /// a connection's task waits on one thing of its own instead of also polling the
    /// server-wide token, whose lock every connection would share on every wake-up.
    ended: CancellationToken,
    reason: OnceLock<String>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// A queue of `capacity` events for a session that also ends when `server` is cancelled.
    pub fn within(capacity: usize, metrics: Arc<Metrics>, server: &CancellationToken) -> Outbox {
        Outbox {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            wake: Arc::new(Notify::new()),
            ended: server.child_token(),
            reason: OnceLock::new(),
            metrics,
        }
    }

    /// Queues an event for this session only. A full queue kicks the session; returns whether
    /// the event was queued.
    pub fn push(&self, text: Utf8Bytes) -> bool {
        if self.reason.get().is_some() {
            return false;
        }
        {
            let mut queue = self.queue.lock();
            if queue.len() >= self.capacity {
                drop(queue);
                self.metrics.dropped();
                self.kick(format!(
                    "too slow: more than {} replies waiting; reconnect to resume",
                    self.capacity
                ));
                return false;
            }
            queue.push_back(text);
        }
        self.wake.notify_one();
        true
    }

    pub fn send_event(&self, event: &ServerEvent) -> bool {
        self.push(event.to_json().into())
    }

    /// Takes up to `max` queued events.
    pub fn take(&self, max: usize, out: &mut Vec<Utf8Bytes>) -> usize {
        let mut queue = self.queue.lock();
        let n = queue.len().min(max);
        out.extend(queue.drain(..n));
        n
    }

    pub fn is_empty(&self) -> bool {
        self.queue.lock().is_empty()
    }

    /// The signal this session's task sleeps on: its own events and its channels' appends.
    pub fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// Disconnects this session with `reason`; the first reason wins.
    pub fn kick(&self, reason: String) {
        if self.reason.set(reason).is_ok() {
            self.metrics.slow_consumer_kicked();
            tracing::info!(
                reason = self.reason.get().map(String::as_str),
                "kicking a connection"
            );
        }
        self.ended.cancel();
    }

    /// Cancelled when the session has been kicked or the server stops; [`Outbox::kick_reason`]
    /// tells the two apart.
    pub fn ended(&self) -> &CancellationToken {
        &self.ended
    }

    /// Why the session was kicked; `None` if it was not (still running, or shut down).
    pub fn kick_reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }
}
