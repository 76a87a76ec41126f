//! A TCP proxy between a client and a server that fails the way networks and proxies do: it
//! cuts every connection, stalls, refuses WebSocket upgrades, holds back streams the way a
//! buffering reverse proxy does, loses one WebSocket frame, and refuses every connection (an
//! outage).

use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

#[derive(Default)]
struct Faults {
    down: AtomicBool,
    refuse_ws: AtomicBool,
    buffer_streams: AtomicBool,
    /// The next server → client WebSocket frame containing this is dropped (then it is cleared).
    drop_ws_frame: Mutex<Option<Vec<u8>>>,
    accepted: AtomicU64,
    /// When each connection was accepted (for reconnect-spread checks).
    accepted_at: Mutex<Vec<tokio::time::Instant>>,
}

pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    stalled: watch::Sender<bool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl FaultProxy {
    /// Proxies a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let (stalled, stall_rx) = watch::channel(false);
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Default::default();
        let accept = {
            let faults = faults.clone();
            let conns = conns.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    if faults.down.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    faults.accepted.fetch_add(1, Ordering::SeqCst);
                    faults.accepted_at.lock().push(tokio::time::Instant::now());
                    let task =
                        tokio::spawn(relay(client, upstream, faults.clone(), stall_rx.clone()));
                    conns.lock().push(task.abort_handle());
                }
            })
            .abort_handle()
        };
        FaultProxy {
            addr,
            faults,
            stalled,
            conns,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes every open connection at once.
    pub fn cut(&self) {
        for c in self.conns.lock().drain(..) {
            c.abort();
        }
    }

    /// An outage: new connections are closed at once (set `false` to end it).
    pub fn set_down(&self, down: bool) {
        self.faults.down.store(down, Ordering::SeqCst);
    }

    /// Stops forwarding in both directions, keeping sockets open.
    pub fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    pub fn refuse_ws_upgrades(&self, refuse: bool) {
        self.faults.refuse_ws.store(refuse, Ordering::SeqCst);
    }

    /// Holds back the response to `GET /stream` (a buffering reverse proxy).
    pub fn buffer_streams(&self, buffer: bool) {
        self.faults.buffer_streams.store(buffer, Ordering::SeqCst);
    }

    /// Drops the next WebSocket frame from the server whose payload contains `marker`, once:
    /// a frame lost on the way, leaving a hole in a room's ids.
    pub fn drop_next_ws_frame_containing(&self, marker: &str) {
        *self.faults.drop_ws_frame.lock() = Some(marker.as_bytes().to_vec());
    }

    pub fn accepted(&self) -> u64 {
        self.faults.accepted.load(Ordering::SeqCst)
    }

    pub fn accepted_at(&self) -> Vec<tokio::time::Instant> {
        self.faults.accepted_at.lock().clone()
    }
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    faults: Arc<Faults>,
    stall: watch::Receiver<bool>,
) {
    let _ = client.set_nodelay(true);
    // Read the request head to see what kind of request this is.
    let mut head = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let lower = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if faults.refuse_ws.load(Ordering::SeqCst) && lower.contains("upgrade: websocket") {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    if server.write_all(&head).await.is_err() {
        return;
    }
    let is_stream = lower.contains("get /stream");
    let is_ws = lower.contains("upgrade: websocket");
    let hold = is_stream && faults.buffer_streams.load(Ordering::SeqCst);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = {
        let stall = stall.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pause(stall.clone()).await;
                if sw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut held: Vec<u8> = Vec::new();
        let mut frames = WsFrames::default();
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if hold {
                // Like a reverse proxy with response buffering: forward nothing of the stream
                // until a large buffer fills (which a chat stream never does).
                held.extend_from_slice(&buf[..n]);
                if held.len() < 1024 * 1024 {
                    continue;
                }
                let _ = cw.write_all(&held).await;
                held.clear();
                continue;
            }
            pause(stall.clone()).await;
            let out = if is_ws {
                held.extend_from_slice(&buf[..n]);
                frames.pass(&mut held, &faults.drop_ws_frame)
            } else {
                buf[..n].to_vec()
            };
            if cw.write_all(&out).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Waits while the proxy is stalled.
async fn pause(mut stall: watch::Receiver<bool>) {
    let _ = stall.wait_for(|s| !*s).await;
}

/// Cuts the server's side of a WebSocket connection into frames (the response head first), so
/// one frame can be left out.
#[derive(Default)]
struct WsFrames {
    past_head: bool,
}

impl WsFrames {
    /// Takes whatever is complete off the front of `pending` and returns what to forward.
    fn pass(&mut self, pending: &mut Vec<u8>, drop: &Mutex<Option<Vec<u8>>>) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.past_head {
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                return out;
            };
            out.extend(pending.drain(..end + 4));
            self.past_head = true;
        }
        // Server frames are not masked: 2 header bytes, an extended length, the payload.
        while pending.len() >= 2 {
            let (ext, len) = match pending[1] & 0x7f {
                126 if pending.len() >= 4 => {
                    (2, u16::from_be_bytes([pending[2], pending[3]]) as usize)
                }
                127 if pending.len() >= 10 => (
                    8,
                    u64::from_be_bytes(pending[2..10].try_into().unwrap()) as usize,
                ),
                126 | 127 => break,
                n => (0, n as usize),
            };
            let total = 2 + ext + len;
            if pending.len() < total {
                break;
            }
            let frame: Vec<u8> = pending.drain(..total).collect();
            let mut marker = drop.lock();
            let hit = marker
                .as_ref()
                .is_some_and(|m| frame[2 + ext..].windows(m.len()).any(|w| w == m.as_slice()));
            if hit {
                *marker = None;
            } else {
                out.extend(frame);
            }
        }
        out
    }
}
