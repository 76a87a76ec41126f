//! Stories of the writer thread: entries sent are stored in batches, `flush` waits for them,
//! and a queue that fills makes the sender wait instead of losing anything.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tack_store::{Store, StoreOptions, StoreWriter, WriterOptions};

fn writer(dir: &tempfile::TempDir, options: WriterOptions) -> StoreWriter {
    StoreWriter::start(reopen(dir), options)
}

fn stored(dir: &tempfile::TempDir) -> usize {
    reopen(dir)
        .recent("home", &room("lobby"), 1_000_000)
        .unwrap()
        .len()
}

fn line(id: u64) -> tack_store::Entry {
    msg("home", "lobby", id, "ana", &format!("line {id}"))
}

#[test]
fn flush_waits_for_everything_sent_so_far() {
    let dir = tempfile::tempdir().unwrap();
    // A batch delay no test would wait for: only flush gets these stored.
    let writer = writer(
        &dir,
        WriterOptions {
            batch_entries: 100,
            batch_delay: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    for id in 1..=250 {
        writer.send(line(id)).unwrap();
    }
    writer.flush().unwrap();
    assert_eq!(stored(&dir), 250);
}

#[test]
fn full_batches_are_stored_without_waiting_for_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let writer = writer(
        &dir,
        WriterOptions {
            batch_entries: 10,
            batch_delay: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    for id in 1..=25 {
        writer.send(line(id)).unwrap();
    }
    // Two full batches go at once; the last five wait for more, or for the delay.
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored(&dir) < 20 {
        assert!(Instant::now() < deadline, "full batches were not stored");
        std::thread::yield_now();
    }
    assert_eq!(stored(&dir), 20);
    writer.flush().unwrap();
    assert_eq!(stored(&dir), 25);
}

#[test]
fn a_full_queue_makes_the_sender_wait_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    // Room for about one entry: nearly every send waits for the writer.
    let writer = writer(
        &dir,
        WriterOptions {
            batch_entries: 64,
            batch_delay: Duration::from_millis(1),
            queue_bytes: 200,
        },
    );
    for id in 1..=3_000 {
        writer.send(line(id)).unwrap();
    }
    writer.close().unwrap();
    assert_eq!(stored(&dir), 3_000);
}

#[test]
fn dropping_the_writer_stores_what_was_queued() {
    let dir = tempfile::tempdir().unwrap();
    let writer = writer(
        &dir,
        WriterOptions {
            batch_delay: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    for id in 1..=10 {
        writer.send(line(id)).unwrap();
    }
    drop(writer);
    assert_eq!(stored(&dir), 10);
}

#[test]
fn names_and_open_places_are_written_in_order_with_entries() {
    let dir = tempfile::tempdir().unwrap();
    let writer = writer(&dir, WriterOptions::default());
    writer.send(line(1)).unwrap();
    writer.name_server("home", "Home sweet home").unwrap();
    writer.set_open("home", &room("lobby"), true).unwrap();
    writer.flush().unwrap();
    let reader = reopen(&dir);
    assert_eq!(
        reader.servers().unwrap(),
        vec![("home".to_owned(), "Home sweet home".to_owned())]
    );
    assert!(reader.places("home").unwrap()[0].open);
}

#[test]
fn forget_everything_goes_through_the_writer_after_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let writer = writer(
        &dir,
        WriterOptions {
            batch_delay: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    for id in 1..=10 {
        writer.send(line(id)).unwrap();
    }
    writer.forget_everything().unwrap();
    assert_eq!(stored(&dir), 0);
    writer.send(line(11)).unwrap();
    writer.flush().unwrap();
    assert_eq!(reopen(&dir).search("line", 10).unwrap().len(), 1);
}

#[test]
fn the_writer_keeps_the_file_under_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 256 * 1024;
    let store = Store::open(
        dir.path().join("history.sqlite3"),
        StoreOptions { max_bytes: cap },
    )
    .unwrap();
    let writer = StoreWriter::start(
        store,
        WriterOptions {
            batch_entries: 500,
            ..Default::default()
        },
    );
    for id in 1..=5_000 {
        writer.send(line(id)).unwrap();
    }
    writer.flush().unwrap();
    let reader = reopen(&dir);
    assert!(reader.size_bytes().unwrap() <= cap);
    let kept = ids(&reader.recent("home", &room("lobby"), 100_000).unwrap());
    assert_eq!(*kept.last().unwrap(), 5_000);
    assert!(kept[0] > 1, "the oldest went");
}

#[test]
fn a_cap_set_through_the_writer_comes_after_what_was_sent_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("history.sqlite3"), StoreOptions::default()).unwrap();
    let writer = StoreWriter::start(store, WriterOptions::default());
    for id in 1..=20_000 {
        writer.send(line(id)).unwrap();
    }
    writer.set_max_bytes(tack_store::MIN_MAX_BYTES).unwrap();
    let reader = reopen(&dir);
    assert_eq!(reader.options().max_bytes, tack_store::MIN_MAX_BYTES);
    assert!(reader.size_bytes().unwrap() <= tack_store::MIN_MAX_BYTES);
    let kept = ids(&reader.recent("home", &room("lobby"), 100_000).unwrap());
    assert_eq!(
        *kept.last().unwrap(),
        20_000,
        "everything sent was stored first"
    );
    assert!(
        writer.set_max_bytes(0).is_err(),
        "a refused cap is the caller's error"
    );
}
