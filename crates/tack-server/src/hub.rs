//! The hub: rooms, channels, history, presence and idempotency — behind a trait.
//!
//! The hub owns everything that is shared between connections: which sessions are in which
//! room, who watches which channel, each channel's numbering and bounded history, and the
//! `cid`s already accepted. It delivers by pushing into subscribers' [`Outbox`]es; it never
//! touches a socket and never waits for a client.
//!
//! [`MemoryHub`](crate::memory_hub::MemoryHub) keeps all of this in one process. A second
//! implementation can keep history and membership in Redis for several machines, and the
//! Pushpin origin mode drives the same trait from GRIP requests instead of sockets.

use crate::error::HubError;
use crate::item::ItemBody;
use crate::outbox::Outbox;
use async_trait::async_trait;
use std::sync::Arc;
use tack_protocol::chat::EventId;

/// A process-unique number for a connection or HTTP session.
pub type SessionKey = u64;

/// A session as the hub sees it: who it is and where its events go.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: SessionKey,
    pub nick: Arc<str>,
    pub outbox: Outbox,
}

/// The outcome of an accepted chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub id: EventId,
    /// True when this `cid` had been accepted before: nothing was broadcast this time.
    pub duplicate: bool,
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Rooms with at least one viewer.
    pub rooms: usize,
    /// Channels in memory, with or without viewers.
    pub channels: usize,
}

#[async_trait]
pub trait Hub: Send + Sync + 'static {
    /// Puts `member` in `room`. Queues to the member, in order: `presence`, then (with `since`)
    /// every event after `since` and `resumed`; then announces `chatRoomEnter` to the room
    /// including the member. Entering a room again replays but is not announced again.
    async fn enter(&self, room: &str, member: &Member, since: Option<EventId>);

    /// Takes `member` out of `room` and announces `chatRoomLeave`. False if it was not there.
    async fn leave(&self, room: &str, member: &Member) -> bool;

    /// Broadcasts a chat message from `member`, or finds the earlier one with the same `cid`.
    async fn message(
        &self,
        room: &str,
        member: &Member,
        comment: String,
        cid: Option<String>,
    ) -> Result<Sent, HubError>;

    /// Subscribes `member` to every item of `channel` as `raw`, replaying after `since` first.
    async fn watch(&self, channel: &str, member: &Member, since: Option<EventId>);

    /// Stops watching. False if `member` was not watching.
    async fn unwatch(&self, channel: &str, member: &Member) -> bool;

    /// Appends a published item to `channel` and delivers it; returns its id.
    async fn publish(&self, channel: &str, body: ItemBody) -> EventId;

    /// Items of `channel` with `after < id <= upto` still in history, oldest first.
    async fn history(
        &self,
        channel: &str,
        after: EventId,
        upto: EventId,
    ) -> Vec<Arc<crate::item::Item>>;

    /// Drops expired history and forgets channels nobody uses.
    async fn sweep(&self);

    fn stats(&self) -> HubStats;

    /// Names this hub's numbering: a new value whenever ids start again from 1 (an in-memory
    /// hub at every start), so clients know their old resume points mean nothing here.
    fn epoch(&self) -> &str;
}
