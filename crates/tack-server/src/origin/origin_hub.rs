//! The hub as the origin mode drives it: the same rooms, numbering, history and presence,
//! but delivery goes through Pushpin instead of per-connection queues.
//!
//! [`OriginHub`] wraps any [`Hub`] and changes two things:
//! - **Every new item is published**, once, to every Pushpin instance. An observer watches
//!   every channel the origin touches; after each hub call (all of them take one lock, so the
//!   order of items in a channel is the order of publishes) its queue is drained into the
//!   [`Publisher`].
//! - **A member's queue only gets its own answers.** Pushpin delivers room traffic, so the hub
//!   must not also queue it for every member (nobody would read it, and a full queue kicks).
//!   Members are handed to the inner hub with a closed queue, whose deliveries are dropped at
//!   no cost; only the answer to an enter or watch (presence, replay, `resumed`) and the
//!   joiner's own `chatRoomEnter` — which Pushpin cannot deliver yet, because the subscription
//!   is made by the same response — are captured and passed to the member's real queue.

use crate::error::HubError;
use crate::hub::{Hub, HubStats, Member, Sent, SessionKey};
use crate::item::{Item, ItemBody};
use crate::metrics::Metrics;
use crate::origin::channels::{item_publishes, session_hint};
use crate::origin::publisher::{PublishItem, Publisher};
use crate::outbox::{Outbound, Outbox};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use tack_protocol::chat::EventId;
use tokio::sync::mpsc;

/// The observer's key; session keys count up from 1 and never reach it.
const OBSERVER_KEY: SessionKey = SessionKey::MAX;
/// Deep enough for what one hub call produces.
const CAPTURE_LEN: usize = 16;
/// The observer's queue is drained after every call; this only bounds a burst of publishes.
const OBSERVER_LEN: usize = 65_536;

pub struct OriginHub {
    inner: Arc<dyn Hub>,
    publisher: Publisher,
    metrics: Arc<Metrics>,
    /// Held across each call into the inner hub and the drain that follows, so the drained
    /// items are exactly the ones that call made, in order.
    order: tokio::sync::Mutex<()>,
    observer: Member,
    observer_queue: Mutex<mpsc::Receiver<Outbound>>,
    observed: Mutex<HashSet<Arc<str>>>,
    /// A queue whose receiver is gone: deliveries to it are dropped without a kick.
    closed: Outbox,
}

impl OriginHub {
    pub fn new(inner: Arc<dyn Hub>, publisher: Publisher, metrics: Arc<Metrics>) -> OriginHub {
        let (outbox, queue) = Outbox::new(OBSERVER_LEN, metrics.clone());
        let (closed, _) = Outbox::new(1, metrics.clone());
        OriginHub {
            inner,
            publisher,
            metrics,
            order: tokio::sync::Mutex::new(()),
            observer: Member {
                key: OBSERVER_KEY,
                nick: Arc::from("pushpin"),
                outbox,
            },
            observer_queue: Mutex::new(queue),
            observed: Mutex::new(HashSet::new()),
            closed,
        }
    }

    /// Tells every Pushpin instance to ask the origin again for HTTP session `session`.
    pub fn hint(&self, session: &str) {
        self.publisher
            .send(&[PublishItem::from(session_hint(session))]);
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Makes sure the observer watches `channel`, so its items get published.
    async fn observe(&self, channel: &str) {
        if self.observed.lock().contains(channel) {
            return;
        }
        self.inner.watch(channel, &self.observer, None).await;
        self.observed.lock().insert(Arc::from(channel));
    }

    /// Publishes everything the observer has seen since the last call. `own` is a joiner's
    /// own `chatRoomEnter` (channel, id, joiner), published with the joiner as `sender`.
    fn publish_observed(&self, own: Option<(&str, EventId, SessionKey)>) {
        let mut items: Vec<PublishItem> = Vec::new();
        let mut queue = self.observer_queue.lock();
        while let Ok(out) = queue.try_recv() {
            if let Outbound::Item { item, .. } = out {
                let sender = own
                    .filter(|(channel, id, _)| *channel == &*item.channel && *id == item.id)
                    .map(|(_, _, key)| key);
                items.extend(item_publishes(&item, sender).map(PublishItem::from));
            }
        }
        drop(queue);
        self.publisher.send(&items);
    }

    /// `member` with a closed queue, as the inner hub should keep it.
    fn detached(&self, member: &Member) -> Member {
        Member {
            key: member.key,
            nick: member.nick.clone(),
            outbox: self.closed.clone(),
        }
    }

    /// `member` with a fresh queue to catch what one call answers it.
    fn capturing(&self, member: &Member) -> (Member, mpsc::Receiver<Outbound>) {
        let (outbox, queue) = Outbox::new(CAPTURE_LEN, self.metrics.clone());
        let capturing = Member {
            key: member.key,
            nick: member.nick.clone(),
            outbox,
        };
        (capturing, queue)
    }

    /// Passes what was captured to the member's real queue, and returns the id of the
    /// member's own numbered item among it (its `chatRoomEnter`). The capture's receiver is
    /// dropped on return, so the inner hub's later deliveries to this member cost nothing.
    fn forward(member: &Member, mut captured: mpsc::Receiver<Outbound>) -> Option<EventId> {
        let mut own = None;
        while let Ok(out) = captured.try_recv() {
            if let Outbound::Item { item, .. } = &out {
                own = Some(item.id);
            }
            member.outbox.deliver(out);
        }
        own
    }
}

#[async_trait]
impl Hub for OriginHub {
    async fn enter(&self, room: &str, member: &Member, since: Option<EventId>) {
        let _order = self.order.lock().await;
        self.observe(room).await;
        let (capturing, captured) = self.capturing(member);
        self.inner.enter(room, &capturing, since).await;
        let own = Self::forward(member, captured).map(|id| (room, id, member.key));
        self.publish_observed(own);
    }

    async fn leave(&self, room: &str, member: &Member) -> bool {
        let _order = self.order.lock().await;
        let left = self.inner.leave(room, &self.detached(member)).await;
        self.publish_observed(None);
        left
    }

    async fn message(
        &self,
        room: &str,
        member: &Member,
        comment: String,
        cid: Option<String>,
    ) -> Result<Sent, HubError> {
        let _order = self.order.lock().await;
        let sent = self
            .inner
            .message(room, &self.detached(member), comment, cid)
            .await;
        self.publish_observed(None);
        sent
    }

    async fn watch(&self, channel: &str, member: &Member, since: Option<EventId>) {
        let _order = self.order.lock().await;
        self.observe(channel).await;
        let (capturing, captured) = self.capturing(member);
        self.inner.watch(channel, &capturing, since).await;
        Self::forward(member, captured);
        self.publish_observed(None);
    }

    async fn unwatch(&self, channel: &str, member: &Member) -> bool {
        let _order = self.order.lock().await;
        self.inner.unwatch(channel, &self.detached(member)).await
    }

    async fn publish(&self, channel: &str, body: ItemBody) -> EventId {
        let _order = self.order.lock().await;
        self.observe(channel).await;
        let id = self.inner.publish(channel, body).await;
        self.publish_observed(None);
        id
    }

    async fn history(&self, channel: &str, after: EventId, upto: EventId) -> Vec<Arc<Item>> {
        self.inner.history(channel, after, upto).await
    }

    async fn sweep(&self) {
        self.inner.sweep().await;
    }

    fn stats(&self) -> HubStats {
        self.inner.stats()
    }
}
