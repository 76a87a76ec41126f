//! `GET /stream`, `GET /poll` and `POST /send` behind Pushpin: held with GRIP instructions.
//!
//! A stream is answered once with `Grip-Hold: stream`: the body so far (welcome, presence,
//! replays) plus a `Grip-Channel` per room and watched channel, each with `prev-id` = the last
//! id the client has, and a `Grip-Link` back to `/stream` (`link=next`). Pushpin then appends
//! every published item, checks that each item's `prev-id` follows the one before, and when it
//! does not — or when the origin publishes a hint to the session's own channel after an enter —
//! asks the link again with `Grip-Last`; the answer is whatever the client missed and the new
//! channel set. The link also names the session's own events the answers so far carried
//! (`own=`): Pushpin asks a link again when its request failed, and the events of an answer
//! it never got go out again instead of being lost.
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

use crate::http::{self, json_response, open, replies_response, HttpQuery, SendQuery};
use crate::item::Transport;
use crate::origin::channels::{hub_channel, item_number, pushpin_id, PushpinChannel};
use crate::origin::{signature, Origin};
use crate::session::Session;
use crate::sessions::HttpSession;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tack_protocol::chat::{Positions, ServerEvent};
use tack_protocol::grip::{self, Channel, Hold, KeepAlive, Link};
use tack_protocol::{sse, ErrorCode};

/// Events in one answer at most (a client back after a long absence gets the rest next).
const MAX_ANSWER: usize = 4096;

/// Everything the session has for the client now: its own events (enter answers), then every
/// item of its rooms and channels after its cursors, as SSE blocks (numbered ones with the
/// session's positions as `id:`) or poll JSON.
///
/// A stream's own events stay with the session until the next link acks them (`acked`, from
/// the link this answer gives; returned): Pushpin asks a link again when its request failed,
/// and an answer the origin gave but Pushpin never got would otherwise take them along.
/// Items need no such care: the next link seeks to `Grip-Last`.
fn collect(
    origin: &Origin,
    session: &Session,
    transport: Transport,
    acked: u64,
    out: &mut Vec<String>,
) -> u64 {
    let mut own = Vec::new();
    let last = match transport {
        Transport::Stream => session.outbox.take_keeping(acked, MAX_ANSWER, &mut own),
        _ => {
            session.outbox.take(MAX_ANSWER, &mut own);
            0
        }
    };
    let mut emit = |text: axum::extract::ws::Utf8Bytes, positions: Option<&Positions>| {
        out.push(match transport {
            Transport::Stream => {
                let mut event = sse::Event::data(text.as_str());
                if let Some(positions) = positions {
                    event = event.with_id(positions.encode());
                }
                sse::encode(&event).unwrap_or_default()
            }
            _ => text.as_str().to_owned(),
        })
    };
    let mut n = own.len();
    for text in own {
        emit(text, None);
    }
    // Behind Pushpin a session reads on from what is held when it fell behind: Pushpin's
    // `prev-id` check and the client's resume recover the rest.
    n += session
        .take_items(transport, MAX_ANSWER.saturating_sub(n), &mut emit)
        .unwrap_or(0);
    origin.app.metrics.delivered(n);
    last
}

/// `Grip-Channel`: the session's own channel, the channel that reaches everyone, then every
/// room and watched channel with the last id the client has.
fn grip_channels(session: &Session, epoch: &str) -> String {
    let positions = session.positions();
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

fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn sse_block(event: &ServerEvent) -> String {
    sse::encode(&sse::Event::data(event.to_json())).unwrap_or_default()
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
    let mut out = Vec::new();
    let following = query.link.as_deref() == Some("next");
    let http: Arc<HttpSession> = if following {
        // Pushpin asking again for a stream it holds.
        origin
            .stream_links_followed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let known = query
            .session
            .as_deref()
            .and_then(|id| origin.app.sessions.get(id));
        let Some(http) = known else {
            // The origin restarted or the session expired: end the stream so the client
            // reconnects and starts over.
            let event = crate::client_frame::error_event(
                ErrorCode::UnknownSession,
                "this session has expired; reconnect to start a new one".into(),
                None,
                None,
            );
            return (
                [(header::CONTENT_TYPE, "text/event-stream")],
                sse_block(&event),
            )
                .into_response();
        };
        http.session
            .seek(&grip_last(&headers, origin.app.hub.epoch()));
        http
    } else {
        match open(&origin.app, &query, &headers).await {
            Ok(opened) => {
                out.push(sse_block(&opened.welcome));
                out.extend(opened.refused.iter().map(sse_block));
                opened.http
            }
            Err(refused) => return refused,
        }
    };
    http.touch(origin.http_ttl());
    let session = &http.session;
    // A new stream for a known session starts afresh: what earlier streams were sent is theirs.
    let acked = if following {
        query.own.unwrap_or(0)
    } else {
        u64::MAX
    };
    let own = collect(&origin, session, Transport::Stream, acked, &mut out);

    let keepalive = KeepAlive {
        content: b":\n\n".to_vec(),
        timeout: Some(origin.app.config.keepalive_secs.max(1) as u32),
        mode: None,
    };
    // No timeout: followed only for a gap or a hint (see the module docs).
    let link = Link::next(
        format!("/stream?session={}&link=next&own={own}", session.id),
        None,
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        out.concat(),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        Hold::HEADER,
        HeaderValue::from_static(Hold::Stream.as_str()),
    );
    h.insert(
        Channel::HEADER,
        header_value(grip_channels(session, origin.app.hub.epoch())),
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
    let opened = match open(&origin.app, &query, &headers).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let mut out: Vec<String> = opened
        .fresh
        .then(|| opened.welcome.to_json())
        .into_iter()
        .chain(opened.refused.iter().map(ServerEvent::to_json))
        .collect();
    let session = opened.session();
    let timeout = query
        .timeout
        .unwrap_or(origin.app.config.poll_timeout_secs)
        .min(origin.app.config.poll_timeout_max_secs);
    // A held poll is the client's presence until Pushpin times it out.
    opened
        .http
        .touch(origin.http_ttl() + std::time::Duration::from_secs(timeout));
    session.seek(&grip_last(&headers, origin.app.hub.epoch()));
    collect(&origin, session, Transport::Poll, 0, &mut out);
    let mut response = json_response(StatusCode::OK, format!("[{}]", out.join(",")));
    if opened.fresh || !out.is_empty() {
        return response;
    }
    let h = response.headers_mut();
    h.insert(
        Hold::HEADER,
        HeaderValue::from_static(Hold::Response.as_str()),
    );
    h.insert(
        Channel::HEADER,
        header_value(grip_channels(session, origin.app.hub.epoch())),
    );
    h.insert(grip::TIMEOUT_HEADER, header_value(timeout.to_string()));
    response
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
    let before = query
        .session
        .as_deref()
        .and_then(|id| origin.app.sessions.get(id))
        .map(|http| (http.session.rooms(), http.session.watching()));
    match http::send(&origin.app, &query, &headers, &body).await {
        Ok((http, replies)) => {
            let session = &http.session;
            let after = (session.rooms(), session.watching());
            if before.as_ref() != Some(&after) || !session.outbox.is_empty() {
                origin.hint(&session.id);
            }
            replies_response(&replies)
        }
        Err(refused) => refused,
    }
}
