//! Auto mode: WebSocket first, falling back when a proxy refuses upgrades or holds back the
//! stream, and upgrading back to WebSocket once it works again — without losing a message.

mod support;

use support::proxy::Proxy;
use support::{profile, quick_options, secs, server, Events};
use tack_client::{ClientEvent, ConnectionStatus, Session, Transport, TransportChoice};

fn connected_via(ev: &ClientEvent) -> Option<Transport> {
    match ev {
        ClientEvent::State(s) if s.status == ConnectionStatus::Connected => s.transport,
        _ => None,
    }
}

#[tokio::test]
async fn refused_websocket_upgrades_fall_back_to_streaming_then_upgrade_back() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
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
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
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
