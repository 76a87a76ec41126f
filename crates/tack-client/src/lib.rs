//! Tack's client engine.
//!
//! - [`profile`]: where to connect and how (a server profile).
//! - [`events`]: what the engine tells its consumer — the typed stream the desktop app and the
//!   CLI render. This is also the desktop's IPC contract (TypeScript is generated from it).

pub mod events;
pub mod profile;
