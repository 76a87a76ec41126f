//! The engine's events become store entries, and stored entries become the events the window
//! shows: both ways, each kind.

use tack_client::events::{ClientEvent, ServerInfo, Target};
use tack_history::show::shown;
use tack_history::Keeper;
use tack_store::{Body, Entry, EntryKey, Payload, Place, Stored};

fn welcome(epoch: Option<&str>) -> ClientEvent {
    ClientEvent::Server(ServerInfo {
        nick: "bob".into(),
        server: "tack/0.1.0".into(),
        resume: epoch.is_some(),
        acks: epoch.is_some(),
        epoch: epoch.map(str::to_owned),
    })
}

fn message(room: &str, id: Option<u64>, user: &str, comment: &str) -> ClientEvent {
    ClientEvent::Message {
        room: room.into(),
        id,
        user: user.into(),
        comment: comment.into(),
        ts: Some(1_000 + id.unwrap_or(0)),
        cid: None,
        own: false,
    }
}

fn raw(channel: &str, id: u64, payload: &str, binary: bool) -> ClientEvent {
    ClientEvent::Raw {
        channel: channel.into(),
        id: Some(id),
        ts: None,
        payload: payload.into(),
        binary,
        size: 3,
        received: 5_000,
        query: None,
    }
}

/// What a keeper with nothing stored makes of `events`.
fn kept(events: &[ClientEvent]) -> Vec<Entry> {
    kept_over(events, |_| None)
}

fn kept_over(events: &[ClientEvent], stored: impl FnMut(&Place) -> Option<String>) -> Vec<Entry> {
    let mut keeper = Keeper::new("wss://chat.example", "app-1", stored);
    let mut out = Vec::new();
    for e in events {
        keeper.keep(e, &mut out);
    }
    out
}

fn bodies(entries: &[Entry]) -> Vec<(Place, String, u64, Body)> {
    entries
        .iter()
        .map(|e| (e.place.clone(), e.epoch.clone(), e.id, e.body.clone()))
        .collect()
}

fn lobby() -> Place {
    Place::Room("lobby".into())
}

#[test]
fn chat_and_channel_items_are_kept_under_the_servers_epoch() {
    let entries = kept(&[
        welcome(Some("e1")),
        message("lobby", Some(4), "ann", "deploy is green"),
        ClientEvent::Entered {
            room: "lobby".into(),
            id: Some(5),
            user: "carol".into(),
            viewers: Some(3),
            ts: Some(9),
        },
        ClientEvent::Left {
            room: "lobby".into(),
            id: Some(6),
            user: "carol".into(),
            viewers: Some(2),
            ts: Some(10),
        },
        ClientEvent::NickChanged {
            room: "lobby".into(),
            id: Some(7),
            user: "ann".into(),
            nick: "annie".into(),
            ts: Some(11),
        },
        raw("orders", 1, "{\"n\":1}", false),
        raw("orders", 2, "AQID", true),
        ClientEvent::Presence {
            room: "lobby".into(),
            viewers: 2,
            users: vec!["ann".into()],
        },
    ]);
    let orders = Place::Channel("orders".into());
    assert_eq!(
        bodies(&entries),
        [
            (
                lobby(),
                "e1".into(),
                4,
                Body::Message {
                    nick: "ann".into(),
                    comment: "deploy is green".into()
                }
            ),
            (
                lobby(),
                "e1".into(),
                5,
                Body::Entered {
                    nick: "carol".into()
                }
            ),
            (
                lobby(),
                "e1".into(),
                6,
                Body::Left {
                    nick: "carol".into()
                }
            ),
            (
                lobby(),
                "e1".into(),
                7,
                Body::NickChanged {
                    nick: "ann".into(),
                    new_nick: "annie".into()
                }
            ),
            (
                orders.clone(),
                "e1".into(),
                1,
                Body::Item {
                    payload: Payload::Text("{\"n\":1}".into())
                }
            ),
            (
                orders,
                "e1".into(),
                2,
                Body::Item {
                    payload: Payload::Binary(vec![1, 2, 3])
                }
            ),
        ],
        "presence is a moment, not history"
    );
    assert_eq!(entries[0].at, 1_004, "the server's stamp");
    assert_eq!(entries[4].at, 5_000, "no stamp: when it was received");
    assert!(entries.iter().all(|e| e.server == "wss://chat.example"));
}

#[test]
fn a_gap_in_the_same_numbering_is_kept_after_the_last_id_received() {
    let entries = kept_over(
        &[
            welcome(Some("e1")),
            ClientEvent::Gap {
                target: Target::Room("lobby".into()),
                after_id: Some(42),
            },
            message("lobby", Some(50), "ann", "back"),
        ],
        |_| Some("e1".into()),
    );
    assert_eq!(entries[0].body, Body::Gap { before: None });
    assert_eq!((entries[0].epoch.as_str(), entries[0].id), ("e1", 42));
    assert_eq!(entries.len(), 2);
}

#[test]
fn a_server_that_restarted_while_the_app_was_closed_is_marked_renumbered_not_gapped() {
    // The store's newest lobby entry counts in "e1"; the server now says "e2", and the engine
    // reports the gap where the stored history ended.
    let entries = kept_over(
        &[
            welcome(Some("e2")),
            ClientEvent::Gap {
                target: Target::Room("lobby".into()),
                after_id: Some(42),
            },
            message("lobby", Some(1), "ann", "first of the new run"),
        ],
        |place| (*place == lobby()).then(|| "e1".into()),
    );
    assert_eq!(
        bodies(&entries),
        [
            (lobby(), "e2".into(), 0, Body::Renumbered),
            (
                lobby(),
                "e2".into(),
                1,
                Body::Message {
                    nick: "ann".into(),
                    comment: "first of the new run".into()
                }
            ),
        ]
    );
}

#[test]
fn an_event_in_a_new_numbering_without_a_gap_is_still_marked() {
    let entries = kept_over(
        &[welcome(Some("e2")), message("lobby", Some(1), "ann", "hi")],
        |_| Some("e1".into()),
    );
    assert_eq!(entries[0].body, Body::Renumbered);
    assert_eq!(entries.len(), 2);
}

#[test]
fn an_original_server_without_ids_is_numbered_by_the_app_under_its_own_epoch() {
    let entries = kept(&[
        welcome(None),
        message("lobby", None, "ann", "one"),
        message("lobby", None, "bob", "two"),
    ]);
    let numbered: Vec<(String, u64)> = entries.iter().map(|e| (e.epoch.clone(), e.id)).collect();
    assert_eq!(numbered, [("app-1".into(), 1), ("app-1".into(), 2)]);
}

fn stored(key: i64, place: Place, id: u64, body: Body) -> Stored {
    Stored {
        key: EntryKey(key),
        entry: Entry {
            server: "wss://chat.example".into(),
            place,
            epoch: "e1".into(),
            id,
            at: 7_000,
            body,
        },
    }
}

#[test]
fn stored_entries_come_back_as_the_events_the_window_shows() {
    let message = shown(&stored(
        3,
        lobby(),
        4,
        Body::Message {
            nick: "ann".into(),
            comment: "deploy is green".into(),
        },
    ));
    assert_eq!((message.key, message.epoch.as_str()), (3, "e1"));
    assert_eq!(
        message.event,
        ClientEvent::Message {
            room: "lobby".into(),
            id: Some(4),
            user: "ann".into(),
            comment: "deploy is green".into(),
            ts: Some(7_000),
            cid: None,
            own: false,
        }
    );
    let item = shown(&stored(
        4,
        Place::Channel("orders".into()),
        2,
        Body::Item {
            payload: Payload::Binary(vec![1, 2, 3]),
        },
    ));
    assert!(matches!(
        item.event,
        ClientEvent::Raw { ref channel, id: Some(2), ref payload, binary: true, size: 3, .. }
            if channel == "orders" && payload == "AQID"
    ));
    let gap = shown(&stored(5, lobby(), 4, Body::Gap { before: Some(9) }));
    assert_eq!(
        gap.event,
        ClientEvent::Gap {
            target: Target::Room("lobby".into()),
            after_id: Some(4)
        }
    );
    let renumbered = shown(&stored(6, lobby(), 0, Body::Renumbered));
    assert_eq!(
        renumbered.event,
        ClientEvent::Gap {
            target: Target::Room("lobby".into()),
            after_id: None
        }
    );
}

#[test]
fn what_is_kept_and_read_back_is_what_the_engine_said() {
    let said = [
        message("lobby", Some(4), "ann", "deploy is green"),
        ClientEvent::NickChanged {
            room: "lobby".into(),
            id: Some(5),
            user: "ann".into(),
            nick: "annie".into(),
            ts: Some(1_005),
        },
    ];
    let mut events = vec![welcome(Some("e1"))];
    events.extend(said.iter().cloned());
    let back: Vec<ClientEvent> = kept(&events)
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            shown(&Stored {
                key: EntryKey(i as i64),
                entry,
            })
            .event
        })
        .collect();
    assert_eq!(back, said);
}
