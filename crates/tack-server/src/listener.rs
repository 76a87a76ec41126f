//! Accepting connections: every TCP connection admitted under the cap, its request head read
//! within a deadline, its writes failed when they make no progress.
//!
//! `axum::serve` offers none of these, and each closes a way for one client to hold the server:
//! connections that never finish their headers, a cap that counted only some routes, and a
//! client that stops reading — whose blocked write also blocked its own heartbeat check — kept
//! its connection and its place in the cap forever. Here the permit lives inside the connection's
//! IO, so it is held exactly as long as the socket, through a WebSocket upgrade too.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;

/// What every accepted connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The request head must arrive within this (and, between requests, the next one).
    pub header_read: Duration,
    /// A write that makes no progress for this long fails and the connection ends.
    pub write: Duration,
}

pin_project_lite::pin_project! {
    /// A connection's socket with its write deadline and its place under the cap.
    pub struct Admitted {
        #[pin]
        io: TimeoutStream<TcpStream>,
        permit: OwnedSemaphorePermit,
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Why a connection was not served.
const FULL: &str =
    "server full: every connection slot is taken (max_connections); try again later\n";

/// Serves `router` on `listener` until `shutdown` is cancelled; then in-flight requests finish
/// and idle connections close. Upgraded connections (WebSockets) end with their sessions.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    permits: Arc<Semaphore>,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    refused: impl Fn() + Send + Sync + 'static,
) {
    let service = TowerToHyperService::new(router);
    let refused = Arc::new(refused);
    loop {
        let (tcp, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: not this client's fault, and not a
                    // reason to stop serving everyone else.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Events are small and latency matters more than packet count; batching is done by
        // the writers (feed several frames, flush once), not by Nagle.
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused();
            tokio::spawn(refuse(tcp));
            continue;
        };
        let mut io = TimeoutStream::new(tcp);
        io.set_write_timeout(Some(limits.write));
        let admitted = Admitted { io, permit };
        let service = service.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(Box::pin(admitted)), service)
                .with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
}

/// Answers a connection over the cap with 503 and closes it, without waiting long for a
/// client that does not send or does not read. The request head is read first: an answer
/// before the request is a protocol error to HTTP clients, which then report the broken
/// connection instead of the refusal.
async fn refuse(mut tcp: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FULL}",
        FULL.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.write_all(response.as_bytes())).await;
}
