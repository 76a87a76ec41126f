//! The chat protocol under random input: every valid client frame survives encode → parse,
//! resume positions survive encode → parse, and no input makes the parsers panic.

use proptest::prelude::*;
use tack_protocol::chat::{
    decode_legacy_comment, encode_legacy_comment, ClientFrame, Enter, Hello, Leave, Ping,
    Positions, SendMessage, ServerFrame, Unwatch, Watch, MAX_EVENT_ID,
};

/// Room and channel names as `check_name` accepts them: 1–64 bytes, no control characters,
/// no comma.
fn name() -> impl Strategy<Value = String> {
    "[^,\\p{Cc}]{1,16}".prop_filter("at most 64 bytes", |s| s.len() <= 64)
}

/// Nicks as `check_nick` accepts them: 1–8 characters here, no control or format characters,
/// no space at either end.
fn nick() -> impl Strategy<Value = String> {
    "[^\\p{Cc}\\p{Cf}\\s]([^\\p{Cc}\\p{Cf}]{0,6}[^\\p{Cc}\\p{Cf}\\s])?"
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    let since = prop::option::of(0..=MAX_EVENT_ID);
    prop_oneof![
        (nick(), prop::option::of("[a-z/.0-9]{1,10}")).prop_map(|(nick, client)| {
            ClientFrame::Hello(Hello {
                nick,
                client,
                takeover: None,
                token: None,
            })
        }),
        (name(), since.clone()).prop_map(|(room, since)| ClientFrame::Enter(Enter { room, since })),
        name().prop_map(|room| ClientFrame::Leave(Leave { room })),
        (name(), ".{0,40}", prop::option::of("[a-z0-9-]{1,20}")).prop_map(
            |(room, comment, cid)| { ClientFrame::Message(SendMessage { room, comment, cid }) }
        ),
        (name(), since).prop_map(|(channel, since)| ClientFrame::Watch(Watch { channel, since })),
        name().prop_map(|channel| ClientFrame::Unwatch(Unwatch { channel })),
        prop::option::of(any::<u64>()).prop_map(|t| ClientFrame::Ping(Ping { t })),
    ]
}

proptest! {
    #[test]
    fn every_valid_client_frame_round_trips(frame in client_frame()) {
        prop_assert_eq!(ClientFrame::parse(&frame.encode()).unwrap(), frame);
    }

    #[test]
    fn positions_round_trip(entries in prop::collection::btree_map(name(), 0..=MAX_EVENT_ID, 0..8)) {
        let positions = Positions(entries);
        prop_assert_eq!(Positions::parse(&positions.encode()).unwrap(), positions);
    }

    #[test]
    fn a_comment_escaped_for_the_original_pages_has_no_markup_and_decodes_back(comment in ".{0,60}") {
        let escaped = encode_legacy_comment(&comment);
        prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
        prop_assert_eq!(decode_legacy_comment(&escaped), comment);
    }

    #[test]
    fn parsers_never_panic_on_any_text(text in ".{0,200}") {
        let _ = ClientFrame::parse(&text);
        let _ = ServerFrame::parse(&text);
        let _ = Positions::parse(&text);
    }
}

proptest! {
    /// No `since` past the largest id a server hands out gets through, on a frame or in a
    /// query; every one that could be a real position does.
    #[test]
    fn since_beyond_any_event_id_is_refused(since in (MAX_EVENT_ID + 1)..=u64::MAX, ok in 0..=MAX_EVENT_ID) {
        let frame = |since: u64| ClientFrame::parse(&format!(r#"chatRoomEnter:{{"room":"r","since":{since}}}"#));
        prop_assert!(frame(since).is_err());
        prop_assert!(frame(ok).is_ok());
        let positions = |id: u64| Positions::parse(&format!("r:{id}"));
        prop_assert!(positions(since).is_err());
        prop_assert!(positions(ok).is_ok());
    }
}
