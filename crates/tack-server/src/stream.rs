//! `GET /stream`: Server-Sent Events.
//!
//! The first event (`welcome`) is written at once, so a client can tell a buffering proxy from
//! a quiet room. Numbered events carry `id:` = the session's positions in every room, so a
//! reconnect with `Last-Event-ID` resumes all of them at once. A `:` comment every keep-alive
//! interval keeps proxies from timing the stream out.

use crate::http::{expand, open, HttpQuery, Opened};
use crate::item::Transport;
use crate::metrics::ConnectionGauge;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::convert::Infallible;
use tack_protocol::sse;
use tack_protocol::ErrorCode;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Interval};

/// Events written per chunk at most; bounds a chunk's size in a busy room.
const BATCH: usize = 64;

struct Streaming {
    state: AppState,
    opened: Opened,
    keepalive: Interval,
    finished: bool,
    _permit: OwnedSemaphorePermit,
    _gauge: ConnectionGauge,
}

pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<HttpQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(permit) = state.connection_permit() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
    };
    let opened = match open(&state, &query, &headers).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    tracing::debug!(session = %opened.session.id, fresh = opened.fresh, "stream attached");
    let period = state.config.keepalive();
    let streaming = Streaming {
        _gauge: state.metrics.connected(Transport::Stream),
        keepalive: tokio::time::interval_at(Instant::now() + period, period),
        state,
        opened,
        finished: false,
        _permit: permit,
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
        if self.finished {
            return None;
        }
        let mut out = String::new();
        let session = self.opened.session.clone();
        if !self.opened.prefix.is_empty() {
            // What the client is missing: no floor applies.
            let floor = std::mem::take(&mut self.opened.floor);
            for entry in std::mem::take(&mut self.opened.prefix) {
                self.write(entry, &mut out);
            }
            self.opened.floor = floor;
            return Some(out);
        }
        let Opened { attachment, .. } = &mut self.opened;
        tokio::select! {
            _ = session.outbox.ended().cancelled() => {
                self.finished = true;
                match session.outbox.kick_reason() {
                    Some(reason) => {
                        let event = crate::http::error_event(ErrorCode::SlowConsumer, reason.to_owned());
                        self.write(crate::outbox::Outbound::Event(event.to_json().into()), &mut out);
                    }
                    None => {
                        sse::comment_into(crate::ws::SHUTDOWN_REASON, &mut out);
                        out.push('\n');
                    }
                }
            }
            _ = attachment.takeover.requested() => return None,
            entry = attachment.queue.recv() => {
                let first = entry?;
                self.write(first, &mut out);
                for _ in 1..BATCH {
                    match self.opened.attachment.queue.try_recv() {
                        Ok(next) => self.write(next, &mut out),
                        Err(_) => break,
                    }
                }
            }
            _ = self.keepalive.tick() => {
                sse::comment_into("", &mut out);
                out.push('\n');
            }
        }
        Some(out)
    }

    fn write(&self, entry: crate::outbox::Outbound, out: &mut String) {
        let n = expand(
            entry,
            Transport::Stream,
            &self.opened.session,
            &self.opened.floor,
            &mut |text, positions| {
                let mut event = sse::Event::data(text.as_str());
                if let Some(positions) = positions {
                    event = event.with_id(positions.encode());
                }
                // Event text is JSON (no line breaks) and ids are validated names: cannot fail.
                let _ = sse::encode_into(&event, out);
            },
        );
        self.state.metrics.delivered(n);
    }
}
