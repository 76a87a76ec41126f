//! [`Store`]: one connection to the history file, with everything the app reads and writes.
//!
//! Writes go through one `Store` (the [`crate::StoreWriter`]'s, in the app): it caches the
//! row ids of servers, places and epochs it has written, which another connection's
//! `forget_everything` would make stale. Any number of other `Store`s may read at the same
//! time (WAL).

use crate::error::StoreError;
use crate::model::{
    Body, Entry, EntryKey, Hit, Payload, Place, PlaceInfo, ResumePoint, Stored, KIND_GAP,
};
use crate::query::parse_query;
use crate::{cap, gaps, schema, search};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use std::collections::HashMap;
use std::path::Path;

/// The size past which the oldest entries go, unless the app says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The smallest cap: below a megabyte the file's own indexes leave no room for history.
pub const MIN_MAX_BYTES: u64 = 1 << 20;

/// The largest cap: 1 TiB, past any disk the app would sensibly fill.
pub const MAX_MAX_BYTES: u64 = 1 << 40;

/// The `setting` row of the cap the user chose.
const CAP_SETTING: &str = "max_bytes";

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The file's size cap in bytes ([`Store::enforce_cap`]), for a file whose user has not
    /// chosen one ([`Store::set_max_bytes`] keeps a choice in the file, and it wins).
    pub max_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

pub struct Store {
    conn: Connection,
    options: StoreOptions,
    ids: RowIds,
}

/// Row ids already looked up or created, so a batch does not ask for them per entry.
#[derive(Default)]
struct RowIds {
    servers: HashMap<String, i64>,
    places: HashMap<(i64, Place), i64>,
    epochs: HashMap<(i64, String), i64>,
}

/// The columns every read of entries selects, in the order [`stored_from_row`] reads them.
const ENTRY_COLUMNS: &str = "e.rowid, s.key, p.kind, p.name, ep.name, e.id, e.kind, e.at,
    e.nick, e.text, e.data, e.until
    FROM entry e JOIN place p ON p.id = e.place JOIN server s ON s.id = p.server
    JOIN epoch ep ON ep.id = e.epoch";

impl Store {
    /// Opens (creating or migrating) the history file at `path`.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        schema::prepare(&mut conn)?;
        let mut options = options;
        if let Some(chosen) = chosen_cap(&conn)? {
            options.max_bytes = chosen;
        }
        Ok(Store {
            conn,
            options,
            ids: RowIds::default(),
        })
    }

    /// Sets the size cap, keeps it in the file (it outlives restarts and `forget_everything`),
    /// and applies it at once: a lower cap removes the oldest entries now. Returns how many
    /// went.
    pub fn set_max_bytes(&mut self, bytes: u64) -> Result<u64, StoreError> {
        if !(MIN_MAX_BYTES..=MAX_MAX_BYTES).contains(&bytes) {
            return Err(StoreError::CapOutOfRange {
                bytes,
                min: MIN_MAX_BYTES,
                max: MAX_MAX_BYTES,
            });
        }
        self.conn.execute(
            "INSERT INTO setting (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![CAP_SETTING, bytes as i64],
        )?;
        self.options.max_bytes = bytes;
        self.enforce_cap()
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Stores `entries` in one transaction; returns how many were new. An event already
    /// stored (same server, place, epoch, id) is skipped, so merging a server's replay into
    /// stored history adds only what was missing, and shrinks the gaps it falls in.
    pub fn insert(&mut self, entries: &[Entry]) -> Result<usize, StoreError> {
        let result = self.insert_in_one_transaction(entries);
        if result.is_err() {
            // Ids created by the rolled-back transaction are gone.
            self.ids = RowIds::default();
        }
        result
    }

    fn insert_in_one_transaction(&mut self, entries: &[Entry]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        let mut hours = search::HourRanges::default();
        for entry in entries {
            let server = self.ids.server(&tx, &entry.server)?;
            let place = self.ids.place(&tx, server, &entry.place)?;
            let epoch = self.ids.epoch(&tx, server, &entry.epoch)?;
            if write_entry(&tx, place, epoch, entry)? {
                added += 1;
                hours.add(entry.at, tx.last_insert_rowid());
            }
        }
        hours.save(&tx)?;
        tx.commit()?;
        Ok(added)
    }

    /// Sets the name the app shows for the server with this key.
    pub fn name_server(&mut self, key: &str, name: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO server (key, name) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET name = excluded.name",
            )?
            .execute([key, name])?;
        Ok(())
    }

    /// Remembers whether the user is in this place, so the app re-enters it after a restart.
    pub fn set_open(&mut self, server: &str, place: &Place, open: bool) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let server = self.ids.server(&tx, server)?;
        let place = self.ids.place(&tx, server, place)?;
        tx.prepare_cached("UPDATE place SET open = ?1 WHERE id = ?2")?
            .execute(params![open, place])?;
        tx.commit()?;
        Ok(())
    }

    /// The servers stored, as (key, display name).
    pub fn servers(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, name FROM server ORDER BY name, key")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The rooms and channels seen on a server, rooms first, by name.
    pub fn places(&self, server: &str) -> Result<Vec<PlaceInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.kind, p.name, p.open FROM place p JOIN server s ON s.id = p.server
             WHERE s.key = ?1 ORDER BY p.kind, p.name",
        )?;
        let rows = stmt.query_map([server], |row| {
            Ok(PlaceInfo {
                place: Place::from_code(row.get(0)?, row.get(1)?),
                open: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `limit` entries of a place, oldest first, gaps included where they fall.
    pub fn recent(
        &self,
        server: &str,
        place: &Place,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        let Some(place_id) = self.place_id(server, place)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} WHERE e.place = ?1
             ORDER BY e.epoch DESC, e.id DESC, e.kind DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![place_id, clamp(limit)], stored_from_row)?;
        let mut entries = rows.collect::<Result<Vec<_>, _>>()?;
        entries.reverse();
        Ok(entries)
    }

    /// Where to resume a place: the newest event stored, under the newest epoch that has
    /// one. `None` if nothing of it is stored.
    pub fn last_id(&self, server: &str, place: &Place) -> Result<Option<ResumePoint>, StoreError> {
        let Some(place_id) = self.place_id(server, place)? else {
            return Ok(None);
        };
        let point = self
            .conn
            .prepare_cached(
                "SELECT ep.name, e.id FROM entry e JOIN epoch ep ON ep.id = e.epoch
                 WHERE e.place = ?1 AND e.kind BETWEEN 1 AND 5
                 ORDER BY e.epoch DESC, e.id DESC LIMIT 1",
            )?
            .query_row([place_id], |row| {
                Ok(ResumePoint {
                    epoch: row.get(0)?,
                    id: row.get::<_, i64>(1)? as u64,
                })
            })
            .optional()?;
        Ok(point)
    }

    /// Runs a search typed in the search box (see [`crate::query`]): at most `limit` hits,
    /// newest first.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, StoreError> {
        let query = parse_query(query)?;
        search::run(&self.conn, &query, clamp(limit))
    }

    /// An entry with up to `before` entries before it and `after` after it in its place, in
    /// order (gaps included), to show a search hit where it was said.
    pub fn context(
        &self,
        key: EntryKey,
        before: usize,
        after: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        let position: Option<(i64, i64, i64, i64)> = self
            .conn
            .prepare_cached("SELECT place, epoch, id, kind FROM entry WHERE rowid = ?1")?
            .query_row([key.0], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        let Some((place, epoch, id, kind)) = position else {
            return Err(StoreError::NoSuchEntry(key.0));
        };
        let around = |cmp: &str, order: &str, limit: usize| -> Result<Vec<Stored>, StoreError> {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} WHERE e.place = ?1 AND (e.epoch, e.id, e.kind) {cmp} (?2, ?3, ?4)
                 ORDER BY e.epoch {order}, e.id {order}, e.kind {order} LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![place, epoch, id, kind, clamp(limit)],
                stored_from_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        };
        let mut entries = around("<", "DESC", before)?;
        entries.reverse();
        entries.extend(around(">=", "ASC", after.saturating_add(1))?);
        Ok(entries)
    }

    /// The file's size: its pages, free ones included (the write-ahead log aside).
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        Ok(cap::file_bytes(&self.conn)?)
    }

    /// Past the size cap, removes the oldest entries (by `at`) until the file is under about
    /// 90% of it; returns how many went. The writer calls this after its batches.
    pub fn enforce_cap(&mut self) -> Result<u64, StoreError> {
        cap::enforce(&mut self.conn, self.options.max_bytes)
    }

    /// Removes everything stored and gives the space back to the file system.
    pub fn forget_everything(&mut self) -> Result<(), StoreError> {
        self.ids = RowIds::default();
        // The cap is the user's choice about the file, not history: it stays.
        let chosen = chosen_cap(&self.conn)?;
        schema::drop_everything(&mut self.conn)?;
        self.conn.execute_batch("VACUUM")?;
        schema::prepare(&mut self.conn)?;
        if let Some(bytes) = chosen {
            self.set_max_bytes(bytes)?;
        }
        cap::checkpoint(&self.conn)?;
        Ok(())
    }

    fn place_id(&self, server: &str, place: &Place) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT p.id FROM place p JOIN server s ON s.id = p.server
                 WHERE s.key = ?1 AND p.kind = ?2 AND p.name = ?3",
            )?
            .query_row(params![server, place.kind_code(), place.name()], |row| {
                row.get(0)
            })
            .optional()?)
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl RowIds {
    fn server(&mut self, tx: &Transaction, key: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.servers.get(key) {
            return Ok(*id);
        }
        // Until the app names it, a server is called by its key.
        tx.prepare_cached("INSERT INTO server (key, name) VALUES (?1, ?1) ON CONFLICT DO NOTHING")?
            .execute([key])?;
        let id = tx
            .prepare_cached("SELECT id FROM server WHERE key = ?1")?
            .query_row([key], |row| row.get(0))?;
        self.servers.insert(key.to_owned(), id);
        Ok(id)
    }

    fn place(&mut self, tx: &Transaction, server: i64, place: &Place) -> rusqlite::Result<i64> {
        if let Some(id) = self.places.get(&(server, place.clone())) {
            return Ok(*id);
        }
        let kind = place.kind_code();
        tx.prepare_cached(
            "INSERT INTO place (server, kind, name) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![server, kind, place.name()])?;
        let id = tx
            .prepare_cached("SELECT id FROM place WHERE server = ?1 AND kind = ?2 AND name = ?3")?
            .query_row(params![server, kind, place.name()], |row| row.get(0))?;
        self.places.insert((server, place.clone()), id);
        Ok(id)
    }

    fn epoch(&mut self, tx: &Transaction, server: i64, name: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.epochs.get(&(server, name.to_owned())) {
            return Ok(*id);
        }
        tx.prepare_cached(
            "INSERT INTO epoch (server, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![server, name])?;
        let id = tx
            .prepare_cached("SELECT id FROM epoch WHERE server = ?1 AND name = ?2")?
            .query_row(params![server, name], |row| row.get(0))?;
        self.epochs.insert((server, name.to_owned()), id);
        Ok(id)
    }
}

/// Writes one entry; true if it added an event row (gaps and repeats: false).
fn write_entry(tx: &Transaction, place: i64, epoch: i64, entry: &Entry) -> rusqlite::Result<bool> {
    // Server ids stay below 2^53 (the protocol's bound); clamping keeps a bad one from
    // wrapping negative and sorting first.
    let id = i64::try_from(entry.id).unwrap_or(i64::MAX);
    let at = i64::try_from(entry.at).unwrap_or(i64::MAX);
    if let Body::Gap { before } = &entry.body {
        let before = before.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        gaps::record(tx, place, epoch, id, before, at)?;
        return Ok(false);
    }
    let (nick, text, data): (Option<&str>, Option<&str>, Option<&[u8]>) = match &entry.body {
        Body::Message { nick, comment } => (Some(nick), Some(comment), None),
        Body::Entered { nick } | Body::Left { nick } => (Some(nick), None, None),
        Body::NickChanged { nick, new_nick } => (Some(nick), Some(new_nick), None),
        Body::Item {
            payload: Payload::Text(text),
        } => (None, Some(text), None),
        Body::Item {
            payload: Payload::Binary(data),
        } => (None, None, Some(data)),
        Body::Renumbered => (None, None, None),
        Body::Gap { .. } => unreachable!("handled above"),
    };
    let id = if matches!(entry.body, Body::Renumbered) {
        0
    } else {
        id
    };
    let added =
        tx.prepare_cached(
            "INSERT OR IGNORE INTO entry (place, epoch, id, kind, at, nick, text, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            place,
            epoch,
            id,
            entry.body.kind_code(),
            at,
            nick,
            text,
            data
        ])? == 1;
    if added && entry.body.is_event() {
        gaps::event_arrived(tx, place, epoch, id)?;
    }
    Ok(added)
}

/// Reads a row selected with [`ENTRY_COLUMNS`].
pub(crate) fn stored_from_row(row: &Row) -> rusqlite::Result<Stored> {
    let nick =
        || -> rusqlite::Result<String> { Ok(row.get::<_, Option<String>>(8)?.unwrap_or_default()) };
    let text =
        || -> rusqlite::Result<String> { Ok(row.get::<_, Option<String>>(9)?.unwrap_or_default()) };
    let kind: i64 = row.get(6)?;
    let body = match kind {
        1 => Body::Message {
            nick: nick()?,
            comment: text()?,
        },
        2 => Body::Entered { nick: nick()? },
        3 => Body::Left { nick: nick()? },
        4 => Body::NickChanged {
            nick: nick()?,
            new_nick: text()?,
        },
        5 => Body::Item {
            payload: match row.get::<_, Value>(10)? {
                Value::Blob(data) => Payload::Binary(data),
                _ => Payload::Text(text()?),
            },
        },
        KIND_GAP => Body::Gap {
            before: row.get::<_, Option<i64>>(11)?.map(|b| b as u64),
        },
        _ => Body::Renumbered,
    };
    Ok(Stored {
        key: EntryKey(row.get(0)?),
        entry: Entry {
            server: row.get(1)?,
            place: Place::from_code(row.get(2)?, row.get(3)?),
            epoch: row.get(4)?,
            id: row.get::<_, i64>(5)? as u64,
            at: row.get::<_, i64>(7)? as u64,
            body,
        },
    })
}

/// Limits as SQLite wants them, and no read asks for more than this many rows at once.
pub(crate) fn clamp(limit: usize) -> i64 {
    limit.min(10_000) as i64
}

/// The cap the user chose for this file, if any.
fn chosen_cap(conn: &Connection) -> Result<Option<u64>, StoreError> {
    let value: Option<i64> = conn
        .query_row(
            "SELECT value FROM setting WHERE key = ?1",
            params![CAP_SETTING],
            |row| row.get(0),
        )
        .optional()?;
    Ok(value.and_then(|v| u64::try_from(v).ok()))
}
