//! The broadcast publisher: messages at a target rate, round-robin over the rooms.
//!
//! Open loop: every millisecond it sends whatever is due by the clock, so a slow server does
//! not slow the offered load down (that would hide the latency it causes). Over HTTP, due
//! messages go out as one Pushpin-format body with several items, with a few requests in
//! flight at once; over WebSocket, as frames written together and flushed once.
//!
//! It runs on a thread of its own with its own single-threaded runtime: a message's send time
//! is stamped when its body is built, and everything between that and the server — the task
//! that sends the request, the pooled connection's task, the socket — then runs on that one
//! otherwise idle thread. On the caller's work-stealing runtime each of those hops could wait
//! for a worker thread to be woken and given a core by the kernel, which on a loaded machine
//! added milliseconds to every message, charged to the server under test.

use crate::config::PublishTo;
use crate::payload::{self, Stamp};
use crate::run::Run;
use crate::websocket::WebSocket;
use crate::workers::Workers;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};

/// Items in one `POST /publish/` at most.
const MAX_ITEMS_PER_POST: u64 = 500;
/// `POST /publish/` requests in flight at most.
const POSTS_IN_FLIGHT: usize = 8;

pub struct Publisher {
    thread: Workers,
    /// Lent to the publisher's thread while it publishes.
    core: Option<Core>,
}

impl Publisher {
    /// Starts the publisher's thread and connects from it (for a WebSocket publisher), so the
    /// socket's readiness is reported to that thread's event loop.
    pub async fn connect(run: Arc<Run>, to: &PublishTo) -> Result<Publisher, String> {
        let thread = Workers::start_named(1, "bench-publisher")
            .map_err(|e| format!("could not start the publisher's thread: {e}"))?;
        let to = to.clone();
        let core = thread
            .for_connection(0)
            .spawn(async move { Core::connect(run, &to).await })
            .await
            .map_err(|e| format!("publisher's thread: {e}"))??;
        Ok(Publisher {
            thread,
            core: Some(core),
        })
    }

    /// Sends `rate` messages a second for `length`, then waits for requests still in flight.
    pub async fn publish_for(&mut self, rate: f64, length: Duration) {
        let Some(mut core) = self.core.take() else {
            return;
        };
        let publishing = self.thread.for_connection(0).spawn(async move {
            core.publish_for(rate, length).await;
            core
        });
        match publishing.await {
            Ok(core) => self.core = Some(core),
            Err(e) => {
                // A panic there is a bug in the tool; the run reports it instead of hanging.
                tracing::error!("the publisher's thread failed: {e}");
            }
        }
    }
}

/// The publisher itself, on its thread.
struct Core {
    run: Arc<Run>,
    target: Target,
    /// Next sequence number per room, for this epoch.
    seq: Vec<u64>,
    next_room: usize,
}

enum Target {
    Http {
        url: String,
        in_flight: Arc<Semaphore>,
    },
    Ws(Box<WebSocket>),
}

impl Core {
    /// Connects (for a WebSocket publisher) and checks the target answers.
    async fn connect(run: Arc<Run>, to: &PublishTo) -> Result<Core, String> {
        let target = match to {
            PublishTo::Http(url) => Target::Http {
                url: url.to_string(),
                in_flight: Arc::new(Semaphore::new(POSTS_IN_FLIGHT)),
            },
            PublishTo::Ws(url) => {
                let socket = WebSocket::connect(url, run.cfg.token.as_deref())
                    .await
                    .map_err(|e| e.kind())?;
                Target::Ws(Box::new(socket))
            }
        };
        Ok(Core {
            seq: vec![0; run.cfg.rooms],
            run,
            target,
            next_room: 0,
        })
    }

    async fn publish_for(&mut self, rate: f64, length: Duration) {
        let epoch = self.run.tally.epoch();
        self.seq.iter_mut().for_each(|s| *s = 0);
        let begin = Instant::now();
        let end = begin + length;
        let total = (rate * length.as_secs_f64()).round() as u64;
        let mut sent = 0u64;
        let mut ticker = tokio::time::interval(Duration::from_millis(1));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        while sent < total {
            ticker.tick().await;
            let now = Instant::now();
            if now >= end + Duration::from_secs(1) || self.run.stop.is_cancelled() {
                // The publisher fell a second behind; what was not sent counts as not offered.
                self.run
                    .tally
                    .error("publish: could not keep the rate (not sent)");
                break;
            }
            let due = ((rate * (now - begin).as_secs_f64()) as u64).min(total);
            if due <= sent {
                continue;
            }
            sent += self.send(epoch, due - sent).await;
        }
        if let Target::Http { in_flight, .. } = &self.target {
            let _ = in_flight.acquire_many(POSTS_IN_FLIGHT as u32).await;
        }
    }

    /// Sends up to `count` messages now; returns how many left (a busy HTTP target takes
    /// them next tick, batched).
    async fn send(&mut self, epoch: u32, count: u64) -> u64 {
        match &mut self.target {
            Target::Http { url, in_flight } => {
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    return 0;
                };
                let count = count.min(MAX_ITEMS_PER_POST);
                let mut body =
                    String::with_capacity(64 + count as usize * (self.run.cfg.size * 3 + 160));
                body.push_str(r#"{"items":["#);
                let mut per_room = vec![0u64; 0];
                let now_us = self.run.tally.now_us();
                for i in 0..count {
                    let room = self.next_room;
                    self.next_room = (self.next_room + 1) % self.run.cfg.rooms;
                    let stamp = Stamp {
                        epoch,
                        stream: room as u32,
                        seq: self.seq[room],
                        sent_us: now_us,
                    };
                    self.seq[room] += 1;
                    if per_room.len() <= room {
                        per_room.resize(room + 1, 0);
                    }
                    per_room[room] += 1;
                    let p = payload::encode(stamp, self.run.cfg.size);
                    if i > 0 {
                        body.push(',');
                    }
                    let _ = write!(
                        body,
                        r#"{{"channel":"{}","formats":{{"ws-message":{{"content":"{p}"}},"http-stream":{{"content":"data: {p}\n\n"}},"http-response":{{"body":"{p}\n"}}}}}}"#,
                        self.run.cfg.room_name(room)
                    );
                }
                body.push_str("]}");
                let mut request = self.run.http.post(url.as_str()).body(body);
                if let Some(token) = &self.run.cfg.token {
                    request = request.bearer_auth(token);
                }
                let run = self.run.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match request.send().await {
                        Ok(r) if r.status().is_success() => {
                            for (room, n) in per_room.into_iter().enumerate() {
                                if n > 0 {
                                    run.tally.sent_to(room, n);
                                }
                            }
                        }
                        Ok(r) => run.tally.error(format!("publish: HTTP {}", r.status())),
                        Err(e) => run
                            .tally
                            .error(format!("publish: {}", crate::conn::http_error_kind(&e))),
                    }
                });
                count
            }
            Target::Ws(socket) => {
                let now_us = self.run.tally.now_us();
                let mut per_room = vec![0u64; self.run.cfg.rooms];
                let mut texts = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let room = self.next_room;
                    self.next_room = (self.next_room + 1) % self.run.cfg.rooms;
                    let stamp = Stamp {
                        epoch,
                        stream: room as u32,
                        seq: self.seq[room],
                        sent_us: now_us,
                    };
                    self.seq[room] += 1;
                    per_room[room] += 1;
                    texts.push(payload::encode(stamp, self.run.cfg.size));
                }
                // Every frame due now in one write.
                if let Err(e) = socket.send_texts(texts.iter().map(String::as_bytes)).await {
                    self.run.tally.error(format!("publish: {}", e.kind()));
                    return count;
                }
                for (room, n) in per_room.into_iter().enumerate() {
                    if n > 0 {
                        self.run.tally.sent_to(room, n);
                    }
                }
                count
            }
        }
    }
}
