//! `POST /ws`: WebSocket-over-HTTP. Pushpin holds the client's WebSocket and forwards what
//! happens on it as `application/websocket-events` requests, one at a time per connection,
//! identified by `Connection-Id`.
//!
//! Everything meant for this client alone travels back in the response: `welcome` after
//! `OPEN`, presence and replays after an enter, acks, errors, pongs. Room traffic is published
//! by the hub to `r.<room>`, which the response subscribes the connection to (`c:subscribe`).
//! The response to `OPEN` turns off Pushpin's `m:` message prefix, so the chat events go out
//! exactly as the built-in server writes them, and asks for a request at least every
//! `Keep-Alive-Interval` seconds, which keeps the connection's presence alive.

use crate::client_frame;
use crate::item::Transport;
use crate::origin::channels::{PushpinChannel, SKIP_SELF};
use crate::origin::connections::Connection;
use crate::origin::{signature, Origin};
use crate::state::{Admitted, SessionKind};
use crate::ws::{binary_refused, SHUTDOWN_REASON};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use tack_protocol::grip::{ControlMessage, CONTROL_PREFIX};
use tack_protocol::wsevents::{decode_all, encode_all, Event};
use tack_protocol::CloseCode;

pub const CONTENT_TYPE: &str = "application/websocket-events";
/// Tells Pushpin that every TEXT that is not a `c:` control message goes to the client as is.
pub const NO_PREFIX: &str = "grip; message-prefix=\"\"";

pub async fn websocket_events(
    State(origin): State<Origin>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = signature::verify(&headers, origin.grip_key()) {
        return signature::refusal(&why);
    }
    // Pushpin passes the client's handshake headers on with every request; refusing the
    // first one makes Pushpin refuse the handshake with this status.
    let admitted = match origin.app.admit(&headers, None, true) {
        Ok(admitted) => admitted,
        Err(refused) => return crate::http::unauthorized(refused),
    };
    let Some(connection) = headers
        .get("connection-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return (
            StatusCode::BAD_REQUEST,
            "no Connection-Id: /ws expects WebSocket-over-HTTP from Pushpin (route with over_http)\n",
        )
            .into_response();
    };
    let max = origin.app.config.max_message_bytes;
    let events = match decode_all(&body, max.max(tack_protocol::wsevents::DEFAULT_MAX_CONTENT)) {
        Ok(events) => events,
        Err(err) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("body is not application/websocket-events: {err}\n"),
            )
                .into_response()
        }
    };

    if events.is_empty() {
        origin.websocket_keepalives.send_modify(|n| *n += 1);
    }
    let mut out: Vec<Event> = Vec::new();
    let mut opened = false;
    let mut grip = origin.connections.get(&connection);
    if grip.as_ref().is_some_and(|g| g.session.is_retired()) {
        // Its client's newer connection took this session over (`hello.takeover`).
        origin.connections.remove(&connection);
        let out = [Event::close(
            CloseCode::Policy.code(),
            "replaced by a newer connection of the same client",
        )];
        return (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, CONTENT_TYPE)],
            encode_all(&out),
        )
            .into_response();
    }
    for event in events {
        match event {
            Event::Open(_) => {
                // An OPEN for a connection already known is Pushpin trying the handshake
                // again (its first answer was lost): start over, so it gets its OPEN back.
                if let Some(stale) = grip.take() {
                    end(&origin, &connection, &stale).await;
                }
                let started = open(&origin, &connection, &mut out).await;
                if let Admitted::Signed(identity) = &admitted {
                    origin.app.sign_in(&started.session, identity.clone()).await;
                }
                grip = Some(started);
                opened = true;
            }
            Event::Text(text) => {
                let Some(g) = &grip else { break };
                g.touch(origin.websocket_ttl());
                if text.len() > max {
                    end(&origin, &connection, g).await;
                    out.push(Event::close(
                        CloseCode::TooBig.code(),
                        format!("message larger than {max} bytes"),
                    ));
                    break;
                }
                text_frame(&origin, g, &text, &mut out).await;
            }
            Event::Binary(_) => {
                if let Some(g) = &grip {
                    g.session.outbox.send_event(&binary_refused());
                    answer(&origin, g, &mut out);
                    g.touch(origin.websocket_ttl());
                }
            }
            Event::Ping(payload) => out.push(Event::Pong(payload)),
            Event::Pong(_) => {}
            Event::Close(code) => {
                if let Some(g) = &grip {
                    end(&origin, &connection, g).await;
                }
                out.push(Event::Close(code));
                break;
            }
            Event::Disconnect => {
                if let Some(g) = &grip {
                    end(&origin, &connection, g).await;
                }
                break;
            }
        }
    }
    match &grip {
        Some(g) => g.touch(origin.websocket_ttl()),
        None => {
            // A connection the origin does not know (it restarted, or the connection
            // expired): tell the client to reconnect, which makes a new session.
            out.push(Event::close(CloseCode::GoingAway.code(), SHUTDOWN_REASON));
        }
    }

    let mut response = (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, CONTENT_TYPE)],
        encode_all(&out),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        "keep-alive-interval",
        HeaderValue::from(origin.config.websocket_keepalive()),
    );
    if opened {
        h.insert(
            "sec-websocket-extensions",
            HeaderValue::from_static(NO_PREFIX),
        );
    }
    response
}

/// A new connection: its session, `OPEN`, the keep-alive and `welcome`.
async fn open(origin: &Origin, connection: &str, out: &mut Vec<Event>) -> Arc<Connection> {
    // An original-system page never says `hello`: until it does, it gets their escaping.
    let session = origin
        .app
        .start_session(SessionKind::PushpinWebSocket)
        .await;
    let grip = Connection::new(session, origin.websocket_ttl());
    origin.connections.insert(connection, grip.clone());
    tracing::debug!(session = %grip.session.id, %connection, "websocket connected through pushpin");
    out.push(Event::open());
    // Pushpin pings an idle client itself, as the built-in server does, so proxies between
    // it and the client keep the connection.
    let keepalive = json!({
        "type": "keep-alive",
        "message-type": "ping",
        "content": "tack",
        "timeout": origin.app.config.heartbeat_secs.max(1),
    });
    out.push(Event::text(format!("{CONTROL_PREFIX}{keepalive}")));
    // The connection's `user`, which the skip-self filter compares with an item's `sender`.
    out.push(Event::text(
        ControlMessage::SetMeta {
            name: "user".to_owned(),
            value: grip.session.key().to_string(),
        }
        .encode(),
    ));
    subscriptions(&grip, out);
    out.push(Event::text(origin.app.welcome(&grip.session).to_json()));
    grip
}

/// One client frame: applied by the session layer, then the subscriptions brought in line
/// with the session's rooms, then what the session has to be sent, then the reply.
async fn text_frame(origin: &Origin, grip: &Connection, text: &str, out: &mut Vec<Event>) {
    let reply = client_frame::handle_text(&origin.app, &grip.session, text).await;
    subscriptions(grip, out);
    answer(origin, grip, out);
    if let Some(reply) = reply {
        out.push(Event::text(reply.to_json()));
    }
}

/// What the session has for the client that Pushpin cannot deliver: its own events and what
/// its joins answered (presence, replays, `resumed`, its own `chatRoomEnter`).
fn answer(origin: &Origin, grip: &Connection, out: &mut Vec<Event>) {
    // Reach::UntilJoined never falls behind: it reads only what its joins answered.
    let n = grip
        .session
        .take(Transport::WebSocket, usize::MAX, &mut |text, _| {
            out.push(Event::text(text.as_str()))
        })
        .unwrap_or(0);
    origin.app.metrics.delivered(n);
}

/// `c:subscribe` / `c:unsubscribe` for the difference between the Pushpin channels the
/// connection has and those its rooms and watches need.
fn subscriptions(grip: &Connection, out: &mut Vec<Event>) {
    let session = &grip.session;
    let legacy = !session.greeted();
    let mut wanted: BTreeSet<String> = session
        .rooms()
        .iter()
        .map(|r| {
            if legacy {
                PushpinChannel::Legacy(r).name()
            } else {
                PushpinChannel::Room(r).name()
            }
        })
        .collect();
    wanted.insert(PushpinChannel::Everyone.name());
    wanted.extend(
        session
            .watching()
            .iter()
            .map(|c| PushpinChannel::Watch(c).name()),
    );
    let mut have = grip.subscribed.lock();
    for channel in have.difference(&wanted) {
        out.push(Event::text(
            ControlMessage::Unsubscribe {
                channel: channel.clone(),
            }
            .encode(),
        ));
    }
    for channel in wanted.difference(&have) {
        // Room subscriptions skip the joiner's own `chatRoomEnter`: it is already in this
        // response, and may or may not beat the subscription to Pushpin.
        let subscribe = if channel.starts_with("r.") || channel.starts_with("l.") {
            json!({"type": "subscribe", "channel": channel, "filters": [SKIP_SELF]})
        } else {
            json!({"type": "subscribe", "channel": channel})
        };
        out.push(Event::text(format!("{CONTROL_PREFIX}{subscribe}")));
    }
    *have = wanted;
}

/// The connection is gone: leave every room so viewer counts stay right.
async fn end(origin: &Origin, connection: &str, grip: &Connection) {
    origin.connections.remove(connection);
    origin.app.end_session(&grip.session).await;
    tracing::debug!(session = %grip.session.id, %connection, "websocket closed through pushpin");
}
