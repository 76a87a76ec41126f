//! Entries and stores for the stories.
#![allow(dead_code)]

use tack_store::{Body, Entry, Payload, Place, Store, StoreOptions, Stored};
use tempfile::TempDir;

pub fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&dir);
    (dir, store)
}

pub fn reopen(dir: &TempDir) -> Store {
    Store::open(dir.path().join("history.sqlite3"), StoreOptions::default()).unwrap()
}

pub fn room(name: &str) -> Place {
    Place::Room(name.into())
}

pub fn entry(server: &str, place: Place, id: u64, body: Body) -> Entry {
    Entry {
        server: server.into(),
        place,
        epoch: "e1".into(),
        id,
        at: 1_700_000_000_000 + id,
        body,
    }
}

pub fn at(mut entry: Entry, at: u64) -> Entry {
    entry.at = 1_700_000_000_000 + at;
    entry
}

pub fn msg(server: &str, room_name: &str, id: u64, nick: &str, comment: &str) -> Entry {
    entry(
        server,
        room(room_name),
        id,
        Body::Message {
            nick: nick.into(),
            comment: comment.into(),
        },
    )
}

pub fn item(server: &str, channel: &str, id: u64, text: &str) -> Entry {
    entry(
        server,
        Place::Channel(channel.into()),
        id,
        Body::Item {
            payload: Payload::Text(text.into()),
        },
    )
}

pub fn binary_item(server: &str, channel: &str, id: u64, data: Vec<u8>) -> Entry {
    entry(
        server,
        Place::Channel(channel.into()),
        id,
        Body::Item {
            payload: Payload::Binary(data),
        },
    )
}

pub fn gap(server: &str, room_name: &str, after: u64, before: Option<u64>) -> Entry {
    entry(server, room(room_name), after, Body::Gap { before })
}

pub fn ids(entries: &[Stored]) -> Vec<u64> {
    entries
        .iter()
        .filter(|s| !matches!(s.entry.body, Body::Gap { .. }))
        .map(|s| s.entry.id)
        .collect()
}

/// The gaps of a room on server "home", as (after, before); an open one ends at `u64::MAX`.
pub fn gaps_of(store: &Store, room_name: &str) -> Vec<(u64, u64)> {
    store
        .recent("home", &room(room_name), 10_000)
        .unwrap()
        .into_iter()
        .filter_map(|s| match s.entry.body {
            Body::Gap { before } => Some((s.entry.id, before.unwrap_or(u64::MAX))),
            _ => None,
        })
        .collect()
}
