//! The client engine (`tack_client::Session`, what the CLI and the desktop app use) connects
//! through Pushpin unchanged, on every transport, and chats with a client on another one.

use std::time::Duration;
use tack_client::{ClientEvent, Profile, SendState, Session, TransportChoice};
use tack_testkit::clients::{Client, Via};
use tack_testkit::engine::{secs, Events};
use tack_testkit::stage::Stage;

async fn next_event(events: &mut Events) -> ClientEvent {
    events.next(secs(20)).await.expect("engine events in time")
}

async fn the_engine_chats_through_pushpin(transport: TransportChoice) {
    let stage = Stage::start(1).await;
    let url = stage.url(0);
    // A plain client first: Pushpin's proxy is up once it gets through.
    let mut bob = Client::connect(stage.front(0), Via::WebSocket, "bob").await;
    bob.enter("lobby").await;

    let mut profile = Profile::new("pushpin", url.clone());
    profile.transport = transport;
    profile.nick = Some("ann".into());
    let options = tack_client::SessionOptions {
        poll_hold: Duration::from_secs(5),
        ..Default::default()
    };
    let (ann, rx) = Session::connect(profile, options);
    let mut events = Events::new(rx);
    ann.enter("lobby").unwrap();
    loop {
        if let ClientEvent::Presence {
            room,
            viewers,
            users,
        } = next_event(&mut events).await
        {
            assert_eq!(room, "lobby");
            assert_eq!(viewers, 2);
            assert_eq!(users, ["ann", "bob"]);
            break;
        }
    }
    let entered = bob
        .until_matching("chatRoomEnter", |e| e["user"] == "ann")
        .await;
    assert_eq!(entered["viewers"], 2);

    let cid = ann.send("lobby", "hi bob").unwrap();
    let heard = bob.until("chatMessage").await;
    assert_eq!(heard["comment"], "hi bob");
    assert_eq!(heard["user"], "ann");
    assert_eq!(heard["cid"], cid.as_str());

    bob.send(r#"chatMessage:{"room":"lobby","comment":"hi ann"}"#)
        .await;
    let (mut acked, mut own, mut theirs) = (false, false, false);
    while !(acked && own && theirs) {
        match next_event(&mut events).await {
            ClientEvent::Send {
                cid: c,
                state: SendState::Sent { id: Some(id) },
                ..
            } if c == cid => {
                assert_eq!(Some(id), heard["id"].as_u64());
                acked = true;
            }
            ClientEvent::Message { comment, user, .. } if comment == "hi bob" => {
                assert_eq!(user, "ann");
                own = true;
            }
            ClientEvent::Message { comment, user, .. } if comment == "hi ann" => {
                assert_eq!(user, "bob");
                theirs = true;
            }
            _ => {}
        }
    }
    ann.leave("lobby").unwrap();
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(left["user"], "ann");
    assert_eq!(left["viewers"], 1);
    ann.close().await;
    stage.origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_on_websocket_through_pushpin() {
    the_engine_chats_through_pushpin(TransportChoice::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_on_http_streaming_through_pushpin() {
    the_engine_chats_through_pushpin(TransportChoice::Stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_on_long_polling_through_pushpin() {
    the_engine_chats_through_pushpin(TransportChoice::Poll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_choosing_for_itself_through_pushpin() {
    the_engine_chats_through_pushpin(TransportChoice::Auto).await;
}
