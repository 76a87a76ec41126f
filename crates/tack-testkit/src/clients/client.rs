//! A chat client on one transport, as a story drives it: connect (named or as a guest), send
//! frames, read events, enter rooms, see the connection end.

use super::http::post_send;
use super::link::{Link, Opening};
use super::{Front, Via, WAIT};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A client of one front over one transport, reading the server's events as JSON.
///
/// Every numbered event (same room or channel, id not newer than one it has) that comes again
/// is counted in `repeats`. Behind Pushpin, which may deliver an event again, such a repeat is
/// also skipped, as the client engine skips it; from the built-in server it is handed out, so
/// a story about "exactly once" sees it.
pub struct Client {
    link: Link,
    front: Front,
    http: reqwest::Client,
    pub session: String,
    pub nick: String,
    /// Numbered events seen again (see above).
    pub repeats: usize,
    /// The newest id seen per room or channel.
    seen: BTreeMap<String, u64>,
    /// Events read while probing a subscription, handed out before new ones.
    held_back: VecDeque<Value>,
}

impl Client {
    /// Connects as `nick` and reads the `welcome`: a WebSocket then says `hello`, the HTTP
    /// transports ask with `nick=` in the query.
    pub async fn connect(front: impl Into<Front>, via: Via, nick: &str) -> Client {
        Client::connect_with(front, via, nick, "").await
    }

    /// Like [`connect`](Self::connect), with more of an HTTP transport's query
    /// (`rooms=lobby`, `watch=feed&since=feed:0`).
    pub async fn connect_with(
        front: impl Into<Front>,
        via: Via,
        nick: &str,
        query: &str,
    ) -> Client {
        let opening = Opening {
            via,
            query: with_nick(nick, query, via),
            last_event_id: None,
        };
        Client::open(front.into(), Some(nick), opening).await
    }

    /// Connects without a name (the server calls it `guest-…`) and reads the `welcome`.
    pub async fn guest(front: impl Into<Front>, via: Via) -> Client {
        Client::guest_with(front, via, "").await
    }

    /// Like [`guest`](Self::guest), with an HTTP transport's query (`rooms=lobby`).
    pub async fn guest_with(front: impl Into<Front>, via: Via, query: &str) -> Client {
        let opening = Opening {
            via,
            query: query.to_owned(),
            last_event_id: None,
        };
        Client::open(front.into(), None, opening).await
    }

    /// Opens a stream as `nick` coming back: `Last-Event-ID` says which events it already has.
    pub async fn stream_resuming(
        front: impl Into<Front>,
        nick: &str,
        query: &str,
        last_event_id: &str,
    ) -> Client {
        let opening = Opening {
            via: Via::Stream,
            query: with_nick(nick, query, Via::Stream),
            last_event_id: Some(last_event_id),
        };
        Client::open(front.into(), Some(nick), opening).await
    }

    async fn open(front: Front, nick: Option<&str>, opening: Opening<'_>) -> Client {
        let http = reqwest::Client::new();
        let via = opening.via;
        let link = tokio::time::timeout(WAIT, Link::open(&http, front.url(), opening))
            .await
            .unwrap_or_else(|_| panic!("{via:?} to {} did not connect in time", front.url()));
        let mut client = Client {
            link,
            front,
            http,
            session: String::new(),
            nick: String::new(),
            repeats: 0,
            seen: BTreeMap::new(),
            held_back: VecDeque::new(),
        };
        let welcome = client.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        client.session = welcome["session"]
            .as_str()
            .expect("a session id")
            .to_owned();
        client.nick = welcome["nick"].as_str().expect("a nick").to_owned();
        if let Some(nick) = nick {
            if via == Via::WebSocket {
                client.send(&format!(r#"hello:{{"nick":"{nick}"}}"#)).await;
                client.nick = nick.to_owned();
            } else {
                assert_eq!(client.nick, nick, "{welcome}");
            }
        }
        client
    }

    /// Sends one `name:{json}` frame (on HTTP, lines of them); returns the immediate replies on
    /// the HTTP transports (on a WebSocket they arrive as events).
    pub async fn send(&mut self, frames: &str) -> Vec<Value> {
        if self.link.is_websocket() {
            self.link.send_message(Message::text(frames)).await;
            return Vec::new();
        }
        let (status, replies) =
            post_send(&self.http, self.front.url(), &self.session, frames).await;
        assert_eq!(status, 200, "send refused: {replies:?}");
        replies
    }

    /// Sends one WebSocket message as it is (a binary frame, a malformed one).
    pub async fn send_message(&mut self, message: Message) {
        self.link.send_message(message).await;
    }

    /// The next event; an SSE comment comes as `{"sse_comment": text}`, the end of the
    /// connection as `{"type": "closed", …}` (with `code` and `reason` for a close frame).
    pub async fn next_item(&mut self) -> Value {
        match self.held_back.pop_front() {
            Some(event) => event,
            None => self.next_counted().await,
        }
    }

    /// The next event, past any SSE comments (keep-alives).
    pub async fn next(&mut self) -> Value {
        loop {
            let item = self.next_item().await;
            if item.get("sse_comment").is_none() {
                return item;
            }
        }
    }

    async fn next_counted(&mut self) -> Value {
        loop {
            let event = tokio::time::timeout(
                WAIT,
                self.link.next(&self.http, self.front.url(), &self.session),
            )
            .await
            .unwrap_or_else(|_| panic!("{}: no event in {WAIT:?}", self.nick));
            if std::env::var_os("TACK_TEST_TRACE").is_some() {
                eprintln!("{} <- {event}", self.nick);
            }
            if self.is_repeat(&event) && self.front.is_pushpin() {
                continue;
            }
            return event;
        }
    }

    /// True (and counted) when `event` is numbered and its room or channel already had an id
    /// as new.
    fn is_repeat(&mut self, event: &Value) -> bool {
        let name = event["room"].as_str().or(event["channel"].as_str());
        // An ack carries the id of the message it confirms, which the client also gets.
        let numbered = event["type"] != "ack";
        let (Some(name), Some(id), true) = (name, event["id"].as_u64(), numbered) else {
            return false;
        };
        let last = self.seen.entry(name.to_owned()).or_insert(0);
        if id <= *last {
            self.repeats += 1;
            return true;
        }
        *last = id;
        false
    }

    /// Reads until an event of type `kind`; returns it.
    pub async fn until(&mut self, kind: &str) -> Value {
        self.until_matching(kind, |_| true).await
    }

    /// Reads until an event of type `kind` for which `pick` is true; returns it.
    pub async fn until_matching(&mut self, kind: &str, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self.next().await;
            assert_ne!(
                event["type"], "closed",
                "{}: the connection ended waiting for {kind}",
                self.nick
            );
            if event["type"] == kind && pick(&event) {
                return event;
            }
            eprintln!("{} (waiting for {kind}) got {event}", self.nick);
        }
    }

    /// Enters `room`: returns the room's `presence` and this client's own `chatRoomEnter`.
    /// Behind Pushpin a WebSocket also waits until its subscriptions are live, so what is said
    /// next reaches it.
    pub async fn enter(&mut self, room: &str) -> (Value, Value) {
        let replies = self
            .send(&format!(r#"chatRoomEnter:{{"room":"{room}"}}"#))
            .await;
        assert!(replies.is_empty(), "enter answered {replies:?}");
        let presence = self.until_matching("presence", |e| e["room"] == room).await;
        let nick = self.nick.clone();
        let entered = self
            .until_matching("chatRoomEnter", |e| {
                e["room"] == room && e["user"] == nick.as_str()
            })
            .await;
        if self.link.is_websocket() && self.front.is_pushpin() {
            self.subscriptions_live().await;
        }
        (presence, entered)
    }

    /// Waits until Pushpin delivers to this WebSocket on every channel it was told to
    /// subscribe to. Pushpin applies a `c:subscribe` after the client already has the response
    /// that asked for it, so a publish right after an enter can miss the joiner (see
    /// docs/DEPLOY.md). It applies one connection's subscriptions in order, so once a channel
    /// watched after the room delivers, the room's subscription is live too: watch a channel of
    /// this client's own and publish to it (a backend's `/publish/`, on the origin's control
    /// listener) until an
    /// item comes out — bounded, each try with its own payload.
    async fn subscriptions_live(&mut self) {
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
                .post(format!("{}/publish/", self.front.control()))
                .json(&body)
                .send()
                .await
                .expect("publish to the origin");
            assert_eq!(published.status(), 200, "probe publish refused");
            let until = tokio::time::Instant::now() + Duration::from_millis(300);
            while let Ok(event) = tokio::time::timeout_at(until, self.next_counted()).await {
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

    /// A stream's last event id (what `Last-Event-ID` would say on a reconnect).
    pub fn last_event_id(&self) -> Option<&str> {
        self.link.last_event_id()
    }

    /// Reads until the connection ends, however it ends (the server or Pushpin went away).
    pub async fn closed(&mut self) {
        while self.next().await["type"] != "closed" {}
    }

    /// Reads until the server closes this WebSocket; returns the close frame's code and reason.
    pub async fn close_frame(&mut self) -> (u16, String) {
        loop {
            let event = self.next().await;
            if event["type"] == "closed" {
                let code = event["code"].as_u64().unwrap_or_else(|| {
                    panic!("the connection ended without a close frame: {event}")
                });
                let reason = event["reason"].as_str().unwrap_or_default().to_owned();
                return (code as u16, reason);
            }
        }
    }

    /// Leaves as a client should: a WebSocket closes with a handshake.
    pub async fn close(self) {
        self.link.close().await;
    }
}

/// `nick=NICK` and the rest of an HTTP query; a WebSocket's nick goes in `hello` instead.
fn with_nick(nick: &str, query: &str, via: Via) -> String {
    match (via, query) {
        (Via::WebSocket, _) => query.to_owned(),
        (_, "") => format!("nick={nick}"),
        (_, rest) => format!("nick={nick}&{rest}"),
    }
}
