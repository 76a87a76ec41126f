//! Viewer counts stay right behind Pushpin: a closed WebSocket leaves at once; an HTTP client
//! stays while it is heard from (a streaming client pings through `/send`, as the client engine
//! does) and leaves one TTL after it falls silent, since Pushpin never says it went away — and
//! then its held stream ends, so a client that is still there reconnects and counts again.

use std::time::Duration;
use tack_testkit::clients::{Client, Via};
use tack_testkit::stage::Stage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_websocket_leaves_its_rooms_at_once() {
    let stage = Stage::start(1).await;
    let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
    let mut bob = Client::connect(stage.front(0), Via::WebSocket, "bob").await;
    ann.enter("lobby").await;
    bob.enter("lobby").await;
    ann.close().await;
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(left["user"], "ann");
    assert_eq!(left["viewers"], 1);
    stage.origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_client_stays_while_it_pings_and_leaves_a_ttl_after_it_falls_silent() {
    let stage = Stage::start_with(1, |config| config.session_ttl_secs = 3).await;
    let mut cat = Client::connect(stage.front(0), Via::Stream, "cat").await;
    cat.enter("lobby").await;
    // Well past the TTL, cat pings six times a TTL, as the engine pings every half heartbeat:
    // the pings keep its session (Pushpin no longer refreshes held streams on a timer). With
    // pings only twice a TTL, one second of scheduling delay on a loaded machine let the
    // session expire between two pings, and the story failed for the wrong reason.
    let mut heartbeat = tokio::time::interval(Duration::from_millis(500));
    for _ in 0..10 {
        heartbeat.tick().await;
        let pong = cat.send(r#"ping:{"t":1}"#).await;
        assert_eq!(pong[0]["type"], "pong", "{pong:?}");
    }
    let mut bob = Client::connect(stage.front(0), Via::WebSocket, "bob").await;
    let (presence, _) = bob.enter("lobby").await;
    assert_eq!(
        presence["users"],
        serde_json::json!(["bob", "cat"]),
        "{presence}"
    );
    let seen = cat
        .until_matching("chatRoomEnter", |e| e["user"] == "bob")
        .await;
    assert_eq!(seen["viewers"], 2);

    // Cat falls silent while Pushpin still holds its stream: the TTL makes it leave…
    let silent = tokio::time::Instant::now();
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(left["user"], "cat");
    assert_eq!(left["viewers"], 1);
    assert!(
        silent.elapsed() < Duration::from_secs(10),
        "{:?}",
        silent.elapsed()
    );
    // …and its stream ends, rather than carrying the room to a client nobody counts.
    cat.closed().await;
    stage.origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_shutting_down_tells_every_client_to_reconnect() {
    let stage = Stage::start(1).await;
    let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
    let mut cat = Client::connect(stage.front(0), Via::Stream, "cat").await;
    ann.enter("lobby").await;
    cat.enter("lobby").await;
    stage.origin.shutdown().await;
    let (code, reason) = ann.close_frame().await;
    assert_eq!(code, 1001, "going away: {reason}");
    assert!(reason.contains("server restarting, reconnect"), "{reason}");
    cat.closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_gets_keep_alive_comments_from_pushpin() {
    let stage = Stage::start_with(1, |config| config.keepalive_secs = 1).await;
    // Through our client first, so Pushpin's proxy is known to be ready.
    Client::connect(stage.front(0), Via::Stream, "probe").await;
    let mut response = reqwest::Client::new()
        .get(format!("{}/stream", stage.url(0)))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("\n:\n") && !seen.starts_with(":\n") {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no keep-alive in 10 s; got {seen:?}"))
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    stage.origin.shutdown().await;
}
