//! The client engine (`tack_client::Session`) in a story: options with short timings, a
//! profile for a URL, and its events read one at a time with a deadline on every wait.

use std::collections::VecDeque;
use std::time::Duration;
use tack_client::{
    BackoffPolicy, ClientEvent, ConnectionStatus, EventBatch, Profile, SessionOptions,
    TransportChoice,
};
use tokio::sync::mpsc;

/// The events of a session, one at a time, with a deadline on every wait.
pub struct Events {
    rx: mpsc::Receiver<EventBatch>,
    queue: VecDeque<ClientEvent>,
    /// Everything handed out so far, for assertions about history.
    pub seen: Vec<ClientEvent>,
}

impl Events {
    pub fn new(rx: mpsc::Receiver<EventBatch>) -> Events {
        Events {
            rx,
            queue: VecDeque::new(),
            seen: Vec::new(),
        }
    }

    /// The next event, or None when none comes `within` (or the session ended).
    pub async fn next(&mut self, within: Duration) -> Option<ClientEvent> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                self.seen.push(ev.clone());
                return Some(ev);
            }
            match tokio::time::timeout(within, self.rx.recv()).await {
                Ok(Some(batch)) => self.queue.extend(batch),
                _ => return None,
            }
        }
    }

    /// Waits for the first event matching `pred`, panicking with `what` after `within`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(&ClientEvent) -> bool,
    ) -> ClientEvent {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(ev) if pred(&ev) => return ev,
                Some(_) => {}
                None => panic!(
                    "timed out waiting for {what}; last events: {:#?}",
                    &self.seen[self.seen.len().saturating_sub(8)..]
                ),
            }
        }
    }
}

/// True for a `State` event with the given status.
pub fn is_status(ev: &ClientEvent, status: ConnectionStatus) -> bool {
    matches!(ev, ClientEvent::State(s) if s.status == status)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Short timings so the stories run in seconds.
pub fn quick_options() -> SessionOptions {
    SessionOptions {
        heartbeat: Duration::from_secs(1),
        backoff: BackoffPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(400),
            stable_after: Duration::from_secs(2),
            going_away_spread: Duration::from_millis(400),
        },
        welcome_timeout: Duration::from_millis(800),
        fallback_delay: Duration::from_millis(400),
        upgrade_probe_interval: Duration::from_millis(500),
        stream_read_timeout: Duration::from_secs(5),
        poll_hold: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(3),
        // The host's network changes (other tests, other programs) are not these stories'
        // subject; the stories about them turn this on.
        watch_network: false,
        ..Default::default()
    }
}

/// A profile named `test` for `url`, on `transport`.
pub fn profile(url: &str, transport: TransportChoice) -> Profile {
    let mut p = Profile::new("test", url);
    p.transport = transport;
    p
}

/// Milliseconds since the Unix epoch, as the engine's `retry_at` counts them.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis() as u64
}
