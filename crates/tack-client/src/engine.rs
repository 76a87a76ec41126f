//! The engine task: connect, resume, deliver, keep alive, reconnect — forever, until closed.
//!
//! It owns the current [`Link`], the heartbeat and the backoff, and the session's rooms and
//! watches through a [`Sequencer`] (which decides what a numbered event is: next, seen, or after
//! a hole). Transports only move frames; every decision about what a frame means is made here.

use crate::backoff::Backoff;
use crate::choose;
use crate::emitter::Emitter;
use crate::endpoint::Endpoint;
use crate::error::LinkError;
use crate::events::{
    ChannelStats, ClientEvent, ConnectionState, ConnectionStatus, EventBatch, SendState, ServerInfo,
};
use crate::link::{Inbound, Link};
use crate::liveness::Conn;
use crate::monitor::Record;
use crate::outbox::OutboxItem;
use crate::profile::{Profile, Transport, TransportChoice};
use crate::sequencer::{Accept, Order, Sequencer};
use crate::session::{Command, SessionOptions, Shared};
use crate::transport::{ws, Dial};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tack_protocol::chat::{
    decode_legacy_comment, ClientFrame, Enter, Hello, Leave, SendMessage, ServerEvent, ServerFrame,
    Unwatch, Watch,
};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

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
    seq: Sequencer<(ServerEvent, usize)>,
    backoff: Backoff,
    rtt: Option<Duration>,
    ever_connected: bool,
    /// The server's numbering epoch at the last welcome (see `Welcome::epoch`).
    epoch: Option<String>,
    /// The session of the last HTTP transport link: the next connection takes it over
    /// (`hello.takeover`), so the server moves its rooms instead of showing a leave and an enter.
    http_session: Option<String>,
    /// A failure the user must act on, already reported as an `Error` event: said once, not
    /// at every retry, until a connection works again.
    reported: Option<String>,
}

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
            http_session: None,
            reported: None,
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
                    Inbound::Frame(frame, size) => {
                        conn.heard(tokio::time::Instant::now());
                        if let Some(step) = self.on_frame(&mut conn, frame, size, dial).await {
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
                _ = stats.tick() => {
                    let report: Vec<ChannelStats> = self.shared.monitor.lock().report(Instant::now());
                    for s in report {
                        self.out.push(ClientEvent::Stats(s)).await;
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

    /// A connection (or a new server session on it) is ready: say who we are and resume.
    async fn on_connected(&mut self, conn: &mut Conn, dial: &Dial) {
        self.ever_connected = true;
        // Held events of the old connection are replayed by the resume below.
        self.seq.connection_changed();
        self.reported = None;
        self.shared.outbox.lock().connection_changed();
        if let Some(epoch) = conn.link.welcome.as_ref().and_then(|w| w.epoch.clone()) {
            self.renumbered(epoch).await;
        }
        if let (None, Some(w)) = (&self.profile.nick, &conn.link.welcome) {
            // Keep the nick the server picked for us: after a reconnect (or a server restart)
            // we say hello with it, so the user stays the same person in every room.
            self.profile.nick = Some(w.nick.clone());
        }
        let info = match &conn.link.welcome {
            Some(w) => ServerInfo {
                nick: self.profile.nick.clone().unwrap_or_else(|| w.nick.clone()),
                server: w.server.clone(),
                resume: true,
                acks: true,
            },
            None => ServerInfo {
                nick: self.profile.nick.clone().unwrap_or_default(),
                server: "legacy".into(),
                resume: false,
                acks: false,
            },
        };
        self.out.push(ClientEvent::Server(info)).await;
        self.resume(conn).await;
        let transport = conn.link.transport;
        if self.profile.transport == TransportChoice::Auto
            && choose::remember(&dial.endpoint.key(), transport)
        {
            if let Some(path) = &self.opts.transport_memory {
                choose::save(path);
            }
        }
        let degraded = transport != Transport::Ws && dial.endpoint.has_http();
        let mut ev = self.state(ConnectionStatus::Connected, Some(transport), None);
        if let ClientEvent::State(s) = &mut ev {
            s.degraded = degraded && self.profile.transport == TransportChoice::Auto;
            if s.degraded {
                s.reason = Some(format!(
                    "WebSocket is unavailable; using {}",
                    if transport == Transport::Stream {
                        "HTTP streaming"
                    } else {
                        "long-polling"
                    }
                ));
            }
        }
        self.out.push(ev).await;
        self.out.flush().await;
    }

    /// A welcome named the server's numbering `epoch`. When it differs from the last one, the
    /// server counts from scratch: every resume point is void, so rooms and channels resume
    /// from the start of what the server has, after a `Gap` marker where ours ended.
    async fn renumbered(&mut self, epoch: String) {
        let changed = self.epoch.as_ref().is_some_and(|old| *old != epoch);
        self.epoch = Some(epoch);
        if !changed {
            return;
        }
        for (name, seen) in self.seq.renumber() {
            self.out
                .push(ClientEvent::Gap {
                    room: name,
                    after_id: Some(seen),
                })
                .await;
        }
    }

    /// Re-enters every room and re-watches every channel from the last id seen, then writes
    /// the outbox again.
    async fn resume(&mut self, conn: &mut Conn) {
        let session = conn.link.welcome.as_ref().map(|w| w.session.clone());
        let takeover = self
            .http_session
            .take()
            .filter(|old| Some(old) != session.as_ref());
        if conn.link.transport != Transport::Ws {
            self.http_session = session;
        }
        if let (Some(nick), false) = (&self.profile.nick, conn.legacy) {
            // First, before any enter: the server only hands over rooms to a session that has
            // not joined any itself.
            conn.write(ClientFrame::Hello(Hello {
                nick: nick.clone(),
                client: Some(concat!("tack/", env!("CARGO_PKG_VERSION")).into()),
                takeover,
            }));
        }
        let (rooms, watches) = self.seq.resume_points();
        for (room, since) in rooms {
            self.write_enter(conn, &room, since).await;
        }
        for (channel, since) in watches {
            self.write_watch(conn, &channel, since);
        }
        self.write_outbox(conn).await;
    }

    async fn write_enter(&mut self, conn: &Conn, room: &str, since: Option<u64>) {
        if conn.legacy {
            // No presence reply on an original-system server: joined once written.
            conn.write(ClientFrame::Enter(Enter {
                room: room.to_owned(),
                since: None,
            }));
            self.out
                .push(ClientEvent::Joined {
                    room: room.to_owned(),
                })
                .await;
        } else {
            if let Some(since) = since {
                self.seq.resuming_from(false, room, since);
            }
            conn.write(ClientFrame::Enter(Enter {
                room: room.to_owned(),
                since,
            }));
        }
    }

    fn write_watch(&mut self, conn: &Conn, channel: &str, since: Option<u64>) {
        if conn.legacy {
            // An original-system server only knows rooms: watching a name means entering it.
            if !self.seq.follows(false, channel) {
                conn.write(ClientFrame::Enter(Enter {
                    room: channel.to_owned(),
                    since: None,
                }));
            }
        } else {
            if let Some(since) = since {
                self.seq.resuming_from(true, channel, since);
            }
            conn.write(ClientFrame::Watch(Watch {
                channel: channel.to_owned(),
                since,
            }));
        }
    }

    async fn write_outbox(&mut self, conn: &Conn) {
        let items = self.shared.outbox.lock().take_unwritten(|_| true);
        for item in items {
            conn.write(ClientFrame::Message(SendMessage {
                room: item.room.clone(),
                comment: item.comment.clone(),
                cid: (!conn.legacy).then(|| item.cid.clone()),
            }));
        }
        if conn.legacy {
            // No acks on an original-system server: written is as good as it gets.
            let done = self.shared.outbox.lock().drain_written();
            for item in done {
                self.emit_send(item, SendState::Sent { id: None }).await;
            }
        }
    }

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

    async fn on_command(&mut self, cmd: Option<Command>, conn: Option<&mut Conn>) -> Flow {
        let Some(cmd) = cmd else {
            // Every handle was dropped.
            return Flow::Close;
        };
        match cmd {
            Command::Close => return Flow::Close,
            Command::RetryNow => return Flow::RetryNow,
            Command::NetworkChanged => return Flow::CheckNow,
            Command::Enter(room) => {
                let since = self.seq.follow(false, &room);
                if let Some(conn) = conn {
                    self.write_enter(conn, &room, since).await;
                    self.write_outbox(conn).await;
                }
            }
            Command::Leave(room) => {
                if self.seq.unfollow(false, &room) {
                    if let Some(conn) = conn {
                        conn.write(ClientFrame::Leave(Leave { room: room.clone() }));
                    }
                    self.out.push(ClientEvent::Parted { room }).await;
                }
            }
            Command::Queued(item) => {
                self.emit_send(item, SendState::Pending).await;
                if let Some(conn) = conn {
                    self.write_outbox(conn).await;
                }
            }
            Command::Watch(channel) => {
                let since = self.seq.follow(true, &channel);
                if let Some(conn) = conn {
                    self.write_watch(conn, &channel, since);
                }
            }
            Command::Unwatch(channel) => {
                if self.seq.unfollow(true, &channel) {
                    if let Some(conn) = conn {
                        if !conn.legacy {
                            conn.write(ClientFrame::Unwatch(Unwatch { channel }));
                        } else if !self.seq.follows(false, &channel) {
                            conn.write(ClientFrame::Leave(Leave { room: channel }));
                        }
                    }
                }
            }
            Command::Nick(nick) => {
                self.profile.nick = Some(nick.clone());
                if let Some(conn) = conn {
                    if !conn.legacy {
                        conn.write(ClientFrame::Hello(Hello {
                            nick,
                            client: None,
                            takeover: None,
                        }));
                    }
                }
            }
        }
        Flow::Continue
    }

    /// Delivers a numbered event in order. An event that skips ids (one was lost on the way:
    /// behind Pushpin a subscription is applied asynchronously, a proxy may drop a frame) is
    /// held, with everything after it, while the hole is fetched — the room entered (or the
    /// channel watched) again from the last id seen; the server's replay ends with `resumed`,
    /// and then the held events follow in id order, duplicates dropped.
    async fn sequence(&mut self, conn: &Conn, ev: ServerEvent, size: usize, received: u64) {
        let Some((watch, name, id)) = numbering(&ev) else {
            return;
        };
        match self.seq.order(watch, name, id) {
            Order::Seen => {}
            Order::Next => self.deliver(ev, size, received).await,
            Order::Hold => {
                let name = name.to_owned();
                if self.seq.hold(watch, &name, id, (ev, size)) {
                    // The replay is not coming (or not soon): stop waiting, say so, go on.
                    let (after_id, held) = self.seq.give_up(watch, &name);
                    self.out
                        .push(ClientEvent::Gap {
                            room: name,
                            after_id,
                        })
                        .await;
                    self.deliver_all(held, received).await;
                }
            }
            Order::Hole => {
                let name = name.to_owned();
                let since = self.seq.start_fill(watch, &name, id, (ev, size));
                tracing::debug!(%name, ?since, id, "events were skipped; fetching the hole");
                if watch {
                    self.write_watch(conn, &name, since);
                } else {
                    self.write_enter(conn, &name, since).await;
                }
            }
        }
    }

    /// Ends a fill: the held events go out in id order, each once.
    async fn deliver_all(&mut self, held: Vec<(ServerEvent, usize)>, received: u64) {
        for (ev, size) in held {
            // Whatever is still missing now is gone from the server's history too, and was
            // marked by `resumed`: no second fetch.
            self.deliver(ev, size, received).await;
        }
    }

    /// Hands a numbered event to the consumer unless it was already seen.
    async fn deliver(&mut self, ev: ServerEvent, size: usize, received: u64) {
        let _ = size;
        match ev {
            ServerEvent::Message(m) => {
                if !self.accept(false, &m.room, m.id).await {
                    return;
                }
                let own = m
                    .cid
                    .as_deref()
                    .is_some_and(|c| self.shared.outbox.lock().is_ours(c));
                self.shared.monitor.lock().record(
                    Instant::now(),
                    m.comment.len(),
                    Record {
                        channel: m.room.clone(),
                        id: Some(m.id),
                        ts: Some(m.ts),
                        received,
                        user: Some(m.user.clone()),
                        payload: m.comment.clone(),
                        binary: false,
                    },
                );
                self.out
                    .push(ClientEvent::Message {
                        room: m.room,
                        id: Some(m.id),
                        user: m.user,
                        comment: m.comment,
                        ts: Some(m.ts),
                        cid: m.cid,
                        own,
                    })
                    .await;
            }
            ServerEvent::Entered(c) => {
                if !self.accept(false, &c.room, c.id).await {
                    return;
                }
                self.out
                    .push(ClientEvent::Entered {
                        room: c.room,
                        id: Some(c.id),
                        user: c.user,
                        viewers: Some(c.viewers),
                        ts: Some(c.ts),
                    })
                    .await;
            }
            ServerEvent::Left(c) => {
                if !self.accept(false, &c.room, c.id).await {
                    return;
                }
                self.out
                    .push(ClientEvent::Left {
                        room: c.room,
                        id: Some(c.id),
                        user: c.user,
                        viewers: Some(c.viewers),
                        ts: Some(c.ts),
                    })
                    .await;
            }
            ServerEvent::Raw(r) => {
                if !self.accept(true, &r.channel, r.id).await {
                    return;
                }
                let decoded = if r.binary {
                    decoded_len(&r.payload)
                } else {
                    r.payload.len()
                };
                self.shared.monitor.lock().record(
                    Instant::now(),
                    decoded,
                    Record {
                        channel: r.channel.clone(),
                        id: Some(r.id),
                        ts: Some(r.ts),
                        received,
                        user: None,
                        payload: r.payload.clone(),
                        binary: r.binary,
                    },
                );
                self.out
                    .push(ClientEvent::Raw {
                        channel: r.channel,
                        id: Some(r.id),
                        ts: Some(r.ts),
                        payload: r.payload,
                        binary: r.binary,
                        size: decoded as u32,
                        received,
                    })
                    .await;
            }
            _ => {}
        }
    }

    /// Accepts a numbered event of a room (`watch` false) or channel (true) unless it was
    /// already seen; emits a `Gap` first when ids were skipped since the resume point.
    async fn accept(&mut self, watch: bool, name: &str, id: u64) -> bool {
        let Accept::Deliver { gap_after } = self.seq.accept(watch, name, id) else {
            return false;
        };
        if let Some(since) = gap_after {
            self.out
                .push(ClientEvent::Gap {
                    room: name.to_owned(),
                    after_id: Some(since),
                })
                .await;
        }
        true
    }

    async fn on_frame(
        &mut self,
        conn: &mut Conn,
        frame: ServerFrame,
        size: usize,
        dial: &Dial,
    ) -> Option<Step> {
        let received = now_ms();
        let frame = match frame {
            ServerFrame::Event(ev) if numbering(&ev).is_some() => {
                self.sequence(conn, ev, size, received).await;
                return None;
            }
            other => other,
        };
        match frame {
            ServerFrame::Event(ev) => match ev {
                ServerEvent::Welcome(w) => {
                    // A new server session on the same link (a poll session expired): resume.
                    conn.link.welcome = Some(w);
                    conn.legacy = false;
                    conn.answers_pings = true;
                    self.on_connected(conn, dial).await;
                }
                ServerEvent::Presence(p) => {
                    self.seq.anchor(&p.room, p.last_id);
                    if self.seq.follows(false, &p.room) {
                        // Re-entered only to fetch a hole: still the same stay in the room.
                        if !self.seq.is_filling(false, &p.room) {
                            self.out
                                .push(ClientEvent::Joined {
                                    room: p.room.clone(),
                                })
                                .await;
                        }
                        self.out
                            .push(ClientEvent::Presence {
                                room: p.room,
                                viewers: p.viewers,
                                users: p.users,
                            })
                            .await;
                    }
                }
                ServerEvent::Ack(a) => {
                    let item = self.shared.outbox.lock().acked(&a.cid);
                    if let Some(item) = item {
                        self.emit_send(item, SendState::Sent { id: Some(a.id) })
                            .await;
                    }
                }
                ServerEvent::Error(e) => {
                    if e.code == "unknown_session" {
                        return Some(Step::Failed(LinkError::Other(
                            "the server forgot this session; reconnecting".into(),
                        )));
                    }
                    let failed = e
                        .cid
                        .as_deref()
                        .and_then(|cid| self.shared.outbox.lock().failed(cid));
                    let room = failed.as_ref().map(|i| i.room.clone());
                    if let Some(item) = failed {
                        self.emit_send(
                            item,
                            SendState::Failed {
                                reason: e.message.clone(),
                            },
                        )
                        .await;
                    }
                    self.out
                        .push(ClientEvent::Error {
                            code: e.code,
                            message: e.message,
                            room,
                        })
                        .await;
                }
                ServerEvent::Resumed(r) => {
                    let watch = r.channel.is_some();
                    let name = r.room.or(r.channel)?;
                    // Still waiting for a first event after `since`: nothing was replayed, so
                    // the marker goes here. Otherwise `accept` has placed it already.
                    let waiting = self.seq.resumed(watch, &name, r.since, r.last_id);
                    if !r.recovered && waiting {
                        self.out
                            .push(ClientEvent::Gap {
                                room: name.clone(),
                                after_id: Some(r.since),
                            })
                            .await;
                    }
                    // The replay of a hole being fetched is complete.
                    let held = self.seq.release(watch, &name);
                    self.deliver_all(held, received).await;
                }
                // Handled by `sequence` above.
                ServerEvent::Message(_)
                | ServerEvent::Entered(_)
                | ServerEvent::Left(_)
                | ServerEvent::Raw(_) => {}
                ServerEvent::Pong(p) => {
                    conn.answers_pings = true;
                    if let Some(t) = p.t {
                        self.rtt = Some(Duration::from_millis(received.saturating_sub(t)));
                    }
                }
            },
            ServerFrame::LegacyBroadcast { room, comment } => {
                let text = decode_legacy_comment(&comment);
                let _ = size;
                let record = Record {
                    channel: room.clone(),
                    id: None,
                    ts: None,
                    received,
                    user: None,
                    payload: text.clone(),
                    binary: false,
                };
                if self.seq.follows(false, &room) {
                    self.shared
                        .monitor
                        .lock()
                        .record(Instant::now(), text.len(), record);
                    self.out
                        .push(ClientEvent::Message {
                            room,
                            id: None,
                            user: String::new(),
                            comment: text,
                            ts: None,
                            cid: None,
                            own: false,
                        })
                        .await;
                } else if self.seq.follows(true, &room) {
                    self.shared
                        .monitor
                        .lock()
                        .record(Instant::now(), text.len(), record);
                    self.out
                        .push(ClientEvent::Raw {
                            channel: room,
                            id: None,
                            ts: None,
                            size: text.len() as u32,
                            payload: text,
                            binary: false,
                            received,
                        })
                        .await;
                }
            }
            ServerFrame::LegacySubscribed => {}
        }
        None
    }
}

async fn sleep_until_deadline(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The room or channel of a numbered event (`true` for a watched channel) and its id.
fn numbering(ev: &ServerEvent) -> Option<(bool, &str, u64)> {
    match ev {
        ServerEvent::Message(m) => Some((false, &m.room, m.id)),
        ServerEvent::Entered(c) | ServerEvent::Left(c) => Some((false, &c.room, c.id)),
        ServerEvent::Raw(r) => Some((true, &r.channel, r.id)),
        _ => None,
    }
}

/// Bytes in a base64 payload once decoded.
fn decoded_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|b| *b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(pad)
}
