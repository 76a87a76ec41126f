//! [`StoreWriter`]: stores entries on a thread of its own, in batches, so the window's path
//! never waits for the disk.
//!
//! Nothing sent is dropped. The queue is bounded in bytes, not in entries, and a full queue
//! makes [`StoreWriter::send`] wait (backpressure) rather than drop or grow without end. While
//! the disk keeps up (a batch of a thousand entries takes a few ms) the queue stays nearly
//! empty and `send` never waits; only a stall long enough to queue [`WriterOptions::queue_bytes`]
//! (a slow disk, a long eviction) slows the sender, which is the one thing that can both keep
//! every entry and keep memory bounded. A count bound would not do: a few large channel items
//! would take as much memory as millions of chat lines.

use crate::error::StoreError;
use crate::model::{Body, Entry, Payload, Place};
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Entries stored per transaction at most.
    pub batch_entries: usize,
    /// How long the first entry of a batch waits for more before the batch is stored anyway.
    pub batch_delay: Duration,
    /// Bytes of entries waiting, past which `send` waits for room.
    pub queue_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            batch_entries: 1_000,
            batch_delay: Duration::from_millis(100),
            queue_bytes: 64 << 20,
        }
    }
}

pub struct StoreWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the writer is closed.
    work: Condvar,
    /// Signalled when the writer takes jobs off the queue.
    room: Condvar,
    options: WriterOptions,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    bytes: usize,
    /// Jobs that someone waits for (flush, forget): the batch is not held back for them.
    waited_for: usize,
    closed: bool,
}

type Reply = mpsc::Sender<Result<(), StoreError>>;

enum Job {
    Entry(Entry),
    NameServer {
        key: String,
        name: String,
    },
    SetOpen {
        server: String,
        place: Place,
        open: bool,
    },
    Flush(Reply),
    Forget(Reply),
    SetCap(u64, Reply),
}

impl Job {
    fn bytes(&self) -> usize {
        // Rough: the strings and payload plus the struct; enough to bound memory.
        const OVERHEAD: usize = 96;
        OVERHEAD
            + match self {
                Job::Entry(entry) => {
                    entry.server.len()
                        + entry.place.name().len()
                        + entry.epoch.len()
                        + match &entry.body {
                            Body::Message { nick, comment } => nick.len() + comment.len(),
                            Body::Entered { nick } | Body::Left { nick } => nick.len(),
                            Body::NickChanged { nick, new_nick } => nick.len() + new_nick.len(),
                            Body::Item {
                                payload: Payload::Text(text),
                            } => text.len(),
                            Body::Item {
                                payload: Payload::Binary(data),
                            } => data.len(),
                            Body::Gap { .. } | Body::Renumbered => 0,
                        }
                }
                _ => 0,
            }
    }

    fn is_waited_for(&self) -> bool {
        matches!(self, Job::Flush(_) | Job::Forget(_) | Job::SetCap(..))
    }
}

impl StoreWriter {
    /// Moves `store` onto a writer thread. Reads go through another [`Store`] on the same file.
    pub fn start(store: Store, options: WriterOptions) -> StoreWriter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            options,
        });
        let thread = std::thread::Builder::new()
            .name("tack-store-writer".into())
            .spawn({
                let shared = shared.clone();
                move || WriterThread::new(store, shared).run()
            })
            .expect("the OS refused a thread for the history writer");
        StoreWriter {
            shared,
            thread: Some(thread),
        }
    }

    /// Queues an entry. Waits only while the queue is full (see the module's doc).
    pub fn send(&self, entry: Entry) -> Result<(), StoreError> {
        self.push(Job::Entry(entry))
    }

    /// Queues a server's display name, stored in order with the entries.
    pub fn name_server(&self, key: &str, name: &str) -> Result<(), StoreError> {
        self.push(Job::NameServer {
            key: key.into(),
            name: name.into(),
        })
    }

    /// Queues whether the user is in a place (see [`Store::set_open`]).
    pub fn set_open(&self, server: &str, place: &Place, open: bool) -> Result<(), StoreError> {
        self.push(Job::SetOpen {
            server: server.into(),
            place: place.clone(),
            open,
        })
    }

    /// Waits until everything sent so far is stored (and the size cap checked). Returns the
    /// first failure since the last flush, if a batch could not be stored.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (reply, done) = mpsc::channel();
        self.push(Job::Flush(reply))?;
        done.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Stores what was sent before, then sets the size cap (see [`Store::set_max_bytes`]).
    pub fn set_max_bytes(&self, bytes: u64) -> Result<(), StoreError> {
        let (reply, done) = mpsc::channel();
        self.push(Job::SetCap(bytes, reply))?;
        done.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Stores what was sent before, then removes everything (see [`Store::forget_everything`]).
    pub fn forget_everything(&self) -> Result<(), StoreError> {
        let (reply, done) = mpsc::channel();
        self.push(Job::Forget(reply))?;
        done.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Stores what is queued and stops the thread.
    pub fn close(mut self) -> Result<(), StoreError> {
        let flushed = self.flush();
        self.stop();
        flushed
    }

    fn push(&self, job: Job) -> Result<(), StoreError> {
        let bytes = job.bytes();
        let waited_for = job.is_waited_for();
        let mut queue = self.shared.lock();
        // A job larger than the whole queue still goes in once the queue is empty.
        while !queue.closed
            && !waited_for
            && !queue.jobs.is_empty()
            && queue.bytes + bytes > self.shared.options.queue_bytes
        {
            queue = self
                .shared
                .room
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
        }
        if queue.closed {
            return Err(StoreError::WriterStopped);
        }
        queue.bytes += bytes;
        queue.waited_for += usize::from(waited_for);
        queue.jobs.push_back(job);
        drop(queue);
        self.shared.work.notify_one();
        Ok(())
    }

    fn stop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StoreWriter {
    /// Stores what is queued before the thread ends, so closing the app loses nothing.
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere while holding the lock leaves the queue itself intact.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct WriterThread {
    store: Store,
    shared: Arc<Shared>,
    /// Entries taken off the queue, not yet stored.
    pending: Vec<Entry>,
    /// Entries stored since the size cap was last checked.
    unchecked: bool,
    /// The first failure since the last flush.
    failure: Option<StoreError>,
}

impl WriterThread {
    fn new(store: Store, shared: Arc<Shared>) -> Self {
        WriterThread {
            store,
            shared,
            pending: Vec::new(),
            unchecked: false,
            failure: None,
        }
    }

    fn run(mut self) {
        while let Some(jobs) = self.next_jobs() {
            for job in jobs {
                self.handle(job);
            }
            self.store_pending();
            self.check_cap();
        }
    }

    /// Waits for a batch: `batch_entries` jobs, or whatever came within `batch_delay` of the
    /// first, or at once when someone waits (flush) or the writer closes. `None`: closed and
    /// nothing left.
    fn next_jobs(&self) -> Option<Vec<Job>> {
        let options = &self.shared.options;
        let mut queue = self.shared.lock();
        while queue.jobs.is_empty() {
            if queue.closed {
                return None;
            }
            queue = self
                .shared
                .work
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
        }
        let deadline = Instant::now() + options.batch_delay;
        while queue.jobs.len() < options.batch_entries && queue.waited_for == 0 && !queue.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            queue = self
                .shared
                .work
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let take = queue.jobs.len().min(options.batch_entries.max(1));
        let jobs: Vec<Job> = queue.jobs.drain(..take).collect();
        for job in &jobs {
            queue.bytes -= job.bytes();
            queue.waited_for -= usize::from(job.is_waited_for());
        }
        drop(queue);
        self.shared.room.notify_all();
        Some(jobs)
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Entry(entry) => self.pending.push(entry),
            Job::NameServer { key, name } => {
                self.store_pending();
                let result = self.store.name_server(&key, &name);
                self.note(result, 0);
            }
            Job::SetOpen {
                server,
                place,
                open,
            } => {
                self.store_pending();
                let result = self.store.set_open(&server, &place, open);
                self.note(result, 0);
            }
            Job::Flush(reply) => {
                self.store_pending();
                self.check_cap();
                let _ = reply.send(self.failure.take().map_or(Ok(()), Err));
            }
            Job::Forget(reply) => {
                self.store_pending();
                self.unchecked = false;
                let _ = reply.send(self.store.forget_everything());
            }
            Job::SetCap(bytes, reply) => {
                self.store_pending();
                let result = self.store.set_max_bytes(bytes);
                self.unchecked &= result.is_err();
                let _ = reply.send(result.map(|_| ()));
            }
        }
    }

    fn store_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.pending);
        let result = self.store.insert(&entries).map(|_| ());
        self.unchecked |= result.is_ok();
        self.note(result, entries.len() as u64);
    }

    fn check_cap(&mut self) {
        if std::mem::take(&mut self.unchecked) {
            let result = self.store.enforce_cap().map(|_| ());
            self.note(result, 0);
        }
    }

    /// Keeps the first failure for the next flush, counting entries lost with it.
    fn note(&mut self, result: Result<(), StoreError>, entries: u64) {
        let Err(error) = result else { return };
        match &mut self.failure {
            None => {
                self.failure = Some(StoreError::WriteFailed {
                    lost: entries,
                    reason: error.to_string(),
                })
            }
            Some(StoreError::WriteFailed { lost, .. }) => *lost += entries,
            Some(_) => {}
        }
    }
}
