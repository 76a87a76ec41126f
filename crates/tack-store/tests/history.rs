//! Stories of the history a user keeps: what arrives is kept once, gaps stay visible until
//! filled, reopening shows everything, and the file stays under its cap.

mod common;

use common::*;
use tack_store::{Body, Place, PlaceInfo, ResumePoint, Store, StoreError, StoreOptions};

#[test]
fn a_replay_after_reconnect_adds_only_what_was_missing() {
    let (_dir, mut store) = new_store();
    let first: Vec<_> = (1..=5)
        .map(|id| msg("home", "lobby", id, "ana", "hello"))
        .collect();
    assert_eq!(store.insert(&first).unwrap(), 5);
    // The server replays from an older `since` than needed: 3..=8.
    let replay: Vec<_> = (3..=8)
        .map(|id| msg("home", "lobby", id, "ana", "hello"))
        .collect();
    assert_eq!(store.insert(&replay).unwrap(), 3);
    assert_eq!(
        ids(&store.recent("home", &room("lobby"), 100).unwrap()),
        vec![1, 2, 3, 4, 5, 6, 7, 8]
    );
    assert_eq!(
        store.search("hello", 100).unwrap().len(),
        8,
        "the index holds each once too"
    );
}

#[test]
fn a_room_and_a_channel_of_the_same_name_are_kept_apart() {
    let (_dir, mut store) = new_store();
    store
        .insert(&[msg("home", "feed", 1, "ana", "chat line")])
        .unwrap();
    store
        .insert(&[item("home", "feed", 1, "{\"price\":3}")])
        .unwrap();
    assert_eq!(store.recent("home", &room("feed"), 10).unwrap().len(), 1);
    assert_eq!(
        store
            .recent("home", &Place::Channel("feed".into()), 10)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn recent_gives_the_newest_entries_oldest_first() {
    let (_dir, mut store) = new_store();
    let entries: Vec<_> = (1..=50)
        .map(|id| msg("home", "lobby", id, "ana", "line"))
        .collect();
    store.insert(&entries).unwrap();
    assert_eq!(
        ids(&store.recent("home", &room("lobby"), 3).unwrap()),
        vec![48, 49, 50]
    );
    assert!(store
        .recent("home", &room("nowhere"), 3)
        .unwrap()
        .is_empty());
    assert!(store
        .recent("elsewhere", &room("lobby"), 3)
        .unwrap()
        .is_empty());
}

#[test]
fn every_kind_of_entry_reads_back_as_written() {
    let (_dir, mut store) = new_store();
    let written = vec![
        msg("home", "lobby", 1, "ana", "hi"),
        at(
            entry(
                "home",
                room("lobby"),
                2,
                Body::Entered { nick: "bo".into() },
            ),
            2,
        ),
        at(
            entry(
                "home",
                room("lobby"),
                3,
                Body::NickChanged {
                    nick: "bo".into(),
                    new_nick: "bob".into(),
                },
            ),
            3,
        ),
        at(
            entry("home", room("lobby"), 4, Body::Left { nick: "bob".into() }),
            4,
        ),
    ];
    store.insert(&written).unwrap();
    let read: Vec<_> = store
        .recent("home", &room("lobby"), 10)
        .unwrap()
        .into_iter()
        .map(|s| s.entry)
        .collect();
    assert_eq!(read, written);
    let binary = binary_item("home", "ticks", 1, vec![0, 159, 146, 150]);
    store.insert(std::slice::from_ref(&binary)).unwrap();
    assert_eq!(
        store
            .recent("home", &Place::Channel("ticks".into()), 1)
            .unwrap()[0]
            .entry,
        binary
    );
}

#[test]
fn a_gap_stays_visible_after_reopening() {
    let (dir, mut store) = new_store();
    store
        .insert(&[msg("home", "lobby", 1, "ana", "before")])
        .unwrap();
    store.insert(&[gap("home", "lobby", 1, None)]).unwrap();
    store
        .insert(&[msg("home", "lobby", 7, "ana", "after")])
        .unwrap();
    drop(store);

    let store = reopen(&dir);
    let recent = store.recent("home", &room("lobby"), 10).unwrap();
    let shown: Vec<_> = recent
        .iter()
        .map(|s| (s.entry.id, s.entry.body.clone()))
        .collect();
    assert_eq!(shown[0].0, 1);
    assert_eq!(
        shown[1],
        (1, Body::Gap { before: Some(7) }),
        "the next event closed the open gap"
    );
    assert_eq!(shown[2].0, 7);
}

#[test]
fn events_arriving_inside_a_gap_shrink_it_and_a_full_fill_removes_it() {
    let (_dir, mut store) = new_store();
    store
        .insert(&[
            msg("home", "lobby", 10, "ana", "a"),
            gap("home", "lobby", 10, Some(20)),
            msg("home", "lobby", 20, "ana", "b"),
        ])
        .unwrap();
    assert_eq!(gaps_of(&store, "lobby"), vec![(10, 20)]);

    // Part of the history turns up (another replay, reaching back further).
    store
        .insert(&[
            msg("home", "lobby", 11, "ana", "x"),
            msg("home", "lobby", 15, "ana", "x"),
        ])
        .unwrap();
    assert_eq!(gaps_of(&store, "lobby"), vec![(11, 15), (15, 20)]);

    store
        .insert(
            &(12..=19)
                .map(|id| msg("home", "lobby", id, "ana", "x"))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(gaps_of(&store, "lobby"), vec![]);
    assert_eq!(
        ids(&store.recent("home", &room("lobby"), 100).unwrap()),
        (10..=20).collect::<Vec<_>>()
    );
}

#[test]
fn a_gap_reported_over_events_already_stored_covers_only_what_is_missing() {
    let (_dir, mut store) = new_store();
    store
        .insert(&[
            msg("home", "lobby", 5, "ana", "a"),
            msg("home", "lobby", 6, "ana", "b"),
            msg("home", "lobby", 9, "ana", "c"),
        ])
        .unwrap();
    store.insert(&[gap("home", "lobby", 4, Some(12))]).unwrap();
    assert_eq!(gaps_of(&store, "lobby"), vec![(6, 9), (9, 12)]);
    // Reported again by the next reconnect: kept once.
    store.insert(&[gap("home", "lobby", 4, Some(12))]).unwrap();
    assert_eq!(gaps_of(&store, "lobby"), vec![(6, 9), (9, 12)]);
}

#[test]
fn an_open_gap_closed_at_once_by_the_next_id_was_no_gap() {
    let (_dir, mut store) = new_store();
    store
        .insert(&[
            msg("home", "lobby", 3, "ana", "a"),
            gap("home", "lobby", 3, None),
        ])
        .unwrap();
    assert_eq!(
        gaps_of(&store, "lobby"),
        vec![(3, u64::MAX)],
        "open until something arrives"
    );
    store
        .insert(&[msg("home", "lobby", 4, "ana", "b")])
        .unwrap();
    assert_eq!(gaps_of(&store, "lobby"), vec![]);
}

#[test]
fn a_server_restart_is_marked_and_resumes_from_the_new_numbering() {
    let (_dir, mut store) = new_store();
    store
        .insert(&[msg("home", "lobby", 41, "ana", "old")])
        .unwrap();
    assert_eq!(
        store.last_id("home", &room("lobby")).unwrap(),
        Some(ResumePoint {
            epoch: "e1".into(),
            id: 41
        })
    );

    let mut restart = entry("home", room("lobby"), 0, Body::Renumbered);
    restart.epoch = "e2".into();
    let mut first = msg("home", "lobby", 1, "ana", "new");
    first.epoch = "e2".into();
    store.insert(&[restart, first]).unwrap();

    let recent = store.recent("home", &room("lobby"), 10).unwrap();
    let shown: Vec<_> = recent
        .iter()
        .map(|s| {
            (
                s.entry.epoch.as_str(),
                s.entry.id,
                s.entry.body == Body::Renumbered,
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![("e1", 41, false), ("e2", 0, true), ("e2", 1, false)]
    );
    assert_eq!(
        store.last_id("home", &room("lobby")).unwrap(),
        Some(ResumePoint {
            epoch: "e2".into(),
            id: 1
        })
    );
    // A fill of the old numbering arriving late stays in its own epoch.
    store
        .insert(&[msg("home", "lobby", 40, "ana", "older")])
        .unwrap();
    assert_eq!(
        ids(&store.recent("home", &room("lobby"), 10).unwrap()),
        vec![40, 41, 0, 1]
    );
}

#[test]
fn gaps_are_not_resume_points() {
    let (_dir, mut store) = new_store();
    store
        .insert(&[
            msg("home", "lobby", 3, "ana", "a"),
            gap("home", "lobby", 3, None),
        ])
        .unwrap();
    assert_eq!(
        store.last_id("home", &room("lobby")).unwrap().unwrap().id,
        3
    );
    assert_eq!(store.last_id("home", &room("empty")).unwrap(), None);
}

#[test]
fn the_places_open_at_close_are_the_ones_reentered() {
    let (dir, mut store) = new_store();
    store
        .insert(&[
            msg("home", "lobby", 1, "ana", "a"),
            msg("home", "attic", 1, "ana", "a"),
        ])
        .unwrap();
    store.set_open("home", &room("lobby"), true).unwrap();
    store
        .set_open("home", &Place::Channel("ticks".into()), true)
        .unwrap();
    store.set_open("home", &room("attic"), true).unwrap();
    store.set_open("home", &room("attic"), false).unwrap();
    drop(store);

    let store = reopen(&dir);
    assert_eq!(
        store.places("home").unwrap(),
        vec![
            PlaceInfo {
                place: room("attic"),
                open: false
            },
            PlaceInfo {
                place: room("lobby"),
                open: true
            },
            PlaceInfo {
                place: Place::Channel("ticks".into()),
                open: true
            },
        ]
    );
    assert!(store.places("other").unwrap().is_empty());
}

#[test]
fn forget_everything_leaves_an_empty_store_that_still_works() {
    let (_dir, mut store) = new_store();
    let entries: Vec<_> = (1..=2000)
        .map(|id| msg("home", "lobby", id, "ana", "something to forget"))
        .collect();
    store.insert(&entries).unwrap();
    let full = store.size_bytes().unwrap();
    store.forget_everything().unwrap();
    assert!(
        store.size_bytes().unwrap() < full,
        "VACUUM gave the space back"
    );
    assert!(store.recent("home", &room("lobby"), 10).unwrap().is_empty());
    assert!(store.places("home").unwrap().is_empty());
    assert!(store.servers().unwrap().is_empty());
    assert!(store.search("forget", 10).unwrap().is_empty());

    store
        .insert(&[msg("home", "lobby", 1, "ana", "fresh start")])
        .unwrap();
    assert_eq!(store.search("fresh", 10).unwrap().len(), 1);
}

#[test]
fn past_the_cap_the_oldest_entries_go_first_and_search_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 512 * 1024;
    let mut store = Store::open(
        dir.path().join("h.sqlite3"),
        StoreOptions { max_bytes: cap },
    )
    .unwrap();
    let total = 6_000u64;
    for chunk in (1..=total).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|&id| {
                let mut e = msg(
                    "home",
                    "lobby",
                    id,
                    "ana",
                    &format!("tick{id} some filler words to take room"),
                );
                e.at = 1_000 + id;
                e
            })
            .collect();
        store.insert(&batch).unwrap();
        store.enforce_cap().unwrap();
    }
    assert!(
        store.size_bytes().unwrap() <= cap,
        "{} > {cap}",
        store.size_bytes().unwrap()
    );

    let kept = ids(&store.recent("home", &room("lobby"), 100_000).unwrap());
    assert!(kept.len() < total as usize && !kept.is_empty());
    let oldest_kept = kept[0];
    assert_eq!(
        kept,
        (oldest_kept..=total).collect::<Vec<_>>(),
        "a contiguous newest stretch is left"
    );
    assert!(store
        .search(&format!("tick{}", oldest_kept - 1), 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .search(&format!("tick{oldest_kept}"), 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.search("filler", 100_000).unwrap().len(), kept.len());
}

#[test]
fn a_newer_file_is_refused_rather_than_misread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match Store::open(&path, StoreOptions::default()) {
        Err(StoreError::TooNew { found: 99, known }) => assert!(known < 99),
        other => panic!("expected TooNew, got {:?}", other.map(|_| ())),
    }
}

/// Fills `store`'s lobby with `total` lines of ~100 bytes, in order.
fn fill(store: &mut Store, total: u64) {
    for chunk in (1..=total).collect::<Vec<_>>().chunks(1_000) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|&id| {
                let mut e = msg(
                    "home",
                    "lobby",
                    id,
                    "ana",
                    &format!("line{id} with enough words in it to take some room on disk"),
                );
                e.at = 1_000 + id;
                e
            })
            .collect();
        store.insert(&batch).unwrap();
    }
}

#[test]
fn a_cap_the_user_lowers_applies_at_once_and_outlives_a_restart_and_forgetting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    let mut store = Store::open(&path, StoreOptions::default()).unwrap();
    fill(&mut store, 30_000);
    let before = store.size_bytes().unwrap();
    let cap = tack_store::MIN_MAX_BYTES;
    assert!(before > cap, "the test needs a file past the cap: {before}");

    // The user picks the smallest cap: the oldest go now, not at the next batch.
    let removed = store.set_max_bytes(cap).unwrap();
    assert!(removed > 0);
    assert!(store.size_bytes().unwrap() <= cap);
    let kept = ids(&store.recent("home", &room("lobby"), 100_000).unwrap());
    assert_eq!(*kept.last().unwrap(), 30_000, "the newest stay");
    drop(store);

    // The choice is the file's: reopened with the app's default, the cap is still the user's.
    let mut store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.options().max_bytes, cap);

    // Forgetting everything forgets the history, not the choice.
    store.forget_everything().unwrap();
    drop(store);
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.options().max_bytes, cap);
    assert!(store.recent("home", &room("lobby"), 10).unwrap().is_empty());
}

#[test]
fn a_cap_out_of_range_is_refused_and_the_one_in_force_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("h.sqlite3"), StoreOptions::default()).unwrap();
    for bytes in [
        0,
        tack_store::MIN_MAX_BYTES - 1,
        tack_store::MAX_MAX_BYTES + 1,
    ] {
        let refused = store.set_max_bytes(bytes).unwrap_err();
        assert!(
            matches!(refused, StoreError::CapOutOfRange { bytes: b, .. } if b == bytes),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("outside what it may be"),
            "{refused}"
        );
    }
    assert_eq!(store.options().max_bytes, tack_store::DEFAULT_MAX_BYTES);
}
