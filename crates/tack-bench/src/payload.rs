//! The bytes every benchmark message carries, so a receiver can tell which message it got and
//! how long it took, whatever the server wrapped around it.
//!
//! A payload is `tb1.<epoch>.<stream>.<seq>.<sent_us>.` padded with `x` to the message size.
//! Only ASCII letters, digits and dots: JSON, SSE and Pushpin pass it through unescaped, so a
//! receiver finds it with a substring search in a Tack `raw` event, a `chatMessage`, an SSE
//! line, a poll answer or the baseline's bare frame alike — no JSON parsing on the hot path.
//!
//! - `epoch`: the saturation step (0 otherwise); late arrivals from an earlier step are ignored.
//! - `stream`: who numbered it — the room for a broadcast, the sending connection for chat.
//! - `seq`: 0, 1, 2… per stream; a second arrival of the same `(stream, seq)` is a duplicate.
//! - `sent_us`: microseconds since the run's clock started (sender and receiver share it).

use memchr::memmem;
use std::fmt::Write as _;

const MARKER: &[u8] = b"tb1.";

/// The smallest message that holds the header with room to spare.
pub const MIN_SIZE: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub epoch: u32,
    pub stream: u32,
    pub seq: u64,
    pub sent_us: u64,
}

/// The payload for `stamp`, `size` bytes long (longer only if `size` is below the header).
pub fn encode(stamp: Stamp, size: usize) -> String {
    let mut text = String::with_capacity(size.max(MIN_SIZE));
    let _ = write!(
        text,
        "tb1.{}.{}.{}.{}.",
        stamp.epoch, stamp.stream, stamp.seq, stamp.sent_us
    );
    while text.len() < size {
        text.push('x');
    }
    text
}

/// Calls `found` for every payload header in `text` (a poll answer can hold hundreds).
pub fn scan(text: &[u8], mut found: impl FnMut(Stamp)) {
    for start in memmem::find_iter(text, MARKER) {
        if let Some(stamp) = parse_at(&text[start + MARKER.len()..]) {
            found(stamp);
        }
    }
}

fn parse_at(mut rest: &[u8]) -> Option<Stamp> {
    let mut next = || -> Option<u64> {
        let end = rest.iter().position(|&b| b == b'.')?;
        let digits = &rest[..end];
        if digits.is_empty() || digits.len() > 19 {
            return None;
        }
        let mut value = 0u64;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u64::from(d - b'0');
        }
        rest = &rest[end + 1..];
        Some(value)
    };
    Some(Stamp {
        epoch: next()? as u32,
        stream: next()? as u32,
        seq: next()?,
        sent_us: next()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(seq: u64) -> Stamp {
        Stamp {
            epoch: 2,
            stream: 7,
            seq,
            sent_us: 123_456,
        }
    }

    #[test]
    fn a_payload_has_the_asked_size_and_reads_back() {
        let text = encode(stamp(42), 100);
        assert_eq!(text.len(), 100);
        let mut got = Vec::new();
        scan(text.as_bytes(), |s| got.push(s));
        assert_eq!(got, vec![stamp(42)]);
    }

    #[test]
    fn payloads_are_found_inside_whatever_the_server_wraps_them_in() {
        let raw = format!(
            r#"[{{"type":"raw","channel":"c","id":1,"payload":"{}"}},{{"type":"chatMessage","comment":"{}"}}]"#,
            encode(stamp(1), 60),
            encode(stamp(2), 60)
        );
        let mut seqs = Vec::new();
        scan(raw.as_bytes(), |s| seqs.push(s.seq));
        assert_eq!(seqs, vec![1, 2]);
    }

    #[test]
    fn a_truncated_header_is_ignored() {
        let mut seen = 0;
        scan(b"tb1.1.2.", |_| seen += 1);
        scan(b"tb1.a.2.3.4.", |_| seen += 1);
        assert_eq!(seen, 0);
    }
}
