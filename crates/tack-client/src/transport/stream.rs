//! HTTP streaming (Server-Sent Events): `GET /stream` read chunk by chunk through
//! `tack_protocol::sse`; sends go through `POST /send`.
//!
//! A stream has a read timeout (the server sends a keep-alive comment every 15 s), never a
//! total timeout: it is meant to stay open for hours.

use super::http::{check_status, note_session, request_error, spawn_sender, SessionId};
use super::Dial;
use crate::error::LinkError;
use crate::link::{Inbound, Link, Tasks};
use crate::profile::Transport;
use futures_util::StreamExt;
use tack_protocol::chat::ServerFrame;
use tack_protocol::sse::{Item, Parser};
use tokio::sync::mpsc;

pub async fn open(dial: &Dial) -> Result<Link, LinkError> {
    let session = SessionId::default();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, in_rx) = mpsc::channel::<Inbound>(dial.inbound_capacity);
    let mut tasks = Tasks::default();
    tasks.push(spawn_sender(dial, session.clone(), out_rx, in_tx.clone()));

    let mut req = dial
        .http
        .get(dial.endpoint.http_url("/stream"))
        .header("accept", "text/event-stream");
    if let Some(n) = &dial.profile.nick {
        req = req.query(&[("nick", n.as_str())]);
    }
    let resp = tokio::time::timeout(dial.connect_timeout, req.send())
        .await
        .map_err(|_| LinkError::Unreachable("no answer to the stream request in time".into()))?
        .map_err(request_error)?;
    let resp = check_status(resp)?;

    let read_timeout = dial.stream_read_timeout;
    tasks.push(
        tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut parser = Parser::new(ServerFrame::MAX_LEN);
            let end = 'read: loop {
                let chunk = match tokio::time::timeout(read_timeout, body.next()).await {
                    Err(_) => break LinkError::Stalled(read_timeout.as_millis() as u64),
                    Ok(None) => {
                        break LinkError::Closed {
                            code: None,
                            reason: "the stream ended".into(),
                        }
                    }
                    Ok(Some(Err(e))) => break request_error(e),
                    Ok(Some(Ok(chunk))) => chunk,
                };
                parser.feed(&chunk);
                loop {
                    match parser.next_item() {
                        Ok(None) => break,
                        Ok(Some(Item::Event(ev))) => match ServerFrame::parse(&ev.data) {
                            Ok(frame) => {
                                note_session(&session, &frame);
                                if in_tx.send(Inbound::Frame(frame)).await.is_err() {
                                    return;
                                }
                            }
                            Err(e) => tracing::debug!("ignoring a stream event: {e}"),
                        },
                        // Keep-alives only reset the read timeout.
                        Ok(Some(_)) => {}
                        Err(e) => break 'read LinkError::Other(format!("bad event stream: {e}")),
                    }
                }
            };
            let _ = in_tx.send(Inbound::Closed(end)).await;
        })
        .abort_handle(),
    );
    Link::new(Transport::Stream, out_tx, in_rx, tasks)
        .handshake(dial.welcome_timeout, false)
        .await
}
