//! The hub: rooms, channels, numbering, history, presence and idempotency — behind a trait.
//!
//! The hub owns what is shared between sessions: who is in which room, each channel's numbering
//! and its [`Feed`] (history and live fan-out in one), and the `cid`s already accepted. It never
//! touches a socket and never waits for a client: a subscriber gets the feed in [`Joined`] and
//! reads it from its own cursor, in its own task.
//!
//! [`MemoryHub`](crate::memory_hub::MemoryHub) keeps all of this in one process;
//! [`RedisHub`](crate::redis_hub::RedisHub) keeps it in Redis, shared by several servers. An
//! [`ItemSink`] sees every item the hub numbers, in order: that is how the GRIP front door
//! publishes to Pushpin without a second path through the chat logic.

use crate::error::HubError;
use crate::feed::Feed;
use crate::item::{Item, ItemBody};
use async_trait::async_trait;
use std::sync::Arc;
use tack_protocol::chat::{EventId, Presence, Resumed};

/// A process-unique number for a session.
pub type SessionKey = u64;

/// A session as the hub sees it.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: SessionKey,
    pub nick: Arc<str>,
}

/// The outcome of an accepted chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub id: EventId,
    /// True when this `cid` had been accepted before: nothing was broadcast this time.
    pub duplicate: bool,
}

/// What a session needs to start following a room or channel.
#[derive(Debug)]
pub struct Joined {
    pub feed: Arc<Feed>,
    /// For a viewer: who is in the room, before its own `chatRoomEnter`.
    pub presence: Option<Presence>,
    /// The subscriber's cursor starts here: the `since` it resumes from (or the oldest id
    /// still kept after it), or the channel's newest id before the join.
    pub start: EventId,
    /// The replay: every kept item after `start` up to the channel's newest id at the join,
    /// oldest first, taken at the join; the feed is read after it.
    pub backfill: Vec<Arc<Item>>,
    /// With `since`: the answer that ends the replay, sent once the cursor reaches its
    /// `last_id`.
    pub resumed: Option<Resumed>,
    /// The id of the joiner's own `chatRoomEnter`, when this join announced one.
    pub announced: Option<EventId>,
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Rooms with at least one viewer.
    pub rooms: usize,
    /// Channels in memory, with or without viewers.
    pub channels: usize,
}

/// Sees every item the hub numbers, in each channel's id order, while the channel is still
/// locked. Must not block: queue and return.
pub trait ItemSink: Send + Sync + 'static {
    /// `epoch` is the hub's ([`Hub::epoch`]); `sender` is the joiner of its own
    /// `chatRoomEnter` (that subscriber already has it).
    fn appended(&self, epoch: &str, item: &Arc<Item>, sender: Option<SessionKey>);
}

#[async_trait]
pub trait Hub: Send + Sync + 'static {
    /// Puts `member` in `room` and announces `chatRoomEnter` to it (not again when the member
    /// is there already, which only replays).
    async fn enter(
        &self,
        room: &str,
        member: &Member,
        since: Option<EventId>,
    ) -> Result<Joined, HubError>;

    /// Claims `nick` for session `key`, case-insensitively: true when it is now (or already
    /// was) this session's, false when another live session holds it.
    async fn claim_nick(&self, nick: &str, key: SessionKey) -> Result<bool, HubError>;

    /// Gives `nick` up, if `key` holds it (the session renamed itself or ended).
    async fn release_nick(&self, nick: &str, key: SessionKey);

    /// `member` (its new nick in `member.nick`), in `room` as `old`, changed nick: the room
    /// gets `nickChange` and presence shows the new nick. False if it was not there.
    async fn rename(&self, room: &str, member: &Member, old: &str) -> Result<bool, HubError>;

    /// Takes `member` out of `room` and announces `chatRoomLeave`. False if it was not there.
    async fn leave(&self, room: &str, member: &Member) -> Result<bool, HubError>;

    /// Broadcasts a chat message from `member`, or finds the earlier one with the same `cid`.
    async fn message(
        &self,
        room: &str,
        member: &Member,
        comment: String,
        cid: Option<String>,
    ) -> Result<Sent, HubError>;

    /// A watcher's start on `channel`'s raw items, replaying after `since`.
    async fn watch(&self, channel: &str, since: Option<EventId>) -> Result<Joined, HubError>;

    /// A watcher of `channel` is gone.
    async fn unwatch(&self, channel: &str);

    /// Appends a published item to `channel`; returns its id.
    async fn publish(&self, channel: &str, body: ItemBody) -> Result<EventId, HubError>;

    /// Drops expired history and forgets channels nobody uses.
    async fn sweep(&self);

    fn stats(&self) -> HubStats;

    /// Whether this hub holds `channel` now (so following it makes nothing new), and how many
    /// it holds: what `max_channels` is checked against.
    fn holds(&self, channel: &str) -> bool;
    fn channel_count(&self) -> usize;

    /// Names this hub's numbering: a new value whenever ids start again from 1 (an in-memory
    /// hub at every start), so clients know their old resume points mean nothing here.
    fn epoch(&self) -> &str;

    /// Resolves once the hub can serve. A hub with outside state (the Redis hub) connects
    /// first and learns its epoch, which `welcome` carries; the server accepts no connection
    /// before. Added for the Redis hub; the in-memory hub is ready at once.
    async fn ready(&self) {}

    /// Appends the hub's own lines to `/metrics` (the Redis hub: round-trip times, errors,
    /// reconnects, gaps). Added for the Redis hub; the in-memory hub has none.
    fn render_metrics(&self, _out: &mut String) {}
}
