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
        conn.pragma_update(None, "incremental_vacuum", 0)?;
        checkpoint(conn)?;
    }
    Ok(evicted)
}

/// Copies the write-ahead log into the file and truncates it, so space freed is given back.
pub(crate) fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}
