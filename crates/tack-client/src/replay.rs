//! When each item of a recording is due on a replay the user steers: play, pause, step one
//! item, seek to a time, change the speed. No clock and no IO: the caller passes `now` in, so
//! the order and the timing can be tested without waiting (the player in `player` owns the
//! clock and the destination).
//!
//! The replay keeps a recorded time of its own. While playing it runs at the speed from an
//! anchor (a moment and the recorded time due then); pausing freezes it, and playing again
//! re-anchors there, so a pause never makes the items after it bunch up or jump.

use crate::monitor::Record;
use crate::recording::Speed;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Schedule {
    /// Sorted by receive time (as `recording::read_records` returns them); shared with
    /// whoever judges delivered items again (see [`Schedule::records`]).
    records: Arc<[Record]>,
    /// The next item to deliver.
    next: usize,
    speed: Speed,
    /// While playing: when the recorded time `.1` (ms since the epoch) is due.
    anchor: Option<(Instant, u64)>,
    /// While paused: the recorded time the replay stands at.
    stopped_at: u64,
}

impl Schedule {
    /// A replay of `records` (sorted by receive time), paused before its first item.
    pub fn new(records: Vec<Record>, speed: Speed) -> Schedule {
        let stopped_at = records.first().map_or(0, |r| r.received);
        Schedule {
            records: records.into(),
            next: 0,
            speed,
            anchor: None,
            stopped_at,
        }
    }

    /// The whole recording, in order (items `..position()` were delivered).
    pub fn records(&self) -> Arc<[Record]> {
        self.records.clone()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Items delivered so far (the index of the next one).
    pub fn position(&self) -> usize {
        self.next
    }

    pub fn is_playing(&self) -> bool {
        self.anchor.is_some()
    }

    pub fn is_done(&self) -> bool {
        self.next == self.records.len()
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// The receive times of the first and last items (0 for an empty recording).
    pub fn span(&self) -> (u64, u64) {
        let at = |r: Option<&Record>| r.map_or(0, |r| r.received);
        (at(self.records.first()), at(self.records.last()))
    }

    /// The recorded time the replay stands at: between the items delivered and the next.
    pub fn recorded_now(&self, now: Instant) -> u64 {
        match (self.anchor, self.speed) {
            (None, _) => self.stopped_at,
            // As fast as possible has no time of its own: it stands at the next item.
            (Some(_), Speed::AsFastAsPossible) => self
                .records
                .get(self.next)
                .map_or(self.span().1, |r| r.received),
            (Some((at, recorded)), Speed::Times(factor)) => {
                let elapsed = now.saturating_duration_since(at).as_secs_f64() * factor;
                recorded.saturating_add((elapsed * 1000.0) as u64)
            }
        }
    }

    pub fn play(&mut self, now: Instant) {
        if self.anchor.is_none() && !self.is_done() {
            self.anchor = Some((now, self.stopped_at));
        }
    }

    pub fn pause(&mut self, now: Instant) {
        if self.anchor.is_some() {
            self.stopped_at = self.recorded_now(now);
            self.anchor = None;
        }
    }

    /// Goes on from the recorded time it stands at, at `speed`.
    pub fn set_speed(&mut self, speed: Speed, now: Instant) {
        let at = self.recorded_now(now);
        self.speed = speed;
        if self.anchor.is_some() {
            self.anchor = Some((now, at));
        } else {
            self.stopped_at = at;
        }
    }

    /// Pauses and hands over the next item (none at the end).
    pub fn step(&mut self, now: Instant) -> Option<&Record> {
        self.pause(now);
        let record = self.records.get(self.next)?;
        self.next += 1;
        self.stopped_at = self.stopped_at.max(record.received);
        Some(record)
    }

    /// Moves to recorded time `at` (ms since the epoch): the next item is the first received
    /// then or later. Playing or paused, it stays so.
    pub fn seek(&mut self, at: u64, now: Instant) {
        let (first, last) = self.span();
        let at = at.clamp(first, last);
        self.next = self.records.partition_point(|r| r.received < at);
        if self.anchor.is_some() {
            self.anchor = Some((now, at));
        } else {
            self.stopped_at = at;
        }
    }

    /// The items due by `now`, at most `max`, oldest first; they count as delivered. At the
    /// end it pauses there.
    pub fn due(&mut self, now: Instant, max: usize) -> &[Record] {
        if self.anchor.is_none() {
            return &[];
        }
        let start = self.next;
        let until = self.recorded_now(now);
        let end = match self.speed {
            Speed::AsFastAsPossible => self.records.len(),
            Speed::Times(_) => {
                start + self.records[start..].partition_point(|r| r.received <= until)
            }
        }
        .min(start + max);
        self.next = end;
        if self.is_done() {
            self.stopped_at = self.span().1;
            self.anchor = None;
        }
        &self.records[start..end]
    }

    /// When the next item is due while playing; `None` when paused or at the end.
    pub fn next_due(&self) -> Option<Instant> {
        let (at, recorded) = self.anchor?;
        let next = self.records.get(self.next)?;
        Some(match self.speed {
            Speed::AsFastAsPossible => at,
            Speed::Times(factor) => {
                let ahead = next.received.saturating_sub(recorded) as f64 / 1000.0 / factor;
                at + Duration::from_secs_f64(ahead)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(n: u64, received: u64) -> Record {
        Record {
            channel: "orders".into(),
            id: Some(n),
            ts: None,
            received,
            user: None,
            payload: format!("item {n}"),
            binary: false,
        }
    }

    /// Items 1..=n, one every `gap` ms from t = 10,000.
    fn spaced(n: u64, gap: u64) -> Vec<Record> {
        (1..=n).map(|i| record(i, 10_000 + (i - 1) * gap)).collect()
    }

    fn ids(records: &[Record]) -> Vec<u64> {
        records.iter().filter_map(|r| r.id).collect()
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn it_opens_paused_before_the_first_item() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(3, 1000), Speed::Times(1.0));
        assert!(!s.is_playing());
        assert!(s.due(t0 + Duration::from_secs(60), 100).is_empty());
        assert_eq!(s.next_due(), None);
        assert_eq!(s.recorded_now(t0), 10_000);
    }

    #[test]
    fn at_ten_times_a_second_of_recording_takes_a_tenth() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(3, 1000), Speed::Times(10.0));
        s.play(t0);
        assert_eq!(ids(s.due(t0, 100)), [1]);
        assert_eq!(s.next_due(), Some(t0 + 100 * MS));
        assert!(s.due(t0 + 99 * MS, 100).is_empty());
        assert_eq!(ids(s.due(t0 + 100 * MS, 100)), [2]);
        assert_eq!(ids(s.due(t0 + 200 * MS, 100)), [3]);
        assert!(s.is_done() && !s.is_playing(), "it stops at the end");
    }

    #[test]
    fn as_fast_as_possible_hands_everything_over_in_bounded_batches() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(1000, 1000), Speed::AsFastAsPossible);
        s.play(t0);
        assert_eq!(s.next_due(), Some(t0));
        assert_eq!(s.due(t0, 300).len(), 300);
        assert_eq!(s.due(t0, 300).len(), 300);
        assert_eq!(s.due(t0, 1000).len(), 400);
        assert!(s.is_done());
    }

    #[test]
    fn a_pause_freezes_the_recorded_time_and_play_goes_on_from_there() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(3, 1000), Speed::Times(1.0));
        s.play(t0);
        assert_eq!(ids(s.due(t0, 10)), [1]);
        s.pause(t0 + 600 * MS);
        assert!(s.due(t0 + Duration::from_secs(5), 10).is_empty());
        // An hour later it plays on: item 2 is 400 ms away, as it was.
        let t1 = t0 + Duration::from_secs(3600);
        s.play(t1);
        assert!(s.due(t1 + 399 * MS, 10).is_empty());
        assert_eq!(ids(s.due(t1 + 400 * MS, 10)), [2]);
    }

    #[test]
    fn a_step_pauses_and_hands_over_exactly_one_item() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(3, 1000), Speed::Times(1.0));
        s.play(t0);
        assert_eq!(s.step(t0).map(|r| r.id), Some(Some(1)));
        assert!(!s.is_playing());
        assert_eq!(s.step(t0).map(|r| r.id), Some(Some(2)));
        assert_eq!(
            s.recorded_now(t0),
            11_000,
            "it stands at the item stepped to"
        );
        s.play(t0);
        assert_eq!(ids(s.due(t0 + 1000 * MS, 10)), [3]);
        assert!(s.step(t0).is_none(), "nothing past the end");
    }

    #[test]
    fn a_seek_moves_to_the_first_item_at_or_after_that_time_either_way() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(10, 1000), Speed::Times(1.0));
        s.seek(15_500, t0);
        assert_eq!(s.position(), 6);
        s.play(t0);
        assert_eq!(ids(s.due(t0 + 500 * MS, 10)), [7]);
        s.seek(10_000, t0);
        assert_eq!(ids(s.due(t0, 10)), [1], "back to the start");
        s.seek(0, t0);
        assert_eq!(s.position(), 0, "before the start is the start");
        s.seek(u64::MAX, t0);
        assert_eq!(s.position(), 9, "past the end is the last item");
    }

    #[test]
    fn a_new_speed_applies_from_where_the_replay_stands() {
        let t0 = Instant::now();
        let mut s = Schedule::new(spaced(3, 1000), Speed::Times(1.0));
        s.play(t0);
        s.due(t0, 10);
        s.set_speed(Speed::Times(100.0), t0 + 500 * MS);
        // 500 ms of the second left, at 100×: 5 ms.
        assert_eq!(s.next_due(), Some(t0 + 505 * MS));
        assert_eq!(ids(s.due(t0 + 505 * MS, 10)), [2]);
    }

    #[test]
    fn an_empty_recording_neither_plays_nor_panics() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Vec::new(), Speed::Times(1.0));
        s.play(t0);
        s.seek(5, t0);
        assert!(s.due(t0, 10).is_empty() && s.step(t0).is_none() && s.next_due().is_none());
    }

    proptest! {
        /// Whatever the user presses, every item is delivered once, in receive order.
        #[test]
        fn any_steering_delivers_each_item_once_in_order(
            gaps in proptest::collection::vec(0u64..2_000, 0..200),
            actions in proptest::collection::vec((0u8..5, 0u64..3_000), 0..60),
        ) {
            let mut at = 1_000_000;
            let records: Vec<Record> = gaps.iter().enumerate().map(|(i, g)| { at += g; record(i as u64, at) }).collect();
            let total = records.len();
            let mut s = Schedule::new(records, Speed::Times(10.0));
            let mut now = Instant::now();
            let mut got = Vec::new();
            s.play(now);
            for (action, ms) in actions {
                now += Duration::from_millis(ms);
                match action {
                    0 => s.pause(now),
                    1 => s.play(now),
                    2 => got.extend(s.step(now).and_then(|r| r.id)),
                    3 => s.set_speed(Speed::Times(1.0 + ms as f64 / 100.0), now),
                    _ => got.extend(ids(s.due(now, 7))),
                }
                prop_assert!(s.position() <= total);
            }
            s.set_speed(Speed::AsFastAsPossible, now);
            s.play(now);
            while !s.is_done() {
                got.extend(ids(s.due(now, 50)));
            }
            prop_assert_eq!(got, (0..total as u64).collect::<Vec<_>>());
        }
    }
}
