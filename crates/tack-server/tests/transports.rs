//! The same chat story on each transport, and mixed transports in one room.

use tack_testkit::clients::{of_type, poll, send, Client, Via};
use tack_testkit::server::start;
#[tokio::test]
async fn on_a_websocket_ann_enters_chats_and_leaves() {
    let server = start().await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    let (_, entered) = ann.enter("lobby").await;
    assert_eq!(entered["id"], 1);
    assert_eq!(entered["viewers"], 1);

    ann.send(r#"chatMessage:{"room":"lobby","comment":"hi all","cid":"c1"}"#)
        .await;
    let message = ann.until("chatMessage").await;
    assert_eq!(message["id"], 2);
    assert_eq!(message["user"], "ann");
    assert_eq!(message["comment"], "hi all");
    assert!(message["ts"].as_u64().unwrap() > 1_600_000_000_000);
    let ack = ann.until("ack").await;
    assert_eq!(
        (ack["cid"].as_str(), ack["id"].as_u64()),
        (Some("c1"), Some(2))
    );

    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    ann.send(r#"chatRoomLeave:{"room":"lobby"}"#).await;
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(
        (left["user"].as_str(), left["viewers"].as_u64()),
        (Some("ann"), Some(1))
    );

    ann.send(r#"ping:{"t":42}"#).await;
    assert_eq!(ann.until("pong").await["t"], 42);
    server.shutdown().await;
}

#[tokio::test]
async fn on_a_stream_ann_enters_chats_and_leaves() {
    let server = start().await;
    let mut ann = Client::connect_with(&server, Via::Stream, "ann", "rooms=lobby").await;
    let presence = ann.next().await;
    assert_eq!(presence["type"], "presence");
    assert_eq!(presence["viewers"], 1);
    let entered = ann.next().await;
    assert_eq!(
        (entered["type"].as_str(), entered["user"].as_str()),
        (Some("chatRoomEnter"), Some("ann"))
    );
    assert_eq!(ann.last_event_id(), Some("lobby:1"));

    let (status, replies) = send(
        &server,
        &ann.session,
        "chatMessage:{\"room\":\"lobby\",\"comment\":\"hello\",\"cid\":\"a\"}\nping:{\"t\":5}",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(replies[0]["type"], "ack");
    assert_eq!(replies[0]["id"], 2);
    assert_eq!(replies[1]["type"], "pong");
    let message = ann.next().await;
    assert_eq!(
        (message["comment"].as_str(), message["id"].as_u64()),
        (Some("hello"), Some(2))
    );
    assert!(message["ts"].as_u64().is_some());
    assert_eq!(ann.last_event_id(), Some("lobby:2"));

    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    let (_, replies) = send(&server, &ann.session, r#"chatRoomLeave:{"room":"lobby"}"#).await;
    assert!(replies.is_empty(), "{replies:?}");
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(
        (left["user"].as_str(), left["viewers"].as_u64()),
        (Some("ann"), Some(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn by_long_polling_ann_enters_chats_and_leaves() {
    let server = start().await;
    let first = poll(&server, "nick=ann&rooms=lobby").await;
    let kinds: Vec<&str> = first.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["welcome", "presence", "chatRoomEnter"]);
    let session = first[0]["session"].as_str().unwrap().to_owned();

    let (_, replies) = send(
        &server,
        &session,
        r#"chatMessage:{"room":"lobby","comment":"polled hello","cid":"p1"}"#,
    )
    .await;
    assert_eq!(replies[0]["type"], "ack");
    let events = poll(&server, &format!("session={session}&since=lobby:1")).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["comment"], "polled hello");
    assert_eq!(events[0]["id"], 2);

    // Nothing new: the poll holds, and a message from someone else ends the hold.
    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    let events = poll(&server, &format!("session={session}&since=lobby:2")).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["user"].as_str(), events[0]["id"].as_u64()),
        (Some("bob"), Some(3))
    );

    let held = tokio::spawn({
        let url = server.url();
        let session = session.clone();
        async move {
            reqwest::get(format!("{url}/poll?session={session}&timeout=20"))
                .await
                .unwrap()
                .json::<Vec<serde_json::Value>>()
                .await
                .unwrap()
        }
    });
    bob.send(r#"chatMessage:{"room":"lobby","comment":"from bob"}"#)
        .await;
    let events = held.await.unwrap();
    assert_eq!(events[0]["comment"], "from bob");

    send(&server, &session, r#"chatRoomLeave:{"room":"lobby"}"#).await;
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(
        (left["user"].as_str(), left["viewers"].as_u64()),
        (Some("ann"), Some(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn mixed_transports_in_one_room_see_each_other_with_the_right_viewer_counts() {
    let server = start().await;
    let mut ws = Client::connect(&server, Via::WebSocket, "wes").await;
    let (_, entered) = ws.enter("mix").await;
    assert_eq!(entered["viewers"], 1);

    let mut sse = Client::connect_with(&server, Via::Stream, "sam", "rooms=mix").await;
    assert_eq!(sse.until("presence").await["viewers"], 2);
    let entered = ws.until("chatRoomEnter").await;
    assert_eq!(
        (entered["user"].as_str(), entered["viewers"].as_u64()),
        (Some("sam"), Some(2))
    );

    let polled = poll(&server, "nick=pat&rooms=mix").await;
    let presence = of_type(&polled, "presence")[0];
    assert_eq!(presence["viewers"], 3);
    assert_eq!(presence["users"], serde_json::json!(["pat", "sam", "wes"]));
    let pat = polled[0]["session"].as_str().unwrap().to_owned();
    assert_eq!(ws.until("chatRoomEnter").await["viewers"], 3);
    while sse.until("chatRoomEnter").await["user"] != "pat" {}

    ws.send(r#"chatMessage:{"room":"mix","comment":"from ws"}"#)
        .await;
    send(
        &server,
        &sse.session,
        r#"chatMessage:{"room":"mix","comment":"from sse"}"#,
    )
    .await;
    send(
        &server,
        &pat,
        r#"chatMessage:{"room":"mix","comment":"from poll"}"#,
    )
    .await;

    let mut seen_ws = Vec::new();
    while seen_ws.len() < 3 {
        seen_ws.push(
            ws.until("chatMessage").await["comment"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen_sse = Vec::new();
    while seen_sse.len() < 3 {
        seen_sse.push(
            sse.until("chatMessage").await["comment"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let polled = poll(&server, &format!("session={pat}")).await;
    let seen_poll: Vec<_> = of_type(&polled, "chatMessage")
        .iter()
        .map(|e| e["comment"].as_str().unwrap().to_owned())
        .collect();
    let expected = ["from ws", "from sse", "from poll"]
        .map(String::from)
        .to_vec();
    assert_eq!(seen_ws, expected);
    assert_eq!(seen_sse, expected);
    assert_eq!(seen_poll, expected);

    // A WebSocket drop counts as leaving.
    drop(ws);
    let left = sse.until("chatRoomLeave").await;
    assert_eq!(
        (left["user"].as_str(), left["viewers"].as_u64()),
        (Some("wes"), Some(2))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.enter("counted").await;
    let health = reqwest::get(format!("{}/healthz", server.url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let metrics = reqwest::get(format!("{}/metrics", server.control_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tack_connections{transport=\"ws\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tack_rooms 1"), "{metrics}");
    assert!(metrics.contains("tack_messages_in_total 1"), "{metrics}");
    server.shutdown().await;
}
