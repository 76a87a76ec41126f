//! Resume edges: history that no longer reaches back shows a gap; a restarting server's
//! "going away" close is retried soon, spread out.

use tack_client::{ClientEvent, ConnectionStatus, Session, Target, TransportChoice};
use tack_testkit::engine::{is_status, profile, quick_options, secs, Events};
use tack_testkit::fault_proxy::FaultProxy;
use tack_testkit::server::{no_rate_limit, start_with};

#[tokio::test]
async fn messages_older_than_the_history_show_a_gap_not_silence() {
    let server = start_with(|c| {
        no_rate_limit(c);
        c.history_len = 5;
        // No live window: the room keeps exactly its history length, however recent.
        c.live_window_ms = 0;
    })
    .await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (reader, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    reader.enter("busy").unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    let (writer, wrx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut wevents = Events::new(wrx);
    writer.enter("busy").unwrap();
    events
        .wait_for("the writer entering", secs(10), |e| {
            matches!(e, ClientEvent::Entered { .. })
        })
        .await;

    proxy.set_down(true);
    proxy.cut();
    events
        .wait_for("reconnecting", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    for i in 0..20 {
        writer.send("busy", &format!("while away {i}")).unwrap();
    }
    let mut acks = 0;
    while acks < 20 {
        if let Some(ClientEvent::Send {
            state: tack_client::SendState::Sent { .. },
            ..
        }) = wevents.next(secs(10)).await
        {
            acks += 1;
        }
    }
    proxy.set_down(false);
    reader.retry_now();
    let gap = events
        .wait_for("a gap", secs(10), |e| matches!(e, ClientEvent::Gap { .. }))
        .await;
    let ClientEvent::Gap { target, after_id } = gap else {
        unreachable!()
    };
    assert_eq!(target, Target::Room("busy".into()));
    assert!(after_id.is_some());
    // The marker comes right before what history still had: the last five, not the older
    // fifteen.
    let next = events.next(secs(10)).await;
    assert!(
        matches!(&next, Some(ClientEvent::Message { comment, .. }) if comment == "while away 15"),
        "{next:?}"
    );
    let replayed = events
        .seen
        .iter()
        .filter(|e| matches!(e, ClientEvent::Message { .. }));
    assert_eq!(
        replayed.count(),
        1,
        "nothing older arrived before the marker"
    );
    reader.close().await;
    writer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_restarting_server_is_retried_soon_and_spread_out() {
    let server = start_with(no_rate_limit).await;
    let addr = server.local_addr();
    let (session, rx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    events
        .wait_for("connected", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    server.shutdown().await;
    let ev = events
        .wait_for("reconnecting", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    let ClientEvent::State(s) = ev else {
        unreachable!()
    };
    let reason = s.reason.unwrap_or_default();
    assert!(reason.contains("1001"), "{reason}");
    let retry_in = s.retry_at.unwrap().saturating_sub(tack_now());
    assert!(
        retry_in <= 400,
        "first retry after a restart within the spread, got {retry_in} ms"
    );
    // The server comes back on the same port; the session finds it.
    let back = start_with(|c| c.listen = addr).await;
    events
        .wait_for("connected again", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    session.close().await;
    back.shutdown().await;
}

/// Regressions: after a server restart (1) the engine came back under a new generated nick, so
/// the user turned into someone else mid-conversation, and (2) the restarted server numbers the
/// room from 1 again, and the engine dropped those events as duplicates of ids it had seen.
#[tokio::test]
async fn after_a_server_restart_the_nick_is_kept_and_renumbered_events_arrive() {
    let server = start_with(no_rate_limit).await;
    let addr = server.local_addr();
    let (session, rx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    let first = events
        .wait_for("the server's welcome", secs(10), |e| {
            matches!(e, ClientEvent::Server(_))
        })
        .await;
    let ClientEvent::Server(first) = first else {
        unreachable!()
    };
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    server.shutdown().await;
    events
        .wait_for("reconnecting", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    let back = start_with(|c| c.listen = addr).await;
    session.retry_now();
    let entered = events
        .wait_for("entering the room again", secs(10), |e| {
            matches!(e, ClientEvent::Entered { .. })
        })
        .await;
    let ClientEvent::Entered { user, .. } = entered else {
        unreachable!()
    };
    assert_eq!(user, first.nick, "the room saw someone else come back");
    session.close().await;
    back.shutdown().await;
}

/// Regression: a restarted server that had new traffic before we came back numbers its room
/// 1, 2, 3… again; resuming "after id 3" from the old server skipped its first three messages
/// and claimed nothing was missing. The welcome's epoch tells the engine to start over.
#[tokio::test]
async fn a_restarted_server_with_new_traffic_is_resumed_from_its_start_after_a_gap() {
    let server = start_with(no_rate_limit).await;
    let addr = server.local_addr();
    let proxy = FaultProxy::start(addr).await;
    let (reader, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    reader.enter("lobby").unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    for i in 0..3 {
        reader.send("lobby", &format!("old {i}")).unwrap();
    }
    events
        .wait_for(
            "the last old message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "old 2"),
        )
        .await;

    proxy.set_down(true);
    server.shutdown().await;
    events
        .wait_for("reconnecting", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    let restarted = start_with(|c| c.listen = addr).await;
    let (writer, wrx) = Session::connect(
        profile(&restarted.url(), TransportChoice::Ws),
        quick_options(),
    );
    let mut wevents = Events::new(wrx);
    writer.enter("lobby").unwrap();
    for i in 0..5 {
        writer.send("lobby", &format!("new {i}")).unwrap();
    }
    wevents
        .wait_for(
            "the last new message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "new 4"),
        )
        .await;

    events.seen.clear();
    proxy.set_down(false);
    reader.retry_now();
    events
        .wait_for(
            "the last new message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "new 4"),
        )
        .await;
    let new: Vec<String> = events
        .seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { comment, .. } if comment.starts_with("new") => {
                Some(comment.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(new, ["new 0", "new 1", "new 2", "new 3", "new 4"]);
    assert!(
        events.seen.iter().any(|e| matches!(
            e,
            ClientEvent::Gap {
                after_id: Some(_),
                ..
            }
        )),
        "no gap marker where the old server's history ended: {:#?}",
        events.seen
    );
    reader.close().await;
    writer.close().await;
    restarted.shutdown().await;
}

fn tack_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The messages of `room` a session was given, in the order it was given them.
fn messages_in(seen: &[ClientEvent]) -> Vec<(u64, String)> {
    seen.iter()
        .filter_map(|e| match e {
            ClientEvent::Message { id, comment, .. } => Some((id.unwrap_or(0), comment.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_message_lost_on_the_way_is_fetched_and_everything_arrives_in_order_once() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (reader, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    reader.enter("lobby").unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    let (writer, wrx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut wevents = Events::new(wrx);
    writer.enter("lobby").unwrap();
    wevents
        .wait_for("writer joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;

    proxy.drop_next_ws_frame_containing("second");
    for text in ["first", "second", "third", "fourth"] {
        writer.send("lobby", text).unwrap();
    }
    events
        .wait_for(
            "the last message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "fourth"),
        )
        .await;
    writer.send("lobby", "fifth").unwrap();
    events
        .wait_for(
            "one more",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "fifth"),
        )
        .await;

    let got = messages_in(&events.seen);
    let comments: Vec<&str> = got.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(comments, ["first", "second", "third", "fourth", "fifth"]);
    assert!(
        got.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "ids in order: {got:?}"
    );
    assert!(
        !events
            .seen
            .iter()
            .any(|e| matches!(e, ClientEvent::Gap { .. })),
        "nothing was missing in the end"
    );
    assert_eq!(
        events
            .seen
            .iter()
            .filter(|e| matches!(e, ClientEvent::Joined { .. }))
            .count(),
        1,
        "fetching the hole is not a second join"
    );
    assert_eq!(proxy.accepted(), 1, "no reconnect was needed");
    reader.close().await;
    writer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_first_event_after_entering_lost_on_the_way_is_fetched_too() {
    let server = start_with(no_rate_limit).await;
    let (writer, wrx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut wevents = Events::new(wrx);
    writer.enter("lobby").unwrap();
    wevents
        .wait_for("writer joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    writer.send("lobby", "before anyone came").unwrap();

    let proxy = FaultProxy::start(server.local_addr()).await;
    // Like a subscription applied late behind a proxy: the reader's own enter never reaches it.
    proxy.drop_next_ws_frame_containing("chatRoomEnter");
    let (reader, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    reader.enter("lobby").unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    writer.send("lobby", "after").unwrap();
    events
        .wait_for(
            "the message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "after"),
        )
        .await;
    let entered = events
        .seen
        .iter()
        .position(|e| matches!(e, ClientEvent::Entered { .. }))
        .expect("the lost enter was fetched");
    let after = events
        .seen
        .iter()
        .position(|e| matches!(e, ClientEvent::Message { .. }))
        .unwrap();
    assert!(entered < after, "in order");
    assert_eq!(
        messages_in(&events.seen).len(),
        1,
        "nothing from before the reader came"
    );
    reader.close().await;
    writer.close().await;
    server.shutdown().await;
}

/// Regression: the engine told rooms and channels apart with a `bool` that its `Gap` event
/// dropped, so a channel's gap named only "news" and was shown in the room of that name.
#[tokio::test]
async fn a_channel_item_lost_on_the_way_and_gone_from_history_is_a_gap_on_the_channel() {
    // History keeps one item (and nothing more for being recent): by the time the hole is
    // fetched, the lost item is gone.
    let server = start_with(|c| {
        c.history_len = 1;
        c.live_window_ms = 0;
    })
    .await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (reader, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    reader.watch("news").unwrap();
    events
        .wait_for("connected", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    let publish = |text: &'static str| {
        let url = server.control_url();
        async move {
            tack_testkit::server::publish(
                &url,
                tack_protocol::publish::Item::text_everywhere("news", text),
            )
            .await
        }
    };
    let raw_named = |want: &'static str| move |e: &ClientEvent| matches!(e, ClientEvent::Raw { payload, .. } if payload == want);
    // The watch is in place once its first item arrives.
    publish("before").await;
    events
        .wait_for("the first item", secs(10), raw_named("before"))
        .await;

    proxy.drop_next_ws_frame_containing("lost on the way");
    publish("lost on the way").await;
    publish("after").await;
    events
        .wait_for("the item after", secs(10), raw_named("after"))
        .await;

    let gaps: Vec<&ClientEvent> = events
        .seen
        .iter()
        .filter(|e| matches!(e, ClientEvent::Gap { .. }))
        .collect();
    let before_id = events.seen.iter().find_map(|e| match e {
        ClientEvent::Raw { payload, id, .. } if payload == "before" => *id,
        _ => None,
    });
    assert_eq!(
        gaps,
        [&ClientEvent::Gap {
            target: Target::Channel("news".into()),
            after_id: before_id,
        }],
        "one gap, on the channel, after the last item seen"
    );
    let order: Vec<&str> = events
        .seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Gap { .. } => Some("gap"),
            ClientEvent::Raw { payload, .. } => Some(payload.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        ["before", "gap", "after"],
        "the gap sits where the loss is"
    );
    reader.close().await;
    server.shutdown().await;
}
