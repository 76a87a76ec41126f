//! Between Tack's engine and its history file: what the engine tells the window is kept, what
//! is kept is shown again, and rooms and channels resume where the kept history ends.
//!
//! - [`keep`]: engine events ([`tack_client::ClientEvent`]) → store entries, per server, under
//!   the numbering (epoch) they belong to. Pure.
//! - [`show`]: stored entries → the events the window shows, search hits, the store's figures,
//!   as the desktop's IPC contract declares them (TypeScript generated with feature `ts`).
//! - [`history`]: [`History`], the file opened for the app: a writer fed from a thread of its
//!   own, reads, search, and where each place resumes.
//!
//! No Tauri here and no UI: the desktop shell calls [`History`] and hands the window what it
//! answers. Blocking calls (they read or wait for the disk) belong off the async runtime.

pub mod history;
pub mod keep;
pub mod show;

pub use history::{server_key, History};
pub use keep::Keeper;
pub use show::{HistoryEvent, SearchHit, SnippetPiece, StoreInfo};
