//! Counters for `GET /metrics`, in Prometheus' text format.
//!
//! Plain atomics: the hot path adds to them without locks, and writers add a whole batch of
//! deliveries at once rather than one increment per event.

use crate::item::Transport;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Metrics {
    connections: [AtomicI64; 3],
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    published: AtomicU64,
    drops: AtomicU64,
    slow_consumer_kicks: AtomicU64,
    refused_connections: AtomicU64,
    /// Client frames answered with an error, by its code.
    refused_frames: parking_lot::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Worker threads of the runtime the server was started on (0 outside one).
    worker_threads: usize,
}

fn slot(t: Transport) -> usize {
    match t {
        Transport::WebSocket => 0,
        Transport::Stream => 1,
        Transport::Poll => 2,
    }
}

/// Counts a connection while it is alive; drop it when the connection ends.
pub struct ConnectionGauge {
    metrics: Arc<Metrics>,
    transport: Transport,
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.metrics.connections[slot(self.transport)].fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    /// Counters for a server started on the current tokio runtime, whose worker threads the
    /// operator can then read back (`--threads`).
    pub fn on_this_runtime() -> Metrics {
        Metrics {
            worker_threads: tokio::runtime::Handle::try_current()
                .map(|runtime| runtime.metrics().num_workers())
                .unwrap_or(0),
            ..Metrics::default()
        }
    }

    pub fn connected(self: &Arc<Self>, transport: Transport) -> ConnectionGauge {
        self.connections[slot(transport)].fetch_add(1, Relaxed);
        ConnectionGauge {
            metrics: self.clone(),
            transport,
        }
    }

    pub fn connections(&self, transport: Transport) -> i64 {
        self.connections[slot(transport)].load(Relaxed)
    }

    pub fn message_in(&self) {
        self.messages_in.fetch_add(1, Relaxed);
    }

    pub fn delivered(&self, n: usize) {
        self.messages_out.fetch_add(n as u64, Relaxed);
    }

    pub fn published(&self) {
        self.published.fetch_add(1, Relaxed);
    }

    pub fn dropped(&self) {
        self.drops.fetch_add(1, Relaxed);
    }

    pub fn slow_consumer_kicked(&self) {
        self.slow_consumer_kicks.fetch_add(1, Relaxed);
    }

    pub fn frame_refused(&self, code: &tack_protocol::codes::ErrorCode) {
        let mut refused = self.refused_frames.lock();
        match refused.get_mut(code.as_str()) {
            Some(n) => *n += 1,
            None => {
                refused.insert(code.as_str().to_owned(), 1);
            }
        }
    }

    pub fn refused(&self) {
        self.refused_connections.fetch_add(1, Relaxed);
    }

    /// The Prometheus exposition text; `rooms` and `channels` come from the hub.
    pub fn render(&self, rooms: usize, channels: usize, sessions: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, i64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let c = |a: &AtomicU64| a.load(Relaxed) as i64;
        metric(
            "tack_connections",
            "gauge",
            "Open connections by transport.",
            &[Transport::WebSocket, Transport::Stream, Transport::Poll].map(|t| {
                (
                    format!("{{transport=\"{}\"}}", t.label()),
                    self.connections(t),
                )
            }),
        );
        metric(
            "tack_worker_threads",
            "gauge",
            "Worker threads serving connections (tack serve --threads).",
            &[(String::new(), self.worker_threads as i64)],
        );
        metric(
            "tack_http_sessions",
            "gauge",
            "Live stream/poll sessions.",
            &[(String::new(), sessions as i64)],
        );
        metric(
            "tack_rooms",
            "gauge",
            "Rooms with at least one viewer.",
            &[(String::new(), rooms as i64)],
        );
        metric(
            "tack_channels",
            "gauge",
            "Channels held in memory (rooms, watched channels, history).",
            &[(String::new(), channels as i64)],
        );
        let refusals: Vec<(String, i64)> = self
            .refused_frames
            .lock()
            .iter()
            .map(|(code, n)| (format!("{{code=\"{code}\"}}"), *n as i64))
            .collect();
        metric(
            "tack_frames_refused_total",
            "counter",
            "Client frames answered with an error, by its code.",
            &refusals,
        );
        metric(
            "tack_messages_in_total",
            "counter",
            "Client frames received.",
            &[(String::new(), c(&self.messages_in))],
        );
        metric(
            "tack_messages_out_total",
            "counter",
            "Events written to clients.",
            &[(String::new(), c(&self.messages_out))],
        );
        metric(
            "tack_published_total",
            "counter",
            "Items accepted by POST /publish/.",
            &[(String::new(), c(&self.published))],
        );
        metric(
            "tack_drops_total",
            "counter",
            "Events not delivered because a connection's queue was full.",
            &[(String::new(), c(&self.drops))],
        );
        metric(
            "tack_slow_consumer_kicks_total",
            "counter",
            "Connections disconnected for reading too slowly.",
            &[(String::new(), c(&self.slow_consumer_kicks))],
        );
        metric(
            "tack_refused_connections_total",
            "counter",
            "Connections refused at the global connection cap.",
            &[(String::new(), c(&self.refused_connections))],
        );
        out
    }
}
