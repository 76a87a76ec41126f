//! Pushpin's publish body: what publishers send reads back unchanged, each transport finds
//! its content, and a bad body is refused with the words Pushpin uses.

use proptest::prelude::*;
use std::collections::BTreeMap;
use tack_protocol::publish::{
    FormatKind, Formats, Headers, HttpResponse, HttpStream, Item, Payload, PublishBody, WsMessage,
};
use tack_protocol::PublishError;

fn refused(body: &str) -> String {
    PublishBody::parse(body.as_bytes()).unwrap_err().to_string()
}

#[test]
fn pushpins_documented_example_parses_and_serializes_unchanged() {
    let body = r#"{"items":[{"channel":"mychannel","id":"an-item-id","prev-id":"another-item-id",
        "formats":{"http-response":{"code":200,"reason":"OK","headers":{"Content-Type":"text/plain"},"body":"hello there\n"},
                   "http-stream":{"content":"hello there\n"},
                   "ws-message":{"content":"hello there"}}}]}"#;
    let parsed = PublishBody::parse(body.as_bytes()).unwrap();
    let original: serde_json::Value = serde_json::from_str(body).unwrap();
    let again: serde_json::Value = serde_json::from_str(&parsed.to_json()).unwrap();
    assert_eq!(again, original);
    let item = &parsed.items[0];
    assert_eq!(
        item.payload(FormatKind::WsMessage),
        Some(Payload::Text("hello there".into()))
    );
    assert_eq!(
        item.payload(FormatKind::HttpStream),
        Some(Payload::Text("hello there\n".into()))
    );
}

#[test]
fn binary_and_close_formats_are_understood() {
    let body = r#"{"items":[
        {"channel":"a","formats":{"ws-message":{"content-bin":"AAEC"}}},
        {"channel":"a","formats":{"ws-message":{"action":"close","code":1001,"reason":"moved"}}},
        {"channel":"a","formats":{"http-stream":{"action":"close"}}},
        {"channel":"a","formats":{"http-response":{"headers":[["X-A","1"]],"body-bin":"aGk="}}}]}"#;
    let parsed = PublishBody::parse(body.as_bytes()).unwrap();
    let payloads: Vec<_> = parsed
        .items
        .iter()
        .map(|i| i.payload(FormatKind::WsMessage).unwrap())
        .collect();
    assert_eq!(
        payloads,
        vec![
            Payload::Binary(vec![0, 1, 2]),
            Payload::Close {
                code: Some(1001),
                reason: Some("moved".into())
            },
            Payload::Close {
                code: None,
                reason: None
            },
            Payload::Binary(b"hi".to_vec()),
        ]
    );
}

#[test]
fn a_transport_without_its_format_falls_back_to_another() {
    let item = Item::ws_text("orders", "new order");
    assert_eq!(
        item.payload(FormatKind::HttpResponse),
        Some(Payload::Text("new order".into()))
    );
    let item = Item::response_text("orders", "body");
    assert_eq!(
        item.payload(FormatKind::WsMessage),
        Some(Payload::Text("body".into()))
    );
}

#[test]
fn helpers_build_valid_items() {
    for item in [
        Item::ws_text("c", "x"),
        Item::stream_text("c", "data: x\n\n"),
        Item::response_text("c", "x"),
        Item::text_everywhere("c", "x").with_ids("2", Some("1".into())),
        Item::binary_everywhere("c", &[0, 1, 255]),
    ] {
        item.validate().unwrap();
    }
    let body = PublishBody {
        items: vec![Item::text_everywhere("c", "x")],
    };
    assert_eq!(PublishBody::parse(body.to_json().as_bytes()).unwrap(), body);
    let bytes = Item::binary_everywhere("c", &[0, 1, 255]);
    for kind in [
        FormatKind::WsMessage,
        FormatKind::HttpStream,
        FormatKind::HttpResponse,
    ] {
        assert_eq!(bytes.payload(kind), Some(Payload::Binary(vec![0, 1, 255])));
    }
}

#[test]
fn bad_bodies_are_refused_with_pushpins_texts() {
    assert_eq!(refused("{nope"), "Body is not valid JSON.");
    assert_eq!(
        refused(r#"{"items":[{"channel":"a"}]}"#),
        "Invalid format: no formats specified"
    );
    assert_eq!(
        refused(r#"{"items":[{"formats":{"ws-message":{"content":"x"}}}]}"#),
        "Invalid format: publish item object does not contain 'channel'"
    );
    assert_eq!(
        refused(r#"{"items":[{"channel":"a","formats":{"ws-message":{}}}]}"#),
        "Invalid format: 'ws-message' does not contain 'content' or 'content-bin'"
    );
    assert_eq!(
        refused(r#"{"items":[{"channel":"a","formats":{"http-stream":{}}}]}"#),
        "Invalid format: 'http-stream' does not contain 'content' or 'content-bin'"
    );
    assert_eq!(
        refused(r#"{"items":[{"channel":"a","formats":{"http-response":{"code":200}}}]}"#),
        "Invalid format: 'http-response' does not contain 'body', 'body-bin', or 'body-patch'"
    );
    assert_eq!(
        refused(
            r#"{"items":[{"channel":"a","formats":{"http-response":{"code":1000,"body":""}}}]}"#
        ),
        "Invalid format: 'http-response' contains 'code' with invalid value"
    );
    assert_eq!(
        refused("[]"),
        "Invalid format: request body is not an object"
    );
    assert_eq!(
        refused("{}"),
        "Invalid format: object does not contain 'items'"
    );
    assert!(matches!(
        PublishBody::parse(br#"{"items":[{"channel":5,"formats":{}}]}"#),
        Err(PublishError::Invalid(_))
    ));
}

fn any_item() -> impl Strategy<Value = Item> {
    let text = || prop::option::of(".{0,12}");
    let ws = (
        text(),
        prop::option::of("[A-Za-z0-9+/]{0,8}"),
        prop::option::of(Just("close".to_owned())),
        prop::option::of(any::<u16>()),
        text(),
    )
        .prop_map(|(content, content_bin, action, code, reason)| WsMessage {
            content,
            content_bin,
            action,
            code,
            reason,
        });
    let stream = (
        text(),
        prop::option::of("[A-Za-z0-9+/]{0,8}"),
        prop::option::of(Just("close".to_owned())),
    )
        .prop_map(|(content, content_bin, action)| HttpStream {
            content,
            content_bin,
            action,
        });
    let headers = prop_oneof![
        prop::collection::btree_map("[A-Za-z-]{1,8}", ".{0,8}", 0..3).prop_map(Headers::Map),
        prop::collection::vec(("[A-Za-z-]{1,8}", ".{0,8}"), 1..3).prop_map(Headers::List),
    ];
    let response = (
        prop::option::of(any::<u16>()),
        text(),
        prop::option::of(headers),
        text(),
        prop::option::of("[A-Za-z0-9+/]{0,8}"),
    )
        .prop_map(|(code, reason, headers, body, body_bin)| HttpResponse {
            code,
            reason,
            headers,
            body,
            body_bin,
        });
    (
        ".{0,10}",
        text(),
        text(),
        prop::option::of(ws),
        prop::option::of(stream),
        prop::option::of(response),
    )
        .prop_map(
            |(channel, id, prev_id, ws_message, http_stream, http_response)| Item {
                channel,
                id,
                prev_id,
                formats: Formats {
                    ws_message,
                    http_stream,
                    http_response,
                },
            },
        )
}

proptest! {
    #[test]
    fn any_body_round_trips_through_serde_unchanged(items in prop::collection::vec(any_item(), 0..4)) {
        let body = PublishBody { items };
        let json = body.to_json();
        let back: PublishBody = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &body);
        // And the JSON itself is stable.
        prop_assert_eq!(back.to_json(), json);
    }
}

#[test]
fn header_maps_keep_every_header() {
    let mut map = BTreeMap::new();
    map.insert("Content-Type".to_owned(), "text/plain".to_owned());
    let response = HttpResponse {
        headers: Some(Headers::Map(map)),
        body: Some("x".into()),
        ..HttpResponse::default()
    };
    let json = serde_json::to_string(&response).unwrap();
    assert_eq!(
        json,
        r#"{"headers":{"Content-Type":"text/plain"},"body":"x"}"#
    );
}
