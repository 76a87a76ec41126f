//! Where time is the subject: history that ages out, HTTP clients whose presence expires when
//! they stop polling, and the stream's keep-alive comments.

use axum::extract::ws::Utf8Bytes;
use std::time::Duration;
use tack_server::feed::Retention;
use tack_server::hub::Hub;
use tack_server::item::ItemBody;
use tack_server::memory_hub::MemoryHub;
use tack_testkit::clients::{of_type, poll, Client, Via};
use tack_testkit::server::start_with;

#[tokio::test(start_paused = true)]
async fn history_older_than_its_age_is_forgotten_but_newer_items_stay() {
    let hub = MemoryHub::new(Retention {
        len: 100,
        live: Duration::from_secs(2),
        age: Duration::from_secs(60),
        max_bytes: usize::MAX,
    });
    let item = || ItemBody::Chat(Utf8Bytes::from_static(r#"{"type":"chatMessage"}"#));
    hub.publish("orders", item()).await.unwrap();
    hub.publish("orders", item()).await.unwrap();
    tokio::time::advance(Duration::from_secs(45)).await;
    let newer = hub.publish("orders", item()).await.unwrap();
    tokio::time::advance(Duration::from_secs(20)).await;
    hub.sweep().await;

    // A watcher resuming from the start gets only what is kept, and is told so.
    let joined = hub.watch("orders", Some(0)).await.unwrap();
    let kept: Vec<u64> = joined
        .feed
        .range(joined.start, u64::MAX)
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(kept, [newer], "only the item younger than 60 s is kept");
    assert!(!joined.resumed.unwrap().recovered);
}

#[tokio::test]
async fn a_poller_that_stops_polling_leaves_its_rooms_after_the_ttl() {
    let server = start_with(|c| c.session_ttl_secs = 1).await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("lobby").await;

    let first = poll(&server, "nick=pat&rooms=lobby").await;
    let welcome = of_type(&first, "welcome")[0];
    assert_eq!(welcome["nick"], "pat");
    let entered = ann.until("chatRoomEnter").await;
    assert_eq!(
        (entered["user"].as_str(), entered["viewers"].as_u64()),
        (Some("pat"), Some(2))
    );

    // Pat never polls again: one TTL later the room hears that pat left.
    let left = ann.until("chatRoomLeave").await;
    assert_eq!(left["user"], "pat");
    assert_eq!(left["viewers"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_quiet_stream_gets_keep_alive_comments() {
    let server = start_with(|c| c.keepalive_secs = 1).await;
    let mut sse = Client::guest_with(&server, Via::Stream, "rooms=quiet").await;
    loop {
        let item = sse.next_item().await;
        if item.get("sse_comment").is_some() {
            break;
        }
    }
    // The stream is still good for events after the keep-alive.
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("quiet").await;
    assert_eq!(sse.until("chatRoomEnter").await["user"], "ann");
    server.shutdown().await;
}
