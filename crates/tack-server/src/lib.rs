//! Tack's built-in server: chat rooms and raw channels over WebSocket (`/ws`), Server-Sent
//! Events (`/stream`) and long-polling (`/poll` + `/send`), with Pushpin's publish API
//! (`/publish/`), in one process with no outside services.
//!
//! Who owns what:
//! - [`hub`] — the [`Hub`] trait: rooms, channels, numbering, bounded history, presence and
//!   `cid` idempotency. Everything shared between connections lives behind it, so a Redis
//!   implementation or the Pushpin origin mode can reuse the chat logic.
//!   [`memory_hub`] is the in-process implementation.
//! - [`session`] — one client: nick, rooms, rate limit, and the chat logic that turns a
//!   client frame into hub calls. Knows nothing about transports.
//! - [`outbox`] — a connection's bounded queue; a full queue kicks a slow consumer.
//! - [`item`] — a numbered event, serialized once and shared by every subscriber.
//! - Transports: [`ws`], [`stream`] (SSE), [`poll`] (long-poll and `/send`), sharing
//!   [`http`] and [`http_session`] (sessions that outlive a request, expiring after a TTL).
//! - [`publish`] — `POST /publish/`, the body and error texts from `tack_protocol::publish`.
//! - [`origin`] — origin mode: the same chat logic behind Pushpin, as a GRIP origin.
//! - [`server`] — the router ([`app`]), [`run`], [`spawn`] and graceful shutdown;
//!   [`config`] — every limit; [`metrics`] — `GET /metrics`.
//!
//! No transport ever holds a hub lock while writing to a socket: the hub pushes shared
//! pointers into bounded queues, and each connection's own task writes them out.

pub mod config;
pub mod error;
pub mod http;
pub mod http_session;
pub mod hub;
pub mod item;
pub mod memory_hub;
pub mod metrics;
pub mod origin;
pub mod outbox;
pub mod poll;
pub mod publish;
pub mod server;
pub mod session;
pub mod state;
pub mod stream;
pub mod ws;

pub use config::ServerConfig;
pub use error::{HubError, ServerError};
pub use hub::Hub;
pub use origin::{Origin, OriginConfig, OriginHandle};
pub use server::{app, run, serve, spawn, ServerHandle};
pub use state::AppState;
