//! What an attacker sends: requests with headers of its choosing (a foreign `Origin`, a
//! rebinding `Host`, a missing or forged token), answered as status and body so a story can
//! check the refusal names the setting that would allow it.

use crate::clients::{ws_url, WAIT};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
/// The handshake is written and read here rather than by tungstenite: on a refusal tungstenite
/// keeps only the body bytes that came with the head, and Pushpin sends a refusal's head and
/// body in separate writes, so the body a story checks was there or not by chance.
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
    let mut stream = TcpStream::connect(authority).await.expect("connects");
    let mut request = format!(
        "GET /{path} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n",
        generate_key()
    );
    // A story may pose as another host name (DNS rebinding): its `Host` replaces the real one.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {authority}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sends the handshake");

    let mut read = Vec::new();
    let head = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("reads the answer");
        assert!(n > 0, "the server closed without answering the handshake");
        read.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse_head(&read) {
            break head;
        }
    };
    let rest = read.split_off(head.len);
    if head.status == 101 {
        use futures_util::StreamExt;
        let mut socket =
            WebSocketStream::from_partially_read(stream, rest, Role::Client, None).await;
        let first = socket
            .next()
            .await
            .expect("a first message")
            .expect("a readable first message");
        return Ok(serde_json::from_str(first.to_text().expect("text")).expect("JSON"));
    }
    let body = read_body(&mut stream, rest, &head).await;
    Err(Answer {
        status: head.status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

struct Head {
    status: u16,
    len: usize,
    content_length: Option<usize>,
    chunked: bool,
}

/// The answer's head, once `read` holds all of it.
fn parse_head(read: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(read).expect("an HTTP answer") {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return None,
    };
    let value = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    Some(Head {
        status: response.code.expect("a status"),
        len,
        content_length: value("content-length").and_then(|v| v.parse().ok()),
        chunked: value("transfer-encoding").is_some_and(|v| v.contains("chunked")),
    })
}

/// The whole body: by its length, its chunks, or until the server closes.
async fn read_body(stream: &mut TcpStream, mut body: Vec<u8>, head: &Head) -> Vec<u8> {
    loop {
        if head.content_length.is_some_and(|len| body.len() >= len) {
            body.truncate(head.content_length.unwrap_or_default());
            return body;
        }
        if head.chunked && body.ends_with(b"0\r\n\r\n") {
            return dechunk(&body);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("reads the body");
        if n == 0 {
            return if head.chunked { dechunk(&body) } else { body };
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// A chunked body's data (sizes in hex, each chunk followed by CRLF).
fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = chunked.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&chunked[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        let data = line_end + 2;
        if size == 0 || chunked.len() < data + size {
            break;
        }
        out.extend_from_slice(&chunked[data..data + size]);
        chunked = &chunked[(data + size + 2).min(chunked.len())..];
    }
    out
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
