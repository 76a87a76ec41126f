//! Auto mode: WebSocket first, falling back when a proxy refuses upgrades or holds back the
//! stream, and upgrading back to WebSocket once it works again — without losing a message.

use tack_client::{ClientEvent, ConnectionStatus, Session, Transport, TransportChoice};
use tack_testkit::engine::{profile, quick_options, secs, Events};
use tack_testkit::fault_proxy::FaultProxy;
use tack_testkit::server::{no_rate_limit, start_with};

fn connected_via(ev: &ClientEvent) -> Option<Transport> {
    match ev {
        ClientEvent::State(s) if s.status == ConnectionStatus::Connected => s.transport,
        _ => None,
    }
}

#[tokio::test]
async fn refused_websocket_upgrades_fall_back_to_streaming_then_upgrade_back() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    proxy.refuse_ws_upgrades(true);
    let (session, rx) = Session::connect(
        profile(&proxy.url(), TransportChoice::Auto),
        quick_options(),
    );
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    let ev = events
        .wait_for("connected", secs(10), |e| connected_via(e).is_some())
        .await;
    assert_eq!(connected_via(&ev), Some(Transport::Stream));
    let ClientEvent::State(s) = &ev else {
        unreachable!()
    };
    assert!(s.degraded, "a fallback is shown as degraded");

    session.send("lobby", "before").unwrap();
    events
        .wait_for(
            "message on the stream",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "before"),
        )
        .await;

    proxy.refuse_ws_upgrades(false);
    let ev = events
        .wait_for("upgrade", secs(10), |e| {
            connected_via(e) == Some(Transport::Ws)
        })
        .await;
    let ClientEvent::State(s) = &ev else {
        unreachable!()
    };
    assert!(!s.degraded);
    session.send("lobby", "after").unwrap();
    events
        .wait_for(
            "message on the WebSocket",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "after"),
        )
        .await;
    let messages: Vec<&str> = events
        .seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { comment, .. } => Some(comment.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        ["before", "after"],
        "nothing lost or doubled by the upgrade"
    );
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_buffering_proxy_in_front_of_the_stream_falls_back_to_long_polling() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    proxy.refuse_ws_upgrades(true);
    proxy.buffer_streams(true);
    let (session, rx) = Session::connect(
        profile(&proxy.url(), TransportChoice::Auto),
        quick_options(),
    );
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    let ev = events
        .wait_for("connected", secs(10), |e| connected_via(e).is_some())
        .await;
    assert_eq!(connected_via(&ev), Some(Transport::Poll));
    session.send("lobby", "through polls").unwrap();
    events
        .wait_for(
            "message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "through polls"),
        )
        .await;
    session.close().await;
    server.shutdown().await;
}

/// Whether `ev` is a room change (enter or leave) of `who`, and the viewer count it carried.
fn change_of<'a>(ev: &'a ClientEvent, who: &str) -> Option<(&'a str, Option<u32>)> {
    match ev {
        ClientEvent::Entered { user, viewers, .. } if user == who => Some(("entered", *viewers)),
        ClientEvent::Left { user, viewers, .. } if user == who => Some(("left", *viewers)),
        _ => None,
    }
}

#[tokio::test]
async fn an_upgrade_to_websocket_is_one_viewer_all_along_for_everyone_else() {
    // Sessions expire quickly here, so an old stream session left behind would show its leave
    // within the story.
    let server = start_with(|c| {
        no_rate_limit(c);
        c.session_ttl_secs = 1;
    })
    .await;
    let mut bob_profile = profile(&server.url(), TransportChoice::Ws);
    bob_profile.nick = Some("bob".into());
    let (bob, brx) = Session::connect(bob_profile, quick_options());
    let mut bob_sees = Events::new(brx);
    bob.enter("lobby").unwrap();
    bob_sees
        .wait_for("bob in the lobby", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;

    let proxy = FaultProxy::start(server.local_addr()).await;
    proxy.refuse_ws_upgrades(true);
    let mut ann_profile = profile(&proxy.url(), TransportChoice::Auto);
    ann_profile.nick = Some("ann".into());
    let (ann, arx) = Session::connect(ann_profile, quick_options());
    let mut ann_sees = Events::new(arx);
    ann.enter("lobby").unwrap();
    let ev = ann_sees
        .wait_for("ann on a fallback", secs(10), |e| {
            connected_via(e).is_some()
        })
        .await;
    assert_eq!(connected_via(&ev), Some(Transport::Stream));
    let ev = bob_sees
        .wait_for("ann enters", secs(10), |e| change_of(e, "ann").is_some())
        .await;
    assert_eq!(change_of(&ev, "ann"), Some(("entered", Some(2))));
    ann.send("lobby", "before").unwrap();
    bob_sees
        .wait_for(
            "ann's message over the stream",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "before"),
        )
        .await;

    proxy.refuse_ws_upgrades(false);
    ann_sees
        .wait_for("ann upgraded", secs(10), |e| {
            connected_via(e) == Some(Transport::Ws)
        })
        .await;
    ann.send("lobby", "after").unwrap();
    bob_sees
        .wait_for(
            "ann's message over the WebSocket",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "after"),
        )
        .await;

    // Someone new counts the room: bob and ann, once each, and herself.
    let (cat, crx) = Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut cat_sees = Events::new(crx);
    cat.enter("lobby").unwrap();
    let ev = cat_sees
        .wait_for("cat's view of the lobby", secs(10), |e| {
            matches!(e, ClientEvent::Presence { .. })
        })
        .await;
    let ClientEvent::Presence { viewers, .. } = ev else {
        unreachable!()
    };
    assert_eq!(
        viewers, 3,
        "ann's old stream session is not still in the room"
    );

    // Longer than the old session would have taken to expire: still no leave from ann.
    let until = tokio::time::Instant::now() + secs(3);
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if bob_sees.next(left).await.is_none() {
            break;
        }
    }
    let changes: Vec<_> = bob_sees
        .seen
        .iter()
        .filter_map(|e| change_of(e, "ann"))
        .collect();
    assert_eq!(
        changes,
        [("entered", Some(2))],
        "one enter, no leave, for the whole switch"
    );
    let messages: Vec<&str> = bob_sees
        .seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { comment, .. } => Some(comment.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(messages, ["before", "after"]);
    let ann_messages: Vec<&str> = ann_sees
        .seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { comment, .. } => Some(comment.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        ann_messages.iter().filter(|m| **m == "before").count() <= 1,
        "nothing doubled for ann: {ann_messages:?}"
    );
    for s in [ann, bob, cat] {
        s.close().await;
    }
    server.shutdown().await;
}
