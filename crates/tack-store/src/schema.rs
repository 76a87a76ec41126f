//! The database's shape and how an older file is brought up to it.
//!
//! `PRAGMA user_version` says how many of [`STEPS`] a file has had; opening runs the rest, each
//! in its own transaction. An empty file has had none, so a new store and an old one take the
//! same path, and the path is exercised from the first release. Steps are never edited once
//! released: a change is a new step.

use crate::error::StoreError;
use rusqlite::Connection;

/// Step 1: servers, their numbering epochs, places and entries.
///
/// - `epoch.id` grows in the order epochs were first seen, which is the order of a server's
///   restarts; entries of a place sort by (epoch, id, kind).
/// - `entry_position` is what makes a replay a no-op: the same event (place, epoch, id, kind)
///   is stored once. A gap is keyed by the id it follows.
/// - `entry_gaps` holds only gaps (a handful), so looking for the gap an event falls in costs
///   nothing on each insert.
/// - `entry_age` orders the oldest first for eviction and serves date-only searches.
const STEP_1_TABLES: &str = "
CREATE TABLE server (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE epoch (
    id INTEGER PRIMARY KEY,
    server INTEGER NOT NULL REFERENCES server(id),
    name TEXT NOT NULL,
    UNIQUE (server, name)
);
CREATE TABLE place (
    id INTEGER PRIMARY KEY,
    server INTEGER NOT NULL REFERENCES server(id),
    kind INTEGER NOT NULL, -- 0 room, 1 channel
    name TEXT NOT NULL,
    open INTEGER NOT NULL DEFAULT 0,
    UNIQUE (server, kind, name)
);
CREATE TABLE entry (
    rowid INTEGER PRIMARY KEY,
    place INTEGER NOT NULL REFERENCES place(id),
    epoch INTEGER NOT NULL REFERENCES epoch(id),
    id INTEGER NOT NULL,
    kind INTEGER NOT NULL, -- 0 renumbered, 1 message, 2 entered, 3 left, 4 nick, 5 item, 6 gap
    at INTEGER NOT NULL,
    nick TEXT,
    text TEXT,   -- a message's comment, a text item, a nick change's new nick
    data BLOB,   -- a binary item
    until INTEGER -- a gap's first id known to be received again; NULL: the next one stored
);
CREATE UNIQUE INDEX entry_position ON entry (place, epoch, id, kind);
CREATE INDEX entry_gaps ON entry (place, epoch, id) WHERE kind = 6;
CREATE INDEX entry_age ON entry (at);
";

/// Step 2: what search needs: the full-text index over text and nick, and `entry_hour`.
///
/// `entry_hour` keeps, per hour of `at`, the lowest and highest rowid stored in it: a time
/// filter becomes a rowid range, which FTS5 walks directly. Without it, a common word with an
/// old date range walked the word's whole recent history first (255 ms on a million entries).
/// Evicted rows leave the range wider than needed, never narrower.
///
/// External content (the index reads text from `entry`, so it is stored once) rather than
/// contentless: a contentless table cannot give `snippet()`, and a copy would double the text.
/// `columnsize=0`: results are ordered by rowid, never ranked, so per-row sizes would be dead
/// weight. Only rows with text are indexed; the triggers and the backfill agree on that.
/// Entries are never updated, so there is no update trigger.
const STEP_2_SEARCH: &str = "
CREATE VIRTUAL TABLE entry_text USING fts5 (
    text, nick,
    content = 'entry', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    columnsize = 0
);
CREATE TRIGGER entry_text_insert AFTER INSERT ON entry WHEN new.text IS NOT NULL BEGIN
    INSERT INTO entry_text (rowid, text, nick) VALUES (new.rowid, new.text, new.nick);
END;
CREATE TRIGGER entry_text_delete AFTER DELETE ON entry WHEN old.text IS NOT NULL BEGIN
    INSERT INTO entry_text (entry_text, rowid, text, nick)
        VALUES ('delete', old.rowid, old.text, old.nick);
END;
INSERT INTO entry_text (rowid, text, nick) SELECT rowid, text, nick FROM entry WHERE text IS NOT NULL;
CREATE TABLE entry_hour (
    hour INTEGER PRIMARY KEY, -- at / 3600000
    first INTEGER NOT NULL,
    last INTEGER NOT NULL
);
INSERT INTO entry_hour SELECT at / 3600000, min(rowid), max(rowid) FROM entry GROUP BY 1;
";

/// Step 3: the store's own settings (the size cap the user chose), kept in the file they are
/// about. `forget_everything` keeps them.
const STEP_3_SETTINGS: &str = "
CREATE TABLE setting (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

const STEPS: &[&str] = &[STEP_1_TABLES, STEP_2_SEARCH, STEP_3_SETTINGS];

/// The schema version this code writes.
pub const VERSION: i64 = STEPS.len() as i64;

/// Sets the connection up and brings the file to [`VERSION`].
/// The store runs on the system's SQLite, which a distribution may build without FTS5: say so
/// plainly rather than fail later with "no such module: fts5".
fn require_fts5(conn: &Connection) -> Result<(), StoreError> {
    let has_fts5: bool = conn.query_row(
        "SELECT sqlite_compileoption_used('ENABLE_FTS5')",
        [],
        |row| row.get(0),
    )?;
    if has_fts5 {
        return Ok(());
    }
    Err(StoreError::NoFullTextSearch {
        version: rusqlite::version().to_owned(),
    })
}

pub fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
    // The writer and a reader may briefly contend (opening, checkpoints, eviction).
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    require_fts5(conn)?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            found,
            known: VERSION,
        });
    }
    if found == 0 {
        // Lets eviction hand freed pages back to the file system (`incremental_vacuum`)
        // instead of keeping the file at its largest. Only takes effect on a file with no
        // page written yet, so before WAL mode (which writes the header).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    // Readers never wait for the writer, and a crash mid-batch loses at most that batch.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // With WAL, NORMAL syncs at checkpoints only: a power cut may lose the last batches but
    // never corrupts the file. This is history, not a ledger.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Up to 32 MiB of pages per connection (grown as used, not reserved). On the million-entry
    // bench the default 2 MiB gave 19,500 inserts/s and p99 search 37 ms; this gives 28,000/s
    // and 17 ms: the indexes of 50 rooms interleaved no longer fall out of the cache.
    conn.pragma_update(None, "cache_size", -32 * 1024)?;
    for (done, step) in STEPS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", done as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Drops every table (their triggers and indexes go with them) and marks the file empty, so
/// [`prepare`] builds it anew. Far faster than deleting the rows, which would run the
/// search index's trigger once per row.
pub fn drop_everything(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS entry_text;
         DROP TABLE IF EXISTS entry_hour;
         DROP TABLE IF EXISTS entry;
         DROP TABLE IF EXISTS place;
         DROP TABLE IF EXISTS epoch;
         DROP TABLE IF EXISTS server;
         DROP TABLE IF EXISTS setting;",
    )?;
    tx.pragma_update(None, "user_version", 0)?;
    tx.commit()?;
    Ok(())
}
