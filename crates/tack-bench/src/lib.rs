//! The load generator behind `tack bench`.
//!
//! - [`config`] — what a run is asked to do ([`BenchConfig`]) and the bounds every run is
//!   held to (connections, duration, loopback only unless allowed).
//! - [`loopback`] — whether a target is this machine (also `tack replay`'s guard).
//! - [`run()`] — one run: ramp up, settle, drive the workload, drain, report.
//! - [`conn`] — one load connection per task over raw WebSocket, SSE or long-poll sockets.
//! - [`workers`] — the threads the connections run on, one single-threaded runtime each.
//! - [`websocket`] — the WebSocket client: a handshake and a reader made for a flood.
//! - [`publish`] — the broadcast publisher (Pushpin-format `POST /publish/`, or WebSocket).
//! - [`payload`] — the sequence number and send time every message carries, read from a fixed
//!   place at the end of a frame.
//! - [`events`] — what else the tool reads from a server's events (ids, errors, sessions).
//! - [`tally`] — latency histograms, delivery, loss and duplicate counts, errors by kind.
//! - [`procstat`] — CPU time and memory from `/proc`, for the tool and the server.
//! - [`report`] — the [`Report`]: a table for people, JSON for machines.
//!
//! It never uses the client engine: one engine per connection would measure the engine, not
//! the server.

pub mod config;
pub mod conn;
pub mod error;
pub mod events;
pub mod loopback;
pub mod payload;
pub mod procstat;
pub mod publish;
pub mod report;
pub mod run;
pub mod tally;
pub mod websocket;
pub mod workers;

pub use config::{BenchConfig, Protocol, PublishTo, Transport, Workload};
pub use error::BenchError;
pub use report::Report;
pub use run::run;
