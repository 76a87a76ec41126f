//! A loopback relay in front of a server that loses, while told to, every WebSocket frame from
//! the server containing a marker: an item lost on the way (a proxy dropping a frame), for
//! every copy of it the window is sent. Everything else passes untouched.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct LossyLink {
    addr: SocketAddr,
    lose: Arc<Mutex<Option<Vec<u8>>>>,
    accept: AbortHandle,
}

impl Drop for LossyLink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl LossyLink {
    /// Relays 127.0.0.1:<free port> to `server`.
    pub async fn start(server: SocketAddr) -> LossyLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("bound");
        let lose: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let marker = lose.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, server, marker.clone()));
            }
        })
        .abort_handle();
        LossyLink { addr, lose, accept }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, frames from the server containing `marker` are lost.
    pub fn lose_frames_containing(&self, marker: &str) {
        *self.lose.lock().expect("not poisoned") = Some(marker.as_bytes().to_vec());
    }
}

async fn relay(client: TcpStream, server: SocketAddr, lose: Arc<Mutex<Option<Vec<u8>>>>) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = upstream.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending = Vec::new();
        let mut past_head = false;
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            let marker = lose.lock().expect("not poisoned").clone();
            let out = pass(&mut pending, &mut past_head, marker.as_deref());
            if client_write.write_all(&out).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Takes what is complete off the front of `pending` (the HTTP response head, then whole
/// frames) and returns what to forward: all of it but the frames containing `marker`. Frames
/// from a server are not masked: 2 header bytes, an extended length, the payload.
fn pass(pending: &mut Vec<u8>, past_head: &mut bool, marker: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    if !*past_head {
        let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
            return out;
        };
        out.extend(pending.drain(..end + 4));
        *past_head = true;
    }
    while pending.len() >= 2 {
        let (ext, len) = match pending[1] & 0x7f {
            126 if pending.len() >= 4 => (2, u16::from_be_bytes([pending[2], pending[3]]) as usize),
            127 if pending.len() >= 10 => (
                8,
                u64::from_be_bytes(pending[2..10].try_into().expect("8 bytes")) as usize,
            ),
            126 | 127 => break,
            n => (0, n as usize),
        };
        let total = 2 + ext + len;
        if pending.len() < total {
            break;
        }
        let frame: Vec<u8> = pending.drain(..total).collect();
        let lost = marker.is_some_and(|m| frame[2 + ext..].windows(m.len()).any(|w| w == m));
        if !lost {
            out.extend(frame);
        }
    }
    out
}
