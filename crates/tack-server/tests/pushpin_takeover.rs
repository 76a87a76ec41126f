//! `hello.takeover` behind the real Pushpin: a client that upgrades from HTTP streaming to a
//! WebSocket is one viewer all along, as on the built-in server. (Before the two front doors
//! shared one session layer, the origin ignored `takeover`, and the upgraded client was
//! counted twice until its old session expired.)

use tack_testkit::clients::{Client, Via};
use tack_testkit::stage::Stage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_from_streaming_to_websocket_through_pushpin_is_one_viewer() {
    let stage = Stage::start(1).await;
    let front = stage.front(0);

    let mut bob = Client::connect(&front, Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    let mut ann_stream = Client::connect(&front, Via::Stream, "ann").await;
    let (presence, _) = ann_stream.enter("lobby").await;
    assert_eq!(presence["viewers"], 2, "{presence}");
    let entered = bob
        .until_matching("chatRoomEnter", |e| e["user"] == "ann")
        .await;
    let seen = entered["id"].as_u64().unwrap();

    // Ann's client finds WebSockets work after all and moves over, taking its stream's session
    // with it, then resumes the room from what it has.
    let mut ann = Client::guest(&front, Via::WebSocket).await;
    ann.send(&format!(
        r#"hello:{{"nick":"ann","takeover":"{}"}}"#,
        ann_stream.session
    ))
    .await;
    ann.send(&format!(
        r#"chatRoomEnter:{{"room":"lobby","since":{seen}}}"#
    ))
    .await;
    let presence = ann.until("presence").await;
    assert_eq!(presence["viewers"], 2, "ann once, bob once: {presence}");
    assert_eq!(ann.until("resumed").await["recovered"], true);

    // A newcomer counts three, not four: nobody is left over from ann's stream.
    let mut cat = Client::connect(&front, Via::WebSocket, "cat").await;
    let (presence, _) = cat.enter("lobby").await;
    assert_eq!(presence["viewers"], 3, "{presence}");
    assert_eq!(presence["users"], serde_json::json!(["ann", "bob", "cat"]));

    // Bob saw no leave and no second enter for ann: the next event after ann's own enter is
    // cat's.
    let next = bob.next().await;
    assert_eq!(
        (next["type"].as_str(), next["user"].as_str()),
        (Some("chatRoomEnter"), Some("cat")),
        "no leave or enter for ann came between: {next}"
    );
    stage.origin.shutdown().await;
}
