//! GRIP: an origin's control messages and headers as Pushpin reads them, and Grip-Sig as
//! Pushpin signs it.

use tack_protocol::grip::{
    format_channels, message_text, parse_channels, parse_last, parse_timeout, sign, verify_sig,
    Channel, ControlMessage, Hold, KeepAlive, KeepAliveMode, Link, OriginText, SigClaims,
    DEFAULT_MESSAGE_PREFIX, MAX_SIG_LIFETIME_SECS,
};
use tack_protocol::GripError;

#[test]
fn control_messages_have_pushpins_json_shape() {
    let cases = [
        (
            ControlMessage::Subscribe {
                channel: "lobby".into(),
            },
            r#"c:{"type":"subscribe","channel":"lobby"}"#,
        ),
        (
            ControlMessage::Unsubscribe {
                channel: "lobby".into(),
            },
            r#"c:{"type":"unsubscribe","channel":"lobby"}"#,
        ),
        (ControlMessage::Detach, r#"c:{"type":"detach"}"#),
        (
            ControlMessage::KeepAlive {
                content: Some("{}".into()),
                timeout: Some(30),
                mode: Some(KeepAliveMode::Interval),
            },
            r#"c:{"type":"keep-alive","content":"{}","timeout":30,"mode":"interval"}"#,
        ),
        (
            ControlMessage::SetMeta {
                name: "user".into(),
                value: "ann".into(),
            },
            r#"c:{"type":"set-meta","name":"user","value":"ann"}"#,
        ),
    ];
    for (message, wire) in cases {
        assert_eq!(message.encode(), wire);
        assert_eq!(
            OriginText::classify(wire, DEFAULT_MESSAGE_PREFIX).unwrap(),
            OriginText::Control(message)
        );
    }
}

#[test]
fn the_message_prefix_marks_what_the_client_receives() {
    let text = message_text("hello", DEFAULT_MESSAGE_PREFIX);
    assert_eq!(text, "m:hello");
    assert_eq!(
        OriginText::classify(&text, "m:").unwrap(),
        OriginText::Message("hello")
    );
    assert_eq!(
        OriginText::classify("hello", "m:").unwrap(),
        OriginText::Unmarked("hello")
    );
    // A configured prefix, and an empty one that makes every non-control text a message.
    assert_eq!(
        OriginText::classify("msg>hi", "msg>").unwrap(),
        OriginText::Message("hi")
    );
    assert_eq!(
        OriginText::classify("hello", "").unwrap(),
        OriginText::Message("hello")
    );
    assert!(matches!(
        OriginText::classify("c:{\"type\":\"explode\"}", "").unwrap_err(),
        GripError::BadControl(_)
    ));
}

#[test]
fn hold_and_timeout_headers() {
    assert_eq!(Hold::parse("stream").unwrap(), Hold::Stream);
    assert_eq!(
        Hold::parse(Hold::Response.as_str()).unwrap(),
        Hold::Response
    );
    assert!(Hold::parse("forever").is_err());
    assert_eq!(parse_timeout(" 55 ").unwrap(), 55);
    assert!(parse_timeout("soon").is_err());
}

#[test]
fn channel_headers_repeat_list_and_carry_prev_id() {
    let channels = vec![
        Channel::new("lobby").with_prev_id("41"),
        Channel::new("orders"),
    ];
    let header = format_channels(&channels);
    assert_eq!(header, "lobby; prev-id=41, orders");
    assert_eq!(parse_channels([header.as_str()]).unwrap(), channels);
    // The header may repeat; unknown parameters are skipped.
    assert_eq!(
        parse_channels(["a", "b; filter=skip-self; prev-id=\"7\""]).unwrap(),
        vec![Channel::new("a"), Channel::new("b").with_prev_id("7")]
    );
}

#[test]
fn keep_alive_header_round_trips_plain_and_awkward_content() {
    let plain = KeepAlive {
        content: b":".to_vec(),
        timeout: Some(20),
        mode: None,
    };
    assert_eq!(plain.to_header(), ":; timeout=20");
    assert_eq!(KeepAlive::parse(&plain.to_header()).unwrap(), plain);

    let awkward = KeepAlive {
        content: b": keep-alive\n\n".to_vec(),
        timeout: Some(15),
        mode: Some(KeepAliveMode::Interval),
    };
    assert_eq!(KeepAlive::parse(&awkward.to_header()).unwrap(), awkward);

    // Pushpin's cstring format.
    assert_eq!(
        KeepAlive::parse(r"\n; format=cstring; timeout=30").unwrap(),
        KeepAlive {
            content: b"\n".to_vec(),
            timeout: Some(30),
            mode: None
        }
    );
    assert!(KeepAlive::parse("x; format=rot13").is_err());
}

#[test]
fn link_header_round_trips() {
    let link = Link::next("/poll?session=s1&since=lobby:41", Some(120));
    assert_eq!(
        link.to_header(),
        "</poll?session=s1&since=lobby:41>; rel=next; timeout=120"
    );
    assert_eq!(Link::parse(&link.to_header()).unwrap(), link);
    assert!(Link::parse("/no-brackets; rel=next").is_err());
}

#[test]
fn grip_last_lists_where_each_channel_stopped() {
    assert_eq!(
        parse_last(["lobby; last-id=41", "orders; last-id=7, news; last-id=x"]).unwrap(),
        vec![
            ("lobby".to_owned(), "41".to_owned()),
            ("orders".to_owned(), "7".to_owned()),
            ("news".to_owned(), "x".to_owned()),
        ]
    );
    assert!(parse_last(["lobby"]).is_err());
}

#[test]
fn grip_sig_signed_with_the_shared_key_verifies() {
    let claims = SigClaims {
        iss: "pushpin".into(),
        exp: 2_000,
    };
    let token = sign(&claims, b"changeme").unwrap();
    assert_eq!(
        verify_sig(&token, b"changeme", Some("pushpin"), 1_000).unwrap(),
        claims
    );
}

#[test]
fn grip_sig_is_refused_for_each_reason() {
    let token = sign(
        &SigClaims {
            iss: "pushpin".into(),
            exp: 2_000,
        },
        b"changeme",
    )
    .unwrap();
    assert!(matches!(
        verify_sig(&token, b"other key", None, 1_000),
        Err(GripError::BadSignature(_))
    ));
    assert_eq!(
        verify_sig(&token, b"changeme", None, 2_000),
        Err(GripError::Expired {
            exp: 2_000,
            now: 2_000
        })
    );
    assert_eq!(
        verify_sig(&token, b"changeme", Some("someone-else"), 1_000),
        Err(GripError::WrongIssuer {
            expected: "someone-else".into(),
            found: "pushpin".into()
        })
    );
    assert!(matches!(
        verify_sig("not.a.jwt", b"changeme", None, 1_000),
        Err(GripError::BadSignature(_))
    ));
    let for_a_day = sign(
        &SigClaims {
            iss: "pushpin".into(),
            exp: 1_000 + 86_400,
        },
        b"changeme",
    )
    .unwrap();
    assert_eq!(
        verify_sig(&for_a_day, b"changeme", Some("pushpin"), 1_000),
        Err(GripError::TooLong {
            lifetime: 86_400,
            limit: MAX_SIG_LIFETIME_SECS
        })
    );
}
