//! The load tool's WebSocket client, made for reading a flood: a hand-written handshake and a
//! frame reader that hands over every complete message of one socket read as a slice of its
//! own buffer.
//!
//! Why not tungstenite, which `tack` itself uses: per message it validates UTF-8, splits a
//! reference-counted buffer, moves the rest of the buffer down and wraps the socket's waker;
//! with a clock read and a lock per frame on top that was ~40 % of the tool's CPU at 1,000
//! subscribers (`perf`), and the tool shares the machine with the server it measures. Here a
//! read is one `recv` into a buffer that grows with the traffic (4 KiB idle, up to 64 KiB), the
//! frames in it are walked in place, and the caller reads the clock once per read.
//!
//! What it does not do: TLS (`wss://`; a benchmark through a TLS front would measure the TLS
//! stack: benchmark the server behind it), extensions (none is asked for, so compression never
//! starts), or checking `Sec-WebSocket-Accept` (the status line says whether the server
//! upgraded). Frames it sends are masked, as a client's must be.

use memchr::memmem;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// The buffer every connection starts with: enough for an idle connection's few frames, and
/// 40 MB for 10,000 of them.
const FIRST_BUFFER: usize = 4 * 1024;
/// A busy connection's buffer grows to this: a server's batch of 64 frames of ~200 B is one read.
const MAX_BUFFER: usize = 64 * 1024;
/// A message larger than this ends the connection (a benchmark's are a few hundred bytes).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// The longest handshake answer accepted.
const MAX_HANDSHAKE: usize = 16 * 1024;
/// Any 16 bytes, base64: the server only echoes a hash of it, which is not checked.
const KEY: &str = "dGFjay1iZW5jaC1rZXktMDE=";

/// Why a connection could not be used.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The server answered the handshake without upgrading (`HTTP 503 Service Unavailable`).
    Refused(String),
    /// The server broke the protocol (or sent a message beyond 16 MiB).
    Protocol(&'static str),
    /// The server ended the connection without a close frame.
    Eof,
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl Error {
    /// The error's kind without what differs per connection, so a report groups them.
    pub fn kind(&self) -> String {
        match self {
            Error::Io(e) => e.kind().to_string(),
            Error::Refused(status) => status.clone(),
            Error::Protocol(why) => format!("protocol: {why}"),
            Error::Eof => "connection closed".into(),
        }
    }
}

/// A data message, borrowed from the connection's buffer until the next read.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Text(&'a [u8]),
    Binary(&'a [u8]),
}

/// A close frame's code and reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    pub code: Option<u16>,
    pub reason: String,
}

pub struct WebSocket {
    tcp: TcpStream,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// A fragmented message being put together: whether it is text, and its bytes so far.
    fragments: Option<(bool, Vec<u8>)>,
    /// Pongs owed for pings seen by [`WebSocket::drain`], sent by [`WebSocket::answer_pings`].
    pongs: Vec<u8>,
    mask: u32,
}

impl WebSocket {
    /// Connects to a `ws://` URL and upgrades, with `Authorization: Bearer <token>` if given.
    pub async fn connect(url: &Url, token: Option<&str>) -> Result<WebSocket, Error> {
        if url.scheme() != "ws" {
            return Err(Error::Protocol("only ws:// URLs are supported"));
        }
        let host = url
            .host_str()
            .ok_or(Error::Protocol("the URL has no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((bare_host, port)).await?;
        // Frames the tool sends (subscriptions, chat, a publisher's batch) go out at once.
        tcp.set_nodelay(true)?;
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        let mut ws = WebSocket {
            tcp,
            buf: vec![0; FIRST_BUFFER],
            start: 0,
            end: 0,
            fragments: None,
            pongs: Vec::new(),
            mask: 0x9e37_79b9 ^ port as u32,
        };
        ws.tcp.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if ws.end == ws.buf.len() {
                if ws.buf.len() >= MAX_HANDSHAKE {
                    return Err(Error::Protocol("the handshake answer is too long"));
                }
                ws.buf.resize(ws.buf.len() * 2, 0);
            }
            let n = ws.tcp.read(&mut ws.buf[ws.end..]).await?;
            if n == 0 {
                return Err(Error::Eof);
            }
            let searched_from = ws.end.saturating_sub(3);
            ws.end += n;
            if let Some(at) = memmem::find(&ws.buf[searched_from..ws.end], b"\r\n\r\n") {
                break searched_from + at + 4;
            }
        };
        let status_line = ws.buf[..head_end]
            .split(|&b| b == b'\r')
            .next()
            .unwrap_or_default();
        let status = String::from_utf8_lossy(status_line);
        let mut words = status.splitn(3, ' ');
        let code = words.nth(1).unwrap_or_default();
        if code != "101" {
            let reason = words.next().unwrap_or_default();
            return Err(Error::Refused(
                format!("HTTP {code} {reason}").trim().to_owned(),
            ));
        }
        // Whatever followed the answer is already the first frames.
        ws.start = head_end;
        Ok(ws)
    }

    /// Waits until the socket has bytes and reads what it has. Cancel-safe: dropped while
    /// waiting, nothing is lost. [`Error::Eof`] when the server closed the connection.
    pub async fn fill(&mut self) -> Result<(), Error> {
        self.make_room();
        let free = self.buf.len() - self.end;
        let n = self.tcp.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(Error::Eof);
        }
        self.end += n;
        // A read that took all the room there was means more is waiting: a bigger buffer takes
        // the next batch in one read.
        if n == free && self.buf.len() < MAX_BUFFER {
            self.buf.resize((self.buf.len() * 2).min(MAX_BUFFER), 0);
        }
        Ok(())
    }

    /// Room to read into: unread bytes move to the front when the free tail is short or the
    /// frame at the front would not fit; a frame longer than the buffer grows it.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let needed = self
            .incomplete_frame_len()
            .unwrap_or(0)
            .min(MAX_MESSAGE + 14);
        let tail_short = self.buf.len() - self.end < self.buf.len() / 4;
        if self.start > 0 && (tail_short || self.start + needed > self.buf.len()) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if needed > self.buf.len() {
            self.buf.resize(needed, 0);
        } else if self.end == self.buf.len() {
            // Only when read twice without a drain in between: never read into no room.
            self.buf.resize(self.buf.len() * 2, 0);
        }
    }

    /// The whole length of the frame at the front, if its header is complete.
    fn incomplete_frame_len(&self) -> Option<usize> {
        header(&self.buf[self.start..self.end])
            .ok()
            .flatten()
            .map(|h| h.len + h.payload)
    }

    /// Hands every complete data message in the buffer to `each`, in order; notes the pings to
    /// answer. Returns the close frame if the server sent one (what follows it is not read).
    pub fn drain(&mut self, mut each: impl FnMut(Message<'_>)) -> Result<Option<Closed>, Error> {
        loop {
            let unread = &self.buf[self.start..self.end];
            let Some(h) = header(unread)? else {
                return Ok(None);
            };
            if h.len + h.payload > unread.len() {
                if h.len + h.payload > MAX_MESSAGE {
                    return Err(Error::Protocol("a message larger than 16 MiB"));
                }
                return Ok(None);
            }
            let payload = &unread[h.len..h.len + h.payload];
            self.start += h.len + h.payload;
            match (h.opcode, h.fin, &mut self.fragments) {
                (OP_TEXT, true, None) => each(Message::Text(payload)),
                (OP_BINARY, true, None) => each(Message::Binary(payload)),
                (OP_TEXT | OP_BINARY, false, None) => {
                    self.fragments = Some((h.opcode == OP_TEXT, payload.to_vec()));
                }
                (OP_CONTINUATION, fin, Some((_, so_far))) => {
                    if so_far.len() + payload.len() > MAX_MESSAGE {
                        return Err(Error::Protocol("a message larger than 16 MiB"));
                    }
                    so_far.extend_from_slice(payload);
                    if fin {
                        let (text, whole) = self.fragments.take().expect("matched Some");
                        each(if text {
                            Message::Text(&whole)
                        } else {
                            Message::Binary(&whole)
                        });
                    }
                }
                (OP_CLOSE, _, _) => {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default());
                    return Ok(Some(Closed {
                        code,
                        reason: reason.into_owned(),
                    }));
                }
                (OP_PING, _, _) => {
                    let ping = payload.to_vec();
                    let mask = self.next_mask();
                    push_frame(&mut self.pongs, OP_PONG, &ping, mask);
                }
                (OP_PONG, _, _) => {}
                _ => {
                    return Err(Error::Protocol(
                        "a frame out of order or of an unknown kind",
                    ))
                }
            }
        }
    }

    /// Sends the pongs owed for the pings [`WebSocket::drain`] saw.
    pub async fn answer_pings(&mut self) -> io::Result<()> {
        if self.pongs.is_empty() {
            return Ok(());
        }
        let pongs = std::mem::take(&mut self.pongs);
        self.tcp.write_all(&pongs).await
    }

    /// Sends text messages in one write.
    pub async fn send_texts<'a>(
        &mut self,
        texts: impl IntoIterator<Item = &'a [u8]>,
    ) -> io::Result<()> {
        let mut out = Vec::new();
        for text in texts {
            let mask = self.next_mask();
            push_frame(&mut out, OP_TEXT, text, mask);
        }
        self.tcp.write_all(&out).await
    }

    /// Sends a close frame (1000, normal closure); the connection is done after it.
    pub async fn close(&mut self) -> io::Result<()> {
        let mut out = Vec::new();
        let mask = self.next_mask();
        push_frame(&mut out, OP_CLOSE, &1000u16.to_be_bytes(), mask);
        self.tcp.write_all(&out).await
    }

    /// A client's frames are masked; the key need not be secret for a load tool (xorshift).
    fn next_mask(&mut self) -> [u8; 4] {
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        self.mask.to_be_bytes()
    }
}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A frame header as the server sends it (never masked).
struct Header {
    fin: bool,
    opcode: u8,
    /// The header's own length.
    len: usize,
    payload: usize,
}

/// The header at the front of `bytes`; `None` until it is complete.
fn header(bytes: &[u8]) -> Result<Option<Header>, Error> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(Error::Protocol(
            "reserved bits set (no extension was agreed)",
        ));
    }
    if second & 0x80 != 0 {
        return Err(Error::Protocol("a masked frame from the server"));
    }
    let (len, payload) = match second & 0x7f {
        126 => match bytes.get(2..4) {
            Some(b) => (4, usize::from(u16::from_be_bytes([b[0], b[1]]))),
            None => return Ok(None),
        },
        127 => match bytes.get(2..10) {
            Some(b) => {
                let n = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                (
                    10,
                    usize::try_from(n)
                        .unwrap_or(usize::MAX)
                        .min(MAX_MESSAGE + 1),
                )
            }
            None => return Ok(None),
        },
        n => (2, usize::from(n)),
    };
    let opcode = first & 0x0f;
    let fin = first & 0x80 != 0;
    if opcode >= OP_CLOSE && (!fin || payload > 125) {
        return Err(Error::Protocol(
            "a control frame fragmented or longer than 125 bytes",
        ));
    }
    Ok(Some(Header {
        fin,
        opcode,
        len,
        payload,
    }))
}

/// Appends a masked frame to `out`.
fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's frame: unmasked.
    fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 65535 => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    /// What a real server (tokio-tungstenite, as the bare loop and Tack use) receives from
    /// this client, and what this client reads of what it sends.
    // The handshake callback's error type is tungstenite's (an HTTP response), not ours to shrink.
    #[allow(clippy::result_large_err)]
    #[tokio::test]
    async fn a_handshake_and_frames_both_ways_with_a_tungstenite_server() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
        use tokio_tungstenite::tungstenite::Message as T;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("ws://{}/sub?x=1", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut path = String::new();
            let mut ws =
                tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, res: Response| {
                    path = format!("{} {:?}", req.uri(), req.headers().get("authorization"));
                    Ok(res)
                })
                .await
                .unwrap();
            // A batch the client reads at once, one message in fragments, a big one, a ping.
            ws.feed(T::text("one")).await.unwrap();
            ws.feed(T::binary(vec![2u8; 3])).await.unwrap();
            ws.feed(T::text("x".repeat(70_000))).await.unwrap();
            ws.feed(T::Ping(b"are you there".to_vec().into()))
                .await
                .unwrap();
            ws.flush().await.unwrap();
            let got = ws.next().await.unwrap().unwrap();
            let pong = ws.next().await.unwrap().unwrap();
            ws.send(T::Close(None)).await.unwrap();
            (path, got, pong)
        });
        let mut ws = WebSocket::connect(&url, Some("secret")).await.unwrap();
        let mut seen: Vec<(bool, usize, u8)> = Vec::new();
        let closed = loop {
            if let Some(closed) = ws
                .drain(|m| match m {
                    Message::Text(t) => seen.push((true, t.len(), t[0])),
                    Message::Binary(b) => seen.push((false, b.len(), b[0])),
                })
                .unwrap()
            {
                break closed;
            }
            if seen.len() == 3 && !ws.pongs.is_empty() {
                ws.send_texts([&b"hello"[..]]).await.unwrap();
                ws.answer_pings().await.unwrap();
            }
            ws.fill().await.unwrap();
        };
        assert_eq!(
            seen,
            vec![(true, 3, b'o'), (false, 3, 2), (true, 70_000, b'x')]
        );
        assert_eq!(closed.code, None);
        let (path, got, pong) = server.await.unwrap();
        assert_eq!(path, r#"/sub?x=1 Some("Bearer secret")"#);
        assert_eq!(got, T::text("hello"));
        assert_eq!(pong, T::Pong(b"are you there".to_vec().into()));
    }

    #[tokio::test]
    async fn a_server_that_does_not_upgrade_is_reported_by_its_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("ws://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = tcp.read(&mut request).await;
            tcp.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let err = WebSocket::connect(&url, None).await.err().unwrap();
        assert_eq!(err.kind(), "HTTP 503 Service Unavailable");
    }

    /// Frames split anywhere across two reads, fragments, a ping and a close; the buffer
    /// starts smaller than a frame, so it grows and moves on the way.
    #[tokio::test]
    async fn frames_cut_at_every_byte_are_read_whole_and_in_order() {
        let mut wire = Vec::new();
        wire.extend(frame(OP_TEXT, true, b"first"));
        wire.extend(frame(OP_TEXT, false, b"sec"));
        wire.extend(frame(OP_PING, true, b"p"));
        wire.extend(frame(OP_CONTINUATION, true, b"ond"));
        wire.extend(frame(OP_BINARY, true, &[7u8; 300]));
        wire.extend(frame(OP_CLOSE, true, b"\x03\xf0too slow"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for cut in 1..wire.len() {
            let (tcp, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
            let mut ws = WebSocket {
                tcp: tcp.unwrap(),
                buf: vec![0; 16],
                start: 0,
                end: 0,
                fragments: None,
                pongs: Vec::new(),
                mask: 1,
            };
            let (mut peer, _) = accepted.unwrap();
            peer.write_all(&wire[..cut]).await.unwrap();
            let mut got: Vec<Vec<u8>> = Vec::new();
            let mut rest_sent = false;
            let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                loop {
                    ws.fill().await.unwrap();
                    let closed = ws
                        .drain(|m| match m {
                            Message::Text(t) | Message::Binary(t) => got.push(t.to_vec()),
                        })
                        .unwrap();
                    if let Some(closed) = closed {
                        return closed;
                    }
                    if !rest_sent {
                        peer.write_all(&wire[cut..]).await.unwrap();
                        rest_sent = true;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("cut at {cut}: no close frame read"));
            assert_eq!(
                got,
                vec![b"first".to_vec(), b"second".to_vec(), vec![7u8; 300]],
                "cut at {cut}"
            );
            assert_eq!(
                (closed.code, closed.reason.as_str()),
                (Some(1008), "too slow")
            );
            assert!(!ws.pongs.is_empty(), "the ping is owed a pong");
        }
    }

    #[test]
    fn a_server_that_breaks_the_protocol_is_refused() {
        let masked = [0x81, 0x81, 1, 2, 3, 4, b'x'];
        assert!(matches!(header(&masked), Err(Error::Protocol(_))));
        let compressed = [0xc1, 0x01, b'x'];
        assert!(matches!(header(&compressed), Err(Error::Protocol(_))));
        let long_ping = frame(OP_PING, true, &[0u8; 126]);
        assert!(matches!(header(&long_ping), Err(Error::Protocol(_))));
        assert!(matches!(header(&[0x81]), Ok(None)));
        assert!(matches!(header(&[0x81, 126, 1]), Ok(None)));
    }
}
