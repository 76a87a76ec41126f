//! The size cap: past it, the oldest entries go until the file is back under about 90%.
//!
//! Deleting rows does not make the search index smaller at once: FTS5 records a deletion as
//! a tombstone and drops the text only when its segments are merged, which for the largest
//! segment may be never. Measuring after each deleted chunk would therefore keep finding the
//! file too big and evict far too much. Instead the number of entries to remove is estimated
//! from the share of the file to free (sizes are close to proportional to entries), they are
//! removed, the index is merged into one segment (`optimize`: the time this takes is paid
//! once per eviction, which happens every ~10% of the cap), the freed pages go back to the
//! file system, and only then is the size measured again.

use crate::error::StoreError;
use rusqlite::Connection;

/// Share of the cap to come down to, in percent, so an eviction is not due again at once.
const TARGET_PERCENT: u64 = 90;
/// Entries deleted per transaction: keeps the write-ahead log small and lets readers in.
const CHUNK: i64 = 20_000;
/// Estimate-evict-measure rounds before giving up for this batch (the estimate is close;
/// this only bounds the work if it is not).
const MAX_ROUNDS: usize = 4;

/// The file's pages, free ones included.
pub(crate) fn file_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages = pragma_number(conn, "page_count")?;
    Ok(pages * page_size(conn)?)
}

/// Pages holding data: what the cap is about (free pages are reused before the file grows).
fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages = pragma_number(conn, "page_count")?;
    let free = pragma_number(conn, "freelist_count")?;
    Ok(pages.saturating_sub(free) * page_size(conn)?)
}

fn page_size(conn: &Connection) -> rusqlite::Result<u64> {
    pragma_number(conn, "page_size")
}

fn pragma_number(conn: &Connection, name: &str) -> rusqlite::Result<u64> {
    let value: i64 = conn.pragma_query_value(None, name, |row| row.get(0))?;
    Ok(value.max(0) as u64)
}

/// Evicts the oldest entries if the file is past `max_bytes`; returns how many went.
pub(crate) fn enforce(conn: &mut Connection, max_bytes: u64) -> Result<u64, StoreError> {
    if used_bytes(conn)? <= max_bytes {
        return Ok(0);
    }
    let target = max_bytes / 100 * TARGET_PERCENT;
    let mut evicted = 0;
    for _ in 0..MAX_ROUNDS {
        let used = used_bytes(conn)?;
        if used <= target {
            break;
        }
        let entries: i64 = conn.query_row("SELECT count(*) FROM entry", [], |row| row.get(0))?;
        if entries == 0 {
            break;
        }
        let share = (used - target) as f64 / used as f64;
        let mut to_remove = ((entries as f64 * share).ceil() as i64).clamp(1, entries);
        while to_remove > 0 {
            let tx = conn.transaction()?;
            let removed = tx.execute(
                "DELETE FROM entry WHERE rowid IN
                     (SELECT rowid FROM entry ORDER BY at, rowid LIMIT ?1)",
                [to_remove.min(CHUNK)],
            )?;
            tx.commit()?;
            if removed == 0 {
                break;
            }
            to_remove -= removed as i64;
            evicted += removed as u64;
        }
        conn.execute_batch("INSERT INTO entry_text (entry_text) VALUES ('optimize');")?;
        give_back_free_pages(conn)?;
        checkpoint(conn)?;
    }
    Ok(evicted)
}

/// Truncates the file by its free pages. The pragma frees one page per step, so it is
/// stepped to the end (`execute` would stop after the first).
fn give_back_free_pages(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Copies the write-ahead log into the file and truncates it, so space freed is given back.
pub(crate) fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use crate::model::{Body, Entry, Place};
    use crate::store::{Store, StoreOptions};

    fn line(id: u64) -> Entry {
        Entry {
            server: "home".into(),
            place: Place::Room("lobby".into()),
            epoch: "e1".into(),
            id,
            at: id,
            body: Body::Message {
                nick: "ana".into(),
                comment: format!("tick{id} some filler words to take room"),
            },
        }
    }

    #[test]
    fn eviction_leaves_the_search_index_matching_the_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 512 * 1024;
        let options = StoreOptions { max_bytes: cap };
        let mut store = Store::open(dir.path().join("h.sqlite3"), options).unwrap();
        let mut evicted = 0;
        for chunk in 0..12u64 {
            let batch: Vec<Entry> = (chunk * 500 + 1..=chunk * 500 + 500).map(line).collect();
            store.insert(&batch).unwrap();
            let now = store.enforce_cap().unwrap();
            evicted += now;
            let conn = store.connection();
            assert!(super::used_bytes(conn).unwrap() <= cap);
            if now > 0 {
                // The freed pages went back to the file system.
                assert_eq!(
                    super::file_bytes(conn).unwrap(),
                    super::used_bytes(conn).unwrap()
                );
            }
        }
        assert!(evicted > 0);
        // FTS5 compares every indexed term with the content table's rows (rank 1).
        store
            .connection()
            .execute(
                "INSERT INTO entry_text (entry_text, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .unwrap();
        let quick: String = store
            .connection()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(quick, "ok");
    }
}
