//! The chat protocol (see `docs/PROTOCOL.md`).
//!
//! Client → server: one text frame per event, `name:{json}`. The original system's three events
//! (`chatRoomEnter`, `chatRoomLeave`, `chatMessage`) are accepted unchanged; Tack adds `hello`,
//! `watch`, `unwatch`, `ping`, a resume point (`since`) on enter/watch and a client message id
//! (`cid`) on messages.
//!
//! Server → client: JSON objects tagged by `type`. Chat events keep `room` and `comment` at the
//! top level so the original system's browser clients still work. [`ServerFrame::parse`] also
//! understands the original server's bare `{"room","comment"}` broadcasts and its `subscribed`
//! text reply.
//!
//! This module owns validation of names and sizes; it never decides policy (rate limits,
//! how many rooms a connection may join) — that is the server's.

pub use crate::codes::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Longest room or channel name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest nickname, in characters.
pub const MAX_NICK_LEN: usize = 32;
/// Longest chat message text, in bytes.
pub const MAX_COMMENT_LEN: usize = 8 * 1024;
/// Longest client message id, in bytes.
pub const MAX_CID_LEN: usize = 64;
/// Longest client frame, in bytes (the name, the colon and the JSON).
pub const MAX_FRAME_LEN: usize = 16 * 1024;

/// Position of an event in a room's or channel's sequence. Starts at 1; 0 means "nothing seen".
pub type EventId = u64;

/// The largest id a server hands out, and so the largest `since` a client may send: ids reach
/// browsers as JSON numbers, exact only up to 2^53 - 1. A `since` past it cannot be a position
/// anyone was given, and is refused (`bad_field`) rather than wrapped or clamped.
pub const MAX_EVENT_ID: EventId = (1 << 53) - 1;

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

/// `hello:{"nick":"ann","client":"tack/0.1"}` — optional; without it the server picks a nick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub nick: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The `session` id (from its `welcome`) of this client's previous HTTP session, which this
    /// session takes over: its rooms and watches move here without a leave or an enter, so
    /// nobody sees the client go and come back when it switches transport. Only honoured as
    /// the first thing a session does (before it enters a room); a server that cannot find the
    /// old session ignores it. Older servers ignore the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takeover: Option<String>,
    /// A signed identity (a JWT) on servers that ask for one: its subject is the nick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Longest `hello.takeover` accepted (session ids are 32 hex digits).
pub const MAX_SESSION_ID_LEN: usize = 64;

/// `chatRoomEnter:{"room":"r","since":41}` — `since` asks for every event after id 41.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enter {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<EventId>,
}

/// `chatRoomLeave:{"room":"r"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave {
    pub room: String,
}

/// `chatMessage:{"room":"r","comment":"hi","cid":"c-1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub room: String,
    pub comment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// `watch:{"channel":"orders","since":5}` — receive a channel's raw items without being a viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<EventId>,
}

/// `unwatch:{"channel":"orders"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unwatch {
    pub channel: String,
}

/// `ping:{"t":12345}` — heartbeat; the server answers `{"type":"pong","t":12345}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
}

/// One client → server event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Hello(Hello),
    Enter(Enter),
    Leave(Leave),
    Message(SendMessage),
    Watch(Watch),
    Unwatch(Unwatch),
    Ping(Ping),
}

/// Why a client frame was refused. Each variant has a stable [`code`](FrameError::code) that
/// the server puts in its `error` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is {len} bytes; the limit is {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("frame has no `name:` prefix; expected e.g. chatMessage:{{\"room\":\"lobby\",\"comment\":\"hi\"}}")]
    NoName,
    #[error("unknown event `{0}`; known events: hello, chatRoomEnter, chatRoomLeave, chatMessage, watch, unwatch, ping")]
    UnknownEvent(String),
    #[error("{event}: body is not valid JSON: {detail}")]
    BadJson { event: String, detail: String },
    #[error("{event}: missing field `{field}`")]
    MissingField { event: String, field: String },
    #[error("{event}: {detail}")]
    BadField { event: String, detail: String },
    #[error("{event}: {field} {problem}")]
    InvalidName {
        event: String,
        field: &'static str,
        problem: NameProblem,
    },
    #[error("{event}: comment is {len} bytes; the limit is {limit}")]
    CommentTooLong {
        event: String,
        len: usize,
        limit: usize,
    },
}

/// What is wrong with a room, channel or nick name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    TooLong {
        len: usize,
        limit: usize,
    },
    ControlCharacter,
    Comma,
    /// A nick that starts or ends with white space.
    Padded,
    /// An invisible format character: bidi overrides and isolates, zero-width characters.
    FormatCharacter,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => write!(f, "is empty"),
            NameProblem::TooLong { len, limit } => {
                write!(f, "is {len} bytes; the limit is {limit}")
            }
            NameProblem::ControlCharacter => write!(f, "contains a control character"),
            NameProblem::Comma => write!(f, "contains a comma"),
            NameProblem::Padded => write!(f, "starts or ends with a space"),
            NameProblem::FormatCharacter => write!(
                f,
                "contains an invisible formatting character (a bidi override or a zero-width character)"
            ),
        }
    }
}

impl FrameError {
    /// The stable machine-readable code for the server's `error` event.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLong { .. } => ErrorCode::TooLarge,
            FrameError::NoName => ErrorCode::BadFrame,
            FrameError::UnknownEvent(_) => ErrorCode::UnknownEvent,
            FrameError::BadJson { .. } => ErrorCode::BadJson,
            FrameError::MissingField { .. } => ErrorCode::MissingField,
            FrameError::BadField { .. } => ErrorCode::BadField,
            FrameError::InvalidName { .. } => ErrorCode::InvalidName,
            FrameError::CommentTooLong { .. } => ErrorCode::TooLarge,
        }
    }

    /// The event name the frame carried, when it got that far.
    pub fn event(&self) -> Option<&str> {
        match self {
            FrameError::TooLong { .. } | FrameError::NoName => None,
            FrameError::UnknownEvent(e) => Some(e),
            FrameError::BadJson { event, .. }
            | FrameError::MissingField { event, .. }
            | FrameError::BadField { event, .. }
            | FrameError::InvalidName { event, .. }
            | FrameError::CommentTooLong { event, .. } => Some(event),
        }
    }
}

fn check_since(event: &str, since: Option<EventId>) -> Result<(), FrameError> {
    match since {
        Some(since) if since > MAX_EVENT_ID => Err(FrameError::BadField {
            event: event.to_owned(),
            detail: format!("since must be an event id, 0 to {MAX_EVENT_ID}"),
        }),
        _ => Ok(()),
    }
}

/// Checks a room or channel name: 1–64 bytes, no control characters, no comma (commas separate
/// names in the HTTP transports' `rooms=` and `since=` parameters).
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    check_text_name(name, MAX_NAME_LEN)?;
    if name.contains(',') {
        return Err(NameProblem::Comma);
    }
    Ok(())
}

/// Checks a nickname: 1–32 characters, no control characters, no invisible format characters
/// (a nick like `ad\u{202e}nim` shows as someone else's), no leading or trailing space.
/// Servers compare nicks after [`normalize_nick`].
pub fn check_nick(nick: &str) -> Result<(), NameProblem> {
    if nick.is_empty() {
        return Err(NameProblem::Empty);
    }
    let len = nick.chars().count();
    if len > MAX_NICK_LEN {
        return Err(NameProblem::TooLong {
            len,
            limit: MAX_NICK_LEN,
        });
    }
    if nick.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    if nick.chars().any(is_format_character) {
        return Err(NameProblem::FormatCharacter);
    }
    if nick.trim() != nick {
        return Err(NameProblem::Padded);
    }
    Ok(())
}

/// A nick as servers keep and compare it: Unicode NFC, so the same letters typed two ways are
/// one nick.
pub fn normalize_nick(nick: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    nick.nfc().collect()
}

/// Unicode's format characters (general category Cf): invisible, and able to reorder or hide
/// what is shown around them.
fn is_format_character(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}

fn check_text_name(name: &str, limit: usize) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > limit {
        return Err(NameProblem::TooLong {
            len: name.len(),
            limit,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    Ok(())
}

impl ClientFrame {
    /// The event name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ClientFrame::Hello(_) => "hello",
            ClientFrame::Enter(_) => "chatRoomEnter",
            ClientFrame::Leave(_) => "chatRoomLeave",
            ClientFrame::Message(_) => "chatMessage",
            ClientFrame::Watch(_) => "watch",
            ClientFrame::Unwatch(_) => "unwatch",
            ClientFrame::Ping(_) => "ping",
        }
    }

    /// Parses and validates one `name:{json}` frame.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        if text.len() > MAX_FRAME_LEN {
            return Err(FrameError::TooLong {
                len: text.len(),
                limit: MAX_FRAME_LEN,
            });
        }
        let (name, body) = text.split_once(':').ok_or(FrameError::NoName)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(FrameError::NoName);
        }
        let frame = match name {
            "hello" => ClientFrame::Hello(body_as(name, body)?),
            "chatRoomEnter" => ClientFrame::Enter(body_as(name, body)?),
            "chatRoomLeave" => ClientFrame::Leave(body_as(name, body)?),
            "chatMessage" => ClientFrame::Message(body_as(name, body)?),
            "watch" => ClientFrame::Watch(body_as(name, body)?),
            "unwatch" => ClientFrame::Unwatch(body_as(name, body)?),
            "ping" => {
                // A bare `ping:` (no body) is a fine heartbeat too.
                if body.trim().is_empty() {
                    ClientFrame::Ping(Ping::default())
                } else {
                    ClientFrame::Ping(body_as(name, body)?)
                }
            }
            other => {
                let mut shown = other.to_owned();
                truncate_at_char_boundary(&mut shown, MAX_NAME_LEN);
                return Err(FrameError::UnknownEvent(shown));
            }
        };
        frame.validate()?;
        Ok(frame)
    }

    /// Checks names and sizes; called by [`parse`](Self::parse) and by senders before encoding.
    pub fn validate(&self) -> Result<(), FrameError> {
        let event = self.name();
        let name = |field: &'static str, value: &str| {
            check_name(value).map_err(|problem| FrameError::InvalidName {
                event: event.to_owned(),
                field,
                problem,
            })
        };
        match self {
            ClientFrame::Hello(h) => {
                check_nick(&h.nick).map_err(|problem| FrameError::InvalidName {
                    event: event.to_owned(),
                    field: "nick",
                    problem,
                })?;
                match &h.takeover {
                    Some(id)
                        if id.is_empty()
                            || id.len() > MAX_SESSION_ID_LEN
                            || !id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                    {
                        Err(FrameError::BadField {
                            event: event.to_owned(),
                            detail: format!(
                                "takeover must be a session id: 1 to {MAX_SESSION_ID_LEN} letters and digits"
                            ),
                        })
                    }
                    _ => Ok(()),
                }
            }
            ClientFrame::Enter(e) => {
                name("room", &e.room)?;
                check_since(event, e.since)
            }
            ClientFrame::Leave(l) => name("room", &l.room),
            ClientFrame::Message(m) => {
                name("room", &m.room)?;
                if m.comment.len() > MAX_COMMENT_LEN {
                    return Err(FrameError::CommentTooLong {
                        event: event.to_owned(),
                        len: m.comment.len(),
                        limit: MAX_COMMENT_LEN,
                    });
                }
                if let Some(cid) = &m.cid {
                    if cid.is_empty() || cid.len() > MAX_CID_LEN {
                        return Err(FrameError::BadField {
                            event: event.to_owned(),
                            detail: format!("cid must be 1 to {MAX_CID_LEN} bytes"),
                        });
                    }
                }
                Ok(())
            }
            ClientFrame::Watch(w) => {
                name("channel", &w.channel)?;
                check_since(event, w.since)
            }
            ClientFrame::Unwatch(u) => name("channel", &u.channel),
            ClientFrame::Ping(_) => Ok(()),
        }
    }

    /// Encodes as `name:{json}`.
    pub fn encode(&self) -> String {
        let json = match self {
            ClientFrame::Hello(x) => serde_json::to_string(x),
            ClientFrame::Enter(x) => serde_json::to_string(x),
            ClientFrame::Leave(x) => serde_json::to_string(x),
            ClientFrame::Message(x) => serde_json::to_string(x),
            ClientFrame::Watch(x) => serde_json::to_string(x),
            ClientFrame::Unwatch(x) => serde_json::to_string(x),
            ClientFrame::Ping(x) => serde_json::to_string(x),
        }
        .expect("client frames always serialize");
        format!("{}:{}", self.name(), json)
    }
}

fn body_as<T: serde::de::DeserializeOwned>(event: &str, body: &str) -> Result<T, FrameError> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| FrameError::BadJson {
        event: event.to_owned(),
        detail: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(FrameError::BadJson {
            event: event.to_owned(),
            detail: "expected a JSON object".to_owned(),
        });
    }
    serde_json::from_value(value).map_err(|e| {
        let detail = e.to_string();
        // serde_json says "missing field `room`"; give that its own code.
        match detail
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(field) => FrameError::MissingField {
                event: event.to_owned(),
                field: field.to_owned(),
            },
            None => FrameError::BadField {
                event: event.to_owned(),
                detail,
            },
        }
    })
}

fn truncate_at_char_boundary(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

// ---------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------

/// A chat message as the server broadcasts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: EventId,
    pub room: String,
    pub user: String,
    pub comment: String,
    pub ts: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// Someone entered or left a room; `viewers` is the count after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomChange {
    pub id: EventId,
    pub room: String,
    pub user: String,
    pub viewers: u32,
    pub ts: Millis,
}

/// Someone in a room changed nick; numbered, so presence and messages never disagree about who
/// said what. `user` is the old nick, `nick` the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NickChange {
    pub id: EventId,
    pub room: String,
    pub user: String,
    pub nick: String,
    pub ts: Millis,
}

/// Who is in a room now. Sent to a client when it enters, not numbered (not part of history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub room: String,
    pub viewers: u32,
    pub users: Vec<String>,
    /// The room's newest event id at the time of the snapshot.
    #[serde(default)]
    pub last_id: EventId,
}

/// A message with this `cid` was accepted as event `id` in `room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub cid: String,
    pub id: EventId,
    pub room: String,
}

/// A refused event. The connection stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Stable code, one of [`ErrorCode`]'s.
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A value the client could use instead (for `nick_taken`, a free nick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// Answer to an enter or watch with `since`, after the replayed events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// Set for a room entered with `chatRoomEnter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Set for a channel watched with `watch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// True when every event after `since` was replayed; false when some were older than the
    /// history the server keeps.
    pub recovered: bool,
    /// The `since` the client asked for.
    pub since: EventId,
    /// The newest id now.
    pub last_id: EventId,
}

/// One item on a watched channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raw {
    pub channel: String,
    pub id: EventId,
    pub ts: Millis,
    /// The item's content: text as is, binary content base64-encoded (then `binary` is true).
    pub payload: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

/// The first thing a server says on every transport: who you are and how to stay alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub session: String,
    pub nick: String,
    /// Seconds between heartbeats the server expects (and sends, on streams).
    pub heartbeat: u32,
    /// `tack/<version>`.
    pub server: String,
    /// Names the server's numbering of rooms and channels. Ids seen under another epoch (the
    /// server restarted and counts from 1 again) say nothing about this one: a client resumes
    /// from the start of the history instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// Answer to `ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Pong {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
}

/// One server → client event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    #[serde(rename = "welcome")]
    Welcome(Welcome),
    #[serde(rename = "chatMessage")]
    Message(ChatMessage),
    #[serde(rename = "chatRoomEnter")]
    Entered(RoomChange),
    #[serde(rename = "chatRoomLeave")]
    Left(RoomChange),
    #[serde(rename = "nickChange")]
    NickChanged(NickChange),
    #[serde(rename = "presence")]
    Presence(Presence),
    #[serde(rename = "ack")]
    Ack(Ack),
    #[serde(rename = "error")]
    Error(ErrorEvent),
    #[serde(rename = "resumed")]
    Resumed(Resumed),
    #[serde(rename = "raw")]
    Raw(Raw),
    #[serde(rename = "pong")]
    Pong(Pong),
}

impl ServerEvent {
    /// Serializes to the JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server events always serialize")
    }

    /// The room (or channel) and id of a numbered event — the ones that are part of history.
    pub fn position(&self) -> Option<(&str, EventId)> {
        match self {
            ServerEvent::Message(m) => Some((&m.room, m.id)),
            ServerEvent::Entered(c) | ServerEvent::Left(c) => Some((&c.room, c.id)),
            ServerEvent::NickChanged(c) => Some((&c.room, c.id)),
            ServerEvent::Raw(r) => Some((&r.channel, r.id)),
            _ => None,
        }
    }
}

/// Anything a server may send as a text frame, including the original system's replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// A Tack event.
    Event(ServerEvent),
    /// The original server's bare broadcast: no type, no id, `comment` HTML-escaped.
    LegacyBroadcast { room: String, comment: String },
    /// The original server's literal `subscribed` reply to an enter.
    LegacySubscribed,
}

/// Why a server frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerFrameError {
    #[error("server frame is {len} bytes; the limit is {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("server frame is not JSON: {0}")]
    NotJson(String),
    #[error("server event has unknown type `{0}`")]
    UnknownType(String),
    #[error("server event `{kind}` is malformed: {detail}")]
    Malformed { kind: String, detail: String },
}

#[derive(Deserialize)]
struct LegacyBroadcast {
    room: String,
    comment: String,
}

impl ServerFrame {
    /// Longest server frame a client accepts (a history replay is many frames, not one).
    pub const MAX_LEN: usize = 1024 * 1024;

    pub fn parse(text: &str) -> Result<ServerFrame, ServerFrameError> {
        if text.len() > Self::MAX_LEN {
            return Err(ServerFrameError::TooLong {
                len: text.len(),
                limit: Self::MAX_LEN,
            });
        }
        let trimmed = text.trim();
        if trimmed == "subscribed" {
            return Ok(ServerFrame::LegacySubscribed);
        }
        let value: serde_json::Value =
            serde_json::from_str(trimmed).map_err(|e| ServerFrameError::NotJson(e.to_string()))?;
        match value.get("type").and_then(|t| t.as_str()) {
            Some(kind) => {
                let kind = kind.to_owned();
                serde_json::from_value::<ServerEvent>(value)
                    .map(ServerFrame::Event)
                    .map_err(|e| {
                        let detail = e.to_string();
                        if detail.starts_with("unknown variant") {
                            ServerFrameError::UnknownType(kind)
                        } else {
                            ServerFrameError::Malformed { kind, detail }
                        }
                    })
            }
            None => serde_json::from_value::<LegacyBroadcast>(value)
                .map(|b| ServerFrame::LegacyBroadcast {
                    room: b.room,
                    comment: b.comment,
                })
                .map_err(|e| ServerFrameError::Malformed {
                    kind: "legacy broadcast".to_owned(),
                    detail: e.to_string(),
                }),
        }
    }
}

/// Escapes a comment the way the original server did before broadcasting it (its pages put
/// `comment` into HTML as it is): `&`, `<`, `>`, `"` and `'` become entities.
pub fn encode_legacy_comment(comment: &str) -> String {
    let mut out = String::with_capacity(comment.len());
    for c in comment.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes the HTML entities the original server put in comments (`&lt;b&gt;` → `<b>`), for a UI
/// that renders text as text.
pub fn decode_legacy_comment(comment: &str) -> String {
    html_escape::decode_html_entities(comment).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Resume positions, as the HTTP transports carry them: `since=a:41,b:7`
// ---------------------------------------------------------------------------------------------

/// The last event id seen per room or channel. Encoded `a:41,b:7`; used in the `since` query
/// parameter and as the SSE `id:` (so `Last-Event-ID` resumes every room at once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions(pub BTreeMap<String, EventId>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionsError {
    #[error("`{0}` is not `name:id`")]
    NoColon(String),
    #[error("`{0}` is not an event id (0 to 2^53 - 1)")]
    BadId(String),
    #[error("name `{name}` {problem}")]
    BadName { name: String, problem: NameProblem },
    #[error("more than {0} positions")]
    TooMany(usize),
}

impl Positions {
    pub const MAX_ENTRIES: usize = 256;

    pub fn parse(s: &str) -> Result<Positions, PositionsError> {
        let mut map = BTreeMap::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            // Split at the last colon: names may contain colons, ids never do.
            let (name, id) = part
                .rsplit_once(':')
                .ok_or_else(|| PositionsError::NoColon(part.to_owned()))?;
            check_name(name).map_err(|problem| PositionsError::BadName {
                name: name.to_owned(),
                problem,
            })?;
            let id: EventId = id
                .parse()
                .ok()
                .filter(|id| *id <= MAX_EVENT_ID)
                .ok_or_else(|| PositionsError::BadId(id.to_owned()))?;
            map.insert(name.to_owned(), id);
            if map.len() > Self::MAX_ENTRIES {
                return Err(PositionsError::TooMany(Self::MAX_ENTRIES));
            }
        }
        Ok(Positions(map))
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (name, id)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push(':');
            out.push_str(&id.to_string());
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<EventId> {
        self.0.get(name).copied()
    }

    /// Records `id` for `name` if it is newer than what is there.
    pub fn advance(&mut self, name: &str, id: EventId) {
        let entry = self.0.entry(name.to_owned()).or_insert(0);
        if id > *entry {
            *entry = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_system_frames_parse_unchanged() {
        assert_eq!(
            ClientFrame::parse(r#"chatRoomEnter:{"room":"test"}"#).unwrap(),
            ClientFrame::Enter(Enter {
                room: "test".into(),
                since: None
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"chatMessage:{"room":"test","comment":"hello"}"#).unwrap(),
            ClientFrame::Message(SendMessage {
                room: "test".into(),
                comment: "hello".into(),
                cid: None
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"chatRoomLeave:{"room":"test"}"#).unwrap(),
            ClientFrame::Leave(Leave {
                room: "test".into()
            })
        );
    }

    #[test]
    fn every_client_frame_round_trips() {
        let frames = [
            ClientFrame::Hello(Hello {
                nick: "ann".into(),
                client: Some("tack/0.1".into()),
                takeover: None,
                token: None,
            }),
            ClientFrame::Hello(Hello {
                nick: "ann".into(),
                client: None,
                takeover: Some("0123456789abcdef0123456789abcdef".into()),
                token: None,
            }),
            ClientFrame::Enter(Enter {
                room: "lobby".into(),
                since: Some(41),
            }),
            ClientFrame::Leave(Leave {
                room: "lobby".into(),
            }),
            ClientFrame::Message(SendMessage {
                room: "lobby".into(),
                comment: "hi: there".into(),
                cid: Some("c-1".into()),
            }),
            ClientFrame::Watch(Watch {
                channel: "orders".into(),
                since: Some(5),
            }),
            ClientFrame::Unwatch(Unwatch {
                channel: "orders".into(),
            }),
            ClientFrame::Ping(Ping { t: Some(7) }),
        ];
        for frame in frames {
            assert_eq!(ClientFrame::parse(&frame.encode()).unwrap(), frame);
        }
    }

    #[test]
    fn refused_frames_say_what_is_wrong() {
        let code = |s: &str| ClientFrame::parse(s).unwrap_err().code().to_string();
        assert_eq!(code("hello"), "bad_frame");
        assert_eq!(code(r#"shout:{"room":"a"}"#), "unknown_event");
        assert_eq!(code("chatMessage:{nope"), "bad_json");
        assert_eq!(code("chatMessage:[1]"), "bad_json");
        assert_eq!(code(r#"chatMessage:{"room":"a"}"#), "missing_field");
        assert_eq!(code(r#"chatRoomEnter:{"room":""}"#), "invalid_name");
        assert_eq!(code(r#"chatRoomEnter:{"room":"a\nb"}"#), "invalid_name");
        assert_eq!(
            code(&format!(r#"chatRoomEnter:{{"room":"{}"}}"#, "x".repeat(65))),
            "invalid_name"
        );
        assert_eq!(
            code(r#"chatRoomEnter:{"room":"a","since":"x"}"#),
            "bad_field"
        );
        let err = ClientFrame::parse(r#"chatMessage:{"room":"a"}"#).unwrap_err();
        assert_eq!(err.to_string(), "chatMessage: missing field `comment`");
        assert_eq!(err.event(), Some("chatMessage"));
    }

    #[test]
    fn nicks_that_would_pass_for_someone_else_are_refused() {
        assert_eq!(check_nick("ann"), Ok(()));
        assert_eq!(check_nick("Zoë Ω"), Ok(()));
        // 32 characters of two bytes each: the limit counts characters.
        assert_eq!(check_nick(&"é".repeat(32)), Ok(()));
        assert_eq!(
            check_nick(&"é".repeat(33)),
            Err(NameProblem::TooLong { len: 33, limit: 32 })
        );
        // A right-to-left override makes `ad\u{202e}nim` show as "admin" reversed.
        assert_eq!(
            check_nick("ad\u{202e}nim"),
            Err(NameProblem::FormatCharacter)
        );
        assert_eq!(check_nick("a\u{200b}nn"), Err(NameProblem::FormatCharacter));
        assert_eq!(check_nick("\u{2066}ann"), Err(NameProblem::FormatCharacter));
        assert_eq!(check_nick(" ann"), Err(NameProblem::Padded));
        assert_eq!(check_nick("ann "), Err(NameProblem::Padded));
        assert_eq!(check_nick("a\tb"), Err(NameProblem::ControlCharacter));
        assert_eq!(check_nick(""), Err(NameProblem::Empty));
    }

    #[test]
    fn a_nick_typed_two_ways_is_one_nick() {
        // "é" as one code point and as "e" plus a combining accent.
        assert_eq!(
            normalize_nick("Jos\u{65}\u{301}"),
            normalize_nick("Jos\u{e9}")
        );
    }

    #[test]
    fn server_events_keep_room_and_comment_at_top_level() {
        let ev = ServerEvent::Message(ChatMessage {
            id: 3,
            room: "lobby".into(),
            user: "ann".into(),
            comment: "hi".into(),
            ts: 1,
            cid: None,
        });
        let v: serde_json::Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(v["type"], "chatMessage");
        assert_eq!(v["room"], "lobby");
        assert_eq!(v["comment"], "hi");
        assert_eq!(
            ServerFrame::parse(&ev.to_json()).unwrap(),
            ServerFrame::Event(ev)
        );
    }

    #[test]
    fn original_server_replies_are_understood() {
        assert_eq!(
            ServerFrame::parse("subscribed").unwrap(),
            ServerFrame::LegacySubscribed
        );
        let ServerFrame::LegacyBroadcast { room, comment } =
            ServerFrame::parse(r#"{"room":"test","comment":"&lt;b&gt; &amp; hi"}"#).unwrap()
        else {
            panic!("expected a legacy broadcast")
        };
        assert_eq!(room, "test");
        assert_eq!(decode_legacy_comment(&comment), "<b> & hi");
    }

    #[test]
    fn positions_round_trip_and_allow_colons_in_names() {
        let p = Positions::parse("a:41,b:c:7").unwrap();
        assert_eq!(p.get("a"), Some(41));
        assert_eq!(p.get("b:c"), Some(7));
        assert_eq!(Positions::parse(&p.encode()).unwrap(), p);
        assert!(matches!(
            Positions::parse("a"),
            Err(PositionsError::NoColon(_))
        ));
        assert!(matches!(
            Positions::parse("a:x"),
            Err(PositionsError::BadId(_))
        ));
    }
}
