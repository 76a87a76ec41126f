//! The Redis [`Hub`]: several Tack servers (nodes) act as one, in the built-in mode and behind
//! Pushpin (`tack serve --redis URL`).
//!
//! Redis owns what is shared: each channel's numbering (in an epoch kept in Redis, so
//! restarting nodes keeps ids), its history (a stream capped at `history_len`), who is in each
//! room (with expiry, heartbeaten by the members' node), the `cid`s already accepted and who
//! holds each nick. Every event is one script ([`scripts`]): number it, append it to history,
//! announce it to the nodes (PUBLISH; SPUBLISH on a cluster, where a channel's keys share one
//! slot, see [`keys`]).
//!
//! Each node fans out to its own sessions exactly as one server does: it appends what Redis
//! announces to the channel's local [`Feed`] in id order ([`local`], [`fanout`]), and sessions
//! read the feed from their own cursors. A resume reads Redis history, so it works on any
//! node. Behind Pushpin, the node that numbered an item publishes it (its [`ItemSink`]); the
//! Pushpin ids carry the shared epoch, so `prev-id` chains hold whichever origin published
//! the item before.
//!
//! Redis trouble is never silent loss: a call that cannot reach Redis is answered
//! `unavailable` (the client keeps the message and retries); a node that lost its connection
//! reads back from history what it missed, and declares what history no longer holds as a gap
//! its subscribers are told about ([`Feed::skip_to`]); Redis restarted empty means a new
//! epoch, and every client resumes from what exists.
//!
//! What this module must never do: append to a feed out of id order, or hold a lock across a
//! call to Redis.

pub mod entry;
pub mod fanout;
pub mod keys;
pub mod local;
pub mod metrics;
pub mod node;
pub mod scripts;
pub mod store;

use crate::config::ServerConfig;
use crate::error::HubError;
use crate::hub::{Hub, HubStats, ItemSink, Joined, Member, Sent, SessionKey};
use crate::item::{Item, ItemBody};
use crate::memory_hub::now_millis;
use crate::own_thread::OwnThread;
use async_trait::async_trait;
use keys::ChannelKeys;
use local::member_id;
use node::{bad_reply, decode_entries, Node, Settings};
use std::sync::Arc;
use std::time::Duration;
use store::RedisTarget;
use tack_protocol::chat::{
    ChatMessage, EventId, NickChange, Presence, Resumed, RoomChange, ServerEvent,
};

pub struct RedisHub {
    node: Arc<Node>,
    /// Where the node's connections and background work run; ends with the hub.
    _thread: OwnThread,
}

impl RedisHub {
    /// A hub on the Redis `config.redis` names, handing what this node numbers to `sink`.
    /// Connects in the background (retrying while Redis is away): [`Hub::ready`] says when it
    /// can serve.
    pub fn new(config: &ServerConfig, sink: Option<Arc<dyn ItemSink>>) -> Result<RedisHub, String> {
        let settings = Settings {
            target: RedisTarget::parse(&config.redis)?,
            retention: config.retention(),
            history_len: config.history_len,
            history_age: config.history_age(),
            presence_ttl: config.presence_ttl(),
        };
        // Three heartbeats per TTL: a member survives two lost ones.
        let period = settings.presence_ttl / 3;
        // The node's connections are made on its own thread, so what Redis announces is read
        // and appended to the local feeds there, not after a round of the fan-out's tasks.
        let thread = OwnThread::start("tack-redis")
            .map_err(|e| format!("cannot start the Redis hub's thread: {e}"))?;
        let node = Arc::new(Node::new(settings, sink, thread.handle().clone()));
        let (pushes, announcements) = tokio::sync::mpsc::unbounded_channel();
        thread
            .handle()
            .spawn(fanout::listen(Arc::downgrade(&node), announcements));
        let weak = Arc::downgrade(&node);
        thread.handle().spawn(async move {
            Node::start(weak.clone(), pushes).await;
            fanout::heartbeat(weak, period).await;
        });
        Ok(RedisHub {
            node,
            _thread: thread,
        })
    }

    /// Times this node told its subscribers that items were lost.
    pub fn gaps_reported(&self) -> u64 {
        self.node.metrics.gaps()
    }

    /// This node's id in Redis.
    pub fn node_id(&self) -> &str {
        &self.node.id
    }

    fn member(&self, member: &Member) -> String {
        member_id(&self.node.id, member.key)
    }

    /// Where a subscriber joining now starts, what it is replayed and the `resumed` answer:
    /// `newest` is the channel's id before the join, `floor` the last id history lost.
    fn start(
        name: &str,
        watcher: bool,
        since: Option<EventId>,
        newest: EventId,
        floor: EventId,
        backfill: Vec<Arc<Item>>,
    ) -> (Vec<Arc<Item>>, Option<Resumed>) {
        let Some(since) = since else {
            return (Vec::new(), None);
        };
        let start = since.clamp(floor.min(newest), newest);
        let resumed = Resumed {
            room: (!watcher).then(|| name.to_owned()),
            channel: watcher.then(|| name.to_owned()),
            recovered: start == since,
            since,
            last_id: newest,
        };
        (backfill, Some(resumed))
    }

    fn chat(event: ServerEvent) -> ItemBody {
        ItemBody::Chat(event.to_json().into())
    }
}

fn id_of(value: &redis::Value) -> Result<i64, HubError> {
    scripts::int(value).map_err(bad_reply)
}

fn nth(values: &[redis::Value], n: usize) -> Result<&redis::Value, HubError> {
    scripts::nth(values, n).map_err(bad_reply)
}

#[async_trait]
impl Hub for RedisHub {
    async fn enter(
        &self,
        room: &str,
        member: &Member,
        since: Option<EventId>,
    ) -> Result<Joined, HubError> {
        let node = &self.node;
        let (channel, feed) = node.open(room).await?;
        let ts = now_millis();
        let template = Self::chat(ServerEvent::Entered(RoomChange {
            id: entry::ID_PLACEHOLDER,
            room: room.to_owned(),
            user: member.nick.to_string(),
            viewers: entry::VIEWERS_PLACEHOLDER,
            ts,
        }));
        let (head, body) = entry::encode(ts, &node.id, Some(member.key), None, &template);
        let reap = node.may_reap();
        let reply = node
            .channel_call(&node.scripts.enter, &channel.keys, |inv| {
                inv.arg(self.member(member))
                    .arg(&*member.nick)
                    .arg(node.settings.presence_ttl.as_millis() as u64)
                    .arg(&channel.room_json)
                    .arg(head)
                    .arg(body)
                    .arg(since.map(|s| s.to_string()).unwrap_or_default())
                    .arg(if reap { "1" } else { "0" });
            })
            .await?;
        channel
            .members
            .lock()
            .insert(member.key, member.nick.clone());
        let parts = scripts::array(&reply).map_err(bad_reply)?;
        let newest = id_of(nth(parts, 0)?)?.max(0) as EventId;
        let announced = id_of(nth(parts, 1)?)?;
        let viewers = id_of(nth(parts, 2)?)?;
        let floor = id_of(nth(parts, 3)?)?.max(0) as EventId;
        let mut users: Vec<String> = scripts::array(nth(parts, 4)?)
            .map_err(bad_reply)?
            .iter()
            .filter_map(|v| scripts::text(v).ok())
            .collect();
        users.sort();
        users.dedup();
        let backfill = decode_entries(&channel.name, nth(parts, 5)?)?
            .into_iter()
            .map(|e| e.item)
            .collect();
        let (backfill, resumed) = Self::start(room, false, since, newest, floor, backfill);
        if announced > 0 {
            node.until_delivered(&feed, announced as EventId).await;
        }
        Ok(Joined {
            feed,
            presence: Some(Presence {
                room: room.to_owned(),
                viewers: u32::try_from(viewers).unwrap_or(u32::MAX),
                users,
                last_id: newest,
            }),
            start: newest,
            backfill,
            resumed,
            announced: (announced > 0).then_some(announced as EventId),
        })
    }

    async fn claim_nick(&self, nick: &str, key: SessionKey) -> Result<bool, HubError> {
        self.node.claim_nick(nick, key).await
    }

    async fn release_nick(&self, nick: &str, key: SessionKey) {
        self.node.release_nick(nick, key).await
    }

    async fn rename(&self, room: &str, member: &Member, old: &str) -> Result<bool, HubError> {
        let node = &self.node;
        if let Some(channel) = node.local.get(room) {
            if let Some(nick) = channel.members.lock().get_mut(&member.key) {
                *nick = member.nick.clone();
            }
        }
        let ts = now_millis();
        let template = Self::chat(ServerEvent::NickChanged(NickChange {
            id: entry::ID_PLACEHOLDER,
            room: room.to_owned(),
            user: old.to_owned(),
            nick: member.nick.to_string(),
            ts,
        }));
        let (head, body) = entry::encode(ts, &node.id, None, None, &template);
        let reply = node
            .channel_call(&node.scripts.rename, &ChannelKeys::new(room), |inv| {
                inv.arg(self.member(member))
                    .arg(&*member.nick)
                    .arg(head)
                    .arg(body);
            })
            .await?;
        Ok(id_of(&reply)? > 0)
    }

    async fn leave(&self, room: &str, member: &Member) -> Result<bool, HubError> {
        if let Some(channel) = self.node.local.get(room) {
            channel.members.lock().remove(&member.key);
        }
        self.node
            .leave_member(room, &self.member(member), &member.nick)
            .await
    }

    async fn message(
        &self,
        room: &str,
        member: &Member,
        comment: String,
        cid: Option<String>,
    ) -> Result<Sent, HubError> {
        let node = &self.node;
        let ts = now_millis();
        let template = Self::chat(ServerEvent::Message(ChatMessage {
            id: entry::ID_PLACEHOLDER,
            room: room.to_owned(),
            user: member.nick.to_string(),
            comment,
            ts,
            cid: cid.clone(),
        }));
        let (head, body) = entry::encode(ts, &node.id, None, cid.as_deref(), &template);
        let reply = node
            .channel_call(&node.scripts.message, &ChannelKeys::new(room), |inv| {
                inv.arg(self.member(member))
                    .arg(cid.as_deref().unwrap_or(""))
                    .arg(head)
                    .arg(body);
            })
            .await?;
        let parts = scripts::array(&reply).map_err(bad_reply)?;
        let id = id_of(nth(parts, 0)?)?;
        if id < 0 {
            let entered_here = node
                .local
                .get(room)
                .is_some_and(|channel| channel.members.lock().contains_key(&member.key));
            if entered_here {
                // This node let the member in, but Redis does not know it: Redis lost its data
                // (a new epoch is coming) or other nodes removed the member while this one was
                // cut off (its heartbeat brings it back). Either way, not the client's fault.
                node.spawn_refresh();
                return Err(HubError::Unavailable(
                    "the server is catching up with Redis".to_owned(),
                ));
            }
            return Err(HubError::NotInRoom(room.to_owned()));
        }
        let duplicate = id_of(nth(parts, 1)?)? == 1;
        if let Some(feed) = node.local.get(room).and_then(|c| c.feed()) {
            node.until_delivered(&feed, id as EventId).await;
        }
        Ok(Sent {
            id: id as EventId,
            duplicate,
        })
    }

    async fn watch(&self, channel: &str, since: Option<EventId>) -> Result<Joined, HubError> {
        let node = &self.node;
        let (local, feed) = node.open(channel).await?;
        let reply = node
            .channel_call(&node.scripts.read, &local.keys, |inv| {
                inv.arg(since.unwrap_or(EventId::MAX));
            })
            .await?;
        let parts = scripts::array(&reply).map_err(bad_reply)?;
        let newest = id_of(nth(parts, 0)?)?.max(0) as EventId;
        let floor = id_of(nth(parts, 1)?)?.max(0) as EventId;
        let backfill = decode_entries(&local.name, nth(parts, 2)?)?
            .into_iter()
            .map(|e| e.item)
            .collect();
        let (backfill, resumed) = Self::start(channel, true, since, newest, floor, backfill);
        Ok(Joined {
            feed,
            presence: None,
            start: newest,
            backfill,
            resumed,
            announced: None,
        })
    }

    async fn unwatch(&self, _channel: &str) {
        // Watchers hold the feed itself; `sweep` sees when nobody does.
    }

    async fn publish(&self, channel: &str, body: ItemBody) -> Result<EventId, HubError> {
        let node = &self.node;
        let (head, body) = entry::encode(now_millis(), &node.id, None, None, &body);
        let reply = node
            .channel_call(&node.scripts.publish, &ChannelKeys::new(channel), |inv| {
                inv.arg(head).arg(body);
            })
            .await?;
        Ok(id_of(&reply)?.max(0) as EventId)
    }

    async fn sweep(&self) {
        for channel in self.node.local.all() {
            if let Some(feed) = channel.feed() {
                feed.trim(self.node.settings.retention);
            }
        }
        for channel in self.node.local.retire_unused() {
            self.node.unsubscribe(&channel).await;
        }
    }

    fn holds(&self, channel: &str) -> bool {
        self.node.local.contains(channel)
    }

    fn channel_count(&self) -> usize {
        self.node.local.len()
    }

    fn stats(&self) -> HubStats {
        HubStats {
            rooms: self.node.local.rooms(),
            channels: self.node.local.len(),
        }
    }

    fn epoch(&self) -> &str {
        self.node.epoch()
    }

    async fn ready(&self) {
        self.node.wait_ready().await
    }

    fn render_metrics(&self, out: &mut String) {
        self.node.metrics.render(out);
    }
}

/// The presence TTL's bound on how long a killed node's members stay: they expire one TTL
/// after its last heartbeat, and a live node removes them at its next heartbeat.
pub fn member_removal_bound(presence_ttl: Duration) -> Duration {
    presence_ttl + presence_ttl / 3
}
