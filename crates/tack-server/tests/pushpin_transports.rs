//! Chat through the real Pushpin on each transport: enter, see others come and go with the
//! right viewer counts, chat, leave — the same events as on the built-in server.

use tack_testkit::clients::{Client, Via};
use tack_testkit::stage::Stage;

async fn a_room_story(via: Via) {
    let stage = Stage::start(1).await;
    let front = stage.front(0);
    let room = "lobby";

    let mut ann = Client::connect(&front, via, "ann").await;
    let (presence, entered) = ann.enter(room).await;
    assert_eq!(presence["viewers"], 1, "{presence}");
    assert_eq!(entered["viewers"], 1, "{entered}");

    let mut bob = Client::connect(&front, via, "bob").await;
    let (presence, entered) = bob.enter(room).await;
    assert_eq!(presence["viewers"], 2, "{presence}");
    assert_eq!(presence["users"], serde_json::json!(["ann", "bob"]));
    assert_eq!(entered["viewers"], 2);

    let seen = ann
        .until_matching("chatRoomEnter", |e| e["user"] == "bob")
        .await;
    assert_eq!(seen["viewers"], 2, "{seen}");

    let replies = bob
        .send(r#"chatMessage:{"room":"lobby","comment":"hello ann","cid":"b-1"}"#)
        .await;
    let message = ann.until("chatMessage").await;
    assert_eq!(message["user"], "bob");
    assert_eq!(message["comment"], "hello ann");
    assert_eq!(message["id"], seen["id"].as_u64().unwrap() + 1);
    // The sender gets its own message on its stream, and an ack (on a WebSocket as an event,
    // in either order; on HTTP in the reply to /send).
    let mut ack = replies.into_iter().find(|r| r["type"] == "ack");
    let mut own = None;
    while own.is_none() || ack.is_none() {
        let event = bob.next().await;
        match event["type"].as_str() {
            Some("chatMessage") => own = Some(event),
            Some("ack") => ack = Some(event),
            _ => {}
        }
    }
    assert_eq!(own.unwrap()["cid"], "b-1");
    assert_eq!(ack.unwrap()["id"], message["id"]);
    assert_eq!(bob.repeats, 0, "bob saw an event twice");

    bob.send(r#"chatRoomLeave:{"room":"lobby"}"#).await;
    let left = ann.until("chatRoomLeave").await;
    assert_eq!(left["user"], "bob");
    assert_eq!(left["viewers"], 1, "{left}");
    assert_eq!(ann.repeats, 0, "ann saw an event twice");

    stage.origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_clients_chat_through_pushpin() {
    a_room_story(Via::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_clients_chat_through_pushpin() {
    a_room_story(Via::Stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_clients_chat_through_pushpin() {
    a_room_story(Via::Poll).await;
}
