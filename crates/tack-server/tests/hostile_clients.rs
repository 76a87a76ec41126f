//! Someone who does not belong tries every door: a web page from another origin, a page that
//! rebinds its name to 127.0.0.1, a stranger publishing or reading metrics on the client port
//! (or through Pushpin from the internet), a local process without the secret, a client
//! posing as someone else's signed nick, a chat client writing into a backend's feed. Each
//! gets its own refusal naming the setting that would allow it, publishes and reveals
//! nothing, and the server goes on serving everyone else.

use serde_json::{json, Value};
use tack_server::ServerConfig;
use tack_testkit::clients::{Client, Front, Via};
use tack_testkit::hostile::{self, publish_body, Answer};
use tack_testkit::server::start_with;
use tack_testkit::stage::Stage;

const EVIL: &str = "http://evil.example";

/// Where the attacks land: the built-in server, or an origin behind a real Pushpin. The
/// server or stage stays alive as long as this does.
enum Door {
    BuiltIn(tack_server::ServerHandle),
    Pushpin(Stage),
}

impl Door {
    async fn built_in(tune: impl FnOnce(&mut ServerConfig)) -> Door {
        Door::BuiltIn(start_with(tune).await)
    }

    async fn behind_pushpin(tune: impl FnOnce(&mut ServerConfig)) -> Door {
        Door::Pushpin(Stage::start_with(1, tune).await)
    }

    fn front(&self) -> Front {
        match self {
            Door::BuiltIn(server) => server.into(),
            Door::Pushpin(stage) => stage.front(0),
        }
    }

    fn url(&self) -> String {
        self.front().url().to_owned()
    }

    /// A well-behaved client still gets in and is heard: the attacks took nothing down.
    async fn still_serves(&self) {
        let mut ann = Client::connect(self.front(), Via::WebSocket, "ann").await;
        ann.enter("after").await;
        let mut bob = Client::connect(self.front(), Via::Stream, "bob").await;
        bob.enter("after").await;
        ann.send(r#"chatMessage:{"room":"after","comment":"still here"}"#)
            .await;
        let said = bob.until("chatMessage").await;
        assert_eq!(said["comment"], "still here");
    }
}

fn refused(answer: &Answer, status: u16, naming: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(
        answer.body.contains(naming),
        "the refusal names {naming}: {answer:?}"
    );
}

async fn pages_from_another_origin_are_refused_on_every_route(door: Door) {
    let base = door.url();
    let origin = [("Origin", EVIL)];
    let ws = hostile::websocket(&base, &origin).await;
    refused(
        &ws.expect_err("a WebSocket from evil.example is refused"),
        403,
        "--allowed-origin http://evil.example",
    );
    for path in ["/stream?rooms=lobby", "/poll?rooms=lobby&timeout=1"] {
        let answer = hostile::request(&format!("{base}{path}"), &origin, None).await;
        refused(&answer, 403, "--allowed-origin");
    }
    // A no-cors POST: a page can send it without a preflight.
    let no_cors = [("Origin", EVIL), ("Content-Type", "text/plain")];
    let send = hostile::request(
        &format!("{base}/send?session=x"),
        &no_cors,
        Some(r#"chatMessage:{"room":"lobby","comment":"pwned"}"#),
    )
    .await;
    refused(&send, 403, "--allowed-origin");
    let control = door.front().control().to_owned();
    let publish = hostile::request(
        &format!("{control}/publish/"),
        &no_cors,
        Some(&publish_body("lobby", "pwned")),
    )
    .await;
    refused(&publish, 403, "--allowed-origin");
    // The CLI, backends and the desktop engine send no Origin header: unaffected.
    door.still_serves().await;
}

#[tokio::test]
async fn pages_from_another_origin_are_refused_by_the_built_in_server() {
    pages_from_another_origin_are_refused_on_every_route(Door::built_in(|_| {}).await).await;
}

#[tokio::test]
async fn pages_from_another_origin_are_refused_behind_pushpin() {
    pages_from_another_origin_are_refused_on_every_route(Door::behind_pushpin(|_| {}).await).await;
}

async fn an_allowed_origin_chats(door: Door) {
    let base = door.url();
    let welcome = hostile::websocket(&base, &[("Origin", "https://app.example.com")])
        .await
        .expect("an allowed origin connects");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let poll = hostile::request(
        &format!("{base}/poll?nick=page&rooms=lobby"),
        &[("Origin", "https://app.example.com")],
        None,
    )
    .await;
    assert_eq!(poll.status, 200, "{poll:?}");
    assert!(poll.body.contains("chatRoomEnter"), "{poll:?}");
    // The list is a list: a neighbour of the allowed origin is still refused.
    let other = hostile::websocket(&base, &[("Origin", "https://example.com.evil.example")]).await;
    refused(
        &other.expect_err("not on the list"),
        403,
        "--allowed-origin",
    );
}

#[tokio::test]
async fn a_listed_origin_may_use_the_built_in_server() {
    let door = Door::built_in(|c| c.allowed_origins = vec!["https://*.example.com".into()]).await;
    an_allowed_origin_chats(door).await;
}

#[tokio::test]
async fn a_listed_origin_may_use_the_origin_behind_pushpin() {
    let door =
        Door::behind_pushpin(|c| c.allowed_origins = vec!["https://*.example.com".into()]).await;
    an_allowed_origin_chats(door).await;
}

#[tokio::test]
async fn a_page_rebinding_its_name_to_loopback_is_answered_403_naming_allowed_host() {
    let door = Door::built_in(|c| c.allowed_hosts = vec!["tack.internal".into()]).await;
    let base = door.url();
    let control = door.front().control().to_owned();
    // Same-origin requests from evil.example resolved to 127.0.0.1 carry no Origin header.
    let rebound = [("Host", "evil.example")];
    let ws = hostile::websocket(&base, &rebound).await;
    refused(
        &ws.expect_err("refused"),
        403,
        "--allowed-host evil.example",
    );
    let poll = hostile::request(
        &format!("{base}/poll?rooms=lobby&timeout=1"),
        &rebound,
        None,
    )
    .await;
    refused(&poll, 403, "--allowed-host evil.example");
    let publish = hostile::request(
        &format!("{control}/publish/"),
        &[("Host", "evil.example:7998")],
        Some(&publish_body("lobby", "pwned")),
    )
    .await;
    refused(&publish, 403, "--allowed-host evil.example");
    // Loopback names and a listed one are answered.
    for host in ["localhost", "tack.internal:80"] {
        let poll = hostile::request(
            &format!("{base}/poll?rooms=lobby&timeout=1"),
            &[("Host", host)],
            None,
        )
        .await;
        assert_eq!(poll.status, 200, "{host}: {poll:?}");
    }
    door.still_serves().await;
}

async fn publishing_and_metrics_are_not_served_where_clients_connect(door: Door) {
    let front = door.front();
    let base = front.url().to_owned();
    let mut watcher = Client::connect(&front, Via::WebSocket, "watcher").await;
    watcher.send(r#"watch:{"channel":"orders"}"#).await;
    let publish = hostile::request(
        &format!("{base}/publish/"),
        &[("Content-Type", "application/json")],
        Some(&publish_body("orders", "forged")),
    )
    .await;
    assert_eq!(publish.status, 404, "{publish:?}");
    let metrics = hostile::request(&format!("{base}/metrics"), &[], None).await;
    assert_eq!(metrics.status, 404, "{metrics:?}");
    assert!(
        !metrics.body.contains("tack_"),
        "no metrics leak: {metrics:?}"
    );
    // The backend's publish, on the control listener, is the first (and only) item the
    // watcher sees: the forged one went nowhere.
    loop {
        let answer = hostile::request(
            &format!("{}/publish/", front.control()),
            &[("Content-Type", "application/json")],
            Some(&publish_body("orders", "real")),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        // Behind Pushpin the watch's subscription may not be live yet: publish until it is.
        let next =
            tokio::time::timeout(std::time::Duration::from_millis(500), watcher.next()).await;
        if let Ok(item) = next {
            assert_eq!(item["type"], "raw", "{item}");
            assert_eq!(
                item["payload"], "real",
                "the forged publish was delivered: {item}"
            );
            break;
        }
    }
    // Nor is it in the channel's history.
    let mut late =
        Client::connect_with(&front, Via::Poll, "late", "watch=orders&since=orders:0").await;
    let replayed = late.until("raw").await;
    assert_eq!(replayed["payload"], "real", "{replayed}");
    door.still_serves().await;
}

#[tokio::test]
async fn the_built_in_servers_client_port_does_not_publish_or_show_metrics() {
    publishing_and_metrics_are_not_served_where_clients_connect(Door::built_in(|_| {}).await).await;
}

#[tokio::test]
async fn publishing_from_the_internet_through_pushpin_reaches_nobody() {
    publishing_and_metrics_are_not_served_where_clients_connect(Door::behind_pushpin(|_| {}).await)
        .await;
}

#[tokio::test]
async fn a_control_listener_beyond_loopback_does_not_start_without_a_publish_token() {
    let mut config = ServerConfig::on_free_loopback_ports();
    config.control_listen = "0.0.0.0:0".parse().unwrap();
    let refused = tack_server::spawn(config.clone())
        .await
        .err()
        .expect("refused to start");
    assert!(
        refused.to_string().contains("publish_token"),
        "the refusal names the setting: {refused}"
    );
    // With one, publishing needs it, compared as a whole.
    config.control_listen = "127.0.0.1:0".parse().unwrap();
    config.publish_token = Some("backend-secret".into());
    let door = Door::BuiltIn(tack_server::spawn(config).await.expect("starts"));
    let publish = format!("{}/publish/", door.front().control());
    let body = publish_body("orders", "x");
    for auth in [None, Some("Bearer backend"), Some("Bearer backend-secret2")] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        let answer = hostile::request(&publish, &headers, Some(&body)).await;
        assert_eq!(answer.status, 401, "{auth:?}: {answer:?}");
    }
    let answer = hostile::request(
        &publish,
        &[("Authorization", "Bearer backend-secret")],
        Some(&body),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn a_local_process_without_the_access_token_gets_nothing() {
    let door = Door::built_in(|c| c.access_token = Some("launch-secret".into())).await;
    let base = door.url();
    let ws = hostile::websocket(&base, &[]).await;
    refused(&ws.expect_err("refused"), 401, "Authorization: Bearer");
    let wrong = hostile::websocket(&base, &[("Authorization", "Bearer guess")]).await;
    refused(&wrong.expect_err("refused"), 401, "Authorization: Bearer");
    for path in ["/stream?rooms=lobby", "/poll?rooms=lobby&timeout=1"] {
        let answer = hostile::request(&format!("{base}{path}"), &[], None).await;
        refused(&answer, 401, "unauthorized");
    }
    let send = hostile::request(
        &format!("{base}/send?session=x"),
        &[],
        Some(r#"chatMessage:{"room":"lobby","comment":"hi"}"#),
    )
    .await;
    assert_eq!(send.status, 401, "{send:?}");
    let welcome = hostile::websocket(&base, &[("Authorization", "Bearer launch-secret")])
        .await
        .expect("the secret lets the engine in");
    assert_eq!(welcome["type"], "welcome");
}

// ---- signed identity -------------------------------------------------------------------

const AUTH_KEY: &str = "identity-story-key";

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(AUTH_KEY.as_bytes()),
    )
    .expect("a token")
}

fn in_an_hour() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

fn signed(config: &mut ServerConfig) {
    config.auth_key = Some(AUTH_KEY.into());
}

/// A WebSocket client that signs in with `token` (in `hello`) and enters `room`.
async fn sign_in(front: &Front, token: &str) -> Client {
    let mut client = Client::guest(front, Via::WebSocket).await;
    client
        .send(&format!(
            "hello:{}",
            json!({"nick": "ignored", "token": token})
        ))
        .await;
    client
}

async fn signed_users_own_their_nicks_and_strangers_get_nothing(door: Door) {
    let front = door.front();
    // Without a token, a WebSocket may say hello but do nothing else.
    let mut stranger = Client::guest(&front, Via::WebSocket).await;
    stranger.send(r#"chatRoomEnter:{"room":"lobby"}"#).await;
    let refusal = stranger.until("error").await;
    assert_eq!(refusal["code"], "unauthorized", "{refusal}");
    // Without a token, the HTTP transports are refused outright.
    let poll = hostile::request(
        &format!("{}/poll?rooms=lobby&timeout=1", front.url()),
        &[],
        None,
    )
    .await;
    refused(&poll, 401, "allow_anonymous");

    let mut ann = sign_in(
        &front,
        &token(json!({"sub": "u-1", "name": "ann", "exp": in_an_hour()})),
    )
    .await;
    ann.nick = "ann".into();
    let (_, entered) = ann.enter("lobby").await;
    assert_eq!(
        entered["user"], "ann",
        "the token's name is the nick: {entered}"
    );

    // Another signed user whose token says "ann" is not ann.
    let mut mallory = sign_in(
        &front,
        &token(json!({"sub": "u-2", "name": "ANN", "exp": in_an_hour()})),
    )
    .await;
    let taken = mallory.until("error").await;
    assert_eq!(taken["code"], "nick_taken", "{taken}");

    // An expired token, and one signed with another key.
    let mut late = Client::guest(&front, Via::WebSocket).await;
    late.send(&format!(
        "hello:{}",
        json!({"nick": "x", "token": token(json!({"sub": "u-3", "exp": 1_000_000}))})
    ))
    .await;
    assert_eq!(late.until("error").await["code"], "token_expired");
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "u-1", "name": "ann"}),
        &jsonwebtoken::EncodingKey::from_secret(b"guessed"),
    )
    .unwrap();
    let mut forger = Client::guest(&front, Via::WebSocket).await;
    forger
        .send(&format!("hello:{}", json!({"nick": "x", "token": forged})))
        .await;
    assert_eq!(forger.until("error").await["code"], "unauthorized");

    // A token's claims say where its user may go.
    let narrow = token(json!({"sub": "u-4", "name": "cat", "exp": in_an_hour(),
        "tack": {"enter": ["public.*"], "write": ["public.talk"], "watch": ["probe.*"]}}));
    let mut cat = sign_in(&front, &narrow).await;
    cat.nick = "cat".into();
    cat.send(r#"chatRoomEnter:{"room":"lobby"}"#).await;
    let refusal = cat.until("error").await;
    assert_eq!(refusal["code"], "forbidden", "{refusal}");
    cat.enter("public.quiet").await;
    cat.send(r#"chatMessage:{"room":"public.quiet","comment":"hi"}"#)
        .await;
    assert_eq!(cat.until("error").await["code"], "forbidden");
    cat.send(r#"watch:{"channel":"orders"}"#).await;
    assert_eq!(cat.until("error").await["code"], "forbidden");

    // ann, meanwhile, chats on undisturbed.
    ann.send(r#"chatMessage:{"room":"lobby","comment":"still me"}"#)
        .await;
    let said = ann
        .until_matching("chatMessage", |e| e["comment"] == "still me")
        .await;
    assert_eq!(said["user"], "ann");
}

#[tokio::test]
async fn signed_identity_on_the_built_in_server() {
    signed_users_own_their_nicks_and_strangers_get_nothing(Door::built_in(signed).await).await;
}

#[tokio::test]
async fn signed_identity_behind_pushpin() {
    signed_users_own_their_nicks_and_strangers_get_nothing(Door::behind_pushpin(signed).await)
        .await;
}

#[tokio::test]
async fn a_browser_event_source_signs_in_with_a_token_in_the_query() {
    let door = Door::built_in(signed).await;
    let token = token(json!({"sub": "u-9", "name": "dee", "exp": in_an_hour()}));
    let mut dee = Client::guest_with(
        &door.front(),
        Via::Stream,
        &format!("token={token}&rooms=lobby"),
    )
    .await;
    let entered = dee.until("chatRoomEnter").await;
    assert_eq!(entered["user"], "dee", "{entered}");
}

#[tokio::test]
async fn with_allow_anonymous_guests_chat_but_cannot_pick_a_signed_users_nick() {
    let door = Door::built_in(|c| {
        signed(c);
        c.allow_anonymous = true;
    })
    .await;
    let mut guest = Client::guest(&door.front(), Via::WebSocket).await;
    guest.send(r#"hello:{"nick":"ann"}"#).await;
    let refusal = guest.until("error").await;
    assert_eq!(refusal["code"], "forbidden", "{refusal}");
    let (_, entered) = guest.enter("lobby").await;
    assert!(
        entered["user"].as_str().unwrap().starts_with("guest-"),
        "{entered}"
    );
}

// ---- feeds -----------------------------------------------------------------------------

async fn chat_clients_cannot_write_into_a_backends_feed(door: Door) {
    let front = door.front();
    let mut mallory = Client::connect(&front, Via::WebSocket, "mallory").await;
    mallory.send(r#"chatRoomEnter:{"room":"orders"}"#).await;
    let refusal = mallory.until("error").await;
    assert_eq!(refusal["code"], "read_only", "{refusal}");
    assert!(
        refusal["message"].as_str().unwrap().contains("read_only"),
        "names the setting: {refusal}"
    );
    mallory
        .send(r#"chatMessage:{"room":"orders","comment":"free stuff","cid":"c1"}"#)
        .await;
    let refusal = mallory.until("error").await;
    assert_eq!(refusal["code"], "read_only", "{refusal}");
    // Watching is what feeds are for; the backend's publish is the first item seen.
    let mut monitor = Client::connect(&front, Via::Stream, "monitor").await;
    monitor.send(r#"watch:{"channel":"orders"}"#).await;
    loop {
        let answer = hostile::request(
            &format!("{}/publish/", front.control()),
            &[("Content-Type", "application/json")],
            Some(&publish_body("orders", "order 1")),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let next =
            tokio::time::timeout(std::time::Duration::from_millis(500), monitor.next()).await;
        if let Ok(item) = next {
            assert_eq!(item["payload"], "order 1", "{item}");
            break;
        }
    }
    door.still_serves().await;
}

#[tokio::test]
async fn a_read_only_feed_on_the_built_in_server() {
    chat_clients_cannot_write_into_a_backends_feed(
        Door::built_in(|c| c.read_only = vec!["orders".into(), "feed.*".into()]).await,
    )
    .await;
}

#[tokio::test]
async fn a_read_only_feed_behind_pushpin() {
    chat_clients_cannot_write_into_a_backends_feed(
        Door::behind_pushpin(|c| c.read_only = vec!["orders".into()]).await,
    )
    .await;
}
