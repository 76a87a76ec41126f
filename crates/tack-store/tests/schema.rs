//! The file itself: a new one gets the whole schema, an older one is brought up to date with
//! its history intact, and the SQLite built in has what the store needs.

mod common;

use common::*;
use rusqlite::Connection;
use tack_store::{Store, StoreOptions};

#[test]
fn the_system_sqlite_has_fts5_with_the_unicode_tokenizer() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2');
         INSERT INTO t VALUES ('Crème brûlée');",
    )
    .unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t WHERE t MATCH 'creme'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_new_file_gets_the_whole_schema_in_wal_mode() {
    let (dir, _store) = new_store();
    let conn = Connection::open(dir.path().join("history.sqlite3")).unwrap();
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .unwrap()
    };
    assert_eq!(pragma("user_version"), "Integer(3)");
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("auto_vacuum"), "Integer(2)", "incremental");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'entry_text_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        vec![
            "entry",
            "entry_hour",
            "entry_text",
            "epoch",
            "place",
            "server",
            "setting"
        ]
    );
}

/// A file written by the first schema (tables, no search index), made by hand as that
/// version wrote it.
fn version_1_file(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE server (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
         CREATE TABLE epoch (id INTEGER PRIMARY KEY, server INTEGER NOT NULL REFERENCES server(id),
             name TEXT NOT NULL, UNIQUE (server, name));
         CREATE TABLE place (id INTEGER PRIMARY KEY, server INTEGER NOT NULL REFERENCES server(id),
             kind INTEGER NOT NULL, name TEXT NOT NULL, open INTEGER NOT NULL DEFAULT 0,
             UNIQUE (server, kind, name));
         CREATE TABLE entry (rowid INTEGER PRIMARY KEY, place INTEGER NOT NULL REFERENCES place(id),
             epoch INTEGER NOT NULL REFERENCES epoch(id), id INTEGER NOT NULL, kind INTEGER NOT NULL,
             at INTEGER NOT NULL, nick TEXT, text TEXT, data BLOB, until INTEGER);
         CREATE UNIQUE INDEX entry_position ON entry (place, epoch, id, kind);
         CREATE INDEX entry_gaps ON entry (place, epoch, id) WHERE kind = 6;
         CREATE INDEX entry_age ON entry (at);
         INSERT INTO server VALUES (1, 'home', 'Home');
         INSERT INTO epoch VALUES (1, 1, 'e1');
         INSERT INTO place VALUES (1, 1, 0, 'lobby', 1);
         INSERT INTO entry (place, epoch, id, kind, at, nick, text) VALUES
             (1, 1, 1, 1, 1000, 'ana', 'kept from the old version'),
             (1, 1, 2, 2, 1001, 'bo', NULL);
         INSERT INTO entry (place, epoch, id, kind, at, until) VALUES (1, 1, 2, 6, 1002, 9);
         PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn a_file_from_before_search_is_migrated_and_its_history_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    version_1_file(&path);

    let mut store = Store::open(&path, StoreOptions::default()).unwrap();
    let hits = store.search("old version", 10).unwrap();
    assert_eq!(hits.len(), 1, "the migration indexed what was stored");
    assert_eq!(hits[0].server_name, "Home");
    assert_eq!(store.recent("home", &room("lobby"), 10).unwrap().len(), 3);
    assert!(store.places("home").unwrap()[0].open);

    // It goes on as a current file: new entries are indexed, the old gap shrinks.
    store
        .insert(&[msg("home", "lobby", 3, "ana", "new version")])
        .unwrap();
    assert_eq!(store.search("version", 10).unwrap().len(), 2);
    assert_eq!(gaps_of(&store, "lobby"), vec![(3, 9)]);
    drop(store);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
}
