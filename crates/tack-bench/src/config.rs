//! What a run is asked to do, and the bounds every run is held to.

use crate::error::BenchError;
use serde::Serialize;
use std::time::Duration;
use url::Url;

/// A run never opens more connections than this.
pub const MAX_CONNECTIONS: usize = 50_000;
/// A run (ramp, measurement and drain together) never lasts longer than this.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// A run never starts more connection threads than this.
pub const MAX_THREADS: usize = 64;

/// With `resume`, the drain goes on while deliveries still arrive, up to this long.
pub const MAX_RESUME_DRAIN: Duration = Duration::from_secs(60);

/// How each load connection talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// WebSocket (`/ws` on a Tack server, or any `ws://` URL with [`Protocol::Plain`]).
    Ws,
    /// Server-Sent Events (`/stream`).
    Stream,
    /// Long-polling (`/poll`, sending through `/send`).
    Poll,
}

/// What the server on the other end understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Tack's chat protocol: subscribers `watch` a channel (or enter a room to chat), and a
    /// subscription counts as ready when the server confirms it. Works against the built-in
    /// server and against Pushpin in front of `tack serve --pushpin`.
    Tack,
    /// Any WebSocket endpoint that sends every subscriber the same bytes (the baseline, or a
    /// plain GRIP origin behind Pushpin): a socket is ready once the handshake is done.
    Plain,
}

/// Where the publisher sends messages for a broadcast workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishTo {
    /// `POST` Pushpin-format bodies to this URL (Tack's or Pushpin's `/publish/`).
    Http(Url),
    /// Send each message as a text frame on one WebSocket to this URL (the baseline's
    /// `/publish`).
    Ws(Url),
}

/// The traffic the run generates once every connection is ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// One publisher sends `rate` messages a second, spread round-robin over the rooms; every
    /// connection receives its room's messages.
    Broadcast { rate: f64 },
    /// Every connection enters its room and sends `rate_per_client` chat messages a second;
    /// every member of a room receives every member's messages.
    Chat { rate_per_client: f64 },
    /// Broadcast at rising rates on the same connections, one step of `step` each. A step
    /// passes when p99 latency stays under `p99_limit` and nothing is lost; the search ends
    /// after two failing steps in a row. Then `refine` more steps halve (geometrically) the
    /// gap between the highest passing rate and the rate `factor` above it. The result is the
    /// highest passing step.
    Saturate {
        start_rate: f64,
        factor: f64,
        step: Duration,
        p99_limit: Duration,
        max_steps: usize,
        refine: usize,
    },
    /// Connect, wait, measure the server's memory; no messages.
    Idle,
}

impl Workload {
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Broadcast { .. } => "broadcast",
            Workload::Chat { .. } => "chat",
            Workload::Saturate { .. } => "saturate",
            Workload::Idle => "idle",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Tack: the server's base `http://host:port` (or its `ws://host:port/ws`).
    /// Plain: the WebSocket URL subscribers connect to.
    pub url: Url,
    /// More servers of the same deployment (Tack nodes sharing one Redis): WebSocket
    /// subscribers are spread over `url` and these, connection `n` on server `n` mod their
    /// count. Messages still go to `publish` (or `url`'s `/publish/`).
    pub also: Vec<Url>,
    pub transport: Transport,
    pub protocol: Protocol,
    pub connections: usize,
    pub rooms: usize,
    /// New connections a second while ramping up.
    pub ramp: u32,
    pub workload: Workload,
    /// Message size in bytes (the payload, before any JSON the server wraps it in).
    pub size: usize,
    /// How long traffic runs once everyone is connected.
    pub duration: Duration,
    /// Pause between "everyone is connected" and the first message, so subscriptions that
    /// cannot be confirmed (Pushpin with a plain origin) are in place.
    pub settle: Duration,
    /// Longest wait after the last message for deliveries still on their way (with `resume`:
    /// after the last delivery, up to [`MAX_RESUME_DRAIN`]).
    pub drain: Duration,
    /// Tack only: a WebSocket subscriber the server closes (1008 too slow, 1001 restarting)
    /// reconnects and watches again from the last id it saw, as Tack's own client does.
    pub resume: bool,
    /// Where broadcast messages go; `None` picks `{url}/publish/` for Tack.
    pub publish: Option<PublishTo>,
    /// Bearer token for `/publish/` and for client connections.
    pub token: Option<String>,
    /// Room and channel names start with this, so runs against one server never share history.
    pub prefix: String,
    pub allow_remote: bool,
    /// Server processes whose CPU time and memory the report includes (all of Pushpin's).
    pub server_pids: Vec<u32>,
    /// Print a progress line to stderr once a second.
    pub progress: bool,
    /// Threads the connections are spread over (each its own runtime; see [`crate::workers`]).
    pub threads: usize,
}

impl BenchConfig {
    /// A run with the defaults for everything but the target: 100 WebSockets in one room,
    /// 100 messages a second of 100 bytes for 5 seconds.
    pub fn new(url: Url) -> BenchConfig {
        BenchConfig {
            url,
            also: Vec::new(),
            transport: Transport::Ws,
            protocol: Protocol::Tack,
            connections: 100,
            rooms: 1,
            ramp: 2000,
            workload: Workload::Broadcast { rate: 100.0 },
            size: 100,
            duration: Duration::from_secs(5),
            settle: Duration::from_millis(500),
            drain: Duration::from_secs(2),
            resume: false,
            publish: None,
            token: None,
            prefix: default_prefix(),
            allow_remote: false,
            server_pids: Vec::new(),
            progress: false,
            threads: crate::procstat::machine().0,
        }
    }

    /// Refuses runs that are unbounded, aimed at another machine without `--allow-remote`,
    /// or that cannot work (a plain endpoint has no rooms to chat in).
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return Err(BenchError::TooManyConnections {
                connections: self.connections,
                limit: MAX_CONNECTIONS,
            });
        }
        let ramp_time = Duration::from_secs_f64(self.connections as f64 / self.ramp.max(1) as f64);
        let drain = if self.resume {
            MAX_RESUME_DRAIN
        } else {
            self.drain
        };
        let total = ramp_time + self.settle + self.duration + drain;
        if total > MAX_DURATION {
            return Err(BenchError::TooLong {
                asked: total,
                limit: MAX_DURATION,
            });
        }
        if self.threads == 0 || self.threads > MAX_THREADS {
            return Err(BenchError::BadSettings(format!(
                "--threads must be between 1 and {MAX_THREADS}, not {}",
                self.threads
            )));
        }
        if self.rooms == 0 || self.rooms > self.connections {
            return Err(BenchError::BadSettings(format!(
                "--rooms must be between 1 and the number of connections ({}), not {}",
                self.connections, self.rooms
            )));
        }
        if self.size < crate::payload::MIN_SIZE || self.size > 64 * 1024 {
            return Err(BenchError::BadSettings(format!(
                "--size must be between {} and 65536 bytes (the payload carries a sequence number and a timestamp), not {}",
                crate::payload::MIN_SIZE,
                self.size
            )));
        }
        let watches = matches!(
            self.workload,
            Workload::Broadcast { .. } | Workload::Saturate { .. }
        );
        if self.resume
            && (self.protocol != Protocol::Tack || self.transport != Transport::Ws || !watches)
        {
            return Err(BenchError::BadSettings(
                "--resume is for a Tack server's WebSocket watchers (broadcast or saturate over --transport ws)".into(),
            ));
        }
        let websocket_urls = [
            (self.transport == Transport::Ws).then_some(&self.url),
            match &self.publish {
                Some(PublishTo::Ws(url)) => Some(url),
                _ => None,
            },
        ];
        if let Some(url) = websocket_urls
            .into_iter()
            .flatten()
            .find(|url| matches!(url.scheme(), "https" | "wss"))
        {
            return Err(BenchError::BadUrl {
                url: url.to_string(),
                why: "the load tool's WebSockets are plain ws:// (through a TLS front it would \
                      measure the TLS stack); benchmark the server behind the front, or use \
                      --transport stream or poll"
                    .into(),
            });
        }
        if self.protocol == Protocol::Plain {
            if self.transport != Transport::Ws {
                return Err(BenchError::BadSettings(
                    "a plain endpoint is benchmarked over WebSocket only (--transport ws)".into(),
                ));
            }
            if matches!(self.workload, Workload::Chat { .. }) {
                return Err(BenchError::BadSettings(
                    "the chat workload needs a Tack server (a plain endpoint has no rooms)".into(),
                ));
            }
            let needs_publisher = !matches!(self.workload, Workload::Idle);
            if needs_publisher && self.publish.is_none() {
                return Err(BenchError::BadSettings(
                    "a plain endpoint needs --publish-url (where to send the messages)".into(),
                ));
            }
        }
        let rate_ok = match &self.workload {
            Workload::Broadcast { rate } => *rate > 0.0 && *rate <= 1_000_000.0,
            Workload::Chat { rate_per_client } => {
                *rate_per_client > 0.0 && *rate_per_client <= 100.0
            }
            Workload::Saturate {
                start_rate, factor, ..
            } => *start_rate > 0.0 && *factor > 1.0,
            Workload::Idle => true,
        };
        if !rate_ok {
            return Err(BenchError::BadSettings(format!(
                "the {} workload's rate is out of range (broadcast: up to 1,000,000/s; chat: up to 100/s per client; saturate: a factor above 1)",
                self.workload.name()
            )));
        }
        self.check_target(&self.url)?;
        for url in &self.also {
            self.check_target(url)?;
        }
        match &self.publish {
            Some(PublishTo::Http(url)) | Some(PublishTo::Ws(url)) => self.check_target(url)?,
            None => {}
        }
        Ok(())
    }

    fn check_target(&self, url: &Url) -> Result<(), BenchError> {
        let bad = |why: &str| BenchError::BadUrl {
            url: url.to_string(),
            why: why.to_owned(),
        };
        if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
            return Err(bad("use http://, https://, ws:// or wss://"));
        }
        let host = url.host_str().ok_or_else(|| bad("it has no host"))?;
        if self.allow_remote {
            return Ok(());
        }
        if crate::loopback::is_loopback(url) {
            Ok(())
        } else {
            Err(BenchError::NotLoopback {
                host: host.to_owned(),
            })
        }
    }

    /// The channel (or room) name for room number `room`.
    pub fn room_name(&self, room: usize) -> String {
        format!("{}-{room}", self.prefix)
    }
}

fn default_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("bench{:x}", (nanos as u64) ^ u64::from(std::process::id()))
}
