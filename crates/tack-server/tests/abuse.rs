//! One client tries to hurt the server or the people on it. For each abuse, four things hold:
//! the abuser gets a specific error or close code (and keeps its connection where the protocol
//! allows); a well-behaved client in the same room is not disconnected and its own messages
//! keep a p99 under 100 ms while the abuse runs; memory stays within a stated bound; and the
//! server is up and serving afterwards.

use serde_json::Value;
use std::time::{Duration, Instant};
use tack_server::{ServerConfig, ServerHandle};
use tack_testkit::clients::{Client, Via, WAIT};
use tack_testkit::hostile::{self, publish_body};
use tack_testkit::server::start_with;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bob, in `room`, chatting as a person does (one message every 60 ms, within the default
/// rate limit); the time from sending each to its `ack`.
struct Bystander {
    client: Client,
    room: String,
}

impl Bystander {
    async fn join(server: &ServerHandle, room: &str) -> Bystander {
        let mut client = Client::connect(server, Via::WebSocket, "bob").await;
        client.enter(room).await;
        Bystander {
            client,
            room: room.to_owned(),
        }
    }

    /// Sends `n` messages and returns their round trips' p99, asserting every one was heard.
    async fn chat(&mut self, n: usize) -> Duration {
        let mut round_trips = Vec::with_capacity(n);
        for i in 0..n {
            let sent = Instant::now();
            self.client
                .send(&format!(
                    r#"chatMessage:{{"room":"{}","comment":"bob {i}","cid":"bob-{i}"}}"#,
                    self.room
                ))
                .await;
            let cid = format!("bob-{i}");
            self.client
                .until_matching("ack", |e| e["cid"] == cid.as_str())
                .await;
            round_trips.push(sent.elapsed());
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        round_trips.sort();
        round_trips[(n * 99).div_ceil(100) - 1]
    }
}

/// Bob's messages keep their pace while the abuse runs; the abuse's result.
async fn while_bob_chats<T>(bob: &mut Bystander, abuse: impl std::future::Future<Output = T>) -> T {
    let (p99, result) = tokio::join!(bob.chat(50), abuse);
    assert!(
        p99 < Duration::from_millis(100),
        "a well-behaved client's p99 was {p99:?} while the abuse ran"
    );
    result
}

/// A new client gets in and is answered: the server is up.
async fn serving(server: &ServerHandle) {
    let mut carol = Client::connect(server, Via::Poll, "carol").await;
    carol.send(r#"ping:{"t":7}"#).await;
    let (_, entered) = carol.enter("after").await;
    assert_eq!(entered["user"], "carol");
}

/// A gauge or counter of the server's `/metrics`, summed over its labels.
async fn metric(server: &ServerHandle, name: &str) -> f64 {
    hostile::metric(&server.control_url(), name, "").await
}

/// Reads `client`'s events up to its pong for `t`, counting errors by code.
async fn errors_until_pong(
    client: &mut Client,
    t: u64,
) -> std::collections::BTreeMap<String, usize> {
    client.send(&format!(r#"ping:{{"t":{t}}}"#)).await;
    let mut errors = std::collections::BTreeMap::new();
    loop {
        let event = client.next().await;
        assert_ne!(
            event["type"], "closed",
            "the abuser keeps its connection: {event}"
        );
        if event["type"] == "pong" && event["t"] == t {
            return errors;
        }
        if event["type"] == "error" {
            *errors
                .entry(event["code"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
}

#[tokio::test]
async fn an_enter_leave_loop_is_rate_limited_and_nobody_else_is_kicked() {
    let server = start_with(|_| {}).await;
    let mut bob = Bystander::join(&server, "lobby").await;
    let mut mallory = Client::connect(&server, Via::WebSocket, "mallory").await;
    let errors = while_bob_chats(&mut bob, async {
        for _ in 0..3_000 {
            mallory.send(r#"chatRoomEnter:{"room":"lobby"}"#).await;
            mallory.send(r#"chatRoomLeave:{"room":"lobby"}"#).await;
        }
        errors_until_pong(&mut mallory, 1).await
    })
    .await;
    // At most the burst and a few seconds' worth got through; everything else was refused.
    let refused = errors.get("rate_limited").copied().unwrap_or(0);
    assert!(refused > 5_000, "{errors:?}");
    // Bob heard only what got through, and is still here.
    let mut heard = 0;
    bob.client.send(r#"ping:{"t":2}"#).await;
    loop {
        let event = bob.client.next().await;
        assert_ne!(event["type"], "closed", "bob was disconnected");
        if event["type"] == "pong" {
            break;
        }
        if event["user"] == "mallory" {
            heard += 1;
        }
    }
    assert!(heard < 1_000, "bob heard {heard} of mallory's room changes");
    assert!(metric(&server, "tack_channels").await <= 3.0);
    assert!(metric(&server, "tack_frames_refused_total").await >= refused as f64);
    serving(&server).await;
}

#[tokio::test]
async fn new_channels_past_max_channels_are_refused_and_existing_ones_go_on() {
    let server = start_with(|c| {
        c.max_channels = 20;
        c.max_rooms_per_connection = 100;
        c.room_change_burst = 1_000;
    })
    .await;
    let mut bob = Bystander::join(&server, "lobby").await;
    let mut mallory = Client::connect(&server, Via::WebSocket, "mallory").await;
    let errors = while_bob_chats(&mut bob, async {
        for n in 0..100 {
            mallory
                .send(&format!(r#"watch:{{"channel":"junk-{n}"}}"#))
                .await;
        }
        errors_until_pong(&mut mallory, 1).await
    })
    .await;
    // The lobby is one of the 20; mallory made the other 19.
    assert_eq!(errors.get("too_many_channels"), Some(&81), "{errors:?}");
    assert_eq!(metric(&server, "tack_channels").await, 20.0);
    // A backend publishing to a new channel is told the same, and nothing is made.
    let control = format!("{}/publish/", server.control_url());
    let refused = hostile::request(&control, &[], Some(&publish_body("new-feed", "x"))).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.body.contains("max_channels"), "{refused:?}");
    let existing = hostile::request(&control, &[], Some(&publish_body("junk-3", "x"))).await;
    assert_eq!(existing.status, 200, "{existing:?}");
    assert_eq!(metric(&server, "tack_channels").await, 20.0);
    mallory.send(r#"ping:{"t":3}"#).await;
    assert_eq!(mallory.until("pong").await["t"], 3);
}

#[tokio::test]
async fn http_sessions_past_their_cap_get_503_with_retry_after() {
    let server = start_with(|c| c.max_http_sessions = 10).await;
    let mut bob = Bystander::join(&server, "lobby").await;
    let base = server.url();
    let (sessions, refused) = while_bob_chats(&mut bob, async {
        let mut sessions = Vec::new();
        let mut refused = None;
        for n in 0..15 {
            let answer = reqwest::get(format!("{base}/poll?nick=m{n}&rooms=lobby&timeout=1"))
                .await
                .expect("answered");
            if answer.status() == 503 {
                let retry = answer.headers().get("retry-after").cloned();
                refused = Some((retry, answer.text().await.unwrap_or_default()));
                break;
            }
            let events: Vec<Value> = answer.json().await.expect("events");
            sessions.push(events[0]["session"].as_str().unwrap().to_owned());
        }
        (sessions, refused)
    })
    .await;
    // Bob's WebSocket is no HTTP session: the ten are all mallory's.
    assert_eq!(sessions.len(), 10);
    let (retry_after, body) = refused.expect("the eleventh was refused");
    assert!(retry_after.is_some(), "503 says when to come back");
    assert!(body.contains("max_http_sessions"), "{body}");
    // The sessions that exist go on.
    let answer = reqwest::get(format!("{base}/poll?session={}&timeout=1", sessions[0]))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(metric(&server, "tack_http_sessions").await, 10.0);
}

#[tokio::test]
async fn publish_channel_names_follow_the_room_rules_and_a_bad_item_publishes_nothing() {
    let server = start_with(|_| {}).await;
    let mut watcher = Client::connect(&server, Via::WebSocket, "watcher").await;
    watcher.send(r#"watch:{"channel":"feed"}"#).await;
    watcher.send(r#"ping:{"t":1}"#).await;
    watcher.until("pong").await;
    let control = format!("{}/publish/", server.control_url());
    let huge = "x".repeat(100_000);
    for bad in [huge.as_str(), &"y".repeat(65), "a\u{7}b", "a,b"] {
        let body = serde_json::json!({"items": [
            {"channel": "feed", "formats": {"ws-message": {"content": "first of two"}}},
            {"channel": bad, "formats": {"ws-message": {"content": "x"}}},
        ]})
        .to_string();
        let answer = hostile::request(&control, &[], Some(&body)).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(answer.body.starts_with("item 1: channel"), "{answer:?}");
        assert!(
            answer.body.len() < 400,
            "the error does not echo the name: {answer:?}"
        );
    }
    let ok = hostile::request(&control, &[], Some(&publish_body("feed", "good"))).await;
    assert_eq!(ok.status, 200);
    let first = watcher.until("raw").await;
    assert_eq!(
        first["payload"], "good",
        "a refused body published part of itself"
    );
    assert_eq!(metric(&server, "tack_channels").await, 1.0);
}

#[tokio::test]
async fn a_since_beyond_any_id_is_bad_field_and_counts_nobody_twice() {
    let server = start_with(|_| {}).await;
    let mut mallory = Client::connect(&server, Via::WebSocket, "mallory").await;
    mallory
        .send(r#"chatRoomEnter:{"room":"lobby","since":18446744073709551615}"#)
        .await;
    let refused = mallory.until("error").await;
    assert_eq!(refused["code"], "bad_field", "{refused}");
    let poll = hostile::request(
        &format!(
            "{}/poll?rooms=lobby&since=lobby:18446744073709551615&timeout=1",
            server.url()
        ),
        &[],
        None,
    )
    .await;
    assert_eq!(poll.status, 400, "{poll:?}");
    assert!(poll.body.contains("bad_field"), "{poll:?}");
    let mut ann = Client::connect(&server, Via::WebSocket, "ann").await;
    let (presence, _) = ann.enter("lobby").await;
    assert_eq!(presence["viewers"], 1, "{presence}");
    mallory.send(r#"ping:{"t":1}"#).await;
    assert_eq!(mallory.until("pong").await["t"], 1);
}

#[tokio::test]
async fn a_query_naming_thousands_of_rooms_gets_one_short_error() {
    let server = start_with(|_| {}).await;
    let mut bob = Bystander::join(&server, "lobby").await;
    let rooms: Vec<String> = (0..5_000).map(|n| format!("r{n}")).collect();
    let url = format!("{}/poll?rooms={}&timeout=1", server.url(), rooms.join(","));
    let answer = while_bob_chats(&mut bob, hostile::request(&url, &[], None)).await;
    assert_eq!(
        answer.status,
        400,
        "{}",
        &answer.body[..answer.body.len().min(300)]
    );
    assert!(answer.body.len() < 1_000, "{} bytes", answer.body.len());
    assert!(answer.body.contains("too_many_rooms"), "{}", answer.body);
    assert_eq!(metric(&server, "tack_channels").await, 1.0);
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed_and_free_their_slots() {
    let server = start_with(|c| {
        c.max_connections = 6;
        c.header_read_timeout_secs = 1;
    })
    .await;
    let mut bob = Bystander::join(&server, "lobby").await;
    let addr = server.local_addr();
    let started = Instant::now();
    let slow = while_bob_chats(&mut bob, async {
        let mut slow = Vec::new();
        for _ in 0..5 {
            let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
            socket
                .write_all(b"GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(socket);
        }
        // Every slot is taken now (bob holds the sixth): the server closes each of these.
        for socket in &mut slow {
            let mut rest = Vec::new();
            tokio::time::timeout(WAIT, socket.read_to_end(&mut rest))
                .await
                .expect("closed by the server")
                .ok();
        }
        slow
    })
    .await;
    assert!(started.elapsed() < WAIT);
    drop(slow);
    // Their slots are free again.
    serving(&server).await;
}

#[tokio::test]
async fn a_websocket_that_stops_reading_is_closed_and_the_room_goes_on() {
    let server = start_with(|c| {
        c.write_timeout_secs = 1;
        c.messages_per_second = 1_000;
        c.message_burst = 1_000;
    })
    .await;
    let mut bob = Bystander::join(&server, "busy").await;
    let mut mallory = Client::connect(&server, Via::WebSocket, "mallory").await;
    mallory.enter("busy").await;
    // Mallory stops reading; alice fills the room with big messages.
    let mut alice = Client::connect(&server, Via::WebSocket, "alice").await;
    alice.enter("busy").await;
    let comment = "z".repeat(8_000);
    while_bob_chats(&mut bob, async {
        for n in 0..2_000 {
            alice
                .send(&format!(
                    r#"chatMessage:{{"room":"busy","comment":"{comment}"}}"#
                ))
                .await;
            if n % 100 == 99 {
                // Alice reads what she is sent, like a person's client does.
                alice.send(&format!(r#"ping:{{"t":{n}}}"#)).await;
                alice.until_matching("pong", |e| e["t"] == n).await;
            }
            if metric(&server, "tack_connections").await < 3.0 && n % 100 == 99 {
                break;
            }
        }
    })
    .await;
    // The server gave up on mallory's writes and freed the connection.
    let deadline = Instant::now() + WAIT;
    while metric(&server, "tack_connections").await > 2.0 {
        assert!(
            Instant::now() < deadline,
            "mallory's stalled connection is still held"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mallory.closed().await;
    serving(&server).await;
}

#[tokio::test]
async fn the_server_config_keeps_every_limit_on_by_default() {
    let config = ServerConfig::default();
    assert!(config.header_read_timeout_secs > 0);
    assert!(config.body_read_timeout_secs > 0);
    assert!(config.write_timeout_secs > 0);
    assert!(config.room_changes_per_second > 0);
    assert!(config.room_change_burst as usize > config.max_rooms_per_connection);
    assert!(config.max_channels > 0 && config.max_http_sessions > 0);
}
