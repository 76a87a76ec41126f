//! Every limit and malformed input: the specific error, and the connection still works after.

use tack_testkit::clients::{poll, send, ws_url, Client, Via};
use tack_testkit::server::{start, start_with};
use tokio_tungstenite::tungstenite::Message;

async fn still_works(ws: &mut Client) {
    ws.send(r#"ping:{"t":99}"#).await;
    assert_eq!(ws.until("pong").await["t"], 99);
}

#[tokio::test]
async fn malformed_frames_get_a_named_error_and_the_socket_stays_open() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.enter("ok").await;
    let long_room = "x".repeat(65);
    let cases = [
        ("no colon at all", "bad_frame"),
        (r#"shout:{"room":"a"}"#, "unknown_event"),
        ("chatMessage:{nope", "bad_json"),
        (r#"chatMessage:{"room":"ok"}"#, "missing_field"),
        (r#"chatRoomEnter:{"room":"a\nb"}"#, "invalid_name"),
        (
            &format!(r#"chatRoomEnter:{{"room":"{long_room}"}}"#),
            "invalid_name",
        ),
        (r#"chatRoomEnter:{"room":"a","since":"x"}"#, "bad_field"),
        (
            r#"chatMessage:{"room":"elsewhere","comment":"hi"}"#,
            "not_in_room",
        ),
        (r#"hello:{"nick":""}"#, "invalid_name"),
    ];
    for (frame, code) in cases {
        ws.send(frame).await;
        let error = ws.until("error").await;
        assert_eq!(error["code"], code, "{frame} → {error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
        still_works(&mut ws).await;
    }
    // A binary frame is refused the same way.
    ws.send_message(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(ws.until("error").await["code"], "bad_frame");
    still_works(&mut ws).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.send(&format!(
        r#"chatMessage:{{"room":"a","comment":"{}"}}"#,
        "x".repeat(20_000)
    ))
    .await;
    let (code, reason) = ws.close_frame().await;
    assert_eq!(code, 1009, "{reason}");
    // The server is fine: a new connection works.
    let mut again = Client::guest(&server, Via::WebSocket).await;
    still_works(&mut again).await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    // A text frame whose bytes are not UTF-8; tungstenite's client sends it as-is.
    let bad = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'p', 0xff, 0xfe],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    ws.send_message(Message::Frame(bad)).await;
    let (code, _) = ws.close_frame().await;
    assert_eq!(code, 1007);
    let mut again = Client::guest(&server, Via::WebSocket).await;
    still_works(&mut again).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_http_body_over_the_limit_gets_413_and_the_session_still_works() {
    let server = start().await;
    let first = poll(&server, "rooms=r").await;
    let session = first[0]["session"].as_str().unwrap().to_owned();
    let huge = format!(
        r#"chatMessage:{{"room":"r","comment":"{}"}}"#,
        "x".repeat(200_000)
    );
    let response = reqwest::Client::new()
        .post(format!("{}/send?session={session}", server.url()))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let (status, replies) = send(&server, &session, r#"ping:{"t":3}"#).await;
    assert_eq!((status, replies[0]["type"].as_str()), (200, Some("pong")));
    server.shutdown().await;
}

#[tokio::test]
async fn send_to_an_unknown_session_is_404_unknown_session() {
    let server = start().await;
    let (status, replies) = send(&server, "no-such-session", "ping:{}").await;
    assert_eq!(status, 404);
    assert_eq!(replies[0]["code"], "unknown_session");
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_messages_a_second_are_rate_limited_not_disconnected() {
    let server = start_with(|c| {
        c.messages_per_second = 1;
        c.message_burst = 2;
    })
    .await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.enter("r").await;
    for i in 0..3 {
        ws.send(&format!(
            r#"chatMessage:{{"room":"r","comment":"m{i}","cid":"c{i}"}}"#
        ))
        .await;
    }
    let error = ws.until("error").await;
    assert_eq!(
        (error["code"].as_str(), error["cid"].as_str()),
        (Some("rate_limited"), Some("c2"))
    );
    still_works(&mut ws).await;
    server.shutdown().await;
}

#[tokio::test]
async fn joining_more_rooms_than_allowed_is_refused_with_too_many_rooms() {
    let server = start_with(|c| c.max_rooms_per_connection = 2).await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.enter("a").await;
    ws.enter("b").await;
    ws.send(r#"watch:{"channel":"c"}"#).await;
    assert_eq!(ws.until("error").await["code"], "too_many_rooms");
    // Leaving one makes room.
    ws.send(r#"chatRoomLeave:{"room":"a"}"#).await;
    ws.enter("c").await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_global_connection_cap_answers_503_naming_the_setting_and_the_first_client_stays() {
    let server = start_with(|c| c.max_connections = 1).await;
    let mut first = Client::guest(&server, Via::WebSocket).await;
    // Every connection counts, whatever it asks for: a WebSocket upgrade and a poll alike.
    let refused = tokio_tungstenite::connect_async(ws_url(&server.url()))
        .await
        .expect_err("no room for a second connection");
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP refusal, got {refused}")
    };
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("max_connections"), "{body}");
    let response = reqwest::get(format!("{}/poll", server.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    still_works(&mut first).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_consumer_is_kicked_with_a_reason_and_nobody_else_waits() {
    let server = start_with(|c| {
        c.history_len = 8;
        c.live_window_ms = 0;
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;
    let mut fast = Client::connect(&server, Via::WebSocket, "fast").await;
    fast.enter("busy").await;
    // The slow client enters and then never reads.
    let mut slow = Client::connect(&server, Via::WebSocket, "slow").await;
    slow.enter("busy").await;
    fast.until("chatRoomEnter").await;
    // Enough traffic to fill the slow client's socket buffers and then its queue.
    let comment = "y".repeat(8_000);
    let mut slow_left = None;
    for _ in 0..2_000 {
        fast.send(&format!(
            r#"chatMessage:{{"room":"busy","comment":"{comment}"}}"#
        ))
        .await;
        // Read up to fast's own message; note a leave on the way.
        loop {
            let event = fast.next().await;
            if event["type"] == "chatRoomLeave" {
                slow_left = Some(event);
            } else if event["type"] == "chatMessage" {
                break;
            }
        }
        if slow_left.is_some() {
            break;
        }
    }
    let left = slow_left.expect("the slow consumer was kicked and left the room");
    assert_eq!(
        (left["user"].as_str(), left["viewers"].as_u64()),
        (Some("slow"), Some(1))
    );
    let metrics = reqwest::get(format!("{}/metrics", server.control_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tack_slow_consumer_kicks_total 1"),
        "{metrics}"
    );
    // The slow client, once it reads, finds a close with the reason.
    let (code, reason) = slow.close_frame().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("too slow"), "{reason}");
    server.shutdown().await;
}
