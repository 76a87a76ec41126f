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
    queue: Mutex<Queue>,
    capacity: usize,
    wake: Arc<Notify>,
    /// Cancelled when the session must end: kicked, or the server shutting down. One token, so
    /// a connection's task waits on one thing of its own instead of also polling the
    /// server-wide token, whose lock every connection would share on every wake-up.
    ended: CancellationToken,
    reason: OnceLock<String>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Queue {
    /// Not yet sent.
    waiting: VecDeque<Utf8Bytes>,
    /// Sent in an answer that may not have arrived, numbered ([`Outbox::take_keeping`]).
    unacked: VecDeque<(u64, Utf8Bytes)>,
    /// The number of the last event put in `unacked`.
    last_seq: u64,
}

impl Queue {
    fn len(&self) -> usize {
        self.waiting.len() + self.unacked.len()
    }
}

impl Outbox {
    /// A queue of `capacity` events for a session that also ends when `server` is cancelled.
    pub fn within(capacity: usize, metrics: Arc<Metrics>, server: &CancellationToken) -> Outbox {
        Outbox {
            queue: Mutex::new(Queue::default()),
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
            queue.waiting.push_back(text);
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
        let n = queue.waiting.len().min(max);
        out.extend(queue.waiting.drain(..n));
        n
    }

    /// Takes events for an answer that may be lost on its way: behind Pushpin, a held stream's
    /// link is asked again (Pushpin retries a failed request) with the position the answer
    /// before it named. Events up to `acked` arrived and are forgotten; every later one goes
    /// out again, then up to `max` waiting ones, which are kept until a later call acks them.
    /// Returns the number the next request should ack.
    pub fn take_keeping(&self, acked: u64, max: usize, out: &mut Vec<Utf8Bytes>) -> u64 {
        let mut queue = self.queue.lock();
        while queue.unacked.front().is_some_and(|(seq, _)| *seq <= acked) {
            queue.unacked.pop_front();
        }
        out.extend(queue.unacked.iter().map(|(_, text)| text.clone()));
        let Queue {
            waiting,
            unacked,
            last_seq,
        } = &mut *queue;
        let n = waiting.len().min(max);
        for text in waiting.drain(..n) {
            *last_seq += 1;
            out.push(text.clone());
            unacked.push_back((*last_seq, text));
        }
        *last_seq
    }

    /// Whether nothing is waiting to be sent (events sent but not yet acked don't count).
    pub fn is_empty(&self) -> bool {
        self.queue.lock().waiting.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox() -> Outbox {
        Outbox::within(8, Arc::new(Metrics::default()), &CancellationToken::new())
    }

    fn texts(out: &[Utf8Bytes]) -> Vec<&str> {
        out.iter().map(Utf8Bytes::as_str).collect()
    }

    #[test]
    fn an_answer_that_never_arrived_is_sent_again_and_one_that_did_is_not() {
        let outbox = outbox();
        outbox.push("a".into());
        outbox.push("b".into());
        let mut out = Vec::new();
        let first = outbox.take_keeping(0, 10, &mut out);
        assert_eq!(texts(&out), ["a", "b"]);
        outbox.push("c".into());
        // The request is made again with what the request before it acked.
        out.clear();
        let again = outbox.take_keeping(0, 10, &mut out);
        assert_eq!(texts(&out), ["a", "b", "c"]);
        // The answer arrived: the next request acks it.
        out.clear();
        assert_eq!(outbox.take_keeping(again, 10, &mut out), again);
        assert!(out.is_empty());
        assert!(first < again);
    }

    #[test]
    fn events_waiting_for_an_ack_still_count_against_the_cap() {
        let outbox = outbox();
        for n in 0..8 {
            assert!(outbox.push(n.to_string().into()));
        }
        outbox.take_keeping(0, 10, &mut Vec::new());
        assert!(outbox.is_empty(), "nothing waits to be sent");
        assert!(!outbox.push("one more".into()), "but nothing was acked");
        assert!(outbox.kick_reason().is_some());
    }
}
