//! Tack's client engine: one connection that never gives up, never loses a message, never
//! floods its UI. No Tauri here; the desktop app and the `tack` CLI both sit on top.
//!
//! - [`Session`] (in `session`): the handle — enter, send, watch — and [`SessionOptions`].
//! - [`profile`]: where to connect and how (a server profile).
//! - [`events`]: what the engine tells its consumer, in batches. This is also the desktop's
//!   IPC contract (TypeScript is generated from it).
//! - `engine`: the task behind a session — connect, resume, deliver, reconnect.
//! - `sequencer`: per room and channel numbering — duplicates, holes fetched, held events.
//! - `emitter`: events to the consumer in batches.
//! - `liveness`: the heartbeat and on-demand checks; [`clock`]: noticing a suspend;
//!   `netwatch`: hearing the OS report a network change.
//! - `choose`: which transport, the staggered race, per-server memory.
//! - `transport`: WebSocket, HTTP streaming (SSE), long-polling — frames in, frames out.
//! - [`jq`]: jq filters on payloads, for watching and the monitor; [`query`]: the monitor's
//!   jq filter and map, judged per item in the engine.
//! - [`binary`]: a binary item as hex, and as MessagePack or CBOR when it is one.
//! - [`recording`]: a recording (the monitor's export, JSON Lines) read back, and its replay
//!   timing; [`recorder`]: items written to one as they arrive; [`replay`]: when each item
//!   is due on a replay the user steers; [`player`]: that replay, on a task of its own.
//! - [`backoff`], [`monitor`], `outbox`, `endpoint`, [`error`].

pub mod backoff;
pub mod binary;
mod choose;
pub mod clock;
mod emitter;
mod endpoint;
mod engine;
pub mod error;
pub mod events;
pub mod jq;
mod link;
mod liveness;
pub mod monitor;
mod netwatch;
mod outbox;
pub mod player;
pub mod profile;
pub mod query;
pub mod recorder;
pub mod recording;
pub mod replay;
mod sequencer;
mod session;
mod transport;

pub use backoff::{Backoff, BackoffPolicy};
pub use error::{ClientError, JqError, LinkError, RecordingError};
pub use events::{ClientEvent, ConnectionState, ConnectionStatus, EventBatch, SendState, Target};
pub use jq::JqFilter;
pub use profile::{BuiltinServer, Profile, Transport, TransportChoice};
pub use session::{Session, SessionOptions};
