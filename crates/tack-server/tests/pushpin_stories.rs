//! Stories of the origin behind the real Pushpin: an independent client speaking the original
//! system's frames, two Pushpins in front of one origin, the signature that keeps everyone
//! else out, and a Pushpin restart in the middle of a conversation.

use std::time::Duration;
use tack_protocol::grip::{sign, SigClaims};
use tack_protocol::wsevents::{encode_all, Event};
use tack_testkit::clients::{ws_url, Client, Via, WAIT};
use tack_testkit::stage::{spawn_origin, Stage, GRIP_KEY};

/// The original system's browser client, played by Python's `websockets` (Debian's
/// python3-websockets): two clients in room `test`, one says hello, the other hears it.
const ORIGINAL_CLIENTS: &str = r#"
import asyncio, json, sys
import websockets

URL = sys.argv[1]

async def read_until(ws, pred):
    while True:
        event = json.loads(await ws.recv())
        if pred(event):
            return event

async def main():
    async with websockets.connect(URL) as listener, websockets.connect(URL) as talker:
        await listener.send('chatRoomEnter:{"room":"test"}')
        await read_until(listener, lambda e: e.get("type") == "chatRoomEnter")
        await talker.send('chatRoomEnter:{"room":"test"}')
        await talker.send('chatMessage:{"room":"test","comment":"<b>hello</b> & \\"you\\""}')
        heard = await read_until(listener, lambda e: e.get("type") == "chatMessage")
        print(json.dumps(heard))

asyncio.run(asyncio.wait_for(main(), 20))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_systems_frames_work_from_an_independent_websocket_client() {
    let stage = Stage::start(1).await;
    // Pushpin's client port can be up before its proxy: let our own client get through first.
    Client::connect(stage.front(0), Via::WebSocket, "probe")
        .await
        .close()
        .await;
    // A Tack client in the same room, which said hello.
    let mut tack = Client::connect(stage.front(0), Via::WebSocket, "tack").await;
    tack.enter("test").await;
    let url = ws_url(&stage.url(0));
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(ORIGINAL_CLIENTS)
            .arg(&url)
            .output(),
    )
    .await
    .expect("python finishes in time")
    .expect("python3 with websockets runs");
    assert!(
        output.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        stage.logs()
    );
    let heard: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the heard message as JSON");
    assert_eq!(heard["room"], "test");
    assert_eq!(
        heard["comment"], "&lt;b&gt;hello&lt;/b&gt; &amp; &quot;you&quot;",
        "the original page gets the original server's escaping"
    );
    assert!(heard["user"].as_str().unwrap().starts_with("guest-"));
    let typed = tack.until("chatMessage").await;
    assert_eq!(
        typed["comment"], r#"<b>hello</b> & "you""#,
        "a Tack client gets the comment as typed"
    );
    stage.origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pushpins_in_front_of_one_origin_share_every_room() {
    let stage = Stage::start(2).await;
    let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
    let mut bob = Client::connect(stage.front(1), Via::WebSocket, "bob").await;
    let mut cat = Client::connect(stage.front(1), Via::Stream, "cat").await;
    ann.enter("lobby").await;
    bob.enter("lobby").await;
    let (presence, _) = cat.enter("lobby").await;
    assert_eq!(presence["viewers"], 3, "{presence}");
    assert_eq!(presence["users"], serde_json::json!(["ann", "bob", "cat"]));

    for (n, who) in ["ann", "bob", "cat"].into_iter().enumerate() {
        let frame = format!(r#"chatMessage:{{"room":"lobby","comment":"{who} {n}"}}"#);
        match who {
            "ann" => ann.send(&frame).await,
            "bob" => bob.send(&frame).await,
            _ => cat.send(&frame).await,
        };
        for client in [&mut ann, &mut bob, &mut cat] {
            let heard = client.until("chatMessage").await;
            assert_eq!(
                heard["comment"],
                format!("{who} {n}"),
                "{} heard {heard}",
                client.nick
            );
            assert_eq!(heard["user"], who);
        }
    }
    for client in [&ann, &bob, &cat] {
        assert_eq!(client.repeats, 0, "{} saw an event twice", client.nick);
    }
    stage.origin.shutdown().await;
}

fn signed(key: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    sign(
        &SigClaims {
            iss: "pushpin".into(),
            exp,
        },
        key.as_bytes(),
    )
    .unwrap()
}

#[tokio::test]
async fn requests_that_bypass_pushpin_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = spawn_origin(listener, tack_server::ServerConfig::default(), Vec::new()).await;
    let base = origin.url();
    let http = reqwest::Client::new();
    let open = encode_all(&[Event::open()]);
    let attempts = |sig: Option<String>| {
        let with = |r: reqwest::RequestBuilder| match &sig {
            Some(sig) => r.header("Grip-Sig", sig),
            None => r,
        };
        [
            with(
                http.post(format!("{base}/ws"))
                    .header("Connection-Id", "c-1")
                    .header("Content-Type", "application/websocket-events")
                    .body(open.clone()),
            ),
            with(http.get(format!("{base}/stream"))),
            with(http.get(format!("{base}/poll"))),
            with(http.post(format!("{base}/send?session=x")).body("ping:{}")),
        ]
    };
    for (how, sig) in [
        ("unsigned", None),
        ("signed with another key", Some(signed("not-the-key"))),
        ("garbage", Some("not.a.token".to_owned())),
    ] {
        for request in attempts(sig) {
            let response = tokio::time::timeout(WAIT, request.send())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(response.status(), 401, "{how}: {}", response.url());
            let text = response.text().await.unwrap();
            assert!(text.contains("Grip-Sig"), "{how}: {text}");
        }
    }
    // With the key, the same requests get in (the poll is a fresh session: answered at once).
    let [ws, _, poll, _] = attempts(Some(signed(GRIP_KEY)));
    let ws = ws.send().await.unwrap();
    assert_eq!(ws.status(), 200);
    assert_eq!(ws.headers()["content-type"], "application/websocket-events");
    assert_eq!(
        ws.headers()["sec-websocket-extensions"],
        "grip; message-prefix=\"\""
    );
    let body = ws.bytes().await.unwrap();
    let events = tack_protocol::wsevents::decode_all(&body, 1 << 20).unwrap();
    assert_eq!(events[0], Event::open());
    let poll = poll.send().await.unwrap();
    assert_eq!(poll.status(), 200);
    let events: Vec<serde_json::Value> = poll.json().await.unwrap();
    assert_eq!(events[0]["type"], "welcome");
    origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_pushpin_restart_clients_get_what_they_missed_once() {
    let mut stage = Stage::start(2).await;
    let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
    let mut bob = Client::connect(stage.front(1), Via::WebSocket, "bob").await;
    let mut cat = Client::connect(stage.front(0), Via::Stream, "cat").await;
    ann.enter("lobby").await;
    cat.enter("lobby").await;
    bob.enter("lobby").await;
    bob.send(r#"chatMessage:{"room":"lobby","comment":"before"}"#)
        .await;
    let ann_last = ann.until("chatMessage").await["id"].as_u64().unwrap();
    let cat_last = cat.until("chatMessage").await["id"].as_u64().unwrap();

    // Pushpin 0 goes away: its clients lose their connections.
    let mut pushpin = stage.pushpins.remove(0);
    let pushpin = tokio::task::spawn_blocking(move || {
        pushpin.stop();
        pushpin
    })
    .await
    .unwrap();
    ann.closed().await;
    cat.closed().await;

    // Meanwhile bob, on the other Pushpin, keeps talking.
    for n in 0..3 {
        bob.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"while away {n}"}}"#
        ))
        .await;
        bob.until("chatMessage").await;
    }

    // The origin found Pushpin 0 gone and dropped what it had queued for it (its clients went
    // with it; they get those from history when they re-enter), as its /metrics shows.
    let deadline = tokio::time::Instant::now() + WAIT;
    while stage.origin.origin().unwrap().publisher().stats()[0].queued > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "publishes for pushpin 0 still queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut pushpin = pushpin;
    let pushpin = tokio::task::spawn_blocking(move || {
        pushpin.restart();
        pushpin
    })
    .await
    .unwrap();
    stage.pushpins.insert(0, pushpin);

    // They come back as the client engine does. The WebSocket takes its old session over (the
    // origin has not noticed yet that the old connection is gone: without it the nick would
    // still be taken and the seat counted twice) and re-enters from the last id it had; the
    // stream reopens its own session from the last id it had.
    for (via, nick, last, old) in [
        (Via::WebSocket, "ann", ann_last, ann.session.clone()),
        (Via::Stream, "cat", cat_last, cat.session.clone()),
    ] {
        let mut back = match via {
            Via::WebSocket => {
                let mut back = Client::guest(stage.front(0), via).await;
                back.send(&format!(r#"hello:{{"nick":"{nick}","takeover":"{old}"}}"#))
                    .await;
                back.nick = nick.to_owned();
                back.send(&format!(
                    r#"chatRoomEnter:{{"room":"lobby","since":{last}}}"#
                ))
                .await;
                back
            }
            _ => {
                let query = format!("session={old}&since=lobby:{last}");
                Client::connect_with(stage.front(0), via, nick, &query).await
            }
        };
        let mut missed = Vec::new();
        while missed.len() < 3 {
            let event = back.next().await;
            match event["type"].as_str().unwrap() {
                "chatMessage" => missed.push(event["comment"].as_str().unwrap().to_owned()),
                "presence" => {
                    let users = event["users"].as_array().unwrap();
                    let seats = users.iter().filter(|u| *u == nick).count();
                    assert_eq!(seats, 1, "{nick} holds one seat, under its nick: {event}");
                }
                "error" => panic!("{nick} was refused: {event}"),
                "resumed" => assert_eq!(event["recovered"], true, "{event}"),
                _ => {}
            }
        }
        assert_eq!(
            missed,
            ["while away 0", "while away 1", "while away 2"],
            "{nick} after the restart"
        );
        bob.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"welcome back {nick}"}}"#
        ))
        .await;
        let welcome = format!("welcome back {nick}");
        back.until_matching("chatMessage", |e| e["comment"] == welcome.as_str())
            .await;
        assert_eq!(back.repeats, 0, "{nick} saw an event twice");
    }
    stage.origin.shutdown().await;
}

/// Regression guard for reliable streaming: a held stream that never got some publishes (here
/// its Pushpin is not among those the origin publishes to) recovers them from the origin as
/// soon as Pushpin sees an item whose `prev-id` does not follow, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_missed_publishes_recovers_them_through_the_grip_link() {
    let stage = Stage::start_publishing_to(2, 1, |_| {}).await;
    let mut bob = Client::connect(stage.front(1), Via::WebSocket, "bob").await;
    bob.enter("lobby").await;
    // Cat's stream is held by Pushpin 0, which the origin does not publish to.
    let mut cat = Client::connect_with(stage.front(0), Via::Stream, "cat", "rooms=lobby").await;
    cat.until("presence").await;
    let own = cat
        .until_matching("chatRoomEnter", |e| e["user"] == "cat")
        .await;
    let held = own["id"].as_u64().unwrap();

    let mut last = None;
    for comment in ["missed 1", "missed 2", "arrived"] {
        bob.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"{comment}"}}"#
        ))
        .await;
        last = Some(bob.until("chatMessage").await);
    }
    // Only the last one reaches Pushpin 0; its prev-id says that two came before it.
    let last = last.unwrap();
    let epoch = stage.origin.state().hub.epoch().to_owned();
    let id = last["id"].as_u64().unwrap();
    assert_eq!(id, held + 3);
    let item = serde_json::json!({"items": [{
        "channel": "r.lobby", "id": format!("{epoch}-{id}"), "prev-id": format!("{epoch}-{}", id - 1),
        "formats": {"http-stream": {"content": format!("id: lobby:{id}\ndata: {last}\n\n")}}}]});
    let published = reqwest::Client::new()
        .post(format!("{}/publish/", stage.pushpins[0].publish_url()))
        .json(&item)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);

    let mut comments = Vec::new();
    let recovered = tokio::time::timeout(WAIT, async {
        while comments.len() < 3 {
            comments.push(cat.until("chatMessage").await["comment"].clone());
        }
    })
    .await;
    assert!(recovered.is_ok(), "got {comments:?}\n{}", stage.logs());
    assert_eq!(comments, ["missed 1", "missed 2", "arrived"]);
    assert_eq!(cat.repeats, 0);
    stage.origin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_an_access_token_refuses_clients_without_it_through_pushpin() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let stage = Stage::start_with(1, |c| c.access_token = Some("sesame".into())).await;
    let url = stage.url(0);
    let ws = ws_url(&url);
    let http = reqwest::Client::new();
    // Pushpin's proxy may take a moment to be ready: wait until it forwards at all.
    let deadline = tokio::time::Instant::now() + WAIT;
    let refused = loop {
        let response = http.get(format!("{url}/stream")).send().await;
        match response {
            Ok(r) if r.status() == 401 => break r,
            _ if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("no refusal through pushpin: {other:?}"),
        }
    };
    assert!(refused.text().await.unwrap().contains("unauthorized"));
    let err = tokio_tungstenite::connect_async(&ws).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    let mut request = ws.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer sesame".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    use futures_util::StreamExt;
    let welcome = tokio::time::timeout(WAIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(welcome.to_text().unwrap().contains("welcome"));
    let stream = http
        .get(format!("{url}/stream"))
        .bearer_auth("sesame")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    stage.origin.shutdown().await;
}

/// Regression guard: a restarted origin numbers rooms from 1 again, and Pushpin drops ids it
/// has seen in the last minute and holds back items whose prev-id it does not know. Ids carry
/// the origin's epoch, so chat after a restart flows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_origin_restart_chat_flows_at_once() {
    let mut stage = Stage::start(1).await;
    let addr = stage.origin.local_addr();
    let publish = vec![stage.pushpins[0].publish_url()];
    for round in ["before", "after"] {
        let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
        let mut bob = Client::connect(stage.front(0), Via::WebSocket, "bob").await;
        ann.enter("lobby").await;
        bob.enter("lobby").await;
        let started = tokio::time::Instant::now();
        bob.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"{round}"}}"#
        ))
        .await;
        let heard = ann.until("chatMessage").await;
        assert_eq!(heard["comment"], round);
        // Well under Pushpin's 5 s message_wait.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{round}: {:?}",
            started.elapsed()
        );
        if round == "before" {
            stage.origin.shutdown().await;
            ann.closed().await;
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            stage.origin = spawn_origin(
                listener,
                tack_server::ServerConfig::default(),
                publish.clone(),
            )
            .await;
        }
    }
    stage.origin.shutdown().await;
}
