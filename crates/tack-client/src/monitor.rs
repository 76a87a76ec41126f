//! Monitoring figures per room and watched channel: counts, bytes, 1 s / 10 s rates, delivery
//! latency; and, for channels, the newest items kept for export (JSON Lines).
//!
//! Memory is bounded however long the engine runs: the kept items of all channels together
//! take at most `budget` bytes. Past it the oldest items of the channel keeping the most go
//! first, so a firehose cannot push a quiet channel's history out, and each channel counts
//! what it dropped so the UI can say that Export no longer has everything. Times are passed
//! in by the caller so the figures can be tested without a clock.

use crate::events::{ChannelStats, ClientEvent, Target};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::time::Instant;

/// Rates are counted in 100 ms buckets over a 10 s window.
const BUCKET_MS: u64 = 100;
const BUCKETS: usize = 100;
/// Latency samples kept between two stats reports.
const MAX_LATENCY_SAMPLES: usize = 2048;

/// Bytes of channel items kept for export, all channels together, unless the session says
/// otherwise: about 250,000 items of 100 bytes.
pub const DEFAULT_EXPORT_BUDGET: usize = 64 * 1024 * 1024;

/// One remembered item, as exported: a line of a recording (see `recording`). `received` is
/// when this engine received it (ms since the Unix epoch); `ts` is the server's stamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    pub received: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub payload: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

impl Record {
    /// The record of an item event, as the monitor keeps and exports it, so whatever prints
    /// items (`tack watch --json`) writes the export's format. Channel items carry their receive
    /// time; a room's chat message does not, so `now_ms` stands in for it. `None` for events
    /// that are not items.
    pub fn of_event(ev: &ClientEvent, now_ms: u64) -> Option<Record> {
        match ev {
            ClientEvent::Raw {
                channel,
                id,
                ts,
                payload,
                binary,
                received,
                ..
            } => Some(Record {
                channel: channel.clone(),
                id: *id,
                ts: *ts,
                received: *received,
                user: None,
                payload: payload.clone(),
                binary: *binary,
            }),
            ClientEvent::Message {
                room,
                id,
                user,
                comment,
                ts,
                ..
            } => Some(Record {
                channel: room.clone(),
                id: *id,
                ts: *ts,
                received: now_ms,
                user: (!user.is_empty()).then(|| user.clone()),
                payload: comment.clone(),
                binary: false,
            }),
            _ => None,
        }
    }

    /// The memory a kept record takes: its slot in the ring and the text it owns.
    fn cost(&self) -> usize {
        std::mem::size_of::<Record>()
            + self.channel.len()
            + self.payload.len()
            + self.user.as_ref().map_or(0, String::len)
    }
}

#[derive(Debug)]
struct ChannelMonitor {
    messages: u64,
    bytes: u64,
    buckets: [u32; BUCKETS],
    /// Index (in 100 ms units since the monitor started) of the newest bucket written.
    head: u64,
    latencies: Vec<u64>,
    /// The newest items, oldest first (channels only).
    kept: VecDeque<Record>,
    /// What `kept` costs (see `Record::cost`).
    kept_bytes: usize,
    /// Items that were kept and then dropped for the budget.
    dropped: u64,
    /// Something arrived since the last stats report.
    dirty: bool,
}

impl ChannelMonitor {
    fn new() -> Self {
        ChannelMonitor {
            messages: 0,
            bytes: 0,
            buckets: [0; BUCKETS],
            head: 0,
            latencies: Vec::new(),
            kept: VecDeque::new(),
            kept_bytes: 0,
            dropped: 0,
            dirty: false,
        }
    }

    /// Moves the window forward to `tick`, zeroing buckets that fell out of it.
    fn advance(&mut self, tick: u64) {
        if tick <= self.head {
            return;
        }
        let steps = (tick - self.head).min(BUCKETS as u64);
        for i in 1..=steps {
            self.buckets[((self.head + i) % BUCKETS as u64) as usize] = 0;
        }
        self.head = tick;
    }

    fn sum_last(&self, n: usize) -> u64 {
        (0..n as u64)
            .map(|i| {
                let idx = (self.head + BUCKETS as u64 - i) % BUCKETS as u64;
                self.buckets[idx as usize] as u64
            })
            .sum()
    }

    /// Drops the oldest kept item; returns what it cost.
    fn drop_oldest(&mut self) -> usize {
        let Some(old) = self.kept.pop_front() else {
            return 0;
        };
        let cost = old.cost();
        self.kept_bytes -= cost;
        self.dropped += 1;
        cost
    }
}

#[derive(Debug)]
pub struct Monitor {
    started: Instant,
    /// Most bytes the kept items of all channels may take together.
    budget: usize,
    /// What they take now.
    kept_bytes: usize,
    channels: HashMap<Target, ChannelMonitor>,
}

impl Monitor {
    /// A monitor keeping at most `budget` bytes of channel items for export.
    pub fn new(budget: usize) -> Monitor {
        Monitor {
            started: Instant::now(),
            budget,
            kept_bytes: 0,
            channels: HashMap::new(),
        }
    }

    fn tick(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started).as_millis() as u64 / BUCKET_MS
    }

    /// Counts one item of `target`, and keeps it for export when `target` is a channel.
    /// `record.received` is the wall clock in ms; `size` is the payload size.
    pub fn record(&mut self, now: Instant, target: &Target, size: usize, record: Record) {
        let tick = self.tick(now);
        let ch = match self.channels.get_mut(target) {
            Some(ch) => ch,
            None => self
                .channels
                .entry(target.clone())
                .or_insert_with(ChannelMonitor::new),
        };
        ch.advance(tick);
        ch.messages += 1;
        ch.bytes += size as u64;
        ch.buckets[(tick % BUCKETS as u64) as usize] += 1;
        if let Some(ts) = record.ts {
            if ch.latencies.len() < MAX_LATENCY_SAMPLES {
                ch.latencies.push(record.received.saturating_sub(ts));
            }
        }
        ch.dirty = true;
        // Rooms are counted only: what Export writes is channels' traffic.
        if let Target::Channel(_) = target {
            let cost = record.cost();
            ch.kept.push_back(record);
            ch.kept_bytes += cost;
            self.kept_bytes += cost;
            self.keep_within_budget();
        }
    }

    /// Drops oldest items, from the channel keeping the most bytes each time, until the kept
    /// items fit the budget (an item larger than the whole budget is not kept at all).
    fn keep_within_budget(&mut self) {
        while self.kept_bytes > self.budget {
            let Some(largest) = self.channels.values_mut().max_by_key(|ch| ch.kept_bytes) else {
                return;
            };
            match largest.drop_oldest() {
                0 => return,
                freed => self.kept_bytes -= freed,
            }
        }
    }

    /// Stats for every room and channel that saw traffic since the last call (and clears that
    /// mark).
    pub fn report(&mut self, now: Instant) -> Vec<ChannelStats> {
        let tick = self.tick(now);
        let mut out = Vec::new();
        for (target, ch) in self.channels.iter_mut() {
            ch.advance(tick);
            let recent = ch.sum_last(BUCKETS);
            if !ch.dirty && recent == 0 {
                continue;
            }
            ch.dirty = false;
            let latency_ms = if ch.latencies.is_empty() {
                None
            } else {
                ch.latencies.sort_unstable();
                let median = ch.latencies[ch.latencies.len() / 2] as f64;
                ch.latencies.clear();
                Some(median)
            };
            out.push(ChannelStats {
                target: target.clone(),
                messages: ch.messages,
                bytes: ch.bytes,
                dropped: ch.dropped,
                rate_1s: ch.sum_last(10) as f64,
                rate_10s: recent as f64 / 10.0,
                latency_ms,
            });
        }
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// Writes the kept items of `channels` (every channel when empty) as JSON Lines, channel
    /// by channel; returns the count.
    pub fn export_jsonl(&self, channels: &[String], out: &mut dyn Write) -> std::io::Result<usize> {
        let mut names: Vec<&String> = self
            .channels
            .keys()
            .filter_map(|t| match t {
                Target::Channel(name) => Some(name),
                Target::Room(_) => None,
            })
            .filter(|n| channels.is_empty() || channels.contains(n))
            .collect();
        names.sort();
        let mut n = 0;
        for name in names {
            for record in &self.channels[&Target::Channel(name.clone())].kept {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Copies of the newest `max` kept channel items that have an id (all channels, newest
    /// first), for judging again what a window already shows.
    pub fn newest_items(&self, max: usize) -> Vec<Record> {
        let mut newest: Vec<&Record> = self
            .channels
            .values()
            .flat_map(|ch| ch.kept.iter().rev().filter(|r| r.id.is_some()).take(max))
            .collect();
        newest.sort_by_key(|r| std::cmp::Reverse(r.received));
        newest.into_iter().take(max).cloned().collect()
    }

    /// Forgets a room or channel (after leaving or unwatching), and what it kept.
    pub fn forget(&mut self, target: &Target) {
        if let Some(ch) = self.channels.remove(target) {
            self.kept_bytes -= ch.kept_bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIB: usize = 1024 * 1024;

    fn channel(name: &str) -> Target {
        Target::Channel(name.into())
    }

    fn rec(channel: &str, id: u64, ts: u64, received: u64) -> Record {
        Record {
            channel: channel.into(),
            id: Some(id),
            ts: Some(ts),
            received,
            user: None,
            payload: format!("m{id}"),
            binary: false,
        }
    }

    fn sized(channel: &str, id: u64, payload_bytes: usize) -> Record {
        Record {
            payload: "x".repeat(payload_bytes),
            ..rec(channel, id, 0, 0)
        }
    }

    fn exported(m: &Monitor, channels: &[&str]) -> Vec<serde_json::Value> {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        let mut out = Vec::new();
        m.export_jsonl(&channels, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn stats_of<'a>(stats: &'a [ChannelStats], target: &Target) -> &'a ChannelStats {
        stats
            .iter()
            .find(|s| s.target == *target)
            .unwrap_or_else(|| panic!("no stats for {target:?} in {stats:?}"))
    }

    #[test]
    fn rates_cover_the_last_second_and_the_last_ten() {
        let mut m = Monitor::new(MIB);
        let t0 = m.started;
        let a = channel("a");
        // 5 messages in the first second, 20 in the 9th second.
        for i in 0..5 {
            m.record(
                t0 + Duration::from_millis(i * 100),
                &a,
                10,
                rec("a", i, 0, 5),
            );
        }
        for i in 0..20 {
            m.record(
                t0 + Duration::from_millis(8_000 + i * 40),
                &a,
                10,
                rec("a", 5 + i, 0, 5),
            );
        }
        let s = &m.report(t0 + Duration::from_millis(8_900))[0];
        assert_eq!(s.messages, 25);
        assert_eq!(s.bytes, 250);
        assert_eq!(s.rate_1s, 20.0);
        assert_eq!(s.rate_10s, 2.5);
        assert_eq!(s.latency_ms, Some(5.0));
        assert_eq!(s.dropped, 0);
        // Long after, the window is empty and nothing is reported.
        assert!(m.report(t0 + Duration::from_secs(30)).is_empty());
    }

    #[test]
    fn export_writes_the_kept_items_as_json_lines_oldest_first() {
        let mut m = Monitor::new(MIB);
        let now = Instant::now();
        for id in 1..=3 {
            m.record(now, &channel("orders"), 2, rec("orders", id, 100, 150));
        }
        let lines = exported(&m, &["orders"]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["id"], 1);
        assert_eq!(lines[2]["payload"], "m3");
        assert_eq!(lines[2]["channel"], "orders");
    }

    /// Regression (issue 15): items were kept by count, 50,000 per channel, so 1 MiB items
    /// could take ~50 GB. Now the bytes are bounded, whatever the items' size.
    #[test]
    fn one_mib_items_stay_within_the_default_64_mib() {
        let mut m = Monitor::new(DEFAULT_EXPORT_BUDGET);
        let now = Instant::now();
        let orders = channel("orders");
        for id in 1..=200 {
            m.record(now, &orders, MIB, sized("orders", id, MIB));
        }
        assert!(m.kept_bytes <= 64 * MIB, "kept {} bytes", m.kept_bytes);
        let lines = exported(&m, &[]);
        assert_eq!(lines.len(), 63, "as many whole items as fit in 64 MiB");
        assert_eq!(lines.last().unwrap()["id"], 200, "the newest are kept");
        let stats = m.report(now);
        let s = stats_of(&stats, &orders);
        assert_eq!(s.messages, 200, "every item is counted");
        assert_eq!(s.dropped, 200 - 63);
    }

    #[test]
    fn a_firehose_does_not_push_a_quiet_channels_items_out() {
        // Names of one length: every item costs the same.
        let cost = sized("quiet", 0, 1000).cost();
        let mut m = Monitor::new(100 * cost);
        let now = Instant::now();
        for id in 1..=5 {
            m.record(now, &channel("quiet"), 1000, sized("quiet", id, 1000));
        }
        for id in 1..=10_000 {
            m.record(now, &channel("flood"), 1000, sized("flood", id, 1000));
        }
        assert!(m.kept_bytes <= 100 * cost);
        assert_eq!(exported(&m, &["quiet"]).len(), 5);
        let flood = exported(&m, &["flood"]);
        assert_eq!(flood.len(), 95, "the flood has the rest of the budget");
        assert_eq!(flood.last().unwrap()["id"], 10_000);
        let stats = m.report(now);
        assert_eq!(stats_of(&stats, &channel("quiet")).dropped, 0);
        assert_eq!(stats_of(&stats, &channel("flood")).dropped, 10_000 - 95);
    }

    #[test]
    fn an_item_larger_than_the_whole_budget_is_counted_but_not_kept() {
        let mut m = Monitor::new(1000);
        let now = Instant::now();
        m.record(now, &channel("big"), 5000, sized("big", 1, 5000));
        assert_eq!(m.kept_bytes, 0);
        assert!(exported(&m, &[]).is_empty());
        let stats = m.report(now);
        assert_eq!(stats_of(&stats, &channel("big")).dropped, 1);
    }

    #[test]
    fn a_room_and_a_channel_of_one_name_are_counted_apart_and_only_the_channel_is_exported() {
        let mut m = Monitor::new(MIB);
        let now = Instant::now();
        let room = Target::Room("news".into());
        m.record(now, &room, 5, rec("news", 1, 0, 0));
        m.record(now, &room, 5, rec("news", 2, 0, 0));
        m.record(now, &channel("news"), 7, rec("news", 3, 0, 0));
        let stats = m.report(now);
        assert_eq!(stats.len(), 2);
        assert_eq!(stats_of(&stats, &room).messages, 2);
        assert_eq!(stats_of(&stats, &channel("news")).bytes, 7);
        let lines = exported(&m, &["news"]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["id"], 3);
    }

    #[test]
    fn the_newest_items_of_every_channel_come_newest_first() {
        let mut m = Monitor::new(MIB);
        let now = Instant::now();
        m.record(now, &channel("a"), 2, rec("a", 1, 0, 10));
        m.record(now, &channel("b"), 2, rec("b", 1, 0, 20));
        m.record(now, &channel("a"), 2, rec("a", 2, 0, 30));
        m.record(now, &Target::Room("r".into()), 2, rec("r", 1, 0, 40));
        let newest: Vec<(String, Option<u64>)> = m
            .newest_items(2)
            .into_iter()
            .map(|r| (r.channel, r.id))
            .collect();
        assert_eq!(newest, [("a".into(), Some(2)), ("b".into(), Some(1))]);
    }

    #[test]
    fn forgetting_a_channel_gives_its_bytes_back() {
        let mut m = Monitor::new(MIB);
        let now = Instant::now();
        m.record(now, &channel("a"), 100, sized("a", 1, 100));
        m.forget(&channel("a"));
        assert_eq!(m.kept_bytes, 0);
        assert!(m.report(now).is_empty());
    }
}
