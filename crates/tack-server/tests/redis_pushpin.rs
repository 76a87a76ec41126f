//! Two origins behind two real Pushpins (1.36), sharing one Redis: every event is published to
//! every Pushpin once, by the origin that numbered it, with ids and `prev-id`s from Redis, so
//! chat crosses from one Pushpin's clients to the other's, and a client that loses its Pushpin
//! resumes through the other with nothing lost and nothing twice.

use std::collections::BTreeMap;
use tack_client::{ClientEvent, Session, TransportChoice};
use tack_testkit::balancer::Balancer;
use tack_testkit::clients::{Client, Via};
use tack_testkit::engine::Events;
use tack_testkit::engine::{profile, quick_options, secs};
use tack_testkit::redis::SharedRedis;
use tack_testkit::server::no_rate_limit;
use tack_testkit::stage::SharedStage;

async fn stage() -> (SharedRedis, SharedStage) {
    let redis = tokio::task::spawn_blocking(SharedRedis::one).await.unwrap();
    let stage = SharedStage::start(2, redis.urls(), no_rate_limit).await;
    (redis, stage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_crosses_two_origins_behind_two_pushpins() {
    let (_redis, stage) = stage().await;
    let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
    let mut bob = Client::connect(stage.front(1), Via::Stream, "bob").await;
    ann.enter("lobby").await;
    let (presence, _) = bob.enter("lobby").await;
    assert_eq!(presence["users"], serde_json::json!(["ann", "bob"]));
    ann.until_matching("chatRoomEnter", |e| e["user"] == "bob")
        .await;

    // Alternate senders: consecutive ids are numbered (and published) by different origins,
    // so every `prev-id` names an item the other origin published.
    let mut ids = Vec::new();
    for n in 1..=10 {
        let (from, to) = if n % 2 == 0 {
            (&mut ann, &mut bob)
        } else {
            (&mut bob, &mut ann)
        };
        from.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"m{n}","cid":"c{n}"}}"#
        ))
        .await;
        let heard = to
            .until_matching("chatMessage", |e| e["comment"] == format!("m{n}").as_str())
            .await;
        let own = from
            .until_matching("chatMessage", |e| e["comment"] == format!("m{n}").as_str())
            .await;
        assert_eq!(heard["id"], own["id"]);
        ids.push(heard["id"].as_u64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    ann.send(r#"chatRoomLeave:{"room":"lobby"}"#).await;
    let left = bob.until("chatRoomLeave").await;
    assert_eq!(left["user"], "ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_through_the_other_pushpin() {
    let (_redis, mut stage) = stage().await;
    let balancer = Balancer::start(
        stage
            .pushpins
            .iter()
            .map(|p| ([127, 0, 0, 1], p.http_port()).into())
            .collect(),
    )
    .await;
    let mut p = profile(&balancer.url(), TransportChoice::Ws);
    p.nick = Some("ann".into());
    let (_ann, rx) = Session::connect(p, quick_options());
    let mut events = Events::new(rx);
    _ann.enter("lobby").unwrap();
    events
        .wait_for("presence", secs(20), |e| {
            matches!(e, ClientEvent::Presence { .. })
        })
        .await;
    let mut bob = Client::connect(stage.front(1), Via::WebSocket, "bob").await;
    bob.enter("lobby").await;

    let mut heard: BTreeMap<String, usize> = BTreeMap::new();
    let mut gaps = 0;
    let mut note = |event: &ClientEvent, heard: &mut BTreeMap<String, usize>| match event {
        ClientEvent::Message { comment, .. } => *heard.entry(comment.clone()).or_default() += 1,
        ClientEvent::Gap { .. } => gaps += 1,
        _ => {}
    };
    let comments: Vec<String> = (1..=60).map(|n| format!("m{n}")).collect();
    for (n, comment) in comments.iter().enumerate() {
        if n == 20 {
            // Ann's Pushpin goes away: the engine reconnects through the other and resumes.
            while heard.len() < 20 {
                let event = events.next(secs(20)).await.expect("events");
                note(&event, &mut heard);
            }
            let pushpin = stage.pushpins.remove(0);
            tokio::task::spawn_blocking(move || drop(pushpin))
                .await
                .unwrap();
        }
        bob.send(&format!(
            r#"chatMessage:{{"room":"lobby","comment":"{comment}"}}"#
        ))
        .await;
    }
    while heard.len() < comments.len() {
        let event = events.next(secs(30)).await.unwrap_or_else(|| {
            panic!(
                "heard {} of {}: {:#?}",
                heard.len(),
                comments.len(),
                &events.seen[events.seen.len().saturating_sub(8)..]
            )
        });
        note(&event, &mut heard);
    }
    assert!(
        heard.values().all(|&n| n == 1),
        "each exactly once: {heard:?}"
    );
    assert_eq!(gaps, 0, "recovered: no gap");
    let connections = events
        .seen
        .iter()
        .filter(|e| matches!(e, ClientEvent::Server(_)))
        .count();
    assert!(
        connections >= 2,
        "ann reconnected through the other Pushpin"
    );
}
