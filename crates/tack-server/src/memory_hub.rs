//! The in-process [`Hub`]: every room and channel in memory, one lock per channel.
//!
//! A channel's lock is held while an event is numbered, stored and pushed into its
//! subscribers' queues — that is what makes every subscriber see a channel's events in id
//! order, and an enter's replay join the live stream with no gap and no duplicate. Pushing is a
//! non-blocking `try_send` of a shared pointer, so the lock is held for microseconds and never
//! across a socket write.

use crate::error::HubError;
use crate::hub::{Hub, HubStats, Member, Sent, SessionKey};
use crate::item::{Item, ItemBody};
use crate::outbox::{Joined, Outbound, Outbox};
use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tack_protocol::chat::{
    ChatMessage, EventId, Millis, Presence, Resumed, RoomChange, ServerEvent,
};
use tokio::time::Instant;

/// Bounds on what each channel remembers for resume.
#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    pub len: usize,
    pub age: Duration,
}

pub struct MemoryHub {
    limits: HistoryLimits,
    /// Fresh at every start: history lives in memory, so numbering restarts with the process.
    epoch: String,
    channels: RwLock<HashMap<Arc<str>, Arc<Mutex<Channel>>>>,
}

/// One room or channel: its numbering, its history, and who receives its items.
struct Channel {
    name: Arc<str>,
    last_id: EventId,
    history: VecDeque<(Instant, Arc<Item>)>,
    /// Viewers: sessions that entered the room.
    members: HashMap<SessionKey, Member>,
    /// Sessions watching the channel's raw items; not viewers.
    watchers: HashMap<SessionKey, Outbox>,
    /// `cid` → id of the message it was accepted as, for messages still in history.
    cids: HashMap<String, EventId>,
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
            name,
            last_id: 0,
            history: VecDeque::new(),
            members: HashMap::new(),
            watchers: HashMap::new(),
            cids: HashMap::new(),
            retired: false,
        }
    }

    fn viewers(&self) -> u32 {
        self.members.len() as u32
    }

    /// Forgets items beyond the count or age limit, and their `cid`s.
    fn trim(&mut self, limits: HistoryLimits, now: Instant) {
        while let Some((at, item)) = self.history.front() {
            let too_many = self.history.len() > limits.len;
            let too_old = now.saturating_duration_since(*at) > limits.age;
            if !(too_many || too_old) {
                break;
            }
            if let Some(cid) = &item.cid {
                if self.cids.get(cid) == Some(&item.id) {
                    self.cids.remove(cid);
                }
            }
            self.history.pop_front();
        }
    }

    /// Numbers, stores and delivers a new item.
    fn push(
        &mut self,
        limits: HistoryLimits,
        body: ItemBody,
        ts: Millis,
        cid: Option<String>,
    ) -> Arc<Item> {
        self.last_id += 1;
        let item = Arc::new(Item::new(self.name.clone(), self.last_id, ts, body, cid));
        if let Some(cid) = &item.cid {
            self.cids.insert(cid.clone(), item.id);
        }
        let now = Instant::now();
        self.history.push_back((now, item.clone()));
        self.trim(limits, now);
        for member in self.members.values() {
            member.outbox.deliver(Outbound::Item {
                item: item.clone(),
                watcher: false,
            });
        }
        for outbox in self.watchers.values() {
            outbox.deliver(Outbound::Item {
                item: item.clone(),
                watcher: true,
            });
        }
        item
    }

    /// Items after `since` and whether they cover the whole gap.
    fn replay(&self, since: EventId) -> (Vec<Arc<Item>>, bool) {
        let items: Vec<Arc<Item>> = self
            .history
            .iter()
            .filter(|(_, item)| item.id > since)
            .map(|(_, item)| item.clone())
            .collect();
        let recovered = since == self.last_id || items.first().map(|i| i.id) == Some(since + 1);
        (items, recovered)
    }

    fn presence(&self) -> Presence {
        let mut users: Vec<String> = self.members.values().map(|m| m.nick.to_string()).collect();
        users.sort();
        users.dedup();
        Presence {
            room: self.name.to_string(),
            viewers: self.viewers(),
            users,
            last_id: self.last_id,
        }
    }

    /// The joined answer: presence for a viewer, then replay and `resumed` when asked to resume.
    fn joined(&self, watcher: bool, since: Option<EventId>) -> Joined {
        let presence = (!watcher).then(|| ServerEvent::Presence(self.presence()).to_json().into());
        let (replay, resumed) = match since {
            None => (Vec::new(), None),
            Some(since) => {
                let (replay, recovered) = self.replay(since);
                let resumed = ServerEvent::Resumed(Resumed {
                    room: (!watcher).then(|| self.name.to_string()),
                    channel: watcher.then(|| self.name.to_string()),
                    recovered,
                    since,
                    last_id: self.last_id,
                });
                (replay, Some(resumed.to_json().into()))
            }
        };
        Joined {
            channel: self.name.clone(),
            watcher,
            presence,
            replay,
            resumed,
            last_id: self.last_id,
        }
    }

    fn is_idle(&self) -> bool {
        self.members.is_empty() && self.watchers.is_empty() && self.history.is_empty()
    }
}

impl MemoryHub {
    pub fn new(limits: HistoryLimits) -> MemoryHub {
        MemoryHub {
            limits,
            epoch: format!("{:016x}", rand::random::<u64>()),
            channels: RwLock::new(HashMap::new()),
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

    fn room_change(channel: &Channel, user: &str, entered: bool) -> (ItemBody, Millis) {
        let ts = now_millis();
        let change = RoomChange {
            id: channel.last_id + 1,
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
    async fn enter(&self, room: &str, member: &Member, since: Option<EventId>) {
        self.with_channel(room, |channel| {
            channel.trim(self.limits, Instant::now());
            let already = channel.members.insert(member.key, member.clone()).is_some();
            member
                .outbox
                .deliver(Outbound::Joined(Box::new(channel.joined(false, since))));
            if !already {
                let (body, ts) = Self::room_change(channel, &member.nick, true);
                channel.push(self.limits, body, ts, None);
            }
        })
    }

    async fn leave(&self, room: &str, member: &Member) -> bool {
        let Some(channel) = self.existing(room) else {
            return false;
        };
        let mut channel = channel.lock();
        let Some(was) = channel.members.remove(&member.key) else {
            return false;
        };
        let (body, ts) = Self::room_change(&channel, &was.nick, false);
        channel.push(self.limits, body, ts, None);
        true
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
        channel.trim(self.limits, Instant::now());
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
            id: channel.last_id + 1,
            room: channel.name.to_string(),
            user: member.nick.to_string(),
            comment,
            ts,
            cid: cid.clone(),
        });
        let item = channel.push(self.limits, ItemBody::Chat(event.to_json().into()), ts, cid);
        Ok(Sent {
            id: item.id,
            duplicate: false,
        })
    }

    async fn watch(&self, channel: &str, member: &Member, since: Option<EventId>) {
        self.with_channel(channel, |channel| {
            channel.trim(self.limits, Instant::now());
            channel.watchers.insert(member.key, member.outbox.clone());
            member
                .outbox
                .deliver(Outbound::Joined(Box::new(channel.joined(true, since))));
        })
    }

    async fn unwatch(&self, channel: &str, member: &Member) -> bool {
        match self.existing(channel) {
            Some(channel) => channel.lock().watchers.remove(&member.key).is_some(),
            None => false,
        }
    }

    async fn publish(&self, channel: &str, body: ItemBody) -> EventId {
        self.with_channel(channel, |channel| {
            channel.push(self.limits, body, now_millis(), None).id
        })
    }

    async fn history(&self, channel: &str, after: EventId, upto: EventId) -> Vec<Arc<Item>> {
        let Some(channel) = self.existing(channel) else {
            return Vec::new();
        };
        let channel = channel.lock();
        channel
            .history
            .iter()
            .filter(|(_, item)| item.id > after && item.id <= upto)
            .map(|(_, item)| item.clone())
            .collect()
    }

    async fn sweep(&self) {
        let now = Instant::now();
        let channels: Vec<_> = self.channels.read().values().cloned().collect();
        for channel in channels {
            channel.lock().trim(self.limits, now);
        }
        self.channels.write().retain(|_, channel| {
            let mut channel = channel.lock();
            channel.retired = channel.is_idle();
            !channel.retired
        });
    }

    fn epoch(&self) -> &str {
        &self.epoch
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
