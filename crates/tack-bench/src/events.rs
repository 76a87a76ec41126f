//! What the load tool reads from a Tack server's events besides the payload's stamp: a `raw`
//! event's id (where a resumed watch starts), an error's code, a `welcome`'s session, and the
//! events that confirm a subscription.
//!
//! Substring searches, never JSON parsing; every needle's finder is built once for the whole
//! run (building one per frame cost 8 % of the tool's CPU at 1,000 subscribers, `perf`).

use memchr::memmem::Finder;
use std::sync::LazyLock;

/// A needle whose search is prepared once.
pub struct Needle(LazyLock<Finder<'static>>);

impl Needle {
    const fn new(build: fn() -> Finder<'static>) -> Needle {
        Needle(LazyLock::new(build))
    }

    pub fn find(&self, text: &[u8]) -> Option<usize> {
        self.0.find(text)
    }

    fn len(&self) -> usize {
        self.0.needle().len()
    }

    pub fn is_in(&self, text: &[u8]) -> bool {
        self.find(text).is_some()
    }
}

/// Confirms a `watch` (after any replay).
pub static RESUMED: Needle = Needle::new(|| Finder::new(br#""type":"resumed""#));
/// Confirms entering a room.
pub static PRESENCE: Needle = Needle::new(|| Finder::new(br#""type":"presence""#));
static RAW: Needle = Needle::new(|| Finder::new(br#""type":"raw""#));
static ID: Needle = Needle::new(|| Finder::new(br#""id":"#));
static ERROR: Needle = Needle::new(|| Finder::new(br#""type":"error""#));
static CODE: Needle = Needle::new(|| Finder::new(br#""code":""#));
static WELCOME: Needle = Needle::new(|| Finder::new(br#""type":"welcome""#));
static SESSION: Needle = Needle::new(|| Finder::new(br#""session":""#));

/// The `id` of a Tack `raw` event in `text`. The id comes before the payload, and a payload's
/// own quotes are escaped, so the first unescaped `"id":` is the event's.
pub fn raw_id(text: &[u8]) -> Option<u64> {
    // The server writes `type` first; the search is the fallback for any other order.
    if !text.starts_with(br#"{"type":"raw""#) && !RAW.is_in(text) {
        return None;
    }
    let start = ID.find(text)? + ID.len();
    let len = text[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&text[start..start + len])
        .ok()?
        .parse()
        .ok()
}

/// The `code` of a Tack `error` event in `text`, if there is one.
pub fn server_error_code(text: &[u8]) -> Option<String> {
    ERROR.find(text)?;
    quoted_after(&CODE, text)
}

/// The HTTP session id in a `welcome` event.
pub fn session_id(text: &[u8]) -> Option<String> {
    WELCOME.find(text)?;
    quoted_after(&SESSION, text)
}

fn quoted_after(key: &Needle, text: &[u8]) -> Option<String> {
    let start = key.find(text)? + key.len();
    let len = text[start..].iter().position(|&b| b == b'"')?;
    Some(String::from_utf8_lossy(&text[start..start + len]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_is_grouped_by_its_code() {
        let text = br#"{"type":"error","code":"rate_limited","message":"too many"}"#;
        assert_eq!(server_error_code(text).as_deref(), Some("rate_limited"));
        assert_eq!(server_error_code(br#"{"type":"pong"}"#), None);
    }

    #[test]
    fn a_resume_starts_after_the_raw_events_own_id_not_one_in_its_payload() {
        let text = br#"{"type":"raw","channel":"r","id":42,"ts":1,"payload":"{\"id\":7}"}"#;
        assert_eq!(raw_id(text), Some(42));
        let reordered = br#"{"channel":"r","type":"raw","id":43,"payload":"x"}"#;
        assert_eq!(raw_id(reordered), Some(43));
        assert_eq!(raw_id(br#"{"type":"presence","id":3}"#), None);
        assert_eq!(raw_id(br#"{"type":"raw","id":"#), None);
        assert_eq!(
            raw_id(br#"{"type":"raw","id":99999999999999999999999}"#),
            None
        );
    }

    #[test]
    fn the_session_comes_from_the_welcome() {
        let text = br#"[{"type":"welcome","session":"s-123","nick":"guest-1"}]"#;
        assert_eq!(session_id(text).as_deref(), Some("s-123"));
        assert_eq!(session_id(br#"{"type":"pong","session":"s-1"}"#), None);
    }

    #[test]
    fn subscriptions_are_confirmed_by_their_own_event() {
        assert!(RESUMED.is_in(br#"{"type":"resumed","channel":"c","recovered":true}"#));
        assert!(!RESUMED.is_in(br#"{"type":"presence","room":"c"}"#));
        assert!(PRESENCE.is_in(br#"{"type":"presence","room":"c"}"#));
    }
}
