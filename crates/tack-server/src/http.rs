//! What `/stream` and `/poll` share: finding or creating the session, entering the rooms named
//! in the query, resuming from `since` / `Last-Event-ID`, and turning queued events into the
//! events one transport sends.

use crate::http_session::{Attachment, HttpSession};
use crate::item::{Item, Transport};
use crate::outbox::Outbound;
use crate::session::{frame_error, Session};
use crate::state::AppState;
use axum::extract::ws::Utf8Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use tack_protocol::chat::{ClientFrame, Enter, ErrorEvent, Hello, Positions, ServerEvent, Watch};
use tack_protocol::ErrorCode;

/// The query of `GET /stream` and `GET /poll`, on the built-in server and behind Pushpin.
#[derive(Debug, Default, Deserialize)]
pub struct HttpQuery {
    pub session: Option<String>,
    pub nick: Option<String>,
    pub rooms: Option<String>,
    pub watch: Option<String>,
    pub since: Option<String>,
    pub timeout: Option<u64>,
    /// Origin mode only: `next` when Pushpin follows the `Grip-Link` of a held stream.
    pub link: Option<String>,
}

/// A request attached to its session's queue, with what to send before the queue.
pub struct Opened {
    pub attachment: Attachment,
    pub session: Arc<Session>,
    /// True when this request created the session.
    pub fresh: bool,
    /// Events to send first: welcome, errors for refused rooms, replays of lost responses.
    pub prefix: Vec<Outbound>,
    /// Per channel, the newest id the client already has: queued items up to it are skipped.
    pub floor: Positions,
}

pub fn error_event(code: ErrorCode, message: String) -> ServerEvent {
    ServerEvent::Error(ErrorEvent {
        code,
        message,
        cid: None,
        event: None,
    })
}

fn bad_request(message: String) -> Response {
    let body = format!("[{}]", error_event(ErrorCode::BadField, message).to_json());
    json_response(StatusCode::BAD_REQUEST, body)
}

pub fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn names(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Finds or creates the session, attaches to its queue, enters and watches what the query
/// names, and works out what a reconnecting client missed.
pub async fn open(
    state: &AppState,
    query: &HttpQuery,
    headers: &HeaderMap,
) -> Result<Opened, Response> {
    if !state.client_authorized(headers) {
        return Err(json_response(
            StatusCode::UNAUTHORIZED,
            format!(
                "[{}]",
                error_event(
                    ErrorCode::Unauthorized,
                    "this server needs Authorization: Bearer <token>".into()
                )
                .to_json()
            ),
        ));
    }
    let mut since = match &query.since {
        Some(text) => Positions::parse(text).map_err(|e| bad_request(format!("since: {e}")))?,
        None => Positions::default(),
    };
    if let Some(last) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        if !last.is_empty() {
            since =
                Positions::parse(last).map_err(|e| bad_request(format!("Last-Event-ID: {e}")))?;
        }
    }

    let existing = query
        .session
        .as_deref()
        .and_then(|id| state.sessions.get(id));
    let (http, fresh) = match existing {
        Some(http) if !http.session.outbox.ended().is_cancelled() => (http, false),
        _ => {
            let (session, queue) = state.new_session(None);
            let http = HttpSession::new(session, queue);
            state.sessions.insert(http.clone());
            (http, true)
        }
    };
    let session = http.session.clone();
    let hub = state.hub.as_ref();
    let mut prefix = Vec::new();
    let reply = |event: Option<ServerEvent>, prefix: &mut Vec<Outbound>| {
        if let Some(event) = event {
            prefix.push(Outbound::Event(event.to_json().into()));
        }
    };
    if let Some(nick) = &query.nick {
        let frame = ClientFrame::Hello(Hello {
            nick: nick.clone(),
            client: None,
            takeover: None,
        });
        let answer = match frame.validate() {
            Ok(()) => session.apply(hub, frame).await,
            Err(err) => Some(frame_error(&err)),
        };
        reply(answer, &mut prefix);
    }

    let attachment = http.attach().await;
    prefix.insert(0, Outbound::Event(state.welcome(&session).to_json().into()));

    // A client coming back to its session may have lost events that were already taken from
    // the queue (a poll answer that never arrived, a stream cut mid-write): replay those from
    // history, and skip queued items it already has.
    let mut floor = Positions::default();
    if !fresh {
        let delivered = session.positions.lock().clone();
        for (channel, &seen) in &since.0 {
            if !(session.is_in(channel) || session.is_watching(channel)) {
                continue;
            }
            let upto = delivered.get(channel).unwrap_or(0);
            if seen < upto {
                let watcher = !session.is_in(channel);
                for item in hub.history(channel, seen, upto).await {
                    prefix.push(Outbound::Item { item, watcher });
                }
            }
            floor.advance(channel, seen.max(upto));
        }
    }

    for room in names(query.rooms.as_deref()) {
        if session.is_in(&room) {
            continue;
        }
        let frame = ClientFrame::Enter(Enter {
            since: since.get(&room),
            room,
        });
        let answer = match frame.validate() {
            Ok(()) => session.apply(hub, frame).await,
            Err(err) => Some(frame_error(&err)),
        };
        reply(answer, &mut prefix);
    }
    for channel in names(query.watch.as_deref()) {
        if session.is_watching(&channel) {
            continue;
        }
        let frame = ClientFrame::Watch(Watch {
            since: since.get(&channel),
            channel,
        });
        let answer = match frame.validate() {
            Ok(()) => session.apply(hub, frame).await,
            Err(err) => Some(frame_error(&err)),
        };
        reply(answer, &mut prefix);
    }

    Ok(Opened {
        attachment,
        session,
        fresh,
        prefix,
        floor,
    })
}

/// Turns one queued entry into the events `transport` sends, calling `emit` with each event's
/// text and, for numbered events, the session's positions after it (the SSE `id:`).
/// Returns how many events were emitted.
pub fn expand(
    out: Outbound,
    transport: Transport,
    session: &Session,
    floor: &Positions,
    emit: &mut dyn FnMut(&Utf8Bytes, Option<&Positions>),
) -> usize {
    fn numbered(
        item: &Item,
        watcher: bool,
        transport: Transport,
        session: &Session,
        emit: &mut dyn FnMut(&Utf8Bytes, Option<&Positions>),
    ) {
        let mut positions = session.positions.lock();
        positions.advance(&item.channel, item.id);
        emit(&item.frame(transport, watcher), Some(&positions));
    }
    match out {
        Outbound::Item { item, watcher } => {
            if floor.get(&item.channel).is_some_and(|seen| item.id <= seen) {
                return 0;
            }
            numbered(&item, watcher, transport, session, emit);
            1
        }
        Outbound::Event(text) => {
            emit(&text, None);
            1
        }
        Outbound::Joined(joined) => {
            let mut n = 0;
            if let Some(presence) = &joined.presence {
                emit(presence, None);
                n += 1;
            }
            for item in &joined.replay {
                numbered(item, joined.watcher, transport, session, emit);
                n += 1;
            }
            if let Some(resumed) = &joined.resumed {
                emit(resumed, None);
                n += 1;
            }
            session
                .positions
                .lock()
                .advance(&joined.channel, joined.last_id);
            n
        }
    }
}
