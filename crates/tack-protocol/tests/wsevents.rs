//! WebSocket-over-HTTP events: Pushpin's own examples decode, every event type survives a
//! round trip, any split of a body decodes the same, and each malformed body says why.

use bytes::Bytes;
use proptest::prelude::*;
use tack_protocol::wsevents::{
    decode_all, encode, encode_all, Decoder, Event, DEFAULT_MAX_CONTENT,
};
use tack_protocol::WsEventsError;

fn decode(body: &[u8]) -> Result<Vec<Event>, WsEventsError> {
    decode_all(body, DEFAULT_MAX_CONTENT)
}

#[test]
fn pushpin_documentation_examples_decode() {
    // The request and response bodies from Pushpin's WebSocket-over-HTTP documentation.
    let request = b"OPEN\r\nTEXT 5\r\nhello\r\n";
    assert_eq!(
        decode(request).unwrap(),
        vec![Event::open(), Event::text("hello")]
    );
    let response = b"OPEN\r\nTEXT 1c\r\nhere is another nice message\r\n";
    assert_eq!(
        decode(response).unwrap(),
        vec![Event::open(), Event::text("here is another nice message")]
    );
    assert_eq!(
        decode(b"CLOSE 2\r\n\x03\xe8\r\n").unwrap(),
        vec![Event::Close(Some((1000, String::new())))]
    );
}

#[test]
fn encoding_matches_pushpin_byte_for_byte() {
    assert_eq!(
        encode(&Event::text("here is another nice message")),
        b"TEXT 1c\r\nhere is another nice message\r\n"
    );
    assert_eq!(encode(&Event::open()), b"OPEN\r\n");
    assert_eq!(encode(&Event::Disconnect), b"DISCONNECT\r\n");
    assert_eq!(encode(&Event::Close(None)), b"CLOSE\r\n");
    assert_eq!(
        encode(&Event::close(1001, "bye")),
        b"CLOSE 5\r\n\x03\xe9bye\r\n"
    );
    // Lengths are lowercase hex.
    let long = "x".repeat(0xab);
    assert!(encode(&Event::text(long)).starts_with(b"TEXT ab\r\n"));
}

#[test]
fn every_event_type_round_trips() {
    let events = vec![
        Event::open(),
        Event::Open(Bytes::from_static(b"ext")),
        Event::text("hi"),
        Event::text(""),
        Event::Binary(Bytes::from_static(&[0, 1, 2, 255])),
        Event::Ping(Bytes::new()),
        Event::Ping(Bytes::from_static(b"are you there")),
        Event::Pong(Bytes::from_static(b"yes")),
        Event::Close(None),
        Event::close(1000, "done"),
        Event::close(4000, ""),
        Event::Disconnect,
    ];
    assert_eq!(decode(&encode_all(&events)).unwrap(), events);
}

#[test]
fn an_explicit_zero_length_is_an_empty_event() {
    assert_eq!(decode(b"TEXT 0\r\n\r\n").unwrap(), vec![Event::text("")]);
}

#[test]
fn each_malformed_body_has_its_own_error() {
    assert_eq!(
        decode(b"SHOUT 2\r\nhi\r\n"),
        Err(WsEventsError::UnknownType("SHOUT".into()))
    );
    assert_eq!(
        decode(b"TEXT zz\r\nhi\r\n"),
        Err(WsEventsError::BadHex("zz".into()))
    );
    assert_eq!(
        decode_all(b"TEXT 11\r\n", 16),
        Err(WsEventsError::TooLarge { len: 17, limit: 16 })
    );
    assert_eq!(decode(b"TEXT 2\nhi\r\n"), Err(WsEventsError::MissingCrlf));
    assert_eq!(
        decode(b"TEXT 2\r\nhi!\r\n"),
        Err(WsEventsError::MissingCrlf)
    );
    assert_eq!(
        decode(b"TEXT 5\r\nhel"),
        Err(WsEventsError::Truncated { buffered: 3 })
    );
    assert_eq!(
        decode(b"TEXT 2\r\n\xff\xfe\r\n"),
        Err(WsEventsError::TextNotUtf8)
    );
    assert_eq!(
        decode(b"CLOSE 1\r\n\x03\r\n"),
        Err(WsEventsError::CloseContentTooShort)
    );
    assert_eq!(
        decode(b"CLOSE 3\r\n\x03\xe8\xff\r\n"),
        Err(WsEventsError::CloseReasonNotUtf8)
    );
}

#[test]
fn a_header_that_never_ends_is_refused_instead_of_buffered() {
    let mut decoder = Decoder::new(DEFAULT_MAX_CONTENT);
    decoder.feed(&[b'A'; 100]);
    assert_eq!(decoder.next_event(), Err(WsEventsError::MissingCrlf));
    // The decoder stays failed.
    assert_eq!(decoder.next_event(), Err(WsEventsError::MissingCrlf));
}

#[test]
fn a_huge_declared_length_is_refused_before_reading_content() {
    assert_eq!(
        decode(b"BINARY ffffffffffffffffff\r\n"),
        Err(WsEventsError::TooLarge {
            len: u64::MAX,
            limit: DEFAULT_MAX_CONTENT
        })
    );
}

/// Decodes `body` fed in pieces cut at `cuts`, returning the events and the first error.
fn decode_in_pieces(body: &[u8], cuts: &[usize]) -> (Vec<Event>, Option<WsEventsError>) {
    let mut decoder = Decoder::new(1024);
    let mut events = Vec::new();
    let mut start = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    bounds.sort_unstable();
    bounds.push(body.len());
    for end in bounds {
        decoder.feed(&body[start..end.max(start)]);
        start = end.max(start);
        loop {
            match decoder.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, decoder.finish().err())
}

fn any_event() -> impl Strategy<Value = Event> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from);
    prop_oneof![
        bytes().prop_map(Event::Open),
        ".{0,40}".prop_map(Event::Text),
        bytes().prop_map(Event::Binary),
        bytes().prop_map(Event::Ping),
        bytes().prop_map(Event::Pong),
        Just(Event::Close(None)),
        (any::<u16>(), ".{0,20}").prop_map(|(c, r)| Event::close(c, r)),
        Just(Event::Disconnect),
    ]
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(events in prop::collection::vec(any_event(), 0..8)) {
        prop_assert_eq!(decode(&encode_all(&events)).unwrap(), events);
    }

    #[test]
    fn any_split_of_a_valid_body_decodes_the_same(
        events in prop::collection::vec(any_event(), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let body = encode_all(&events);
        prop_assert_eq!(decode_in_pieces(&body, &cuts), (events, None));
    }

    #[test]
    fn any_split_of_any_bytes_gives_the_same_events_and_error(
        body in prop::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b' '), Just(b'T'), Just(b'1'), any::<u8>()
        ], 0..80),
        prefix in prop::sample::select(vec!["", "TEXT 3\r\n", "CLOSE 1\r\n", "PING\r\n", "BINARY a\r\n"]),
        cuts in prop::collection::vec(any::<usize>(), 1..6),
    ) {
        let mut whole = prefix.as_bytes().to_vec();
        whole.extend_from_slice(&body);
        prop_assert_eq!(decode_in_pieces(&whole, &cuts), decode_in_pieces(&whole, &[]));
    }
}
