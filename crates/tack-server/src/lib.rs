//! Tack's built-in server: chat rooms and raw channels over WebSocket (`/ws`), Server-Sent
//! Events (`/stream`) and long-polling (`/poll` + `/send`), with Pushpin's publish API
//! (`/publish/`), in one process with no outside services.
//!
//! What happens to a client frame — from any transport, on either front door — is decided in
//! one place: [`client_frame::apply`].
//!
//! Who owns what:
//! - [`access`] — who may reach what: tokens, browser origins, host names; [`identity`] —
//!   signed identities (JWT) and what they allow.
//! - [`client_frame`] — every rule about what a client frame may do.
//! - [`session`] — one client: nick, what it follows and where it is in each, its own events
//!   ([`outbox`]); reads what it should get next. Knows nothing about transports.
//! - [`hub`] — the [`Hub`] trait: rooms, channels, numbering, presence and `cid` idempotency;
//!   [`memory_hub`] is the in-process implementation, [`redis_hub`] the one several servers
//!   share through Redis.
//! - [`feed`] — a channel's items: history and live fan-out in one buffer, read by every
//!   subscriber from its own cursor, so a broadcast is one append.
//! - [`item`] — a numbered event, serialized once and shared by every subscriber.
//! - [`http`] and [`sessions`] — what the HTTP transports share: the query, resume points,
//!   sessions that outlive a request.
//! - The built-in front door: [`ws`], [`stream`] (SSE), [`poll`] (long-poll and `/send`).
//! - The GRIP front door, behind Pushpin: [`origin`]; Pushpin's own statistics republished
//!   as the server's `$pushpin` channels: [`origin::stats`], [`server_channels`].
//! - [`publish`] — `POST /publish/`, the body and error texts from `tack_protocol::publish`.
//! - [`server`] — one skeleton for both doors: the routers, [`run`], [`spawn`], the reaper and
//!   graceful shutdown; [`listener`] — accepting connections under the cap, with timeouts; [`config`] — every limit; [`metrics`] — `GET /metrics`.
//!
//! No transport ever holds a lock while writing to a socket: subscribers copy shared items
//! out of a channel's feed and write them in their own tasks.

pub mod access;
pub mod client_frame;
pub mod config;
pub mod control_thread;
pub mod error;
pub mod feed;
pub mod http;
pub mod hub;
pub mod identity;
pub mod item;
pub mod listener;
pub mod memory_hub;
pub mod metrics;
#[cfg(feature = "pushpin")]
pub mod origin;
pub mod outbox;
pub mod own_thread;
pub mod poll;
pub mod publish;
#[cfg(feature = "redis")]
pub mod redis_hub;
pub mod server;
pub mod server_channels;
pub mod session;
pub mod sessions;
pub mod state;
pub mod stream;
pub mod ws;

pub use config::ServerConfig;
pub use error::{HubError, ServerError};
pub use hub::Hub;
#[cfg(feature = "pushpin")]
pub use origin::{Origin, OriginConfig};
pub use server::{app, run, spawn, spawn_on, Door, Listeners, Server, ServerHandle};
pub use state::AppState;
