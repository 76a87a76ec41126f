//! Engine events → the window: at most one IPC message per frame, and at extreme rates only the
//! newest items of each frame.
//!
//! The engine hands over batches as fast as the network delivers them. The webview pays for every
//! message (a script evaluation, then a fetch for a large one) and for every item (JSON parsing,
//! objects, garbage), and `Channel::send` has no back-pressure: whatever the page cannot keep up
//! with queues up in memory. So the shell gathers what arrives within a frame and sends one
//! batch. When more than `raw_per_frame` channel items arrived in that frame, the oldest of them
//! (those the monitor's jq query hides first) are left out and counted in `Skipped` events, so the window's counters stay exact and it can
//! say that its log is a sample. Everything else (chat, presence, connection state) always goes
//! through, in order. The engine's ring buffer, which the export writes, keeps every item.

use std::time::Duration;
use tack_client::events::{ClientEvent, EventBatch};
use tauri::ipc::Channel;
use tokio::sync::mpsc;

/// One frame at 60 Hz.
pub const FRAME: Duration = Duration::from_millis(16);

/// Channel items per frame the window is sent: ~3,000 a second at 60 frames/s, still far more
/// than anyone reads. Every item costs the webview parsing and garbage, and with JavaScriptCore's
/// JIT off (render_env) 100 a frame held its log at ~50 frames/s on a busy machine (see
/// BENCHMARKS.md).
pub const RAW_PER_FRAME: usize = 50;

/// Sends `events` (a session's, or a replay's) to the window, at most one batch a frame,
/// until either end goes away. Every batch also goes whole to `keep` (the history's feed),
/// before the window's sampling: the history keeps every item. Its channel is bounded, so a
/// history that falls behind slows this pump (and the engine) instead of dropping anything.
pub async fn pump(
    mut events: mpsc::Receiver<EventBatch>,
    channel: Channel<EventBatch>,
    mut keep: Option<mpsc::Sender<EventBatch>>,
) {
    let mut pending = Coalescer::new(RAW_PER_FRAME);
    let mut frame = tokio::time::interval(FRAME);
    // After a quiet spell the next event goes out at once, then at most one per frame.
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            batch = events.recv() => match batch {
                Some(batch) => {
                    if let Some(feed) = &keep {
                        if feed.send(batch.clone()).await.is_err() {
                            // The history stopped (its writer failed); the window goes on.
                            keep = None;
                        }
                    }
                    pending.push(batch);
                }
                None => {
                    let _ = channel.send(pending.take());
                    break;
                }
            },
            _ = frame.tick(), if !pending.is_empty() => {
                if channel.send(pending.take()).is_err() {
                    // The window went away (reload or close); the next connect makes a new
                    // channel.
                    break;
                }
            }
        }
    }
}

/// The events waiting for the next frame.
pub struct Coalescer {
    events: Vec<ClientEvent>,
    raw_per_frame: usize,
    /// `Raw` events among `events`.
    raws: usize,
    /// Left out since the last `take`, per channel: (channel, count, bytes). Few channels.
    skipped: Vec<(String, u32, u64)>,
}

impl Coalescer {
    pub fn new(raw_per_frame: usize) -> Coalescer {
        Coalescer {
            events: Vec::new(),
            raw_per_frame,
            raws: 0,
            skipped: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.skipped.is_empty()
    }

    pub fn push(&mut self, batch: EventBatch) {
        self.raws += batch
            .iter()
            .filter(|e| matches!(e, ClientEvent::Raw { .. }))
            .count();
        self.events.extend(batch);
        // Bounded between frames too: a page that stops asking (or a burst) never grows this
        // beyond twice a frame's worth of items.
        if self.raws > 2 * self.raw_per_frame {
            self.leave_out_oldest();
        }
    }

    /// The batch for this frame: `Skipped` counts first, then the events, in arrival order.
    pub fn take(&mut self) -> EventBatch {
        self.leave_out_oldest();
        let mut out = Vec::with_capacity(self.skipped.len() + self.events.len());
        out.extend(
            self.skipped
                .drain(..)
                .map(|(channel, count, bytes)| ClientEvent::Skipped {
                    channel,
                    count,
                    bytes,
                }),
        );
        out.append(&mut self.events);
        self.raws = 0;
        out
    }

    /// Leaves out the items beyond a frame's worth: first those the monitor's query hides
    /// (oldest first), so a rare match in a flood still reaches the window; then the oldest.
    fn leave_out_oldest(&mut self) {
        let excess = self.raws.saturating_sub(self.raw_per_frame);
        if excess == 0 {
            return;
        }
        let left = self.leave_out(excess, hidden);
        self.leave_out(left, |_| true);
    }

    /// Leaves out up to `n` of the oldest items `which` picks; answers how many more it
    /// could not find.
    fn leave_out(&mut self, mut n: usize, which: impl Fn(&ClientEvent) -> bool) -> usize {
        if n == 0 {
            return 0;
        }
        let skipped = &mut self.skipped;
        let mut removed = 0;
        self.events.retain(|e| {
            let ClientEvent::Raw { channel, size, .. } = e else {
                return true;
            };
            if n == 0 || !which(e) {
                return true;
            }
            n -= 1;
            removed += 1;
            match skipped.iter_mut().find(|(c, _, _)| c == channel) {
                Some((_, count, bytes)) => {
                    *count += 1;
                    *bytes += u64::from(*size);
                }
                None => skipped.push((channel.clone(), 1, u64::from(*size))),
            }
            false
        });
        self.raws -= removed;
        n
    }
}

/// An item the monitor's query hides.
fn hidden(e: &ClientEvent) -> bool {
    matches!(e, ClientEvent::Raw { query: Some(v), .. } if !v.keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(channel: &str, n: u64) -> ClientEvent {
        ClientEvent::Raw {
            channel: channel.into(),
            id: Some(n),
            ts: None,
            payload: format!("item {n}"),
            binary: false,
            size: 10,
            received: n,
            query: None,
        }
    }

    fn chat(comment: &str) -> ClientEvent {
        ClientEvent::Message {
            room: "lobby".into(),
            id: None,
            user: "ann".into(),
            comment: comment.into(),
            ts: None,
            cid: None,
            own: false,
        }
    }

    fn ids(batch: &EventBatch) -> Vec<u64> {
        batch
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Raw { id, .. } => *id,
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_quiet_channel_is_delivered_whole() {
        let mut c = Coalescer::new(4);
        c.push(vec![raw("orders", 1), chat("hi"), raw("orders", 2)]);
        let batch = c.take();
        assert_eq!(ids(&batch), [1, 2]);
        assert_eq!(batch.len(), 3);
        assert!(c.is_empty());
    }

    #[test]
    fn a_flooded_frame_keeps_the_newest_items_and_counts_the_rest() {
        let mut c = Coalescer::new(3);
        c.push(vec![
            raw("orders", 1),
            raw("metrics", 2),
            chat("still here"),
        ]);
        c.push(vec![raw("orders", 3), raw("orders", 4), raw("orders", 5)]);
        let batch = c.take();
        assert_eq!(ids(&batch), [3, 4, 5]);
        assert!(batch.contains(&chat("still here")));
        let skipped: Vec<_> = batch
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Skipped {
                    channel,
                    count,
                    bytes,
                } => Some((channel.as_str(), *count, *bytes)),
                _ => None,
            })
            .collect();
        assert_eq!(skipped, [("orders", 1, 10), ("metrics", 1, 10)]);
    }

    #[test]
    fn a_flooded_frame_leaves_out_what_the_query_hides_before_any_match() {
        let judged = |n: u64, keep: bool| {
            let mut event = raw("market", n);
            if let ClientEvent::Raw { query, .. } = &mut event {
                *query = Some(tack_client::query::Verdict {
                    generation: 1,
                    keep,
                    shown: None,
                    error: None,
                });
            }
            event
        };
        let mut c = Coalescer::new(2);
        // An early match among a flood of hidden items, and one at the end.
        c.push(vec![judged(1, true)]);
        c.push((2..=9).map(|n| judged(n, false)).collect());
        c.push(vec![judged(10, true)]);
        assert_eq!(ids(&c.take()), [1, 10]);
    }

    #[test]
    fn between_frames_it_holds_at_most_two_frames_of_items() {
        let mut c = Coalescer::new(10);
        for n in 0..10_000 {
            c.push(vec![raw("firehose", n)]);
            assert!(c.events.len() <= 20);
        }
        let batch = c.take();
        assert_eq!(ids(&batch), (9_990..10_000).collect::<Vec<_>>());
        let Some(ClientEvent::Skipped { count, .. }) = batch.first() else {
            panic!("the batch says how many were left out: {batch:?}");
        };
        assert_eq!(*count, 9_990);
    }
}
