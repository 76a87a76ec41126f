//! One client's session: who it is, what it follows, and what it has been sent.
//!
//! A session is transport-neutral: a WebSocket connection has one for its lifetime; the HTTP
//! transports keep one across requests ([`crate::sessions`]); behind Pushpin, one per
//! connection or HTTP session. What a client's frames *do* is decided in
//! [`crate::client_frame`]; this module holds the state they change and reads what the client
//! should get next ([`Session::take`]): its own events first, then every followed channel's
//! items after its cursor. It never writes to a socket.

use crate::feed::{Feed, Lagged, Parking};
use crate::hub::{Hub, Joined, Member, SessionKey};
use crate::identity::Identity;
use crate::item::{Item, Transport};
use crate::outbox::Outbox;
use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tack_protocol::chat::{EventId, Positions, ServerEvent};
use tokio::time::Instant;

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        let burst = f64::from(burst.max(1));
        RateLimit {
            rate: f64::from(per_second),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// How a session follows a name: as a viewer of the room, or as a watcher of its raw items.
/// A client can do both with one name, and gets each item once per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Watcher,
}

/// A followed name and how it is followed.
type FollowKey = (Arc<str>, Role);

/// How far a session reads its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Everything, as it comes (the built-in transports; held HTTP sessions behind Pushpin,
    /// which read on each request).
    Live,
    /// Only up to where it joined: behind Pushpin, a WebSocket gets the rest from Pushpin.
    UntilJoined,
}

/// One followed room or channel: the feed and where this session is in it.
struct Follow {
    feed: Arc<Feed>,
    cursor: EventId,
    parking: Arc<Parking>,
    /// Items from before the feed's floor, sent first.
    backfill: VecDeque<Arc<Item>>,
    /// `resumed`, sent once the cursor reaches the id it names.
    resumed: Option<(EventId, Utf8Bytes)>,
    /// With [`Reach::UntilJoined`]: the last id this session reads itself.
    until: Option<EventId>,
}

/// The per-session limits the chat logic enforces (from `ServerConfig`).
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub max_rooms: usize,
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub room_changes_per_second: u32,
    pub room_change_burst: u32,
    /// Events a subscriber may trail a channel's newest by (None: as many as it keeps).
    pub max_lag: Option<u64>,
}

pub struct Session {
    /// The id clients see (in `welcome`, and as `session=` on the HTTP transports).
    pub id: String,
    /// The hub's name for this session (see [`Session::key`]).
    key: AtomicU64,
    pub outbox: Outbox,
    pub limits: SessionLimits,
    reach: Reach,
    nick: Mutex<Arc<str>>,
    /// Said `hello`, or came over a transport only Tack clients use: its pages are not the
    /// original system's, so comments go out as typed.
    greeted: AtomicBool,
    pub rate: Mutex<RateLimit>,
    /// Enter, leave, watch, unwatch and hello: a separate budget, so chatting never costs the
    /// right to leave.
    pub room_changes: Mutex<RateLimit>,
    follows: Mutex<BTreeMap<FollowKey, Follow>>,
    /// Taken over by a newer session of the same client (`hello.takeover`): everything it had
    /// is that session's now, so its own end must leave nothing and release nothing.
    retired: AtomicBool,
    /// Who a signed token says the client is (signed identity only).
    identity: Mutex<Option<Arc<Identity>>>,
}

/// A fresh random session id: 128 bits, hex.
pub fn new_session_id() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

/// A nick for a client that never said `hello`, like the original system's anonymous users.
pub fn guest_nick() -> String {
    format!("guest-{:04}", rand::thread_rng().gen_range(0..10_000))
}

/// Why reading stopped: the session fell behind what a channel still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FellBehind {
    pub channel: Arc<str>,
    pub lagged: Lagged,
}

impl Session {
    pub fn new(
        key: SessionKey,
        outbox: Outbox,
        limits: SessionLimits,
        reach: Reach,
        greeted: bool,
    ) -> Session {
        Session {
            id: new_session_id(),
            key: AtomicU64::new(key),
            outbox,
            limits,
            reach,
            nick: Mutex::new(guest_nick().into()),
            greeted: AtomicBool::new(greeted),
            rate: Mutex::new(RateLimit::new(
                limits.messages_per_second,
                limits.message_burst,
            )),
            room_changes: Mutex::new(RateLimit::new(
                limits.room_changes_per_second,
                limits.room_change_burst,
            )),
            follows: Mutex::new(BTreeMap::new()),
            retired: AtomicBool::new(false),
            identity: Mutex::new(None),
        }
    }

    /// Who a verified token says the client is, if it presented one.
    pub fn identity(&self) -> Option<Arc<Identity>> {
        self.identity.lock().clone()
    }

    pub fn set_identity(&self, identity: Arc<Identity>) {
        *self.identity.lock() = Some(identity);
    }

    /// What the hub holds this session's nick under: the signed user (shared by all its
    /// sessions), or else the session itself.
    pub fn nick_owner(&self) -> SessionKey {
        match &*self.identity.lock() {
            Some(identity) => identity.nick_owner(),
            None => self.key(),
        }
    }

    /// The hub's name for this session. It changes at most once: a session that takes over an
    /// earlier one (`hello.takeover`) goes by that session's key, so the hub sees one member
    /// all along, and nobody sees a leave or an enter.
    pub fn key(&self) -> SessionKey {
        self.key.load(Ordering::Relaxed)
    }

    pub fn nick(&self) -> Arc<str> {
        self.nick.lock().clone()
    }

    pub fn set_nick(&self, nick: &str) {
        *self.nick.lock() = Arc::from(nick);
    }

    pub fn greet(&self) {
        self.greeted.store(true, Ordering::Relaxed);
    }

    pub fn greeted(&self) -> bool {
        self.greeted.load(Ordering::Relaxed)
    }

    pub fn reach(&self) -> Reach {
        self.reach
    }

    pub fn member(&self) -> Member {
        Member {
            key: self.key(),
            nick: self.nick(),
        }
    }

    fn names(&self, role: Role) -> Vec<String> {
        self.follows
            .lock()
            .keys()
            .filter(|(_, r)| *r == role)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    pub fn rooms(&self) -> Vec<String> {
        self.names(Role::Viewer)
    }

    pub fn watching(&self) -> Vec<String> {
        self.names(Role::Watcher)
    }

    pub fn follows(&self, name: &str, role: Role) -> bool {
        self.follows.lock().contains_key(&(Arc::from(name), role))
    }

    /// Rooms plus watched channels.
    pub fn following(&self) -> usize {
        self.follows.lock().len()
    }

    /// Starts (or restarts, for a resume) following what `joined` describes. Its presence goes
    /// out first, then the replay and items, then `resumed` where the replay ends.
    pub fn follow(&self, role: Role, joined: Joined) {
        if let Some(presence) = joined.presence {
            self.outbox
                .send_event(&ServerEvent::Presence(presence.clone()));
        }
        let until = match self.reach {
            Reach::Live => None,
            Reach::UntilJoined => Some(joined.announced.unwrap_or(joined.feed.last_id())),
        };
        let resumed = joined.resumed.map(|r| {
            let at = r.last_id;
            (at, Utf8Bytes::from(ServerEvent::Resumed(r).to_json()))
        });
        let key = (joined.feed.name().clone(), role);
        let mut follows = self.follows.lock();
        let follow = match follows.remove(&key) {
            // Joining again without a resume point: what was not yet read still goes out.
            Some(mut was) if resumed.is_none() => {
                was.feed = joined.feed;
                was.until = until.max(was.until);
                was
            }
            _ => Follow {
                parking: Parking::new(self.outbox.wake().clone()),
                feed: joined.feed,
                cursor: joined.start,
                backfill: joined.backfill.into(),
                resumed,
                until,
            },
        };
        follows.insert(key, follow);
        drop(follows);
        self.outbox.wake().notify_one();
    }

    /// Stops following; false if the session did not.
    pub fn unfollow(&self, name: &str, role: Role) -> bool {
        self.follows
            .lock()
            .remove(&(Arc::from(name), role))
            .is_some()
    }

    /// Moves the cursor of every followed name in `positions` there (behind Pushpin: where
    /// Pushpin says the client is).
    pub fn seek(&self, positions: &Positions) {
        for ((name, _), follow) in self.follows.lock().iter_mut() {
            if let Some(id) = positions.get(name) {
                follow.cursor = id;
            }
        }
    }

    /// Per followed name, the last id this session has been sent (the lower of its two roles).
    pub fn positions(&self) -> Positions {
        lowest_cursors(&self.follows.lock())
    }

    /// Becomes `old`, silently: takes its hub key, its nick and everything it follows; `old`
    /// is retired, so nothing leaves them when it ends. Refused (false) once this session
    /// follows anything itself, since its own key is in the hub then.
    pub fn adopt(&self, old: &Session) -> bool {
        let mut mine = self.follows.lock();
        if !mine.is_empty() || old.retired.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.key.store(old.key(), Ordering::Relaxed);
        self.set_nick(&old.nick());
        let wake = self.outbox.wake();
        for (key, mut follow) in std::mem::take(&mut *old.follows.lock()) {
            follow.parking = Parking::new(wake.clone());
            // Behind Pushpin a WebSocket reads only what its own joins answer; the client
            // re-enters with `since` next, which sets that.
            if self.reach == Reach::UntilJoined {
                follow.until = Some(follow.cursor);
            }
            mine.insert(key, follow);
        }
        true
    }

    /// Whether a newer session of the same client took this one over.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// The client is gone: leaves every room, stops every watch, gives up its nick. A session
    /// that was taken over does nothing: what it had is its successor's.
    pub async fn end(&self, hub: &dyn Hub) {
        if self.retired.swap(true, Ordering::AcqRel) {
            return;
        }
        let member = self.member();
        // A signed user's nick is theirs whichever session holds it: nothing to give up.
        if self.identity().is_none() {
            hub.release_nick(&member.nick, member.key).await;
        }
        let follows = std::mem::take(&mut *self.follows.lock());
        for (name, role) in follows.into_keys() {
            let result = match role {
                Role::Viewer => hub.leave(&name, &member).await.map(|_| ()),
                Role::Watcher => {
                    hub.unwatch(&name).await;
                    Ok(())
                }
            };
            if let Err(err) = result {
                tracing::warn!(session = %self.id, channel = %name, %err, "could not leave");
            }
        }
    }

    /// Takes what this client should get next, at most `max` events: its own events, then the
    /// items of everything it follows after its cursors, merged across channels oldest first.
    /// `emit` gets each event's text and, for numbered ones, the session's positions after it
    /// (the SSE `id:`). Returns how many were emitted.
    ///
    /// A live session that fell behind what a channel still holds gets `Err`: it has lost
    /// items, and is told to reconnect and resume. Behind Pushpin the client recovers through
    /// Pushpin, so reading just goes on from what is held.
    pub fn take(
        &self,
        transport: Transport,
        max: usize,
        emit: &mut dyn FnMut(Utf8Bytes, Option<&Positions>),
    ) -> Result<usize, FellBehind> {
        let mut own = Vec::new();
        self.outbox.take(max, &mut own);
        let emitted = own.len();
        for text in own {
            emit(text, None);
        }
        Ok(emitted + self.take_items(transport, max - emitted, emit)?)
    }

    /// What [`Session::take`] takes after the session's own events: the items of everything
    /// it follows. For a caller that takes the own events itself ([`Outbox::take_keeping`]).
    pub fn take_items(
        &self,
        transport: Transport,
        max: usize,
        emit: &mut dyn FnMut(Utf8Bytes, Option<&Positions>),
    ) -> Result<usize, FellBehind> {
        if max == 0 {
            return Ok(0);
        }
        let mut emitted = 0;
        let legacy = !self.greeted();
        let mut follows = self.follows.lock();
        if let Some(taken) = self.take_in_place(&mut follows, transport, legacy, max, emit)? {
            return Ok(taken);
        }
        // Each channel's next events, oldest first, merged by timestamp below. Cursors move
        // only for what goes out; the rest is read again next time.
        let mut pending: Vec<(FollowKey, VecDeque<Pending>)> = Vec::new();
        for (key, follow) in follows.iter_mut() {
            let events = self.pending(&key.0, follow, max - emitted)?;
            if !events.is_empty() {
                pending.push((key.clone(), events));
            }
        }
        let mut positions = (transport == Transport::Stream).then(|| lowest_cursors(&follows));
        while emitted < max {
            // The channel whose next event is oldest; ties keep channel order.
            let Some(slot) = pending
                .iter()
                .enumerate()
                .filter_map(|(slot, (_, events))| events.front().map(|e| (slot, e.ts())))
                .min_by_key(|(_, ts)| *ts)
                .map(|(slot, _)| slot)
            else {
                break;
            };
            let (key, events) = &mut pending[slot];
            let event = events.pop_front().expect("not empty");
            let follow = follows.get_mut(key).expect("followed");
            match event {
                Pending::Item(item) | Pending::Backfill(item) => {
                    let text = match (key.1, legacy) {
                        (Role::Viewer, true) => item.legacy_frame(),
                        (role, _) => item.frame(transport, role == Role::Watcher),
                    };
                    follow.cursor = follow.cursor.max(item.id);
                    if let Some(positions) = &mut positions {
                        let lowest = follows
                            .iter()
                            .filter(|((name, _), _)| *name == key.0)
                            .map(|(_, f)| f.cursor)
                            .min()
                            .unwrap_or(item.id);
                        positions.0.insert(key.0.to_string(), lowest);
                    }
                    emit(text, positions.as_ref());
                }
                Pending::Resumed(_, text) => emit(text, None),
            }
            emitted += 1;
        }
        for (key, events) in pending {
            let follow = follows.get_mut(&key).expect("followed");
            for event in events.into_iter().rev() {
                match event {
                    Pending::Backfill(item) => follow.backfill.push_front(item),
                    Pending::Resumed(at, text) => follow.resumed = Some((at, text)),
                    Pending::Item(_) => {}
                }
            }
        }
        Ok(emitted)
    }

    /// What [`Session::take`] does in the common case, reading the feed in place: exactly one
    /// followed channel has new items and none has backfill or a `resumed` waiting, so there is
    /// nothing to merge and no item needs a reference of its own. A broadcast is read by every
    /// subscriber; what this saves per item (a reference taken and dropped, a copy into a
    /// queue) is paid by all of them, and the references are counters every core writes.
    /// `None`: the general path must run (SSE, which needs positions after each event; several
    /// channels to merge; a replay's seam; a session behind Pushpin that lost items).
    fn take_in_place(
        &self,
        follows: &mut BTreeMap<FollowKey, Follow>,
        transport: Transport,
        legacy: bool,
        max: usize,
        emit: &mut dyn FnMut(Utf8Bytes, Option<&Positions>),
    ) -> Result<Option<usize>, FellBehind> {
        if transport == Transport::Stream {
            return Ok(None);
        }
        let mut ready = None;
        for (key, follow) in follows.iter_mut() {
            if !follow.backfill.is_empty() || follow.resumed.is_some() {
                return Ok(None);
            }
            let upto = follow.until.unwrap_or(EventId::MAX);
            if follow.feed.last_id() > follow.cursor && follow.cursor < upto {
                if ready.is_some() {
                    return Ok(None);
                }
                ready = Some((key, follow));
            }
        }
        let Some(((name, role), follow)) = ready else {
            return Ok(Some(0));
        };
        let fell_behind = |lagged| FellBehind {
            channel: name.clone(),
            lagged,
        };
        if self.reach == Reach::Live {
            let trailing = follow.feed.last_id().saturating_sub(follow.cursor);
            if self.limits.max_lag.is_some_and(|max| trailing > max) {
                return Err(fell_behind(Lagged {
                    cursor: follow.cursor,
                    floor: follow.feed.floor(),
                }));
            }
        }
        let upto = follow.until.unwrap_or(EventId::MAX);
        let watcher = *role == Role::Watcher;
        let legacy = legacy && *role == Role::Viewer;
        let read = follow.feed.read_each(follow.cursor, upto, max, |item| {
            let text = if legacy {
                item.legacy_frame()
            } else {
                item.frame(transport, watcher)
            };
            emit(text, None);
        });
        match read {
            Ok((n, last)) => {
                follow.cursor = last;
                Ok(Some(n))
            }
            Err(lagged) if self.reach == Reach::Live => Err(fell_behind(lagged)),
            Err(_) => Ok(None),
        }
    }

    /// One channel's next events: backfill, then feed items up to the `resumed` point, then
    /// `resumed`, then the feed's newer items; at most `max`.
    fn pending(
        &self,
        name: &Arc<str>,
        follow: &mut Follow,
        max: usize,
    ) -> Result<VecDeque<Pending>, FellBehind> {
        if self.reach == Reach::Live {
            if let Err(lagged) = self.lag(follow) {
                return Err(FellBehind {
                    channel: name.clone(),
                    lagged,
                });
            }
        }
        let mut events: VecDeque<Pending> = std::mem::take(&mut follow.backfill)
            .into_iter()
            .map(Pending::Backfill)
            .collect();
        let mut cursor = events
            .back()
            .map_or(follow.cursor, Pending::id)
            .max(follow.cursor);
        let mut resumed = follow.resumed.take();
        let mut items = Vec::new();
        while events.len() < max {
            if let Some((at, _)) = &resumed {
                if cursor >= *at {
                    let (at, text) = resumed.take().expect("checked");
                    events.push_back(Pending::Resumed(at, text));
                    continue;
                }
            }
            let limit = [follow.until, resumed.as_ref().map(|(at, _)| *at)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(EventId::MAX);
            if cursor >= limit {
                break;
            }
            items.clear();
            match follow
                .feed
                .read(cursor, limit, max - events.len(), &mut items)
            {
                Ok(0) => break,
                Ok(_) => {}
                Err(lagged) if self.reach == Reach::Live => {
                    return Err(FellBehind {
                        channel: name.clone(),
                        lagged,
                    })
                }
                Err(lagged) => {
                    follow.cursor = lagged.floor;
                    cursor = lagged.floor;
                    continue;
                }
            }
            cursor = items.last().map_or(cursor, |i| i.id);
            events.extend(items.drain(..).map(Pending::Item));
        }
        follow.resumed = resumed;
        Ok(events)
    }

    /// The first channel this session has fallen behind (items after its cursor are no longer
    /// held), if any; reads nothing.
    pub fn fell_behind(&self) -> Option<FellBehind> {
        self.follows.lock().iter().find_map(|((name, _), follow)| {
            self.lag(follow).err().map(|lagged| FellBehind {
                channel: name.clone(),
                lagged,
            })
        })
    }

    /// `Err` when `follow` has lost items, or trails by more than the limit allows.
    fn lag(&self, follow: &Follow) -> Result<(), Lagged> {
        if !follow.backfill.is_empty() {
            return Ok(());
        }
        let floor = follow.feed.floor();
        let trailing = follow.feed.last_id().saturating_sub(follow.cursor);
        if follow.cursor < floor || self.limits.max_lag.is_some_and(|max| trailing > max) {
            return Err(Lagged {
                cursor: follow.cursor,
                floor,
            });
        }
        Ok(())
    }

    /// Whether this session may sleep: nothing of its own is queued and every channel it
    /// follows has nothing after its cursor. Registers with each channel to be woken by its
    /// next item.
    pub fn park(&self) -> bool {
        if !self.outbox.is_empty() {
            return false;
        }
        for follow in self.follows.lock().values() {
            if !follow.backfill.is_empty()
                || follow
                    .resumed
                    .as_ref()
                    .is_some_and(|(at, _)| follow.cursor >= *at)
            {
                return false;
            }
            if follow.until.is_some_and(|until| follow.cursor >= until) {
                continue;
            }
            if !follow.feed.park(&follow.parking, follow.cursor) {
                return false;
            }
        }
        true
    }
}

/// One event waiting to go out for one channel.
enum Pending {
    /// From the channel's feed: it is read again if it does not go out now.
    Item(Arc<Item>),
    /// From before the feed: put back if it does not go out now.
    Backfill(Arc<Item>),
    /// `resumed`, with the id it follows.
    Resumed(EventId, Utf8Bytes),
}

impl Pending {
    fn id(&self) -> EventId {
        match self {
            Pending::Item(item) | Pending::Backfill(item) => item.id,
            Pending::Resumed(at, _) => *at,
        }
    }

    /// Sort key for merging channels: the item's time; `resumed` goes right after what precedes
    /// it in its own channel.
    fn ts(&self) -> u64 {
        match self {
            Pending::Item(item) | Pending::Backfill(item) => item.ts,
            Pending::Resumed(..) => 0,
        }
    }
}

/// Per followed name, the lowest cursor of its roles.
fn lowest_cursors(follows: &BTreeMap<FollowKey, Follow>) -> Positions {
    let mut positions = Positions::default();
    for ((name, _), follow) in follows {
        let entry = positions.0.entry(name.to_string()).or_insert(follow.cursor);
        *entry = (*entry).min(follow.cursor);
    }
    positions
}
