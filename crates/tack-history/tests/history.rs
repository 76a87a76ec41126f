//! The app's history file in a story: a session's events kept through `History::keep`, read
//! back for a room, searched, and resumed from.

use tack_client::events::{ClientEvent, ServerInfo, Target};
use tack_history::History;
use tack_store::StoreOptions;

fn said(room: &str, id: u64, user: &str, comment: &str) -> ClientEvent {
    ClientEvent::Message {
        room: room.into(),
        id: Some(id),
        user: user.into(),
        comment: comment.into(),
        ts: Some(1_700_000_000_000 + id),
        cid: None,
        own: false,
    }
}

fn welcome(epoch: &str) -> ClientEvent {
    ClientEvent::Server(ServerInfo {
        nick: "bob".into(),
        server: "tack/0.1.0".into(),
        resume: true,
        acks: true,
        epoch: Some(epoch.into()),
    })
}

#[tokio::test]
async fn a_session_kept_is_there_after_reopening_searchable_and_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let lobby = Target::Room("lobby".into());
    {
        let history = History::open(&path, StoreOptions::default()).unwrap();
        let feed = history.keep("http://chat.example", "Work chat");
        history
            .set_open("http://chat.example", &lobby, true)
            .unwrap();
        history
            .set_open("http://chat.example", &Target::Room("ops".into()), true)
            .unwrap();
        history
            .set_open("http://chat.example", &Target::Room("ops".into()), false)
            .unwrap();
        feed.send(vec![
            welcome("e1"),
            said("lobby", 1, "ann", "the lamp is red"),
        ])
        .await
        .unwrap();
        feed.send(vec![said("lobby", 2, "bob", "and the bike is blue")])
            .await
            .unwrap();
        drop(feed);
        // The feed thread hands entries over as it reads them; wait for them to be stored.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while history
            .recent("http://chat.example", &lobby, 10)
            .unwrap()
            .len()
            < 2
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the feed stored nothing"
            );
            history.flush().unwrap();
            tokio::task::yield_now().await;
        }
    }
    let history = History::open(&path, StoreOptions::default()).unwrap();
    let shown: Vec<ClientEvent> = history
        .recent("http://chat.example", &lobby, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.event)
        .collect();
    assert_eq!(
        shown,
        [
            said("lobby", 1, "ann", "the lamp is red"),
            said("lobby", 2, "bob", "and the bike is blue")
        ]
    );
    let point = history
        .resume_point("http://chat.example", &lobby)
        .unwrap()
        .unwrap();
    assert_eq!((point.epoch.as_str(), point.id), ("e1", 2));
    assert_eq!(
        history.open_places("http://chat.example").unwrap(),
        vec![lobby.clone()],
        "ops was left"
    );

    let hits = history.search("lamp from:ann", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].server_name, "Work chat");
    assert_eq!(hits[0].target, lobby);
    assert!(hits[0]
        .snippet
        .iter()
        .any(|p| p.matched && p.text == "lamp"));
    let around = history.context(hits[0].key, 5, 5).unwrap();
    assert_eq!(around.len(), 2);

    let refused = history.search("\"unclosed", 10).unwrap_err();
    assert!(refused.to_string().contains("never closed"), "{refused}");

    history.forget_everything().unwrap();
    assert!(history.search("lamp", 10).unwrap().is_empty());
    assert!(history
        .recent("http://chat.example", &lobby, 10)
        .unwrap()
        .is_empty());
    assert!(history.info().unwrap().size_bytes > 0);
    // What was said is gone; the lobby the window has open is not: the next start reopens it.
    assert_eq!(
        history.open_places("http://chat.example").unwrap(),
        vec![lobby]
    );
}

/// Another user of the machine must not read what this one saw: the history's directory and
/// file (and SQLite's files beside it) are the user's alone, an older, readable file included.
#[test]
fn only_the_user_can_read_the_history_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").join("dev.tack.desktop");
    let path = data.join("history.sqlite");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let history = History::open(&path, StoreOptions::default()).unwrap();
    history.flush().unwrap();
    assert_eq!(mode(&data), 0o700, "the directory it made");
    for file in ["history.sqlite", "history.sqlite-wal", "history.sqlite-shm"] {
        let file = data.join(file);
        if file.exists() {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    drop(history);

    // A file left readable by an older version is closed up when opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _history = History::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(mode(&path), 0o600);
}
