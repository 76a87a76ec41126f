//! Is the live connection still alive? The heartbeat, "any inbound frame is life", liveness
//! checks on demand (the network changed, the machine woke from a suspend) — and the patience
//! a server that never answers pings deserves.
//!
//! Time is tokio's, so tests can pause it.

use crate::clock::{BootClock, SuspendDetector};
use crate::engine::now_ms;
use crate::error::LinkError;
use crate::link::Link;
use std::sync::Arc;
use std::time::Duration;
use tack_protocol::chat::{ClientFrame, Ping};
use tokio::time::Instant;

/// The longest a liveness check waits for its answer.
const CHECK_WAIT: Duration = Duration::from_secs(3);

/// The live connection and its heartbeat bookkeeping.
pub(crate) struct Conn {
    pub link: Link,
    pub legacy: bool,
    /// Only a server known to answer pings may be declared dead for not answering: the original
    /// system's servers (and Pushpin in front of them) never do.
    pub answers_pings: bool,
    pub heartbeat: Duration,
    last_inbound: Instant,
    last_ping: Instant,
    /// A liveness check asked for (network change, suspension): sent at, deadline.
    check: Option<(Instant, Instant)>,
    suspend: SuspendDetector,
}

impl Conn {
    pub fn new(link: Link, heartbeat: Duration, clock: Arc<dyn BootClock>) -> Conn {
        let heartbeat = match &link.welcome {
            Some(w) if w.heartbeat > 0 => heartbeat.min(Duration::from_secs(w.heartbeat as u64)),
            _ => heartbeat,
        };
        let now = Instant::now();
        Conn {
            legacy: link.welcome.is_none(),
            answers_pings: link.welcome.is_some(),
            link,
            heartbeat,
            last_inbound: now,
            last_ping: now,
            check: None,
            suspend: SuspendDetector::new(clock, now),
        }
    }

    pub fn write(&self, frame: ClientFrame) {
        self.link.send(frame.encode());
    }

    /// Something arrived: the connection is alive.
    pub fn heard(&mut self, now: Instant) {
        self.last_inbound = now;
    }

    fn ping(&mut self, now: Instant) {
        self.write(ClientFrame::Ping(Ping { t: Some(now_ms()) }));
        self.last_ping = now;
    }

    /// Checks liveness now: a ping that must be answered soon. A server that never answers
    /// pings cannot be asked, so the only check is to reconnect (the error says so).
    pub fn check_now(&mut self, now: Instant, why: &str) -> Result<(), LinkError> {
        if !self.answers_pings {
            return Err(LinkError::Other(format!("{why}; reconnecting")));
        }
        if self.check.is_none() {
            self.ping(now);
            let wait = (self.heartbeat / 2).min(CHECK_WAIT);
            self.check = Some((now, now + wait));
        }
        Ok(())
    }

    /// How often `on_tick` must run; also at [`check_deadline`](Self::check_deadline).
    pub fn tick_every(&self) -> Duration {
        self.heartbeat / 4
    }

    /// The deadline of a pending liveness check.
    pub fn check_deadline(&self) -> Option<Instant> {
        self.check.map(|(_, deadline)| deadline)
    }

    /// Runs on every tick.
    pub fn on_tick(&mut self, now: Instant) -> Result<(), LinkError> {
        if let Some(slept) = self.suspend.suspended(now) {
            tracing::info!("the machine was suspended for {slept:?}; checking the connection");
            self.check_now(now, "the machine was suspended")?;
        }
        if !self.answers_pings {
            return Ok(());
        }
        if let Some((sent, deadline)) = self.check {
            if self.last_inbound > sent {
                self.check = None;
            } else if now >= deadline {
                return Err(LinkError::Stalled(
                    now.saturating_duration_since(self.last_inbound).as_millis() as u64,
                ));
            }
        }
        let idle = now.saturating_duration_since(self.last_inbound);
        if idle >= self.heartbeat * 3 / 2 {
            return Err(LinkError::Stalled(idle.as_millis() as u64));
        }
        // On a stream the server hears the client only when it sends: behind Pushpin a stream's
        // session (and so the client's presence in its rooms) is kept by these pings, however
        // busy the stream is. A WebSocket or a poll is heard by its own traffic.
        let must_be_heard = self.link.transport == crate::profile::Transport::Stream;
        if (idle >= self.heartbeat / 2 || must_be_heard)
            && now.saturating_duration_since(self.last_ping) >= self.heartbeat / 2
        {
            self.ping(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::tests::SleepyClock;
    use crate::link::{Inbound, Tasks};
    use crate::profile::Transport;
    use tack_protocol::chat::Welcome;
    use tokio::sync::mpsc;

    /// A connection to a server that answers pings (it said welcome), with its wire exposed:
    /// what the client writes comes out of the receiver.
    fn connection(clock: Arc<SleepyClock>) -> (Conn, mpsc::UnboundedReceiver<String>) {
        connection_over(Transport::Ws, clock)
    }

    fn connection_over(
        transport: Transport,
        clock: Arc<SleepyClock>,
    ) -> (Conn, mpsc::UnboundedReceiver<String>) {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (_in_tx, in_rx) = mpsc::channel::<Inbound>(1);
        let mut link = Link::new(transport, out_tx, in_rx, Tasks::default());
        link.welcome = Some(Welcome {
            session: "s".into(),
            nick: "ann".into(),
            heartbeat: 0,
            server: "tack/test".into(),
            epoch: None,
        });
        (Conn::new(link, Duration::from_secs(20), clock), out_rx)
    }

    fn pings(out: &mut mpsc::UnboundedReceiver<String>) -> usize {
        std::iter::from_fn(|| out.try_recv().ok())
            .filter(|f| f.starts_with("ping"))
            .count()
    }

    /// Ticks as the engine does (every quarter heartbeat, and at a check's deadline) for
    /// `total`, stopping at the first error.
    async fn run_ticks(conn: &mut Conn, total: Duration) -> Result<(), LinkError> {
        let end = Instant::now() + total;
        while Instant::now() < end {
            let mut next = Instant::now() + conn.tick_every();
            if let Some(deadline) = conn.check_deadline() {
                next = next.min(deadline);
            }
            tokio::time::advance(next - Instant::now()).await;
            conn.on_tick(Instant::now())?;
        }
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_ten_minute_suspend_a_dead_link_is_dropped_within_seconds() {
        let clock = SleepyClock::new();
        let (mut conn, mut out) = connection(clock.clone());
        run_ticks(&mut conn, Duration::from_secs(9)).await.unwrap();
        conn.heard(Instant::now());
        let _ = pings(&mut out);

        // The lid closes; ten minutes later it opens. The server has long forgotten us and
        // nothing will ever answer on this socket.
        clock.suspend(Duration::from_secs(600));
        let woke = Instant::now();
        let err = run_ticks(&mut conn, Duration::from_secs(60))
            .await
            .expect_err("a dead link after a suspend is noticed");
        assert!(matches!(err, LinkError::Stalled(_)), "{err}");
        assert!(pings(&mut out) >= 1, "it asked the server first");
        let took = Instant::now() - woke;
        assert!(
            took <= Duration::from_secs(10),
            "noticed {took:?} after waking, not after the 30 s heartbeat timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_suspend_a_link_that_answers_stays() {
        let clock = SleepyClock::new();
        let (mut conn, mut out) = connection(clock.clone());
        clock.suspend(Duration::from_secs(600));
        tokio::time::advance(conn.tick_every()).await;
        conn.on_tick(Instant::now()).unwrap();
        assert_eq!(pings(&mut out), 1, "woken up: a ping right away");
        tokio::time::advance(Duration::from_millis(200)).await;
        conn.heard(Instant::now()); // the pong
        run_ticks(&mut conn, Duration::from_secs(5)).await.unwrap();
        assert_eq!(conn.check_deadline(), None, "the check was answered");
    }

    /// Ticks for `total` while the server talks all the time; returns the pings sent.
    async fn pings_while_busy(transport: Transport, total: Duration) -> usize {
        let (mut conn, mut out) = connection_over(transport, SleepyClock::new());
        let end = Instant::now() + total;
        while Instant::now() < end {
            tokio::time::advance(conn.tick_every()).await;
            conn.heard(Instant::now()); // room traffic keeps arriving
            conn.on_tick(Instant::now()).unwrap();
        }
        pings(&mut out)
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_still_pings_every_half_heartbeat_so_its_server_hears_it() {
        // Heartbeat 20 s: in a minute, a ping every 10 s whatever arrives.
        let minute = Duration::from_secs(60);
        let stream = pings_while_busy(Transport::Stream, minute).await;
        assert!((5..=6).contains(&stream), "{stream} pings on a busy stream");
        // A busy WebSocket is heard by its own traffic and need not ping.
        assert_eq!(pings_while_busy(Transport::Ws, minute).await, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_network_change_asks_the_server_and_waits_a_short_while() {
        let (mut conn, mut out) = connection(SleepyClock::new());
        conn.check_now(Instant::now(), "the network changed")
            .unwrap();
        assert_eq!(pings(&mut out), 1);
        assert_eq!(
            conn.check_deadline(),
            Some(Instant::now() + CHECK_WAIT),
            "a short deadline, not the heartbeat's"
        );
        conn.check_now(Instant::now(), "the network changed")
            .unwrap();
        assert_eq!(pings(&mut out), 0, "a burst of changes is one check");
        let err = run_ticks(&mut conn, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, LinkError::Stalled(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_pings_is_reconnected_on_a_network_change() {
        let (mut conn, _out) = connection(SleepyClock::new());
        conn.answers_pings = false;
        let err = conn
            .check_now(Instant::now(), "the network changed")
            .unwrap_err();
        assert!(err.to_string().contains("network changed"), "{err}");
        // …but ordinary silence never drops it.
        run_ticks(&mut conn, Duration::from_secs(120))
            .await
            .unwrap();
    }
}
