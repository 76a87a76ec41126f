//! Gaps: stretches of a place's ids the app never received, kept so a reopened room shows
//! them instead of papering over them, and shrunk as the missing events turn up.
//!
//! A gap row is keyed by the last id before it (`entry.id`) and knows the first id after it
//! (`until`), or not yet (`NULL`: until the next event stored, which sets it). Ids are
//! consecutive, so a gap `(a, b)` is empty, and removed, once `b == a + 1`. An event that lands
//! inside a gap splits it in two around itself; a fill of the whole stretch removes it.

use crate::model::KIND_GAP;
use rusqlite::{params, OptionalExtension, Transaction};

/// Records that ids after `after` (and before `before`, if known) were not received. Events
/// already stored inside the stretch are carved out of it, so the gap only ever covers what
/// is really missing.
pub(crate) fn record(
    tx: &Transaction,
    place: i64,
    epoch: i64,
    after: i64,
    before: Option<i64>,
    at: i64,
) -> rusqlite::Result<()> {
    let before = match before {
        Some(before) => Some(before),
        // "Until the next one delivered": if it is stored already, that is where it ends.
        None => tx
            .prepare_cached(
                "SELECT min(id) FROM entry
                 WHERE place = ?1 AND epoch = ?2 AND id > ?3 AND kind BETWEEN 1 AND 5",
            )?
            .query_row(params![place, epoch, after], |row| row.get(0))?,
    };
    let Some(before) = before else {
        return put(tx, place, epoch, after, None, at);
    };
    let stored: Vec<i64> = tx
        .prepare_cached(
            "SELECT id FROM entry
             WHERE place = ?1 AND epoch = ?2 AND id > ?3 AND id < ?4 AND kind BETWEEN 1 AND 5
             ORDER BY id",
        )?
        .query_map(params![place, epoch, after, before], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut from = after;
    for id in stored.into_iter().chain([before]) {
        put(tx, place, epoch, from, Some(id), at)?;
        from = id;
    }
    Ok(())
}

/// An event `id` was just stored: the gap it falls in (if any) shrinks around it.
pub(crate) fn event_arrived(
    tx: &Transaction,
    place: i64,
    epoch: i64,
    id: i64,
) -> rusqlite::Result<()> {
    // `kind = 6` lets SQLite use `entry_gaps`, the index of gaps only.
    let found: Option<(i64, i64, Option<i64>, i64)> = tx
        .prepare_cached(
            "SELECT rowid, id, until, at FROM entry
             WHERE kind = 6 AND place = ?1 AND epoch = ?2 AND id < ?3
               AND (until IS NULL OR until > ?3)
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![place, epoch, id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let Some((rowid, after, until, at)) = found else {
        return Ok(());
    };
    tx.prepare_cached("DELETE FROM entry WHERE rowid = ?1")?
        .execute([rowid])?;
    put(tx, place, epoch, after, Some(id), at)?;
    // An open gap ended at the first event after it: nothing is known missing beyond.
    if let Some(until) = until {
        put(tx, place, epoch, id, Some(until), at)?;
    }
    Ok(())
}

/// Stores the gap `(after, before)` unless it is empty. The same gap recorded twice (two
/// reconnects reporting the same place) is kept once, with the end that is known.
fn put(
    tx: &Transaction,
    place: i64,
    epoch: i64,
    after: i64,
    before: Option<i64>,
    at: i64,
) -> rusqlite::Result<()> {
    if before.is_some_and(|before| before <= after + 1) {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO entry (place, epoch, id, kind, at, until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (place, epoch, id, kind) DO UPDATE SET until = coalesce(until, excluded.until)",
    )?
    .execute(params![place, epoch, after, KIND_GAP, at, before])?;
    Ok(())
}
