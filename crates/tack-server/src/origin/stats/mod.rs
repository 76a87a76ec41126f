//! Pushpin's own statistics, republished as the server's `$pushpin` channels.
//!
//! Each Pushpin instance publishes what it is doing on its stats socket (`stats_spec`, a
//! ZeroMQ PUB, `stats_format` tnetstring or JSON). With `pushpin_stats` set, the origin reads
//! every instance's socket ([`socket`]), understands each message ([`wire`], [`tnetstring`]),
//! keeps a running tally ([`tally`]), and once a second publishes one item per instance to
//! `$pushpin/<instance>` and to `$pushpin` (so a viewer learns the instances by watching one
//! channel). Instances are named by their position in `pushpin`: `0`, `1`, ...
//!
//! Who may watch is [`crate::server_channels`]'s decision. What this module must never do:
//! let another process's socket stop or stall the server — every message is bounded, every
//! failure is logged and counted (`tack_pushpin_stats_bad_total`), and a missing socket is
//! retried forever.

pub mod socket;
pub mod tally;
pub mod tnetstring;
pub mod wire;

use crate::hub::Hub;
use crate::item::{Content, ItemBody};
use crate::server_channels;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tally::{InstanceStats, Tally};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How often each instance's item is published.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// One instance's socket and what it has said.
pub struct Feed {
    /// `0`, `1`, ...: its place in `pushpin`.
    pub name: String,
    /// Its publish address, the label the other Pushpin metrics use.
    pub pushpin: String,
    /// Its stats socket, e.g. `ipc:///var/run/pushpin/pushpin-stats`.
    pub spec: String,
    tally: Mutex<Tally>,
    messages: AtomicU64,
    bad: AtomicU64,
}

impl Feed {
    fn new(name: String, pushpin: String, spec: String) -> Feed {
        Feed {
            name,
            pushpin,
            spec,
            tally: Mutex::new(Tally::default()),
            messages: AtomicU64::new(0),
            bad: AtomicU64::new(0),
        }
    }

    /// Takes in one message from the socket.
    pub fn take(&self, frame: &[u8]) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        match wire::parse(frame) {
            Ok(event) => self.tally.lock().apply(event, Instant::now()),
            Err(err) => self.bad(&err.to_string()),
        }
    }

    /// Counts a message that was not understood, and logs it: the first, then each time the
    /// count doubles, so a socket spewing garbage cannot flood the log.
    pub fn bad(&self, why: &str) {
        let n = self.bad.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(instance = %self.name, spec = %self.spec, bad_so_far = n, "pushpin stats message not understood: {why}");
        }
    }

    /// The item for now.
    pub fn snapshot(&self) -> InstanceStats {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.tally
            .lock()
            .snapshot(&self.name, Instant::now(), at_ms)
    }
}

/// Every instance's feed; cheap to clone.
#[derive(Clone)]
pub struct PushpinStats {
    feeds: Arc<Vec<Arc<Feed>>>,
}

impl PushpinStats {
    /// Reads `specs[n]`, the stats socket of the Pushpin at `pushpin[n]`, and publishes to
    /// `hub` every [`INTERVAL`] until `stop` is cancelled. Call inside a tokio runtime.
    pub fn start(
        pushpin: &[String],
        specs: &[String],
        hub: Arc<dyn Hub>,
        stop: CancellationToken,
    ) -> PushpinStats {
        let feeds: Vec<Arc<Feed>> = pushpin
            .iter()
            .zip(specs)
            .enumerate()
            .map(|(n, (url, spec))| Arc::new(Feed::new(n.to_string(), url.clone(), spec.clone())))
            .collect();
        for feed in &feeds {
            let (feed, stop) = (feed.clone(), stop.clone());
            tokio::spawn(async move { socket::read(&feed, stop).await });
        }
        let stats = PushpinStats {
            feeds: Arc::new(feeds),
        };
        tokio::spawn(stats.clone().publish_every_interval(hub, stop));
        stats
    }

    async fn publish_every_interval(self, hub: Arc<dyn Hub>, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            for feed in self.feeds.iter() {
                let item = feed.snapshot();
                let json = serde_json::to_string(&item).expect("stats serialize");
                for channel in [
                    server_channels::pushpin_instance(&feed.name),
                    server_channels::PUSHPIN.to_owned(),
                ] {
                    let body = ItemBody::Published {
                        ws: Some(Content::Text(json.clone())),
                        stream: None,
                        poll: None,
                    };
                    if let Err(err) = hub.publish(&channel, body).await {
                        tracing::debug!(%channel, %err, "pushpin stats not published");
                    }
                }
            }
        }
    }

    /// The statistics' own lines of `/metrics`.
    pub fn render_metrics(&self, text: &mut String) {
        use std::fmt::Write;
        for feed in self.feeds.iter() {
            let labels = format!("instance=\"{}\",pushpin=\"{}\"", feed.name, feed.pushpin);
            let _ = writeln!(
                text,
                "tack_pushpin_stats_messages_total{{{labels}}} {}\ntack_pushpin_stats_bad_total{{{labels}}} {}\ntack_pushpin_stats_dropped_total{{{labels}}} {}",
                feed.messages.load(Ordering::Relaxed),
                feed.bad.load(Ordering::Relaxed),
                feed.tally.lock().dropped,
            );
        }
    }
}
