//! `GET /poll` (long-polling) and `POST /send` on the built-in server.
//!
//! A poll answers at once when anything is waiting — including everything a brand-new session
//! gets (welcome, presence, replays) — and otherwise holds until an event arrives, the timeout
//! passes, a newer poll for the same session takes over, or the server shuts down.

use crate::client_frame::error_event;
use crate::http::{self, json_response, open, replies_response, HttpQuery, SendQuery};
use crate::item::Transport;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::time::Duration;
use tack_protocol::ErrorCode;

/// Events in one poll answer at most; the rest wait for the next poll.
const MAX_ANSWER: usize = 512;

pub async fn poll(
    State(state): State<AppState>,
    Query(query): Query<HttpQuery>,
    headers: HeaderMap,
) -> Response {
    let _gauge = state.metrics.connected(Transport::Poll);
    let opened = match open(&state, &query, &headers).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let session = opened.session().clone();
    let mut reading = opened.http.read().await;
    // A returning poller already knows its session: `welcome` only starts a new one.
    let mut events: Vec<String> = opened
        .fresh
        .then(|| opened.welcome.to_json())
        .into_iter()
        .chain(opened.refused.iter().map(|e| e.to_json()))
        .collect();
    let timeout = query
        .timeout
        .unwrap_or(state.config.poll_timeout_secs)
        .min(state.config.poll_timeout_max_secs);
    let deadline = tokio::time::sleep(Duration::from_secs(timeout));
    tokio::pin!(deadline);
    loop {
        let taken = session.take(
            Transport::Poll,
            MAX_ANSWER - events.len(),
            &mut |text, _| events.push(text.as_str().to_owned()),
        );
        match taken {
            Ok(n) => state.metrics.delivered(n),
            Err(behind) => session.outbox.kick(format!(
                "too slow: fell behind `{}` by more than it keeps; reconnect to resume",
                behind.channel
            )),
        }
        if !events.is_empty() || !session.park() && !session.outbox.ended().is_cancelled() {
            if events.is_empty() {
                continue;
            }
            break;
        }
        tokio::select! {
            _ = session.outbox.ended().cancelled() => {
                // Ended without a kick: the server is shutting down.
                if let Some(reason) = session.outbox.kick_reason() {
                    let event = error_event(ErrorCode::SlowConsumer, reason.to_owned(), None, None);
                    events.push(event.to_json());
                }
                break;
            }
            _ = reading.takeover.requested() => break,
            _ = &mut deadline => break,
            _ = session.outbox.wake().notified() => {}
        }
    }
    json_response(StatusCode::OK, format!("[{}]", events.join(",")))
}

pub async fn send(
    State(state): State<AppState>,
    Query(query): Query<SendQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match http::send(&state, &query, &headers, &body).await {
        Ok((_, replies)) => replies_response(&replies),
        Err(refused) => refused,
    }
}
