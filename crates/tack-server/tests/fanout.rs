//! 1,000 WebSocket clients in one room each receive one broadcast, none lost.

use futures_util::StreamExt;
use std::time::Duration;
use tack_testkit::clients::{ws_url, Client, Via};
use tack_testkit::server::start_with;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_websocket_clients_in_one_room_each_receive_one_broadcast() {
    const CLIENTS: usize = 1_000;
    // Nobody reads until everyone is in: the room must keep all thousand `chatRoomEnter`s (more
    // than its default history) for the first clients, which read them last.
    let server = start_with(|c| {
        c.max_connections = CLIENTS + 10;
        c.history_len = 2 * CLIENTS;
    })
    .await;
    let url = ws_url(&server.url());
    let mut readers = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let (mut socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        futures_util::SinkExt::send(
            &mut socket,
            Message::text(r#"chatRoomEnter:{"room":"big"}"#),
        )
        .await
        .unwrap();
        readers.push(socket);
    }
    // Each client waits for its presence (it is in the room), then for the one broadcast.
    let mut tasks = Vec::with_capacity(CLIENTS);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(CLIENTS);
    for mut socket in readers {
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = 0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, socket.next()).await {
                let Message::Text(text) = msg else { continue };
                let event: serde_json::Value = serde_json::from_str(&text).unwrap();
                match event["type"].as_str() {
                    Some("presence") => ready.send(()).await.unwrap(),
                    Some("chatMessage") if event["comment"] == "to everyone" => {
                        got += 1;
                        break;
                    }
                    _ => {}
                }
            }
            got
        }));
    }
    drop(ready_tx);
    for _ in 0..CLIENTS {
        tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await
            .expect("everyone entered in time");
    }
    let mut speaker = Client::guest(&server, Via::WebSocket).await;
    speaker.enter("big").await;
    speaker
        .send(r#"chatMessage:{"room":"big","comment":"to everyone"}"#)
        .await;
    let mut received = 0;
    for task in tasks {
        received += task.await.unwrap();
    }
    assert_eq!(
        received, CLIENTS,
        "every client got the broadcast exactly once"
    );
    server.shutdown().await;
}
