//! One message of Pushpin's stats socket: `<type> T<tnetstring>` or `<type> J<json>`, a
//! single ZeroMQ frame (Pushpin's `StatsManager`, `stats_format` choosing T or J), read into a
//! [`StatsEvent`].
//!
//! Only what the deployment view needs is kept: connections (`conn`), subscriptions (`sub`)
//! and deliveries (`message`). Every other type (`report`, `activity`, `counts`, `conn-max`)
//! is a sign of life and nothing more. Anything malformed is a [`BadStats`], never a panic:
//! the socket belongs to another process.

use super::tnetstring;
use serde_json::Value;
use std::time::Duration;

/// A stats message longer than this is refused unread. Pushpin's are a few hundred bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Connection ids and channel names longer than this are refused (Pushpin's channel names are
/// Tack's, at most 64 bytes and percent-encoded; its ids are tens of bytes).
const MAX_NAME_BYTES: usize = 1024;
/// The longest TTL believed: Pushpin's defaults are 60 and 120 s.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// How a client is connected to Pushpin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    WebSocket,
    Http,
}

impl ConnectionKind {
    /// The key in `connections_by_type`.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionKind::WebSocket => "ws",
            ConnectionKind::Http => "http",
        }
    }
}

/// What one stats message says.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsEvent {
    /// A connection is open, for at least `ttl` more unless Pushpin says so again.
    Connected {
        id: String,
        kind: ConnectionKind,
        ttl: Duration,
    },
    /// A connection is gone (`"unavailable": true`).
    Disconnected { id: String },
    /// A channel has subscribers in one mode (`ws`, `stream`, `response`) for `ttl` more.
    Subscribed {
        mode: String,
        channel: String,
        subscribers: u64,
        ttl: Duration,
    },
    /// A channel has no more subscribers in that mode.
    Unsubscribed { mode: String, channel: String },
    /// A published item (`item_id`, when it has one) reached `receivers` subscribers of one
    /// transport: one such message per transport that had receivers.
    Delivered {
        channel: String,
        item_id: Option<String>,
        receivers: u64,
    },
    /// Another kind of message (`report`, `activity`, ...): Pushpin is alive.
    Other,
}

/// Why a stats message was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadStats {
    #[error("{0} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLong(usize),
    #[error("no `<type> ` prefix")]
    NoType,
    #[error("unknown format marker (expected T for tnetstring or J for JSON)")]
    UnknownFormat,
    #[error("tnetstring: {0}")]
    Tnetstring(#[from] tnetstring::TnetError),
    #[error("JSON: {0}")]
    Json(String),
    #[error("`{kind}` message: {problem}")]
    Field {
        kind: &'static str,
        problem: &'static str,
    },
}

/// Reads one stats message (one ZeroMQ frame).
pub fn parse(frame: &[u8]) -> Result<StatsEvent, BadStats> {
    if frame.len() > MAX_MESSAGE_BYTES {
        return Err(BadStats::TooLong(frame.len()));
    }
    let space = frame
        .iter()
        .take(32)
        .position(|&b| b == b' ')
        .ok_or(BadStats::NoType)?;
    let (kind, rest) = (&frame[..space], &frame[space + 1..]);
    let body = match rest.split_first() {
        Some((b'T', payload)) => tnetstring::parse(payload)?,
        Some((b'J', payload)) => {
            serde_json::from_slice(payload).map_err(|e| BadStats::Json(e.to_string()))?
        }
        _ => return Err(BadStats::UnknownFormat),
    };
    match kind {
        b"conn" => connection(&body),
        b"sub" => subscription(&body),
        b"message" => delivery(&body),
        _ => Ok(StatsEvent::Other),
    }
}

fn connection(body: &Value) -> Result<StatsEvent, BadStats> {
    let field = |problem| BadStats::Field {
        kind: "conn",
        problem,
    };
    let id = name(body, "id").ok_or(field("no id"))?;
    if unavailable(body) {
        return Ok(StatsEvent::Disconnected { id });
    }
    let kind = match body.get("type").and_then(Value::as_str) {
        Some("ws") => ConnectionKind::WebSocket,
        Some("http") => ConnectionKind::Http,
        _ => return Err(field("type is neither ws nor http")),
    };
    let ttl = ttl(body).ok_or(field("no ttl"))?;
    Ok(StatsEvent::Connected { id, kind, ttl })
}

fn subscription(body: &Value) -> Result<StatsEvent, BadStats> {
    let field = |problem| BadStats::Field {
        kind: "sub",
        problem,
    };
    let mode = name(body, "mode").ok_or(field("no mode"))?;
    let channel = name(body, "channel").ok_or(field("no channel"))?;
    if unavailable(body) {
        return Ok(StatsEvent::Unsubscribed { mode, channel });
    }
    let ttl = ttl(body).ok_or(field("no ttl"))?;
    // Pushpin leaves the count out when it does not know it; the channel has one at least.
    let subscribers = match body.get("subscribers") {
        None => 1,
        Some(n) => n.as_u64().ok_or(field("subscribers is not a count"))?,
    };
    Ok(StatsEvent::Subscribed {
        mode,
        channel,
        subscribers,
        ttl,
    })
}

fn delivery(body: &Value) -> Result<StatsEvent, BadStats> {
    let field = |problem| BadStats::Field {
        kind: "message",
        problem,
    };
    let channel = name(body, "channel").ok_or(field("no channel"))?;
    let item_id = name(body, "item-id");
    let receivers = body
        .get("count")
        .and_then(Value::as_u64)
        .ok_or(field("no count"))?;
    Ok(StatsEvent::Delivered {
        channel,
        item_id,
        receivers,
    })
}

/// A string field within [`MAX_NAME_BYTES`].
fn name(body: &Value, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| s.len() <= MAX_NAME_BYTES)
        .map(str::to_owned)
}

fn unavailable(body: &Value) -> bool {
    body.get("unavailable").and_then(Value::as_bool) == Some(true)
}

fn ttl(body: &Value) -> Option<Duration> {
    let secs = body.get("ttl")?.as_u64()?;
    Some(Duration::from_secs(secs).min(MAX_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn tnet(kind: &str, body: Value) -> Vec<u8> {
        let mut frame = format!("{kind} T").into_bytes();
        frame.extend(tnetstring::encode(&body));
        frame
    }

    #[test]
    fn a_websocket_opening_and_closing_in_either_format() {
        let open = json!({"from":"h","route":"","id":"c1","type":"ws","ttl":120,"peer-address":"127.0.0.1"});
        let expected = StatsEvent::Connected {
            id: "c1".into(),
            kind: ConnectionKind::WebSocket,
            ttl: Duration::from_secs(120),
        };
        assert_eq!(parse(&tnet("conn", open.clone())), Ok(expected.clone()));
        assert_eq!(parse(format!("conn J{open}").as_bytes()), Ok(expected));
        assert_eq!(
            parse(&tnet("conn", json!({"id":"c1","unavailable":true}))),
            Ok(StatsEvent::Disconnected { id: "c1".into() })
        );
    }

    #[test]
    fn subscriptions_and_deliveries() {
        assert_eq!(
            parse(&tnet(
                "sub",
                json!({"mode":"ws","channel":"r.lobby","ttl":60,"subscribers":2})
            )),
            Ok(StatsEvent::Subscribed {
                mode: "ws".into(),
                channel: "r.lobby".into(),
                subscribers: 2,
                ttl: Duration::from_secs(60)
            })
        );
        assert_eq!(
            parse(&tnet(
                "sub",
                json!({"mode":"ws","channel":"r.lobby","unavailable":true})
            )),
            Ok(StatsEvent::Unsubscribed {
                mode: "ws".into(),
                channel: "r.lobby".into()
            })
        );
        assert_eq!(
            parse(&tnet(
                "message",
                json!({"channel":"r.lobby","item-id":"x-1","count":3,"transport":"ws-message"})
            )),
            Ok(StatsEvent::Delivered {
                channel: "r.lobby".into(),
                item_id: Some("x-1".into()),
                receivers: 3
            })
        );
        assert_eq!(
            parse(&tnet("report", json!({"connections":1}))),
            Ok(StatsEvent::Other)
        );
    }

    #[test]
    fn what_cannot_be_understood_says_why() {
        assert_eq!(parse(b"conn"), Err(BadStats::NoType));
        assert_eq!(parse(b"conn X{}"), Err(BadStats::UnknownFormat));
        assert!(matches!(parse(b"conn J{"), Err(BadStats::Json(_))));
        assert!(matches!(
            parse(&tnet(
                "conn",
                json!({"id":"c","type":"carrier-pigeon","ttl":1})
            )),
            Err(BadStats::Field { kind: "conn", .. })
        ));
        assert!(matches!(
            parse(&tnet("message", json!({"channel":"c","count":-1}))),
            Err(BadStats::Field { .. })
        ));
        let huge = vec![b'x'; MAX_MESSAGE_BYTES + 1];
        assert_eq!(parse(&huge), Err(BadStats::TooLong(MAX_MESSAGE_BYTES + 1)));
        let long_id = "i".repeat(MAX_NAME_BYTES + 1);
        assert!(parse(&tnet("conn", json!({"id":long_id,"unavailable":true}))).is_err());
    }

    proptest! {
        #[test]
        fn any_frame_is_read_or_refused_without_panicking(
            kind in prop_oneof![Just("conn".to_owned()), Just("sub".to_owned()), Just("message".to_owned()), Just("report".to_owned()), "[a-z]{0,6}"],
            marker in prop_oneof![Just(b'T'), Just(b'J'), any::<u8>()],
            payload in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut frame = format!("{kind} ").into_bytes();
            frame.push(marker);
            frame.extend(payload);
            let _ = parse(&frame);
        }

        #[test]
        fn well_formed_packets_with_odd_values_never_panic(
            kind in prop_oneof![Just("conn"), Just("sub"), Just("message")],
            id in prop_oneof![Just(json!("c")), Just(json!(7)), Just(Value::Null)],
            ttl in prop_oneof![Just(json!(60)), Just(json!(-5)), Just(json!(u64::MAX)), Just(json!("x"))],
            count in prop_oneof![Just(json!(0)), Just(json!(-1)), Just(json!(1.5)), Just(json!(u64::MAX))],
            unavailable in any::<Option<bool>>(),
        ) {
            let mut body = json!({"id":id,"channel":"r.a","mode":"ws","type":"ws","ttl":ttl,"count":count,"subscribers":count});
            if let Some(u) = unavailable {
                body["unavailable"] = json!(u);
            }
            let _ = parse(&tnet(kind, body.clone()));
            let _ = parse(format!("{kind} J{body}").as_bytes());
        }
    }
}
