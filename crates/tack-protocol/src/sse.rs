//! Server-Sent Events (`text/event-stream`): an encoder for the server and an incremental
//! parser for the client, following the WHATWG event-stream rules.
//!
//! ```text
//! : keep-alive
//! id: lobby:42
//! event: message
//! data: {"type":"chatMessage",...}
//!
//! ```
//!
//! The parser accepts LF, CRLF and CR line ends, a BOM at the very start, `data` over several
//! lines, fields without a colon and comments (which it reports, so a client can count
//! keep-alives). It refuses an event larger than its limit instead of buffering without end.
//! What an event means — and what `Last-Event-ID` to send on reconnect — is the caller's
//! business; [`Parser::last_event_id`] only keeps the spec's "last event ID" for it.

use crate::error::SseError;

/// Largest event a [`Parser`] accepts unless told otherwise (1 MiB of lines).
pub const DEFAULT_MAX_EVENT: usize = 1024 * 1024;

/// One event, as encoded or as parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// `id:` — set only when this event carried one. The spec's sticky "last event ID" is
    /// [`Parser::last_event_id`].
    pub id: Option<String>,
    /// `event:` — `None` means the default type, `message`.
    pub event: Option<String>,
    /// `data:` lines joined with `\n`.
    pub data: String,
    /// `retry:` — reconnection time in milliseconds.
    pub retry: Option<u64>,
}

impl Event {
    /// An event with only data.
    pub fn data(data: impl Into<String>) -> Event {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// Sets the `id:`.
    pub fn with_id(mut self, id: impl Into<String>) -> Event {
        self.id = Some(id.into());
        self
    }

    /// Sets the `event:` type.
    pub fn with_event(mut self, event: impl Into<String>) -> Event {
        self.event = Some(event.into());
        self
    }
}

/// What the parser hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete event (a block with at least one `data` line).
    Event(Event),
    /// A comment line (`: text`), with the colon and one following space removed. Servers send
    /// an empty one as a keep-alive.
    Comment(String),
    /// A block that set `retry:` but carried no data.
    Retry(u64),
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends one event, ending with the blank line that dispatches it. `data` is split on any
/// line end (LF, CRLF, CR), one `data:` line each; `id` and `event` may not contain line ends.
pub fn encode_into(event: &Event, out: &mut String) -> Result<(), SseError> {
    if let Some(id) = &event.id {
        check_single_line(id, "id")?;
        push_field(out, "id", id);
    }
    if let Some(kind) = &event.event {
        check_single_line(kind, "event")?;
        push_field(out, "event", kind);
    }
    if let Some(retry) = event.retry {
        push_field(out, "retry", &retry.to_string());
    }
    for line in split_lines(&event.data) {
        push_field(out, "data", line);
    }
    out.push('\n');
    Ok(())
}

/// Encodes one event.
pub fn encode(event: &Event) -> Result<String, SseError> {
    let mut out = String::new();
    encode_into(event, &mut out)?;
    Ok(out)
}

/// Appends a comment, one `:` line per line of `text`. `comment_into("", out)` writes the bare
/// `:` keep-alive line.
pub fn comment_into(text: &str, out: &mut String) {
    for line in split_lines(text) {
        out.push(':');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    // A space after the colon is optional, but then a value starting with a space would lose
    // it; always writing one keeps every value exact.
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

fn check_single_line(value: &str, field: &'static str) -> Result<(), SseError> {
    if value.contains(['\n', '\r']) {
        return Err(SseError::LineBreakInField { field });
    }
    Ok(())
}

/// Splits on LF, CRLF and CR; always yields at least one (possibly empty) line.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[i + skip..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Incremental parser: [`feed`](Parser::feed) bytes as they arrive and take items with
/// [`next_item`](Parser::next_item) until it returns `Ok(None)`.
///
/// Any split of the same stream gives the same items and the same error: a CR at the end of a
/// chunk ends its line at once and a following LF is skipped, and the size check looks only at
/// bytes that have arrived.
#[derive(Debug)]
pub struct Parser {
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
    max_event: usize,
    /// Still deciding whether the stream starts with a BOM.
    at_start: bool,
    /// The previous line ended with CR; an LF right after it belongs to that line end.
    skip_lf: bool,
    /// Bytes of lines in the current (undispatched) block.
    block_size: usize,
    block: Block,
    last_event_id: String,
    failed: Option<SseError>,
}

#[derive(Debug, Default)]
struct Block {
    id: Option<String>,
    event: Option<String>,
    data: String,
    has_data: bool,
    retry: Option<u64>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(DEFAULT_MAX_EVENT)
    }
}

impl Parser {
    /// A parser that refuses an event whose lines add up to more than `max_event` bytes.
    pub fn new(max_event: usize) -> Parser {
        Parser {
            buf: Vec::new(),
            pos: 0,
            max_event,
            at_start: true,
            skip_lf: false,
            block_size: 0,
            block: Block::default(),
            last_event_id: String::new(),
            failed: None,
        }
    }

    /// Adds bytes from the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        // Drop what has been read before growing, so a long stream does not keep every byte.
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The spec's last event ID: the most recent `id:` seen, kept across events.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The next item, `Ok(None)` when more bytes are needed. An unfinished event at the end of
    /// a stream is dropped, as the spec says; there is no `finish`.
    pub fn next_item(&mut self) -> Result<Option<Item>, SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    fn step(&mut self) -> Result<Option<Item>, SseError> {
        if self.at_start {
            let head = &self.buf[self.pos..];
            let n = head.len().min(BOM.len());
            if head[..n] != BOM[..n] {
                self.at_start = false;
            } else if n == BOM.len() {
                self.pos += BOM.len();
                self.at_start = false;
            } else {
                return Ok(None);
            }
        }
        loop {
            if self.skip_lf && self.pos < self.buf.len() {
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.skip_lf = false;
            }
            let rest = &self.buf[self.pos..];
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if self.block_size + rest.len() > self.max_event {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event,
                    });
                }
                return Ok(None);
            };
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            self.skip_lf = rest[end] == b'\r';
            self.pos += end + 1;
            if let Some(item) = self.line(&line)? {
                return Ok(Some(item));
            }
        }
    }

    fn line(&mut self, line: &str) -> Result<Option<Item>, SseError> {
        if line.is_empty() {
            self.block_size = 0;
            return Ok(self.dispatch());
        }
        self.block_size += line.len();
        if self.block_size > self.max_event {
            return Err(SseError::EventTooLarge {
                limit: self.max_event,
            });
        }
        if let Some(comment) = line.strip_prefix(':') {
            let comment = comment.strip_prefix(' ').unwrap_or(comment);
            return Ok(Some(Item::Comment(comment.to_owned())));
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            // A field without a colon has an empty value: a bare `data` line adds an empty line.
            None => (line, ""),
        };
        match name {
            "data" => {
                if self.block.has_data {
                    self.block.data.push('\n');
                }
                self.block.data.push_str(value);
                self.block.has_data = true;
            }
            "event" => self.block.event = Some(value.to_owned()),
            // The spec ignores an id containing NUL: it could not be sent back in a header.
            "id" if !value.contains('\0') => {
                self.block.id = Some(value.to_owned());
                self.last_event_id = value.to_owned();
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Digits only, so the parse can only fail by overflow; such a value is ignored.
                if let Ok(ms) = value.parse() {
                    self.block.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<Item> {
        let block = std::mem::take(&mut self.block);
        if block.has_data {
            return Some(Item::Event(Event {
                id: block.id,
                event: block.event,
                data: block.data,
                retry: block.retry,
            }));
        }
        block.retry.map(Item::Retry)
    }
}

/// Parses a complete stream at once (an unfinished last event is dropped).
pub fn parse_all(stream: &[u8], max_event: usize) -> Result<Vec<Item>, SseError> {
    let mut parser = Parser::new(max_event);
    parser.feed(stream);
    let mut items = Vec::new();
    while let Some(item) = parser.next_item()? {
        items.push(item);
    }
    Ok(items)
}
