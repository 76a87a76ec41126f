//! `GET /poll` (long-polling) and `POST /send` (client → server for both HTTP transports).
//!
//! A poll answers at once when anything is waiting — including everything a brand-new session
//! gets (welcome, presence, replays) — and otherwise holds until an event arrives, the timeout
//! passes, a newer poll for the same session takes over, or the server shuts down.

use crate::http::{error_event, expand, json_response, open, HttpQuery};
use crate::item::Transport;
use crate::outbox::Outbound;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::time::Duration;
use tack_protocol::chat::Positions;
use tack_protocol::ErrorCode;

/// Events in one poll answer at most; the rest wait for the next poll.
const MAX_ANSWER: usize = 512;

pub async fn poll(
    State(state): State<AppState>,
    Query(query): Query<HttpQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(_permit) = state.connection_permit() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
    };
    let _gauge = state.metrics.connected(Transport::Poll);
    let mut opened = match open(&state, &query, &headers).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let session = opened.session.clone();
    let mut events: Vec<String> = Vec::new();
    let prefix = std::mem::take(&mut opened.prefix);
    let collect = |entry: Outbound, events: &mut Vec<String>| {
        let n = expand(
            entry,
            Transport::Poll,
            &session,
            &opened.floor,
            &mut |text, _| events.push(text.as_str().to_owned()),
        );
        state.metrics.delivered(n);
    };
    // A returning poller already knows its session: `welcome` only starts a new one. The
    // prefix is what the client is missing, so no floor applies to it.
    for entry in prefix.into_iter().skip(usize::from(!opened.fresh)) {
        let n = expand(
            entry,
            Transport::Poll,
            &session,
            &Positions::default(),
            &mut |text, _| events.push(text.as_str().to_owned()),
        );
        state.metrics.delivered(n);
    }
    let attachment = &mut opened.attachment;
    while events.len() < MAX_ANSWER {
        match attachment.queue.try_recv() {
            Ok(entry) => collect(entry, &mut events),
            Err(_) => break,
        }
    }
    if events.is_empty() {
        let timeout = query
            .timeout
            .unwrap_or(state.config.poll_timeout_secs)
            .min(state.config.poll_timeout_max_secs);
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        // Loop: a queued item the client already has (at or below its `since`) is skipped
        // and the hold goes on.
        while events.is_empty() {
            tokio::select! {
                _ = session.outbox.ended().cancelled() => {
                    // Ended without a kick: the server is shutting down.
                    let Some(reason) = session.outbox.kick_reason() else { break };
                    events.push(error_event(ErrorCode::SlowConsumer, reason.to_owned()).to_json());
                }
                _ = attachment.takeover.requested() => break,
                _ = &mut deadline => break,
                entry = attachment.queue.recv() => {
                    let Some(entry) = entry else { break };
                    collect(entry, &mut events);
                    while events.len() < MAX_ANSWER {
                        match attachment.queue.try_recv() {
                            Ok(entry) => collect(entry, &mut events),
                            Err(_) => break,
                        }
                    }
                }
            }
        }
    }
    json_response(StatusCode::OK, format!("[{}]", events.join(",")))
}

#[derive(Debug, Deserialize)]
pub struct SendQuery {
    pub session: Option<String>,
}

pub async fn send(
    State(state): State<AppState>,
    Query(query): Query<SendQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.client_authorized(&headers) {
        let event = error_event(
            ErrorCode::Unauthorized,
            "this server needs Authorization: Bearer <token>".into(),
        );
        return json_response(StatusCode::UNAUTHORIZED, format!("[{}]", event.to_json()));
    }
    let Some(http) = query
        .session
        .as_deref()
        .and_then(|id| state.sessions.get(id))
    else {
        let event = error_event(
            ErrorCode::UnknownSession,
            "no such session (it may have expired): open /stream or /poll without `session` to start a new one".into(),
        );
        return json_response(StatusCode::NOT_FOUND, format!("[{}]", event.to_json()));
    };
    http.touch();
    let Ok(text) = std::str::from_utf8(&body) else {
        let event = error_event(
            ErrorCode::BadFrame,
            "request body is not valid UTF-8".into(),
        );
        return json_response(StatusCode::BAD_REQUEST, format!("[{}]", event.to_json()));
    };
    let mut replies = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            continue;
        }
        state.metrics.message_in();
        if let Some(reply) = state.handle_text(&http.session, line).await {
            replies.push(reply.to_json());
        }
    }
    json_response(StatusCode::OK, format!("[{}]", replies.join(",")))
}
