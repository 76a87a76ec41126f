//! Server-Sent Events: what the server encodes, a browser-compatible parser reads back the
//! same, across any chunking, with the odd corners of the format (CR line ends, a BOM,
//! colon-less fields) handled as the WHATWG spec says.

use proptest::prelude::*;
use tack_protocol::sse::{
    comment_into, encode, encode_into, parse_all, Event, Item, Parser, DEFAULT_MAX_EVENT,
};
use tack_protocol::SseError;

fn parse(stream: &str) -> Vec<Item> {
    parse_all(stream.as_bytes(), DEFAULT_MAX_EVENT).unwrap()
}

#[test]
fn a_chat_event_with_resume_position_round_trips() {
    let event = Event::data(r#"{"type":"chatMessage","room":"lobby"}"#).with_id("lobby:42");
    let text = encode(&event).unwrap();
    assert_eq!(
        text,
        "id: lobby:42\ndata: {\"type\":\"chatMessage\",\"room\":\"lobby\"}\n\n"
    );
    assert_eq!(parse(&text), vec![Item::Event(event)]);
}

#[test]
fn every_field_round_trips() {
    let event = Event {
        id: Some("7".into()),
        event: Some("presence".into()),
        data: "line one\nline two\n\nlast".into(),
        retry: Some(3000),
    };
    assert_eq!(parse(&encode(&event).unwrap()), vec![Item::Event(event)]);
}

#[test]
fn data_with_crlf_or_cr_is_split_into_lines_and_read_back_with_lf() {
    let text = encode(&Event::data("a\r\nb\rc")).unwrap();
    assert_eq!(text, "data: a\ndata: b\ndata: c\n\n");
    assert_eq!(parse(&text), vec![Item::Event(Event::data("a\nb\nc"))]);
}

#[test]
fn an_id_with_a_line_break_is_refused() {
    assert_eq!(
        encode(&Event::data("x").with_id("a\nb")),
        Err(SseError::LineBreakInField { field: "id" })
    );
}

#[test]
fn keep_alive_comments_are_reported() {
    let mut out = String::new();
    comment_into("", &mut out);
    comment_into("hello", &mut out);
    assert_eq!(out, ":\n: hello\n");
    assert_eq!(
        parse(&out),
        vec![Item::Comment(String::new()), Item::Comment("hello".into())]
    );
}

#[test]
fn crlf_cr_and_lf_line_ends_all_work() {
    let expected = vec![Item::Event(Event::data("a\nb"))];
    assert_eq!(parse("data: a\r\ndata: b\r\n\r\n"), expected);
    assert_eq!(parse("data: a\rdata: b\r\r"), expected);
    assert_eq!(parse("data: a\ndata: b\n\n"), expected);
}

#[test]
fn a_leading_bom_is_skipped_once() {
    assert_eq!(
        parse("\u{feff}data: x\n\n"),
        vec![Item::Event(Event::data("x"))]
    );
    // A second BOM is not at the start of the stream, so it belongs to the field name.
    assert_eq!(parse("\u{feff}\u{feff}data: x\n\n"), vec![]);
}

#[test]
fn fields_follow_the_spec_corners() {
    // A field without a colon has an empty value.
    assert_eq!(
        parse("data\ndata\n\n"),
        vec![Item::Event(Event::data("\n"))]
    );
    // Only one space after the colon is removed.
    assert_eq!(parse("data:  x\n\n"), vec![Item::Event(Event::data(" x"))]);
    // Unknown fields are ignored; a block without data dispatches nothing.
    assert_eq!(parse("foo: bar\nid: 3\n\n"), vec![]);
    // retry must be digits only.
    assert_eq!(parse("retry: 12a\n\n"), vec![]);
    assert_eq!(parse("retry: 1500\n\n"), vec![Item::Retry(1500)]);
    // An unfinished event at the end of the stream is dropped.
    assert_eq!(parse("data: x\n"), vec![]);
}

#[test]
fn the_last_event_id_sticks_across_events() {
    let mut parser = Parser::default();
    parser.feed(b"id: a:1\ndata: x\n\ndata: y\n\n");
    let first = parser.next_item().unwrap();
    let second = parser.next_item().unwrap();
    assert_eq!(first, Some(Item::Event(Event::data("x").with_id("a:1"))));
    assert_eq!(second, Some(Item::Event(Event::data("y"))));
    assert_eq!(parser.last_event_id(), "a:1");
}

#[test]
fn an_event_over_the_limit_is_an_error_not_a_memory_leak() {
    let mut parser = Parser::new(64);
    parser.feed(&[b'x'; 65]);
    assert_eq!(
        parser.next_item(),
        Err(SseError::EventTooLarge { limit: 64 })
    );
    // Many small lines add up too.
    let many = "data: 0123456789\n".repeat(10);
    assert_eq!(
        parse_all(many.as_bytes(), 64),
        Err(SseError::EventTooLarge { limit: 64 })
    );
}

fn items_in_pieces(stream: &[u8], cuts: &[usize], limit: usize) -> (Vec<Item>, Option<SseError>) {
    let mut parser = Parser::new(limit);
    let mut items = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    bounds.sort_unstable();
    bounds.push(stream.len());
    let mut start = 0;
    for end in bounds {
        parser.feed(&stream[start..end.max(start)]);
        start = end.max(start);
        loop {
            match parser.next_item() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, Some(e)),
            }
        }
    }
    (items, None)
}

fn any_event() -> impl Strategy<Value = Event> {
    (
        prop::option::of("[^\r\n\0]{0,10}"),
        prop::option::of("[a-z]{1,8}"),
        "[^\r]{0,30}",
        prop::option::of(any::<u32>().prop_map(u64::from)),
    )
        .prop_map(|(id, event, data, retry)| Event {
            id,
            event,
            data,
            retry,
        })
}

proptest! {
    #[test]
    fn parse_of_encode_is_identity(events in prop::collection::vec(any_event(), 0..6)) {
        let mut text = String::new();
        for event in &events {
            encode_into(event, &mut text).unwrap();
        }
        let expected: Vec<Item> = events.into_iter().map(Item::Event).collect();
        prop_assert_eq!(parse(&text), expected);
    }

    #[test]
    fn any_split_gives_the_same_items_and_error(
        stream in prop::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '),
            Just(b'd'), Just(b'a'), Just(b't'), Just(0xEF), Just(0xBB), Just(0xBF), any::<u8>()
        ], 0..120),
        prefix in prop::sample::select(vec!["", "data: ", "\u{feff}data", "id: 1\r", ": hi\r\n"]),
        cuts in prop::collection::vec(any::<usize>(), 1..8),
        limit in 8usize..64,
    ) {
        let mut whole = prefix.as_bytes().to_vec();
        whole.extend_from_slice(&stream);
        prop_assert_eq!(
            items_in_pieces(&whole, &cuts, limit),
            items_in_pieces(&whole, &[], limit)
        );
    }
}
