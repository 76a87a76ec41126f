//! Recording: the items of chosen rooms and channels written to a file as they arrive, one
//! [`Record`] a line — the export's format, so `recording` reads it back and `tack replay`
//! publishes it.
//!
//! The engine hands each item to a writer thread over a bounded channel: a disk slower than
//! the traffic makes the engine wait (and so the socket), as a slow window does, instead of
//! items piling up in memory. The file is flushed whenever the writer has caught up, so what
//! is recorded so far can be read while the recording goes on.

use crate::events::Target;
use crate::monitor::Record;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::mpsc;

/// Items on their way to the writer; past this the engine waits for the disk.
pub const RECORD_BUFFER: usize = 4096;

/// A recording in progress: where items of its targets go.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    targets: HashSet<Target>,
    tx: mpsc::Sender<Record>,
    written: Arc<AtomicU64>,
    /// Why the writer stopped early, if it did.
    failure: Arc<Mutex<Option<String>>>,
    writer: JoinHandle<()>,
}

impl Recorder {
    /// Creates (or truncates) `path` and starts its writer. `targets` empty: nothing is
    /// recorded, which is refused here rather than making an empty file look like a quiet one.
    pub fn start(path: &Path, targets: Vec<Target>) -> Result<Recorder, String> {
        if targets.is_empty() {
            return Err("choose at least one room or channel to record".into());
        }
        let file =
            File::create(path).map_err(|e| format!("can't write {}: {e}", path.display()))?;
        let (tx, mut rx) = mpsc::channel::<Record>(RECORD_BUFFER);
        let written = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let (count, failed, name) = (written.clone(), failure.clone(), path.display().to_string());
        let writer = std::thread::Builder::new()
            .name("tack-recorder".into())
            .spawn(move || {
                let mut out = BufWriter::new(file);
                let result = (|| -> std::io::Result<()> {
                    while let Some(r) = rx.blocking_recv() {
                        serde_json::to_writer(&mut out, &r)?;
                        out.write_all(b"\n")?;
                        count.fetch_add(1, Ordering::Relaxed);
                        if rx.is_empty() {
                            out.flush()?;
                        }
                    }
                    out.flush()
                })();
                if let Err(e) = result {
                    *failed.lock().expect("not poisoned") =
                        Some(format!("can't write {name}: {e}"));
                }
            })
            .map_err(|e| format!("can't start recording: {e}"))?;
        Ok(Recorder {
            path: path.to_owned(),
            targets: targets.into_iter().collect(),
            tx,
            written,
            failure,
            writer,
        })
    }

    /// Where items of `target` go, if it is recorded.
    pub(crate) fn tap(&self, target: &Target) -> Option<mpsc::Sender<Record>> {
        self.targets.contains(target).then(|| self.tx.clone())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Items written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Why the file could not be written, once it could not (the items after it are lost;
    /// the recording should be stopped).
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().expect("not poisoned").clone()
    }

    /// Stops taking items, writes those on their way, closes the file; answers how many items
    /// it holds. Blocks until the writer is done (call it off the async runtime).
    pub fn stop(self) -> Result<u64, String> {
        drop(self.tx);
        // The engine may hold a tap for an item in flight: the writer ends when that is sent.
        let _ = self.writer.join();
        if let Some(failure) = self.failure.lock().expect("not poisoned").take() {
            return Err(failure);
        }
        Ok(self.written.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::read_records;

    fn rec(channel: &str, n: u64) -> Record {
        Record {
            channel: channel.into(),
            id: Some(n),
            ts: Some(n),
            received: 1_000 + n,
            user: None,
            payload: format!("{{\"n\":{n}}}"),
            binary: false,
        }
    }

    #[tokio::test]
    async fn a_recording_holds_its_targets_items_in_arrival_order_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let recorder = Recorder::start(&path, vec![Target::Channel("orders".into())]).unwrap();
        assert!(recorder.tap(&Target::Channel("other".into())).is_none());
        assert!(recorder.tap(&Target::Room("orders".into())).is_none());
        let tap = recorder.tap(&Target::Channel("orders".into())).unwrap();
        // More than the buffer holds: the sender waits for the writer, nothing is lost.
        for n in 0..(RECORD_BUFFER as u64 * 3) {
            tap.send(rec("orders", n)).await.unwrap();
        }
        drop(tap);
        let written = tokio::task::spawn_blocking(move || recorder.stop())
            .await
            .unwrap();
        assert_eq!(written, Ok(RECORD_BUFFER as u64 * 3));
        let file = std::io::BufReader::new(File::open(&path).unwrap());
        let back = read_records(file, 1_000_000).unwrap();
        assert_eq!(back.len(), RECORD_BUFFER * 3);
        assert!(back.iter().enumerate().all(|(i, r)| r.id == Some(i as u64)));
    }

    #[tokio::test]
    async fn a_disk_that_refuses_the_writes_is_said_at_once_and_at_stop() {
        let recorder =
            Recorder::start(Path::new("/dev/full"), vec![Target::Channel("a".into())]).unwrap();
        let tap = recorder.tap(&Target::Channel("a".into())).unwrap();
        // The writer stops at its first flush; the sends after it find no one listening.
        let mut refused = false;
        for n in 0..10_000 {
            if tap.send(rec("a", n)).await.is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "the engine learns that the writer stopped");
        drop(tap);
        let said = recorder
            .failure()
            .expect("the failure is known while recording");
        assert!(said.contains("/dev/full"), "{said}");
        let err = tokio::task::spawn_blocking(move || recorder.stop())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err, said);
    }

    #[test]
    fn nothing_to_record_and_an_unwritable_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Recorder::start(&dir.path().join("a.jsonl"), vec![]).unwrap_err();
        assert!(err.contains("at least one"), "{err}");
        let err = Recorder::start(
            &dir.path().join("no/such/dir/a.jsonl"),
            vec![Target::Channel("a".into())],
        )
        .unwrap_err();
        assert!(err.contains("can't write"), "{err}");
    }
}
