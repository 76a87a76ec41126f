//! Tack's wire formats, in one pure crate: no IO, no tokio, no clocks.
//!
//! - [`chat`]: the chat protocol — client frames `name:{json}` and the server's JSON events.
//! - [`codes`]: the vocabulary of refusals — error codes and close codes — that servers send
//!   and clients match.
//! - [`wsevents`]: WebSocket-over-HTTP (`application/websocket-events`), Pushpin's format.
//! - [`grip`]: GRIP control messages, `Grip-*` headers and `Grip-Sig` verification.
//! - [`publish`]: the body of Pushpin's `POST /publish/`.
//! - [`sse`]: Server-Sent Events, encoder and incremental parser.
//! - [`error`]: the errors of the four formats above (the chat protocol keeps its own in
//!   [`chat`], beside the types servers and clients match on).
//!
//! Every parser here has a size limit and a distinct error for each way input can be wrong;
//! callers turn those errors into close codes or error events.

pub mod chat;
pub mod codes;
pub mod error;
pub mod grip;
pub mod publish;
pub mod sse;
pub mod wsevents;

pub use codes::{CloseCode, ErrorCode};
pub use error::{GripError, PublishError, SseError, WsEventsError};
