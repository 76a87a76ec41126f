//! Counting what happens during a run: connect times, deliveries with their latency,
//! duplicates, and errors by kind. Shared by every connection task.
//!
//! Latency histograms are sharded, one shard per connection thread (connection `i` runs on
//! thread `i mod threads` and uses shard `i mod threads`), so a shard's lock is only ever
//! contended by the run's control loop reading it; each task locks its shard once per received
//! frame, never across an await.

use crate::payload::Stamp;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Longest latency a histogram holds (an hour, in µs); longer ones are clamped to it.
const HIST_MAX_US: u64 = 3_600_000_000;

pub struct Tally {
    clock: Instant,
    shards: Box<[Mutex<Shard>]>,
    /// The saturation step whose messages count; earlier steps' late arrivals are ignored.
    epoch: AtomicU32,
    errors: Mutex<BTreeMap<String, u64>>,
    pub connected: AtomicUsize,
    pub ready: AtomicUsize,
    pub closed: AtomicUsize,
    pub published: AtomicU64,
    /// Messages sent to each room this epoch, and the members each room had when sending
    /// began: together they say how many deliveries to expect.
    sent_per_room: Box<[AtomicU64]>,
    ready_per_room: Box<[AtomicU64]>,
}

struct Shard {
    latency: Histogram<u64>,
    connect: Histogram<u64>,
    delivered: u64,
    duplicated: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// What one measurement window (a whole run, or one saturation step) saw.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub published: u64,
    pub expected: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub latency: Percentiles,
    pub connect: Percentiles,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds")
}

impl Tally {
    /// A tally for `rooms` rooms, with one shard per connection thread.
    pub fn new(rooms: usize, shards: usize) -> Tally {
        Tally {
            clock: Instant::now(),
            shards: (0..shards.max(1))
                .map(|_| {
                    Mutex::new(Shard {
                        latency: histogram(),
                        connect: histogram(),
                        delivered: 0,
                        duplicated: 0,
                    })
                })
                .collect(),
            epoch: AtomicU32::new(0),
            errors: Mutex::new(BTreeMap::new()),
            connected: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            published: AtomicU64::new(0),
            sent_per_room: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
            ready_per_room: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Microseconds on the run's clock, the timestamp a payload carries.
    pub fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn connect_took(&self, conn: usize, took: Duration) {
        let us = (took.as_micros() as u64).clamp(1, HIST_MAX_US);
        let _ = self.shard(conn).lock().connect.record(us);
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection's subscription to `room` is confirmed: it now counts as a receiver.
    pub fn ready_in(&self, room: usize) {
        self.ready_per_room[room].fetch_add(1, Ordering::Relaxed);
        self.ready.fetch_add(1, Ordering::Release);
    }

    /// A message for `room` left the publisher (or a chatting member).
    pub fn sent_to(&self, room: usize, count: u64) {
        self.sent_per_room[room].fetch_add(count, Ordering::Relaxed);
        self.published.fetch_add(count, Ordering::Relaxed);
    }

    /// Records the messages one received frame carried, already split into first arrivals
    /// (with their send times) and duplicates by the connection's [`Seen`].
    pub fn received(&self, conn: usize, first_sent_us: &[u64], duplicates: u64) {
        if first_sent_us.is_empty() && duplicates == 0 {
            return;
        }
        let now = self.now_us();
        let mut shard = self.shard(conn).lock();
        for &sent in first_sent_us {
            let us = now.saturating_sub(sent).clamp(1, HIST_MAX_US);
            let _ = shard.latency.record(us);
        }
        shard.delivered += first_sent_us.len() as u64;
        shard.duplicated += duplicates;
    }

    fn shard(&self, conn: usize) -> &Mutex<Shard> {
        &self.shards[conn % self.shards.len()]
    }

    /// Counts one error of `kind` ("connect: connection refused", "closed: 1013", …).
    pub fn error(&self, kind: impl Into<String>) {
        *self.errors.lock().entry(kind.into()).or_insert(0) += 1;
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().clone()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.lock().values().sum()
    }

    pub fn delivered(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().delivered).sum()
    }

    /// Deliveries the receivers should have had by now: each room's messages times its
    /// ready members.
    pub fn expected(&self) -> u64 {
        self.sent_per_room
            .iter()
            .zip(self.ready_per_room.iter())
            .map(|(sent, members)| sent.load(Ordering::Relaxed) * members.load(Ordering::Relaxed))
            .sum()
    }

    /// The window so far, without resetting it.
    pub fn window(&self) -> Window {
        let mut latency = histogram();
        let mut connect = histogram();
        let (mut delivered, mut duplicated) = (0, 0);
        for shard in self.shards.iter() {
            let shard = shard.lock();
            let _ = latency.add(&shard.latency);
            let _ = connect.add(&shard.connect);
            delivered += shard.delivered;
            duplicated += shard.duplicated;
        }
        Window {
            published: self.published.load(Ordering::Relaxed),
            expected: self.expected(),
            delivered,
            duplicated,
            latency: Percentiles::of(&latency),
            connect: Percentiles::of(&connect),
        }
    }

    /// Ends a saturation step: returns its window and starts the next epoch from zero
    /// (connect times and room membership carry over).
    pub fn next_epoch(&self) -> Window {
        let window = self.window();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.latency.reset();
            shard.delivered = 0;
            shard.duplicated = 0;
        }
        for sent in self.sent_per_room.iter() {
            sent.store(0, Ordering::Relaxed);
        }
        self.published.store(0, Ordering::Relaxed);
        window
    }
}

/// One connection's record of which messages it already has, to tell duplicates apart.
#[derive(Default)]
pub struct Seen {
    epoch: u32,
    /// A bit set of sequence numbers per stream; a connection hears few streams (one room's
    /// publisher, or the handful of members of its chat room), so a short list beats a map.
    streams: Vec<(u32, Vec<u64>)>,
}

/// What [`Seen::note`] made of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    First,
    Duplicate,
    /// From an earlier saturation step; not counted.
    Stale,
}

impl Seen {
    pub fn note(&mut self, stamp: &Stamp, current_epoch: u32) -> Arrival {
        if stamp.epoch != current_epoch {
            return Arrival::Stale;
        }
        if stamp.epoch != self.epoch {
            self.epoch = stamp.epoch;
            self.streams.clear();
        }
        let bits = match self
            .streams
            .iter_mut()
            .position(|(s, _)| *s == stamp.stream)
        {
            Some(i) => &mut self.streams[i].1,
            None => {
                self.streams.push((stamp.stream, Vec::new()));
                &mut self.streams.last_mut().expect("just pushed").1
            }
        };
        let (word, bit) = ((stamp.seq / 64) as usize, stamp.seq % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        if bits[word] & mask != 0 {
            Arrival::Duplicate
        } else {
            bits[word] |= mask;
            Arrival::First
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(epoch: u32, stream: u32, seq: u64) -> Stamp {
        Stamp {
            epoch,
            stream,
            seq,
            sent_us: 0,
        }
    }

    #[test]
    fn the_same_message_twice_is_a_duplicate_but_another_stream_is_not() {
        let mut seen = Seen::default();
        assert_eq!(seen.note(&stamp(0, 1, 5), 0), Arrival::First);
        assert_eq!(seen.note(&stamp(0, 1, 5), 0), Arrival::Duplicate);
        assert_eq!(seen.note(&stamp(0, 2, 5), 0), Arrival::First);
        assert_eq!(seen.note(&stamp(0, 1, 700), 0), Arrival::First);
    }

    #[test]
    fn a_late_message_from_an_earlier_step_is_stale() {
        let mut seen = Seen::default();
        assert_eq!(seen.note(&stamp(1, 1, 0), 1), Arrival::First);
        assert_eq!(seen.note(&stamp(0, 1, 0), 1), Arrival::Stale);
    }

    #[test]
    fn expected_deliveries_are_messages_times_members_per_room() {
        let tally = Tally::new(2, 2);
        tally.ready_in(0);
        tally.ready_in(0);
        tally.ready_in(1);
        tally.sent_to(0, 10);
        tally.sent_to(1, 3);
        assert_eq!(tally.expected(), 23);
        tally.received(0, &[tally.now_us()], 1);
        let w = tally.next_epoch();
        assert_eq!((w.delivered, w.duplicated, w.published), (1, 1, 13));
        assert_eq!(tally.window().delivered, 0);
        assert_eq!(tally.epoch(), 1);
    }
}
