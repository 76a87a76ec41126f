//! The bytes every benchmark message carries, so a receiver can tell which message it got and
//! how long it took, read from a fixed place instead of parsed.
//!
//! A payload is `x` padding up to the message size, then a stamp of [`STAMP_LEN`] bytes at its
//! very end: `tb2.` and 32 digits in fixed-width fields (zero-padded):
//!
//! | field     | digits | what                                                               |
//! |-----------|-------:|--------------------------------------------------------------------|
//! | `epoch`   | 4      | the saturation step (0 otherwise); late arrivals from an earlier step are ignored |
//! | `stream`  | 6      | who numbered it: the room for a broadcast, the sending connection for chat |
//! | `seq`     | 10     | 0, 1, 2… per stream; a second arrival of the same `(stream, seq)` is a duplicate |
//! | `sent_us` | 12     | microseconds since the run's clock started (sender and receiver share it) |
//!
//! Why at the end: every server measured puts a published payload at the end of the frame it
//! delivers, followed by a short tail with no digit in it:
//! - the bare loop and Pushpin with a plain origin deliver the payload itself (no tail);
//! - Tack's `raw` event, built-in and through Pushpin in front of `tack serve --pushpin`, ends
//!   `…"payload":"<payload>"}` — `payload` is the last field of `Raw` in
//!   `tack-protocol/src/chat.rs`, and `binary` is left out when false (tail `"}`).
//!
//! So [`at_end`] steps back over at most [`MAX_TAIL`] non-digit bytes and reads the stamp at a
//! fixed offset from there: no search, no delimiters, the same few dozen byte compares for every
//! server. A test builds Tack's frame with the protocol crate, so a change to the field order
//! that would put digits after the payload fails it rather than every benchmark.
//!
//! A body that holds many messages (an SSE chunk, a poll answer) or a message whose payload is
//! followed by more fields (a `chatMessage`'s `comment` comes before its `ts`) is read with
//! [`scan`]: one search for the marker, with a finder built once, then the same fixed-width read.
//!
//! Only ASCII letters, digits and a dot: JSON, SSE and Pushpin pass it through unescaped.

use memchr::memmem::Finder;
use std::fmt::Write as _;
use std::sync::LazyLock;

const MARKER: &[u8] = b"tb2.";
const EPOCH_DIGITS: usize = 4;
const STREAM_DIGITS: usize = 6;
const SEQ_DIGITS: usize = 10;
const SENT_DIGITS: usize = 12;

/// Bytes of the stamp at the end of every payload.
pub const STAMP_LEN: usize = MARKER.len() + EPOCH_DIGITS + STREAM_DIGITS + SEQ_DIGITS + SENT_DIGITS;

/// The longest tail [`at_end`] steps over after the stamp. Tack's is 2 bytes (`"}`); 24 leaves
/// room for a `","binary":false}` (17) should a server ever send it, while a digit anywhere
/// in the tail (a field after the payload) sends the frame to [`scan`].
pub const MAX_TAIL: usize = 24;

/// The smallest message that holds the stamp with room to spare.
pub const MIN_SIZE: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub epoch: u32,
    pub stream: u32,
    pub seq: u64,
    pub sent_us: u64,
}

/// The payload for `stamp`, `size` bytes long (longer only if `size` is below the stamp). A
/// field too large for its width is written as the largest value that fits, so the stamp
/// keeps its length (no run comes near: 10^10 messages, 11 days).
pub fn encode(stamp: Stamp, size: usize) -> String {
    let mut text = String::with_capacity(size.max(STAMP_LEN));
    for _ in 0..size.saturating_sub(STAMP_LEN) {
        text.push('x');
    }
    text.push_str("tb2.");
    push_digits(&mut text, u64::from(stamp.epoch), EPOCH_DIGITS);
    push_digits(&mut text, u64::from(stamp.stream), STREAM_DIGITS);
    push_digits(&mut text, stamp.seq, SEQ_DIGITS);
    push_digits(&mut text, stamp.sent_us, SENT_DIGITS);
    text
}

fn push_digits(text: &mut String, value: u64, width: usize) {
    let largest = 10u64.pow(width as u32) - 1;
    let _ = write!(text, "{:0width$}", value.min(largest));
}

/// The stamp of a frame that carries one message, read at its end (see the module docs).
/// `None` when the frame does not end with a stamp (a `welcome`, a `resumed`, an error, a
/// `chatMessage`), which the caller then reads with [`scan`].
pub fn at_end(frame: &[u8]) -> Option<Stamp> {
    let tail = frame
        .iter()
        .rev()
        .take(MAX_TAIL + 1)
        .position(u8::is_ascii_digit)?;
    let end = frame.len() - tail;
    read(frame.get(end.checked_sub(STAMP_LEN)?..end)?)
}

static MARKER_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(MARKER));

/// Calls `found` for every stamp in `text` (a poll answer can hold hundreds).
pub fn scan(text: &[u8], mut found: impl FnMut(Stamp)) {
    for start in MARKER_FINDER.find_iter(text) {
        if let Some(stamp) = text.get(start..start + STAMP_LEN).and_then(read) {
            found(stamp);
        }
    }
}

/// Reads a stamp from exactly [`STAMP_LEN`] bytes: the marker, then digits in fixed places.
fn read(stamp: &[u8]) -> Option<Stamp> {
    let digits = stamp.strip_prefix(MARKER)?;
    let (epoch, rest) = digits.split_at(EPOCH_DIGITS);
    let (stream, rest) = rest.split_at(STREAM_DIGITS);
    let (seq, sent_us) = rest.split_at(SEQ_DIGITS);
    Some(Stamp {
        epoch: number(epoch)? as u32,
        stream: number(stream)? as u32,
        seq: number(seq)?,
        sent_us: number(sent_us)?,
    })
}

fn number(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &d| {
        d.is_ascii_digit().then(|| value * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tack_protocol::chat::{ChatMessage, Raw, Resumed, ServerEvent};

    fn stamp(seq: u64) -> Stamp {
        Stamp {
            epoch: 2,
            stream: 7,
            seq,
            sent_us: 123_456,
        }
    }

    /// The `raw` event Tack's server sends a watcher, built by the protocol crate itself.
    fn tack_raw_frame(payload: &str) -> String {
        ServerEvent::Raw(Raw {
            channel: "bench1f-0".into(),
            id: 4_242,
            ts: 1_764_000_000_000,
            payload: payload.into(),
            binary: false,
        })
        .to_json()
    }

    #[test]
    fn a_payload_has_the_asked_size_and_its_stamp_reads_back_from_the_end() {
        let text = encode(stamp(42), 100);
        assert_eq!(text.len(), 100);
        assert!(
            text.ends_with("tb2.00020000070000000042000000123456"),
            "{text}"
        );
        assert_eq!(at_end(text.as_bytes()), Some(stamp(42)));
    }

    #[test]
    fn every_server_s_frame_is_read_at_the_same_place() {
        let payload = encode(stamp(9), 100);
        // The bare loop and Pushpin with a plain origin: the frame is the payload.
        assert_eq!(at_end(payload.as_bytes()), Some(stamp(9)));
        // Tack, built-in or as Pushpin's origin: the payload is the `raw` event's last field.
        let frame = tack_raw_frame(&payload);
        assert!(frame.ends_with(&format!("{payload}\"}}")), "{frame}");
        assert_eq!(at_end(frame.as_bytes()), Some(stamp(9)));
    }

    #[test]
    fn the_largest_values_keep_the_stamp_s_width() {
        let big = Stamp {
            epoch: 9_999,
            stream: 999_999,
            seq: 9_999_999_999,
            sent_us: 999_999_999_999,
        };
        let text = encode(big, 64);
        assert_eq!(text.len(), 64);
        assert_eq!(at_end(text.as_bytes()), Some(big));
        // Too large for its field: clamped, not widened (a wider stamp would be misread).
        let over = Stamp {
            seq: 12_345_678_901,
            ..big
        };
        assert_eq!(encode(over, 64).len(), 64);
        assert_eq!(at_end(encode(over, 64).as_bytes()), Some(big));
    }

    #[test]
    fn frames_without_a_stamp_at_their_end_give_no_number() {
        let resumed = ServerEvent::Resumed(Resumed {
            room: None,
            channel: Some("c".into()),
            recovered: true,
            since: 0,
            last_id: 123_456_789_012,
        })
        .to_json();
        let welcome = r#"{"type":"welcome","session":"s-1","nick":"guest-1","heartbeat":25,"server":"tack/0.1.0"}"#;
        let error = r#"{"type":"error","code":"too_slow","message":"reconnect to resume"}"#;
        // A chat message's `comment` is followed by its `ts`: digits in the tail.
        let chat = ServerEvent::Message(ChatMessage {
            id: 5,
            room: "r".into(),
            user: "u".into(),
            comment: encode(stamp(1), 80),
            ts: 1_764_000_000_000,
            cid: None,
        })
        .to_json();
        let payload = encode(stamp(3), 60);
        let cut_short = &payload[..payload.len() - 1];
        let letter_in_a_field = payload.replace("tb2.0002", "tb2.0a02");
        let marker_missing = payload.replace("tb2.", "tb1.");
        let long_tail = format!("{payload}{}", "\"".repeat(MAX_TAIL + 1));
        for frame in [
            resumed.as_str(),
            welcome,
            error,
            chat.as_str(),
            cut_short,
            &letter_in_a_field,
            &marker_missing,
            &long_tail,
            "",
            "12345",
            "tb2.",
        ] {
            assert_eq!(at_end(frame.as_bytes()), None, "{frame}");
        }
    }

    #[test]
    fn stamps_are_found_inside_bodies_that_hold_many_messages() {
        // An SSE chunk of two `raw` events (the stream format's content ends `\n\n`)…
        let sse = [1, 2]
            .map(|seq| {
                let content = format!("data: {}\n\n", encode(stamp(seq), 60));
                format!("id: c:{seq}\ndata: {}\n\n", tack_raw_frame(&content))
            })
            .concat();
        // …and a poll answer holding a `raw` event and a chat message.
        let chat = ServerEvent::Message(ChatMessage {
            id: 5,
            room: "r".into(),
            user: "u".into(),
            comment: encode(stamp(4), 60),
            ts: 1,
            cid: None,
        })
        .to_json();
        let poll = format!("[{},{chat}]", tack_raw_frame(&encode(stamp(3), 60)));
        let mut seqs = Vec::new();
        scan(sse.as_bytes(), |s| seqs.push(s.seq));
        scan(poll.as_bytes(), |s| seqs.push(s.seq));
        assert_eq!(seqs, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_truncated_or_garbled_stamp_inside_a_body_is_ignored() {
        let mut seen = 0;
        scan(b"tb2.0001000002", |_| seen += 1);
        scan(b"[tb2.000a000002000000000300000000000004]", |_| seen += 1);
        assert_eq!(seen, 0);
    }
}
