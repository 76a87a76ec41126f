//! One numbered item of a channel, serialized once and shared by every subscriber.
//!
//! An [`Item`] is built when an event happens and then only read: history keeps an `Arc` of it
//! and every subscriber's queue gets a clone of that `Arc`. The JSON text each transport sends
//! is computed at most once per item (in a `OnceLock`), so a broadcast to a thousand
//! WebSockets serializes once and writes the same bytes a thousand times.

use axum::extract::ws::Utf8Bytes;
use base64::Engine;
use std::sync::{Arc, OnceLock};
use tack_protocol::chat::{encode_legacy_comment, EventId, Millis, Raw, ServerEvent};

/// How a subscriber is connected; decides which of a published item's formats it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    WebSocket,
    Stream,
    Poll,
}

impl Transport {
    fn index(self) -> usize {
        match self {
            Transport::WebSocket => 0,
            Transport::Stream => 1,
            Transport::Poll => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::WebSocket => "ws",
            Transport::Stream => "stream",
            Transport::Poll => "poll",
        }
    }
}

/// Content of one format of a published item: text as is, or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    Binary(Vec<u8>),
}

impl Content {
    pub fn len(&self) -> usize {
        match self {
            Content::Text(text) => text.len(),
            Content::Binary(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an item carries.
#[derive(Debug)]
pub enum ItemBody {
    /// A chat event (message, enter, leave). Room members receive the event itself; watchers
    /// receive it wrapped in `raw` with the event's JSON as the payload.
    Chat(Utf8Bytes),
    /// An item from `POST /publish/`, with the content for each transport (Pushpin's
    /// `ws-message`, `http-stream`, `http-response` formats). Everyone receives it as `raw`.
    Published {
        ws: Option<Content>,
        stream: Option<Content>,
        poll: Option<Content>,
    },
}

#[derive(Debug)]
pub struct Item {
    pub channel: Arc<str>,
    pub id: EventId,
    pub ts: Millis,
    pub body: ItemBody,
    /// The client message id of a chat message, so history trimming can forget it.
    pub cid: Option<String>,
    /// Bytes of content, for the bounds on what a feed holds.
    weight: usize,
    raw: [OnceLock<Utf8Bytes>; 3],
    legacy: OnceLock<Utf8Bytes>,
}

impl Item {
    pub fn new(
        channel: Arc<str>,
        id: EventId,
        ts: Millis,
        body: ItemBody,
        cid: Option<String>,
    ) -> Item {
        let weight = match &body {
            ItemBody::Chat(event) => event.len(),
            ItemBody::Published { ws, stream, poll } => [ws, stream, poll]
                .into_iter()
                .flatten()
                .map(Content::len)
                .sum(),
        };
        Item {
            channel,
            id,
            ts,
            body,
            cid,
            weight,
            raw: Default::default(),
            legacy: OnceLock::new(),
        }
    }

    /// Bytes of content this item holds (its JSON or its published formats).
    pub fn weight(&self) -> usize {
        self.weight
    }

    /// The text frame a subscriber receives: the chat event for a room member, `raw` otherwise.
    pub fn frame(&self, transport: Transport, watcher: bool) -> Utf8Bytes {
        match (&self.body, watcher) {
            (ItemBody::Chat(event), false) => event.clone(),
            _ => self.raw(transport),
        }
    }

    /// The frame a viewer that never said `hello` receives: an original-system page, which
    /// puts `comment` into HTML as it is, so a message's comment is escaped as the original
    /// server did. Serialized on first use.
    pub fn legacy_frame(&self) -> Utf8Bytes {
        let ItemBody::Chat(event) = &self.body else {
            return self.raw(Transport::WebSocket);
        };
        self.legacy
            .get_or_init(
                || match serde_json::from_str::<ServerEvent>(event.as_str()) {
                    Ok(ServerEvent::Message(mut message)) => {
                        message.comment = encode_legacy_comment(&message.comment);
                        ServerEvent::Message(message).to_json().into()
                    }
                    _ => event.clone(),
                },
            )
            .clone()
    }

    /// The `raw` event for `transport`, serialized on first use.
    pub fn raw(&self, transport: Transport) -> Utf8Bytes {
        self.raw[transport.index()]
            .get_or_init(|| {
                let (payload, binary) = match &self.body {
                    ItemBody::Chat(event) => (event.as_str().to_owned(), false),
                    ItemBody::Published { .. } => match self.content(transport) {
                        Some(Content::Text(text)) => (text.clone(), false),
                        Some(Content::Binary(bytes)) => (
                            base64::engine::general_purpose::STANDARD.encode(bytes),
                            true,
                        ),
                        None => (String::new(), false),
                    },
                };
                ServerEvent::Raw(Raw {
                    channel: self.channel.to_string(),
                    id: self.id,
                    ts: self.ts,
                    payload,
                    binary,
                })
                .to_json()
                .into()
            })
            .clone()
    }

    /// The content for `transport`, falling back to another format's content so a monitor
    /// always sees the item whichever way it is connected.
    fn content(&self, transport: Transport) -> Option<&Content> {
        let ItemBody::Published { ws, stream, poll } = &self.body else {
            return None;
        };
        let own = match transport {
            Transport::WebSocket => ws,
            Transport::Stream => stream,
            Transport::Poll => poll,
        };
        own.as_ref()
            .or(ws.as_ref())
            .or(stream.as_ref())
            .or(poll.as_ref())
    }
}
