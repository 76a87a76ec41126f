//! WebSocket-over-HTTP events (`application/websocket-events`), Pushpin's format for carrying a
//! WebSocket session over plain HTTP requests between Pushpin and an origin.
//!
//! Each event is `TYPE <hex-length>\r\n<content>\r\n`, or `TYPE\r\n` when it has no content:
//!
//! ```text
//! OPEN\r\n
//! TEXT 1c\r\nhere is another nice message\r\n
//! CLOSE 2\r\n\x03\xe8\r\n
//! ```
//!
//! This module owns the byte format and nothing else: what an origin does with an `OPEN` or a
//! `CLOSE` is the server's business. The [`Decoder`] is incremental and gives the same events
//! and the same error however the body is split into chunks, so a caller can feed it straight
//! from the network.

use crate::error::WsEventsError;
use bytes::{Buf, Bytes, BytesMut};

/// Largest event content a [`Decoder`] accepts unless told otherwise (1 MiB).
pub const DEFAULT_MAX_CONTENT: usize = 1024 * 1024;

/// The longest header line (`DISCONNECT ffffffffffffffff`) plus room to spare. A line longer
/// than this without a CRLF cannot be a valid header, so the decoder stops waiting for one.
const MAX_HEADER_LEN: usize = 32;

/// One WebSocket-over-HTTP event.
///
/// `OPEN`, `PING` and `PONG` may carry content (Pushpin passes a ping's payload through), so
/// they hold bytes, usually empty. `DISCONNECT` never has content; any sent is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Open(Bytes),
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// `None` for a CLOSE without content; otherwise the close code and the reason.
    Close(Option<(u16, String)>),
    Disconnect,
}

impl Event {
    /// `OPEN` with no content — what both sides send to start a session.
    pub fn open() -> Event {
        Event::Open(Bytes::new())
    }

    /// `TEXT` with the given message.
    pub fn text(message: impl Into<String>) -> Event {
        Event::Text(message.into())
    }

    /// `CLOSE` with a code and reason.
    pub fn close(code: u16, reason: impl Into<String>) -> Event {
        Event::Close(Some((code, reason.into())))
    }

    /// The type name on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Open(_) => "OPEN",
            Event::Text(_) => "TEXT",
            Event::Binary(_) => "BINARY",
            Event::Ping(_) => "PING",
            Event::Pong(_) => "PONG",
            Event::Close(_) => "CLOSE",
            Event::Disconnect => "DISCONNECT",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends one event to `out`. Lengths are lowercase hex, as Pushpin writes them.
pub fn encode_into(event: &Event, out: &mut Vec<u8>) {
    let kind = event.kind().as_bytes();
    match event {
        Event::Open(b) | Event::Binary(b) | Event::Ping(b) | Event::Pong(b) => {
            write_event(out, kind, &[b])
        }
        Event::Text(t) => write_event(out, kind, &[t.as_bytes()]),
        Event::Close(Some((code, reason))) => {
            write_event(out, kind, &[&code.to_be_bytes(), reason.as_bytes()])
        }
        Event::Close(None) | Event::Disconnect => write_event(out, kind, &[]),
    }
}

/// Encodes one event.
pub fn encode(event: &Event) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(event, &mut out);
    out
}

/// Encodes a whole body: the events one after another.
pub fn encode_all<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        encode_into(event, &mut out);
    }
    out
}

fn write_event(out: &mut Vec<u8>, kind: &[u8], parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(kind);
    if len == 0 {
        // An empty TEXT and `TEXT 0\r\n\r\n` decode the same; the short form is what Pushpin
        // itself sends for OPEN and DISCONNECT.
        out.extend_from_slice(b"\r\n");
        return;
    }
    out.push(b' ');
    out.extend_from_slice(format!("{len:x}").as_bytes());
    out.extend_from_slice(b"\r\n");
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\n");
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Incremental decoder: [`feed`](Decoder::feed) bytes as they arrive, take events with
/// [`next_event`](Decoder::next_event), and call [`finish`](Decoder::finish) at the end of the
/// body to learn whether it stopped mid-event.
///
/// Decisions are only ever made on bytes that have fully arrived, which is why any split of a
/// body yields the same events and the same first error. After an error the decoder keeps
/// returning it; drop it and refuse the request.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_content: usize,
    /// The header of an event whose content has not fully arrived yet: its kind and, when the
    /// header carried a length, that length (`TEXT 0\r\n\r\n` still has a content section).
    pending: Option<(Kind, Option<usize>)>,
    failed: Option<WsEventsError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Text,
    Binary,
    Ping,
    Pong,
    Close,
    Disconnect,
}

impl Kind {
    fn from_name(name: &[u8]) -> Option<Kind> {
        Some(match name {
            b"OPEN" => Kind::Open,
            b"TEXT" => Kind::Text,
            b"BINARY" => Kind::Binary,
            b"PING" => Kind::Ping,
            b"PONG" => Kind::Pong,
            b"CLOSE" => Kind::Close,
            b"DISCONNECT" => Kind::Disconnect,
            _ => return None,
        })
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_CONTENT)
    }
}

impl Decoder {
    /// A decoder that refuses any event whose content is longer than `max_content` bytes.
    pub fn new(max_content: usize) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            max_content,
            pending: None,
            failed: None,
        }
    }

    /// Adds bytes from the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Event>, WsEventsError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Ends the body: an error if bytes of an unfinished event are left over.
    pub fn finish(&self) -> Result<(), WsEventsError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.buf.is_empty() && self.pending.is_none() {
            Ok(())
        } else {
            Err(WsEventsError::Truncated {
                buffered: self.buf.len(),
            })
        }
    }

    fn step(&mut self) -> Result<Option<Event>, WsEventsError> {
        let (kind, len) = match self.pending {
            Some(header) => header,
            None => match self.read_header()? {
                Some(header) => header,
                None => return Ok(None),
            },
        };
        let Some(len) = len else {
            self.pending = None;
            return build(kind, Bytes::new()).map(Some);
        };
        // Content plus its trailing CRLF must be here before anything is decided.
        if self.buf.len() < len + 2 {
            self.pending = Some((kind, Some(len)));
            return Ok(None);
        }
        if &self.buf[len..len + 2] != b"\r\n" {
            return Err(WsEventsError::MissingCrlf);
        }
        self.pending = None;
        let content = self.buf.split_to(len).freeze();
        self.buf.advance(2);
        build(kind, content).map(Some)
    }

    /// Reads `TYPE[ hex]\r\n` off the front of the buffer.
    fn read_header(&mut self) -> Result<Option<(Kind, Option<usize>)>, WsEventsError> {
        let window = &self.buf[..self.buf.len().min(MAX_HEADER_LEN)];
        let Some(lf) = window.iter().position(|&b| b == b'\n') else {
            if self.buf.len() >= MAX_HEADER_LEN {
                return Err(WsEventsError::MissingCrlf);
            }
            return Ok(None);
        };
        if lf == 0 || window[lf - 1] != b'\r' {
            return Err(WsEventsError::MissingCrlf);
        }
        let line = &window[..lf - 1];
        let (name, hex) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], Some(&line[space + 1..])),
            None => (line, None),
        };
        let kind = Kind::from_name(name).ok_or_else(|| {
            WsEventsError::UnknownType(String::from_utf8_lossy(name).into_owned())
        })?;
        let len = match hex {
            None => None,
            Some(hex) => Some(parse_len(hex, self.max_content)?),
        };
        self.buf.advance(lf + 1);
        Ok(Some((kind, len)))
    }
}

fn parse_len(hex: &[u8], limit: usize) -> Result<usize, WsEventsError> {
    let bad = || WsEventsError::BadHex(String::from_utf8_lossy(hex).into_owned());
    if hex.is_empty() {
        return Err(bad());
    }
    let mut len: u64 = 0;
    for &b in hex {
        let digit = (b as char).to_digit(16).ok_or_else(bad)?;
        // Saturating keeps "longer than the limit" the answer for absurd lengths too.
        len = len.saturating_mul(16).saturating_add(u64::from(digit));
    }
    if len > limit as u64 {
        return Err(WsEventsError::TooLarge { len, limit });
    }
    Ok(len as usize)
}

fn build(kind: Kind, content: Bytes) -> Result<Event, WsEventsError> {
    Ok(match kind {
        Kind::Open => Event::Open(content),
        Kind::Text => Event::Text(
            String::from_utf8(content.to_vec()).map_err(|_| WsEventsError::TextNotUtf8)?,
        ),
        Kind::Binary => Event::Binary(content),
        Kind::Ping => Event::Ping(content),
        Kind::Pong => Event::Pong(content),
        Kind::Close => match content.len() {
            0 => Event::Close(None),
            1 => return Err(WsEventsError::CloseContentTooShort),
            _ => {
                let code = u16::from_be_bytes([content[0], content[1]]);
                let reason = std::str::from_utf8(&content[2..])
                    .map_err(|_| WsEventsError::CloseReasonNotUtf8)?;
                Event::Close(Some((code, reason.to_owned())))
            }
        },
        Kind::Disconnect => Event::Disconnect,
    })
}

/// Decodes a complete body at once.
pub fn decode_all(body: &[u8], max_content: usize) -> Result<Vec<Event>, WsEventsError> {
    let mut decoder = Decoder::new(max_content);
    decoder.feed(body);
    let mut events = Vec::new();
    while let Some(event) = decoder.next_event()? {
        events.push(event);
    }
    decoder.finish()?;
    Ok(events)
}
