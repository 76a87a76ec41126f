//! What the store keeps: entries (chat events, channel items, gaps) in places (rooms and
//! channels) on servers, and what it hands back (stored entries, resume points, search hits).

/// A room (chat: messages, enters, leaves) or a channel (raw items). The server numbers each
/// apart and a name may be both, so the kind is part of the place's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    Room(String),
    Channel(String),
}

impl Place {
    pub fn name(&self) -> &str {
        match self {
            Place::Room(name) | Place::Channel(name) => name,
        }
    }

    pub(crate) fn kind_code(&self) -> i64 {
        match self {
            Place::Room(_) => 0,
            Place::Channel(_) => 1,
        }
    }

    pub(crate) fn from_code(kind: i64, name: String) -> Place {
        if kind == 1 {
            Place::Channel(name)
        } else {
            Place::Room(name)
        }
    }
}

/// One thing that happened in a place, as the app writes it.
///
/// `id` is the server's event id, counted per place within one `epoch` (the server's name for
/// its numbering: a restarted server counts from 1 again under a new one). Ids are consecutive
/// (1, 2, 3, ...), which is what lets an entry arriving inside a gap shrink it. For a
/// [`Body::Gap`], `id` is the last id received before the stretch that is missing; for
/// [`Body::Renumbered`] it is 0. A server without ids (the original system) has no history to
/// merge with: the app numbers its events itself under an epoch of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The server's key (the profile's id in the app). Its display name is set apart
    /// ([`crate::Store::name_server`]), so a rename keeps the history.
    pub server: String,
    pub place: Place,
    pub epoch: String,
    pub id: u64,
    /// When it happened, ms since the Unix epoch: the server's stamp when it has one, else when
    /// the app received it. Oldest entries by this time go first when the store is full.
    pub at: u64,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Message {
        nick: String,
        comment: String,
    },
    Entered {
        nick: String,
    },
    Left {
        nick: String,
    },
    NickChanged {
        nick: String,
        new_nick: String,
    },
    /// An item on a channel.
    Item {
        payload: Payload,
    },
    /// Events after the entry's `id` and before `before` (both exclusive) were never received.
    /// `None`: up to the next event stored in this place and epoch, which closes it when it
    /// arrives (the engine's `Gap` says "missing until the next one delivered"). Events that
    /// arrive later inside the stretch shrink it, and it disappears once nothing is missing.
    Gap {
        before: Option<u64>,
    },
    /// The server began numbering again (a new epoch): whatever happened between the last
    /// event of the previous epoch and the first of this one was never received. No event can
    /// fill it, so it stays.
    Renumbered,
}

impl Body {
    /// What the schema stores in `entry.kind`. Within one id the order is event then gap, and a
    /// renumbering (id 0) comes before everything of its epoch.
    pub(crate) fn kind_code(&self) -> i64 {
        match self {
            Body::Renumbered => KIND_RENUMBERED,
            Body::Message { .. } => 1,
            Body::Entered { .. } => 2,
            Body::Left { .. } => 3,
            Body::NickChanged { .. } => 4,
            Body::Item { .. } => 5,
            Body::Gap { .. } => KIND_GAP,
        }
    }

    pub(crate) fn is_event(&self) -> bool {
        !matches!(self, Body::Gap { .. } | Body::Renumbered)
    }
}

pub(crate) const KIND_RENUMBERED: i64 = 0;
pub(crate) const KIND_GAP: i64 = 6;

/// A channel item's content. Text is searchable; binary content is kept as is and never
/// indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

/// An entry's key in the store, to ask for its context ([`crate::Store::context`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey(pub i64);

/// An entry as read back, with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: EntryKey,
    pub entry: Entry,
}

/// Where to resume a place after a restart: enter with `since = id`, if the server's epoch is
/// still `epoch` (if not, the ids say nothing about the new numbering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    pub epoch: String,
    pub id: u64,
}

/// A place the store has seen on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceInfo {
    pub place: Place,
    /// The user was in it (entered or watching) when the app last said so: re-enter it after a
    /// restart.
    pub open: bool,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub key: EntryKey,
    /// The server's key and display name.
    pub server: String,
    pub server_name: String,
    pub place: Place,
    pub id: u64,
    pub at: u64,
    pub nick: Option<String>,
    /// The text around the matched words, which are marked.
    pub snippet: Vec<SnippetPiece>,
}

/// A stretch of a snippet: matched words, or the text between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnippetPiece {
    pub text: String,
    pub matched: bool,
}
