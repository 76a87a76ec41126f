//! The origin's GRIP answers, read directly (signed as Pushpin signs them): what Pushpin is
//! told on `OPEN`, on an enter, on `PING`, on `CLOSE`, for a connection it does not know, and
//! what a held stream and poll look like. The stories through the real Pushpin check that
//! Pushpin acts on them; these pin the details.

use tack_protocol::grip::{sign, SigClaims};
use tack_protocol::wsevents::{decode_all, encode_all, Event};
use tack_server::ServerHandle;
use tack_testkit::stage::{spawn_origin, GRIP_KEY};

/// An origin with no Pushpin to publish to: these stories play Pushpin's part themselves.
async fn origin() -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn_origin(listener, tack_server::ServerConfig::default(), Vec::new()).await
}

fn sig() -> String {
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
        GRIP_KEY.as_bytes(),
    )
    .unwrap()
}

/// One WebSocket-over-HTTP request for `connection`; the answer's headers and events.
async fn ws(
    origin: &ServerHandle,
    connection: &str,
    events: &[Event],
) -> (reqwest::header::HeaderMap, Vec<Event>) {
    let response = reqwest::Client::new()
        .post(format!("{}/ws", origin.url()))
        .header("Grip-Sig", sig())
        .header("Connection-Id", connection)
        .header("Content-Type", "application/websocket-events")
        .body(encode_all(events))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/websocket-events");
    let body = response.bytes().await.unwrap();
    (headers, decode_all(&body, 1 << 20).unwrap())
}

/// The JSON of a `c:` control message.
fn control(text: &str) -> serde_json::Value {
    let json = text
        .strip_prefix("c:")
        .unwrap_or_else(|| panic!("not a control message: {text}"));
    serde_json::from_str(json).unwrap()
}

fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_websocket_session_as_pushpin_sees_it() {
    let origin = origin().await;
    let (headers, events) = ws(&origin, "c-1", &[Event::open()]).await;
    assert_eq!(
        headers["sec-websocket-extensions"],
        "grip; message-prefix=\"\""
    );
    assert_eq!(headers["keep-alive-interval"], "20");
    assert_eq!(events[0], Event::open());
    let opened = texts(&events);
    assert_eq!(control(&opened[0])["type"], "keep-alive");
    assert_eq!(control(&opened[0])["message-type"], "ping");
    assert_eq!(control(&opened[1])["type"], "set-meta");
    assert_eq!(control(&opened[1])["name"], "user");
    assert_eq!(
        control(&opened[2]),
        serde_json::json!({"type": "subscribe", "channel": "all"})
    );
    assert!(opened[3].contains(r#""type":"welcome""#), "{opened:?}");

    let (_, events) = ws(
        &origin,
        "c-1",
        &[
            Event::text(r#"hello:{"nick":"ann"}"#),
            Event::text(r#"chatRoomEnter:{"room":"lobby"}"#),
            Event::Ping("p".into()),
        ],
    )
    .await;
    let entered = texts(&events);
    assert_eq!(
        control(&entered[0]),
        serde_json::json!({"type": "subscribe", "channel": "r.lobby", "filters": ["skip-self"]})
    );
    assert!(entered[1].contains(r#""type":"presence""#), "{entered:?}");
    assert!(
        entered[2].contains(r#""type":"chatRoomEnter""#),
        "{entered:?}"
    );
    assert_eq!(events.last(), Some(&Event::Pong("p".into())));

    // A page of the original system never says hello: its room channel carries comments
    // escaped the way the original server sent them.
    ws(&origin, "c-2", &[Event::open()]).await;
    let (_, events) = ws(
        &origin,
        "c-2",
        &[Event::text(r#"chatRoomEnter:{"room":"lobby"}"#)],
    )
    .await;
    assert_eq!(
        control(&texts(&events)[0]),
        serde_json::json!({"type": "subscribe", "channel": "l.lobby", "filters": ["skip-self"]})
    );
    ws(&origin, "c-2", &[Event::close(1000, "bye")]).await;

    let (_, events) = ws(&origin, "c-1", &[Event::close(1000, "bye")]).await;
    assert_eq!(events, [Event::close(1000, "bye")]);
    assert_eq!(origin.state().hub.stats().rooms, 0, "left on CLOSE");

    // The connection is gone (as after an origin restart): the client is told to reconnect.
    let (_, events) = ws(&origin, "c-1", &[Event::text("ping:{}")]).await;
    assert_eq!(events, [Event::close(1001, "server restarting, reconnect")]);
    origin.shutdown().await;
}

#[tokio::test]
async fn held_streams_and_polls_carry_their_grip_instructions() {
    let origin = origin().await;
    let http = reqwest::Client::new();
    let stream = http
        .get(format!("{}/stream?nick=ann&rooms=lobby", origin.url()))
        .header("Grip-Sig", sig())
        .send()
        .await
        .unwrap();
    let h = stream.headers().clone();
    assert_eq!(h["grip-hold"], "stream");
    assert_eq!(h["content-type"], "text/event-stream");
    let channels = h["grip-channel"].to_str().unwrap();
    assert!(channels.starts_with("s."), "{channels}");
    let epoch = origin.state().hub.epoch().to_owned();
    assert!(
        channels.ends_with(&format!(", all, r.lobby; prev-id={epoch}-1")),
        "{channels}"
    );
    let link = h["grip-link"].to_str().unwrap();
    // No timeout: Pushpin follows it only for gaps and hints, never on a timer.
    assert!(link.contains("&link=next&own="), "{link}");
    assert!(link.ends_with(">; rel=next"), "{link}");
    assert!(h.contains_key("grip-keep-alive"));
    let body = stream.text().await.unwrap();
    assert!(body.starts_with("data: {\"type\":\"welcome\""), "{body}");
    assert!(
        body.contains("id: lobby:1\ndata: {\"type\":\"chatRoomEnter\""),
        "{body}"
    );

    // A poller with nothing waiting is held on its rooms at the id it has.
    let first: Vec<serde_json::Value> = http
        .get(format!("{}/poll?nick=bob&rooms=lobby", origin.url()))
        .header("Grip-Sig", sig())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = first[0]["session"].as_str().unwrap();
    let held = http
        .get(format!("{}/poll?session={session}&timeout=7", origin.url()))
        .header("Grip-Sig", sig())
        .send()
        .await
        .unwrap();
    let h = held.headers().clone();
    assert_eq!(h["grip-hold"], "response");
    assert_eq!(h["grip-timeout"], "7");
    let channels = h["grip-channel"].to_str().unwrap();
    assert!(
        channels.ends_with(&format!(", all, r.lobby; prev-id={epoch}-2")),
        "{channels}"
    );
    assert_eq!(held.text().await.unwrap(), "[]");
    origin.shutdown().await;
}

/// The URL of the `Grip-Link` in `headers`, as Pushpin would ask it.
fn next_link(origin: &ServerHandle, headers: &reqwest::header::HeaderMap) -> String {
    let link = headers["grip-link"].to_str().unwrap();
    let path = link
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .map(|(path, _)| path)
        .expect("a link");
    format!("{}{path}", origin.url())
}

#[tokio::test]
async fn an_enter_answered_on_a_link_pushpin_had_to_ask_again_is_not_lost() {
    let origin = origin().await;
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let answer = http
                .get(url)
                .header("Grip-Sig", sig())
                .send()
                .await
                .unwrap();
            let headers = answer.headers().clone();
            (headers, answer.text().await.unwrap())
        }
    };
    let (opened, body) = get(format!("{}/stream?nick=ann", origin.url())).await;
    let welcome: serde_json::Value =
        serde_json::from_str(body.lines().next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
    let session = welcome["session"].as_str().unwrap().to_owned();

    // Ann enters a room; her stream's answer (the room's presence) waits for Pushpin to ask.
    let sent = http
        .post(format!("{}/send?session={session}", origin.url()))
        .header("Grip-Sig", sig())
        .body(r#"chatRoomEnter:{"room":"lobby"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let link = next_link(&origin, &opened);
    let (answered, body) = get(link.clone()).await;
    assert!(body.contains(r#""type":"presence""#), "{body}");

    // That answer never reached Pushpin (its request failed), so Pushpin asks the same link
    // again: the presence is still there.
    let (answered_again, again) = get(link).await;
    assert!(again.contains(r#""type":"presence""#), "{again}");
    assert_eq!(
        next_link(&origin, &answered),
        next_link(&origin, &answered_again)
    );

    // Once an answer arrived, Pushpin asks its link, and the presence is not repeated.
    let (_, after) = get(next_link(&origin, &answered_again)).await;
    assert!(!after.contains(r#""type":"presence""#), "{after}");
    origin.shutdown().await;
}
