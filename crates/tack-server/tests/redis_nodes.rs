//! Several nodes on one Redis (and on a three-master Redis Cluster) act as one server: enter,
//! messages, presence and leave cross nodes; a channel published on one node reaches watchers
//! on the others once and in order; `cid`s and nicks are cluster-wide. Real `redis-server`s,
//! started by the test kit; the nodes are `tack serve`'s server, in this process.

use serde_json::{json, Value};
use tack_server::ServerHandle;
use tack_testkit::clients::{Client, Via};
use tack_testkit::redis::SharedRedis;
use tack_testkit::server::{no_rate_limit, node_on};

async fn redis(cluster: bool) -> SharedRedis {
    tokio::task::spawn_blocking(move || {
        if cluster {
            SharedRedis::cluster()
        } else {
            SharedRedis::one()
        }
    })
    .await
    .expect("redis starts")
}

async fn nodes(redis: &SharedRedis, n: usize) -> Vec<ServerHandle> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(node_on(redis.urls(), no_rate_limit).await);
    }
    nodes
}

async fn publish(node: &ServerHandle, channel: &str, payloads: &[String]) {
    let items: Vec<Value> = payloads
        .iter()
        .map(|p| json!({"channel": channel, "formats": {"ws-message": {"content": p}}}))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{}/publish/", node.control_url()))
        .json(&json!({ "items": items }))
        .send()
        .await
        .expect("publish");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Reads `n` raw items of `channel`: their ids and payloads, in the order they came.
async fn raws(client: &mut Client, channel: &str, n: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let raw = client
            .until_matching("raw", |e| e["channel"] == channel)
            .await;
        got.push((
            raw["id"].as_u64().expect("numbered"),
            raw["payload"].as_str().expect("text").to_owned(),
        ));
    }
    got
}

async fn three_nodes_act_as_one(cluster: bool) {
    let redis = redis(cluster).await;
    let nodes = nodes(&redis, 3).await;
    let mut ann = Client::connect(&nodes[0], Via::WebSocket, "ann").await;
    let mut bob = Client::connect(&nodes[1], Via::Stream, "bob").await;
    let mut cat = Client::connect(&nodes[2], Via::Poll, "cat").await;

    let (presence, _) = ann.enter("lobby").await;
    assert_eq!(presence["viewers"], 1, "{presence}");
    let (presence, _) = bob.enter("lobby").await;
    assert_eq!(presence["viewers"], 2, "{presence}");
    assert_eq!(presence["users"], json!(["ann", "bob"]));
    let entered = ann
        .until_matching("chatRoomEnter", |e| e["user"] == "bob")
        .await;
    assert_eq!(entered["viewers"], 2);
    let (presence, own) = cat.enter("lobby").await;
    assert_eq!(presence["users"], json!(["ann", "bob", "cat"]));
    for client in [&mut ann, &mut bob] {
        let seen = client
            .until_matching("chatRoomEnter", |e| e["user"] == "cat")
            .await;
        assert_eq!(seen["id"], own["id"], "one event, one id on every node");
    }

    // A message from one node reaches the others with one id; sent again with its cid (a
    // client retrying through another node), it lands once.
    let replies = bob
        .send(r#"chatMessage:{"room":"lobby","comment":"hello","cid":"b-1"}"#)
        .await;
    let ack = replies
        .iter()
        .find(|r| r["type"] == "ack")
        .expect("an ack")
        .clone();
    for client in [&mut ann, &mut cat] {
        let heard = client.until("chatMessage").await;
        assert_eq!(heard["comment"], "hello");
        assert_eq!(heard["id"], ack["id"]);
    }
    let replies = cat
        .send(r#"chatMessage:{"room":"lobby","comment":"hello","cid":"b-1"}"#)
        .await;
    let again = replies.iter().find(|r| r["type"] == "ack").expect("an ack");
    assert_eq!(again["id"], ack["id"], "the same cid is the same message");
    ann.send(r#"chatMessage:{"room":"lobby","comment":"after"}"#)
        .await;
    let own = bob.until("chatMessage").await;
    assert_eq!(
        (own["comment"].as_str(), &own["id"]),
        (Some("hello"), &ack["id"])
    );
    let next = bob.until("chatMessage").await;
    assert_eq!(next["comment"], "after", "the repeat was not broadcast");

    cat.send(r#"chatRoomLeave:{"room":"lobby"}"#).await;
    for client in [&mut ann, &mut bob] {
        let left = client.until("chatRoomLeave").await;
        assert_eq!(left["user"], "cat");
        assert_eq!(left["viewers"], 2);
    }

    // A channel published on one node reaches watchers on the others once and in order.
    ann.send(r#"watch:{"channel":"ticker","since":0}"#).await;
    bob.send(r#"watch:{"channel":"ticker","since":0}"#).await;
    let payloads: Vec<String> = (1..=30).map(|n| format!("tick {n}")).collect();
    publish(&nodes[2], "ticker", &payloads[..15]).await;
    publish(&nodes[1], "ticker", &payloads[15..]).await;
    let expected: Vec<(u64, String)> = (1..=30).zip(payloads.iter().cloned()).collect();
    assert_eq!(raws(&mut ann, "ticker", 30).await, expected);
    assert_eq!(raws(&mut bob, "ticker", 30).await, expected);
    assert_eq!(ann.repeats + bob.repeats, 0, "nothing delivered twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_redis_act_as_one() {
    three_nodes_act_as_one(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_a_redis_cluster_act_as_one() {
    three_nodes_act_as_one(true).await;
}

/// A client that drops and comes back on another node resumes from Redis history: exactly the
/// events it missed, then `resumed` with `recovered: true`.
async fn a_client_resumes_on_another_node(cluster: bool) {
    let redis = redis(cluster).await;
    let nodes = nodes(&redis, 2).await;
    let mut ann = Client::connect(&nodes[0], Via::WebSocket, "ann").await;
    let mut bob = Client::connect(&nodes[1], Via::WebSocket, "bob").await;
    ann.enter("lobby").await;
    bob.enter("lobby").await;
    ann.send(r#"chatMessage:{"room":"lobby","comment":"seen"}"#)
        .await;
    let seen = ann.until("chatMessage").await["id"].as_u64().unwrap();
    ann.close().await;
    for n in 1..=5 {
        bob.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"missed {n}"}}"#
        ))
        .await;
    }
    let mut back = Client::connect(&nodes[1], Via::WebSocket, "ann").await;
    back.send(&format!(
        r#"chatRoomEnter:{{"room":"lobby","since":{seen}}}"#
    ))
    .await;
    let mut replayed = Vec::new();
    let resumed = loop {
        let event = back.next().await;
        match event["type"].as_str() {
            Some("chatMessage") => replayed.push(event["comment"].as_str().unwrap().to_owned()),
            Some("resumed") => break event,
            _ => {}
        }
    };
    assert_eq!(resumed["recovered"], true, "{resumed}");
    assert_eq!(resumed["since"], seen);
    assert_eq!(
        replayed,
        (1..=5).map(|n| format!("missed {n}")).collect::<Vec<_>>()
    );
    assert_eq!(back.repeats, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_node_of_one_redis() {
    a_client_resumes_on_another_node(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_node_of_a_cluster() {
    a_client_resumes_on_another_node(true).await;
}

/// A nick is held cluster-wide (case-insensitively) until its holder gives it up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nick_is_held_across_nodes() {
    let redis = redis(false).await;
    let nodes = nodes(&redis, 2).await;
    let (a, b) = (&nodes[0].state().hub, &nodes[1].state().hub);
    a.ready().await;
    b.ready().await;
    assert!(a.claim_nick("Ann", 7).await.unwrap());
    assert!(a.claim_nick("ann", 7).await.unwrap(), "its holder again");
    assert!(
        !b.claim_nick("ANN", 8).await.unwrap(),
        "held on another node"
    );
    b.release_nick("ann", 8).await;
    assert!(
        !b.claim_nick("ann", 8).await.unwrap(),
        "only its holder frees it"
    );
    a.release_nick("ann", 7).await;
    assert!(b.claim_nick("ann", 8).await.unwrap());
}

/// Each node's `/metrics` says how its Redis is doing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_redis_round_trip_errors_reconnects_and_gaps() {
    let redis = redis(false).await;
    let nodes = nodes(&redis, 1).await;
    let mut ann = Client::connect(&nodes[0], Via::WebSocket, "ann").await;
    ann.enter("lobby").await;
    let text = reqwest::get(format!("{}/metrics", nodes[0].control_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert!(
        value("tack_redis_call_seconds_count") >= 2.0,
        "the epoch and the enter"
    );
    for zero in [
        "tack_redis_script_errors_total",
        "tack_redis_reconnects_total",
        "tack_redis_gaps_total",
    ] {
        assert_eq!(value(zero), 0.0, "{zero}");
    }
    assert_eq!(value("tack_redis_connected"), 1.0);
}

/// A node whose announcement connection Redis drops (`CLIENT KILL TYPE pubsub`) while another
/// node publishes: it reconnects, reads back from history what it missed, and its watcher gets
/// every item once and in order, with no gap.
async fn a_node_that_lost_its_announcements_catches_up(cluster: bool) {
    let redis = redis(cluster).await;
    let nodes = nodes(&redis, 2).await;
    let mut ann = Client::connect(&nodes[0], Via::WebSocket, "ann").await;
    ann.send(r#"watch:{"channel":"feed","since":0}"#).await;
    let payloads: Vec<String> = (1..=60).map(|n| format!("item {n}")).collect();
    publish(&nodes[1], "feed", &payloads[..20]).await;
    let mut got = raws(&mut ann, "feed", 20).await;
    redis.cli_everywhere(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    for chunk in payloads[20..].chunks(5) {
        publish(&nodes[1], "feed", chunk).await;
    }
    got.extend(raws(&mut ann, "feed", 40).await);
    let expected: Vec<(u64, String)> = (1..=60).zip(payloads.iter().cloned()).collect();
    assert_eq!(got, expected);
    assert_eq!(ann.repeats, 0);
    let metrics = reqwest::get(format!("{}/metrics", nodes[0].control_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tack_redis_gaps_total 0"),
        "nothing declared lost: {metrics}"
    );
    assert!(
        !metrics.contains("tack_redis_reconnects_total 0"),
        "the node noticed: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_announcements_catches_up_on_one_redis() {
    a_node_that_lost_its_announcements_catches_up(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_announcements_catches_up_on_a_cluster() {
    a_node_that_lost_its_announcements_catches_up(true).await;
}
