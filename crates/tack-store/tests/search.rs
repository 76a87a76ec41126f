//! Stories of the search box: one search covers every server, room and channel, and each
//! filter narrows it the way its name says.

mod common;

use common::*;
use proptest::prelude::*;
use tack_store::{Body, Hit, Place, QueryError, Store, StoreError};

/// Three servers, rooms and a channel, over three days (Dec 1..3, 2026, noon UTC).
fn town() -> (tempfile::TempDir, Store) {
    let (dir, mut store) = new_store();
    let day = |d: u64| 1_796_126_400_000 + (d - 1) * 86_400_000; // 2026-12-0d 12:00Z
    let e = |server: &str, place: Place, id: u64, d: u64, body: Body| {
        let mut entry = entry(server, place, id, body);
        entry.at = day(d);
        entry
    };
    let say = |nick: &str, text: &str| Body::Message {
        nick: nick.into(),
        comment: text.into(),
    };
    let entries = vec![
        e(
            "home",
            room("market"),
            1,
            1,
            say("ana", "selling a red bike, barely used"),
        ),
        e(
            "home",
            room("market"),
            2,
            2,
            say("bo", "is the bike still for sale?"),
        ),
        e(
            "home",
            room("lobby"),
            1,
            2,
            say("ana", "the bike is sold, sorry"),
        ),
        e(
            "work",
            room("market"),
            1,
            3,
            say("cy", "Crème brûlée at the café on Friday"),
        ),
        e(
            "work",
            room("standup"),
            1,
            3,
            say("ana_b", "bike shed discussion again"),
        ),
        e(
            "club",
            Place::Channel("prices".into()),
            1,
            3,
            Body::Item {
                payload: tack_store::Payload::Text("{\"bike\": 120}".into()),
            },
        ),
        e(
            "club",
            room("lobby"),
            1,
            1,
            Body::Entered { nick: "ana".into() },
        ),
    ];
    store.insert(&entries).unwrap();
    store.name_server("work", "Office").unwrap();
    (dir, store)
}

fn places(hits: &[Hit]) -> Vec<(String, String, u64)> {
    hits.iter()
        .map(|h| (h.server.clone(), h.place.name().to_owned(), h.id))
        .collect()
}

fn found(store: &Store, query: &str) -> Vec<(String, String, u64)> {
    places(&store.search(query, 50).unwrap())
}

fn at(server: &str, place: &str, id: u64) -> (String, String, u64) {
    (server.into(), place.into(), id)
}

#[test]
fn one_search_covers_every_server_room_and_channel_newest_first() {
    let (_dir, store) = town();
    assert_eq!(
        found(&store, "bike"),
        vec![
            at("club", "prices", 1),
            at("work", "standup", 1),
            at("home", "lobby", 1),
            at("home", "market", 2),
            at("home", "market", 1),
        ]
    );
}

#[test]
fn hits_mark_the_matched_words_and_say_who_and_where() {
    let (_dir, store) = town();
    let hits = store.search("red bike", 10).unwrap();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(
        (hit.server.as_str(), hit.server_name.as_str()),
        ("home", "home")
    );
    assert_eq!(hit.place, room("market"));
    assert_eq!(hit.nick.as_deref(), Some("ana"));
    let marked: Vec<&str> = hit
        .snippet
        .iter()
        .filter(|p| p.matched)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(marked, vec!["red", "bike"]);
    let whole: String = hit.snippet.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(whole, "selling a red bike, barely used");
}

#[test]
fn accents_and_case_do_not_matter() {
    let (_dir, store) = town();
    assert_eq!(found(&store, "creme BRULEE"), vec![at("work", "market", 1)]);
    assert_eq!(found(&store, "café"), vec![at("work", "market", 1)]);
}

#[test]
fn phrases_prefixes_and_exclusions() {
    let (_dir, store) = town();
    assert_eq!(
        found(&store, "\"bike still\""),
        vec![at("home", "market", 2)]
    );
    assert_eq!(found(&store, "\"still bike\""), vec![]);
    assert_eq!(found(&store, "disc*"), vec![at("work", "standup", 1)]);
    assert_eq!(
        found(&store, "bike -sold -shed -red"),
        vec![at("club", "prices", 1), at("home", "market", 2)]
    );
}

#[test]
fn from_finds_what_a_nick_said_and_only_that_nick() {
    let (_dir, store) = town();
    assert_eq!(
        found(&store, "from:ana"),
        vec![at("home", "lobby", 1), at("home", "market", 1)]
    );
    assert_eq!(found(&store, "from:ANA sold"), vec![at("home", "lobby", 1)]);
    assert_eq!(found(&store, "from:ana_b"), vec![at("work", "standup", 1)]);
    assert_eq!(
        found(&store, "from:ana from:bo bike"),
        vec![
            at("home", "lobby", 1),
            at("home", "market", 2),
            at("home", "market", 1)
        ]
    );
}

#[test]
fn in_and_server_name_rooms_channels_and_servers() {
    let (_dir, store) = town();
    assert_eq!(
        found(&store, "bike in:market"),
        vec![at("home", "market", 2), at("home", "market", 1)]
    );
    assert_eq!(
        found(&store, "in:market"),
        vec![
            at("work", "market", 1),
            at("home", "market", 2),
            at("home", "market", 1)
        ]
    );
    assert_eq!(
        found(&store, "bike in:prices"),
        vec![at("club", "prices", 1)]
    );
    assert_eq!(
        found(&store, "bike server:office"),
        vec![at("work", "standup", 1)],
        "by display name"
    );
    assert_eq!(found(&store, "bike server:work in:market"), vec![]);
    assert_eq!(
        found(&store, "in:market server:work"),
        vec![at("work", "market", 1)]
    );
    assert_eq!(found(&store, "bike in:nowhere"), vec![]);
}

#[test]
fn after_and_before_bound_the_time() {
    let (_dir, store) = town();
    assert_eq!(
        found(&store, "bike after:2026-12-03"),
        vec![at("club", "prices", 1), at("work", "standup", 1)]
    );
    assert_eq!(
        found(&store, "bike before:2026-12-02"),
        vec![at("home", "market", 1)]
    );
    assert_eq!(
        found(
            &store,
            "after:2026-12-02T00:00:00Z before:2026-12-02T12:00:00.001Z"
        ),
        vec![at("home", "lobby", 1), at("home", "market", 2)],
        "filters alone, newest first"
    );
    assert_eq!(
        found(
            &store,
            "bike after:2026-12-02T13:00:00+01:00 before:2026-12-03"
        ),
        vec![at("home", "lobby", 1), at("home", "market", 2)]
    );
}

#[test]
fn binary_items_and_enters_are_kept_but_not_searched() {
    let (_dir, mut store) = town();
    store
        .insert(&[binary_item("club", "prices", 2, b"bike".to_vec())])
        .unwrap();
    assert_eq!(
        found(&store, "bike in:prices"),
        vec![at("club", "prices", 1)]
    );
    assert_eq!(
        store
            .recent("club", &Place::Channel("prices".into()), 10)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        found(&store, "server:club"),
        vec![at("club", "prices", 1)],
        "the enter has no text"
    );
}

#[test]
fn bad_searches_say_what_is_wrong() {
    let (_dir, store) = town();
    match store.search("bike after:someday", 10) {
        Err(StoreError::Query(QueryError::BadDate {
            filter: "after",
            value,
        })) => assert_eq!(value, "someday"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.search("  ", 10),
        Err(StoreError::Query(QueryError::Empty))
    ));
}

#[test]
fn context_shows_a_hit_where_it_was_said() {
    let (_dir, mut store) = new_store();
    let lines: Vec<_> = (1..=20)
        .map(|id| msg("home", "lobby", id, "ana", &format!("line number{id}")))
        .collect();
    store.insert(&lines).unwrap();
    store
        .insert(&[
            gap("home", "lobby", 20, Some(30)),
            msg("home", "lobby", 30, "bo", "after the gap"),
        ])
        .unwrap();
    let hit = &store.search("number10", 1).unwrap()[0];
    let around = store.context(hit.key, 2, 3).unwrap();
    assert_eq!(
        around.iter().map(|s| s.entry.id).collect::<Vec<_>>(),
        vec![8, 9, 10, 11, 12, 13]
    );
    assert_eq!(around[2].key, hit.key);

    let last = &store.search("number20", 1).unwrap()[0];
    let around = store.context(last.key, 1, 5).unwrap();
    let shown: Vec<_> = around
        .iter()
        .map(|s| (s.entry.id, matches!(s.entry.body, Body::Gap { .. })))
        .collect();
    assert_eq!(
        shown,
        vec![(19, false), (20, false), (20, true), (30, false)],
        "gap included, then the end"
    );

    assert!(matches!(
        store.context(tack_store::EntryKey(999_999), 1, 1),
        Err(StoreError::NoSuchEntry(999_999))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever is typed, the database never sees it as syntax: a search either runs or is
    /// refused with a query error.
    #[test]
    fn any_typed_search_runs_or_is_refused_with_a_query_error(
        input in "(\"|-|\\*|:|\\(|\\)|NEAR|AND|OR|NOT|from:|in:|\\^|[a-zé ]{1,6}|\\PC){0,30}"
    ) {
        thread_local!(static STORE: (tempfile::TempDir, Store) = town());
        STORE.with(|(_, store)| match store.search(&input, 10) {
            Ok(_) | Err(StoreError::Query(_)) => Ok(()),
            Err(other) => Err(TestCaseError::fail(format!("{input:?}: {other}"))),
        })?;
    }
}
