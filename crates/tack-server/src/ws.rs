//! `GET /ws`: the WebSocket transport. One task per connection.
//!
//! The task waits on four things at once: a frame from the client, events in its queue, the
//! heartbeat, and the end of its session (kicked, or the server shutting down). Queued events
//! are written in batches — feed every frame that is already waiting, then flush once — so a
//! busy room costs one syscall per batch rather than per event. The read buffer is kept small
//! (4 KiB) because tungstenite's default (128 KiB) alone would cost more memory per idle
//! connection than Tack's whole budget.

use crate::item::Transport;
use crate::outbox::Outbound;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tack_protocol::chat::ServerEvent;
use tack_protocol::{CloseCode, ErrorCode};
use tokio::time::Instant;

pub use tack_protocol::codes::SHUTDOWN_REASON;

const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 8 * 1024;
/// How long a close frame may wait for a client that is not reading.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Events written before a flush; bounds how long a busy connection goes without reading.
const BATCH: usize = 64;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !state.client_authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            "this server needs Authorization: Bearer <token>\n",
        )
            .into_response();
    }
    let max = state.config.max_message_bytes;
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| connection(socket, state))
}

async fn connection(mut socket: WebSocket, state: AppState) {
    // Checked after the upgrade so the client sees a close code it can act on, not a bare 503.
    let Some(_permit) = state.connection_permit() else {
        let _ = close_with(
            &mut socket,
            CloseCode::TryAgainLater.code(),
            "try again later",
        )
        .await;
        return;
    };
    let _gauge = state.metrics.connected(Transport::WebSocket);
    let (session, mut queue) = state.new_session(None);
    tracing::debug!(session = %session.id, "websocket connected");
    let welcome = Message::Text(state.welcome(&session).to_json().into());
    if socket.send(welcome).await.is_err() {
        return;
    }

    let heartbeat = Duration::from_secs(u64::from(state.config.heartbeat_secs.max(1)));
    let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    // Pinned once: a wake-up then costs one check of this connection's own token, not a
    // registration with the server-wide one.
    let ended = session.outbox.ended().cancelled();
    tokio::pin!(ended);
    // Taken from the queue a batch at a time: the queue hands its slots back once per batch,
    // not once per event. Allocated on first use, so an idle connection costs nothing here.
    let mut batch = Vec::new();
    let ending = loop {
        tokio::select! {
            _ = &mut ended => break Some(ending_for(&session)),
            incoming = socket.next() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        state.metrics.message_in();
                        if let Some(reply) = state.handle_text(&session, &text).await {
                            session.outbox.send_event(&reply);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        session.outbox.send_event(&binary_refused());
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(err)) => break refusal_for(&err.to_string(), state.config.max_message_bytes),
                }
            }
            received = queue.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break None;
                }
                // A client that stops reading blocks this write; the kick and the shutdown
                // must still get through.
                let written = tokio::select! {
                    written = write_batch(&mut socket, &mut batch) => written,
                    _ = &mut ended => continue,
                };
                match written {
                    Ok(n) => state.metrics.delivered(n),
                    Err(_) => break None,
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 3 {
                    break Some((CloseCode::GoingAway.code(), "no heartbeat from the client; reconnect".to_owned()));
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
        }
    };
    // Leave first: a kicked client's socket may be full, and the room should not wait for
    // its close frame to learn that it is gone.
    session.leave_everything(state.hub.as_ref()).await;
    if let Some((code, reason)) = ending {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close_with(&mut socket, code, &reason)).await;
    }
    tracing::debug!(session = %session.id, "websocket closed");
}

/// Why a connection whose outbox ended is closed: kicked (policy, with the kick's reason) or
/// the server shutting down (going away).
fn ending_for(session: &crate::session::Session) -> (u16, String) {
    match session.outbox.kick_reason() {
        Some(reason) => (CloseCode::Policy.code(), reason.to_owned()),
        None => (CloseCode::GoingAway.code(), SHUTDOWN_REASON.to_owned()),
    }
}

/// Which close code a read error deserves, from tungstenite's error text (axum wraps the
/// error and does not re-export tungstenite's type). Tests pin both texts.
fn refusal_for(error: &str, limit: usize) -> Option<(u16, String)> {
    if error.contains("Space limit exceeded") {
        Some((
            CloseCode::TooBig.code(),
            format!("message larger than {limit} bytes"),
        ))
    } else if error.contains("UTF-8") {
        Some((
            CloseCode::InvalidData.code(),
            "text frame is not valid UTF-8".to_owned(),
        ))
    } else {
        tracing::debug!(%error, "websocket read failed");
        None
    }
}

fn binary_refused() -> ServerEvent {
    ServerEvent::Error(tack_protocol::chat::ErrorEvent {
        code: ErrorCode::BadFrame,
        message: "binary frames are not part of the chat protocol; send text `name:{json}`"
            .to_owned(),
        cid: None,
        event: None,
    })
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) -> Result<(), axum::Error> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await
}

/// Writes a batch taken from the queue, then flushes once.
async fn write_batch(
    socket: &mut WebSocket,
    batch: &mut Vec<Outbound>,
) -> Result<usize, axum::Error> {
    let mut written = 0;
    for out in batch.drain(..) {
        written += feed(socket, out).await?;
    }
    socket.flush().await?;
    Ok(written)
}

async fn feed(socket: &mut WebSocket, out: Outbound) -> Result<usize, axum::Error> {
    match out {
        Outbound::Item { item, watcher } => {
            socket
                .feed(Message::Text(item.frame(Transport::WebSocket, watcher)))
                .await?;
            Ok(1)
        }
        Outbound::Event(text) => {
            socket.feed(Message::Text(text)).await?;
            Ok(1)
        }
        Outbound::Joined(joined) => {
            let mut n = 0;
            if let Some(presence) = joined.presence {
                socket.feed(Message::Text(presence)).await?;
                n += 1;
            }
            for item in &joined.replay {
                socket
                    .feed(Message::Text(
                        item.frame(Transport::WebSocket, joined.watcher),
                    ))
                    .await?;
                n += 1;
            }
            if let Some(resumed) = joined.resumed {
                socket.feed(Message::Text(resumed)).await?;
                n += 1;
            }
            Ok(n)
        }
    }
}
