//! Stories against an original-system server: no welcome, no ids, no acks, no pongs.

use tack_client::{ClientEvent, ConnectionStatus, Profile, SendState, Session};
use tack_testkit::engine::{is_status, quick_options, secs, Events};
use tack_testkit::legacy::LegacyServer;

#[tokio::test]
async fn an_original_server_still_lets_you_enter_send_and_read_decoded_text() {
    let server = LegacyServer::start().await;
    let (session, rx) = Session::connect(Profile::new("old", server.url()), quick_options());
    let mut events = Events::new(rx);
    session.enter("test").unwrap();
    let info = events
        .wait_for("server info", secs(5), |e| {
            matches!(e, ClientEvent::Server(_))
        })
        .await;
    let ClientEvent::Server(info) = info else {
        unreachable!()
    };
    assert_eq!(info.server, "legacy");
    assert!(
        !info.resume && !info.acks,
        "resume and acks are reported unavailable"
    );
    events
        .wait_for(
            "joined",
            secs(5),
            |e| matches!(e, ClientEvent::Joined { room } if room == "test"),
        )
        .await;

    let cid = session.send("test", "<b>bold</b> & \"quoted\"").unwrap();
    events
        .wait_for("sent without an id", secs(5), |e| {
            matches!(e, ClientEvent::Send { cid: c, state: SendState::Sent { id: None }, .. } if *c == cid)
        })
        .await;
    let msg = events
        .wait_for("the broadcast", secs(5), |e| {
            matches!(e, ClientEvent::Message { .. })
        })
        .await;
    let ClientEvent::Message {
        room, comment, id, ..
    } = msg
    else {
        unreachable!()
    };
    assert_eq!(room, "test");
    assert_eq!(
        comment, "<b>bold</b> & \"quoted\"",
        "HTML entities are decoded for display"
    );
    assert_eq!(id, None);
    session.close().await;
}

#[tokio::test]
async fn a_server_that_never_answers_pings_stays_connected_for_several_heartbeats() {
    let server = LegacyServer::start().await;
    let opts = quick_options(); // heartbeat 1 s
    let (session, rx) = Session::connect(Profile::new("old", server.url()), opts);
    let mut events = Events::new(rx);
    session.enter("quiet").unwrap();
    events
        .wait_for("connected", secs(5), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    // Five heartbeats of silence: nothing may change the connection state.
    let deadline = tokio::time::Instant::now() + secs(5);
    while let Some(ev) = events
        .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        assert!(
            !matches!(ev, ClientEvent::State(_)),
            "the connection changed: {ev:?}"
        );
    }
    // And it still works.
    session.send("quiet", "still here").unwrap();
    events
        .wait_for(
            "the message",
            secs(5),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "still here"),
        )
        .await;
    session.close().await;
}
