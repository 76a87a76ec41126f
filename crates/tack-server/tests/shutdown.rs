//! Graceful shutdown: WebSockets get 1001 with a reason; held polls are answered.

use tack_testkit::clients::{poll, Client, Via, WAIT};
use tack_testkit::server::start;
#[tokio::test]
async fn shutdown_closes_websockets_with_1001_and_answers_held_polls() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.enter("r").await;
    let first = poll(&server, "rooms=r").await;
    let session = first[0]["session"].as_str().unwrap().to_owned();
    let held = tokio::spawn({
        let url = server.url();
        async move {
            let response =
                reqwest::get(format!("{url}/poll?session={session}&since=r:2&timeout=60"))
                    .await
                    .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    // ws sees the poller's enter; the poll is then holding with nothing new.
    ws.until("chatRoomEnter").await;
    let mut sse = Client::guest_with(&server, Via::Stream, "rooms=s").await;
    sse.until("chatRoomEnter").await;

    let stopping = tokio::spawn(server.shutdown());
    let (code, reason) = ws.close_frame().await;
    assert_eq!(
        (code, reason.as_str()),
        (1001, "server restarting, reconnect")
    );
    let (status, body) = tokio::time::timeout(WAIT, held).await.unwrap().unwrap();
    // Answered at once: empty, or with the leave of the WebSocket that just closed.
    assert_eq!(status, 200);
    let events: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert!(
        events.iter().all(|e| e["type"] == "chatRoomLeave"),
        "{body}"
    );
    sse.closed().await;
    tokio::time::timeout(WAIT, stopping).await.unwrap().unwrap();
}

/// Publishing is served on a thread of its own (`control_thread.rs`): it must end with the
/// server, so the next server can take the same port and nobody is left answering there.
#[tokio::test]
async fn a_stopped_server_gives_its_publish_port_back() {
    let server = start().await;
    let control = server.control_addr();
    let published = reqwest::Client::new()
        .post(format!("{}/publish/", server.control_url()))
        .body(r#"{"items":[{"channel":"c","formats":{"ws-message":{"content":"hi"}}}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);

    tokio::time::timeout(WAIT, server.shutdown()).await.unwrap();
    let refused = reqwest::Client::new()
        .post(format!("http://{control}/publish/"))
        .body("{}")
        .send()
        .await;
    assert!(
        refused.as_ref().is_err_and(|e| e.is_connect()),
        "{refused:?}"
    );
    tokio::net::TcpListener::bind(control)
        .await
        .expect("the publish port is free again");
}
