//! The app's history file (`tack-history`) as the shell holds it: opened once in the app's
//! data directory and shared by every connected server (each call names its server key), each
//! call moved to a blocking thread (they read or wait for the disk, and must hold neither the
//! window nor the engines' runtime).
//!
//! `TACK_HISTORY` overrides the file (tests and launches that keep their own); `off` runs
//! without one (the window then starts empty every time, as it did before history was kept).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tack_client::events::{EventBatch, Target};
use tack_client::Session;
use tack_history::{HistoryEvent, SearchHit, StoreInfo};
use tack_store::StoreOptions;
use tokio::sync::mpsc;

/// The file's name in the app's data directory.
pub const FILE: &str = "history.sqlite";

#[derive(Default)]
pub struct AppHistory {
    /// Set once at start; absent when turned off or the file could not be opened.
    history: OnceLock<Arc<tack_history::History>>,
}

/// The file to open: `TACK_HISTORY`, else `history.sqlite` in `data_dir`; `None` when off.
pub fn file(data_dir: Option<PathBuf>, env: Option<String>) -> Option<PathBuf> {
    match env.as_deref().map(str::trim) {
        Some("off") => None,
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => data_dir.map(|dir| dir.join(FILE)),
    }
}

/// A store failure as the window shows it.
fn said(e: tack_store::StoreError) -> String {
    e.to_string()
}

impl AppHistory {
    /// Opens the file; a failure is logged and the app runs without history.
    pub fn open(&self, path: Option<PathBuf>) {
        let Some(path) = path else { return };
        match tack_history::History::open(&path, StoreOptions::default()) {
            Ok(history) => {
                let _ = self.history.set(Arc::new(history));
            }
            Err(e) => eprintln!("tack: history off, {}: {e}", path.display()),
        }
    }

    /// Runs `f` on the history on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&tack_history::History) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let history = self
            .history
            .get()
            .cloned()
            .ok_or("history is not kept (TACK_HISTORY=off, or its file could not be opened)")?;
        tokio::task::spawn_blocking(move || f(&history))
            .await
            .map_err(|e| format!("the history stopped: {e}"))?
    }

    /// A new session on the server `key`: its events are kept through the answer.
    pub fn connected(&self, key: &str, name: &str) -> Option<mpsc::Sender<EventBatch>> {
        self.history.get().map(|h| h.keep(key, name))
    }

    /// Enters a room or watches a channel from where its stored history ends, and remembers
    /// that it is open.
    pub async fn follow(
        &self,
        session: &Session,
        server: &str,
        target: Target,
    ) -> Result<(), String> {
        let point = match self.history.get() {
            Some(_) => {
                let target = target.clone();
                let server = server.to_owned();
                self.blocking(move |h| {
                    h.set_open(&server, &target, true).map_err(said)?;
                    h.resume_point(&server, &target).map_err(said)
                })
                .await?
            }
            _ => None,
        };
        let result = match (&target, point) {
            (Target::Room(room), Some(p)) => session.enter_from(room, &p.epoch, p.id),
            (Target::Room(room), None) => session.enter(room),
            (Target::Channel(channel), Some(p)) => session.watch_from(channel, &p.epoch, p.id),
            (Target::Channel(channel), None) => session.watch(channel),
        };
        result.map_err(|e| e.to_string())
    }

    /// The user left a room or stopped watching a channel: it is not reopened at the next start.
    pub async fn unfollowed(&self, server: &str, target: Target) -> Result<(), String> {
        if self.history.get().is_none() {
            return Ok(());
        }
        let server = server.to_owned();
        self.blocking(move |h| h.set_open(&server, &target, false).map_err(said))
            .await
    }

    /// The places open at the last close on `server`.
    pub async fn open_places(&self, server: &str) -> Result<Vec<Target>, String> {
        if self.history.get().is_none() {
            return Ok(Vec::new());
        }
        let server = server.to_owned();
        self.blocking(move |h| h.open_places(&server).map_err(said))
            .await
    }

    pub async fn recent(
        &self,
        server: &str,
        target: Target,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>, String> {
        if self.history.get().is_none() {
            return Ok(Vec::new());
        }
        let server = server.to_owned();
        self.blocking(move |h| h.recent(&server, &target, limit).map_err(said))
            .await
    }

    pub async fn search(&self, query: String, limit: usize) -> Result<Vec<SearchHit>, String> {
        self.blocking(move |h| h.search(&query, limit).map_err(said))
            .await
    }

    pub async fn context(
        &self,
        key: i64,
        before: usize,
        after: usize,
    ) -> Result<Vec<HistoryEvent>, String> {
        self.blocking(move |h| h.context(key, before, after).map_err(said))
            .await
    }

    pub async fn info(&self) -> Result<StoreInfo, String> {
        self.blocking(|h| h.info().map_err(said)).await
    }

    pub async fn set_cap(&self, max_bytes: u64) -> Result<StoreInfo, String> {
        self.blocking(move |h| h.set_max_bytes(max_bytes).map_err(said))
            .await
    }

    pub async fn forget(&self) -> Result<(), String> {
        self.blocking(|h| h.forget_everything().map_err(said)).await
    }

    /// Stores what is still queued (the app is closing).
    pub fn flush(&self) {
        if let Some(h) = self.history.get() {
            if let Err(e) = h.flush() {
                eprintln!("tack: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_in_the_data_directory_unless_the_environment_says_otherwise() {
        let data = Some(PathBuf::from("/data/tack"));
        assert_eq!(
            file(data.clone(), None),
            Some(PathBuf::from("/data/tack/history.sqlite"))
        );
        assert_eq!(
            file(data.clone(), Some("/tmp/h.sqlite".into())),
            Some(PathBuf::from("/tmp/h.sqlite"))
        );
        assert_eq!(file(data, Some("off".into())), None);
    }
}
