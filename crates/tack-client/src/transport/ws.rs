//! WebSocket: one text frame per event both ways.

use super::{auth_headers, Dial};
use crate::error::LinkError;
use crate::link::{Inbound, Link, Tasks};
use crate::profile::Transport;
use futures_util::{SinkExt, StreamExt};
use tack_protocol::chat::ServerFrame;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// tungstenite's default read buffer is 128 KiB per connection; events are small (see
/// bench/NOTES.md, "Where Tack started"), so 4 KiB keeps an idle connection cheap.
const READ_BUFFER: usize = 4 * 1024;

pub async fn open(dial: &Dial) -> Result<Link, LinkError> {
    let url = dial.endpoint.ws_url();
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| LinkError::Other(format!("bad WebSocket URL {url}: {e}")))?;
    for (k, v) in auth_headers(&dial.profile) {
        let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) else {
            return Err(LinkError::Other(format!(
                "header `{k}` is not a valid HTTP header"
            )));
        };
        request.headers_mut().insert(k, v);
    }
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let connector = (url.scheme() == "wss").then(|| {
        tokio_tungstenite::Connector::Rustls(if dial.profile.insecure_tls {
            super::tls::insecure_client_config()
        } else {
            super::tls::trusted_client_config()
        })
    });
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    let (socket, _response) = tokio::time::timeout(dial.connect_timeout, connect)
        .await
        .map_err(|_| LinkError::Unreachable(format!("no answer from {url} in time")))?
        .map_err(|e| match e {
            WsError::Http(resp) if matches!(resp.status().as_u16(), 401 | 403) => {
                LinkError::Unauthorized(resp.status().as_u16())
            }
            WsError::Http(resp) => LinkError::Status(resp.status().as_u16()),
            e if crate::error::certificate_problem(&e).is_some() => {
                LinkError::Certificate(crate::error::certificate_problem(&e).unwrap_or_default())
            }
            WsError::Io(e) => LinkError::Unreachable(format!("{url}: {e}")),
            other => LinkError::Unreachable(format!("{url}: {other}")),
        })?;

    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, in_rx) = mpsc::channel::<Inbound>(dial.inbound_capacity);
    let mut tasks = Tasks::default();

    let closed_tx = in_tx.clone();
    tasks.push(
        tokio::spawn(async move {
            while let Some(frame) = out_rx.recv().await {
                // Coalesce: feed everything queued, flush once.
                let mut result = sink.feed(Message::text(frame)).await;
                while result.is_ok() {
                    match out_rx.try_recv() {
                        Ok(more) => result = sink.feed(Message::text(more)).await,
                        Err(_) => break,
                    }
                }
                if let Err(e) = result.and(sink.flush().await) {
                    let _ = closed_tx
                        .send(Inbound::Closed(LinkError::Unreachable(e.to_string())))
                        .await;
                    return;
                }
            }
            let _ = sink.close().await;
        })
        .abort_handle(),
    );

    tasks.push(
        tokio::spawn(async move {
            let end = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => match ServerFrame::parse(text.as_str()) {
                        Ok(frame) => {
                            if in_tx.send(Inbound::Frame(frame)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::debug!("ignoring a frame the engine does not understand: {e}")
                        }
                    },
                    Some(Ok(Message::Close(frame))) => {
                        break LinkError::Closed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        }
                    }
                    // Pings are answered by tungstenite itself; binary frames are not part of
                    // the chat protocol.
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break LinkError::Unreachable(e.to_string()),
                    None => {
                        break LinkError::Closed {
                            code: None,
                            reason: String::new(),
                        }
                    }
                }
            };
            let _ = in_tx.send(Inbound::Closed(end)).await;
        })
        .abort_handle(),
    );

    let link = Link::new(Transport::Ws, out_tx, in_rx, tasks);
    // Only a full ws:// URL may be an original-system server (which never says welcome).
    let legacy_ok = !dial.endpoint.has_http();
    link.handshake(dial.welcome_timeout, legacy_ok).await
}
