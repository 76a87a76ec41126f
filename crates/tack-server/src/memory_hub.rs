//! The in-process [`Hub`]: every room and channel in memory, one lock per channel.
//!
//! A channel's lock is held while an event is numbered and appended to its [`Feed`] — that is
//! what keeps a channel's ids in order and makes a join's starting point exact: the cursor a
//! joiner gets is taken under the same lock as the appends around it. Appending wakes
//! subscribers but writes nothing for them, so the lock is held for microseconds.

use crate::error::HubError;
use crate::feed::{Feed, Retention};
use crate::hub::{Hub, HubStats, ItemSink, Joined, Member, Sent, SessionKey};
use crate::item::{Item, ItemBody};
use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tack_protocol::chat::{
    ChatMessage, EventId, Millis, NickChange, Presence, Resumed, RoomChange, ServerEvent,
};

pub struct MemoryHub {
    retention: Retention,
    /// Fresh at every start: history lives in memory, so numbering restarts with the process.
    epoch: String,
    channels: RwLock<HashMap<Arc<str>, Arc<Mutex<Channel>>>>,
    /// Nicks in use (lowercased) and the session holding each.
    nicks: Mutex<HashMap<String, SessionKey>>,
    sink: Option<Arc<dyn ItemSink>>,
}

/// One room or channel: its feed, its viewers and the `cid`s of messages still in history.
struct Channel {
    name: Arc<str>,
    feed: Arc<Feed>,
    /// Viewers: sessions that entered the room, with their nicks.
    members: HashMap<SessionKey, Arc<str>>,
    /// `cid` → id of the message it was accepted as, for messages the feed still holds.
    cids: HashMap<String, EventId>,
    /// The same cids in id order, so they are forgotten with their messages.
    cid_order: VecDeque<(EventId, String)>,
    /// Set when `sweep` has dropped this channel from the map; whoever finds it set after
    /// taking the lock looks the channel up again instead of using a forgotten one.
    retired: bool,
}

pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

impl Channel {
    fn new(name: Arc<str>) -> Channel {
        Channel {
            feed: Arc::new(Feed::new(name.clone(), 0)),
            name,
            members: HashMap::new(),
            cids: HashMap::new(),
            cid_order: VecDeque::new(),
            retired: false,
        }
    }

    fn viewers(&self) -> u32 {
        u32::try_from(self.members.len()).unwrap_or(u32::MAX)
    }

    fn next_id(&self) -> EventId {
        self.feed.last_id() + 1
    }

    /// Forgets the `cid`s of messages the feed no longer holds.
    fn forget_old_cids(&mut self) {
        let floor = self.feed.floor();
        while let Some((id, _)) = self.cid_order.front() {
            if *id > floor {
                break;
            }
            let (id, cid) = self.cid_order.pop_front().expect("front exists");
            if self.cids.get(&cid) == Some(&id) {
                self.cids.remove(&cid);
            }
        }
    }

    fn presence(&self) -> Presence {
        let mut users: Vec<String> = self.members.values().map(|n| n.to_string()).collect();
        users.sort();
        users.dedup();
        Presence {
            room: self.name.to_string(),
            viewers: self.viewers(),
            users,
            last_id: self.feed.last_id(),
        }
    }

    /// Where a subscriber joining now starts, what it is replayed, and the `resumed` answer
    /// when it resumes. The replay is taken now, under the channel's lock: the items that
    /// follow (the joiner's own `chatRoomEnter` first) may push it out of a short feed before
    /// the joiner reads.
    fn start(
        &self,
        watcher: bool,
        since: Option<EventId>,
    ) -> (EventId, Vec<Arc<Item>>, Option<Resumed>) {
        let last_id = self.feed.last_id();
        let Some(since) = since else {
            return (last_id, Vec::new(), None);
        };
        // Ids from before a restart of this channel's numbering (or from nowhere) cannot be
        // resumed: start from what the feed holds and say that something may be missing.
        let floor = self.feed.floor();
        let start = since.clamp(floor, last_id);
        let resumed = Resumed {
            room: (!watcher).then(|| self.name.to_string()),
            channel: watcher.then(|| self.name.to_string()),
            recovered: start == since,
            since,
            last_id,
        };
        (start, self.feed.range(start, last_id), Some(resumed))
    }
}

impl MemoryHub {
    pub fn new(retention: Retention) -> MemoryHub {
        MemoryHub {
            retention,
            epoch: format!("{:016x}", rand::random::<u64>()),
            channels: RwLock::new(HashMap::new()),
            nicks: Mutex::new(HashMap::new()),
            sink: None,
        }
    }

    /// A hub that also hands every numbered item to `sink`.
    pub fn with_sink(retention: Retention, sink: Arc<dyn ItemSink>) -> MemoryHub {
        MemoryHub {
            sink: Some(sink),
            ..MemoryHub::new(retention)
        }
    }

    /// Runs `f` on the channel `name` under its lock, creating the channel if needed.
    fn with_channel<T>(&self, name: &str, f: impl FnOnce(&mut Channel) -> T) -> T {
        let mut f = Some(f);
        loop {
            let channel = self.channels.read().get(name).cloned();
            let channel = match channel {
                Some(channel) => channel,
                None => self
                    .channels
                    .write()
                    .entry(Arc::from(name))
                    .or_insert_with_key(|name| Arc::new(Mutex::new(Channel::new(name.clone()))))
                    .clone(),
            };
            let mut channel = channel.lock();
            if channel.retired {
                continue;
            }
            let f = f.take().expect("called once");
            return f(&mut channel);
        }
    }

    fn existing(&self, name: &str) -> Option<Arc<Mutex<Channel>>> {
        self.channels.read().get(name).cloned()
    }

    /// Numbers and appends a new item; hands it to the sink.
    fn append(
        &self,
        channel: &mut Channel,
        body: ItemBody,
        ts: Millis,
        cid: Option<String>,
        sender: Option<SessionKey>,
    ) -> EventId {
        let id = channel.next_id();
        let item = Arc::new(Item::new(channel.name.clone(), id, ts, body, cid));
        if let Some(cid) = &item.cid {
            channel.cids.insert(cid.clone(), id);
            channel.cid_order.push_back((id, cid.clone()));
        }
        channel.feed.append(item.clone(), self.retention);
        if let Some(sink) = &self.sink {
            sink.appended(&self.epoch, &item, sender);
        }
        id
    }

    fn room_change(channel: &Channel, user: &str, entered: bool) -> (ItemBody, Millis) {
        let ts = now_millis();
        let change = RoomChange {
            id: channel.next_id(),
            room: channel.name.to_string(),
            user: user.to_owned(),
            viewers: channel.viewers(),
            ts,
        };
        let event = if entered {
            ServerEvent::Entered(change)
        } else {
            ServerEvent::Left(change)
        };
        (ItemBody::Chat(event.to_json().into()), ts)
    }
}

#[async_trait]
impl Hub for MemoryHub {
    async fn enter(
        &self,
        room: &str,
        member: &Member,
        since: Option<EventId>,
    ) -> Result<Joined, HubError> {
        Ok(self.with_channel(room, |channel| {
            channel.feed.trim(self.retention);
            let already = channel
                .members
                .insert(member.key, member.nick.clone())
                .is_some();
            let presence = channel.presence();
            let (start, backfill, resumed) = channel.start(false, since);
            let announced = (!already).then(|| {
                let (body, ts) = Self::room_change(channel, &member.nick, true);
                self.append(channel, body, ts, None, Some(member.key))
            });
            Joined {
                feed: channel.feed.clone(),
                presence: Some(presence),
                start,
                backfill,
                resumed,
                announced,
            }
        }))
    }

    async fn claim_nick(&self, nick: &str, key: SessionKey) -> Result<bool, HubError> {
        let mut nicks = self.nicks.lock();
        let holder = nicks.entry(nick.to_lowercase()).or_insert(key);
        Ok(*holder == key)
    }

    async fn release_nick(&self, nick: &str, key: SessionKey) {
        let mut nicks = self.nicks.lock();
        let folded = nick.to_lowercase();
        if nicks.get(&folded) == Some(&key) {
            nicks.remove(&folded);
        }
    }

    async fn rename(&self, room: &str, member: &Member, old: &str) -> Result<bool, HubError> {
        let Some(channel) = self.existing(room) else {
            return Ok(false);
        };
        let mut channel = channel.lock();
        let Some(nick) = channel.members.get_mut(&member.key) else {
            return Ok(false);
        };
        *nick = member.nick.clone();
        let ts = now_millis();
        let event = ServerEvent::NickChanged(NickChange {
            id: channel.next_id(),
            room: channel.name.to_string(),
            user: old.to_owned(),
            nick: member.nick.to_string(),
            ts,
        });
        let body = ItemBody::Chat(event.to_json().into());
        self.append(&mut channel, body, ts, None, None);
        Ok(true)
    }

    async fn leave(&self, room: &str, member: &Member) -> Result<bool, HubError> {
        let Some(channel) = self.existing(room) else {
            return Ok(false);
        };
        let mut channel = channel.lock();
        let Some(nick) = channel.members.remove(&member.key) else {
            return Ok(false);
        };
        let (body, ts) = Self::room_change(&channel, &nick, false);
        self.append(&mut channel, body, ts, None, None);
        Ok(true)
    }

    async fn message(
        &self,
        room: &str,
        member: &Member,
        comment: String,
        cid: Option<String>,
    ) -> Result<Sent, HubError> {
        let not_in_room = || HubError::NotInRoom(room.to_owned());
        let channel = self.existing(room).ok_or_else(not_in_room)?;
        let mut channel = channel.lock();
        if !channel.members.contains_key(&member.key) {
            return Err(not_in_room());
        }
        channel.forget_old_cids();
        if let Some(cid) = &cid {
            if let Some(&id) = channel.cids.get(cid) {
                return Ok(Sent {
                    id,
                    duplicate: true,
                });
            }
        }
        let ts = now_millis();
        let event = ServerEvent::Message(ChatMessage {
            id: channel.next_id(),
            room: channel.name.to_string(),
            user: member.nick.to_string(),
            comment,
            ts,
            cid: cid.clone(),
        });
        let body = ItemBody::Chat(event.to_json().into());
        let id = self.append(&mut channel, body, ts, cid, None);
        Ok(Sent {
            id,
            duplicate: false,
        })
    }

    async fn watch(&self, channel: &str, since: Option<EventId>) -> Result<Joined, HubError> {
        Ok(self.with_channel(channel, |channel| {
            channel.feed.trim(self.retention);
            let (start, backfill, resumed) = channel.start(true, since);
            Joined {
                feed: channel.feed.clone(),
                presence: None,
                start,
                backfill,
                resumed,
                announced: None,
            }
        }))
    }

    async fn unwatch(&self, _channel: &str) {
        // Watchers hold the feed itself; `sweep` sees when nobody does.
    }

    async fn publish(&self, channel: &str, body: ItemBody) -> Result<EventId, HubError> {
        Ok(self.with_channel(channel, |channel| {
            self.append(channel, body, now_millis(), None, None)
        }))
    }

    async fn sweep(&self) {
        let channels: Vec<_> = self.channels.read().values().cloned().collect();
        for channel in channels {
            let mut channel = channel.lock();
            channel.feed.trim(self.retention);
            channel.forget_old_cids();
        }
        self.channels.write().retain(|_, channel| {
            let mut channel = channel.lock();
            // Only the channel itself holds the feed: no subscriber reads it.
            let unused = Arc::strong_count(&channel.feed) == 1;
            channel.retired = unused && channel.members.is_empty() && channel.feed.is_empty();
            !channel.retired
        });
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn holds(&self, channel: &str) -> bool {
        self.channels.read().contains_key(channel)
    }

    fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    fn stats(&self) -> HubStats {
        let channels = self.channels.read();
        HubStats {
            rooms: channels
                .values()
                .filter(|c| !c.lock().members.is_empty())
                .count(),
            channels: channels.len(),
        }
    }
}
