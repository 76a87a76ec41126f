//! One client's session: its nick, its rooms and watched channels, its rate limit, and the
//! chat logic that turns its frames into hub calls.
//!
//! A session is transport-neutral: a WebSocket connection has one for its lifetime; the HTTP
//! transports keep one across requests in [`crate::http_session`]. What a session must never
//! do is write to a socket — replies go to its [`Outbox`] or back to the caller.

use crate::hub::{Hub, Member, SessionKey};
use crate::outbox::Outbox;
use parking_lot::Mutex;
use rand::Rng;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tack_protocol::chat::{Ack, ClientFrame, ErrorEvent, FrameError, Pong, Positions, ServerEvent};
use tack_protocol::ErrorCode;
use tokio::time::Instant;

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        let burst = f64::from(burst.max(1));
        RateLimit {
            rate: f64::from(per_second),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The per-connection limits the chat logic enforces (from `ServerConfig`).
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub max_rooms: usize,
    pub messages_per_second: u32,
    pub message_burst: u32,
}

pub struct Session {
    /// The id clients see (in `welcome`, and as `session=` on the HTTP transports).
    pub id: String,
    /// The hub's name for this session (see [`Session::key`]).
    key: AtomicU64,
    pub outbox: Outbox,
    limits: SessionLimits,
    nick: Mutex<Arc<str>>,
    rooms: Mutex<BTreeSet<String>>,
    watching: Mutex<BTreeSet<String>>,
    rate: Mutex<RateLimit>,
    /// The newest id written to the client per room/channel; the HTTP transports use it for
    /// the SSE `id:` and to replay what a lost response carried.
    pub positions: Mutex<Positions>,
}

/// A fresh random session id: 128 bits, hex.
pub fn new_session_id() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

/// A nick for a client that never said `hello`, like the original system's anonymous users.
pub fn guest_nick() -> String {
    format!("guest-{:04}", rand::thread_rng().gen_range(0..10_000))
}

fn error_event(
    code: ErrorCode,
    message: String,
    cid: Option<String>,
    event: Option<&str>,
) -> ServerEvent {
    ServerEvent::Error(ErrorEvent {
        code,
        message,
        cid,
        event: event.map(str::to_owned),
    })
}

/// The `error` event for a frame that could not be parsed.
pub fn frame_error(err: &FrameError) -> ServerEvent {
    error_event(err.code(), err.to_string(), None, err.event())
}

impl Session {
    pub fn new(
        id: String,
        key: SessionKey,
        nick: Option<String>,
        outbox: Outbox,
        limits: SessionLimits,
    ) -> Session {
        Session {
            id,
            key: AtomicU64::new(key),
            outbox,
            limits,
            nick: Mutex::new(nick.unwrap_or_else(guest_nick).into()),
            rooms: Mutex::new(BTreeSet::new()),
            watching: Mutex::new(BTreeSet::new()),
            rate: Mutex::new(RateLimit::new(
                limits.messages_per_second,
                limits.message_burst,
            )),
            positions: Mutex::new(Positions::default()),
        }
    }

    /// The hub's name for this session. It changes at most once: a session that takes over an
    /// earlier one (`hello.takeover`) goes by that session's key, so the hub sees one member
    /// all along, and nobody sees a leave or an enter.
    pub fn key(&self) -> SessionKey {
        self.key.load(Ordering::Relaxed)
    }

    /// Becomes `old`, silently: takes its hub key, rooms and watches, which `old` forgets, so
    /// nothing leaves them when `old` is dropped. Refused (false) once this session has entered
    /// or watched anything itself, since its own key is in the hub then.
    pub fn adopt(&self, old: &Session) -> bool {
        if !self.rooms.lock().is_empty() || !self.watching.lock().is_empty() {
            return false;
        }
        self.key.store(old.key(), Ordering::Relaxed);
        *self.rooms.lock() = std::mem::take(&mut *old.rooms.lock());
        *self.watching.lock() = std::mem::take(&mut *old.watching.lock());
        true
    }

    pub fn nick(&self) -> Arc<str> {
        self.nick.lock().clone()
    }

    pub fn rooms(&self) -> Vec<String> {
        self.rooms.lock().iter().cloned().collect()
    }

    pub fn watching(&self) -> Vec<String> {
        self.watching.lock().iter().cloned().collect()
    }

    pub fn is_in(&self, room: &str) -> bool {
        self.rooms.lock().contains(room)
    }

    pub fn is_watching(&self, channel: &str) -> bool {
        self.watching.lock().contains(channel)
    }

    fn member(&self) -> Member {
        Member {
            key: self.key(),
            nick: self.nick(),
            outbox: self.outbox.clone(),
        }
    }

    /// Parses and applies one client frame; returns the immediate reply, if any.
    pub async fn handle_text(&self, hub: &dyn Hub, text: &str) -> Option<ServerEvent> {
        match ClientFrame::parse(text) {
            Ok(frame) => self.apply(hub, frame).await,
            Err(err) => Some(frame_error(&err)),
        }
    }

    /// Applies one client frame. Broadcasts (and the enter answer) go through the hub to the
    /// outbox; what is returned is the reply for this frame alone: ack, error or pong.
    pub async fn apply(&self, hub: &dyn Hub, frame: ClientFrame) -> Option<ServerEvent> {
        let event = frame.name();
        match frame {
            ClientFrame::Hello(hello) => {
                *self.nick.lock() = hello.nick.into();
                None
            }
            ClientFrame::Ping(ping) => Some(ServerEvent::Pong(Pong { t: ping.t })),
            ClientFrame::Enter(enter) => {
                if !self.is_in(&enter.room) {
                    if let Some(refusal) = self.room_cap(event) {
                        return Some(refusal);
                    }
                    self.rooms.lock().insert(enter.room.clone());
                }
                hub.enter(&enter.room, &self.member(), enter.since).await;
                None
            }
            ClientFrame::Leave(leave) => {
                if !self.rooms.lock().remove(&leave.room) {
                    return Some(error_event(
                        ErrorCode::NotInRoom,
                        format!("you are not in room `{}`", leave.room),
                        None,
                        Some(event),
                    ));
                }
                self.forget_position(&leave.room);
                hub.leave(&leave.room, &self.member()).await;
                None
            }
            ClientFrame::Message(msg) => {
                if !self.rate.lock().allow() {
                    return Some(error_event(
                        ErrorCode::RateLimited,
                        format!(
                            "too many messages: at most {} a second; this one was not sent",
                            self.limits.messages_per_second
                        ),
                        msg.cid,
                        Some(event),
                    ));
                }
                let cid = msg.cid.clone();
                match hub
                    .message(&msg.room, &self.member(), msg.comment, msg.cid)
                    .await
                {
                    Ok(sent) => cid.map(|cid| {
                        ServerEvent::Ack(Ack {
                            cid,
                            id: sent.id,
                            room: msg.room,
                        })
                    }),
                    Err(err) => Some(error_event(err.code(), err.to_string(), cid, Some(event))),
                }
            }
            ClientFrame::Watch(watch) => {
                if !self.is_watching(&watch.channel) {
                    if let Some(refusal) = self.room_cap(event) {
                        return Some(refusal);
                    }
                    self.watching.lock().insert(watch.channel.clone());
                }
                hub.watch(&watch.channel, &self.member(), watch.since).await;
                None
            }
            ClientFrame::Unwatch(unwatch) => {
                if self.watching.lock().remove(&unwatch.channel) {
                    hub.unwatch(&unwatch.channel, &self.member()).await;
                    if !self.is_in(&unwatch.channel) {
                        self.forget_position(&unwatch.channel);
                    }
                }
                None
            }
        }
    }

    fn room_cap(&self, event: &str) -> Option<ServerEvent> {
        let joined = self.rooms.lock().len() + self.watching.lock().len();
        (joined >= self.limits.max_rooms).then(|| {
            error_event(
                ErrorCode::TooManyRooms,
                format!(
                    "already in {joined} rooms and channels; the limit is {}: leave one first",
                    self.limits.max_rooms
                ),
                None,
                Some(event),
            )
        })
    }

    fn forget_position(&self, channel: &str) {
        if !self.is_in(channel) && !self.is_watching(channel) {
            self.positions.lock().0.remove(channel);
        }
    }

    /// Leaves every room and stops every watch: the connection is gone.
    pub async fn leave_everything(&self, hub: &dyn Hub) {
        let member = self.member();
        let rooms = std::mem::take(&mut *self.rooms.lock());
        for room in rooms {
            hub.leave(&room, &member).await;
        }
        let watching = std::mem::take(&mut *self.watching.lock());
        for channel in watching {
            hub.unwatch(&channel, &member).await;
        }
    }
}
