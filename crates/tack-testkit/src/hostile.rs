//! What an attacker sends: requests with headers of its choosing (a foreign `Origin`, a
//! rebinding `Host`, a missing or forged token), answered as status and body so a story can
//! check the refusal names the setting that would allow it.

use crate::clients::{ws_url, WAIT};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

/// A status and the body that came with it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// A WebSocket handshake to `base`'s `/ws` with `headers`; `Ok(first message)` when it was
/// accepted (the server's welcome), `Err(answer)` when it was refused.
///
/// The handshake goes through hyper's HTTP/1 client, not tungstenite's: on a refusal
/// tungstenite keeps only the body bytes that came with the head, and Pushpin sends a
/// refusal's head and body in separate writes, so the body a story checks was there or not by
/// chance. An accepted handshake goes on as a tungstenite stream over the upgraded connection.
pub async fn websocket(base: &str, headers: &[(&str, &str)]) -> Result<Value, Answer> {
    tokio::time::timeout(WAIT, handshake(base, headers))
        .await
        .expect("the handshake is answered in time")
}

async fn handshake(base: &str, headers: &[(&str, &str)]) -> Result<Value, Answer> {
    let url = ws_url(base);
    let rest = url
        .strip_prefix("ws://")
        .unwrap_or_else(|| panic!("a plain ws:// URL: {url}"));
    let (authority, path) = rest.split_once('/').expect("a path");
    let stream = TcpStream::connect(authority).await.expect("connects");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1 connection");
    tokio::spawn(connection.with_upgrades());

    let mut request = hyper::Request::get(format!("/{path}"))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", generate_key());
    // A story may pose as another host name (DNS rebinding): its `Host` replaces the real one.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request = request.header("Host", authority);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::<Bytes>::new()).expect("a request");
    let response = sender.send_request(request).await.expect("an answer");
    let status = response.status().as_u16();
    if status == 101 {
        use futures_util::StreamExt;
        let upgraded = hyper::upgrade::on(response).await.expect("upgraded");
        let mut socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        let first = socket
            .next()
            .await
            .expect("a first message")
            .expect("a readable first message");
        return Ok(serde_json::from_str(first.to_text().expect("text")).expect("JSON"));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes();
    Err(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// One HTTP request (`GET` when `body` is None, else `POST` with it) with `headers`.
pub async fn request(url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    let http = reqwest::Client::new();
    let mut request = match body {
        None => http.get(url),
        Some(body) => http.post(url).body(body.to_owned()),
    };
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(WAIT, request.send())
        .await
        .expect("answered in time")
        .expect("the request is answered");
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap_or_default(),
    }
}

/// A `/publish/` body putting `content` into `channel` as a WebSocket message.
pub fn publish_body(channel: &str, content: &str) -> String {
    serde_json::json!({"items": [{"channel": channel,
        "formats": {"ws-message": {"content": content}}}]})
    .to_string()
}

/// A metric of the server whose control listener is `control` (`GET /metrics`), summed over
/// the lines whose labels contain `label` (every line of it when `label` is empty). Panics
/// when no line matches: a renamed metric must fail the story, not read as 0.
pub async fn metric(control: &str, name: &str, label: &str) -> f64 {
    let text = request(&format!("{control}/metrics"), &[], None).await.body;
    let values: Vec<f64> = text
        .lines()
        .filter(|line| line.split(['{', ' ']).next() == Some(name) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .collect();
    assert!(!values.is_empty(), "no {name} ({label}) in:\n{text}");
    values.iter().sum()
}
