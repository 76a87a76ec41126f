//! What an attacker sends: requests with headers of its choosing (a foreign `Origin`, a
//! rebinding `Host`, a missing or forged token), answered as status and body so a story can
//! check the refusal names the setting that would allow it.

use crate::clients::{ws_url, WAIT};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Error as WsError;

/// A status and the body that came with it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// A WebSocket handshake to `base`'s `/ws` with `headers`; `Ok(first message)` when it was
/// accepted (the server's welcome), `Err(answer)` when it was refused.
pub async fn websocket(base: &str, headers: &[(&str, &str)]) -> Result<Value, Answer> {
    let mut request = ws_url(base)
        .into_client_request()
        .expect("a WebSocket request");
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    let connecting = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake is answered in time");
    match connecting {
        Ok((mut socket, _)) => {
            use futures_util::StreamExt;
            let first = tokio::time::timeout(WAIT, socket.next())
                .await
                .expect("a first message in time")
                .expect("a first message")
                .expect("a readable first message");
            Ok(serde_json::from_str(first.to_text().expect("text")).expect("JSON"))
        }
        Err(WsError::Http(response)) => Err(Answer {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        }),
        Err(other) => panic!("the handshake failed without an answer: {other}"),
    }
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
