//! Monitoring figures per room and watched channel: counts, bytes, 1 s / 10 s rates, delivery
//! latency, and the last N items in a bounded ring buffer (exported as JSON Lines).
//!
//! Memory is bounded by `ring_capacity` per channel however long the engine runs. Times are
//! passed in by the caller so the figures can be tested without a clock.

use crate::events::ChannelStats;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::time::Instant;

/// Rates are counted in 100 ms buckets over a 10 s window.
const BUCKET_MS: u64 = 100;
const BUCKETS: usize = 100;
/// Latency samples kept between two stats reports.
const MAX_LATENCY_SAMPLES: usize = 2048;

/// One remembered item, as exported.
#[derive(Debug, Clone, Serialize)]
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
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

#[derive(Debug)]
struct ChannelMonitor {
    messages: u64,
    bytes: u64,
    buckets: [u32; BUCKETS],
    /// Index (in 100 ms units since the monitor started) of the newest bucket written.
    head: u64,
    latencies: Vec<u64>,
    ring: VecDeque<Record>,
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
            ring: VecDeque::new(),
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
}

#[derive(Debug)]
pub struct Monitor {
    started: Instant,
    ring_capacity: usize,
    channels: HashMap<String, ChannelMonitor>,
}

impl Monitor {
    pub fn new(ring_capacity: usize) -> Monitor {
        Monitor {
            started: Instant::now(),
            ring_capacity,
            channels: HashMap::new(),
        }
    }

    fn tick(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started).as_millis() as u64 / BUCKET_MS
    }

    /// Counts one item. `record.received` is the wall clock in ms; `size` is the payload size.
    pub fn record(&mut self, now: Instant, size: usize, record: Record) {
        let tick = self.tick(now);
        let cap = self.ring_capacity;
        let ch = match self.channels.get_mut(&record.channel) {
            Some(ch) => ch,
            None => self
                .channels
                .entry(record.channel.clone())
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
        if cap > 0 {
            if ch.ring.len() == cap {
                ch.ring.pop_front();
            }
            ch.ring.push_back(record);
        }
    }

    /// Stats for every channel that saw traffic since the last call (and clears that mark).
    pub fn report(&mut self, now: Instant) -> Vec<ChannelStats> {
        let tick = self.tick(now);
        let mut out = Vec::new();
        for (name, ch) in self.channels.iter_mut() {
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
                channel: name.clone(),
                messages: ch.messages,
                bytes: ch.bytes,
                rate_1s: ch.sum_last(10) as f64,
                rate_10s: recent as f64 / 10.0,
                latency_ms,
            });
        }
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }

    /// Writes the ring buffers of `channels` (all when empty) as JSON Lines; returns the count.
    pub fn export_jsonl(&self, channels: &[String], out: &mut dyn Write) -> std::io::Result<usize> {
        let mut names: Vec<&String> = self
            .channels
            .keys()
            .filter(|n| channels.is_empty() || channels.contains(n))
            .collect();
        names.sort();
        let mut n = 0;
        for name in names {
            for record in &self.channels[name].ring {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Forgets a channel (after leaving a room or unwatching).
    pub fn forget(&mut self, channel: &str) {
        self.channels.remove(channel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    #[test]
    fn rates_cover_the_last_second_and_the_last_ten() {
        let mut m = Monitor::new(4);
        let t0 = m.started;
        // 5 messages in the first second, 20 in the 9th second.
        for i in 0..5 {
            m.record(t0 + Duration::from_millis(i * 100), 10, rec("a", i, 0, 5));
        }
        for i in 0..20 {
            m.record(
                t0 + Duration::from_millis(8_000 + i * 40),
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
        // Long after, the window is empty and nothing is reported.
        assert!(m.report(t0 + Duration::from_secs(30)).is_empty());
    }

    #[test]
    fn the_ring_keeps_only_the_last_n_and_exports_them_as_json_lines() {
        let mut m = Monitor::new(3);
        let now = Instant::now();
        for id in 1..=10 {
            m.record(now, 2, rec("orders", id, 100, 150));
        }
        let mut out = Vec::new();
        assert_eq!(m.export_jsonl(&[], &mut out).unwrap(), 3);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["id"], 8);
        assert_eq!(lines[2]["payload"], "m10");
        assert_eq!(lines[2]["channel"], "orders");
    }
}
