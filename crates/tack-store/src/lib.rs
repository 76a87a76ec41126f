//! Tack's local history: every chat event and channel item the app received, kept on disk
//! and searchable.
//!
//! The desktop app keeps one file, `history.sqlite3` in its data directory, for every server
//! profile. Rooms show their history at once on opening, survive restarts (the app re-enters
//! the places that were open, with `since` = the last id stored), and one search covers every
//! server, room and channel. A server's replay merges in by id without duplicates; stretches
//! the app never received are kept as gaps, and shrink when what was missing arrives.
//!
//! Limits: the file is capped (1 GiB by default); past it the oldest entries go first. Binary
//! channel items are kept but not searchable. Presence snapshots are not kept (they have no id
//! and describe a moment, not an event). Events without ids (original-system servers) need
//! ids from the app. This crate draws no UI and knows nothing of Tauri.
//!
//! - [`store`]: [`Store`], one connection: writes, reads, search, the size cap.
//! - [`writer`]: [`StoreWriter`], batches writes on a thread of its own.
//! - [`query`]: the search box's language, parsed (pure).
//! - `schema` (versions and migrations), `gaps`, `search`, `cap`: how the store does its job.

mod cap;
pub mod error;
mod gaps;
mod model;
pub mod query;
mod schema;
mod search;
pub mod store;
pub mod writer;

pub use error::{QueryError, StoreError};
pub use model::{
    Body, Entry, EntryKey, Hit, Payload, Place, PlaceInfo, ResumePoint, SnippetPiece, Stored,
};
pub use query::{parse_query, SearchQuery, Term};
pub use store::{Store, StoreOptions, DEFAULT_MAX_BYTES, MAX_MAX_BYTES, MIN_MAX_BYTES};
pub use writer::{StoreWriter, WriterOptions};
