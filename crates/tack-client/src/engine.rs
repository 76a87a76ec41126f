//! The engine task: connect, resume, deliver, keep alive, reconnect — forever, until closed.
//!
//! It owns the current [`Link`], the heartbeat and the backoff, and the session's rooms and
//! watches through a [`Sequencer`] (which decides what a numbered event is: next, seen, or after
//! a hole). Transports only move frames; every decision about what a frame means is made here.
//!
//! This file is the loop: connect (racing the transports), serve a connection, wait out the
//! backoff. The rest of the engine's work is in `resume` (what a new connection is told),
//! `inbound` (one frame from the server), `deliver` (numbered events, in order, each once) and
//! `commands` (what the session's handle asks for).

use crate::backoff::Backoff;
use crate::choose;
use crate::emitter::Emitter;
use crate::endpoint::Endpoint;
use crate::error::LinkError;
use crate::events::{
    ChannelStats, ClientEvent, ConnectionState, ConnectionStatus, EventBatch, SendState,
};
use crate::link::{Inbound, Link};
use crate::liveness::Conn;
use crate::outbox::OutboxItem;
use crate::profile::{Profile, Transport, TransportChoice};
use crate::sequencer::Sequencer;
use crate::session::{Command, SessionOptions, Shared};
use crate::transport::{ws, Dial};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tack_protocol::chat::ServerEvent;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

mod commands;
mod deliver;
mod inbound;
mod resume;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How a phase of the engine ended.
enum Step {
    Failed(LinkError),
    Close,
}

/// What a command asks of the current phase.
enum Flow {
    Continue,
    Close,
    RetryNow,
    CheckNow,
}

type Probe = Pin<Box<dyn Future<Output = Result<Link, LinkError>> + Send>>;

pub(crate) struct Engine {
    profile: Profile,
    opts: SessionOptions,
    shared: Arc<Shared>,
    cmds: mpsc::UnboundedReceiver<Command>,
    out: Emitter,
    dial: Result<Dial, String>,
    /// Rooms entered and channels watched: their numbering, resume points and the events
    /// held while a hole is fetched.
    seq: Sequencer<ServerEvent>,
    backoff: Backoff,
    rtt: Option<Duration>,
    ever_connected: bool,
    /// The server's numbering epoch at the last welcome (see `Welcome::epoch`).
    epoch: Option<String>,
    /// Positions seeded before the first welcome, with the epoch each belongs to: checked
    /// against the server's when it says hello.
    seeded: std::collections::HashMap<crate::events::Target, (String, u64)>,
    /// The session of the last link, whatever its transport: the next connection takes it over
    /// (`hello.takeover`), so the server moves its rooms and its nick instead of showing a
    /// leave and an enter (or refusing the nick to a reconnect it has not noticed yet).
    previous_session: Option<String>,
    /// A failure the user must act on, already reported as an `Error` event: said once, not
    /// at every retry, until a connection works again.
    reported: Option<String>,
    /// Messages answered `unavailable` (the server could not reach its shared store) are
    /// written again at this time, on the same connection.
    outbox_retry: Option<tokio::time::Instant>,
    /// The wait before that next write: doubles while the server stays unavailable, back to
    /// the minimum after an ack.
    unavailable_wait: Duration,
}

/// The first wait before a message answered `unavailable` is written again, and the longest.
const UNAVAILABLE_WAIT_MIN: Duration = Duration::from_millis(250);
const UNAVAILABLE_WAIT_MAX: Duration = Duration::from_secs(4);

impl Engine {
    pub(crate) fn new(
        profile: Profile,
        opts: SessionOptions,
        shared: Arc<Shared>,
        cmds: mpsc::UnboundedReceiver<Command>,
        events: mpsc::Sender<EventBatch>,
    ) -> Engine {
        let dial = Endpoint::parse(&profile.url)
            .map(|endpoint| Dial {
                endpoint,
                http: Dial::http_client(&profile, opts.connect_timeout),
                profile: profile.clone(),
                connect_timeout: opts.connect_timeout,
                welcome_timeout: opts.welcome_timeout,
                stream_read_timeout: opts.stream_read_timeout,
                poll_hold: opts.poll_hold,
                inbound_capacity: 1024,
            })
            .map_err(|e| e.to_string());
        Engine {
            backoff: Backoff::new(opts.backoff.clone(), opts.seed),
            out: Emitter::new(events, opts.batch_max),
            profile,
            opts,
            shared,
            cmds,
            dial,
            seq: Sequencer::default(),
            rtt: None,
            ever_connected: false,
            epoch: None,
            seeded: Default::default(),
            previous_session: None,
            reported: None,
            outbox_retry: None,
            unavailable_wait: UNAVAILABLE_WAIT_MIN,
        }
    }

    fn state(
        &self,
        status: ConnectionStatus,
        transport: Option<Transport>,
        reason: Option<String>,
    ) -> ClientEvent {
        ClientEvent::State(ConnectionState {
            status,
            transport,
            attempt: if status == ConnectionStatus::Connected {
                0
            } else {
                self.backoff.attempt()
            },
            retry_at: None,
            rtt_ms: self.rtt.map(|r| r.as_millis() as u32),
            server: self.profile.name.clone(),
            reason,
            degraded: false,
        })
    }

    pub(crate) async fn run(mut self) {
        if let Some(path) = &self.opts.transport_memory {
            choose::load(path);
        }
        let dial = match self.dial.clone() {
            Ok(d) => d,
            Err(reason) => {
                self.out
                    .push(ClientEvent::Error {
                        code: "bad_url".into(),
                        message: reason.clone(),
                        room: None,
                        suggestion: None,
                    })
                    .await;
                let ev = self.state(ConnectionStatus::Offline, None, Some(reason));
                self.out.push(ev).await;
                self.out.flush().await;
                while let Some(cmd) = self.cmds.recv().await {
                    if matches!(cmd, Command::Close) {
                        break;
                    }
                }
                return;
            }
        };
        loop {
            let step = match self.connect(&dial).await {
                Ok(link) => {
                    let started = Instant::now();
                    let step = self.serve(link, &dial).await;
                    self.backoff.connection_ended(started.elapsed());
                    step
                }
                Err(step) => step,
            };
            match step {
                Step::Close => break,
                Step::Failed(e) => {
                    if !self.wait_retry(e).await {
                        break;
                    }
                }
            }
        }
        let ev = self.state(ConnectionStatus::Offline, None, None);
        self.out.push(ev).await;
        self.out.flush().await;
    }

    /// Races the transports while still taking commands.
    async fn connect(&mut self, dial: &Dial) -> Result<Link, Step> {
        let key = dial.endpoint.key();
        let order = choose::order(
            self.profile.transport,
            dial.endpoint.has_http(),
            choose::remembered(&key),
        );
        let status = if self.ever_connected {
            ConnectionStatus::Reconnecting
        } else {
            ConnectionStatus::Connecting
        };
        let ev = self.state(status, order.first().copied(), None);
        self.out.push(ev).await;
        self.out.flush().await;
        let race = choose::race(
            dial.clone(),
            order,
            choose::stagger(self.rtt, self.opts.fallback_delay),
        );
        tokio::pin!(race);
        loop {
            tokio::select! {
                result = &mut race => return result.map_err(Step::Failed),
                cmd = self.cmds.recv() => {
                    if let Flow::Close = self.on_command(cmd, None).await {
                        return Err(Step::Close);
                    }
                    self.out.flush().await;
                }
            }
        }
    }

    /// Waits out the backoff; false when the session was closed meanwhile.
    async fn wait_retry(&mut self, error: LinkError) -> bool {
        if let LinkError::Certificate(_) = &error {
            // Retrying cannot fix this by itself (the profile or the server's certificate must
            // change), so besides the reason on every retry it is an error the UI shows.
            let message = error.to_string();
            if self.reported.as_ref() != Some(&message) {
                self.reported = Some(message.clone());
                self.out
                    .push(ClientEvent::Error {
                        code: "tls_certificate".into(),
                        message,
                        room: None,
                        suggestion: None,
                    })
                    .await;
            }
        }
        let delay = self.backoff.next_delay(error.is_going_away());
        let mut ev = self.state(
            ConnectionStatus::Reconnecting,
            None,
            Some(error.to_string()),
        );
        if let ClientEvent::State(s) = &mut ev {
            s.retry_at = Some(now_ms() + delay.as_millis() as u64);
        }
        self.out.push(ev).await;
        self.out.flush().await;
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                cmd = self.cmds.recv() => {
                    match self.on_command(cmd, None).await {
                        Flow::Close => return false,
                        Flow::RetryNow | Flow::CheckNow => return true,
                        Flow::Continue => {}
                    }
                    self.out.flush().await;
                }
            }
        }
    }

    fn probe(&mut self, conn: &Conn, dial: &Dial) -> Option<Probe> {
        if self.profile.transport != TransportChoice::Auto
            || !dial.endpoint.has_http()
            || conn.link.transport == Transport::Ws
        {
            return None;
        }
        let interval = self.opts.upgrade_probe_interval;
        let wait = interval + self.backoff.jitter(interval / 4);
        let dial = dial.clone();
        Some(Box::pin(async move {
            tokio::time::sleep(wait).await;
            ws::open(&dial).await
        }))
    }

    /// Runs one connection until it fails or the session closes.
    async fn serve(&mut self, link: Link, dial: &Dial) -> Step {
        let mut conn = Conn::new(link, self.opts.heartbeat, self.opts.boot_clock.clone());
        self.on_connected(&mut conn, dial).await;
        let mut heartbeat = tokio::time::interval(conn.tick_every());
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(self.opts.batch_interval);
        flush.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stats = tokio::time::interval(self.opts.stats_interval);
        stats.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut probe = self.probe(&conn, dial);
        loop {
            let check_due = conn.check_deadline();
            tokio::select! {
                inbound = conn.link.recv() => match inbound {
                    Inbound::Frame(frame) => {
                        conn.heard(tokio::time::Instant::now());
                        if let Some(step) = self.on_frame(&mut conn, frame, dial).await {
                            return step;
                        }
                    }
                    Inbound::Closed(e) => return Step::Failed(e),
                },
                cmd = self.cmds.recv() => match self.on_command(cmd, Some(&mut conn)).await {
                    Flow::Close => return Step::Close,
                    Flow::CheckNow => {
                        if let Err(e) = conn.check_now(tokio::time::Instant::now(), "the network changed") {
                            return Step::Failed(e);
                        }
                    }
                    Flow::RetryNow | Flow::Continue => {}
                },
                _ = heartbeat.tick() => {
                    if let Err(e) = conn.on_tick(tokio::time::Instant::now()) {
                        return Step::Failed(e);
                    }
                }
                // A liveness check's answer is due: don't wait for the next heartbeat tick.
                _ = sleep_until_deadline(check_due), if check_due.is_some() => {
                    if let Err(e) = conn.on_tick(tokio::time::Instant::now()) {
                        return Step::Failed(e);
                    }
                }
                _ = flush.tick(), if !self.out.is_empty() => self.out.flush().await,
                _ = sleep_until_deadline(self.outbox_retry), if self.outbox_retry.is_some() => {
                    self.outbox_retry = None;
                    self.write_outbox(&conn).await;
                }
                _ = stats.tick() => {
                    let report: Vec<ChannelStats> = self.shared.monitor.lock().report(Instant::now());
                    for s in report {
                        self.out.push(ClientEvent::Stats(s)).await;
                    }
                    let recording = self.shared.recorder.lock().as_ref()
                        .map(|r| (r.path().display().to_string(), r.written(), r.failure()));
                    if let Some((path, items, error)) = recording {
                        self.out.push(ClientEvent::Recording { path, items, error }).await;
                    }
                }
                result = async { probe.as_mut().expect("guarded").await }, if probe.is_some() => {
                    probe = None;
                    match result {
                        Ok(link) => {
                            // Upgrade: the new connection resumes every room from the last id
                            // seen, so nothing is lost; ids filter what the old one also
                            // delivered, so nothing is doubled. Dropping the old link closes it.
                            tracing::info!("upgraded to WebSocket");
                            conn = Conn::new(link, self.opts.heartbeat, self.opts.boot_clock.clone());
                            self.on_connected(&mut conn, dial).await;
                            heartbeat = tokio::time::interval(conn.tick_every());
                            heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
                        }
                        Err(e) => {
                            tracing::debug!("WebSocket still unavailable: {e}");
                            probe = self.probe(&conn, dial);
                        }
                    }
                }
            }
        }
    }

    /// Tells the consumer where a message of the outbox stands.
    async fn emit_send(&mut self, item: OutboxItem, state: SendState) {
        self.out
            .push(ClientEvent::Send {
                cid: item.cid,
                room: item.room,
                comment: item.comment,
                state,
            })
            .await;
    }
}

async fn sleep_until_deadline(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
