//! Between Pushpin and its origin: a link on which a stream's hold reaches Pushpin's handler
//! late.
//!
//! Pushpin 1.36 hands a stream to its handler — which subscribes it to the answer's
//! `Grip-Channel`s — only once the origin's answer has ended. An answer under 100 kB the proxy
//! keeps until then (the client gets nothing early); a larger one it sends on to the client as
//! it comes. On a loaded machine the end can come late; here it is held back on purpose: while
//! [`LateHolds::hold`] is on, an answer carrying `Grip-Hold` reaches Pushpin whole but chunked,
//! without its last chunk, until [`LateHolds::release`].
//!
//! Requests pass through as they are; responses are read one after another on each keep-alive
//! connection (by `Content-Length`; a chunked one switches that connection to plain copying).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

struct Shared {
    hold: AtomicBool,
    /// Bumped by each release; a held answer ends once it has moved.
    released: watch::Sender<u64>,
    /// How many answers are being held back now.
    held: watch::Sender<usize>,
}

pub struct LateHolds {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl Drop for LateHolds {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl LateHolds {
    /// Listens on a free loopback port and forwards to `upstream` (the origin).
    pub async fn start(upstream: SocketAddr) -> LateHolds {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            hold: AtomicBool::new(false),
            released: watch::Sender::new(0),
            held: watch::Sender::new(0),
        });
        let accept = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((pushpin, _)) = listener.accept().await {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let Ok(origin) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let (pushpin_read, pushpin_write) = pushpin.into_split();
                        let (origin_read, origin_write) = origin.into_split();
                        let requests = tokio::spawn(copy(pushpin_read, origin_write));
                        answers(origin_read, pushpin_write, &shared).await;
                        requests.abort();
                    });
                }
            })
            .abort_handle()
        };
        LateHolds {
            addr,
            shared,
            accept,
        }
    }

    /// `host:port`, as Pushpin's route names its origin.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// While on, answers that hold a stream end only when released.
    pub fn hold(&self, on: bool) {
        self.shared.hold.store(on, Ordering::SeqCst);
        if !on {
            self.release();
        }
    }

    /// Waits until an answer is being held back: its client has the body, Pushpin's handler
    /// does not have the stream yet.
    pub async fn holding(&self) {
        let mut held = self.shared.held.subscribe();
        held.wait_for(|n| *n > 0)
            .await
            .expect("the proxy is running");
    }

    /// Ends every answer held back so far.
    pub fn release(&self) {
        self.shared.released.send_modify(|n| *n += 1);
    }
}

async fn copy(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Forwards the origin's responses, holding back the end of those that hold a stream.
async fn answers(
    mut origin: impl AsyncRead + Unpin,
    mut pushpin: impl AsyncWrite + Unpin,
    shared: &Shared,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // The head: up to the blank line.
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            if !read_more(&mut origin, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        if header("transfer-encoding").is_some() {
            // Not one this proxy can find the end of: plain copying from here on.
            if pushpin.write_all(&buf).await.is_err() {
                return;
            }
            copy(origin, pushpin).await;
            return;
        }
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if !read_more(&mut origin, &mut buf).await {
                return;
            }
        }
        let body = buf[head_end..head_end + length].to_vec();
        let holds_a_stream = header("grip-hold").is_some();
        let written = if holds_a_stream && shared.hold.load(Ordering::SeqCst) {
            let mut released = shared.released.subscribe();
            released.mark_unchanged();
            let head: String = head
                .trim_end()
                .lines()
                .filter(|line| {
                    !line
                        .split_once(':')
                        .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                })
                .map(|line| format!("{line}\r\n"))
                .collect();
            let mut first = format!("{head}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
            if !body.is_empty() {
                first.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                first.extend_from_slice(&body);
                first.extend_from_slice(b"\r\n");
            }
            let sent = pushpin.write_all(&first).await.is_ok() && pushpin.flush().await.is_ok();
            shared.held.send_modify(|n| *n += 1);
            let _ = released.changed().await;
            shared.held.send_modify(|n| *n -= 1);
            sent && pushpin.write_all(b"0\r\n\r\n").await.is_ok()
        } else {
            pushpin.write_all(&buf[..head_end + length]).await.is_ok()
        };
        if !written {
            return;
        }
        buf.drain(..head_end + length);
    }
}

async fn read_more(from: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match from.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
