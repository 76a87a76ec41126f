//! One numbered item as Redis keeps it: the same bytes in the channel's history stream and in
//! the announcement every node receives, so a node that missed an announcement rebuilds the
//! identical item from history.
//!
//! `<id>|<ts>|<node>|<sender>|<cid length>:<cid>|<kind><body>`
//!
//! The id is only known inside the numbering script, so a node sends everything after `<id>|`
//! and the script puts the id in front. A chat event's JSON carries its own id (and an enter's
//! or leave's the viewer count), which the node writes as placeholders the script replaces:
//! [`ID_PLACEHOLDER`] and [`VIEWERS_PLACEHOLDER`]. A placeholder can only match its own field:
//! inside a JSON string a quote is escaped, so `"id":` cannot appear there unescaped.
//!
//! `<node>` is the node that numbered the item (behind Pushpin only that origin publishes it);
//! `<sender>` the session whose own `chatRoomEnter` this is (0: none).

use crate::hub::SessionKey;
use crate::item::{Content, Item, ItemBody};
use std::sync::Arc;
use tack_protocol::chat::{EventId, Millis};

/// What a chat event's `id` is written as before the script numbers it.
pub const ID_PLACEHOLDER: EventId = EventId::MAX;
/// What an enter's or leave's `viewers` is written as before the script counts them.
pub const VIEWERS_PLACEHOLDER: u32 = u32::MAX;

/// An item read back from Redis, with who numbered it.
#[derive(Debug)]
pub struct Entry {
    pub item: Arc<Item>,
    /// The node that numbered it.
    pub node: String,
    /// The joiner of its own `chatRoomEnter`.
    pub sender: Option<SessionKey>,
}

/// Why bytes from Redis are not an entry (another program's, or a newer Tack's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Tack history entry: {0}")]
pub struct BadEntry(&'static str);

/// Everything after `<id>|`: the head (up to and including the kind) and the body, which a
/// script joins after the id it assigns.
pub fn encode(
    ts: Millis,
    node: &str,
    sender: Option<SessionKey>,
    cid: Option<&str>,
    body: &ItemBody,
) -> (String, Vec<u8>) {
    let cid = cid.unwrap_or("");
    let kind = match body {
        ItemBody::Chat(_) => 'c',
        ItemBody::Published { .. } => 'p',
    };
    let head = format!(
        "{ts}|{node}|{}|{}:{cid}|{kind}",
        sender.unwrap_or(0),
        cid.len()
    );
    let body = match body {
        ItemBody::Chat(json) => json.as_bytes().to_vec(),
        ItemBody::Published { ws, stream, poll } => {
            let mut out = Vec::new();
            for content in [ws, stream, poll] {
                match content {
                    None => out.push(b'-'),
                    Some(content) => {
                        let (tag, bytes) = match content {
                            Content::Text(text) => (b't', text.as_bytes()),
                            Content::Binary(bytes) => (b'b', bytes.as_slice()),
                        };
                        out.push(tag);
                        out.extend_from_slice(bytes.len().to_string().as_bytes());
                        out.push(b':');
                        out.extend_from_slice(bytes);
                    }
                }
            }
            out
        }
    };
    (head, body)
}

/// Reads an entry of `channel`.
pub fn decode(channel: &Arc<str>, bytes: &[u8]) -> Result<Entry, BadEntry> {
    let mut rest = bytes;
    let id: EventId = number(field(&mut rest)?)?;
    let ts: Millis = number(field(&mut rest)?)?;
    let node = text(field(&mut rest)?)?.to_owned();
    let sender: SessionKey = number(field(&mut rest)?)?;
    let cid = sized(&mut rest)?;
    let cid = (!cid.is_empty())
        .then(|| text(cid).map(str::to_owned))
        .transpose()?;
    let (&kind, body) = rest.split_first().ok_or(BadEntry("no kind"))?;
    let body = match kind {
        b'c' => ItemBody::Chat(text(body)?.to_owned().into()),
        b'p' => {
            let mut rest = body;
            let mut formats = [None, None, None];
            for slot in &mut formats {
                let (&tag, after) = rest.split_first().ok_or(BadEntry("missing format"))?;
                rest = after;
                *slot = match tag {
                    b'-' => None,
                    b't' => Some(Content::Text(text(sized(&mut rest)?)?.to_owned())),
                    b'b' => Some(Content::Binary(sized(&mut rest)?.to_vec())),
                    _ => return Err(BadEntry("unknown format tag")),
                };
            }
            let [ws, stream, poll] = formats;
            ItemBody::Published { ws, stream, poll }
        }
        _ => return Err(BadEntry("unknown kind")),
    };
    Ok(Entry {
        item: Arc::new(Item::new(channel.clone(), id, ts, body, cid)),
        node,
        sender: (sender != 0).then_some(sender),
    })
}

/// The bytes up to the next `|`, which is consumed.
fn field<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], BadEntry> {
    let at = rest
        .iter()
        .position(|&b| b == b'|')
        .ok_or(BadEntry("missing field"))?;
    let (field, after) = rest.split_at(at);
    *rest = &after[1..];
    Ok(field)
}

/// `<len>:<bytes>`, then a `|` if one follows.
fn sized<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], BadEntry> {
    let colon = rest
        .iter()
        .position(|&b| b == b':')
        .ok_or(BadEntry("missing length"))?;
    let len: usize = number(&rest[..colon])?;
    let start = colon + 1;
    let bytes = rest
        .get(start..start + len)
        .ok_or(BadEntry("shorter than its length"))?;
    *rest = &rest[start + len..];
    if let Some(after) = rest.strip_prefix(b"|") {
        *rest = after;
    }
    Ok(bytes)
}

fn text(bytes: &[u8]) -> Result<&str, BadEntry> {
    std::str::from_utf8(bytes).map_err(|_| BadEntry("not UTF-8"))
}

fn number<T: std::str::FromStr>(bytes: &[u8]) -> Result<T, BadEntry> {
    text(bytes)?.parse().map_err(|_| BadEntry("not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Transport;

    fn numbered(id: EventId, head: &str, body: &[u8]) -> Vec<u8> {
        let mut bytes = format!("{id}|{head}").into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn a_chat_event_comes_back_as_it_went_in() {
        let json = r#"{"type":"chatMessage","id":7,"room":"r","user":"a","comment":"x|y","ts":5}"#;
        let (head, body) = encode(5, "n1", Some(3), Some("c-1"), &ItemBody::Chat(json.into()));
        let channel: Arc<str> = Arc::from("r");
        let entry = decode(&channel, &numbered(7, &head, &body)).unwrap();
        assert_eq!(entry.item.id, 7);
        assert_eq!(entry.item.ts, 5);
        assert_eq!(entry.item.cid.as_deref(), Some("c-1"));
        assert_eq!(entry.node, "n1");
        assert_eq!(entry.sender, Some(3));
        assert_eq!(entry.item.frame(Transport::WebSocket, false).as_str(), json);
    }

    #[test]
    fn published_formats_keep_text_binary_and_absence() {
        let body = ItemBody::Published {
            ws: Some(Content::Text("a|b:c".into())),
            stream: None,
            poll: Some(Content::Binary(vec![0, 124, 255])),
        };
        let (head, bytes) = encode(1, "n", None, None, &body);
        let channel: Arc<str> = Arc::from("c");
        let entry = decode(&channel, &numbered(2, &head, &bytes)).unwrap();
        assert_eq!(entry.sender, None);
        assert_eq!(entry.item.cid, None);
        let ItemBody::Published { ws, stream, poll } = &entry.item.body else {
            panic!("published")
        };
        assert_eq!(ws, &Some(Content::Text("a|b:c".into())));
        assert_eq!(stream, &None);
        assert_eq!(poll, &Some(Content::Binary(vec![0, 124, 255])));
    }

    #[test]
    fn bytes_that_are_not_an_entry_are_refused_not_guessed() {
        let channel: Arc<str> = Arc::from("c");
        for bad in [
            &b""[..],
            b"x|1|n|0|0:|c{}",
            b"1|1|n|0|9:ab|c{}",
            b"1|1|n|0|0:|z",
        ] {
            assert!(decode(&channel, bad).is_err(), "{bad:?}");
        }
    }
}
