//! [`History`]: the app's history file, opened once: a writer on a thread of its own, fed
//! engine batches through a thread that turns them into entries, and one reading connection
//! for the window's questions.
//!
//! Every method may wait for the disk (a read, or the writer's queue when it is 64 MiB
//! behind): call them off the async runtime. The feed is the exception: [`History::keep`]
//! hands back a bounded tokio channel, so the engine's side awaits room instead of blocking a
//! runtime thread, and a slow disk slows the engine rather than dropping anything.

use crate::keep::{now_ms, place_of, target_of, Keeper};
use crate::show::{shown, HistoryEvent, SearchHit, StoreInfo};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tack_client::events::{EventBatch, Target};
use tack_client::Profile;
use tack_store::{
    EntryKey, Place, ResumePoint, Store, StoreError, StoreOptions, StoreWriter, WriterOptions,
};
use tokio::sync::mpsc;

/// Engine batches waiting for the feed thread. Batches are ~60 a second at most; this absorbs
/// a hiccup of the disk, then the engine's side waits.
const FEED_BATCHES: usize = 64;

pub struct History {
    writer: Arc<StoreWriter>,
    reader: Arc<Mutex<Store>>,
    /// The cap in force: the file's own choice when it has one (see `Store::set_max_bytes`).
    max_bytes: AtomicU64,
    /// Names this run's numbering of events that come without ids.
    launched: u64,
}

/// The key the history files a profile's server under: its URL, which stays when the profile
/// is renamed (the name is set apart). The built-in server's profile URL is fixed
/// (`builtin:`) while its port changes at each launch; its history restarts with each launch
/// too, which its epoch says.
pub fn server_key(profile: &Profile) -> String {
    profile.url.trim().trim_end_matches('/').to_owned()
}

impl History {
    /// Opens (creating or migrating) the history file at `path`.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<History, StoreError> {
        let path = path.as_ref();
        private_file(path)?;
        let writer = StoreWriter::start(
            Store::open(path, options.clone())?,
            WriterOptions::default(),
        );
        let reader = Store::open(path, options)?;
        Ok(History {
            writer: Arc::new(writer),
            max_bytes: AtomicU64::new(reader.options().max_bytes),
            reader: Arc::new(Mutex::new(reader)),
            launched: now_ms(),
        })
    }

    fn reader(&self) -> MutexGuard<'_, Store> {
        // A panic while reading leaves the connection usable.
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a session's events under the server `key` (shown as `name`): send each engine
    /// batch to the answer. A thread of its own turns them into entries for the writer; it
    /// ends when the sender is dropped.
    pub fn keep(&self, key: &str, name: &str) -> mpsc::Sender<EventBatch> {
        let (tx, mut rx) = mpsc::channel::<EventBatch>(FEED_BATCHES);
        let writer = self.writer.clone();
        let reader = self.reader.clone();
        let server = key.to_owned();
        if let Err(e) = writer.name_server(key, name) {
            tracing::warn!("history: {e}");
        }
        let own_epoch = format!("app-{}", self.launched);
        let spawned = std::thread::Builder::new()
            .name("tack-history-feed".into())
            .spawn(move || {
                let mut keeper = Keeper::new(server.clone(), own_epoch, |place: &Place| {
                    let store = reader.lock().unwrap_or_else(|e| e.into_inner());
                    store
                        .last_id(&server, place)
                        .ok()
                        .flatten()
                        .map(|p| p.epoch)
                });
                let mut entries = Vec::new();
                while let Some(batch) = rx.blocking_recv() {
                    for event in &batch {
                        keeper.keep(event, &mut entries);
                    }
                    for entry in entries.drain(..) {
                        if let Err(e) = writer.send(entry) {
                            tracing::warn!("history: {e}");
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("history: no thread to keep events: {e}");
        }
        tx
    }

    /// The newest `limit` entries of a place, oldest first, as the window shows them.
    pub fn recent(
        &self,
        server: &str,
        target: &Target,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let stored = self.reader().recent(server, &place_of(target), limit)?;
        Ok(stored.iter().map(shown).collect())
    }

    /// Where a place resumes: the newest event stored, once everything sent so far is.
    pub fn resume_point(
        &self,
        server: &str,
        target: &Target,
    ) -> Result<Option<ResumePoint>, StoreError> {
        // An event still queued would otherwise be asked of the server again.
        self.writer.flush()?;
        self.reader().last_id(server, &place_of(target))
    }

    /// The rooms and channels the user was in when the app last said so, rooms first.
    pub fn open_places(&self, server: &str) -> Result<Vec<Target>, StoreError> {
        Ok(self
            .reader()
            .places(server)?
            .into_iter()
            .filter(|p| p.open)
            .map(|p| target_of(&p.place))
            .collect())
    }

    /// Remembers whether the user is in a place, so the app reopens it after a restart.
    pub fn set_open(&self, server: &str, target: &Target, open: bool) -> Result<(), StoreError> {
        self.writer.set_open(server, &place_of(target), open)
    }

    /// A search typed in the search box; a mistake in it is refused with what to change.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let hits = self.reader().search(query, limit)?;
        Ok(hits.into_iter().map(SearchHit::from).collect())
    }

    /// A stored entry with `before` entries before it and `after` after it in its place.
    pub fn context(
        &self,
        key: i64,
        before: usize,
        after: usize,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let stored = self.reader().context(EntryKey(key), before, after)?;
        Ok(stored.iter().map(shown).collect())
    }

    pub fn info(&self) -> Result<StoreInfo, StoreError> {
        Ok(StoreInfo {
            size_bytes: self.reader().size_bytes()?,
            max_bytes: self.max_bytes.load(Ordering::Relaxed),
        })
    }

    /// Sets the size cap the user chose (kept in the file); a lower one removes the oldest
    /// entries at once. A cap out of range is refused, naming the range.
    pub fn set_max_bytes(&self, bytes: u64) -> Result<StoreInfo, StoreError> {
        self.writer.set_max_bytes(bytes)?;
        self.max_bytes.store(bytes, Ordering::Relaxed);
        self.info()
    }

    /// Waits until everything sent so far is stored.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush()
    }

    /// Removes everything stored (what is still queued first). Which rooms and channels are
    /// open, and the servers' names, are not history but what the window shows now: they stay,
    /// so the next start still reopens them.
    pub fn forget_everything(&self) -> Result<(), StoreError> {
        self.writer.flush()?;
        let open = {
            let store = self.reader();
            let mut open = Vec::new();
            for (key, name) in store.servers()? {
                let places: Vec<Place> = store
                    .places(&key)?
                    .into_iter()
                    .filter(|p| p.open)
                    .map(|p| p.place)
                    .collect();
                open.push((key, name, places));
            }
            open
        };
        self.writer.forget_everything()?;
        for (key, name, places) in open {
            self.writer.name_server(&key, &name)?;
            for place in places {
                self.writer.set_open(&key, &place, true)?;
            }
        }
        self.writer.flush()
    }
}

/// Every message the user saw is in this file: only the user may read it. Its directory is
/// made `0700` when the history makes it, and the file is `0600` before SQLite opens it (SQLite
/// gives its `-wal` and `-shm` files the database's mode), an older file included.
fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| StoreError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)
}
