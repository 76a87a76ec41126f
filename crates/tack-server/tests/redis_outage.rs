//! Redis stopped for 10 s and started again, with and without its data, under two nodes with a
//! client engine on each: the clients keep their connections or resume, every message sent
//! before, during and after the outage lands exactly once (the engine keeps what was answered
//! `unavailable` and sends it again), and what a client may have missed is reported as a gap,
//! never silently skipped. On one Redis and on a three-master Redis Cluster.

use std::collections::BTreeMap;
use std::time::Duration;
use tack_client::{ClientEvent, SendState, Session, Target, TransportChoice};
use tack_server::ServerHandle;
use tack_testkit::engine::{profile, quick_options, secs, Events};
use tack_testkit::redis::{Data, SharedRedis};
use tack_testkit::server::{no_rate_limit, node_on};

/// How long Redis stays away: the story.
const OUTAGE: Duration = Duration::from_secs(10);

struct Person {
    session: Session,
    events: Events,
    /// Comments heard in the room, and how often each.
    heard: BTreeMap<String, usize>,
    gaps: usize,
    acked: usize,
}

impl Person {
    async fn join(node: &ServerHandle, nick: &str) -> Person {
        let mut p = profile(&node.url(), TransportChoice::Ws);
        p.nick = Some(nick.into());
        let (session, rx) = Session::connect(p, quick_options());
        let mut person = Person {
            session,
            events: Events::new(rx),
            heard: BTreeMap::new(),
            gaps: 0,
            acked: 0,
        };
        person.session.enter("lobby").unwrap();
        person
            .events
            .wait_for("presence", secs(20), |e| {
                matches!(e, ClientEvent::Presence { .. })
            })
            .await;
        person
    }

    fn note(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Message { comment, .. } => {
                *self.heard.entry(comment.clone()).or_default() += 1
            }
            ClientEvent::Gap { target, .. } => {
                assert_eq!(target, &Target::Room("lobby".into()));
                self.gaps += 1;
            }
            ClientEvent::Send {
                state: SendState::Sent { .. },
                ..
            } => self.acked += 1,
            ClientEvent::Send {
                state: SendState::Failed { reason },
                comment,
                ..
            } => panic!("`{comment}` was marked failed: {reason}"),
            _ => {}
        }
    }

    /// Reads events until every one of `comments` was heard (and `acks` acks came), or fails
    /// after `within`.
    async fn hears(&mut self, comments: &[String], acks: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !(comments.iter().all(|c| self.heard.contains_key(c)) && self.acked >= acks) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.events.next(left).await else {
                let missing: Vec<_> = comments
                    .iter()
                    .filter(|c| !self.heard.contains_key(*c))
                    .collect();
                panic!(
                    "missing {missing:?} ({} of {acks} acks); last events: {:#?}",
                    self.acked,
                    &self.events.seen[self.events.seen.len().saturating_sub(10)..]
                );
            };
            self.note(&event);
        }
    }
}

fn comments(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix} {i}")).collect()
}

async fn redis_away_for_ten_seconds(cluster: bool, data: Data) {
    let mut redis = tokio::task::spawn_blocking(move || {
        if cluster {
            SharedRedis::cluster()
        } else {
            SharedRedis::one()
        }
    })
    .await
    .unwrap();
    let a = node_on(redis.urls(), no_rate_limit).await;
    let b = node_on(redis.urls(), no_rate_limit).await;
    let mut ann = Person::join(&a, "ann").await;
    let mut bob = Person::join(&b, "bob").await;

    let before = comments("before", 5);
    for c in &before {
        ann.session.send("lobby", c).unwrap();
    }
    bob.hears(&before, 0, secs(20)).await;
    ann.hears(&before, before.len(), secs(20)).await;

    let mut redis = tokio::task::spawn_blocking(move || {
        redis.stop(data);
        redis
    })
    .await
    .unwrap();
    // Sent while Redis is away: answered `unavailable`, kept, sent again.
    let during = comments("during", 3);
    for c in &during {
        ann.session.send("lobby", c).unwrap();
    }
    let away = tokio::time::Instant::now();
    while away.elapsed() < OUTAGE {
        if let Some(event) = ann.events.next(OUTAGE - away.elapsed()).await {
            ann.note(&event);
        }
    }
    assert_eq!(
        ann.session.outbox_len(),
        during.len(),
        "kept while Redis is away"
    );
    let redis = tokio::task::spawn_blocking(move || {
        redis.start_again();
        redis
    })
    .await
    .unwrap();

    let after = comments("after", 5);
    for c in &after {
        bob.session.send("lobby", c).unwrap();
    }
    let all_new: Vec<String> = during.iter().chain(&after).cloned().collect();
    bob.hears(&all_new, after.len(), secs(30)).await;
    ann.hears(&all_new, before.len() + during.len(), secs(30))
        .await;
    for person in [&ann, &bob] {
        for (comment, times) in &person.heard {
            assert_eq!(*times, 1, "`{comment}` heard {times} times");
        }
    }
    match data {
        // Nothing was lost: the connections held, and nobody was told of a gap.
        Data::Kept => assert_eq!((ann.gaps, bob.gaps), (0, 0)),
        // Redis started empty: a new epoch; each client marks where its history ended.
        Data::Lost => {
            assert!(ann.gaps >= 1 && bob.gaps >= 1, "a gap is reported");
        }
    }
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_away_for_ten_seconds_keeping_its_data() {
    redis_away_for_ten_seconds(false, Data::Kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_away_for_ten_seconds_losing_its_data() {
    redis_away_for_ten_seconds(false, Data::Lost).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_away_for_ten_seconds_keeping_its_data() {
    redis_away_for_ten_seconds(true, Data::Kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_away_for_ten_seconds_losing_its_data() {
    redis_away_for_ten_seconds(true, Data::Lost).await;
}
