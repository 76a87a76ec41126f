//! `hello.takeover`: a client moving from an HTTP session to a new one (an upgrade to
//! WebSocket, a reconnect) stays one viewer; nobody sees it leave and come back.

use tack_testkit::clients::{send, Client, Via};
use tack_testkit::server::start;
#[tokio::test]
async fn a_websocket_takes_over_a_stream_session_without_a_leave_or_an_enter() {
    let server = start().await;
    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    let mut stream = Client::connect_with(&server, Via::Stream, "ann", "rooms=lobby").await;
    let entered = bob.until("chatRoomEnter").await;
    assert_eq!(
        (entered["user"].as_str(), entered["viewers"].as_u64()),
        (Some("ann"), Some(2))
    );
    let (status, _) = send(
        &server,
        &stream.session,
        r#"chatMessage:{"room":"lobby","comment":"over the stream"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let said = bob.until("chatMessage").await;
    let seen = said["id"].as_u64().unwrap();

    let mut ann = Client::guest(&server, Via::WebSocket).await;
    ann.send(&format!(
        r#"hello:{{"nick":"ann","takeover":"{}"}}"#,
        stream.session
    ))
    .await;
    ann.send(&format!(
        r#"chatRoomEnter:{{"room":"lobby","since":{seen}}}"#
    ))
    .await;
    let presence = ann.until("presence").await;
    assert_eq!(presence["viewers"], 2, "ann once, bob once: {presence}");
    let resumed = ann.until("resumed").await;
    assert_eq!(resumed["recovered"], true);
    stream.closed().await;
    let (status, _) = send(&server, &stream.session, "ping:").await;
    assert_eq!(status, 404, "the old session is gone at once");

    ann.send(r#"chatMessage:{"room":"lobby","comment":"over the websocket"}"#)
        .await;
    let next = bob.next().await;
    assert_eq!(
        (next["type"].as_str(), next["comment"].as_str()),
        (Some("chatMessage"), Some("over the websocket")),
        "no leave or enter came between: {next}"
    );
    // When the new session ends, ann leaves once, as the one viewer she was all along.
    drop(ann);
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(
        (left["user"].as_str(), left["viewers"].as_u64()),
        (Some("ann"), Some(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_takeover_after_entering_a_room_is_ignored() {
    let server = start().await;
    let stream = Client::connect_with(&server, Via::Stream, "ann", "rooms=lobby").await;
    let mut other = Client::connect(&server, Via::WebSocket, "bea").await;
    other.enter("hall").await;
    other
        .send(&format!(
            r#"hello:{{"nick":"bea","takeover":"{}"}}"#,
            stream.session
        ))
        .await;
    other.send(r#"ping:{"t":1}"#).await;
    assert_eq!(other.until("pong").await["t"], 1, "no error, no reply");
    let (status, _) = send(&server, &stream.session, "ping:").await;
    assert_eq!(status, 200, "the stream session keeps its rooms");
    server.shutdown().await;
}

#[tokio::test]
async fn a_takeover_naming_no_session_is_a_plain_hello_and_a_bad_id_is_refused() {
    let server = start().await;
    let mut ann = Client::guest(&server, Via::WebSocket).await;
    ann.send(r#"hello:{"nick":"ann","takeover":"0000"}"#).await;
    ann.nick = "ann".into();
    ann.enter("lobby").await;
    ann.send(r#"hello:{"nick":"ann","takeover":"../etc"}"#)
        .await;
    let error = ann.until("error").await;
    assert_eq!(error["code"], "bad_field", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("takeover"),
        "{error}"
    );
    server.shutdown().await;
}
