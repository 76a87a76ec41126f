//! The replay of an opened recording, on a task of its own: its items go to the consumer as
//! `Raw` events, judged by the monitor's jq query like live ones, at the recording's own
//! spacing scaled by the speed ([`Schedule`] decides when), with `Replay` events saying where
//! it stands.
//!
//! Events go out in batches on a bounded channel, as the engine's do: at "as fast as
//! possible" the replay runs exactly as fast as its consumer takes batches, so memory stays
//! bounded and a consumer that samples (the desktop shell) sees a firehose like a live one.

use crate::events::{ClientEvent, EventBatch, ReplayStatus};
use crate::monitor::Record;
use crate::query::MonitorQuery;
use crate::recording::Speed;
use crate::replay::Schedule;
use crate::session::QueryState;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Items per batch: the engine's own batch size.
const BATCH: usize = 512;
/// While playing, where it stands is said at most this often.
const STATUS_EVERY: Duration = Duration::from_millis(100);

/// What the user asks of a replay.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "do", rename_all = "camelCase")]
pub enum Steer {
    Play,
    Pause,
    /// Pauses and delivers the next item.
    Step,
    /// To a recorded time, ms since the epoch.
    Seek {
        at: u64,
    },
    /// How many times faster than recorded; 0: as fast as possible.
    Speed {
        times: f64,
    },
}

/// The handle of a running replay. Dropping it (or [`Player::close`]) ends the replay.
#[derive(Debug)]
pub struct Player {
    steer: mpsc::UnboundedSender<Steer>,
    task: JoinHandle<()>,
    delivered: Delivered,
}

/// What a replay has delivered so far: the recording and how far into it the replay stands,
/// so a new monitor query can judge again what the window already shows, as it does for live
/// items.
#[derive(Debug, Clone)]
pub(crate) struct Delivered {
    records: Arc<[Record]>,
    position: Arc<AtomicUsize>,
}

impl Delivered {
    /// The newest `max` items delivered that have an id, newest first.
    pub(crate) fn newest(&self, max: usize) -> Vec<Record> {
        let end = self
            .position
            .load(Ordering::Relaxed)
            .min(self.records.len());
        self.records[..end]
            .iter()
            .rev()
            .filter(|r| r.id.is_some())
            .take(max)
            .cloned()
            .collect()
    }
}

impl Player {
    /// Starts a replay of `records` (sorted by receive time), paused before its first item.
    /// Needs a tokio runtime.
    pub(crate) fn spawn(
        records: Vec<Record>,
        query: Arc<Mutex<QueryState>>,
    ) -> (Player, mpsc::Receiver<EventBatch>) {
        let (steer, steers) = mpsc::unbounded_channel();
        let (tx, rx) = mpsc::channel(64);
        let schedule = Schedule::new(records, Speed::Times(1.0));
        let delivered = Delivered {
            records: schedule.records(),
            position: Arc::default(),
        };
        let task = tokio::spawn(run(schedule, steers, tx, query, delivered.position.clone()));
        (
            Player {
                steer,
                task,
                delivered,
            },
            rx,
        )
    }

    /// Asks the replay to play, pause, step, seek or change speed; false once it has ended.
    pub fn steer(&self, steer: Steer) -> bool {
        self.steer.send(steer).is_ok()
    }

    pub fn close(self) {
        self.task.abort();
    }

    pub(crate) fn delivered(&self) -> Delivered {
        self.delivered.clone()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    mut schedule: Schedule,
    mut steers: mpsc::UnboundedReceiver<Steer>,
    out: mpsc::Sender<EventBatch>,
    query: Arc<Mutex<QueryState>>,
    position: Arc<AtomicUsize>,
) {
    let mut said = Instant::now();
    if out.send(vec![status(&schedule, said)]).await.is_err() {
        return;
    }
    loop {
        position.store(schedule.position(), Ordering::Relaxed);
        let now = Instant::now();
        let judge = query.lock().current.clone();
        let mut batch: EventBatch = schedule
            .due(now, BATCH)
            .iter()
            .map(|r| raw(r, judge.as_deref()))
            .collect();
        position.store(schedule.position(), Ordering::Relaxed);
        if !batch.is_empty() {
            if now.duration_since(said) >= STATUS_EVERY || !schedule.is_playing() {
                batch.push(status(&schedule, now));
                said = now;
            }
            if out.send(batch).await.is_err() {
                return;
            }
        }
        // Steers come in between batches, so even "as fast as possible" pauses at once.
        loop {
            match steers.try_recv() {
                Ok(steer) => {
                    if !steered(&mut schedule, steer, &out, judge.as_deref(), &position).await {
                        return;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        let wake = schedule.next_due().map(tokio::time::Instant::from_std);
        if wake.is_some_and(|w| w <= tokio::time::Instant::now()) {
            continue;
        }
        tokio::select! {
            steer = steers.recv() => {
                let Some(steer) = steer else { return };
                if !steered(&mut schedule, steer, &out, judge.as_deref(), &position).await {
                    return;
                }
            }
            _ = sleep_until(wake), if wake.is_some() => {}
        }
    }
}

/// Applies a steer and says where the replay stands now; false when the consumer is gone.
async fn steered(
    schedule: &mut Schedule,
    steer: Steer,
    out: &mpsc::Sender<EventBatch>,
    judge: Option<&MonitorQuery>,
    position: &AtomicUsize,
) -> bool {
    apply(schedule, steer, out, judge).await;
    // Before the status says where it stands: a query set on seeing it finds these items.
    position.store(schedule.position(), Ordering::Relaxed);
    out.send(vec![status(schedule, Instant::now())])
        .await
        .is_ok()
}

async fn apply(
    schedule: &mut Schedule,
    steer: Steer,
    out: &mpsc::Sender<EventBatch>,
    judge: Option<&MonitorQuery>,
) {
    let now = Instant::now();
    match steer {
        Steer::Play => schedule.play(now),
        Steer::Pause => schedule.pause(now),
        Steer::Seek { at } => schedule.seek(at, now),
        Steer::Speed { times } => {
            let speed = if times > 0.0 && times.is_finite() {
                Speed::Times(times.max(0.001))
            } else {
                Speed::AsFastAsPossible
            };
            schedule.set_speed(speed, now)
        }
        Steer::Step => {
            if let Some(r) = schedule.step(now) {
                let _ = out.send(vec![raw(r, judge)]).await;
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn status(schedule: &Schedule, now: Instant) -> ClientEvent {
    let (first, last) = schedule.span();
    ClientEvent::Replay(ReplayStatus {
        total: schedule.len() as u64,
        position: schedule.position() as u64,
        playing: schedule.is_playing(),
        speed: match schedule.speed() {
            Speed::Times(f) => f,
            Speed::AsFastAsPossible => 0.0,
        },
        at: schedule.recorded_now(now),
        first,
        last,
    })
}

/// A recorded item as the live engine delivers it.
fn raw(r: &Record, judge: Option<&MonitorQuery>) -> ClientEvent {
    let size = match crate::recording::binary_payload(r) {
        Some(bytes) => bytes.len(),
        None => r.payload.len(),
    };
    ClientEvent::Raw {
        channel: r.channel.clone(),
        id: r.id,
        ts: r.ts,
        payload: r.payload.clone(),
        binary: r.binary,
        size: size as u32,
        received: r.received,
        query: judge.map(|q| q.judge(&r.payload, r.binary)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: u64, gap: u64) -> Vec<Record> {
        (0..n)
            .map(|i| Record {
                channel: "orders".into(),
                id: Some(i),
                ts: None,
                received: 1_000_000 + i * gap,
                user: None,
                payload: format!("{{\"n\":{i}}}"),
                binary: false,
            })
            .collect()
    }

    /// Reads events until `done` says so; answers the ids of the items among them.
    async fn until(
        rx: &mut mpsc::Receiver<EventBatch>,
        ids: &mut Vec<u64>,
        done: impl Fn(&ReplayStatus) -> bool,
    ) -> ReplayStatus {
        loop {
            let batch = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("the replay goes on")
                .expect("the replay is running");
            for e in batch {
                match e {
                    ClientEvent::Raw { id, .. } => ids.extend(id),
                    ClientEvent::Replay(s) if done(&s) => return s,
                    _ => {}
                }
            }
        }
    }

    #[tokio::test]
    async fn a_replay_as_fast_as_possible_delivers_every_item_in_order_then_stops() {
        let (player, mut rx) = Player::spawn(records(5_000, 10), Default::default());
        let mut ids = Vec::new();
        let opened = until(&mut rx, &mut ids, |_| true).await;
        assert_eq!(
            (opened.total, opened.position, opened.playing),
            (5_000, 0, false)
        );
        player.steer(Steer::Speed { times: 0.0 });
        player.steer(Steer::Play);
        let end = until(&mut rx, &mut ids, |s| s.position == s.total && !s.playing).await;
        assert_eq!(end.speed, 0.0);
        assert_eq!(ids, (0..5_000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn step_and_seek_steer_a_paused_replay() {
        let (player, mut rx) = Player::spawn(records(100, 1000), Default::default());
        let mut ids = Vec::new();
        until(&mut rx, &mut ids, |_| true).await;
        player.steer(Steer::Step);
        until(&mut rx, &mut ids, |s| s.position == 1).await;
        player.steer(Steer::Seek {
            at: 1_000_000 + 50_000,
        });
        until(&mut rx, &mut ids, |s| s.position == 50).await;
        player.steer(Steer::Step);
        let s = until(&mut rx, &mut ids, |s| s.position == 51).await;
        assert!(!s.playing);
        assert_eq!(ids, [0, 50]);
    }

    #[tokio::test]
    async fn at_a_hundred_times_a_second_of_recording_takes_ten_milliseconds() {
        let (player, mut rx) = Player::spawn(records(21, 100), Default::default());
        let mut ids = Vec::new();
        until(&mut rx, &mut ids, |_| true).await;
        player.steer(Steer::Speed { times: 100.0 });
        let started = Instant::now();
        player.steer(Steer::Play);
        until(&mut rx, &mut ids, |s| s.position == 21).await;
        // Two seconds recorded: 20 ms at 100×, give or take a scheduler's tick.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(19), "{took:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert_eq!(ids, (0..21).collect::<Vec<_>>());
    }

    /// As for live items: a new query judges again what the replay already delivered.
    #[tokio::test]
    async fn a_new_query_judges_the_items_a_replay_delivered() {
        let options = crate::SessionOptions {
            watch_network: false,
            ..Default::default()
        };
        let (session, _events) =
            crate::Session::connect(crate::Profile::new("none", "not a url"), options);
        let (player, mut rx) = session.replay(records(10, 1000));
        let mut ids = Vec::new();
        until(&mut rx, &mut ids, |_| true).await;
        for _ in 0..3 {
            player.steer(Steer::Step);
        }
        until(&mut rx, &mut ids, |s| s.position == 3).await;
        let applied = session.set_monitor_query(".n >= 1", "").unwrap();
        let mut verdicts: Vec<(u64, bool)> = applied
            .rejudged
            .iter()
            .map(|r| (r.id, r.verdict.keep))
            .collect();
        verdicts.sort();
        assert_eq!(verdicts, [(0, false), (1, true), (2, true)]);
        session.close().await;
    }
}
