//! The origin-mode stories' stage: a Tack origin, one or more real Pushpins in front of it,
//! and small clients for each transport that talk to Pushpin (never to the origin).
//! Every wait is bounded.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tack_server::origin::OriginConfig;
use tack_server::ServerConfig;
use tack_server::{Server, ServerHandle};
use tack_testkit::pushpin::{Pushpin, PushpinConfig};
use tokio_tungstenite::tungstenite::Message;

pub const KEY: &str = "tack-test-grip-key";
pub const WAIT: Duration = Duration::from_secs(15);

/// An origin and the Pushpins in front of it.
pub struct Stage {
    pub origin: ServerHandle,
    pub pushpins: Vec<Pushpin>,
}

impl Stage {
    pub async fn start(instances: usize) -> Stage {
        Stage::start_with(instances, |_| {}).await
    }

    pub async fn start_with(instances: usize, tune: impl FnOnce(&mut ServerConfig)) -> Stage {
        Stage::start_publishing_to(instances, instances, tune).await
    }

    /// `instances` Pushpins, of which only the last `published` get the origin's publishes
    /// (the others only forward requests): a stage for losing publishes on purpose.
    pub async fn start_publishing_to(
        instances: usize,
        published: usize,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Stage {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap().to_string();
        let pushpins = tokio::task::spawn_blocking(move || {
            (0..instances)
                .map(|_| Pushpin::start(&PushpinConfig::new(target.clone(), KEY)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..ServerConfig::default()
        };
        tune(&mut config);
        let urls = pushpins[instances - published..]
            .iter()
            .map(Pushpin::publish_url)
            .collect();
        let mut origin_config = OriginConfig::new(urls, KEY);
        origin_config.websocket_keepalive_secs = config.ws_keepalive_interval_secs;
        let server = Server::behind_pushpin(config, origin_config);
        let origin = tack_server::spawn_on(listener, server).unwrap();
        Stage { origin, pushpins }
    }

    /// `http://127.0.0.1:P` of Pushpin instance `n`, where clients connect.
    pub fn url(&self, n: usize) -> String {
        self.pushpins[n].url()
    }

    pub fn logs(&self) -> String {
        self.pushpins
            .iter()
            .map(|p| p.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    }
}

/// Which transport a test client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    WebSocket,
    Stream,
    Poll,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

// A handful of clients per test: their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Link {
    Ws(Box<Socket>),
    Stream {
        response: reqwest::Response,
        parser: tack_protocol::sse::Parser,
    },
    Poll {
        waiting: std::collections::VecDeque<Value>,
    },
}

/// A chat client talking to Pushpin over one transport. Numbered events it already has
/// (same room or channel, id not newer) are counted in `repeats` and skipped, as the client
/// engine does.
pub struct Client {
    link: Link,
    base: String,
    http: reqwest::Client,
    pub session: String,
    pub nick: String,
    seen: BTreeMap<String, u64>,
    pub repeats: usize,
    /// Events read while probing a subscription, handed out before new ones.
    held_back: std::collections::VecDeque<Value>,
}

impl Client {
    /// Connects through Pushpin at `base` and reads the `welcome`. Pushpin's client port can
    /// accept before its proxy is ready, so a first attempt that gets nothing is retried.
    pub async fn connect(base: &str, via: Via, nick: &str) -> Client {
        Client::connect_with(base, via, nick, "").await
    }

    /// Like [`connect`](Self::connect), with more query parameters for `/stream` or `/poll`
    /// (`&rooms=lobby`).
    pub async fn connect_with(base: &str, via: Via, nick: &str, query: &str) -> Client {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let attempt = Client::try_connect(base, via, nick, query);
            match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                Ok(Ok(client)) => return client,
                Ok(Err(e)) if tokio::time::Instant::now() < deadline => {
                    eprintln!("{via:?} connect failed ({e}); trying again");
                }
                Err(_) if tokio::time::Instant::now() < deadline => {
                    eprintln!("{via:?} connect got no welcome in time; trying again");
                }
                Ok(Err(e)) => panic!("cannot connect through pushpin: {e}"),
                Err(_) => panic!("no welcome through pushpin"),
            }
        }
    }

    async fn try_connect(base: &str, via: Via, nick: &str, query: &str) -> Result<Client, String> {
        let http = reqwest::Client::new();
        let link = match via {
            Via::WebSocket => {
                let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
                let (socket, _) = tokio_tungstenite::connect_async(url)
                    .await
                    .map_err(|e| e.to_string())?;
                Link::Ws(Box::new(socket))
            }
            Via::Stream => {
                let response = http
                    .get(format!("{base}/stream?nick={nick}{query}"))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status() != 200 {
                    return Err(format!("status {}", response.status()));
                }
                let ct = response.headers()["content-type"]
                    .to_str()
                    .unwrap_or("")
                    .to_owned();
                if ct != "text/event-stream" {
                    return Err(format!("content-type {ct}"));
                }
                Link::Stream {
                    response,
                    parser: tack_protocol::sse::Parser::new(1 << 20),
                }
            }
            Via::Poll => {
                let response = http
                    .get(format!("{base}/poll?nick={nick}{query}"))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status() != 200 {
                    return Err(format!("status {}", response.status()));
                }
                let events: Vec<Value> = response.json().await.map_err(|e| e.to_string())?;
                Link::Poll {
                    waiting: events.into(),
                }
            }
        };
        let mut client = Client {
            link,
            base: base.to_owned(),
            http,
            session: String::new(),
            nick: nick.to_owned(),
            seen: BTreeMap::new(),
            repeats: 0,
            held_back: Default::default(),
        };
        let welcome = client.next().await;
        if welcome["type"] != "welcome" {
            return Err(format!("first event is not welcome: {welcome}"));
        }
        client.session = welcome["session"].as_str().unwrap().to_owned();
        if via == Via::WebSocket {
            client.send(&format!(r#"hello:{{"nick":"{nick}"}}"#)).await;
        } else {
            assert_eq!(welcome["nick"], nick);
        }
        Ok(client)
    }

    /// Sends one `name:{json}` frame; returns the immediate replies on HTTP transports (on a
    /// WebSocket they arrive as events).
    pub async fn send(&mut self, frame: &str) -> Vec<Value> {
        match &mut self.link {
            Link::Ws(socket) => {
                socket.send(Message::text(frame)).await.expect("send frame");
                Vec::new()
            }
            _ => {
                let response = tokio::time::timeout(
                    WAIT,
                    self.http
                        .post(format!("{}/send?session={}", self.base, self.session))
                        .body(frame.to_owned())
                        .send(),
                )
                .await
                .expect("send answered in time")
                .expect("send request");
                assert_eq!(response.status(), 200, "send refused");
                response.json().await.expect("JSON replies")
            }
        }
    }

    /// The next event that is not a repeat of one already seen.
    pub async fn next(&mut self) -> Value {
        match self.held_back.pop_front() {
            Some(event) => event,
            None => self.next_fresh().await,
        }
    }

    async fn next_fresh(&mut self) -> Value {
        loop {
            let event = tokio::time::timeout(WAIT, self.next_raw())
                .await
                .expect("an event in time");
            if std::env::var_os("TACK_TEST_TRACE").is_some() {
                eprintln!("{} <- {event}", self.nick);
            }
            let name = event["room"]
                .as_str()
                .or(event["channel"].as_str())
                .map(str::to_owned);
            let id = event["id"].as_u64();
            let numbered = event["type"] != "ack";
            if let (Some(name), Some(id), true) = (name, id, numbered) {
                let last = self.seen.entry(name).or_insert(0);
                if id <= *last {
                    self.repeats += 1;
                    continue;
                }
                *last = id;
            }
            return event;
        }
    }

    async fn next_raw(&mut self) -> Value {
        loop {
            match &mut self.link {
                Link::Ws(socket) => match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        return serde_json::from_str(&text).expect("JSON event")
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return serde_json::json!({"type": "closed", "frame": format!("{frame:?}")})
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        return serde_json::json!({"type": "closed", "error": e.to_string()})
                    }
                    None => return serde_json::json!({"type": "closed"}),
                },
                Link::Stream { response, parser } => {
                    if let Some(item) = parser.next_item().expect("valid SSE") {
                        if let tack_protocol::sse::Item::Event(event) = item {
                            return serde_json::from_str(&event.data).expect("JSON data");
                        }
                        continue;
                    }
                    match response.chunk().await {
                        Ok(Some(chunk)) => parser.feed(&chunk),
                        _ => return serde_json::json!({"type": "closed"}),
                    }
                }
                Link::Poll { waiting } => {
                    if let Some(event) = waiting.pop_front() {
                        return event;
                    }
                    let response = self
                        .http
                        .get(format!(
                            "{}/poll?session={}&timeout=10",
                            self.base, self.session
                        ))
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status() == 200 => {
                            let events: Vec<Value> = r.json().await.expect("JSON array");
                            waiting.extend(events);
                        }
                        _ => return serde_json::json!({"type": "closed"}),
                    }
                }
            }
        }
    }

    /// Reads until an event of type `kind` for which `pick` is true.
    pub async fn until(&mut self, kind: &str, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self.next().await;
            assert_ne!(
                event["type"], "closed",
                "connection ended waiting for {kind}"
            );
            if event["type"] == kind && pick(&event) {
                return event;
            }
            eprintln!("{} (waiting for {kind}) got {event}", self.nick);
        }
    }

    /// Reads until the connection ends (Pushpin went away).
    pub async fn closed(&mut self) {
        while self.next().await["type"] != "closed" {}
    }

    /// Enters `room`: returns (presence, own chatRoomEnter).
    pub async fn enter(&mut self, room: &str) -> (Value, Value) {
        let replies = self
            .send(&format!(r#"chatRoomEnter:{{"room":"{room}"}}"#))
            .await;
        assert!(replies.is_empty(), "enter answered {replies:?}");
        let presence = self.until("presence", |e| e["room"] == room).await;
        let nick = self.nick.clone();
        let entered = self
            .until("chatRoomEnter", |e| {
                e["room"] == room && e["user"] == nick.as_str()
            })
            .await;
        if matches!(self.link, Link::Ws(_)) {
            self.subscriptions_live().await;
        }
        (presence, entered)
    }

    /// Waits until Pushpin delivers to this WebSocket on every channel it was told to
    /// subscribe to. Pushpin applies a `c:subscribe` after the client already has the response
    /// that asked for it, so a publish right after an enter can miss the joiner (see
    /// docs/DEPLOY.md). It applies one connection's subscriptions in order, so once a channel
    /// watched after the room delivers, the room's subscription is live too: watch a channel of
    /// this client's own and publish to it (a backend's `/publish/`, through Pushpin) until an
    /// item comes out — bounded, each try with its own payload.
    pub async fn subscriptions_live(&mut self) {
        let channel = format!("probe.{}", self.session);
        self.send(&format!(r#"watch:{{"channel":"{channel}"}}"#))
            .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut tries = 0;
        'probing: loop {
            tries += 1;
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: no probe came out of pushpin after {tries} tries",
                self.nick
            );
            let body = serde_json::json!({"items": [{"channel": channel,
                "formats": {"ws-message": {"content": format!("probe {tries}")}}}]});
            let published = self
                .http
                .post(format!("{}/publish/", self.base))
                .json(&body)
                .send()
                .await
                .expect("publish through pushpin");
            assert_eq!(published.status(), 200, "probe publish refused");
            let until = tokio::time::Instant::now() + Duration::from_millis(300);
            while let Ok(event) = tokio::time::timeout_at(until, self.next_fresh()).await {
                if event["type"] == "raw" && event["channel"] == channel.as_str() {
                    break 'probing;
                }
                if event["channel"] != channel.as_str() {
                    self.held_back.push_back(event);
                }
            }
        }
        self.send(&format!(r#"unwatch:{{"channel":"{channel}"}}"#))
            .await;
    }

    pub async fn close(self) {
        if let Link::Ws(mut socket) = self.link {
            let _ = (*socket).close(None).await;
            // Read until the close handshake is done, bounded.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(Ok(_)) = socket.next().await {}
            })
            .await;
        }
    }
}
