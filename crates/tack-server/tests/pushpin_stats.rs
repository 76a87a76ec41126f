//! An operator watches the deployment live: `tack serve --pushpin … --pushpin-stats SPEC`
//! reads each real Pushpin's stats socket and republishes it, once a second, as the server's
//! own `$pushpin` channels. Every number is awaited (read items until it arrives, within a
//! deadline), never slept for.

use serde_json::{json, Value};
use std::time::Duration;
use tack_server::ServerConfig;
use tack_testkit::clients::{Client, Front, Via};
use tack_testkit::pushpin::StatsFormat;
use tack_testkit::stage::Stage;

/// The longest a number may take to show: Pushpin reports at once, the item is published
/// every second, and a loaded machine is slow.
const DEADLINE: Duration = Duration::from_secs(30);

/// A client watching one of the statistics channels.
struct Operator {
    client: Client,
    channel: &'static str,
}

impl Operator {
    async fn watch(front: &Front, channel: &'static str) -> Operator {
        let mut client = Client::connect(front, Via::WebSocket, "operator").await;
        client
            .send(&format!(r#"watch:{{"channel":"{channel}"}}"#))
            .await;
        Operator { client, channel }
    }

    /// Reads items until one for which `pick` is true; returns it. Panics after [`DEADLINE`],
    /// showing the last item seen.
    async fn until(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                let raw = self.client.until("raw").await;
                assert_eq!(raw["channel"], self.channel, "{raw}");
                let item: Value = serde_json::from_str(raw["payload"].as_str().unwrap())
                    .expect("an item is JSON");
                if pick(&item) {
                    return item;
                }
                last = item;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{what}: not seen within {DEADLINE:?}; last item: {last}"))
    }

    /// The next item of `instance` in which Pushpin has said something and nothing is
    /// moving: a baseline to count from.
    async fn quiet(&mut self, instance: &str) -> Value {
        self.until("a quiet second", |item| {
            item["instance"] == instance
                && item["stale"] == false
                && item["messages_per_second"]["sent"] == 0.0
        })
        .await
    }
}

fn websockets(item: &Value) -> u64 {
    item["connections_by_type"]["ws"].as_u64().unwrap()
}

fn subscribers(item: &Value, channel: &str) -> u64 {
    item["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .map_or(0, |c| c["subscribers"].as_u64().unwrap())
}

fn sent(item: &Value) -> u64 {
    item["messages_total"]["sent"].as_u64().unwrap()
}

fn received(item: &Value) -> u64 {
    item["messages_total"]["received"].as_u64().unwrap()
}

fn open(config: &mut ServerConfig) {
    config.pushpin_stats_open = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_watches_clients_come_talk_and_go() {
    let stage = Stage::start_with_stats(&[StatsFormat::Tnetstring], open).await;
    let front = stage.front(0);
    let mut operator = Operator::watch(&front, "$pushpin").await;

    // Alone, the operator's own WebSocket is the only one, and nobody is in a room.
    let alone = operator
        .until("the operator alone", |item| {
            item["instance"] == "0" && item["stale"] == false && websockets(item) == 1
        })
        .await;
    assert_eq!(subscribers(&alone, "lobby"), 0, "{alone}");
    assert!(
        alone["at_ms"].as_u64().unwrap() > 1_700_000_000_000,
        "{alone}"
    );

    // Three people come in and enter the lobby.
    let mut people = Vec::new();
    for nick in ["ann", "bob", "cid"] {
        let mut person = Client::connect(&front, Via::WebSocket, nick).await;
        person.enter("lobby").await;
        people.push(person);
    }
    let crowded = operator
        .until("three in the lobby", |item| {
            websockets(item) == 4 && subscribers(item, "lobby") == 3
        })
        .await;
    assert_eq!(
        crowded["connections"].as_u64().unwrap(),
        alone["connections"].as_u64().unwrap() + 3,
        "only the three are new: {crowded}"
    );
    assert_eq!(crowded["channels"][0]["channel"], "lobby", "{crowded}");

    // A backend publishes one message to the lobby: Pushpin sends it to all three.
    let before = operator.quiet("0").await;
    assert_eq!(subscribers(&before, "lobby"), 3, "{before}");
    tack_testkit::server::publish(
        front.control(),
        tack_protocol::publish::Item::text_everywhere("lobby", "hello, everyone"),
    )
    .await;
    for person in &mut people {
        let got = person.until("raw").await;
        assert_eq!(got["payload"], "hello, everyone");
    }
    let after = operator
        .until("the message delivered", |item| sent(item) > sent(&before))
        .await;
    assert_eq!(sent(&after), sent(&before) + 3, "one copy each: {after}");
    assert_eq!(
        received(&after),
        received(&before) + 1,
        "one message: {after}"
    );
    assert!(
        after["messages_per_second"]["sent"].as_f64().unwrap() > 0.0,
        "{after}"
    );

    // Two leave: Pushpin says so, and the numbers fall.
    for person in people.drain(1..) {
        person.close().await;
    }
    let left = operator
        .until("two gone", |item| {
            websockets(item) == 2 && subscribers(item, "lobby") == 1
        })
        .await;
    assert_eq!(
        left["connections"].as_u64().unwrap(),
        alone["connections"].as_u64().unwrap() + 1,
        "{left}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pushpins_each_have_a_channel_and_dollar_pushpin_carries_both() {
    // The second Pushpin writes its statistics as JSON, the first as tnetstrings.
    let stage = Stage::start_with_stats(&[StatsFormat::Tnetstring, StatsFormat::Json], open).await;
    let mut everything = Operator::watch(&stage.front(0), "$pushpin").await;
    let mut second_only = Operator::watch(&stage.front(0), "$pushpin/1").await;
    // Two people on the second instance, in a room of their own.
    let mut visitors = Vec::new();
    for nick in ["dee", "eve"] {
        let mut visitor = Client::connect(&stage.front(1), Via::WebSocket, nick).await;
        visitor.enter("annex").await;
        visitors.push(visitor);
    }

    // Both operators' WebSockets are on the first instance; the visitors on the second.
    everything
        .until("the first instance", |item| {
            item["instance"] == "0" && websockets(item) == 2 && subscribers(item, "annex") == 0
        })
        .await;
    everything
        .until("the second instance", |item| {
            item["instance"] == "1" && websockets(item) == 2 && subscribers(item, "annex") == 2
        })
        .await;
    for _ in 0..3 {
        let item = second_only.until("any item", |_| true).await;
        assert_eq!(item["instance"], "1", "{item}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_are_closed_by_default_and_dollar_channels_are_the_servers_own() {
    let stage = Stage::start_with_stats(&[StatsFormat::Tnetstring], |_| {}).await;
    let front = stage.front(0);
    let mut curious = Client::connect(&front, Via::WebSocket, "curious").await;

    for channel in ["$pushpin", "$pushpin/0"] {
        curious
            .send(&format!(r#"watch:{{"channel":"{channel}"}}"#))
            .await;
        let refused = curious.until("error").await;
        assert_eq!(refused["code"], "forbidden", "{refused}");
        assert_eq!(refused["event"], "watch", "{refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains("--pushpin-stats-open"), "{message}");
    }

    curious.send(r#"chatRoomEnter:{"room":"$pushpin"}"#).await;
    let refused = curious.until("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("server's own"),
        "{refused}"
    );
    curious
        .send(r#"chatMessage:{"room":"$pushpin","comment":"forged numbers","cid":"c1"}"#)
        .await;
    let refused = curious.until("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    let published = reqwest::Client::new()
        .post(format!("{}/publish/", front.control()))
        .json(
            &json!({"items":[{"channel":"$pushpin/x","formats":{"ws-message":{"content":"{}"}}}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 400);
    let reason = published.text().await.unwrap();
    assert!(reason.contains("server's own"), "{reason}");
}

const AUTH_KEY: &str = "stats-story-key";

fn token(watch: Option<&[&str]>) -> String {
    let mut claims = json!({"sub": "op", "exp": 4_102_444_800u64});
    if let Some(watch) = watch {
        claims["tack"] = json!({"watch": watch});
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(AUTH_KEY.as_bytes()),
    )
    .expect("a token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_signed_identity_only_a_token_that_names_dollar_pushpin_may_watch() {
    let stage = Stage::start_with_stats(&[StatsFormat::Tnetstring], |config| {
        config.auth_key = Some(AUTH_KEY.into());
    })
    .await;
    let front = stage.front(0);
    let signed_in = |token: String| {
        let front = front.clone();
        async move {
            let mut client = Client::guest(&front, Via::WebSocket).await;
            client
                .send(&format!("hello:{}", json!({"nick": "op", "token": token})))
                .await;
            client.send(r#"watch:{"channel":"$pushpin"}"#).await;
            client
        }
    };

    // "Everything" by leaving the list out, or by `*`, is not an explicit grant.
    for watch in [None, Some(&["*"][..])] {
        let mut client = signed_in(token(watch)).await;
        let refused = client.until("error").await;
        assert_eq!(refused["code"], "forbidden", "{watch:?}: {refused}");
        assert!(
            refused["message"].as_str().unwrap().contains("tack.watch"),
            "{refused}"
        );
    }

    let mut operator = signed_in(token(Some(&["lobby", "$pushpin*"]))).await;
    let raw = operator.until("raw").await;
    assert_eq!(raw["channel"], "$pushpin", "{raw}");
    let item: Value = serde_json::from_str(raw["payload"].as_str().unwrap()).unwrap();
    assert_eq!(item["instance"], "0", "{item}");
}
