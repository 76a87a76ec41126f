//! The handle a consumer holds: commands in, batched events out.
//!
//! [`Session::connect`] spawns the engine task and returns at once. Every method is a quick,
//! non-blocking message to that task, except [`Session::send`], which checks the outbox
//! synchronously so a full outbox is refused where the user typed.

use crate::backoff::BackoffPolicy;
use crate::clock::{BootClock, SystemBootClock};
use crate::engine::Engine;
use crate::error::ClientError;
use crate::events::{EventBatch, Target};
use crate::link::Tasks;
use crate::monitor::Record;
use crate::monitor::{Monitor, DEFAULT_EXPORT_BUDGET};
use crate::outbox::{Outbox, OutboxItem};
use crate::player::{Delivered, Player};
use crate::profile::Profile;
use crate::query::{MonitorQuery, QueryApplied, QueryError, Rejudged, REJUDGE_MAX};
use crate::recorder::Recorder;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tack_protocol::chat::{check_name, check_nick, ClientFrame, FrameError, SendMessage};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long `close` lets the engine flush its last events to the consumer.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How the engine behaves. `Default` suits a desktop app; tests shorten the times.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Longest quiet time before a ping; a server known to answer pings is declared dead after
    /// 1.5× this without any inbound frame.
    pub heartbeat: Duration,
    /// Events are flushed to the consumer at least this often…
    pub batch_interval: Duration,
    /// …or as soon as this many are waiting.
    pub batch_max: usize,
    /// Bytes of channel items kept for export, all channels together; past it the oldest go
    /// first (and `Stats` count them as dropped).
    pub export_budget: usize,
    /// Unacknowledged messages kept; beyond this `send` is refused.
    pub outbox_capacity: usize,
    pub backoff: BackoffPolicy,
    /// Seeds the backoff jitter (tests); random when `None`.
    pub seed: Option<u64>,
    pub connect_timeout: Duration,
    /// How long to wait for a server's first frame (an original-system server sends none, so on
    /// a full `ws://` URL this is also how long it takes to recognise one).
    pub welcome_timeout: Duration,
    /// In auto mode, the next transport starts after this long if the previous has not finished
    /// its handshake (shortened to a few round trips once one is measured).
    pub fallback_delay: Duration,
    /// On a fallback transport, try WebSocket again this often.
    pub upgrade_probe_interval: Duration,
    /// A stream silent this long (no event, no keep-alive) is dead.
    pub stream_read_timeout: Duration,
    /// How long a long-poll asks the server to hold.
    pub poll_hold: Duration,
    /// How often `Stats` events are emitted while traffic flows.
    pub stats_interval: Duration,
    /// Listen for the OS reporting a network change (Linux), and check the connection (or
    /// retry) at once when it does.
    pub watch_network: bool,
    /// The clock that keeps counting through a suspend; compared with the monotonic clock to
    /// notice that the machine slept (tests inject one).
    pub boot_clock: Arc<dyn BootClock>,
    /// A small JSON file remembering, per server, which transport worked, so the next run
    /// tries it first (auto mode). `None`: remembered for this process only.
    pub transport_memory: Option<std::path::PathBuf>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            heartbeat: Duration::from_secs(20),
            batch_interval: Duration::from_millis(16),
            batch_max: 512,
            export_budget: DEFAULT_EXPORT_BUDGET,
            outbox_capacity: 256,
            backoff: BackoffPolicy::default(),
            seed: None,
            connect_timeout: Duration::from_secs(10),
            welcome_timeout: Duration::from_secs(3),
            fallback_delay: Duration::from_millis(1500),
            upgrade_probe_interval: Duration::from_secs(60),
            stream_read_timeout: Duration::from_secs(45),
            poll_hold: Duration::from_secs(25),
            stats_interval: Duration::from_secs(1),
            watch_network: true,
            boot_clock: Arc::new(SystemBootClock),
            transport_memory: None,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Command {
    /// Enter a room or watch a channel.
    Follow(Target),
    /// The same, resuming after `last_id` of numbering `epoch` (kept by the app).
    FollowFrom {
        target: Target,
        epoch: String,
        last_id: u64,
    },
    /// Leave a room or stop watching a channel.
    Unfollow(Target),
    /// A message was queued in the outbox.
    Queued(OutboxItem),
    Nick(String),
    RetryNow,
    NetworkChanged,
    Close,
}

/// State the handle and the engine task both touch.
#[derive(Debug)]
pub(crate) struct Shared {
    pub outbox: Mutex<Outbox>,
    pub monitor: Mutex<Monitor>,
    /// Shared with a replay too, which judges its items with the same query.
    pub query: Arc<Mutex<QueryState>>,
    /// The recording in progress, if any.
    pub recorder: Mutex<Option<Recorder>>,
    /// What the last replay delivered, judged again (as live items are) when the query
    /// changes.
    pub replayed: Mutex<Option<Delivered>>,
}

/// The monitor's jq query in force, and the numbers of the queries asked for.
#[derive(Debug, Default)]
pub(crate) struct QueryState {
    /// The last number handed out.
    pub generation: u32,
    /// The number of the query in force (or of the "no query" in force).
    pub applied: u32,
    /// Shared with the engine, which judges each item with the query it finds here.
    pub current: Option<Arc<MonitorQuery>>,
}

#[derive(Debug, Clone)]
pub struct Session {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Session {
    /// Starts the engine (needs a tokio runtime) and returns at once; events follow on the
    /// receiver. A bad URL is reported as an `Error` event and an `Offline` state.
    pub fn connect(
        profile: Profile,
        options: SessionOptions,
    ) -> (Session, mpsc::Receiver<EventBatch>) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        // Batches are small in number (≤ ~60/s); a few in flight absorb a slow consumer's hiccup,
        // after which the engine waits, and so does the socket: memory stays bounded.
        let (ev_tx, ev_rx) = mpsc::channel(64);
        let prefix = format!("{:08x}", rand::random::<u32>());
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(options.outbox_capacity, prefix)),
            monitor: Mutex::new(Monitor::new(options.export_budget)),
            query: Arc::default(),
            recorder: Mutex::new(None),
            replayed: Mutex::new(None),
        });
        let mut watcher = Tasks::default();
        if options.watch_network {
            if let Some(w) = crate::netwatch::spawn(cmd_tx.clone()) {
                watcher.push(w);
            }
        }
        let engine = Engine::new(profile, options, shared.clone(), cmd_rx, ev_tx);
        let task = tokio::spawn(async move {
            // The watcher lives exactly as long as the engine.
            let _watcher = watcher;
            engine.run().await
        });
        let session = Session {
            commands: cmd_tx,
            shared,
            task: Arc::new(Mutex::new(Some(task))),
        };
        (session, ev_rx)
    }

    fn command(&self, c: Command) -> Result<(), ClientError> {
        self.commands.send(c).map_err(|_| ClientError::Closed)
    }

    fn checked_name(event: &str, field: &'static str, name: &str) -> Result<(), ClientError> {
        check_name(name).map_err(|problem| {
            ClientError::Refused(FrameError::InvalidName {
                event: event.to_owned(),
                field,
                problem,
            })
        })
    }

    /// Enters a chat room (and re-enters it after every reconnect).
    pub fn enter(&self, room: &str) -> Result<(), ClientError> {
        Self::checked_name("chatRoomEnter", "room", room)?;
        self.command(Command::Follow(Target::Room(room.to_owned())))
    }

    /// Enters a room resuming after `last_id` of the server's numbering `epoch`, a position
    /// the app kept (its stored history): what was said since arrives once, and a `Gap` marks
    /// what the server no longer holds. Under another epoch (the server restarted) the room
    /// resumes from the start of what the server has, after a `Gap` at `last_id`. A room
    /// already entered keeps its own position.
    pub fn enter_from(&self, room: &str, epoch: &str, last_id: u64) -> Result<(), ClientError> {
        Self::checked_name("chatRoomEnter", "room", room)?;
        self.command(Command::FollowFrom {
            target: Target::Room(room.to_owned()),
            epoch: epoch.to_owned(),
            last_id,
        })
    }

    pub fn leave(&self, room: &str) -> Result<(), ClientError> {
        Self::checked_name("chatRoomLeave", "room", room)?;
        self.command(Command::Unfollow(Target::Room(room.to_owned())))
    }

    /// Queues a message; returns its `cid`. `Send` events report its state from here on.
    pub fn send(&self, room: &str, comment: &str) -> Result<String, ClientError> {
        ClientFrame::Message(SendMessage {
            room: room.to_owned(),
            comment: comment.to_owned(),
            cid: None,
        })
        .validate()?;
        let item = self.shared.outbox.lock().push(room, comment)?;
        let cid = item.cid.clone();
        self.command(Command::Queued(item))?;
        Ok(cid)
    }

    /// Queues a failed message again.
    pub fn retry_send(&self, cid: &str) -> Result<(), ClientError> {
        let item = self.shared.outbox.lock().retry(cid)?;
        self.command(Command::Queued(item))
    }

    /// Receives a channel's raw items (on an original-system server: enters that room).
    pub fn watch(&self, channel: &str) -> Result<(), ClientError> {
        Self::checked_name("watch", "channel", channel)?;
        self.command(Command::Follow(Target::Channel(channel.to_owned())))
    }

    /// Watches a channel resuming after `last_id` of numbering `epoch` (see
    /// [`Session::enter_from`]).
    pub fn watch_from(&self, channel: &str, epoch: &str, last_id: u64) -> Result<(), ClientError> {
        Self::checked_name("watch", "channel", channel)?;
        self.command(Command::FollowFrom {
            target: Target::Channel(channel.to_owned()),
            epoch: epoch.to_owned(),
            last_id,
        })
    }

    pub fn unwatch(&self, channel: &str) -> Result<(), ClientError> {
        Self::checked_name("unwatch", "channel", channel)?;
        self.command(Command::Unfollow(Target::Channel(channel.to_owned())))
    }

    pub fn set_nick(&self, nick: &str) -> Result<(), ClientError> {
        check_nick(nick).map_err(|problem| {
            ClientError::Refused(FrameError::InvalidName {
                event: "hello".into(),
                field: "nick",
                problem,
            })
        })?;
        self.command(Command::Nick(nick.to_owned()))
    }

    /// Skips the current backoff wait.
    pub fn retry_now(&self) {
        let _ = self.command(Command::RetryNow);
    }

    /// The OS reported a network change: check the connection at once (or, while waiting to
    /// reconnect, retry now). The session's own watcher calls this on Linux; a shell with its
    /// own source of such news can too.
    pub fn network_changed(&self) {
        let _ = self.command(Command::NetworkChanged);
    }

    /// Writes the items kept of `channels` (every channel when empty) as JSON Lines.
    pub fn export_jsonl(
        &self,
        channels: &[String],
        out: &mut impl std::io::Write,
    ) -> std::io::Result<usize> {
        self.shared.monitor.lock().export_jsonl(channels, out)
    }

    /// Sets the monitor's jq query: `filter` decides which channel items are kept, `map` what is
    /// shown of each (blank: none). Compiled here, once; from the next item on, every `Raw`
    /// event carries its verdict, stamped with the generation this answers, and the newest
    /// items already delivered are judged here too (see [`QueryApplied`]). A mistake refuses
    /// the query and leaves the one in force as it was. Both blank: no query, and no verdicts.
    ///
    /// It runs jq on the caller's thread: call it where a slow filter keeps no UI waiting.
    pub fn set_monitor_query(&self, filter: &str, map: &str) -> Result<QueryApplied, QueryError> {
        let generation = {
            let mut state = self.shared.query.lock();
            state.generation += 1;
            state.generation
        };
        // Compiled outside the lock: the engine takes it per item.
        let query = MonitorQuery::compile(generation, filter, map)?.map(Arc::new);
        {
            let mut state = self.shared.query.lock();
            // Of two callers at once, the one that asked last is in force, whichever compiled
            // first.
            if state.applied < generation {
                state.applied = generation;
                state.current = query.clone();
            }
        }
        let rejudged = match query {
            None => Vec::new(),
            Some(query) => {
                // Copied out, then judged without the lock: the engine records items meanwhile.
                let mut newest = self.shared.monitor.lock().newest_items(REJUDGE_MAX);
                let replayed = self.shared.replayed.lock().clone();
                if let Some(replayed) = replayed {
                    newest.extend(replayed.newest(REJUDGE_MAX));
                }
                newest
                    .into_iter()
                    .filter_map(|r| {
                        Some(Rejudged {
                            verdict: query.judge(&r.payload, r.binary),
                            id: r.id?,
                            channel: r.channel,
                        })
                    })
                    .collect()
            }
        };
        Ok(QueryApplied {
            generation,
            rejudged,
        })
    }

    /// Starts recording the items of `targets` to `path` as they arrive (see `recorder`).
    /// One recording at a time.
    pub fn start_recording(
        &self,
        path: &std::path::Path,
        targets: Vec<Target>,
    ) -> Result<(), String> {
        let mut recorder = self.shared.recorder.lock();
        if let Some(running) = recorder.as_ref() {
            return Err(format!(
                "already recording to {}; stop that first",
                running.path().display()
            ));
        }
        *recorder = Some(Recorder::start(path, targets)?);
        Ok(())
    }

    /// Stops the recording in progress; answers its file and how many items it holds. Waits
    /// for the file to be written: call it off the async runtime.
    pub fn stop_recording(&self) -> Result<(String, u64), String> {
        let recorder = self
            .shared
            .recorder
            .lock()
            .take()
            .ok_or("nothing is being recorded")?;
        let path = recorder.path().display().to_string();
        recorder.stop().map(|items| (path, items))
    }

    /// Replays `records` (sorted by receive time, as `recording::read_records` returns them):
    /// their `Raw` events, judged by this session's monitor query, and `Replay` events follow
    /// on the receiver. Paused before the first item; steer it with [`Player::steer`].
    pub fn replay(&self, records: Vec<Record>) -> (Player, mpsc::Receiver<EventBatch>) {
        let (player, events) = Player::spawn(records, self.shared.query.clone());
        *self.shared.replayed.lock() = Some(player.delivered());
        (player, events)
    }

    /// Messages waiting for an acknowledgement.
    pub fn outbox_len(&self) -> usize {
        self.shared.outbox.lock().len()
    }

    /// Stops the engine: the last events are flushed, the connection closed. A consumer that
    /// stopped reading events would hold the engine (and so `close`) forever on a full event
    /// channel; after a short grace the engine is stopped without its last events instead.
    pub async fn close(self) {
        let _ = self.commands.send(Command::Close);
        let task = self.task.lock().take();
        if let Some(mut task) = task {
            if tokio::time::timeout(CLOSE_GRACE, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
    }
}
