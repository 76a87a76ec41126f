//! `POST /publish/` with Pushpin's body reaches every kind of watcher; bad bodies get Pushpin's texts.

use tack_testkit::clients::{of_type, poll, Client, Via};
use tack_testkit::server::{start, start_with};
const BODY: &str = r#"{"items":[{"channel":"orders","id":"7","prev-id":"6","formats":{
  "ws-message":{"content":"ws text"},
  "http-stream":{"content":"event: x\ndata: stream text\n\n"},
  "http-response":{"code":200,"headers":{"Content-Type":"text/plain"},"body":"poll text\n"}}}]}"#;

async fn publish(
    server: &tack_server::ServerHandle,
    body: &str,
    token: Option<&str>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/publish/", server.control_url()))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_pushpin_publish_reaches_websocket_stream_and_poll_watchers_in_their_format() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.send(r#"watch:{"channel":"orders"}"#).await;
    ws.send("ping:{}").await;
    ws.until("pong").await; // the watch is in place
    let mut sse = Client::guest_with(&server, Via::Stream, "watch=orders").await;
    let first = poll(&server, "watch=orders").await;
    let poller = first[0]["session"].as_str().unwrap().to_owned();

    assert_eq!(
        publish(&server, BODY, None).await,
        (200, "Published\n".to_owned())
    );

    let raw = ws.until("raw").await;
    assert_eq!(
        (raw["channel"].as_str(), raw["id"].as_u64()),
        (Some("orders"), Some(1))
    );
    assert_eq!(raw["payload"], "ws text");
    assert_eq!(
        sse.until("raw").await["payload"],
        "event: x\ndata: stream text\n\n"
    );
    let polled = poll(&server, &format!("session={poller}")).await;
    assert_eq!(of_type(&polled, "raw")[0]["payload"], "poll text\n");
    server.shutdown().await;
}

#[tokio::test]
async fn an_item_without_a_transports_format_still_reaches_its_watchers() {
    let server = start().await;
    let mut ws = Client::guest(&server, Via::WebSocket).await;
    ws.send(r#"watch:{"channel":"feed"}"#).await;
    ws.send("ping:{}").await;
    ws.until("pong").await;
    let body = r#"{"items":[{"channel":"feed","formats":{"http-response":{"body":"only poll"}}}]}"#;
    assert_eq!(publish(&server, body, None).await.0, 200);
    assert_eq!(ws.until("raw").await["payload"], "only poll");
    let bin = r#"{"items":[{"channel":"feed","formats":{"ws-message":{"content-bin":"AAEC"}}}]}"#;
    assert_eq!(publish(&server, bin, None).await.0, 200);
    let raw = ws.until("raw").await;
    assert_eq!(
        (raw["payload"].as_str(), raw["binary"].as_bool()),
        (Some("AAEC"), Some(true))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_publish_bodies_get_pushpins_error_texts() {
    let server = start().await;
    let cases = [
        ("not json", "Body is not valid JSON.\n"),
        (
            r#"{"nothing":1}"#,
            "Invalid format: object does not contain 'items'\n",
        ),
        (
            r#"{"items":[{"channel":"a","formats":{}}]}"#,
            "Invalid format: no formats specified\n",
        ),
        (
            r#"{"items":[{"channel":"a","formats":{"ws-message":{}}}]}"#,
            "Invalid format: 'ws-message' does not contain 'content' or 'content-bin'\n",
        ),
    ];
    for (body, text) in cases {
        assert_eq!(
            publish(&server, body, None).await,
            (400, text.to_owned()),
            "{body}"
        );
    }
    // The server still publishes afterwards.
    assert_eq!(publish(&server, BODY, None).await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_configured_publish_token_is_required() {
    let server = start_with(|c| c.publish_token = Some("s3cret".into())).await;
    assert_eq!(publish(&server, BODY, None).await.0, 401);
    assert_eq!(publish(&server, BODY, Some("wrong")).await.0, 401);
    assert_eq!(publish(&server, BODY, Some("s3cret")).await.0, 200);
    server.shutdown().await;
}
