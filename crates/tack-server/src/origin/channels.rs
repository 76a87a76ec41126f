//! How Tack's rooms, watched channels and HTTP sessions are named on Pushpin, and what is
//! published to them.
//!
//! One hub channel becomes two Pushpin channels, because members and watchers see an item
//! differently: `r.<room>` carries the chat event itself (for viewers), `w.<channel>` the
//! `raw` wrapping (for monitors). `s.<session>` reaches one HTTP session, to wake its held
//! stream or poll when it has something only it should see (the answer to an enter).
//!
//! Names are percent-encoded so that a room called `a; b, c` cannot break the `Grip-Channel`
//! header. Every item is serialized here once, for every Pushpin instance.

use crate::hub::SessionKey;
use crate::item::{Item, ItemBody, Transport};
use serde_json::json;
use tack_protocol::chat::EventId;
use tack_protocol::sse;
use tack_protocol::CloseCode;

/// A Pushpin channel name for a hub channel or session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushpinChannel<'a> {
    /// Viewers of a room: chat events as they are.
    Room(&'a str),
    /// Watchers of a channel: every item as `raw`.
    Watch(&'a str),
    /// Viewers of a room that never said `hello` (original-system pages): chat events with
    /// comments escaped as the original server did.
    Legacy(&'a str),
    /// One HTTP session.
    Session(&'a str),
    /// Every client of the origin: how a shutdown reaches them all.
    Everyone,
}

impl PushpinChannel<'_> {
    pub fn name(&self) -> String {
        let (prefix, raw) = match self {
            PushpinChannel::Room(name) => ("r.", name),
            PushpinChannel::Watch(name) => ("w.", name),
            PushpinChannel::Legacy(name) => ("l.", name),
            PushpinChannel::Session(id) => ("s.", id),
            PushpinChannel::Everyone => return "all".to_owned(),
        };
        let mut out = String::with_capacity(prefix.len() + raw.len());
        out.push_str(prefix);
        for byte in raw.bytes() {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                out.push(byte as char);
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }
}

/// The hub channel behind a Pushpin channel name (`r.`, `w.` or `l.`), for reading
/// `Grip-Last`.
pub fn hub_channel(pushpin_name: &str) -> Option<String> {
    let rest = pushpin_name
        .strip_prefix("r.")
        .or_else(|| pushpin_name.strip_prefix("w."))
        .or_else(|| pushpin_name.strip_prefix("l."))?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut iter = rest.bytes();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hex = [iter.next()?, iter.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

/// The id Pushpin knows item `n` of a channel by: `<epoch>-<n>`.
///
/// The epoch is drawn when the origin starts. Rooms live in the origin's memory and are
/// numbered from 1 again after a restart, but Pushpin remembers ids it has seen
/// (`id_cache_ttl`) and drops repeats, and holds back an item whose `prev-id` does not follow
/// the last one it published (`message_wait`): without the epoch, the first minute of a
/// restarted origin would be dropped or delayed.
pub fn pushpin_id(epoch: &str, n: EventId) -> String {
    format!("{epoch}-{n}")
}

/// The item number in a Pushpin id of this epoch; None for another epoch's or a foreign id.
pub fn item_number(epoch: &str, pushpin_id: &str) -> Option<EventId> {
    let (their_epoch, n) = pushpin_id.rsplit_once('-')?;
    (their_epoch == epoch).then(|| n.parse().ok()).flatten()
}

/// The SSE block a streaming client receives for one event: `id: room:N` when numbered.
///
/// Through Pushpin every subscriber gets the same bytes, so the `id:` names only this event's
/// room (the built-in server writes the positions of all the session's rooms). A reconnect with
/// that `Last-Event-ID` resumes that room; the others resume from the session's positions.
pub fn sse_block(text: &str, numbered: Option<(&str, EventId)>) -> String {
    let mut event = sse::Event::data(text);
    if let Some((channel, id)) = numbered {
        event = event.with_id(format!("{channel}:{id}"));
    }
    // Event text is JSON (no line breaks) and names are validated: cannot fail.
    sse::encode(&event).unwrap_or_default()
}

/// The filter WebSocket subscriptions to rooms carry, with the connection's `user` meta set to
/// its session key: an item published with that key as `sender` skips that connection.
pub const SKIP_SELF: &str = "skip-self";

/// The publish items for one hub item, as JSON text: one for viewers and one for watchers, in
/// all three formats, with `id` and `prev-id` so Pushpin can tell when a subscriber missed one;
/// and for a chat event, one for original-system viewers (WebSocket only, comments escaped).
///
/// `sender` is set on a joiner's own `chatRoomEnter`, which the joiner already has (it came
/// back inline with the subscription); WebSocket subscriptions skip it with [`SKIP_SELF`].
///
/// Every item has a `prev-id`, the first of a channel too (`<epoch>-0`): a stream or poll held
/// on a channel that has no item yet says `prev-id=<epoch>-0`, and an item without a `prev-id`
/// does not follow it. Pushpin then takes the item for a gap and sends every such subscriber
/// back to the origin, ten a second for the whole proxy — with 100 streams the last one got
/// the room's first item 10 s late. Pushpin's sequencer holds back an item only when it
/// remembers another last id for the channel, which it forgets when the channel's last
/// subscriber goes, or when a stream's first hold disagrees with it.
pub fn item_publishes(item: &Item, sender: Option<SessionKey>, epoch: &str) -> Vec<String> {
    let one = |channel: PushpinChannel, formats: serde_json::Value, viewer: bool| {
        let mut published = json!({
            "channel": channel.name(),
            "id": pushpin_id(epoch, item.id),
            "prev-id": pushpin_id(epoch, item.id.saturating_sub(1)),
            "formats": formats,
        });
        if let (Some(sender), true) = (sender, viewer) {
            published["meta"] = json!({ "sender": sender.to_string() });
        }
        published.to_string()
    };
    let all_formats = |watcher: bool| {
        let ws = item.frame(Transport::WebSocket, watcher);
        let stream = item.frame(Transport::Stream, watcher);
        let poll = item.frame(Transport::Poll, watcher);
        json!({
            "ws-message": { "content": ws.as_str() },
            "http-stream": { "content": sse_block(stream.as_str(), Some((&item.channel, item.id))) },
            "http-response": { "body": format!("[{}]", poll.as_str()) },
        })
    };
    let mut items = vec![
        one(
            PushpinChannel::Room(&item.channel),
            all_formats(false),
            true,
        ),
        one(
            PushpinChannel::Watch(&item.channel),
            all_formats(true),
            false,
        ),
    ];
    if matches!(item.body, ItemBody::Chat(_)) {
        let legacy = json!({ "ws-message": { "content": item.legacy_frame().as_str() } });
        items.push(one(PushpinChannel::Legacy(&item.channel), legacy, true));
    }
    items
}

/// Wakes whatever Pushpin holds for one HTTP session so it asks the origin again: a held
/// stream follows its `Grip-Link`, a held poll is retried.
pub fn session_hint(session: &str) -> String {
    json!({
        "channel": PushpinChannel::Session(session).name(),
        "formats": {
            "http-stream": { "action": "hint" },
            "http-response": { "action": "hint" },
        }
    })
    .to_string()
}

/// An HTTP session expired (its client was not heard from for the session TTL): a stream
/// Pushpin still holds for it ends, so a client that is still there reconnects and is counted
/// again, rather than reading its rooms unseen.
pub fn session_close(session: &str) -> String {
    json!({
        "channel": PushpinChannel::Session(session).name(),
        "formats": { "http-stream": { "action": "close" } }
    })
    .to_string()
}

/// The origin is going away: WebSockets close with 1001 "server restarting, reconnect",
/// streams end, held polls are answered empty — what the built-in server does at shutdown.
pub fn shutdown_publish() -> String {
    json!({
        "channel": PushpinChannel::Everyone.name(),
        "formats": {
            "ws-message": {
                "action": "close",
                "code": CloseCode::GoingAway.code(),
                "reason": crate::ws::SHUTDOWN_REASON,
            },
            "http-stream": { "action": "close" },
            "http-response": { "body": "[]" },
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_that_would_break_grip_headers_are_encoded_and_read_back() {
        let name = PushpinChannel::Room("a; b, c%").name();
        assert_eq!(name, "r.a%3B%20b%2C%20c%25");
        assert_eq!(hub_channel(&name).as_deref(), Some("a; b, c%"));
        assert_eq!(PushpinChannel::Watch("lobby").name(), "w.lobby");
        assert_eq!(hub_channel("s.abc"), None);
    }

    #[test]
    fn pushpin_ids_of_another_epoch_are_not_ours() {
        assert_eq!(pushpin_id("9f3a", 41), "9f3a-41");
        assert_eq!(item_number("9f3a", "9f3a-41"), Some(41));
        assert_eq!(item_number("9f3a", "77aa-41"), None);
        assert_eq!(item_number("9f3a", "41"), None);
    }

    fn published(id: EventId) -> Vec<serde_json::Value> {
        let item = Item::new(
            "feed".into(),
            id,
            0,
            crate::item::ItemBody::Chat(r#"{"type":"chatMessage"}"#.into()),
            None,
        );
        item_publishes(&item, None, "9f3a")
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect()
    }

    #[test]
    fn a_channels_first_item_follows_what_a_hold_on_the_empty_channel_announces() {
        // A stream or poll held on a channel with no item yet says it has item 0 (`since=feed:0`,
        // `last_id` 0): `Grip-Channel: r.feed; prev-id=<epoch>-0`.
        let announced = pushpin_id("9f3a", 0);
        for first in published(1) {
            assert_eq!(first["prev-id"], announced.as_str(), "{first}");
            assert_eq!(first["id"], "9f3a-1");
        }
        // …and every later item follows the one before, for viewers and watchers alike.
        let (first, second) = (published(1), published(2));
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(b["prev-id"], a["id"], "{b}");
        }
    }

    #[test]
    fn an_sse_block_names_its_room_position() {
        assert_eq!(
            sse_block("{}", Some(("lobby", 4))),
            "id: lobby:4\ndata: {}\n\n"
        );
    }
}
