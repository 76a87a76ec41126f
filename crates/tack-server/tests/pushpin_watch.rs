//! Monitors behind Pushpin: a watcher on each transport gets what a backend publishes to the
//! origin's `/publish/` — each in its own transport's format — and a room's chat as `raw`.

use tack_testkit::clients::{Client, Via};
use tack_testkit::stage::Stage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_on_every_transport_see_published_items_and_room_traffic() {
    let stage = Stage::start(1).await;
    let front = stage.front(0);
    let mut watchers = Vec::new();
    for (via, nick) in [
        (Via::WebSocket, "ws-eye"),
        (Via::Stream, "stream-eye"),
        (Via::Poll, "poll-eye"),
    ] {
        let mut client = Client::connect(&front, via, nick).await;
        let replies = client.send(r#"watch:{"channel":"orders","since":0}"#).await;
        assert!(replies.is_empty(), "{replies:?}");
        client
            .until_matching("resumed", |e| e["channel"] == "orders")
            .await;
        client.send(r#"watch:{"channel":"lobby"}"#).await;
        watchers.push((via, client));
    }

    // A backend publishes one item with a different text per transport.
    let body = serde_json::json!({"items": [{"channel": "orders", "formats": {
        "ws-message": {"content": "via ws"},
        "http-stream": {"content": "via stream"},
        "http-response": {"body": "via poll"}}}]});
    let published = reqwest::Client::new()
        .post(format!("{}/publish/", stage.origin.control_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);

    let mut talker = Client::connect(&front, Via::WebSocket, "talker").await;
    talker.enter("lobby").await;
    talker
        .send(r#"chatMessage:{"room":"lobby","comment":"seen by monitors"}"#)
        .await;

    for (via, client) in &mut watchers {
        let expected = match via {
            Via::WebSocket => "via ws",
            Via::Stream => "via stream",
            Via::Poll => "via poll",
        };
        // The two channels' events may interleave either way; each arrives once.
        let (mut published, mut chat) = (None, None);
        while published.is_none() || chat.is_none() {
            let raw = client.until("raw").await;
            let payload = raw["payload"].as_str().unwrap().to_owned();
            if raw["channel"] == "orders" {
                assert_eq!(payload, expected, "{via:?}: {raw}");
                assert_eq!(raw["id"], 1);
                published = Some(raw);
            } else if payload.contains("chatMessage") {
                // Chat in a watched room arrives as raw, the event's JSON as the payload.
                let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
                assert_eq!(event["comment"], "seen by monitors", "{via:?}");
                chat = Some(raw);
            }
        }
        assert_eq!(client.repeats, 0, "{via:?} saw an item twice");
    }
    stage.origin.shutdown().await;
}
