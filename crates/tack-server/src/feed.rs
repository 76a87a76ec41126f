//! A channel's feed: its numbered items, kept for resume and read by every subscriber from its
//! own cursor.
//!
//! This is the server's fan-out. Publishing appends one shared [`Item`] and wakes the
//! subscribers that are waiting — nothing is queued per subscriber. Each subscriber's own task
//! copies out the items after its cursor and writes them, so the work of a broadcast is spread
//! over the connections' tasks and with them over every core (the bare tokio-tungstenite
//! broadcast loop works the same way; a per-subscriber queue filled by the publisher ran the
//! whole fan-out on one core).
//!
//! The feed is also the channel's history: a client resuming with `since` reads from the same
//! buffer it then follows, so the seam between replay and live items has no gap and no
//! duplicate by construction. A subscriber whose cursor falls behind what the feed still holds
//! has lost items and is told so ([`Lagged`]); it reconnects and resumes, as a slow consumer
//! did before.
//!
//! How long items stay: at most `history_len` items, except that an item younger than the live
//! window (2 s by default) is never dropped for count — so a subscriber a moment behind a burst
//! keeps up instead of being cut off, whatever the channel's rate — and never older than the
//! history age. A byte cap bounds a channel's memory whatever the rate.

use crate::item::Item;
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tack_protocol::chat::EventId;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a feed keeps its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Items kept for resume (more while they are younger than `live`).
    pub len: usize,
    /// Items this young are kept whatever `len` says: how far behind, in time, a subscriber may
    /// fall before it has lost items.
    pub live: Duration,
    /// Oldest item kept.
    pub age: Duration,
    /// Bytes of item content kept at most, whatever their age: the bound on a busy channel's
    /// memory.
    pub max_bytes: usize,
}

/// A subscriber fell behind what the feed still holds: items after `cursor` up to `floor` are
/// gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged {
    pub cursor: EventId,
    pub floor: EventId,
}

/// One subscriber's place in the queue of sleepers of a feed: at most one entry per
/// subscription, so a quiet feed's list cannot grow while the subscriber is woken elsewhere.
#[derive(Debug)]
pub struct Parking {
    wake: Arc<Notify>,
    parked: AtomicBool,
}

impl Parking {
    /// A place that wakes `wake` (the subscriber's task's own signal).
    pub fn new(wake: Arc<Notify>) -> Arc<Parking> {
        Arc::new(Parking {
            wake,
            parked: AtomicBool::new(false),
        })
    }
}

pub struct Feed {
    name: Arc<str>,
    window: RwLock<Window>,
    /// The newest id appended; read without the window's lock by subscribers deciding whether
    /// to sleep (always under `sleepers`' lock, see [`Feed::park`]).
    last_id: AtomicU64,
    sleepers: Mutex<Vec<Arc<Parking>>>,
}

struct Window {
    items: VecDeque<(Instant, Arc<Item>)>,
    bytes: usize,
    /// Every item with an id at or below this is gone from the feed (never held, or dropped).
    floor: EventId,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("name", &self.name)
            .field("last_id", &self.last_id())
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// An empty feed whose items start after `last_id` (0 for a new channel; a Redis hub's node
    /// starts its local feed at the channel's current id).
    pub fn new(name: Arc<str>, last_id: EventId) -> Feed {
        Feed {
            name,
            window: RwLock::new(Window {
                items: VecDeque::new(),
                bytes: 0,
                floor: last_id,
            }),
            last_id: AtomicU64::new(last_id),
            sleepers: Mutex::new(Vec::new()),
        }
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The newest id appended (0: none).
    pub fn last_id(&self) -> EventId {
        self.last_id.load(Ordering::Acquire)
    }

    /// Items at or below this id are no longer held.
    pub fn floor(&self) -> EventId {
        self.window.read().floor
    }

    /// Appends `item` (its id must be above every id appended before), trims what `retention`
    /// no longer keeps, and wakes every sleeping subscriber.
    pub fn append(&self, item: Arc<Item>, retention: Retention) {
        let now = Instant::now();
        {
            let mut window = self.window.write();
            debug_assert!(item.id > self.last_id(), "feed ids only grow");
            window.bytes += item.weight();
            self.last_id.store(item.id, Ordering::Release);
            window.items.push_back((now, item));
            window.trim(retention, now);
        }
        self.wake_sleepers();
    }

    /// Declares everything up to `id` gone without holding it: a Redis hub's node that lost
    /// contact moves its feed past what it could not fetch, so subscribers behind it learn of
    /// the gap instead of skipping it.
    pub fn skip_to(&self, id: EventId) {
        {
            let mut window = self.window.write();
            if id <= window.floor {
                return;
            }
            while window.items.front().is_some_and(|(_, item)| item.id <= id) {
                window.pop_front();
            }
            window.floor = id;
            if id > self.last_id() {
                self.last_id.store(id, Ordering::Release);
            }
        }
        self.wake_sleepers();
    }

    /// Drops what `retention` no longer keeps (a quiet channel's old items).
    pub fn trim(&self, retention: Retention) {
        self.window.write().trim(retention, Instant::now());
    }

    /// Whether the feed holds nothing.
    pub fn is_empty(&self) -> bool {
        self.window.read().items.is_empty()
    }

    /// Items with `after < id <= upto` still held, oldest first (history reads).
    pub fn range(&self, after: EventId, upto: EventId) -> Vec<Arc<Item>> {
        let window = self.window.read();
        let start = window.items.partition_point(|(_, item)| item.id <= after);
        window
            .items
            .range(start..)
            .take_while(|(_, item)| item.id <= upto)
            .map(|(_, item)| item.clone())
            .collect()
    }

    /// Copies up to `max` items after `cursor` (and at or below `upto`) into `out`; returns how
    /// many. `Err` when items after `cursor` are no longer held.
    pub fn read(
        &self,
        cursor: EventId,
        upto: EventId,
        max: usize,
        out: &mut Vec<Arc<Item>>,
    ) -> Result<usize, Lagged> {
        self.read_each(cursor, upto, max, |item| out.push(item.clone()))
            .map(|(n, _)| n)
    }

    /// Hands each item after `cursor` (and at or below `upto`), up to `max` of them, to `each`
    /// under the feed's lock, so a caller need not take a reference to it: a broadcast is read
    /// by every subscriber, and each reference taken and dropped is a write to a counter all of
    /// them share. Returns how many
    /// items were handed over and the last one's id. `Err` when items after `cursor` are no
    /// longer held.
    pub fn read_each(
        &self,
        cursor: EventId,
        upto: EventId,
        max: usize,
        mut each: impl FnMut(&Arc<Item>),
    ) -> Result<(usize, EventId), Lagged> {
        let window = self.window.read();
        if cursor < window.floor {
            return Err(Lagged {
                cursor,
                floor: window.floor,
            });
        }
        let start = window.items.partition_point(|(_, item)| item.id <= cursor);
        let mut last = cursor;
        let mut n = 0;
        for (_, item) in window.items.range(start..).take(max) {
            if item.id > upto {
                break;
            }
            each(item);
            last = item.id;
            n += 1;
        }
        Ok((n, last))
    }

    /// Puts `parking` among the sleepers unless there is something after `cursor` already.
    /// Returns false when the subscriber should read instead of sleeping.
    ///
    /// Checking `last_id` under the sleepers' lock is what makes this race-free: an append
    /// stores its id before it takes the lock to wake the sleepers, so either this sees the new
    /// id, or the append sees this entry.
    pub fn park(&self, parking: &Arc<Parking>, cursor: EventId) -> bool {
        let mut sleepers = self.sleepers.lock();
        if self.last_id() > cursor {
            return false;
        }
        if !parking.parked.swap(true, Ordering::AcqRel) {
            sleepers.push(parking.clone());
        }
        true
    }

    fn wake_sleepers(&self) {
        let sleepers = std::mem::take(&mut *self.sleepers.lock());
        for parking in sleepers {
            parking.parked.store(false, Ordering::Release);
            parking.wake.notify_one();
        }
    }
}

impl Window {
    fn pop_front(&mut self) {
        if let Some((_, item)) = self.items.pop_front() {
            self.bytes -= item.weight();
            self.floor = self.floor.max(item.id);
        }
    }

    fn trim(&mut self, retention: Retention, now: Instant) {
        while let Some((at, _)) = self.items.front() {
            let age = now.saturating_duration_since(*at);
            let too_many = self.items.len() > retention.len && age > retention.live;
            let too_old = age > retention.age;
            let too_big = self.bytes > retention.max_bytes && self.items.len() > 1;
            if !(too_many || too_old || too_big) {
                break;
            }
            self.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemBody;

    fn item(id: EventId) -> Arc<Item> {
        Arc::new(Item::new(
            Arc::from("c"),
            id,
            0,
            ItemBody::Chat(format!("{{\"id\":{id}}}").into()),
            None,
        ))
    }

    fn retention(len: usize) -> Retention {
        Retention {
            len,
            live: Duration::from_secs(2),
            age: Duration::from_secs(3600),
            max_bytes: usize::MAX,
        }
    }

    fn ids(items: &[Arc<Item>]) -> Vec<EventId> {
        items.iter().map(|i| i.id).collect()
    }

    #[test]
    fn a_subscriber_reads_what_came_after_its_cursor_in_order() {
        let feed = Feed::new(Arc::from("c"), 0);
        for id in 1..=5 {
            feed.append(item(id), retention(100));
        }
        let mut out = Vec::new();
        assert_eq!(feed.read(2, EventId::MAX, 10, &mut out), Ok(3));
        assert_eq!(ids(&out), [3, 4, 5]);
        out.clear();
        assert_eq!(feed.read(0, 3, 2, &mut out), Ok(2));
        assert_eq!(ids(&out), [1, 2]);
    }

    #[test]
    fn reading_in_place_says_where_the_subscriber_got_to() {
        let feed = Feed::new(Arc::from("c"), 0);
        for id in 1..=6 {
            feed.append(item(id), retention(100));
        }
        let read = |cursor, upto, max| {
            let mut handed = Vec::new();
            let (n, last) = feed
                .read_each(cursor, upto, max, |item| handed.push(item.id))
                .unwrap();
            assert_eq!(n, handed.len());
            (handed, last)
        };
        assert_eq!(read(2, 5, 10), (vec![3, 4, 5], 5));
        assert_eq!(read(1, EventId::MAX, 2), (vec![2, 3], 3));
        // Nothing new: the cursor stays where it was.
        assert_eq!(read(6, 9, 3), (vec![], 6));
        feed.skip_to(4);
        assert_eq!(
            feed.read_each(2, EventId::MAX, 10, |_| {}),
            Err(Lagged {
                cursor: 2,
                floor: 4
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_kept_for_the_live_window_then_trimmed_to_the_history_length() {
        let feed = Feed::new(Arc::from("c"), 0);
        for id in 1..=10 {
            feed.append(item(id), retention(3));
        }
        let mut out = Vec::new();
        assert_eq!(feed.read(0, EventId::MAX, 100, &mut out), Ok(10));
        tokio::time::advance(Duration::from_millis(2001)).await;
        feed.append(item(11), retention(3));
        assert_eq!(
            feed.read(0, EventId::MAX, 100, &mut Vec::new()),
            Err(Lagged {
                cursor: 0,
                floor: 8
            })
        );
        assert_eq!(ids(&feed.range(0, EventId::MAX)), [9, 10, 11]);
    }

    #[test]
    fn the_byte_cap_bounds_a_feed_whatever_the_rate() {
        let feed = Feed::new(Arc::from("c"), 0);
        let weight = item(1).weight();
        let cap = Retention {
            max_bytes: weight * 4,
            ..retention(1_000)
        };
        for id in 1..=100 {
            feed.append(item(id), cap);
        }
        assert!(feed.range(0, EventId::MAX).len() <= 4);
    }

    #[tokio::test]
    async fn a_sleeper_is_woken_by_the_next_append_and_only_listed_once() {
        let feed = Feed::new(Arc::from("c"), 0);
        let wake = Arc::new(Notify::new());
        let parking = Parking::new(wake.clone());
        assert!(feed.park(&parking, 0));
        assert!(feed.park(&parking, 0));
        assert_eq!(feed.sleepers.lock().len(), 1);
        feed.append(item(1), retention(10));
        // The permit is stored: the wake cannot be missed even if it came before the wait.
        tokio::time::timeout(Duration::from_secs(1), wake.notified())
            .await
            .expect("woken");
        assert!(!feed.park(&parking, 0), "something to read: don't sleep");
        assert!(feed.sleepers.lock().is_empty());
    }

    #[test]
    fn skipping_ahead_tells_subscribers_behind_it_that_they_lost_items() {
        let feed = Feed::new(Arc::from("c"), 0);
        feed.append(item(1), retention(10));
        feed.skip_to(5);
        assert_eq!(feed.last_id(), 5);
        assert!(feed.read(1, EventId::MAX, 10, &mut Vec::new()).is_err());
        assert_eq!(feed.read(5, EventId::MAX, 10, &mut Vec::new()), Ok(0));
        feed.append(item(6), retention(10));
        assert_eq!(ids(&feed.range(0, EventId::MAX)), [6]);
    }
}
