//! The channels this node serves: for each, its local [`Feed`] (what its sessions read, in id
//! order) and where that feed stands against Redis.
//!
//! A feed only ever takes the next id. Announcements arrive in order on one connection, so
//! normally each one is the next; when one is not (the node lost contact and missed some), the
//! channel falls [`Sync::Behind`]: announcements wait in a buffer while the missed items are
//! read back from the channel's history, and only then go on. What history no longer holds is
//! declared lost with [`Feed::skip_to`], so subscribers behind it are told (they reconnect and
//! resume, and get `recovered: false` for what is gone) instead of silently skipping it.

use crate::feed::Feed;
use crate::hub::SessionKey;
use crate::redis_hub::entry::Entry;
use crate::redis_hub::keys::ChannelKeys;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Whether the feed is complete up to the announcements being received.
pub enum Sync {
    /// Every announcement so far is in the feed; the next one should be its next id.
    Ready,
    /// Someone is reading history to catch up (or opening the feed); announcements wait here.
    Behind(Vec<Entry>),
}

/// The feed a channel's sessions read, once there is one.
#[derive(Clone)]
pub enum FeedState {
    /// Subscribing and reading where the channel is.
    Opening,
    Open(Arc<Feed>),
    /// Forgotten by this node (unused, or it could not be opened): look it up again.
    Gone,
}

pub struct LocalChannel {
    pub name: Arc<str>,
    pub keys: ChannelKeys,
    /// The room name as a JSON string, for the leaves a script writes itself.
    pub room_json: String,
    feed: watch::Sender<FeedState>,
    pub sync: Mutex<Sync>,
    /// This node's sessions in the room, with their nicks: what it heartbeats.
    pub members: Mutex<HashMap<SessionKey, Arc<str>>>,
}

impl LocalChannel {
    fn new(name: &str) -> LocalChannel {
        LocalChannel {
            name: Arc::from(name),
            keys: ChannelKeys::new(name),
            room_json: serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into()),
            feed: watch::Sender::new(FeedState::Opening),
            sync: Mutex::new(Sync::Behind(Vec::new())),
            members: Mutex::new(HashMap::new()),
        }
    }

    pub fn feed(&self) -> Option<Arc<Feed>> {
        match &*self.feed.borrow() {
            FeedState::Open(feed) => Some(feed.clone()),
            _ => None,
        }
    }

    pub fn state(&self) -> FeedState {
        self.feed.borrow().clone()
    }

    pub fn set_feed(&self, state: FeedState) {
        self.feed.send_replace(state);
    }

    pub fn is_gone(&self) -> bool {
        matches!(&*self.feed.borrow(), FeedState::Gone)
    }

    /// Waits until the feed is open (true) or the channel is gone (false).
    pub async fn opened(&self) -> bool {
        let mut rx = self.feed.subscribe();
        let state = rx
            .wait_for(|s| !matches!(s, FeedState::Opening))
            .await
            .map(|s| matches!(&*s, FeedState::Open(_)));
        state.unwrap_or(false)
    }

    /// The members this node heartbeats, as Redis names them.
    pub fn member_ids(&self, node: &str) -> Vec<String> {
        self.members
            .lock()
            .keys()
            .map(|key| member_id(node, *key))
            .collect()
    }
}

/// How Redis names a session of node `node`.
pub fn member_id(node: &str, key: SessionKey) -> String {
    format!("{node}:{key}")
}

/// Every channel this node serves.
#[derive(Default)]
pub struct Local {
    channels: Mutex<HashMap<Arc<str>, Arc<LocalChannel>>>,
}

impl Local {
    /// The channel `name`, and whether the caller just made it (and must open it).
    pub fn get_or_insert(&self, name: &str) -> (Arc<LocalChannel>, bool) {
        let mut channels = self.channels.lock();
        if let Some(channel) = channels.get(name) {
            return (channel.clone(), false);
        }
        let channel = Arc::new(LocalChannel::new(name));
        channels.insert(channel.name.clone(), channel.clone());
        (channel, true)
    }

    pub fn get(&self, name: &str) -> Option<Arc<LocalChannel>> {
        self.channels.lock().get(name).cloned()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.channels.lock().contains_key(name)
    }

    pub fn all(&self) -> Vec<Arc<LocalChannel>> {
        self.channels.lock().values().cloned().collect()
    }

    /// Forgets `channel` (if it is still the one under its name) and marks it gone.
    pub fn remove(&self, channel: &Arc<LocalChannel>) {
        let mut channels = self.channels.lock();
        if channels
            .get(&channel.name)
            .is_some_and(|c| Arc::ptr_eq(c, channel))
        {
            channels.remove(&channel.name);
        }
        channel.set_feed(FeedState::Gone);
    }

    /// The open feed of `channel`, taken under the map's lock so [`Local::retire_unused`]
    /// sees it in use; None if the channel is gone meanwhile.
    pub fn feed_of(&self, channel: &Arc<LocalChannel>) -> Option<Arc<Feed>> {
        let channels = self.channels.lock();
        let current = channels.get(&channel.name)?;
        if !Arc::ptr_eq(current, channel) {
            return None;
        }
        channel.feed()
    }

    /// Forgets the channels no session follows and no member of this node is in; returns their
    /// names (to stop listening to them).
    pub fn retire_unused(&self) -> Vec<Arc<LocalChannel>> {
        let mut channels = self.channels.lock();
        let mut retired = Vec::new();
        channels.retain(|_, channel| {
            let unused = match &*channel.feed.borrow() {
                // Only this channel holds the feed: no subscriber reads it.
                FeedState::Open(feed) => Arc::strong_count(feed) == 1,
                _ => false,
            };
            let idle = matches!(*channel.sync.lock(), Sync::Ready);
            if unused && idle && channel.members.lock().is_empty() {
                retired.push(channel.clone());
                false
            } else {
                true
            }
        });
        drop(channels);
        for channel in &retired {
            channel.set_feed(FeedState::Gone);
        }
        retired
    }

    pub fn len(&self) -> usize {
        self.channels.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels with members of this node.
    pub fn rooms(&self) -> usize {
        self.channels
            .lock()
            .values()
            .filter(|c| !c.members.lock().is_empty())
            .count()
    }
}
