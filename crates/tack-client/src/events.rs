//! What the engine tells its consumer, in batches ([`EventBatch`]).
//!
//! This is the one typed boundary between Rust and the desktop UI: the TypeScript types in
//! `ui/src/lib/backend/bindings.ts` are generated from these declarations (feature `ts`).
//! Times are milliseconds since the Unix epoch; ids are the server's per-room event ids.

use crate::profile::Transport;
use serde::{Deserialize, Serialize};

/// A room (entered: chat, enters, leaves) or a channel (watched: raw items). The server numbers
/// each apart and a name may be both, so whatever belongs to one of them (its gaps, its
/// figures) names it with this, never with the bare name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", content = "name", rename_all = "lowercase")]
pub enum Target {
    Room(String),
    Channel(String),
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Room(name) | Target::Channel(name) => name,
        }
    }

    /// The channel of a room's name, or the room of a channel's.
    pub fn other(&self) -> Target {
        match self {
            Target::Room(name) => Target::Channel(name.clone()),
            Target::Channel(name) => Target::Room(name.clone()),
        }
    }
}

/// Events are delivered in batches (every ~16 ms or every N events, whichever comes first) so a
/// fast channel never floods the consumer.
pub type EventBatch = Vec<ClientEvent>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    Connecting,
    Connected,
    Reconnecting,
    Offline,
}

/// The connection as the user should see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionState {
    pub status: ConnectionStatus,
    /// The transport in use (or being tried).
    pub transport: Option<Transport>,
    /// Reconnect attempt number; 0 while connected.
    pub attempt: u32,
    /// When the next attempt starts, if one is scheduled.
    pub retry_at: Option<u64>,
    /// Last measured round trip.
    pub rtt_ms: Option<u32>,
    /// The profile's display name.
    pub server: String,
    /// Why we are not (fully) connected: the last error, or why a slower transport is in use.
    pub reason: Option<String>,
    /// Connected, but on a fallback transport.
    pub degraded: bool,
}

/// A message's delivery state in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum SendState {
    /// Queued or on the wire, not yet acknowledged.
    Pending,
    /// Acknowledged by the server as event `id` (`id` is absent on servers without acks).
    Sent { id: Option<u64> },
    /// Given up on; the UI offers Retry.
    Failed { reason: String },
}

/// What the server supports, learned at connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerInfo {
    /// The nickname the server knows us by.
    pub nick: String,
    /// `tack/<version>`, or `legacy` for an original-system server.
    pub server: String,
    /// False on original-system servers: no ids, no history, no resume.
    pub resume: bool,
    /// False on original-system servers: sends are "sent" once written, never acknowledged.
    pub acks: bool,
    /// The server's numbering epoch: ids count within it, and a restarted server counts from 1
    /// again under a new one. `None` on servers that do not say (original-system ones).
    pub epoch: Option<String>,
}

/// Per room or channel monitoring figures, emitted about once a second while traffic flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelStats {
    pub target: Target,
    pub messages: u64,
    pub bytes: u64,
    /// Oldest items of a channel the engine no longer keeps for export: its memory for them is
    /// bounded in bytes (`SessionOptions::export_budget`).
    pub dropped: u64,
    pub rate_1s: f64,
    pub rate_10s: f64,
    /// Median delivery latency over the last second, when the server stamps `ts`.
    pub latency_ms: Option<f64>,
}

/// Where a replay of a recording stands, sent when it changes (at most every frame or so
/// while it plays).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReplayStatus {
    /// Items in the recording.
    pub total: u64,
    /// Items delivered so far.
    pub position: u64,
    pub playing: bool,
    /// How many times faster than recorded; 0: as fast as possible.
    pub speed: f64,
    /// The recorded time the replay stands at, and the first and last items' receive times.
    pub at: u64,
    pub first: u64,
    pub last: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ClientEvent {
    /// The connection changed state.
    State(ConnectionState),
    /// Connected to a server (after every reconnect too).
    Server(ServerInfo),
    /// A chat message in a room (others' and our own, once the server broadcast it).
    Message {
        room: String,
        id: Option<u64>,
        user: String,
        comment: String,
        ts: Option<u64>,
        cid: Option<String>,
        /// Sent by this session.
        own: bool,
    },
    /// Someone entered a room.
    Entered {
        room: String,
        id: Option<u64>,
        user: String,
        viewers: Option<u32>,
        ts: Option<u64>,
    },
    /// Someone left a room.
    Left {
        room: String,
        id: Option<u64>,
        user: String,
        viewers: Option<u32>,
        ts: Option<u64>,
    },
    /// Someone in a room changed nick (`user` the old one, `nick` the new one).
    NickChanged {
        room: String,
        id: Option<u64>,
        user: String,
        nick: String,
        ts: Option<u64>,
    },
    /// Who is in a room now.
    Presence {
        room: String,
        viewers: u32,
        users: Vec<String>,
    },
    /// We are in this room now (after enter, and after each re-enter on reconnect).
    Joined { room: String },
    /// We left this room.
    Parted { room: String },
    /// An outbox message changed state.
    Send {
        cid: String,
        room: String,
        comment: String,
        #[serde(flatten)]
        state: SendState,
    },
    /// A room's or channel's history could not be replayed whole (after a reconnect, or while
    /// fetching ids skipped on the way): events after `after_id` and before the next one
    /// delivered there may be missing. The UI shows a marker at that place.
    Gap {
        target: Target,
        after_id: Option<u64>,
    },
    /// An item on a watched channel.
    Raw {
        channel: String,
        id: Option<u64>,
        ts: Option<u64>,
        /// Text as is; binary content base64-encoded.
        payload: String,
        binary: bool,
        /// Payload size in bytes (decoded).
        size: u32,
        /// When the engine received it.
        received: u64,
        /// What the monitor's jq query made of it, while one is set
        /// (`Session::set_monitor_query`).
        #[cfg_attr(feature = "ts", ts(optional))]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<crate::query::Verdict>,
    },
    /// Items of a watched channel that were counted but not delivered: a consumer that cannot
    /// use every item at extreme rates (the desktop window) is sent only the newest ones. The
    /// engine never leaves items out itself; its figures and export include these.
    Skipped {
        channel: String,
        count: u32,
        bytes: u64,
    },
    /// Monitoring figures for a room or channel.
    Stats(ChannelStats),
    /// A recording in progress: its file and the items written so far (about once a second),
    /// and why its file could not be written, once it could not.
    Recording {
        path: String,
        items: u64,
        error: Option<String>,
    },
    /// Where the open recording's replay stands. Its items come as `Raw` events.
    Replay(ReplayStatus),
    /// Something the user should know about (a refused frame, a rate limit, a server error).
    Error {
        code: String,
        message: String,
        room: Option<String>,
        /// Something the user could use instead (for `nick_taken`, a free nick).
        suggestion: Option<String>,
    },
}

/// The TypeScript declarations of every type in the IPC contract, as one file.
#[cfg(feature = "ts")]
pub fn typescript_bindings() -> String {
    use crate::binary::{BinaryFormat, BinaryView, DecodedValue};
    use crate::profile::{BuiltinServer, Profile, TransportChoice};
    use crate::query::{QueryApplied, QueryError, QueryField, Rejudged, Verdict};
    use ts_rs::{Config, TS};
    // Ids and times are u64 in Rust but stay far below 2^53, and serde_json writes them as plain
    // JSON numbers, so `number` (not `bigint`) is what the UI actually receives.
    let cfg = Config::default().with_large_int("number".to_owned());
    let decls = [
        Target::decl(&cfg),
        TransportChoice::decl(&cfg),
        Transport::decl(&cfg),
        Profile::decl(&cfg),
        BuiltinServer::decl(&cfg),
        ConnectionStatus::decl(&cfg),
        ConnectionState::decl(&cfg),
        SendState::decl(&cfg),
        ServerInfo::decl(&cfg),
        ChannelStats::decl(&cfg),
        ReplayStatus::decl(&cfg),
        crate::player::Steer::decl(&cfg),
        Verdict::decl(&cfg),
        QueryField::decl(&cfg),
        QueryError::decl(&cfg),
        Rejudged::decl(&cfg),
        QueryApplied::decl(&cfg),
        BinaryFormat::decl(&cfg),
        DecodedValue::decl(&cfg),
        BinaryView::decl(&cfg),
        ClientEvent::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/tack-client (ts-rs). Do not edit: run `scripts/gen-bindings.sh`.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str("export type EventBatch = Array<ClientEvent>;\n");
    out
}
