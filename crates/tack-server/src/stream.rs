//! `GET /stream` on the built-in server: Server-Sent Events.
//!
//! The first event (`welcome`) is written at once, so a client can tell a buffering proxy from
//! a quiet room. Numbered events carry `id:` = the session's positions in every room, so a
//! reconnect with `Last-Event-ID` resumes all of them at once. A `:` comment every keep-alive
//! interval keeps proxies from timing the stream out.

use crate::http::{open, HttpQuery, Opened};
use crate::item::Transport;
use crate::metrics::ConnectionGauge;
use crate::sessions::Reading;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::convert::Infallible;
use tack_protocol::chat::ServerEvent;
use tack_protocol::{sse, ErrorCode};
use tokio::time::{Instant, Interval};

/// Events written per chunk at most; bounds a chunk's size in a busy room.
const BATCH: usize = 64;

struct Streaming {
    state: AppState,
    opened: Opened,
    reading: Reading,
    /// Written before anything else: welcome and what the query was refused.
    first: Option<String>,
    keepalive: Interval,
    finished: bool,
    _gauge: ConnectionGauge,
}

pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<HttpQuery>,
    headers: HeaderMap,
) -> Response {
    let opened = match open(&state, &query, &headers).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    tracing::debug!(session = %opened.session().id, fresh = opened.fresh, "stream attached");
    let reading = opened.http.read().await;
    let mut first = String::new();
    for event in std::iter::once(&opened.welcome).chain(&opened.refused) {
        let _ = sse::encode_into(&sse::Event::data(event.to_json()), &mut first);
    }
    let period = state.config.keepalive();
    let streaming = Streaming {
        _gauge: state.metrics.connected(Transport::Stream),
        keepalive: tokio::time::interval_at(Instant::now() + period, period),
        state,
        opened,
        reading,
        first: Some(first),
        finished: false,
    };
    let body = futures_util::stream::unfold(streaming, |mut s| async move {
        let chunk = s.next_chunk().await?;
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), s))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

impl Streaming {
    /// The next piece of the response body; None ends the stream.
    async fn next_chunk(&mut self) -> Option<String> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.finished {
            return None;
        }
        let session = self.opened.session().clone();
        loop {
            let mut out = String::new();
            let taken = session.take(Transport::Stream, BATCH, &mut |text, positions| {
                let mut event = sse::Event::data(text.as_str());
                if let Some(positions) = positions {
                    event = event.with_id(positions.encode());
                }
                // Event text is JSON (no line breaks) and ids are validated names: cannot fail.
                let _ = sse::encode_into(&event, &mut out);
            });
            match taken {
                Ok(0) => {}
                Ok(n) => {
                    self.state.metrics.delivered(n);
                    return Some(out);
                }
                Err(behind) => {
                    let reason = format!(
                        "too slow: fell behind `{}` by more than it keeps; reconnect to resume",
                        behind.channel
                    );
                    session.outbox.kick(reason);
                }
            }
            if !session.park() && !session.outbox.ended().is_cancelled() {
                continue;
            }
            tokio::select! {
                _ = session.outbox.ended().cancelled() => {
                    self.finished = true;
                    let mut out = String::new();
                    match session.outbox.kick_reason() {
                        Some(reason) => {
                            let event = crate::client_frame::error_event(ErrorCode::SlowConsumer, reason.to_owned(), None, None);
                            let _ = sse::encode_into(&sse::Event::data(event.to_json()), &mut out);
                        }
                        None => {
                            sse::comment_into(crate::ws::SHUTDOWN_REASON, &mut out);
                            out.push('\n');
                        }
                    }
                    return Some(out);
                }
                _ = self.reading.takeover.requested() => return None,
                _ = session.outbox.wake().notified() => {}
                _ = self.keepalive.tick() => {
                    let mut out = String::new();
                    sse::comment_into("", &mut out);
                    out.push('\n');
                    return Some(out);
                }
            }
        }
    }
}

/// An event as one SSE block.
pub fn sse_event(event: &ServerEvent) -> String {
    let mut out = String::new();
    let _ = sse::encode_into(&sse::Event::data(event.to_json()), &mut out);
    out
}
