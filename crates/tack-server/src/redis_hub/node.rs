//! One node's side of the shared state: its connection to Redis, the epoch it counts in, the
//! channels it serves, and how it keeps their feeds complete.
//!
//! Every change goes through a script ([`super::scripts`]); every feed append goes through
//! [`Node::deliver`], under the channel's sync lock, in id order. Nothing here blocks a
//! session: a session reads its feed in its own task.

use crate::error::HubError;
use crate::feed::{Feed, Parking, Retention};
use crate::hub::{ItemSink, SessionKey};
use crate::memory_hub::now_millis;
use crate::redis_hub::entry::{self, Entry};
use crate::redis_hub::keys::{self, ChannelKeys};
use crate::redis_hub::local::{member_id, FeedState, Local, LocalChannel, Sync};
use crate::redis_hub::metrics::RedisMetrics;
use crate::redis_hub::scripts::{self, Scripts};
use crate::redis_hub::store::{connection_lost, RedisTarget, Store};
use parking_lot::{Mutex, RwLock};
use redis::{RedisError, Script, ScriptInvocation, Value};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tack_protocol::chat::EventId;
use tokio::sync::watch;
use tokio::time::Instant;

/// Waits between tries while Redis is away: short first (a blip), then at most this.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The longest a frame's answer waits for its own item to come back from Redis (it takes well
/// under a millisecond; longer means the node is catching up, and the answer goes anyway).
const OWN_ITEM_WAIT: Duration = Duration::from_secs(2);

fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(BACKOFF_MAX)
}

/// What a node is told at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: RedisTarget,
    /// How long local feeds keep items (as on one node).
    pub retention: Retention,
    /// Items a channel's history in Redis keeps for resume.
    pub history_len: usize,
    /// A quiet channel's history is dropped after this long.
    pub history_age: Duration,
    /// A member not heartbeaten for this long is gone.
    pub presence_ttl: Duration,
}

pub struct Node {
    /// Names this process in Redis (members, who numbered an item).
    pub id: String,
    pub settings: Settings,
    store: OnceLock<Store>,
    ready: watch::Sender<bool>,
    /// The epoch in force; a new one is leaked, which happens only when Redis lost its data.
    epoch: RwLock<&'static str>,
    pub local: Local,
    /// Nicks this node's sessions hold (lowercased), refreshed with presence.
    nicks: Mutex<HashMap<String, SessionKey>>,
    sink: Option<Arc<dyn ItemSink>>,
    pub metrics: Arc<RedisMetrics>,
    /// Since when this node has been in contact with Redis without a break.
    connected_since: Mutex<Option<Instant>>,
    /// A resync is running / was asked for again while it ran.
    resync: Mutex<(bool, bool)>,
    /// Held around subscribing and unsubscribing, so a channel forgotten and opened again at
    /// once is not left unsubscribed.
    subscriptions: tokio::sync::Mutex<()>,
    pub scripts: Scripts,
    /// Where the node's connections and background work run: the hub's own thread
    /// (`own_thread.rs`), whichever thread the call that starts the work came from.
    runtime: tokio::runtime::Handle,
}

impl Node {
    /// A node whose background work runs on `runtime`.
    pub fn new(
        settings: Settings,
        sink: Option<Arc<dyn ItemSink>>,
        runtime: tokio::runtime::Handle,
    ) -> Node {
        Node {
            runtime,
            id: format!("{:016x}", rand::random::<u64>()),
            settings,
            store: OnceLock::new(),
            ready: watch::Sender::new(false),
            epoch: RwLock::new(""),
            local: Local::default(),
            nicks: Mutex::new(HashMap::new()),
            sink,
            metrics: Arc::default(),
            connected_since: Mutex::new(None),
            resync: Mutex::new((false, false)),
            subscriptions: tokio::sync::Mutex::new(()),
            scripts: Scripts::default(),
        }
    }

    pub fn epoch(&self) -> &'static str {
        *self.epoch.read()
    }

    pub async fn wait_ready(&self) {
        let _ = self.ready.subscribe().wait_for(|ready| *ready).await;
    }

    fn store(&self) -> Result<&Store, HubError> {
        self.store
            .get()
            .ok_or_else(|| HubError::Unavailable("the server has not reached Redis yet".to_owned()))
    }

    /// Connects (retrying while Redis is away), learns the epoch, and starts listening.
    pub async fn start(
        node: Weak<Node>,
        pushes: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
    ) {
        let mut backoff = BACKOFF_MIN;
        let mut warned = false;
        loop {
            let Some(this) = node.upgrade() else { return };
            let connected =
                Store::connect(&this.settings.target, pushes.clone(), this.metrics.clone()).await;
            match connected {
                Ok(store) => {
                    let _ = this.store.set(store);
                    break;
                }
                Err(err) => {
                    if !warned {
                        tracing::warn!(redis = ?this.settings.target.urls, %err, "waiting for Redis");
                        warned = true;
                    }
                }
            }
            drop(this);
            tokio::time::sleep(backoff).await;
            backoff = next_backoff(backoff);
        }
        loop {
            let Some(this) = node.upgrade() else { return };
            match this.refresh_epoch(None).await {
                Ok(()) => {
                    *this.connected_since.lock() = Some(Instant::now());
                    this.metrics.set_connected(true);
                    tracing::info!(redis = ?this.settings.target.urls, node = %this.id, epoch = %this.epoch(), "connected to Redis");
                    this.ready.send_replace(true);
                    return;
                }
                Err(err) => tracing::debug!(%err, "cannot read the epoch yet"),
            }
            drop(this);
            tokio::time::sleep(backoff).await;
            backoff = next_backoff(backoff);
        }
    }

    /// What a failed call means for the client: try again later. A script that says the
    /// channel counts in a newer epoch makes this node learn it.
    pub fn unavailable(self: &Arc<Self>, err: RedisError) -> HubError {
        if err.code() == Some("TACKEPOCH") {
            let node = self.clone();
            self.runtime.spawn(async move {
                if let Err(err) = node.refresh_epoch(None).await {
                    tracing::debug!(%err, "cannot read the new epoch yet");
                }
            });
            return HubError::Unavailable("the server's numbering changed".to_owned());
        }
        if !connection_lost(&err) {
            tracing::error!(%err, "a Tack script failed in Redis");
        }
        HubError::Unavailable(format!("the server cannot reach Redis: {err}"))
    }

    /// Runs one of the channel scripts on `keys`, with the arguments every one takes first and
    /// `args` after them.
    pub async fn channel_call(
        self: &Arc<Self>,
        script: &Script,
        keys: &ChannelKeys,
        args: impl FnOnce(&mut ScriptInvocation<'_>),
    ) -> Result<Value, HubError> {
        let store = self.store()?;
        let mut invocation = script.prepare_invoke();
        for key in keys.all() {
            invocation.key(key);
        }
        invocation
            .arg(self.epoch())
            .arg(self.settings.history_len.max(1))
            .arg(self.settings.history_age.as_millis().max(1) as u64)
            .arg(store.publish_command)
            .arg(&self.id);
        args(&mut invocation);
        store
            .run(&invocation)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// The channel `name`, subscribed and caught up, with its feed.
    pub async fn open(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<(Arc<LocalChannel>, Arc<Feed>), HubError> {
        loop {
            let (channel, opener) = self.local.get_or_insert(name);
            if opener {
                let opened = async {
                    self.subscribe(&channel).await?;
                    self.catch_up(&channel).await
                }
                .await;
                if let Err(err) = opened {
                    self.local.remove(&channel);
                    return Err(err);
                }
            } else if !channel.opened().await {
                continue;
            }
            if let Some(feed) = self.local.feed_of(&channel) {
                return Ok((channel, feed));
            }
        }
    }

    async fn subscribe(self: &Arc<Self>, channel: &LocalChannel) -> Result<(), HubError> {
        let store = self.store()?;
        let _guard = self.subscriptions.lock().await;
        store
            .subscribe(&channel.keys.live)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Stops listening to channels this node forgot, unless opened again meanwhile.
    pub async fn unsubscribe(&self, channel: &LocalChannel) {
        let Ok(store) = self.store() else { return };
        let _guard = self.subscriptions.lock().await;
        if !self.local.contains(&channel.name) {
            if let Err(err) = store.unsubscribe(&channel.keys.live).await {
                tracing::debug!(channel = %channel.name, %err, "unsubscribe failed");
            }
        }
    }

    /// Appends `entry` to `feed` if it is newer, declaring anything between lost; behind
    /// Pushpin, publishes what this node numbered. Called under the channel's sync lock.
    fn deliver(&self, channel: &LocalChannel, feed: &Feed, entry: Entry) {
        let last = feed.last_id();
        let id = entry.item.id;
        if id <= last {
            return;
        }
        if id > last + 1 {
            self.lost(channel, feed, id - 1);
        }
        feed.append(entry.item.clone(), self.settings.retention);
        if entry.node == self.id {
            if let Some(sink) = &self.sink {
                sink.appended(self.epoch(), &entry.item, entry.sender);
            }
        }
    }

    /// Items after the feed's newest up to `upto` cannot be had: its subscribers learn so.
    fn lost(&self, channel: &LocalChannel, feed: &Feed, upto: EventId) {
        tracing::warn!(channel = %channel.name, after = feed.last_id(), upto, "items no longer in Redis history: reporting a gap");
        feed.skip_to(upto);
        self.metrics.gap();
    }

    /// An announcement arrived (the dispatcher's only call).
    pub fn announced(self: &Arc<Self>, live: &[u8], payload: &[u8]) {
        let Some(name) = keys::channel_of_live(live) else {
            return;
        };
        let Some(channel) = self.local.get(&name) else {
            return;
        };
        let entry = match entry::decode(&channel.name, payload) {
            Ok(entry) => entry,
            Err(err) => {
                tracing::warn!(channel = %name, %err, "ignoring an announcement");
                return;
            }
        };
        let mut sync = channel.sync.lock();
        match &mut *sync {
            Sync::Behind(waiting) => waiting.push(entry),
            Sync::Ready => {
                let Some(feed) = channel.feed() else { return };
                let next = feed.last_id() + 1;
                if entry.item.id == next {
                    self.deliver(&channel, &feed, entry);
                } else if entry.item.id > next {
                    *sync = Sync::Behind(vec![entry]);
                    drop(sync);
                    self.spawn_catch_up(channel);
                }
            }
        }
    }

    /// Reads from history whatever `channel`'s feed lacks up to the channel's newest id, then
    /// the announcements that waited meanwhile; the feed is then [`Sync::Ready`]. Opens the
    /// feed at the channel's newest id when it has none.
    pub async fn catch_up(self: &Arc<Self>, channel: &Arc<LocalChannel>) -> Result<(), HubError> {
        loop {
            let after = match channel.state() {
                FeedState::Gone => return Ok(()),
                FeedState::Opening => None,
                FeedState::Open(feed) => Some(feed.last_id()),
            };
            let reply = self
                .channel_call(&self.scripts.read, &channel.keys, |inv| {
                    inv.arg(after.unwrap_or(EventId::MAX));
                })
                .await?;
            let (newest, entries) = read_reply(&channel.name, &reply)?;
            if after.is_some_and(|after| newest < after) {
                // Redis counts this channel from further back than this node has seen: it lost
                // the channel's data without a new epoch (a shard restarted empty). Only a new
                // epoch tells clients that their ids mean nothing now.
                tracing::warn!(channel = %channel.name, newest, seen = ?after, "Redis lost this channel's numbering; starting a new epoch");
                let current = self.epoch();
                self.refresh_epoch(Some(current)).await?;
                continue;
            }
            let mut sync = channel.sync.lock();
            let feed = match channel.state() {
                FeedState::Gone => return Ok(()),
                FeedState::Open(feed) => feed,
                FeedState::Opening => {
                    let feed = Arc::new(Feed::new(channel.name.clone(), newest));
                    channel.set_feed(FeedState::Open(feed.clone()));
                    feed
                }
            };
            let before = feed.last_id();
            for entry in entries {
                self.deliver(channel, &feed, entry);
            }
            if feed.last_id() < newest {
                self.lost(channel, &feed, newest);
            }
            if feed.last_id() > before {
                self.metrics.repair();
            }
            let waiting = match &mut *sync {
                Sync::Behind(waiting) => std::mem::take(waiting),
                Sync::Ready => Vec::new(),
            };
            let mut waiting = waiting.into_iter();
            let mut rest = Vec::new();
            for entry in waiting.by_ref() {
                if entry.item.id > feed.last_id() + 1 {
                    rest.push(entry);
                    break;
                }
                self.deliver(channel, &feed, entry);
            }
            if rest.is_empty() {
                *sync = Sync::Ready;
                return Ok(());
            }
            // Another stretch is missing: read history again.
            rest.extend(waiting);
            *sync = Sync::Behind(rest);
        }
    }

    /// Catches `channel` up in the background, retrying while Redis is away.
    pub fn spawn_catch_up(self: &Arc<Self>, channel: Arc<LocalChannel>) {
        let node = Arc::downgrade(self);
        self.runtime.spawn(async move {
            let mut backoff = BACKOFF_MIN;
            loop {
                let Some(this) = node.upgrade() else { return };
                match this.catch_up(&channel).await {
                    Ok(()) => return,
                    Err(err) => {
                        tracing::debug!(channel = %channel.name, %err, "catch-up failed; retrying")
                    }
                }
                drop(this);
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        });
    }

    /// Waits (at most [`OWN_ITEM_WAIT`]) until `feed` holds item `id`, which this node just
    /// numbered: its announcement is on the way. A session then reads what its own frame
    /// caused before the answer to the frame (the ack after the message, the joiner's own
    /// enter in the reply behind Pushpin), as on one server.
    pub async fn until_delivered(&self, feed: &Feed, id: EventId) {
        let wake = Arc::new(tokio::sync::Notify::new());
        let parking = Parking::new(wake.clone());
        let deadline = Instant::now() + OWN_ITEM_WAIT;
        loop {
            let last = feed.last_id();
            if last >= id {
                return;
            }
            if feed.park(&parking, last)
                && tokio::time::timeout_at(deadline, wake.notified())
                    .await
                    .is_err()
            {
                tracing::debug!(channel = %feed.name(), id, "own item not announced back in time");
                return;
            }
        }
    }

    /// Checks the epoch and this node's presence soon, in the background: something said Redis
    /// may have lost data.
    pub fn spawn_refresh(self: &Arc<Self>) {
        let node = self.clone();
        self.runtime.spawn(async move {
            if node.refresh_epoch(None).await.is_ok() {
                node.heartbeat().await;
            }
        });
    }

    /// Learns the epoch in force (making one when Redis has none, or replacing `replacing`),
    /// and starts every channel again if it changed.
    pub async fn refresh_epoch(self: &Arc<Self>, replacing: Option<&str>) -> Result<(), HubError> {
        let store = self.store()?;
        let current = self.epoch();
        let candidate = new_epoch(current);
        let mut invocation = self.scripts.epoch.prepare_invoke();
        invocation
            .key(keys::EPOCH)
            .arg(&candidate)
            .arg(replacing.unwrap_or(""));
        let value = store
            .run(&invocation)
            .await
            .map_err(|e| self.unavailable(e))?;
        let epoch = scripts::text(&value).map_err(bad_reply)?;
        if epoch != current {
            self.renumber(epoch);
        }
        Ok(())
    }

    /// A new epoch: every id this node's clients hold means nothing now. Each feed is ended
    /// (its subscribers are told they fell behind, reconnect, and see the new epoch in
    /// `welcome`) and opened again in the new numbering.
    fn renumber(self: &Arc<Self>, epoch: String) {
        let old = std::mem::replace(&mut *self.epoch.write(), Box::leak(epoch.into_boxed_str()));
        if old.is_empty() {
            return;
        }
        tracing::warn!(old, new = %self.epoch(), "Redis lost its data: new numbering epoch; every client resumes from what exists");
        for channel in self.local.all() {
            self.restart(&channel);
        }
    }

    /// Ends `channel`'s feed for its subscribers and opens a new one.
    pub fn restart(self: &Arc<Self>, channel: &Arc<LocalChannel>) {
        {
            let mut sync = channel.sync.lock();
            *sync = Sync::Behind(Vec::new());
            if let Some(old) = channel.feed() {
                channel.set_feed(FeedState::Opening);
                old.skip_to(old.last_id() + 1);
                self.metrics.gap();
            }
        }
        self.spawn_catch_up(channel.clone());
    }

    /// The announcement connection dropped: anything may have been missed. Resubscribes and
    /// catches every channel up, in the background, until it succeeds.
    pub fn lost_contact(self: &Arc<Self>) {
        self.metrics.reconnect();
        self.metrics.set_connected(false);
        *self.connected_since.lock() = None;
        {
            let mut resync = self.resync.lock();
            if resync.0 {
                resync.1 = true;
                return;
            }
            *resync = (true, false);
        }
        tracing::warn!("lost contact with Redis; catching up when it is back");
        let node = Arc::downgrade(self);
        self.runtime.spawn(async move {
            if let Some(this) = node.upgrade() {
                if let Ok(store) = this.store() {
                    store.announcements_lost().await;
                }
            }
            let mut backoff = BACKOFF_MIN;
            loop {
                let Some(this) = node.upgrade() else { return };
                this.resync.lock().1 = false;
                match this.resync_once().await {
                    Ok(()) => {
                        let mut resync = this.resync.lock();
                        if resync.1 {
                            continue;
                        }
                        resync.0 = false;
                        *this.connected_since.lock() = Some(Instant::now());
                        this.metrics.set_connected(true);
                        tracing::info!("back in contact with Redis; every channel caught up");
                        return;
                    }
                    Err(err) => tracing::debug!(%err, "Redis still away"),
                }
                drop(this);
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        });
    }

    async fn resync_once(self: &Arc<Self>) -> Result<(), HubError> {
        self.refresh_epoch(None).await?;
        for channel in self.local.all() {
            if channel.is_gone() {
                continue;
            }
            self.subscribe(&channel).await?;
            {
                let mut sync = channel.sync.lock();
                if let Sync::Ready = *sync {
                    *sync = Sync::Behind(Vec::new());
                }
            }
            self.catch_up(&channel).await?;
        }
        Ok(())
    }

    /// Whether this node may remove other nodes' expired members: only after a whole presence
    /// TTL in contact, so that after an outage every node has refreshed its own first.
    pub fn may_reap(&self) -> bool {
        self.connected_since
            .lock()
            .is_some_and(|since| since.elapsed() >= self.settings.presence_ttl)
    }

    fn ttl_ms(&self) -> u64 {
        self.settings.presence_ttl.as_millis() as u64
    }

    /// Refreshes this node's members of every room it serves and its nicks; removes expired
    /// members (when [`Node::may_reap`]).
    pub async fn heartbeat(self: &Arc<Self>) {
        if self.connected_since.lock().is_none() {
            // Catching up after an outage: the resync learns the epoch first.
            return;
        }
        let reap = self.may_reap();
        for channel in self.local.all() {
            if channel.feed().is_none() {
                continue;
            }
            let members: Vec<(String, Arc<str>)> = channel
                .members
                .lock()
                .iter()
                .map(|(key, nick)| (member_id(&self.id, *key), nick.clone()))
                .collect();
            if members.is_empty() && !reap {
                continue;
            }
            let result = self
                .channel_call(&self.scripts.heartbeat, &channel.keys, |inv| {
                    inv.arg(self.ttl_ms()).arg(&channel.room_json).arg(if reap {
                        "1"
                    } else {
                        "0"
                    });
                    for (member, nick) in &members {
                        inv.arg(member).arg(&**nick);
                    }
                })
                .await;
            let back = match result {
                Ok(value) => value,
                Err(err) => {
                    tracing::debug!(channel = %channel.name, %err, "heartbeat failed");
                    continue;
                }
            };
            // Entered again because another node had removed them; one that left meanwhile
            // leaves again.
            let back = scripts::array(&back).unwrap_or(&[]);
            for member in back.iter().filter_map(|m| scripts::text(m).ok()) {
                tracing::info!(channel = %channel.name, %member, "member entered again after a presence outage");
                let still_here = channel
                    .members
                    .lock()
                    .keys()
                    .any(|key| member_id(&self.id, *key) == member);
                if !still_here {
                    let _ = self.leave_member(&channel.name, &member, "").await;
                }
            }
        }
        let nicks: Vec<(String, SessionKey)> = self
            .nicks
            .lock()
            .iter()
            .map(|(nick, key)| (nick.clone(), *key))
            .collect();
        for (nick, key) in nicks {
            if let Ok(false) = self.claim_nick(&nick, key).await {
                tracing::warn!(%nick, "a nick this node held was taken while it could not reach Redis");
                self.nicks.lock().remove(&nick);
            }
        }
    }

    /// Takes `member` out of a room, announcing the leave; false when it was not there.
    pub async fn leave_member(
        self: &Arc<Self>,
        room: &str,
        member: &str,
        nick: &str,
    ) -> Result<bool, HubError> {
        let keys = &ChannelKeys::new(room);
        let ts = now_millis();
        let template = tack_protocol::chat::ServerEvent::Left(tack_protocol::chat::RoomChange {
            id: entry::ID_PLACEHOLDER,
            room: room.to_owned(),
            user: nick.to_owned(),
            viewers: entry::VIEWERS_PLACEHOLDER,
            ts,
        })
        .to_json();
        let (head, body) = entry::encode(
            ts,
            &self.id,
            None,
            None,
            &crate::item::ItemBody::Chat(template.into()),
        );
        let reply = self
            .channel_call(&self.scripts.leave, keys, |inv| {
                inv.arg(member).arg(head).arg(body);
            })
            .await?;
        Ok(scripts::int(&reply).map_err(bad_reply)? > 0)
    }

    pub async fn claim_nick(
        self: &Arc<Self>,
        nick: &str,
        key: SessionKey,
    ) -> Result<bool, HubError> {
        let store = self.store()?;
        let mut invocation = self.scripts.claim_nick.prepare_invoke();
        invocation
            .key(keys::nick_key(nick))
            .arg(member_id(&self.id, key))
            .arg(self.ttl_ms());
        let value = store
            .run(&invocation)
            .await
            .map_err(|e| self.unavailable(e))?;
        let held = scripts::int(&value).map_err(bad_reply)? == 1;
        if held {
            self.nicks.lock().insert(nick.to_lowercase(), key);
        }
        Ok(held)
    }

    pub async fn release_nick(self: &Arc<Self>, nick: &str, key: SessionKey) {
        let folded = nick.to_lowercase();
        {
            let mut nicks = self.nicks.lock();
            if nicks.get(&folded) == Some(&key) {
                nicks.remove(&folded);
            }
        }
        let Ok(store) = self.store() else { return };
        let mut invocation = self.scripts.release_nick.prepare_invoke();
        invocation
            .key(keys::nick_key(nick))
            .arg(member_id(&self.id, key));
        if let Err(err) = store.run(&invocation).await {
            // Not fatal: the claim expires with the presence TTL.
            tracing::debug!(%nick, %err, "could not release a nick");
        }
    }
}

/// A script answered something it never returns.
pub fn bad_reply(err: scripts::BadReply) -> HubError {
    tracing::error!(%err, "unexpected reply from Redis");
    HubError::Unavailable(err.to_string())
}

/// `{newest, floor, entries}` of the read script.
fn read_reply(channel: &Arc<str>, reply: &Value) -> Result<(EventId, Vec<Entry>), HubError> {
    let parts = scripts::array(reply).map_err(bad_reply)?;
    let newest = scripts::int(scripts::nth(parts, 0).map_err(bad_reply)?).map_err(bad_reply)?;
    let entries = decode_entries(channel, scripts::nth(parts, 2).map_err(bad_reply)?)?;
    Ok((newest.max(0) as EventId, entries))
}

/// The history entries of a script's reply, oldest first.
pub fn decode_entries(channel: &Arc<str>, value: &Value) -> Result<Vec<Entry>, HubError> {
    scripts::array(value)
        .map_err(bad_reply)?
        .iter()
        .map(|v| {
            let bytes = scripts::bytes(v).map_err(bad_reply)?;
            entry::decode(channel, bytes).map_err(|e| HubError::Unavailable(e.to_string()))
        })
        .collect()
}

/// A new epoch: milliseconds since 1970 then 32 random bits, fixed-width hex, so epochs made
/// later sort after — and after `previous`, whatever the clocks say.
fn new_epoch(previous: &str) -> String {
    let before = previous
        .get(..12)
        .and_then(|ms| u64::from_str_radix(ms, 16).ok())
        .unwrap_or(0);
    format!(
        "{:012x}{:08x}",
        now_millis().max(before + 1),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_epoch_sorts_after_the_one_it_replaces_even_from_a_clock_behind() {
        let ahead = format!("{:012x}{:08x}", now_millis() + 3_600_000, 0);
        let next = new_epoch(&ahead);
        assert!(next > ahead, "{next} after {ahead}");
        assert_eq!(next.len(), 20);
        assert!(new_epoch("").as_str() > "");
    }
}
