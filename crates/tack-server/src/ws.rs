//! `GET /ws`: the WebSocket transport of the built-in server. One task per connection.
//!
//! The task reads the client's frames and writes what its session has for it: its own events
//! and the items of its rooms and channels, which it copies from each channel's feed itself —
//! so a broadcast's writing is spread over the connections' tasks and every core. Events go out
//! in batches (feed every frame that is ready, then flush once), so a busy room costs one
//! syscall per batch rather than per event. The read buffer is kept small (4 KiB) because
//! tungstenite's default (128 KiB) alone would cost more memory per idle connection than
//! Tack's whole budget.

use crate::client_frame::{self, error_event};
use crate::item::Transport;
use crate::session::{FellBehind, Session};
use crate::state::{Admitted, AppState, SessionKind};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::time::Duration;
use tack_protocol::chat::ServerEvent;
use tack_protocol::{CloseCode, ErrorCode};
use tokio::time::{Instant, MissedTickBehavior};

pub use tack_protocol::codes::SHUTDOWN_REASON;

const READ_BUFFER: usize = 4 * 1024;
/// Bytes gathered before a write: a full batch of 64 `raw` frames of a 100-byte message
/// (~11.5 KB) goes out in one `sendto`. At 8 KiB it took two, and at 1,000 subscribers ×
/// 4,000 msg/s the extra syscalls doubled p50 and tripled p99 (bench/NOTES.md). Only a
/// connection that has written a batch this large holds a buffer this large.
const WRITE_BUFFER: usize = 16 * 1024;
/// How long a close frame may wait for a client that is not reading.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Events written before a flush; bounds how long a busy connection goes without reading.
const BATCH: usize = 64;
/// How long a connection whose token expired may go on without sending a fresh one.
const TOKEN_GRACE: Duration = Duration::from_secs(30);
/// How often a connection whose write is blocked checks whether it has fallen behind.
const LAG_CHECK: Duration = Duration::from_millis(250);

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let admitted = match state.admit(&headers, None, true) {
        Ok(admitted) => admitted,
        Err(refused) => {
            return (StatusCode::UNAUTHORIZED, format!("{}\n", refused.message)).into_response()
        }
    };
    let max = state.config.max_message_bytes;
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| connection(socket, state, admitted))
}

/// Why a connection ends, when the client should be told.
type Ending = Option<(CloseCode, String)>;

async fn connection(mut socket: WebSocket, state: AppState, admitted: Admitted) {
    let _gauge = state.metrics.connected(Transport::WebSocket);
    // An original-system page never says `hello`: until it does, it gets their escaping.
    let session = state.start_session(SessionKind::WebSocket).await;
    if let Admitted::Signed(identity) = admitted {
        state.sign_in(&session, identity).await;
    }
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
    let wake = session.outbox.wake().clone();
    // Made once: a timer made per batch would be registered and removed again for nearly
    // every write of a busy connection, in a wheel that every connection shares.
    let mut lag_check = tokio::time::interval_at(Instant::now() + LAG_CHECK, LAG_CHECK);
    lag_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Allocated on first use, so an idle connection costs nothing here.
    let mut batch: Vec<Utf8Bytes> = Vec::new();
    // The reply to the client's last frame (ack, error, pong) waits until what that frame
    // caused has been taken: a sender sees its message before the ack for it.
    let mut reply: Option<ServerEvent> = None;
    let ending: Ending = 'connection: loop {
        let max = if reply.is_some() { usize::MAX } else { BATCH };
        if let Err(behind) =
            session.take(Transport::WebSocket, max, &mut |text, _| batch.push(text))
        {
            break too_slow(&session, &behind);
        }
        if let Some(reply) = reply.take() {
            batch.push(reply.to_json().into());
        }
        if !batch.is_empty() {
            // A client that stops reading blocks this write; the kick and the shutdown must
            // still get through, and a client whose room moved on past what it keeps is told
            // so now, not when its write finally returns.
            let written = {
                let write = write_batch(&mut socket, &mut batch);
                tokio::pin!(write);
                loop {
                    tokio::select! {
                        written = &mut write => break written,
                        _ = &mut ended => break 'connection ending_for(&session),
                        _ = lag_check.tick() => {
                            if let Some(behind) = session.fell_behind() {
                                break 'connection too_slow(&session, &behind);
                            }
                        }
                    }
                }
            };
            match written {
                Ok(n) => state.metrics.delivered(n),
                Err(_) => break None,
            }
            // A busy room must not keep the client's own frames waiting: read what has
            // arrived meanwhile, without waiting for more.
            if let Some(incoming) = socket.next().now_or_never() {
                last_heard = Instant::now();
                match receive(&state, &session, incoming).await {
                    Received::Reply(answer) => reply = answer,
                    Received::End(ending) => break 'connection ending,
                }
            }
            continue;
        }
        if !session.park() {
            continue;
        }
        tokio::select! {
            _ = &mut ended => break ending_for(&session),
            incoming = socket.next() => {
                last_heard = Instant::now();
                match receive(&state, &session, incoming).await {
                    Received::Reply(answer) => reply = answer,
                    Received::End(ending) => break ending,
                }
            }
            _ = wake.notified() => {}
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 3 {
                    break Some((CloseCode::GoingAway, "no heartbeat from the client; reconnect".to_owned()));
                }
                if session.identity().is_some_and(|i| i.expired_for(TOKEN_GRACE)) {
                    break Some((CloseCode::Policy, "your token has expired; sign in again".to_owned()));
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
        }
    };
    // Leave first: a kicked client's socket may be full, and the room should not wait for
    // its close frame to learn that it is gone.
    state.end_session(&session).await;
    if let Some((code, reason)) = ending {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close_with(&mut socket, code, &reason)).await;
    }
    tracing::debug!(session = %session.id, "websocket closed");
}

/// What one thing read from the socket comes to.
enum Received {
    /// Go on, answering this.
    Reply(Option<ServerEvent>),
    /// The connection ends.
    End(Ending),
}

/// Handles one thing read from the socket.
async fn receive(
    state: &AppState,
    session: &Session,
    incoming: Option<Result<Message, axum::Error>>,
) -> Received {
    match incoming {
        Some(Ok(Message::Text(text))) => {
            Received::Reply(client_frame::handle_text(state, session, &text).await)
        }
        Some(Ok(Message::Binary(_))) => Received::Reply(Some(binary_refused())),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Received::Reply(None),
        Some(Ok(Message::Close(_))) | None => Received::End(None),
        Some(Err(err)) => Received::End(refusal_for(
            &err.to_string(),
            state.config.max_message_bytes,
        )),
    }
}

/// The close for a session that fell behind what a channel still holds.
fn too_slow(session: &Session, behind: &FellBehind) -> Ending {
    let reason = format!(
        "too slow: fell behind `{}` by more than it keeps; reconnect to resume",
        behind.channel
    );
    session.outbox.kick(reason.clone());
    Some((CloseCode::Policy, reason))
}

/// Why a connection whose session ended is closed: kicked (policy, with the kick's reason) or
/// the server shutting down (going away).
fn ending_for(session: &Session) -> Ending {
    match session.outbox.kick_reason() {
        Some(reason) => Some((CloseCode::Policy, reason.to_owned())),
        None => Some((CloseCode::GoingAway, SHUTDOWN_REASON.to_owned())),
    }
}

/// Which close code a read error deserves, from tungstenite's error text (axum wraps the
/// error and does not re-export tungstenite's type). Tests pin both texts.
fn refusal_for(error: &str, limit: usize) -> Ending {
    if error.contains("Space limit exceeded") {
        Some((
            CloseCode::TooBig,
            format!("message larger than {limit} bytes"),
        ))
    } else if error.contains("UTF-8") {
        Some((
            CloseCode::InvalidData,
            "text frame is not valid UTF-8".to_owned(),
        ))
    } else {
        tracing::debug!(%error, "websocket read failed");
        None
    }
}

/// The reply to a binary frame, on either front door.
pub fn binary_refused() -> ServerEvent {
    error_event(
        ErrorCode::BadFrame,
        "binary frames are not part of the chat protocol; send text `name:{json}`".to_owned(),
        None,
        None,
    )
}

async fn close_with(
    socket: &mut WebSocket,
    code: CloseCode,
    reason: &str,
) -> Result<(), axum::Error> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code: code.code(),
            reason: Utf8Bytes::from(reason),
        })))
        .await
}

/// Writes a batch, then flushes once.
async fn write_batch(
    socket: &mut WebSocket,
    batch: &mut Vec<Utf8Bytes>,
) -> Result<usize, axum::Error> {
    let n = batch.len();
    for text in batch.drain(..) {
        socket.feed(Message::Text(text)).await?;
    }
    socket.flush().await?;
    Ok(n)
}
