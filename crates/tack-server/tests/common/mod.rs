//! Small real clients for the server's tests: a WebSocket client (tokio-tungstenite), an SSE
//! reader and a long-poller (reqwest). Every wait is bounded.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tack_server::{ServerConfig, ServerHandle};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn start() -> ServerHandle {
    start_with(|_| {}).await
}

pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    tune(&mut config);
    tack_server::spawn(config).await.expect("server starts")
}

pub fn ws_url(server: &ServerHandle) -> String {
    format!("ws://{}/ws", server.local_addr())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client that reads the server's JSON events.
pub struct Ws {
    pub socket: Socket,
    pub session: String,
    pub nick: String,
}

impl Ws {
    /// Connects and reads the `welcome`.
    pub async fn connect(server: &ServerHandle) -> Ws {
        let (socket, _) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(ws_url(server)))
                .await
                .expect("connect in time")
                .expect("websocket connects");
        let mut ws = Ws {
            socket,
            session: String::new(),
            nick: String::new(),
        };
        let welcome = ws.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        ws.session = welcome["session"].as_str().unwrap().to_owned();
        ws.nick = welcome["nick"].as_str().unwrap().to_owned();
        ws
    }

    /// Connects, says hello as `nick`.
    pub async fn named(server: &ServerHandle, nick: &str) -> Ws {
        let mut ws = Ws::connect(server).await;
        ws.send(&format!(r#"hello:{{"nick":"{nick}"}}"#)).await;
        ws.nick = nick.to_owned();
        ws
    }

    pub async fn send(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("send frame");
    }

    /// The next event, as JSON.
    pub async fn next(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("an event in time")
                .expect("socket still open")
                .expect("readable frame");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON event"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text event, got {other:?}"),
            }
        }
    }

    /// Reads events until one has `type` = `kind`; returns it.
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let event = self.next().await;
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Enters `room` and reads through the joiner's own `chatRoomEnter`.
    pub async fn enter(&mut self, room: &str) -> Value {
        self.send(&format!(r#"chatRoomEnter:{{"room":"{room}"}}"#))
            .await;
        let presence = self.until("presence").await;
        assert_eq!(presence["room"], room);
        let entered = self.until("chatRoomEnter").await;
        assert_eq!(entered["user"], self.nick.as_str());
        entered
    }

    /// Reads until the server closes; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let msg = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("close in time");
            match msg {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) => {
                    return (u16::from(CloseCode::Status), String::new())
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("socket failed before a close frame: {err}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }

    /// Asserts nothing arrives for a moment (used sparingly, to check "not twice").
    pub async fn quiet(&mut self, for_: Duration) {
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(for_, self.socket.next()).await
        {
            panic!("expected nothing, got {text}");
        }
    }
}

/// An SSE reader over `GET /stream`.
pub struct Sse {
    response: reqwest::Response,
    parser: tack_protocol::sse::Parser,
    pub session: String,
    pub last_id: Option<String>,
}

impl Sse {
    pub async fn open(server: &ServerHandle, query: &str) -> Sse {
        Sse::open_with(server, query, None).await
    }

    pub async fn open_with(server: &ServerHandle, query: &str, last_event_id: Option<&str>) -> Sse {
        let mut request = reqwest::Client::new().get(format!("{}/stream?{query}", server.url()));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("stream answers in time")
            .expect("stream request");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        let mut sse = Sse {
            response,
            parser: tack_protocol::sse::Parser::new(1 << 20),
            session: String::new(),
            last_id: None,
        };
        let welcome = sse.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        sse.session = welcome["session"].as_str().unwrap().to_owned();
        sse
    }

    /// The next item: an event's JSON, or a comment as `{"sse_comment": text}`.
    pub async fn next_item(&mut self) -> Value {
        loop {
            if let Some(item) = self.parser.next_item().expect("valid SSE") {
                match item {
                    tack_protocol::sse::Item::Event(event) => {
                        if let Some(id) = event.id {
                            self.last_id = Some(id);
                        }
                        return serde_json::from_str(&event.data).expect("JSON data");
                    }
                    tack_protocol::sse::Item::Comment(text) => {
                        return serde_json::json!({ "sse_comment": text })
                    }
                    tack_protocol::sse::Item::Retry(_) => continue,
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("stream data in time")
                .expect("stream readable")
                .expect("stream still open");
            self.parser.feed(&chunk);
        }
    }

    /// The next event, skipping keep-alive comments.
    pub async fn next(&mut self) -> Value {
        loop {
            let item = self.next_item().await;
            if item.get("sse_comment").is_none() {
                return item;
            }
        }
    }

    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let event = self.next().await;
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Reads to the end of the stream (the server ended it).
    pub async fn ended(&mut self) {
        loop {
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("stream ends in time");
            match chunk {
                Ok(Some(chunk)) => self.parser.feed(&chunk),
                Ok(None) | Err(_) => return,
            }
        }
    }
}

/// Sends frames with `POST /send`; returns the immediate replies.
pub async fn send(server: &ServerHandle, session: &str, frames: &str) -> (u16, Vec<Value>) {
    let response = reqwest::Client::new()
        .post(format!("{}/send?session={session}", server.url()))
        .body(frames.to_owned())
        .send()
        .await
        .expect("send request");
    let status = response.status().as_u16();
    let body: Vec<Value> = response.json().await.expect("JSON array");
    (status, body)
}

/// One long-poll; returns the events.
pub async fn poll(server: &ServerHandle, query: &str) -> Vec<Value> {
    let response = tokio::time::timeout(
        Duration::from_secs(70),
        reqwest::Client::new()
            .get(format!("{}/poll?{query}", server.url()))
            .send(),
    )
    .await
    .expect("poll answers in time")
    .expect("poll request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON array")
}

pub fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}
