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
