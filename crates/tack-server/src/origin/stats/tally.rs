//! What one Pushpin instance is doing, as its stats socket has told: live connections, the
//! subscribers of each channel, and the deliveries it has made. [`Tally::snapshot`] turns it
//! into the item the `$pushpin` channels carry ([`InstanceStats`]).
//!
//! Pushpin repeats a `conn` or `sub` before its TTL runs out, and says `unavailable` when one
//! ends; an entry not repeated within its TTL is gone (a Pushpin that died says nothing). Only
//! Tack's channels are counted — rooms and watched channels, named as [`channels`] names them
//! on Pushpin — and never the `$` channels, so watching the statistics does not change them.
//!
//! Both tables are capped ([`MAX_CONNECTIONS`], [`MAX_SUBSCRIPTIONS`]): what does not fit is
//! counted in `dropped`, not stored. Time is a parameter, so the rules are tested without
//! waiting.

use super::wire::{ConnectionKind, StatsEvent};
use crate::origin::channels;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use tokio::time::{Duration, Instant};

/// Connections tracked per instance at most.
pub const MAX_CONNECTIONS: usize = 100_000;
/// (Channel, mode) subscriptions tracked per instance at most.
pub const MAX_SUBSCRIPTIONS: usize = 100_000;
/// Channels listed in an item at most; the busiest first.
pub const MAX_LISTED_CHANNELS: usize = 100;
/// Items remembered to count each once over its transports. Pushpin reports one item's
/// transports one after another, so a few are enough; more only costs a longer scan.
const RECENT_ITEMS: usize = 16;
/// Nothing heard for this long makes the item `stale`: three of Pushpin's default report
/// intervals (`stats_report_interval=10`). A Pushpin that holds connections repeats them
/// well within this; an idle one may be quiet, which `stale` says honestly.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// One item of `$pushpin` and `$pushpin/<instance>`. The field names are a contract (the
/// desktop's deployment view reads them; docs/PROTOCOL.md shows one).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct InstanceStats {
    pub instance: String,
    /// When this was taken, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub connections: u64,
    /// `ws` and `http`, both always present.
    pub connections_by_type: BTreeMap<String, u64>,
    /// Channels with subscribers, the most subscribed first (then by name).
    pub channels: Vec<ChannelStats>,
    /// More channels had subscribers than `channels` lists.
    pub channels_truncated: bool,
    pub messages_per_second: Messages<f64>,
    pub messages_total: Messages<u64>,
    /// Nothing heard from this instance's stats socket for [`STALE_AFTER`] (or ever).
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChannelStats {
    pub channel: String,
    pub subscribers: u64,
}

/// Published items Pushpin delivered to someone (`received`) and the copies it sent (`sent`:
/// their receivers, over every transport).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Messages<N> {
    pub received: N,
    pub sent: N,
}

/// The running tally of one instance.
#[derive(Debug)]
pub struct Tally {
    connections: HashMap<String, (ConnectionKind, Instant)>,
    /// By Pushpin channel and mode: the hub channel, its subscribers, and until when.
    subscriptions: HashMap<(String, String), (String, u64, Instant)>,
    totals: Messages<u64>,
    /// Totals at the last snapshot, for the rate.
    last_snapshot: Option<(Instant, Messages<u64>)>,
    last_heard: Option<Instant>,
    /// The last items delivered, by Pushpin channel and item id: Pushpin reports an item once
    /// per transport that had receivers, and it is one item received.
    recent_items: VecDeque<(String, String)>,
    /// Connections and subscriptions not stored because a table was full.
    pub dropped: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            connections: HashMap::new(),
            subscriptions: HashMap::new(),
            totals: Messages {
                received: 0,
                sent: 0,
            },
            last_snapshot: None,
            last_heard: None,
            recent_items: VecDeque::new(),
            dropped: 0,
        }
    }
}

impl Tally {
    /// Takes in what one message says, heard at `now`.
    pub fn apply(&mut self, event: StatsEvent, now: Instant) {
        self.last_heard = Some(now);
        match event {
            StatsEvent::Connected { id, kind, ttl } => {
                if self.connections.len() >= MAX_CONNECTIONS && !self.connections.contains_key(&id)
                {
                    self.dropped += 1;
                    return;
                }
                self.connections.insert(id, (kind, now + ttl));
            }
            StatsEvent::Disconnected { id } => {
                self.connections.remove(&id);
            }
            StatsEvent::Subscribed {
                mode,
                channel,
                subscribers,
                ttl,
            } => {
                let Some(hub) = counted_channel(&channel) else {
                    return;
                };
                let key = (channel, mode);
                if self.subscriptions.len() >= MAX_SUBSCRIPTIONS
                    && !self.subscriptions.contains_key(&key)
                {
                    self.dropped += 1;
                    return;
                }
                self.subscriptions
                    .insert(key, (hub, subscribers, now + ttl));
            }
            StatsEvent::Unsubscribed { mode, channel } => {
                self.subscriptions.remove(&(channel, mode));
            }
            StatsEvent::Delivered {
                channel,
                item_id,
                receivers,
            } => {
                if counted_channel(&channel).is_none() {
                    return;
                }
                if self.first_report_of(channel, item_id) {
                    self.totals.received = self.totals.received.saturating_add(1);
                }
                self.totals.sent = self.totals.sent.saturating_add(receivers);
            }
            StatsEvent::Other => {}
        }
    }

    /// Whether this is the first report of the item (over its transports). An item without
    /// an id is counted each time.
    fn first_report_of(&mut self, channel: String, item_id: Option<String>) -> bool {
        let Some(item_id) = item_id else {
            return true;
        };
        let key = (channel, item_id);
        if self.recent_items.contains(&key) {
            return false;
        }
        if self.recent_items.len() == RECENT_ITEMS {
            self.recent_items.pop_front();
        }
        self.recent_items.push_back(key);
        true
    }

    /// The item for `instance` at `now` (wall clock `at_ms`): drops what has expired, and
    /// takes the rate since the previous snapshot.
    pub fn snapshot(&mut self, instance: &str, now: Instant, at_ms: u64) -> InstanceStats {
        self.connections.retain(|_, (_, until)| *until > now);
        self.subscriptions.retain(|_, (_, _, until)| *until > now);

        let mut by_type = BTreeMap::from([("http".to_owned(), 0), ("ws".to_owned(), 0)]);
        for (kind, _) in self.connections.values() {
            *by_type.entry(kind.label().to_owned()).or_default() += 1;
        }

        let mut per_channel: HashMap<&str, u64> = HashMap::new();
        for (hub, subscribers, _) in self.subscriptions.values() {
            let total = per_channel.entry(hub).or_default();
            *total = total.saturating_add(*subscribers);
        }
        let mut channels: Vec<ChannelStats> = per_channel
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(channel, subscribers)| ChannelStats {
                channel: channel.to_owned(),
                subscribers,
            })
            .collect();
        channels.sort_by(|a, b| {
            b.subscribers
                .cmp(&a.subscribers)
                .then_with(|| a.channel.cmp(&b.channel))
        });
        let channels_truncated = channels.len() > MAX_LISTED_CHANNELS;
        channels.truncate(MAX_LISTED_CHANNELS);

        let per_second = match self.last_snapshot {
            Some((then, before)) if now > then => {
                let secs = (now - then).as_secs_f64();
                Messages {
                    received: (self.totals.received - before.received) as f64 / secs,
                    sent: (self.totals.sent - before.sent) as f64 / secs,
                }
            }
            _ => Messages {
                received: 0.0,
                sent: 0.0,
            },
        };
        self.last_snapshot = Some((now, self.totals));

        InstanceStats {
            instance: instance.to_owned(),
            at_ms,
            connections: self.connections.len() as u64,
            connections_by_type: by_type,
            channels,
            channels_truncated,
            messages_per_second: per_second,
            messages_total: self.totals,
            stale: self
                .last_heard
                .is_none_or(|heard| now.saturating_duration_since(heard) >= STALE_AFTER),
        }
    }
}

/// The Tack channel a Pushpin channel carries, if it is one the statistics count: a room or a
/// watched channel, not an HTTP session's own channel, and not a `$` channel.
fn counted_channel(pushpin_channel: &str) -> Option<String> {
    channels::hub_channel(pushpin_channel).filter(|hub| !crate::server_channels::is_reserved(hub))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn connected(id: &str, kind: ConnectionKind, ttl: u64) -> StatsEvent {
        StatsEvent::Connected {
            id: id.into(),
            kind,
            ttl: Duration::from_secs(ttl),
        }
    }

    fn subscribed(channel: &str, mode: &str, subscribers: u64) -> StatsEvent {
        StatsEvent::Subscribed {
            mode: mode.into(),
            channel: channel.into(),
            subscribers,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn connections_count_until_pushpin_says_they_are_gone_or_their_ttl_passes() {
        let start = Instant::now();
        let mut tally = Tally::default();
        tally.apply(connected("a", ConnectionKind::WebSocket, 120), start);
        tally.apply(connected("b", ConnectionKind::WebSocket, 120), start);
        tally.apply(connected("c", ConnectionKind::Http, 5), start);
        let item = tally.snapshot("0", start, 0);
        assert_eq!(item.connections, 3);
        assert_eq!(item.connections_by_type["ws"], 2);
        assert_eq!(item.connections_by_type["http"], 1);
        assert!(!item.stale);

        tally.apply(StatsEvent::Disconnected { id: "a".into() }, start + SEC);
        let item = tally.snapshot("0", start + 5 * SEC, 0);
        assert_eq!(item.connections, 1, "a said goodbye, c's ttl passed");
        assert_eq!(item.connections_by_type["http"], 0);
    }

    #[test]
    fn a_repeated_connection_lives_on_and_is_counted_once() {
        let start = Instant::now();
        let mut tally = Tally::default();
        tally.apply(connected("a", ConnectionKind::WebSocket, 10), start);
        tally.apply(
            connected("a", ConnectionKind::WebSocket, 10),
            start + 8 * SEC,
        );
        assert_eq!(tally.snapshot("0", start + 15 * SEC, 0).connections, 1);
    }

    #[test]
    fn channels_sum_their_modes_skip_sessions_and_dollar_channels_and_sort_by_subscribers() {
        let now = Instant::now();
        let mut tally = Tally::default();
        tally.apply(subscribed("r.lobby", "ws", 2), now);
        tally.apply(subscribed("r.lobby", "stream", 1), now);
        tally.apply(subscribed("w.orders", "ws", 3), now);
        tally.apply(subscribed("r.alpha", "ws", 3), now);
        tally.apply(subscribed("s.f00", "stream", 1), now);
        tally.apply(subscribed("all", "ws", 9), now);
        tally.apply(subscribed("w.%24pushpin", "ws", 1), now);
        let item = tally.snapshot("0", now, 0);
        let listed: Vec<(&str, u64)> = item
            .channels
            .iter()
            .map(|c| (c.channel.as_str(), c.subscribers))
            .collect();
        assert_eq!(listed, [("alpha", 3), ("lobby", 3), ("orders", 3)]);

        tally.apply(
            StatsEvent::Unsubscribed {
                mode: "stream".into(),
                channel: "r.lobby".into(),
            },
            now,
        );
        let item = tally.snapshot("0", now, 0);
        assert_eq!(item.channels[2].channel, "lobby");
        assert_eq!(item.channels[2].subscribers, 2);
    }

    #[test]
    fn more_channels_than_listed_are_cut_and_flagged() {
        let now = Instant::now();
        let mut tally = Tally::default();
        for n in 0..MAX_LISTED_CHANNELS + 1 {
            tally.apply(subscribed(&format!("r.c{n}"), "ws", n as u64 + 1), now);
        }
        let item = tally.snapshot("0", now, 0);
        assert_eq!(item.channels.len(), MAX_LISTED_CHANNELS);
        assert!(item.channels_truncated);
        assert_eq!(item.channels[0].channel, format!("c{MAX_LISTED_CHANNELS}"));
    }

    #[test]
    fn deliveries_make_totals_and_a_rate_over_the_last_snapshot() {
        let start = Instant::now();
        let mut tally = Tally::default();
        tally.snapshot("0", start, 0);
        let delivered = |channel: &str, item: &str, receivers| StatsEvent::Delivered {
            channel: channel.into(),
            item_id: Some(item.into()),
            receivers,
        };
        // Item 1 went to 2 WebSockets and 1 stream; item 2 to 2 WebSockets.
        tally.apply(delivered("r.lobby", "e-1", 2), start);
        tally.apply(delivered("r.lobby", "e-1", 1), start);
        tally.apply(delivered("r.lobby", "e-2", 2), start);
        tally.apply(delivered("w.%24pushpin", "e-7", 1), start);
        let item = tally.snapshot("0", start + 2 * SEC, 0);
        assert_eq!(
            item.messages_total,
            Messages {
                received: 2,
                sent: 5
            }
        );
        assert_eq!(
            item.messages_per_second,
            Messages {
                received: 1.0,
                sent: 2.5
            }
        );
        let quiet = tally.snapshot("0", start + 3 * SEC, 0);
        assert_eq!(quiet.messages_per_second.sent, 0.0);
        assert_eq!(quiet.messages_total.sent, 5);
    }

    #[test]
    fn a_full_table_counts_what_it_drops_instead_of_growing() {
        let now = Instant::now();
        let mut tally = Tally::default();
        for n in 0..MAX_CONNECTIONS + 3 {
            tally.apply(connected(&n.to_string(), ConnectionKind::Http, 60), now);
        }
        assert_eq!(tally.dropped, 3);
        assert_eq!(
            tally.snapshot("0", now, 0).connections,
            MAX_CONNECTIONS as u64
        );
    }

    #[test]
    fn the_item_in_the_protocol_doc_has_exactly_the_fields_the_server_writes() {
        let doc = include_str!("../../../../../docs/PROTOCOL.md");
        let example = doc
            .split("```pushpin-stats\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("PROTOCOL.md shows a pushpin-stats item");
        let written: serde_json::Value = serde_json::from_str(example).unwrap();
        let item: InstanceStats = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&item).unwrap(), written);
    }

    #[test]
    fn silence_for_three_report_intervals_is_stale() {
        let start = Instant::now();
        let mut tally = Tally::default();
        assert!(tally.snapshot("0", start, 0).stale, "never heard");
        tally.apply(StatsEvent::Other, start);
        assert!(!tally.snapshot("0", start + STALE_AFTER - SEC, 0).stale);
        assert!(tally.snapshot("0", start + STALE_AFTER, 0).stale);
    }
}
