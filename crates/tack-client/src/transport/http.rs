//! What the streaming and polling transports share: the session id, `POST /send`, and
//! reading a JSON array of events.

use super::Dial;
use crate::error::LinkError;
use crate::link::Inbound;
use parking_lot::Mutex;
use std::sync::Arc;
use tack_protocol::chat::{ServerEvent, ServerFrame};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Most frames sent in one `POST /send`.
const MAX_FRAMES_PER_SEND: usize = 64;

/// The HTTP session id, learned from the `welcome` (and replaced if the server starts a new one).
pub type SessionId = Arc<Mutex<Option<String>>>;

/// Notes the session id when `frame` is a welcome.
pub fn note_session(session: &SessionId, frame: &ServerFrame) {
    if let ServerFrame::Event(ServerEvent::Welcome(w)) = frame {
        *session.lock() = Some(w.session.clone());
    }
}

/// Maps an HTTP status to what the user should do about it.
pub fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, LinkError> {
    let status = resp.status().as_u16();
    match status {
        200..=299 => Ok(resp),
        401 | 403 => Err(LinkError::Unauthorized(status)),
        _ => Err(LinkError::Status(status)),
    }
}

pub fn request_error(e: reqwest::Error) -> LinkError {
    if let Some(problem) = crate::error::certificate_problem(&e) {
        LinkError::Certificate(problem)
    } else if e.is_connect() || e.is_timeout() {
        LinkError::Unreachable(e.to_string())
    } else {
        LinkError::Other(e.to_string())
    }
}

/// Parses a JSON array of events; events of unknown types are skipped, not fatal.
pub fn parse_events(body: &[u8]) -> Result<Vec<ServerFrame>, LinkError> {
    let values: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| LinkError::Other(format!("the server's answer is not a JSON array: {e}")))?;
    Ok(values
        .into_iter()
        .filter_map(|v| {
            serde_json::from_value::<ServerEvent>(v)
                .ok()
                .map(ServerFrame::Event)
        })
        .collect())
}

/// Spawns the task that posts the engine's frames to `/send`, in order, several per request,
/// and feeds the immediate replies (acks, errors, pongs) back as inbound frames.
pub fn spawn_sender(
    dial: &Dial,
    session: SessionId,
    mut out_rx: mpsc::UnboundedReceiver<String>,
    in_tx: mpsc::Sender<Inbound>,
) -> AbortHandle {
    let http = dial.http.clone();
    let url = dial.endpoint.http_url("/send");
    tokio::spawn(async move {
        while let Some(first) = out_rx.recv().await {
            let mut body = first;
            let mut n = 1;
            while n < MAX_FRAMES_PER_SEND {
                match out_rx.try_recv() {
                    Ok(more) => {
                        body.push('\n');
                        body.push_str(&more);
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            let Some(id) = session.lock().clone() else {
                continue;
            };
            let result = async {
                let resp = http
                    .post(url.clone())
                    .query(&[("session", id.as_str())])
                    .header("content-type", "text/plain; charset=utf-8")
                    .body(body)
                    .send()
                    .await
                    .map_err(request_error)?;
                if resp.status().as_u16() == 404 {
                    return Err(LinkError::Other(
                        "the server forgot this session; reconnecting".into(),
                    ));
                }
                let resp = check_status(resp)?;
                let bytes = resp.bytes().await.map_err(request_error)?;
                parse_events(&bytes)
            }
            .await;
            match result {
                Ok(frames) => {
                    for f in frames {
                        if in_tx.send(Inbound::Frame(f)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = in_tx.send(Inbound::Closed(e)).await;
                    return;
                }
            }
        }
    })
    .abort_handle()
}
