//! One connection on one transport: opening it, sending a frame over a WebSocket, and reading
//! what comes next as JSON. The end of a connection and an SSE comment are read as items too,
//! so the reader decides what they mean:
//! - `{"type": "closed", "code": 1001, "reason": "…"}` — a WebSocket close frame (1005 when it
//!   had no code);
//! - `{"type": "closed"}` — a connection that ended without one (a stream's end, a refused
//!   poll, a WebSocket cut);
//! - `{"sse_comment": "…"}` — a stream's comment (a keep-alive).

use super::{ws_url, Via};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use tack_protocol::sse;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

// A handful of clients per story: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Link {
    WebSocket(Socket),
    Stream {
        response: reqwest::Response,
        parser: sse::Parser,
    },
    Poll {
        waiting: VecDeque<Value>,
    },
}

/// What a new connection asks for.
pub(super) struct Opening<'a> {
    pub via: Via,
    /// `nick=…&rooms=…` for the HTTP transports; a WebSocket takes none.
    pub query: String,
    /// `Last-Event-ID` for a stream: the events its client already has.
    pub last_event_id: Option<&'a str>,
}

impl Link {
    pub async fn open(http: &reqwest::Client, base: &str, opening: Opening<'_>) -> Link {
        match opening.via {
            Via::WebSocket => {
                assert!(
                    opening.query.is_empty() && opening.last_event_id.is_none(),
                    "a WebSocket says hello and enters rooms with frames, not a query"
                );
                let (socket, _) = tokio_tungstenite::connect_async(ws_url(base))
                    .await
                    .expect("the WebSocket connects");
                Link::WebSocket(socket)
            }
            Via::Stream => {
                let mut request = http.get(format!("{base}/stream?{}", opening.query));
                if let Some(id) = opening.last_event_id {
                    request = request.header("Last-Event-ID", id);
                }
                let response = request.send().await.expect("the stream request");
                assert_eq!(response.status(), 200, "stream refused");
                let headers = response.headers();
                assert_eq!(headers["content-type"], "text/event-stream");
                // Without these a cache or a buffering proxy on the way holds the stream back.
                assert_eq!(headers["cache-control"], "no-cache");
                assert_eq!(headers["x-accel-buffering"], "no");
                Link::Stream {
                    response,
                    parser: sse::Parser::new(sse::DEFAULT_MAX_EVENT),
                }
            }
            Via::Poll => {
                let response = http
                    .get(format!("{base}/poll?{}", opening.query))
                    .send()
                    .await
                    .expect("the poll request");
                assert_eq!(response.status(), 200, "poll refused");
                let events: Vec<Value> = response.json().await.expect("events as a JSON array");
                Link::Poll {
                    waiting: events.into(),
                }
            }
        }
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self, Link::WebSocket(_))
    }

    /// A stream's last event id (what `Last-Event-ID` would say on a reconnect), once an event
    /// carried one.
    pub fn last_event_id(&self) -> Option<&str> {
        match self {
            Link::Stream { parser, .. } => Some(parser.last_event_id()).filter(|id| !id.is_empty()),
            _ => None,
        }
    }

    /// Sends one message on a WebSocket. Panics on the HTTP transports, which send with
    /// `POST /send`.
    pub async fn send_message(&mut self, message: Message) {
        let Link::WebSocket(socket) = self else {
            panic!("only a WebSocket sends messages; HTTP clients POST /send")
        };
        socket.send(message).await.expect("send on the WebSocket");
    }

    /// The next item, however long it takes (the caller bounds the wait). A poller polls
    /// again for `session` when it has handed out what the last answer carried.
    pub async fn next(&mut self, http: &reqwest::Client, base: &str, session: &str) -> Value {
        loop {
            match self {
                Link::WebSocket(socket) => match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        return serde_json::from_str(&text).expect("a JSON event")
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame
                            .map_or((CloseCode::Status, String::new()), |f| {
                                (f.code, f.reason.to_string())
                            });
                        return json!({"type": "closed", "code": u16::from(code), "reason": reason});
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        panic!("expected a text event, got {} binary bytes", bytes.len())
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return json!({"type": "closed", "error": e.to_string()}),
                    None => return json!({"type": "closed"}),
                },
                Link::Stream { response, parser } => {
                    match parser.next_item().expect("valid SSE") {
                        Some(sse::Item::Event(event)) => {
                            return serde_json::from_str(&event.data).expect("JSON data")
                        }
                        Some(sse::Item::Comment(text)) => return json!({ "sse_comment": text }),
                        Some(sse::Item::Retry(_)) => continue,
                        None => {}
                    }
                    match response.chunk().await {
                        Ok(Some(chunk)) => parser.feed(&chunk),
                        Ok(None) => return json!({"type": "closed"}),
                        Err(e) => return json!({"type": "closed", "error": e.to_string()}),
                    }
                }
                Link::Poll { waiting } => {
                    if let Some(event) = waiting.pop_front() {
                        return event;
                    }
                    let response = http
                        .get(format!("{base}/poll?session={session}&timeout=10"))
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status() == 200 => {
                            waiting.extend(r.json::<Vec<Value>>().await.expect("a JSON array"))
                        }
                        _ => return json!({"type": "closed"}),
                    }
                }
            }
        }
    }

    /// Closes a WebSocket and waits (bounded) for the close handshake; an HTTP client just
    /// stops asking.
    pub async fn close(self) {
        if let Link::WebSocket(mut socket) = self {
            let _ = socket.close(None).await;
            let _ = tokio::time::timeout(super::WAIT, async {
                while let Some(Ok(_)) = socket.next().await {}
            })
            .await;
        }
    }
}
