//! `GET /stream`, `GET /poll` and `POST /send` behind Pushpin: held with GRIP instructions.
//!
//! A stream is answered once with `Grip-Hold: stream`: the body so far (welcome, presence,
//! replays) plus a `Grip-Channel` per room and watched channel, each with `prev-id` = the last
//! id the client has, and a `Grip-Link` back to `/stream` (`link=next`). Pushpin then appends
//! every published item, checks that each item's `prev-id` follows the one before, and when it
//! does not — or when the origin publishes a hint to the session's own channel after an enter —
//! asks the link again with `Grip-Last`; the answer is whatever the client missed and the new
//! channel set.
//!
//! The link has no `timeout`: Pushpin 1.36 follows links at most ten a second for the whole
//! proxy, and with per-session link URLs it cannot group them, so a timed refresh of every
//! stream (it used to be the stream's presence) spent that budget on 100 streams and made room
//! items wait seconds behind it. (Pushpin 1.36 still follows a new stream's link once, about a
//! second after the hold; after that only for gaps and hints.) A stream's presence is kept by the client's own traffic
//! instead: every `POST /send` (the client engine pings at least every half heartbeat on a
//! stream) touches the session. A session unheard of for its TTL leaves its rooms, and its
//! held stream is closed through the session's channel (see `sessions`).
//!
//! A poll answers at once when anything is waiting, else holds with `Grip-Hold: response`.
//! Pushpin answers a held poll with the first published item that follows its `prev-id`;
//! the origin does not learn of that answer, so the next poll may repeat that item (the client
//! drops what it already has by id).

use crate::http::{error_event, json_response, HttpQuery};
use crate::item::Transport;
use crate::origin::channels::{hub_channel, item_number, pushpin_id, sse_block, PushpinChannel};
use crate::origin::sessions::GripSession;
use crate::origin::{signature, Origin};
use crate::session::frame_error;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use tack_protocol::chat::{ClientFrame, Enter, EventId, Hello, Positions, Watch};
use tack_protocol::grip::{self, Channel, Hold, KeepAlive, Link};
use tack_protocol::ErrorCode;

/// One event for the client: its JSON and, when numbered, the session's positions after it.
struct Out {
    text: String,
    positions: Option<String>,
}

fn names(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

fn bad_request(message: String) -> Response {
    let body = format!("[{}]", error_event(ErrorCode::BadField, message).to_json());
    json_response(StatusCode::BAD_REQUEST, body)
}

/// Finds the session named in the query, or starts one (then `fresh` is true) and applies the
/// query's nick, rooms and watches. Events for the client go to `out`.
async fn open(
    origin: &Origin,
    query: &HttpQuery,
    headers: &HeaderMap,
    out: &mut Vec<Out>,
) -> Result<(Arc<GripSession>, bool), Response> {
    let mut since = match &query.since {
        Some(text) => Positions::parse(text).map_err(|e| bad_request(format!("since: {e}")))?,
        None => Positions::default(),
    };
    if let Some(last) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        if !last.is_empty() {
            let last =
                Positions::parse(last).map_err(|e| bad_request(format!("Last-Event-ID: {e}")))?;
            // Through Pushpin an event's id names only its own room: keep the others' `since`.
            since.0.extend(last.0);
        }
    }
    let existing = query
        .session
        .as_deref()
        .and_then(|id| origin.sessions.http(id));
    let (grip, fresh) = match existing {
        Some(grip) => (grip, false),
        None => {
            let (session, queue) = origin.app.new_session(None);
            let grip = GripSession::new(session, queue, origin.http_ttl());
            origin.sessions.add_http(grip.clone());
            (grip, true)
        }
    };
    let session = &grip.session;
    let hub = origin.app.hub.as_ref();
    let mut frames = Vec::new();
    if let Some(nick) = &query.nick {
        frames.push(ClientFrame::Hello(Hello {
            nick: nick.clone(),
            client: None,
            takeover: None,
        }));
    }
    if fresh {
        out.push(Out {
            text: String::new(), // replaced by the welcome below, once the nick is set
            positions: None,
        });
    }
    for room in names(query.rooms.as_deref()) {
        if !session.is_in(&room) {
            frames.push(ClientFrame::Enter(Enter {
                since: since.get(&room),
                room,
            }));
        }
    }
    for channel in names(query.watch.as_deref()) {
        if !session.is_watching(&channel) {
            frames.push(ClientFrame::Watch(Watch {
                since: since.get(&channel),
                channel,
            }));
        }
    }
    for frame in frames {
        let reply = match frame.validate() {
            Ok(()) => session.apply(hub, frame).await,
            Err(err) => Some(frame_error(&err)),
        };
        if let Some(reply) = reply {
            out.push(Out {
                text: reply.to_json(),
                positions: None,
            });
        }
    }
    if fresh {
        out[0].text = origin.app.welcome(session).to_json();
    }
    Ok((grip, fresh))
}

/// Everything the client should get now: the session's own queue (enter answers), then every
/// item of its rooms and channels after what it has. `grip_last` is where Pushpin says the
/// client is (from `Grip-Last`), which wins over the session's own record.
async fn collect(
    origin: &Origin,
    grip: &GripSession,
    transport: Transport,
    grip_last: &Positions,
    out: &mut Vec<Out>,
) {
    let n = grip.drain(transport, &mut |text, positions| {
        out.push(Out {
            text: text.as_str().to_owned(),
            positions: positions.map(Positions::encode),
        })
    });
    origin.app.metrics.delivered(n);
    let session = &grip.session;
    let mut channels: Vec<(String, bool)> =
        session.rooms().into_iter().map(|r| (r, false)).collect();
    channels.extend(
        session
            .watching()
            .into_iter()
            .filter(|c| !session.is_in(c))
            .map(|c| (c, true)),
    );
    // Missed items of every channel, merged oldest first, so a client that was away sees the
    // rooms' events in the order they happened.
    let mut missed = Vec::new();
    for (channel, watcher) in channels {
        let known = session.positions.lock().get(&channel);
        let Some(from) = grip_last.get(&channel).or(known) else {
            continue;
        };
        let items = origin.app.hub.history(&channel, from, EventId::MAX).await;
        missed.extend(items.into_iter().map(|item| (item, watcher)));
    }
    missed.sort_by_key(|(item, _)| item.ts);
    for (item, watcher) in missed {
        let positions = {
            let mut positions = session.positions.lock();
            positions.advance(&item.channel, item.id);
            positions.encode()
        };
        out.push(Out {
            text: item.frame(transport, watcher).as_str().to_owned(),
            positions: Some(positions),
        });
        origin.app.metrics.delivered(1);
    }
}

/// `Grip-Channel`: the session's own channel, the channel that reaches everyone, then every
/// room and watched channel with the last id the client has.
fn grip_channels(grip: &GripSession, epoch: &str) -> String {
    let session = &grip.session;
    let positions = session.positions.lock().clone();
    let mut channels = vec![
        Channel::new(PushpinChannel::Session(&session.id).name()),
        Channel::new(PushpinChannel::Everyone.name()),
    ];
    let with_prev = |channel: Channel, name: &str| match positions.get(name) {
        Some(id) => channel.with_prev_id(pushpin_id(epoch, id)),
        None => channel,
    };
    for room in session.rooms() {
        channels.push(with_prev(
            Channel::new(PushpinChannel::Room(&room).name()),
            &room,
        ));
    }
    for channel in session.watching() {
        channels.push(with_prev(
            Channel::new(PushpinChannel::Watch(&channel).name()),
            &channel,
        ));
    }
    grip::format_channels(&channels)
}

/// Where Pushpin says the client is: `Grip-Last: r.lobby; last-id=41`, by hub channel.
fn grip_last(headers: &HeaderMap, epoch: &str) -> Positions {
    let values = headers
        .get_all(grip::LAST_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let mut positions = Positions::default();
    for (name, last) in grip::parse_last(values).unwrap_or_default() {
        // Another epoch's id is from before the origin restarted: it says nothing now.
        if let (Some(channel), Some(id)) = (hub_channel(&name), item_number(epoch, &last)) {
            // A room and a watch of the same channel: the lower one is what is surely there.
            let entry = positions.0.entry(channel).or_insert(id);
            *entry = (*entry).min(id);
        }
    }
    positions
}

/// The client's own `Authorization: Bearer` (Pushpin passes it on), when the server has an
/// access token: the same refusal as on the built-in server.
pub fn unauthorized(origin: &Origin, headers: &HeaderMap) -> Option<Response> {
    if origin.app.client_authorized(headers) {
        return None;
    }
    let event = error_event(
        ErrorCode::Unauthorized,
        "this server needs Authorization: Bearer <token>".into(),
    );
    Some(json_response(
        StatusCode::UNAUTHORIZED,
        format!("[{}]", event.to_json()),
    ))
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `GET /stream`, from a client or from Pushpin following the `Grip-Link`.
pub async fn stream(
    State(origin): State<Origin>,
    Query(query): Query<HttpQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = signature::verify(&headers, origin.grip_key()) {
        return signature::refusal(&why);
    }
    if let Some(refused) = unauthorized(&origin, &headers) {
        return refused;
    }
    let mut out = Vec::new();
    let following = query.link.as_deref() == Some("next");
    let grip = if following {
        // Pushpin asking again for a stream it holds.
        origin
            .stream_links_followed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let known = query
            .session
            .as_deref()
            .and_then(|id| origin.sessions.http(id));
        let Some(grip) = known else {
            // The origin restarted or the session expired: end the stream so the client
            // reconnects and starts over.
            let event = error_event(
                ErrorCode::UnknownSession,
                "this session has expired; reconnect to start a new one".into(),
            );
            return (
                [(header::CONTENT_TYPE, "text/event-stream")],
                sse_block(&event.to_json(), None),
            )
                .into_response();
        };
        grip
    } else {
        match open(&origin, &query, &headers, &mut out).await {
            Ok((grip, _)) => grip,
            Err(refused) => return refused,
        }
    };
    grip.touch(origin.http_ttl());
    let last = if following {
        grip_last(&headers, origin.hub.epoch())
    } else {
        Positions::default()
    };
    collect(&origin, &grip, Transport::Stream, &last, &mut out).await;

    let mut body = String::new();
    for event in &out {
        let mut sse = tack_protocol::sse::Event::data(event.text.as_str());
        if let Some(id) = &event.positions {
            sse = sse.with_id(id.as_str());
        }
        let _ = tack_protocol::sse::encode_into(&sse, &mut body);
    }
    let session_id = grip.session.id.clone();
    let keepalive = KeepAlive {
        content: b":\n\n".to_vec(),
        timeout: Some(origin.app.config.keepalive_secs.max(1) as u32),
        mode: None,
    };
    // No timeout: followed only for a gap or a hint (see the module docs).
    let link = Link::next(format!("/stream?session={session_id}&link=next"), None);
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        Hold::HEADER,
        HeaderValue::from_static(Hold::Stream.as_str()),
    );
    h.insert(
        Channel::HEADER,
        header_value(grip_channels(&grip, origin.hub.epoch())),
    );
    h.insert(KeepAlive::HEADER, header_value(keepalive.to_header()));
    h.insert(Link::HEADER, header_value(link.to_header()));
    response
}

/// `GET /poll`.
pub async fn poll(
    State(origin): State<Origin>,
    Query(query): Query<HttpQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = signature::verify(&headers, origin.grip_key()) {
        return signature::refusal(&why);
    }
    if let Some(refused) = unauthorized(&origin, &headers) {
        return refused;
    }
    let mut out = Vec::new();
    let (grip, fresh) = match open(&origin, &query, &headers, &mut out).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let timeout = query
        .timeout
        .unwrap_or(origin.app.config.poll_timeout_secs)
        .min(origin.app.config.poll_timeout_max_secs);
    // A held poll is the client's presence until Pushpin times it out.
    grip.touch(origin.http_ttl() + std::time::Duration::from_secs(timeout));
    collect(
        &origin,
        &grip,
        Transport::Poll,
        &grip_last(&headers, origin.hub.epoch()),
        &mut out,
    )
    .await;
    let body = format!(
        "[{}]",
        out.iter()
            .map(|o| o.text.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut response = json_response(StatusCode::OK, body);
    if fresh || !out.is_empty() {
        return response;
    }
    let h = response.headers_mut();
    h.insert(
        Hold::HEADER,
        HeaderValue::from_static(Hold::Response.as_str()),
    );
    h.insert(
        Channel::HEADER,
        header_value(grip_channels(&grip, origin.hub.epoch())),
    );
    h.insert(grip::TIMEOUT_HEADER, header_value(timeout.to_string()));
    response
}

#[derive(Debug, Deserialize)]
pub struct SendQuery {
    pub session: Option<String>,
}

/// `POST /send`: frames from an HTTP client; answers acks, errors and pongs. When the frames
/// changed the session's rooms or left it an answer to pick up, the session's channel gets a
/// hint, so Pushpin asks for the held stream's or poll's new state.
pub async fn send(
    State(origin): State<Origin>,
    Query(query): Query<SendQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = signature::verify(&headers, origin.grip_key()) {
        return signature::refusal(&why);
    }
    if let Some(refused) = unauthorized(&origin, &headers) {
        return refused;
    }
    let Some(grip) = query
        .session
        .as_deref()
        .and_then(|id| origin.sessions.http(id))
    else {
        let event = error_event(
            ErrorCode::UnknownSession,
            "no such session (it may have expired): open /stream or /poll without `session` to start a new one".into(),
        );
        return json_response(StatusCode::NOT_FOUND, format!("[{}]", event.to_json()));
    };
    grip.touch(origin.http_ttl());
    let Ok(text) = std::str::from_utf8(&body) else {
        let event = error_event(
            ErrorCode::BadFrame,
            "request body is not valid UTF-8".into(),
        );
        return json_response(StatusCode::BAD_REQUEST, format!("[{}]", event.to_json()));
    };
    let session = &grip.session;
    let before = (session.rooms(), session.watching());
    let mut replies = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            continue;
        }
        origin.app.metrics.message_in();
        if let Some(reply) = session.handle_text(origin.app.hub.as_ref(), line).await {
            replies.push(reply.to_json());
        }
    }
    if before != (session.rooms(), session.watching()) || grip.has_pending() {
        origin.hub.hint(&session.id);
    }
    json_response(StatusCode::OK, format!("[{}]", replies.join(",")))
}
