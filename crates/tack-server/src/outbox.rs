//! A connection's bounded queue of outgoing events, and the slow-consumer kick.
//!
//! The hub never writes to a socket: it pushes cheap handles ([`Outbound`]) into each
//! subscriber's queue with `try_send` and moves on. A queue that is full means the client reads
//! slower than its rooms talk; that connection is kicked (disconnected with a reason) instead of
//! making anyone else wait or letting memory grow.

use crate::item::Item;
use crate::metrics::Metrics;
use axum::extract::ws::Utf8Bytes;
use std::sync::{Arc, OnceLock};
use tack_protocol::chat::{EventId, ServerEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One thing waiting to be written to a connection.
#[derive(Debug)]
pub enum Outbound {
    /// A numbered item of a room this connection is in (`watcher: false`) or watches.
    Item { item: Arc<Item>, watcher: bool },
    /// An event for this connection only (ack, error, pong), already serialized.
    Event(Utf8Bytes),
    /// The answer to an enter or watch, in one queue slot however long the replay is.
    Joined(Box<Joined>),
}

/// Presence, replayed history and `resumed`, sent to a client that entered or watched.
#[derive(Debug)]
pub struct Joined {
    pub channel: Arc<str>,
    pub watcher: bool,
    pub presence: Option<Utf8Bytes>,
    pub replay: Vec<Arc<Item>>,
    pub resumed: Option<Utf8Bytes>,
    /// The channel's newest id when this was built: the client's position afterwards.
    pub last_id: EventId,
}

/// The sending side of a connection's queue. Cheap to clone; the hub keeps one per subscriber.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outbound>,
    /// Cancelled when the connection must end: kicked, or (for a session made `within` the
    /// server) the server shutting down. One token, so a connection's task waits on one thing
    /// of its own instead of also polling the server-wide token, whose lock every connection
    /// would share on every wake-up.
    ended: CancellationToken,
    reason: Arc<OnceLock<String>>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// A queue of `capacity` events and its receiving end.
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> (Outbox, mpsc::Receiver<Outbound>) {
        Outbox::build(capacity, metrics, CancellationToken::new())
    }

    /// Like [`Outbox::new`], for a session that also ends when `server` is cancelled.
    pub fn within(
        capacity: usize,
        metrics: Arc<Metrics>,
        server: &CancellationToken,
    ) -> (Outbox, mpsc::Receiver<Outbound>) {
        Outbox::build(capacity, metrics, server.child_token())
    }

    fn build(
        capacity: usize,
        metrics: Arc<Metrics>,
        ended: CancellationToken,
    ) -> (Outbox, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let outbox = Outbox {
            tx,
            ended,
            reason: Arc::new(OnceLock::new()),
            metrics,
        };
        (outbox, rx)
    }

    /// Queues `out` without waiting. A full queue kicks the connection; returns whether queued.
    pub fn deliver(&self, out: Outbound) -> bool {
        // The reason is set before the token is cancelled; reading it is one atomic load,
        // where the token's state sits behind a lock this runs for every delivery.
        if self.reason.get().is_some() {
            return false;
        }
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.dropped();
                self.kick(format!(
                    "too slow: more than {} events waiting; reconnect to resume",
                    self.tx.max_capacity()
                ));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues an event meant for this connection only.
    pub fn send_event(&self, event: &ServerEvent) -> bool {
        self.deliver(Outbound::Event(event.to_json().into()))
    }

    /// Disconnects this connection with `reason`; the first reason wins.
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

    /// Cancelled when the connection has been kicked or the server it lives `within` stops;
    /// [`Outbox::kick_reason`] tells the two apart.
    pub fn ended(&self) -> &CancellationToken {
        &self.ended
    }

    /// Why the connection was kicked; `None` if it was not (still running, or shut down).
    pub fn kick_reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }
}
