//! One load connection: connect, subscribe, then count every message that arrives (and, in the
//! chat workload, send its own). One task per connection on its thread's runtime
//! ([`crate::workers`]), raw sockets, no client engine — an engine per connection would measure
//! the engine, not the server.

use crate::config::{Protocol, Transport, Workload};
use crate::events::{self, Needle};
use crate::payload::{self, Stamp};
use crate::run::Run;
use crate::tally::{Arrival, Seen};
use crate::websocket::{self, Message, WebSocket};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Longest a connection may take to connect and subscribe before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a poll is held when nothing arrives; short enough to notice the end of a run.
const POLL_HOLD_SECS: u32 = 10;

/// What this connection listens to and how it knows it is subscribed.
struct Receiver {
    conn: usize,
    room: usize,
    ready: bool,
    /// The server event that confirms the subscription (`resumed` for a watch, `presence`
    /// for a room); `None` for a plain endpoint, which is ready once connected.
    ready_on: Option<&'static Needle>,
    seen: Seen,
    /// First arrivals (their send times) and duplicates counted since the last
    /// [`Receiver::record`]: a tally takes them once per read, not once per frame.
    firsts: Vec<u64>,
    duplicates: u64,
    /// The id of the newest `raw` item seen, where a resumed watch starts (with `--resume`).
    last_id: u64,
}

impl Receiver {
    fn new(run: &Run, conn: usize) -> Receiver {
        let ready_on: Option<&'static Needle> = match (run.cfg.protocol, &run.cfg.workload) {
            (Protocol::Plain, _) => None,
            (Protocol::Tack, Workload::Chat { .. }) => Some(&events::PRESENCE),
            (Protocol::Tack, _) => Some(&events::RESUMED),
        };
        Receiver {
            conn,
            room: conn % run.cfg.rooms,
            ready: false,
            ready_on,
            seen: Seen::default(),
            firsts: Vec::with_capacity(64),
            duplicates: 0,
            last_id: 0,
        }
    }

    /// Counts the message in one WebSocket frame: its stamp is read at the frame's end (see
    /// [`payload`]), as for every broadcast frame of every server; any other frame (a
    /// subscription's confirmation, an error, a chat message) is read as a body.
    fn on_frame(&mut self, run: &Run, frame: &[u8]) {
        let Some(stamp) = payload::at_end(frame) else {
            return self.on_body(run, frame);
        };
        if run.cfg.resume {
            self.note_raw_id(frame);
        }
        match self.seen.note(&stamp, run.tally.epoch()) {
            Arrival::First => self.firsts.push(stamp.sent_us),
            Arrival::Duplicate => self.duplicates += 1,
            Arrival::Stale => {}
        }
    }

    /// Counts the messages in a frame, SSE chunk or poll answer that may hold several; notices
    /// the subscription being confirmed and errors the server reports.
    fn on_body(&mut self, run: &Run, text: &[u8]) {
        if run.cfg.resume {
            self.note_raw_id(text);
        }
        let epoch = run.tally.epoch();
        let counted_before = self.firsts.len() as u64 + self.duplicates;
        let (seen, firsts, duplicates) = (&mut self.seen, &mut self.firsts, &mut self.duplicates);
        payload::scan(text, |stamp: Stamp| match seen.note(&stamp, epoch) {
            Arrival::First => firsts.push(stamp.sent_us),
            Arrival::Duplicate => *duplicates += 1,
            Arrival::Stale => {}
        });
        if self.firsts.len() as u64 + self.duplicates > counted_before {
            return;
        }
        if !self.ready {
            if let Some(needle) = self.ready_on {
                if needle.is_in(text) {
                    self.set_ready(run);
                }
            }
        }
        if let Some(code) = events::server_error_code(text) {
            run.tally.error(format!("server error: {code}"));
        }
    }

    /// Hands what was counted since the last call to the tally: one clock reading and one
    /// lock for everything one read brought (they were 10 % of the tool's CPU once per frame).
    fn record(&mut self, run: &Run) {
        if !self.firsts.is_empty() || self.duplicates > 0 {
            run.tally.received(self.conn, &self.firsts, self.duplicates);
            self.firsts.clear();
            self.duplicates = 0;
        }
    }

    fn note_raw_id(&mut self, text: &[u8]) {
        if let Some(id) = events::raw_id(text) {
            self.last_id = self.last_id.max(id);
        }
    }

    fn set_ready(&mut self, run: &Run) {
        if !self.ready {
            self.ready = true;
            run.tally.ready_in(self.room);
        }
    }
}

/// The chat workload's own sending: a steady rate, starting at a per-connection offset so
/// thousands of members do not all speak in the same millisecond.
struct Chatter {
    stream: u32,
    seq: u64,
    ticker: Option<Interval>,
}

impl Chatter {
    fn new(conn: usize) -> Chatter {
        Chatter {
            stream: conn as u32,
            seq: 0,
            ticker: None,
        }
    }

    /// Waits until this member should speak next; pending forever outside the chat workload.
    async fn next(&mut self, run: &Run) {
        let Workload::Chat { rate_per_client } = run.cfg.workload else {
            return std::future::pending().await;
        };
        if self.ticker.is_none() {
            run.go.cancelled().await;
            let period = Duration::from_secs_f64(1.0 / rate_per_client);
            // Spread the first messages over one period (a golden-ratio walk over members).
            let phase = (self.stream as f64 * 0.618_034).fract();
            let start = Instant::now() + period.mul_f64(phase);
            let mut ticker = tokio::time::interval_at(start, period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            self.ticker = Some(ticker);
        }
        let ticker = self.ticker.as_mut().expect("set above");
        loop {
            ticker.tick().await;
            if run.traffic_open() {
                return;
            }
            if run.traffic_over() {
                return std::future::pending().await;
            }
        }
    }

    /// The next `chatMessage` frame for `room`.
    fn frame(&mut self, run: &Run, room: usize) -> String {
        let stamp = Stamp {
            epoch: run.tally.epoch(),
            stream: self.stream,
            seq: self.seq,
            sent_us: run.tally.now_us(),
        };
        self.seq += 1;
        format!(
            r#"chatMessage:{{"room":"{}","comment":"{}"}}"#,
            run.cfg.room_name(room),
            payload::encode(stamp, run.cfg.size)
        )
    }
}

/// The frame that subscribes a Tack connection to its room; a watch starts after `since`.
fn subscribe_frame(run: &Run, room: usize, since: u64) -> String {
    let name = run.cfg.room_name(room);
    match run.cfg.workload {
        Workload::Chat { .. } => format!(r#"chatRoomEnter:{{"room":"{name}"}}"#),
        _ => format!(r#"watch:{{"channel":"{name}","since":{since}}}"#),
    }
}

/// The query that subscribes an HTTP (stream or poll) connection to its room.
fn subscribe_query(run: &Run, room: usize) -> String {
    let name = run.cfg.room_name(room);
    match run.cfg.workload {
        Workload::Chat { .. } => format!("rooms={name}"),
        _ => format!("watch={name}&since={name}:0"),
    }
}

/// Runs one connection until the run stops.
pub async fn connection(run: Arc<Run>, conn: usize) {
    let outcome = match run.cfg.transport {
        Transport::Ws => ws(&run, conn).await,
        Transport::Stream => stream(&run, conn).await,
        Transport::Poll => poll(&run, conn).await,
    };
    if let Err(kind) = outcome {
        if !run.stop.is_cancelled() {
            run.tally.error(kind);
        }
    }
    run.tally
        .closed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Most times one connection resumes in a run (`--resume`).
const MAX_RESUMES: u32 = 1_000;

async fn ws(run: &Run, conn: usize) -> Result<(), String> {
    let mut receiver = Receiver::new(run, conn);
    let mut chatter = Chatter::new(conn);
    let mut resumes = 0;
    loop {
        match ws_session(run, conn, &mut receiver, &mut chatter).await {
            // Only a session the server ended is resumed, not one that could not connect.
            Err(Ended::ByServer(why)) if run.cfg.resume && resumes < MAX_RESUMES => {
                resumes += 1;
                run.tally.error(format!("resumed after: {why}"));
            }
            Err(Ended::ByServer(why) | Ended::Failed(why)) => return Err(why),
            Ok(()) => return Ok(()),
        }
    }
}

/// Why a WebSocket session ended before the run did.
enum Ended {
    /// The server closed it (a close frame or a dropped connection) after it was open.
    ByServer(String),
    /// It could not connect or subscribe.
    Failed(String),
}

async fn ws_session(
    run: &Run,
    conn: usize,
    receiver: &mut Receiver,
    chatter: &mut Chatter,
) -> Result<(), Ended> {
    let began = Instant::now();
    let mut socket = {
        let _permit = run.handshakes.acquire().await;
        let connecting = WebSocket::connect(run.ws_url_for(conn), run.cfg.token.as_deref());
        tokio::select! {
            _ = run.stop.cancelled() => return Ok(()),
            done = tokio::time::timeout(CONNECT_TIMEOUT, connecting) => match done {
                Err(_) => return Err(Ended::Failed("connect: timed out".into())),
                Ok(Err(e)) => return Err(Ended::Failed(format!("connect: {}", e.kind()))),
                Ok(Ok(socket)) => socket,
            },
        }
    };
    if !receiver.ready {
        run.tally.connect_took(conn, began.elapsed());
    }
    let send_failed = |e: std::io::Error| Ended::ByServer(format!("send: {}", e.kind()));
    match run.cfg.protocol {
        Protocol::Plain => receiver.set_ready(run),
        Protocol::Tack => {
            let watch = subscribe_frame(run, receiver.room, receiver.last_id);
            socket
                .send_texts([watch.as_bytes()])
                .await
                .map_err(send_failed)?
        }
    }
    // The run's stop, as a token of this session's own pinned once: polling a fresh
    // `cancelled()` of the run-wide token on every frame took the lock every connection
    // shares (the server's fan-out had the same cost; bench/NOTES.md).
    let stop = run.stop.child_token();
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        // Every message the last read completed (the first time: any that came with the
        // handshake's answer), then one clock reading for all of them.
        let closed = socket
            .drain(|message| match message {
                Message::Text(frame) | Message::Binary(frame) => receiver.on_frame(run, frame),
            })
            .map_err(|e| Ended::ByServer(format!("receive: {}", e.kind())))?;
        receiver.record(run);
        if let Some(closed) = closed {
            return Err(Ended::ByServer(match closed.code {
                Some(code) => format!("closed by server: {code} {}", closed.reason),
                None => "closed by server".into(),
            }));
        }
        socket.answer_pings().await.map_err(send_failed)?;
        tokio::select! {
            // Frames first: while frames are waiting the other branches are not even polled.
            biased;
            read = socket.fill() => match read {
                Ok(()) => {}
                Err(websocket::Error::Eof) => {
                    return Err(Ended::ByServer("closed by server without a close frame".into()))
                }
                Err(e) => return Err(Ended::ByServer(format!("receive: {}", e.kind()))),
            },
            _ = chatter.next(run), if receiver.ready => {
                let frame = chatter.frame(run, receiver.room);
                socket.send_texts([frame.as_bytes()]).await.map_err(send_failed)?;
                run.tally.sent_to(receiver.room, 1);
            }
            _ = &mut stopped => {
                let _ = socket.close().await;
                return Ok(());
            }
        }
    }
}

pub(crate) fn http_error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if let Some(status) = e.status() {
        format!("HTTP {status}")
    } else if e.is_body() || e.is_decode() {
        "response body broken off".into()
    } else {
        "request failed".into()
    }
}

fn authorized(run: &Run, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match &run.cfg.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends a frame over `POST /send` without holding up the receiving loop. A chat message
/// names its `room` and is counted as sent; a ping (`None`) only counts if it fails.
fn send_over_http(run: &Arc<Run>, conn: usize, session: &str, frame: String, room: Option<usize>) {
    let url = format!("{}send?session={session}", run.http_base);
    let request = authorized(run, run.http_for(conn).post(url)).body(frame);
    let run = run.clone();
    tokio::spawn(async move {
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                if let Some(room) = room {
                    run.tally.sent_to(room, 1);
                }
                if let Ok(body) = r.bytes().await {
                    if let Some(code) = events::server_error_code(&body) {
                        run.tally.error(format!("server error: {code}"));
                    }
                }
            }
            Ok(r) => run.tally.error(format!("send: HTTP {}", r.status())),
            Err(e) => run.tally.error(format!("send: {}", http_error_kind(&e))),
        }
    });
}

async fn stream(run: &Arc<Run>, conn: usize) -> Result<(), String> {
    let mut receiver = Receiver::new(run, conn);
    let mut chatter = Chatter::new(conn);
    let url = format!(
        "{}stream?{}",
        run.http_base,
        subscribe_query(run, receiver.room)
    );
    let began = Instant::now();
    let response = {
        let _permit = run.handshakes.acquire().await;
        let request = authorized(run, run.http_for(conn).get(url)).timeout(MAX_STREAM);
        tokio::select! {
            _ = run.stop.cancelled() => return Ok(()),
            done = tokio::time::timeout(CONNECT_TIMEOUT, request.send()) => match done {
                Err(_) => return Err("connect: timed out".into()),
                Ok(Err(e)) => return Err(format!("connect: {}", http_error_kind(&e))),
                Ok(Ok(r)) if !r.status().is_success() => {
                    return Err(format!("connect: HTTP {}", r.status()))
                }
                Ok(Ok(r)) => r,
            },
        }
    };
    run.tally.connect_took(conn, began.elapsed());
    let mut body = response.bytes_stream();
    let mut session: Option<String> = None;
    // Bytes after the last complete line, kept until the rest of the line arrives.
    let mut partial: Vec<u8> = Vec::new();
    // A stream only receives, so like Tack's own client it pings to keep its session present
    // (behind Pushpin the origin never hears from a held stream otherwise).
    let mut keepalive = tokio::time::interval_at(
        tokio::time::Instant::now() + STREAM_PING_EVERY,
        STREAM_PING_EVERY,
    );
    let stop = run.stop.child_token();
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            // As for a WebSocket: data first, and the run's stop through a token of its own.
            biased;
            chunk = body.next() => match chunk {
                Some(Ok(chunk)) => {
                    let Some(last_newline) = memchr::memrchr(b'\n', &chunk) else {
                        partial.extend_from_slice(&chunk);
                        continue;
                    };
                    let complete: &[u8] = if partial.is_empty() {
                        &chunk[..=last_newline]
                    } else {
                        partial.extend_from_slice(&chunk[..=last_newline]);
                        &partial
                    };
                    if session.is_none() {
                        session = events::session_id(complete);
                    }
                    receiver.on_body(run, complete);
                    receiver.record(run);
                    partial.clear();
                    partial.extend_from_slice(&chunk[last_newline + 1..]);
                }
                Some(Err(e)) => return Err(format!("stream: {}", http_error_kind(&e))),
                None => return Err("stream ended by server".into()),
            },
            _ = keepalive.tick(), if session.is_some() => {
                send_over_http(run, conn, session.as_deref().unwrap_or_default(), "ping:{}".into(), None);
            }
            _ = chatter.next(run), if receiver.ready && session.is_some() => {
                let frame = chatter.frame(run, receiver.room);
                send_over_http(run, conn, session.as_deref().unwrap_or_default(), frame, Some(receiver.room));
            }
            _ = &mut stopped => return Ok(()),
        }
    }
}

/// How often a stream pings its session: well inside the server's default 30 s session TTL.
const STREAM_PING_EVERY: Duration = Duration::from_secs(10);

/// Longest a single stream request may stay open (a bound, not a timeout anyone should hit).
const MAX_STREAM: Duration = Duration::from_secs(900);

async fn poll(run: &Arc<Run>, conn: usize) -> Result<(), String> {
    let mut receiver = Receiver::new(run, conn);
    let mut chatter = Chatter::new(conn);
    let mut session: Option<String> = None;
    let began = Instant::now();
    let _permit = run.handshakes.acquire().await;
    let mut permit = Some(_permit);
    let stop = run.stop.child_token();
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let url = match &session {
            None => format!(
                "{}poll?{}&timeout={POLL_HOLD_SECS}",
                run.http_base,
                subscribe_query(run, receiver.room)
            ),
            Some(s) => format!("{}poll?session={s}&timeout={POLL_HOLD_SECS}", run.http_base),
        };
        let request = authorized(run, run.http_for(conn).get(url))
            .timeout(Duration::from_secs(u64::from(POLL_HOLD_SECS) + 15))
            .send();
        tokio::pin!(request);
        let answer = loop {
            tokio::select! {
                biased;
                answer = &mut request => break answer,
                _ = chatter.next(run), if receiver.ready && session.is_some() => {
                    let frame = chatter.frame(run, receiver.room);
                    send_over_http(run, conn, session.as_deref().unwrap_or_default(), frame, Some(receiver.room));
                }
                _ = &mut stopped => return Ok(()),
            }
        };
        let response = answer.map_err(|e| format!("poll: {}", http_error_kind(&e)))?;
        if !response.status().is_success() {
            return Err(format!("poll: HTTP {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("poll: {}", http_error_kind(&e)))?;
        if session.is_none() {
            session = events::session_id(&body);
            if session.is_none() {
                return Err("poll: the first answer had no welcome".into());
            }
            run.tally.connect_took(conn, began.elapsed());
            permit.take();
        }
        receiver.on_body(run, &body);
        receiver.record(run);
    }
}
