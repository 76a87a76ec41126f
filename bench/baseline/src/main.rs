//! The "speed of light" for BENCHMARKS.md: the least a WebSocket broadcast server can do.
//! No rooms, no JSON, no history — every text frame a publisher sends on `/publish` goes, as
//! the same bytes, to every other socket. What Tack costs beyond this is what its features
//! cost.
//!
//! It follows the fast loop measured before Tack (bench/NOTES.md, "Where Tack started"): a 4 KiB read buffer (tungstenite's 128 KiB
//! default would dominate the memory per idle socket), `TCP_NODELAY`, one shared `Utf8Bytes`
//! per message through a `tokio::sync::broadcast`, and per connection: write every waiting
//! frame, then flush once.
//!
//! Usage: `tack-bench-baseline 127.0.0.1:7998` — subscribers connect to `ws://…/` (any path
//! but `/publish`), the publisher to `ws://…/publish`.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const READ_BUFFER: usize = 4 * 1024;
/// Frames written before one flush.
const BATCH: usize = 64;
/// Messages buffered for the slowest subscriber; beyond it the subscriber skips (and the
/// load tool counts the loss).
const QUEUE: usize = 4096;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7998".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "tack-bench-baseline listening on {}",
        listener.local_addr()?
    );
    let (messages, _) = broadcast::channel::<Utf8Bytes>(QUEUE);
    loop {
        let (tcp, _) = listener.accept().await?;
        let messages = messages.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            connection(tcp, messages).await;
        });
    }
}

// The handshake callback's error type is tungstenite's (an HTTP response), not ours to shrink.
#[allow(clippy::result_large_err)]
async fn connection(tcp: TcpStream, messages: broadcast::Sender<Utf8Bytes>) {
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let mut publisher = false;
    let callback = |request: &Request, response: Response| {
        publisher = request.uri().path() == "/publish";
        Ok(response)
    };
    let Ok(mut socket) =
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(config)).await
    else {
        return;
    };
    if publisher {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let _ = messages.send(text);
            }
        }
        return;
    }
    // Subscribe only after the handshake, as a real server would.
    let mut feed = messages.subscribe();
    loop {
        tokio::select! {
            message = feed.recv() => {
                let first = match message {
                    Ok(m) => m,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if socket.feed(Message::Text(first)).await.is_err() {
                    return;
                }
                for _ in 1..BATCH {
                    match feed.try_recv() {
                        Ok(m) => {
                            if socket.feed(Message::Text(m)).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
