//! Each transport forced, against the real server: chat works, and a cut while messages keep
//! coming loses nothing and doubles nothing.

use tack_client::{ClientEvent, ConnectionStatus, SendState, Session, TransportChoice};
use tack_testkit::engine::{is_status, profile, quick_options, secs, Events};
use tack_testkit::fault_proxy::FaultProxy;
use tack_testkit::server::{no_rate_limit, start_with};

async fn chat_round_trip(transport: TransportChoice) {
    let server = start_with(no_rate_limit).await;
    let mut p = profile(&server.url(), transport);
    p.nick = Some("ann".into());
    let (session, rx) = Session::connect(p, quick_options());
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    events
        .wait_for(
            "joined",
            secs(10),
            |e| matches!(e, ClientEvent::Joined { room } if room == "lobby"),
        )
        .await;
    let cid = session.send("lobby", "hello").unwrap();
    // The ack and the broadcast travel separately (on HTTP: the /send answer and the stream),
    // so they may come in either order.
    let (mut message, mut acked) = (None, false);
    while message.is_none() || !acked {
        match events
            .next(secs(10))
            .await
            .expect("the message and its ack")
        {
            ClientEvent::Message {
                comment,
                own,
                user,
                id,
                ..
            } => message = Some((comment, own, user, id)),
            ClientEvent::Send {
                cid: c,
                state: SendState::Sent { id: Some(_) },
                ..
            } if c == cid => acked = true,
            _ => {}
        }
    }
    let (comment, own, user, id) = message.unwrap();
    assert_eq!(comment, "hello");
    assert!(own);
    assert_eq!(user, "ann");
    assert!(id.is_some());
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn chat_over_websocket() {
    chat_round_trip(TransportChoice::Ws).await;
}

#[tokio::test]
async fn chat_over_http_streaming() {
    chat_round_trip(TransportChoice::Stream).await;
}

#[tokio::test]
async fn chat_over_long_polling() {
    chat_round_trip(TransportChoice::Poll).await;
}

/// A publisher connected straight to the server sends `n` numbered messages while the
/// reader's connection (through the proxy) is cut twice.
async fn cut_while_publishing(transport: TransportChoice) {
    const N: usize = 200;
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (reader, rx) = Session::connect(profile(&proxy.url(), transport), quick_options());
    let mut events = Events::new(rx);
    reader.enter("news").unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;

    let (publisher, prx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut pevents = Events::new(prx);
    publisher.enter("news").unwrap();
    pevents
        .wait_for("publisher joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    // Keep reading the publisher's events: an engine whose consumer stops reading waits.
    let draining = tokio::spawn(async move { while pevents.next(secs(60)).await.is_some() {} });
    let publishing = tokio::spawn(async move {
        for i in 0..N {
            publisher.send("news", &format!("m{i}")).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        publisher
    });

    let mut got = Vec::new();
    let mut cuts = 0;
    while got.len() < N {
        let ev = events.next(secs(20)).await.expect("messages keep arriving");
        if let ClientEvent::Message { comment, .. } = ev {
            got.push(comment);
            if (got.len() == N / 4 || got.len() == N / 2) && cuts < 2 {
                proxy.cut();
                cuts += 1;
            }
        }
    }
    let want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want, "every message exactly once, in order");
    assert!(
        events
            .seen
            .iter()
            .filter(|e| is_status(e, ConnectionStatus::Connected))
            .count()
            >= 2,
        "the cut really forced a reconnect"
    );
    let publisher = publishing.await.unwrap();
    publisher.close().await;
    draining.abort();
    reader.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_cut_loses_nothing_over_websocket() {
    cut_while_publishing(TransportChoice::Ws).await;
}

#[tokio::test]
async fn a_cut_loses_nothing_over_http_streaming() {
    cut_while_publishing(TransportChoice::Stream).await;
}

#[tokio::test]
async fn a_cut_loses_nothing_over_long_polling() {
    cut_while_publishing(TransportChoice::Poll).await;
}
