//! Who a nick is: one live session per nick (case-insensitively, across transports), nicks that
//! cannot pass for someone else, and a change of nick that every room hears of.

use tack_testkit::clients::{Client, Via};
use tack_testkit::server::start;

#[tokio::test]
async fn a_nick_in_use_is_refused_with_a_free_variant_and_the_session_keeps_its_own() {
    let server = start().await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("lobby").await;

    // Another client, over another transport, asks for the same nick in another case.
    let mut other = Client::guest_with(&server, Via::Stream, "nick=ANN&rooms=lobby").await;
    let refused = other.until("error").await;
    assert_eq!(refused["code"], "nick_taken", "{refused}");
    assert_eq!(refused["suggestion"], "ANN2", "{refused}");
    let entered = other.until("chatRoomEnter").await;
    let kept = entered["user"].as_str().unwrap();
    assert!(
        kept.starts_with("guest-"),
        "it keeps its own nick: {entered}"
    );
    let seen = ann.until("chatRoomEnter").await;
    assert_eq!(seen["user"], kept, "nobody else is shown as ann: {seen}");

    // Once ann is gone, the nick is free again.
    ann.close().await;
    let left = other.until("chatRoomLeave").await;
    assert_eq!(left["user"], "ann");
    let mut anna = Client::connect(&server, Via::WebSocket, "Ann").await;
    let (presence, entered) = anna.enter("lobby").await;
    assert_eq!(entered["user"], "Ann", "{entered}");
    assert_eq!(presence["users"], serde_json::json!(["Ann", kept]));
    server.shutdown().await;
}

#[tokio::test]
async fn nicks_with_bidi_overrides_zero_width_characters_or_padding_are_refused() {
    let server = start().await;
    let mut mallory = Client::connect(&server, Via::WebSocket, "mallory").await;
    for nick in ["ad\u{202e}nim", "a\u{200b}dmin", " admin", "admin "] {
        let frame = serde_json::json!({ "nick": nick }).to_string();
        mallory.send(&format!("hello:{frame}")).await;
        let refused = mallory.until("error").await;
        assert_eq!(refused["code"], "invalid_name", "{nick:?}: {refused}");
    }
    let (_, entered) = mallory.enter("lobby").await;
    assert_eq!(entered["user"], "mallory", "still who it was");
    server.shutdown().await;
}

#[tokio::test]
async fn a_nick_change_in_a_room_is_announced_so_presence_and_messages_agree() {
    let server = start().await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("lobby").await;
    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    ann.until("chatRoomEnter").await;

    ann.send(r#"hello:{"nick":"annie"}"#).await;
    let change = bob.until("nickChange").await;
    assert_eq!(
        (change["user"].as_str(), change["nick"].as_str()),
        (Some("ann"), Some("annie"))
    );
    ann.send(r#"chatMessage:{"room":"lobby","comment":"it's me"}"#)
        .await;
    let said = bob.until("chatMessage").await;
    assert_eq!(said["user"], "annie");
    // A newcomer sees the same name in presence as on the messages.
    let mut cat = Client::connect(&server, Via::WebSocket, "cat").await;
    let (presence, _) = cat.enter("lobby").await;
    assert_eq!(
        presence["users"],
        serde_json::json!(["annie", "bob", "cat"])
    );
    // And the old nick is free.
    let mut other = Client::connect(&server, Via::WebSocket, "ann").await;
    let (_, entered) = other.enter("lobby").await;
    assert_eq!(entered["user"], "ann");
    server.shutdown().await;
}
