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
use crate::origin::channels::{item_publishes, session_close, session_hint};
use crate::origin::publisher::{PublishItem, Publisher};
use crate::outbox::{Outbound, Outbox};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
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
    /// Who is in or watching each observed channel. When nobody is, the observer stops
    /// watching too, so the inner hub can forget the channel once its history has expired.
    interest: Mutex<HashMap<Arc<str>, Interest>>,
    /// A queue whose receiver is gone: deliveries to it are dropped without a kick.
    closed: Outbox,
    /// This process's prefix of every id published to Pushpin (see `channels::pushpin_id`).
    epoch: String,
}

#[derive(Default)]
struct Interest {
    members: HashSet<SessionKey>,
    watchers: HashSet<SessionKey>,
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
            interest: Mutex::new(HashMap::new()),
            closed,
            epoch: format!("{:08x}", rand::random::<u32>()),
        }
    }

    /// Tells every Pushpin instance to ask the origin again for HTTP session `session`.
    pub fn hint(&self, session: &str) {
        self.publisher
            .send(&[PublishItem::from(session_hint(session))]);
    }

    /// Tells every Pushpin instance to end the stream it holds for HTTP session `session`.
    pub fn close_session(&self, session: &str) {
        self.publisher
            .send(&[PublishItem::from(session_close(session))]);
    }

    /// The prefix of the ids this origin publishes to Pushpin.
    pub fn epoch(&self) -> &str {
        &self.epoch
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

    /// Records that `key` is (or is no longer) a member or watcher of `channel`.
    fn note(&self, channel: &str, key: SessionKey, member: bool, present: bool) {
        let mut interest = self.interest.lock();
        let entry = interest.entry(Arc::from(channel)).or_default();
        let set = if member {
            &mut entry.members
        } else {
            &mut entry.watchers
        };
        if present {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    /// Stops observing `channel` when no session of the origin is in it or watching it.
    async fn forget_if_unused(&self, channel: &str) {
        let unused = {
            let mut interest = self.interest.lock();
            let unused = !matches!(
                interest.get(channel),
                Some(i) if !(i.members.is_empty() && i.watchers.is_empty())
            );
            if unused {
                interest.remove(channel);
            }
            unused
        };
        if unused && self.observed.lock().remove(channel) {
            self.inner.unwatch(channel, &self.observer).await;
        }
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
                items.extend(item_publishes(&item, sender, &self.epoch).map(PublishItem::from));
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
        self.note(room, member.key, true, true);
        self.publish_observed(own);
    }

    async fn leave(&self, room: &str, member: &Member) -> bool {
        let _order = self.order.lock().await;
        let left = self.inner.leave(room, &self.detached(member)).await;
        self.publish_observed(None);
        self.note(room, member.key, true, false);
        self.forget_if_unused(room).await;
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
        self.note(channel, member.key, false, true);
        self.publish_observed(None);
    }

    async fn unwatch(&self, channel: &str, member: &Member) -> bool {
        let _order = self.order.lock().await;
        let was = self.inner.unwatch(channel, &self.detached(member)).await;
        self.note(channel, member.key, false, false);
        self.forget_if_unused(channel).await;
        was
    }

    async fn publish(&self, channel: &str, body: ItemBody) -> EventId {
        let _order = self.order.lock().await;
        self.observe(channel).await;
        let id = self.inner.publish(channel, body).await;
        self.publish_observed(None);
        self.forget_if_unused(channel).await;
        id
    }

    async fn history(&self, channel: &str, after: EventId, upto: EventId) -> Vec<Arc<Item>> {
        self.inner.history(channel, after, upto).await
    }

    async fn sweep(&self) {
        self.inner.sweep().await;
    }

    fn epoch(&self) -> &str {
        self.inner.epoch()
    }

    fn stats(&self) -> HubStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_hub::{HistoryLimits, MemoryHub};
    use std::time::Duration;

    fn hub(age: Duration) -> OriginHub {
        let inner = MemoryHub::new(HistoryLimits { len: 100, age });
        let publisher = Publisher::start(&[], tokio_util::sync::CancellationToken::new());
        OriginHub::new(Arc::new(inner), publisher, Arc::new(Metrics::default()))
    }

    fn member(key: SessionKey, nick: &str) -> (Member, mpsc::Receiver<Outbound>) {
        let (outbox, queue) = Outbox::new(4, Arc::new(Metrics::default()));
        let member = Member {
            key,
            nick: Arc::from(nick),
            outbox,
        };
        (member, queue)
    }

    #[tokio::test]
    async fn a_member_queue_gets_its_own_answers_and_never_the_room_traffic() {
        let hub = hub(Duration::from_secs(60));
        let (ann, mut ann_queue) = member(1, "ann");
        let (bob, _) = member(2, "bob");
        hub.enter("lobby", &ann, None).await;
        assert!(matches!(ann_queue.try_recv(), Ok(Outbound::Joined(_))));
        assert!(matches!(ann_queue.try_recv(), Ok(Outbound::Item { item, .. }) if item.id == 1));
        hub.enter("lobby", &bob, None).await;
        // More than the queue holds: Pushpin delivers these, the queue must not fill and kick.
        for n in 0..10 {
            hub.message("lobby", &bob, format!("{n}"), None)
                .await
                .unwrap();
        }
        assert!(ann_queue.try_recv().is_err());
        assert!(!ann.outbox.ended().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_room_nobody_is_in_is_forgotten_once_its_history_expires() {
        let hub = hub(Duration::ZERO);
        let (ann, _queue) = member(1, "ann");
        hub.enter("lobby", &ann, None).await;
        hub.leave("lobby", &ann).await;
        tokio::time::advance(Duration::from_millis(5)).await;
        hub.sweep().await;
        assert_eq!(hub.stats().channels, 0);
    }
}
