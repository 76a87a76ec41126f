//! The body of Pushpin's `POST /publish/`, which Tack's server accepts unchanged:
//!
//! ```json
//! {"items":[{"channel":"lobby","id":"42","prev-id":"41","formats":{
//!   "ws-message":{"content":"hi"},
//!   "http-stream":{"content":"data: hi\n\n"},
//!   "http-response":{"code":200,"headers":{"Content-Type":"text/plain"},"body":"hi\n"}}}]}
//! ```
//!
//! The serde types mirror the JSON field for field (every field optional where Pushpin's is),
//! so a body round-trips through them unchanged. [`PublishBody::validate`] applies Pushpin's
//! rules and answers with Pushpin's error texts; [`Item::payload`] interprets a valid item for
//! one transport. Deciding who receives an item is the server's job, not this module's.

use crate::error::PublishError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishBody {
    pub items: Vec<Item>,
}

/// One published item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    #[serde(default)]
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "prev-id", default, skip_serializing_if = "Option::is_none")]
    pub prev_id: Option<String>,
    #[serde(default)]
    pub formats: Formats,
}

/// The item's content per transport; at least one must be present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Formats {
    #[serde(
        rename = "ws-message",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ws_message: Option<WsMessage>,
    #[serde(
        rename = "http-stream",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_stream: Option<HttpStream>,
    #[serde(
        rename = "http-response",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_response: Option<HttpResponse>,
}

/// `ws-message`: `content` (text), `content-bin` (base64) or `{"action":"close"}` with an
/// optional `code` and `reason`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(
        rename = "content-bin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_bin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `http-stream`: `content`, `content-bin` (base64) or `{"action":"close"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpStream {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(
        rename = "content-bin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_bin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `http-response`: the whole response a held long-poll is answered with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(rename = "body-bin", default, skip_serializing_if = "Option::is_none")]
    pub body_bin: Option<String>,
}

/// Pushpin accepts headers as an object or as a list of `[name, value]` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Headers {
    Map(BTreeMap<String, String>),
    List(Vec<(String, String)>),
}

/// Which transport's format to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    WsMessage,
    HttpStream,
    HttpResponse,
}

/// An item's content for one transport, interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
    /// Close the connection (`ws-message` carries an optional code and reason).
    Close {
        code: Option<u16>,
        reason: Option<String>,
    },
}

impl PublishBody {
    /// Parses and validates a request body; the error's text is what Pushpin would answer.
    pub fn parse(body: &[u8]) -> Result<PublishBody, PublishError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| PublishError::NotJson)?;
        let Some(object) = value.as_object() else {
            return Err(invalid("request body is not an object"));
        };
        match object.get("items") {
            Some(serde_json::Value::Array(_)) => {}
            Some(_) => return Err(invalid("'items' is not a list")),
            None => return Err(invalid("object does not contain 'items'")),
        }
        let parsed: PublishBody =
            serde_json::from_value(value).map_err(|e| invalid(&wrong_type(&e.to_string())))?;
        parsed.validate()?;
        Ok(parsed)
    }

    /// Checks every item with Pushpin's rules.
    pub fn validate(&self) -> Result<(), PublishError> {
        self.items.iter().try_for_each(Item::validate)
    }

    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("publish bodies always serialize")
    }
}

impl Item {
    /// An item with only a `ws-message` text.
    pub fn ws_text(channel: impl Into<String>, text: impl Into<String>) -> Item {
        Item::with_formats(
            channel,
            Formats {
                ws_message: Some(WsMessage {
                    content: Some(text.into()),
                    ..WsMessage::default()
                }),
                ..Formats::default()
            },
        )
    }

    /// An item with only an `http-stream` text (for SSE, the caller passes a complete
    /// `data: …\n\n` block).
    pub fn stream_text(channel: impl Into<String>, text: impl Into<String>) -> Item {
        Item::with_formats(
            channel,
            Formats {
                http_stream: Some(HttpStream {
                    content: Some(text.into()),
                    ..HttpStream::default()
                }),
                ..Formats::default()
            },
        )
    }

    /// An item with only an `http-response` body (status 200).
    pub fn response_text(channel: impl Into<String>, body: impl Into<String>) -> Item {
        Item::with_formats(
            channel,
            Formats {
                http_response: Some(HttpResponse {
                    body: Some(body.into()),
                    ..HttpResponse::default()
                }),
                ..Formats::default()
            },
        )
    }

    /// An item carrying the same text in all three formats.
    pub fn text_everywhere(channel: impl Into<String>, text: &str) -> Item {
        let mut item = Item::ws_text(channel, text);
        item.formats.http_stream = Some(HttpStream {
            content: Some(text.to_owned()),
            ..HttpStream::default()
        });
        item.formats.http_response = Some(HttpResponse {
            body: Some(text.to_owned()),
            ..HttpResponse::default()
        });
        item
    }

    /// An item carrying the same bytes in all three formats (`content-bin`, `body-bin`).
    pub fn binary_everywhere(channel: impl Into<String>, bytes: &[u8]) -> Item {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut item = Item::with_formats(
            channel,
            Formats {
                ws_message: Some(WsMessage::binary(bytes)),
                ..Formats::default()
            },
        );
        item.formats.http_stream = Some(HttpStream {
            content_bin: Some(encoded.clone()),
            ..HttpStream::default()
        });
        item.formats.http_response = Some(HttpResponse {
            body_bin: Some(encoded),
            ..HttpResponse::default()
        });
        item
    }

    fn with_formats(channel: impl Into<String>, formats: Formats) -> Item {
        Item {
            channel: channel.into(),
            id: None,
            prev_id: None,
            formats,
        }
    }

    /// Sets the item id and the id of the item before it.
    pub fn with_ids(mut self, id: impl Into<String>, prev_id: Option<String>) -> Item {
        self.id = Some(id.into());
        self.prev_id = prev_id;
        self
    }

    /// Pushpin's checks, in Pushpin's order, with Pushpin's texts.
    pub fn validate(&self) -> Result<(), PublishError> {
        if self.channel.is_empty() {
            return Err(invalid("publish item object does not contain 'channel'"));
        }
        let f = &self.formats;
        if f.ws_message.is_none() && f.http_stream.is_none() && f.http_response.is_none() {
            return Err(invalid("no formats specified"));
        }
        if let Some(r) = &f.http_response {
            if r.code.is_some_and(|c| c > 999) {
                return Err(invalid(
                    "'http-response' contains 'code' with invalid value",
                ));
            }
            if r.body.is_none() && r.body_bin.is_none() {
                return Err(invalid(
                    "'http-response' does not contain 'body', 'body-bin', or 'body-patch'",
                ));
            }
            check_base64(r.body_bin.as_deref(), "'http-response'", "body-bin")?;
        }
        if let Some(s) = &f.http_stream {
            if s.action.as_deref() != Some("close") {
                if s.content.is_none() && s.content_bin.is_none() {
                    return Err(invalid(
                        "'http-stream' does not contain 'content' or 'content-bin'",
                    ));
                }
                check_base64(s.content_bin.as_deref(), "'http-stream'", "content-bin")?;
            }
        }
        if let Some(w) = &f.ws_message {
            if w.action.as_deref() != Some("close") {
                if w.content.is_none() && w.content_bin.is_none() {
                    return Err(invalid(
                        "'ws-message' does not contain 'content' or 'content-bin'",
                    ));
                }
                check_base64(w.content_bin.as_deref(), "'ws-message'", "content-bin")?;
            }
        }
        Ok(())
    }

    /// The content for one transport. When the item lacks that transport's format, another
    /// format's content is used (ws-message, then http-stream, then http-response), so a
    /// monitor sees every item whichever transport it watches on. `None` if there is no
    /// usable content at all.
    pub fn payload(&self, preferred: FormatKind) -> Option<Payload> {
        let order = match preferred {
            FormatKind::WsMessage => [
                FormatKind::WsMessage,
                FormatKind::HttpStream,
                FormatKind::HttpResponse,
            ],
            FormatKind::HttpStream => [
                FormatKind::HttpStream,
                FormatKind::WsMessage,
                FormatKind::HttpResponse,
            ],
            FormatKind::HttpResponse => [
                FormatKind::HttpResponse,
                FormatKind::WsMessage,
                FormatKind::HttpStream,
            ],
        };
        order.into_iter().find_map(|kind| self.format_payload(kind))
    }

    fn format_payload(&self, kind: FormatKind) -> Option<Payload> {
        let f = &self.formats;
        match kind {
            FormatKind::WsMessage => {
                let w = f.ws_message.as_ref()?;
                if w.action.as_deref() == Some("close") {
                    return Some(Payload::Close {
                        code: w.code,
                        reason: w.reason.clone(),
                    });
                }
                content(w.content.as_deref(), w.content_bin.as_deref())
            }
            FormatKind::HttpStream => {
                let s = f.http_stream.as_ref()?;
                if s.action.as_deref() == Some("close") {
                    return Some(Payload::Close {
                        code: None,
                        reason: None,
                    });
                }
                content(s.content.as_deref(), s.content_bin.as_deref())
            }
            FormatKind::HttpResponse => {
                let r = f.http_response.as_ref()?;
                content(r.body.as_deref(), r.body_bin.as_deref())
            }
        }
    }
}

impl WsMessage {
    pub fn text(text: impl Into<String>) -> WsMessage {
        WsMessage {
            content: Some(text.into()),
            ..WsMessage::default()
        }
    }

    pub fn binary(bytes: &[u8]) -> WsMessage {
        WsMessage {
            content_bin: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ..WsMessage::default()
        }
    }

    pub fn close(code: Option<u16>, reason: Option<String>) -> WsMessage {
        WsMessage {
            action: Some("close".into()),
            code,
            reason,
            ..WsMessage::default()
        }
    }
}

/// Binary wins over text, as in Pushpin, which looks at `content-bin` first.
fn content(text: Option<&str>, bin: Option<&str>) -> Option<Payload> {
    if let Some(bin) = bin {
        return base64::engine::general_purpose::STANDARD
            .decode(bin)
            .ok()
            .map(Payload::Binary);
    }
    text.map(|t| Payload::Text(t.to_owned()))
}

fn check_base64(value: Option<&str>, format: &str, field: &str) -> Result<(), PublishError> {
    match value {
        Some(v) if base64::engine::general_purpose::STANDARD.decode(v).is_err() => Err(invalid(
            &format!("{format} contains '{field}' with invalid value"),
        )),
        _ => Ok(()),
    }
}

fn invalid(text: &str) -> PublishError {
    PublishError::Invalid(text.to_owned())
}

/// Turns serde's "invalid type: integer `5`, expected a string" into Pushpin's phrasing.
fn wrong_type(detail: &str) -> String {
    format!("publish item object contains a field with wrong type ({detail})")
}
