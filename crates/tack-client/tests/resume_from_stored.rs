//! After the app restarts, its rooms and channels resume from the position its own history
//! kept (`Session::enter_from`, `watch_from`): what was said while it was closed arrives once,
//! and what the server no longer holds, or numbers anew, shows as a gap.

use tack_client::{ClientEvent, Session, Target, TransportChoice};
use tack_testkit::engine::{profile, quick_options, secs, Events};
use tack_testkit::server::{no_rate_limit, start_with};

/// Someone who says `lines` in `room`; answers the server's epoch and each line's id.
async fn someone_says(url: &str, room: &str, lines: &[&str]) -> (String, Vec<u64>) {
    let (writer, rx) = Session::connect(profile(url, TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    let server = events
        .wait_for("the welcome", secs(10), |e| {
            matches!(e, ClientEvent::Server(_))
        })
        .await;
    let ClientEvent::Server(info) = server else {
        unreachable!()
    };
    writer.enter(room).unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    let mut ids = Vec::new();
    for line in lines {
        writer.send(room, line).unwrap();
        let said = events
            .wait_for(
                line,
                secs(10),
                |e| matches!(e, ClientEvent::Message { comment, .. } if comment == line),
            )
            .await;
        let ClientEvent::Message { id, .. } = said else {
            unreachable!()
        };
        ids.push(id.expect("the built-in server numbers messages"));
    }
    writer.close().await;
    (
        info.epoch.expect("the built-in server names its epoch"),
        ids,
    )
}

/// The comments a session was given, in order.
fn comments(seen: &[ClientEvent]) -> Vec<String> {
    seen.iter()
        .filter_map(|e| match e {
            ClientEvent::Message { comment, .. } => Some(comment.clone()),
            _ => None,
        })
        .collect()
}

fn gaps(seen: &[ClientEvent]) -> Vec<(Target, Option<u64>)> {
    seen.iter()
        .filter_map(|e| match e {
            ClientEvent::Gap { target, after_id } => Some((target.clone(), *after_id)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_reopened_app_gets_what_was_said_while_it_was_closed_once() {
    let server = start_with(no_rate_limit).await;
    // Before the app closed it had stored up to "seen 2"; the rest was said while it was shut.
    let (epoch, ids) = someone_says(
        &server.url(),
        "lobby",
        &["seen 1", "seen 2", "while closed 1", "while closed 2"],
    )
    .await;

    let (app, rx) = Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    // Seeded before the welcome, as the app does at start.
    app.enter_from("lobby", &epoch, ids[1]).unwrap();
    events
        .wait_for(
            "the last message said while closed",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "while closed 2"),
        )
        .await;
    // Anything late would be a duplicate: let one more batch arrive before judging.
    app.send("lobby", "back").unwrap();
    events
        .wait_for(
            "our own line",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "back"),
        )
        .await;
    assert_eq!(
        comments(&events.seen),
        ["while closed 1", "while closed 2", "back"]
    );
    assert_eq!(gaps(&events.seen), [], "nothing was missing");
    app.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn what_the_server_no_longer_holds_shows_as_a_gap_where_the_stored_history_ends() {
    let server = start_with(|c| {
        no_rate_limit(c);
        // The last two messages and the writer leaving.
        c.history_len = 3;
        c.live_window_ms = 0;
    })
    .await;
    let (epoch, ids) = someone_says(
        &server.url(),
        "lobby",
        &["seen", "lost 1", "lost 2", "kept 1", "kept 2"],
    )
    .await;

    let (app, rx) = Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    events
        .wait_for("the welcome", secs(10), |e| {
            matches!(e, ClientEvent::Server(_))
        })
        .await;
    // Seeded while connected, as when the user opens a room again.
    app.enter_from("lobby", &epoch, ids[0]).unwrap();
    events
        .wait_for(
            "the newest message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "kept 2"),
        )
        .await;
    assert_eq!(comments(&events.seen), ["kept 1", "kept 2"]);
    assert_eq!(
        gaps(&events.seen),
        [(Target::Room("lobby".into()), Some(ids[0]))]
    );
    app.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_position_from_another_epoch_resumes_from_the_servers_start_after_a_gap() {
    let server = start_with(no_rate_limit).await;
    someone_says(&server.url(), "lobby", &["new 1", "new 2"]).await;

    let (app, rx) = Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    // The store's position is from a server that has since restarted (its numbering began
    // again, so id 40 means nothing now).
    app.enter_from("lobby", "an-earlier-run", 40).unwrap();
    events
        .wait_for(
            "the newest message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "new 2"),
        )
        .await;
    assert_eq!(comments(&events.seen), ["new 1", "new 2"]);
    assert_eq!(
        gaps(&events.seen),
        [(Target::Room("lobby".into()), Some(40))]
    );
    app.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_watched_channel_resumes_from_its_stored_item() {
    let server = start_with(no_rate_limit).await;
    let control = server.control_url();
    let (app, rx) = Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    app.watch("ticks").unwrap();
    let welcome = events
        .wait_for("the welcome", secs(10), |e| {
            matches!(e, ClientEvent::Server(_))
        })
        .await;
    let ClientEvent::Server(info) = welcome else {
        unreachable!()
    };
    let epoch = info.epoch.unwrap();
    for n in 1..=4 {
        tack_testkit::server::publish(&control, tick(n)).await;
    }
    let raw_ids = |seen: &[ClientEvent]| -> Vec<u64> {
        seen.iter()
            .filter_map(|e| match e {
                ClientEvent::Raw { id, .. } => *id,
                _ => None,
            })
            .collect()
    };
    while raw_ids(&events.seen).len() < 4 {
        events.next(secs(10)).await.expect("four items");
    }
    let ids = raw_ids(&events.seen);
    app.close().await;

    let (app, rx) = Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    app.watch_from("ticks", &epoch, ids[1]).unwrap();
    while raw_ids(&events.seen).len() < 2 {
        events
            .next(secs(10))
            .await
            .expect("the two items after the seed");
    }
    assert_eq!(raw_ids(&events.seen), ids[2..]);
    assert_eq!(gaps(&events.seen), []);
    app.close().await;
    server.shutdown().await;
}

fn tick(n: u32) -> tack_protocol::publish::Item {
    tack_protocol::publish::Item::text_everywhere("ticks", &format!("tick {n}"))
}
