//! Resume with `since`, `recovered: false` after trimming, idempotent resends.

use tack_testkit::clients::{of_type, poll, send, Client, Via};
use tack_testkit::server::{start, start_with};
async fn say(ws: &mut Client, room: &str, text: &str) -> u64 {
    ws.send(&format!(
        r#"chatMessage:{{"room":"{room}","comment":"{text}"}}"#
    ))
    .await;
    loop {
        let event = ws.until("chatMessage").await;
        if event["comment"] == text {
            return event["id"].as_u64().unwrap();
        }
    }
}

#[tokio::test]
async fn a_reconnecting_websocket_gets_exactly_the_gap_then_resumed() {
    let server = start().await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("r").await;
    let seen = say(&mut ann, "r", "one").await;
    drop(ann);

    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("r").await;
    say(&mut bob, "r", "two").await;
    say(&mut bob, "r", "three").await;

    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.send(&format!(r#"chatRoomEnter:{{"room":"r","since":{seen}}}"#))
        .await;
    let presence = ann.next().await;
    assert_eq!(presence["type"], "presence");
    let mut replayed = Vec::new();
    let resumed = loop {
        let event = ann.next().await;
        if event["type"] == "resumed" {
            break event;
        }
        replayed.push(event);
    };
    let ids: Vec<u64> = replayed.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (seen + 1..=resumed["last_id"].as_u64().unwrap()).collect();
    assert_eq!(ids, expected, "exactly the gap, in order");
    let comments: Vec<_> = of_type(&replayed, "chatMessage")
        .iter()
        .map(|e| e["comment"].as_str().unwrap())
        .collect();
    assert_eq!(comments, ["two", "three"]);
    assert_eq!(resumed["recovered"], true);
    assert_eq!(resumed["since"], seen);
    // Then the live stream continues with ann's own enter, numbered right after the gap.
    let entered = ann.next().await;
    assert_eq!(entered["type"], "chatRoomEnter");
    assert_eq!(entered["id"], resumed["last_id"].as_u64().unwrap() + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_gap_older_than_history_replays_what_is_kept_and_says_recovered_false() {
    // No live window: the room keeps exactly its history length, however recent.
    let server = start_with(|c| {
        c.history_len = 3;
        c.live_window_ms = 0;
    })
    .await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("r").await;
    for i in 0..6 {
        say(&mut ann, "r", &format!("m{i}")).await;
    }
    let mut late = Client::connect(&server, Via::WebSocket, "late").await;
    late.send(r#"chatRoomEnter:{"room":"r","since":1}"#).await;
    late.until("presence").await;
    let mut replayed = Vec::new();
    let resumed = loop {
        let event = late.next().await;
        if event["type"] == "resumed" {
            break event;
        }
        replayed.push(event["id"].as_u64().unwrap());
    };
    assert_eq!(resumed["recovered"], false);
    assert_eq!(replayed, [5, 6, 7], "the three kept events");
    server.shutdown().await;
}

#[tokio::test]
async fn an_idempotent_resend_is_acked_with_the_original_id_and_broadcast_once() {
    let server = start().await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("r").await;
    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    bob.enter("r").await;
    ann.until("chatRoomEnter").await;

    let frame = r#"chatMessage:{"room":"r","comment":"once","cid":"same-1"}"#;
    ann.send(frame).await;
    let first = ann.until("ack").await;
    ann.send(frame).await;
    let second = ann.until("ack").await;
    assert_eq!(first["id"], second["id"]);

    let message = bob.until("chatMessage").await;
    assert_eq!(message["cid"], "same-1");
    bob.send(r#"ping:{"t":1}"#).await;
    // The next thing bob sees is his pong, not a second copy.
    assert_eq!(bob.next().await["type"], "pong");
    server.shutdown().await;
}

#[tokio::test]
async fn an_sse_reconnect_with_last_event_id_resumes_every_room() {
    let server = start().await;
    let mut sse = Client::connect_with(&server, Via::Stream, "sam", "rooms=a,b").await;
    sse.until("chatRoomEnter").await;
    sse.until("chatRoomEnter").await;
    let last = sse.last_event_id().unwrap().to_owned();
    assert_eq!(last, "a:1,b:1");
    drop(sse);

    let mut ws = Client::connect(&server, Via::WebSocket, "wes").await;
    ws.enter("a").await;
    say(&mut ws, "a", "while away").await;

    // A new session (as a browser's EventSource makes, with the same query): the old one still
    // holds the nick `sam` until it expires, so this one goes by another.
    let mut back = Client::stream_resuming(&server, "sam-again", "rooms=a,b", &last).await;
    let mut comments = Vec::new();
    let mut resumed = 0;
    while resumed < 2 {
        let event = back.next().await;
        match event["type"].as_str().unwrap() {
            "resumed" => {
                assert_eq!(event["recovered"], true, "{event}");
                resumed += 1;
            }
            "chatMessage" => comments.push(event["comment"].as_str().unwrap().to_owned()),
            _ => {}
        }
    }
    assert_eq!(comments, ["while away"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_lost_poll_answer_is_replayed_when_the_poller_comes_back_with_its_old_since() {
    let server = start().await;
    let first = poll(&server, "nick=pat&rooms=r").await;
    let session = first[0]["session"].as_str().unwrap().to_owned();
    send(
        &server,
        &session,
        r#"chatMessage:{"room":"r","comment":"kept"}"#,
    )
    .await;
    let answer = poll(&server, &format!("session={session}&since=r:1")).await;
    assert_eq!(answer[0]["comment"], "kept");
    // That answer was "lost": poll again from the old position.
    let again = poll(&server, &format!("session={session}&since=r:1")).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["comment"], "kept");
    server.shutdown().await;
}

#[tokio::test]
async fn a_watcher_gets_raw_chat_items_and_resumes_like_a_viewer() {
    let server = start().await;
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    ann.enter("lobby").await;
    let mut mon = Client::guest(&server, Via::WebSocket).await;
    mon.send(r#"watch:{"channel":"lobby","since":0}"#).await;
    let replay = mon.next().await;
    assert_eq!(replay["type"], "raw");
    assert_eq!(replay["id"], 1);
    let inner: serde_json::Value =
        serde_json::from_str(replay["payload"].as_str().unwrap()).unwrap();
    assert_eq!(inner["type"], "chatRoomEnter");
    let resumed = mon.next().await;
    assert_eq!(
        (resumed["channel"].as_str(), resumed["recovered"].as_bool()),
        (Some("lobby"), Some(true))
    );
    say(&mut ann, "lobby", "watched").await;
    let raw = mon.until("raw").await;
    assert!(raw["payload"].as_str().unwrap().contains("watched"));
    // A watcher is not a viewer.
    let mut bob = Client::connect(&server, Via::WebSocket, "bob").await;
    let (_, entered) = bob.enter("lobby").await;
    assert_eq!(entered["viewers"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_watcher_joining_with_since_while_a_backend_publishes_fast_sees_every_item_once() {
    let server = start().await;
    let control = format!("{}/publish/", server.control_url());
    let publish = |from: u64, to: u64| {
        let control = control.clone();
        async move {
            let http = reqwest::Client::new();
            for n in from..=to {
                let body = serde_json::json!({"items": [{"channel": "ticks",
                    "formats": {"ws-message": {"content": format!("tick {n}")}}}]});
                let answer = http.post(&control).json(&body).send().await.unwrap();
                assert_eq!(answer.status(), 200);
            }
        }
    };
    // 200 items are history; the watcher joins from item 50 while 800 more are published.
    publish(1, 200).await;
    let mut watcher = Client::connect(&server, Via::WebSocket, "watcher").await;
    let joining = async {
        watcher
            .send(r#"watch:{"channel":"ticks","since":50}"#)
            .await;
        let mut ids = Vec::new();
        while ids.last() != Some(&1_000) {
            let event = watcher.next().await;
            if event["type"] == "raw" {
                assert_eq!(event["payload"], format!("tick {}", event["id"]));
                ids.push(event["id"].as_u64().unwrap());
            }
        }
        ids
    };
    let (ids, ()) = tokio::join!(joining, publish(201, 1_000));
    assert_eq!(
        ids,
        (51..=1_000).collect::<Vec<u64>>(),
        "no gap, no repeat at the seam"
    );
    assert_eq!(watcher.repeats, 0);
}
