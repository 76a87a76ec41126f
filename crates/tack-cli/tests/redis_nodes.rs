//! Real `tack serve --redis` processes behind a load balancer: a node killed with `kill -9`
//! while traffic flows, and a rolling restart of every node. The client engine on the killed
//! node reconnects to another and resumes with nothing lost and nothing twice; the others
//! remove the dead node's member within the stated bound, announcing its leave once. On one
//! Redis and on a three-master Redis Cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tack_client::{ClientEvent, SendState, Session, TransportChoice};
use tack_testkit::balancer::Balancer;
use tack_testkit::clients::{Client, Front, Via};
use tack_testkit::engine::{profile, quick_options, secs, Events};
use tack_testkit::redis::SharedRedis;
use tack_testkit::server::STORY_PRESENCE_TTL_SECS;
use tack_testkit::{free_port, wait_for_port};

/// A `tack serve` process on a loopback port.
struct Node {
    child: Option<Child>,
    port: u16,
    control_port: u16,
    redis: Vec<String>,
}

impl Node {
    fn start(redis: &SharedRedis) -> Node {
        let mut node = Node {
            child: None,
            port: free_port(),
            control_port: free_port(),
            redis: redis.urls(),
        };
        node.run();
        node
    }

    fn run(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_tack"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .args([
                "--control-listen",
                &format!("127.0.0.1:{}", self.control_port),
            ])
            .args(["--redis", &self.redis.join(",")])
            .env(
                "TACK_REDIS_PRESENCE_TTL_SECS",
                STORY_PRESENCE_TTL_SECS.to_string(),
            )
            .env("TACK_MESSAGES_PER_SECOND", "100000")
            .env("TACK_MESSAGE_BURST", "100000")
            .env("TACK_SHUTDOWN_GRACE_SECS", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the tack binary runs");
        self.child = Some(child);
        wait_for_port(self.port, "tack serve", Duration::from_secs(20));
    }

    /// Where clients and backends reach this node.
    fn front(&self) -> Front {
        Front::Tack {
            url: self.url(),
            control: format!("http://127.0.0.1:{}", self.control_port),
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `kill -9`: no goodbye to anyone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }

    /// SIGTERM, as a service manager stops it: clients are told to reconnect.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn shared_redis(cluster: bool) -> SharedRedis {
    tokio::task::spawn_blocking(move || {
        if cluster {
            SharedRedis::cluster()
        } else {
            SharedRedis::one()
        }
    })
    .await
    .unwrap()
}

/// The client engine, as `nick`, in room `lobby`, through `url`.
async fn engine(url: &str, nick: &str) -> (Session, Events) {
    let mut p = profile(url, TransportChoice::Ws);
    p.nick = Some(nick.into());
    let (session, rx) = Session::connect(p, quick_options());
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    events
        .wait_for("presence", secs(20), |e| {
            matches!(e, ClientEvent::Presence { .. })
        })
        .await;
    (session, events)
}

/// What one engine heard: each comment and how often; gaps; acks.
#[derive(Default)]
struct Heard {
    comments: BTreeMap<String, usize>,
    gaps: usize,
    acked: usize,
}

impl Heard {
    fn note(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Message { comment, .. } => {
                *self.comments.entry(comment.clone()).or_default() += 1
            }
            ClientEvent::Gap { .. } => self.gaps += 1,
            ClientEvent::Send {
                state: SendState::Sent { .. },
                ..
            } => self.acked += 1,
            ClientEvent::Send {
                state: SendState::Failed { reason },
                comment,
                ..
            } => panic!("`{comment}` failed: {reason}"),
            _ => {}
        }
    }

    /// Every one of `expected` heard exactly once, nothing else, no gap.
    fn assert_exactly(&self, expected: &[String]) {
        assert_eq!(self.gaps, 0, "no gap reported");
        let once: BTreeMap<String, usize> = expected.iter().map(|c| (c.clone(), 1)).collect();
        assert_eq!(self.comments, once, "each message exactly once");
    }
}

/// Reads `events` into `heard` until `done`, at most `within`.
async fn read_until(
    events: &mut Events,
    heard: &mut Heard,
    within: Duration,
    done: impl Fn(&Heard) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !done(heard) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match events.next(left).await {
            Some(event) => heard.note(&event),
            None => panic!(
                "not done in {within:?}: heard {} messages, {} acks; last events: {:#?}",
                heard.comments.len(),
                heard.acked,
                &events.seen[events.seen.len().saturating_sub(8)..]
            ),
        }
    }
}

const MESSAGES: usize = 200;

async fn a_node_killed_mid_traffic(cluster: bool) {
    let redis = shared_redis(cluster).await;
    let mut nodes = [
        Node::start(&redis),
        Node::start(&redis),
        Node::start(&redis),
    ];
    // Prefers the first node: ann is on node 0 until it dies, then on node 1.
    let balancer = Balancer::start(nodes.iter().map(Node::addr).collect()).await;
    let (_ann, mut ann_events) = engine(&balancer.url(), "ann").await;
    let mut watcher = Client::connect(nodes[2].front(), Via::WebSocket, "cat").await;
    watcher.enter("lobby").await;
    let mut talker = Client::connect(nodes[1].front(), Via::WebSocket, "bob").await;
    talker.enter("lobby").await;

    let comments: Vec<String> = (1..=MESSAGES).map(|n| format!("message {n}")).collect();
    let sending = {
        let comments = comments.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(5));
            for comment in comments {
                ticker.tick().await;
                talker
                    .send(&format!(
                        r#"chatMessage:{{"room":"lobby","comment":"{comment}"}}"#
                    ))
                    .await;
            }
            talker
        })
    };
    let mut heard = Heard::default();
    read_until(&mut ann_events, &mut heard, secs(20), |h| {
        h.comments.len() >= 40
    })
    .await;
    let killed = tokio::time::Instant::now();
    nodes[0].kill();
    read_until(&mut ann_events, &mut heard, secs(30), |h| {
        h.comments.len() >= MESSAGES
    })
    .await;
    heard.assert_exactly(&comments);
    assert!(
        ann_events
            .seen
            .iter()
            .filter(|e| matches!(e, ClientEvent::Server(_)))
            .count()
            >= 2,
        "ann reconnected to another node"
    );
    let _talker = sending.await.unwrap();

    // The dead node's member leaves, announced once, within the bound (plus a second for the
    // leave to be numbered and delivered).
    let bound =
        tack_server::redis_hub::member_removal_bound(secs(STORY_PRESENCE_TTL_SECS)) + secs(1);
    let left = watcher
        .until_matching("chatRoomLeave", |e| e["user"] == "ann")
        .await;
    assert!(
        killed.elapsed() <= bound,
        "the dead node's member left after {:?}, more than {bound:?}",
        killed.elapsed()
    );
    assert_eq!(left["viewers"], 3, "ann (again), bob and cat: {left}");
    // Watch one more bound: no second leave for the same member.
    let quiet_until = tokio::time::Instant::now() + bound;
    while let Ok(event) = tokio::time::timeout_at(quiet_until, watcher.next()).await {
        assert!(
            !(event["type"] == "chatRoomLeave" && event["user"] == "ann"),
            "a second leave: {event}"
        );
    }
}

async fn a_rolling_restart(cluster: bool) {
    let redis = shared_redis(cluster).await;
    let mut nodes = [
        Node::start(&redis),
        Node::start(&redis),
        Node::start(&redis),
    ];
    let addrs: Vec<SocketAddr> = nodes.iter().map(Node::addr).collect();
    let forward = Balancer::start(addrs.clone()).await;
    let backward = Balancer::start(addrs.into_iter().rev().collect()).await;
    let (ann, mut ann_events) = engine(&forward.url(), "ann").await;
    let (_bob, mut bob_events) = engine(&backward.url(), "bob").await;

    let comments: Vec<String> = (1..=MESSAGES).map(|n| format!("message {n}")).collect();
    let restarting = tokio::task::spawn_blocking(move || {
        for node in &mut nodes {
            node.stop();
            node.run();
        }
        nodes
    });
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for comment in &comments {
        ticker.tick().await;
        ann.send("lobby", comment).unwrap();
    }
    let _restarted = restarting.await.unwrap();
    let mut ann_heard = Heard::default();
    let mut bob_heard = Heard::default();
    read_until(&mut ann_events, &mut ann_heard, secs(60), |h| {
        h.acked >= MESSAGES && h.comments.len() >= MESSAGES
    })
    .await;
    read_until(&mut bob_events, &mut bob_heard, secs(60), |h| {
        h.comments.len() >= MESSAGES
    })
    .await;
    ann_heard.assert_exactly(&comments);
    bob_heard.assert_exactly(&comments);
    for events in [&ann_events, &bob_events] {
        let connections = events
            .seen
            .iter()
            .filter(|e| matches!(e, ClientEvent::Server(_)))
            .count();
        assert!(connections >= 2, "each client was moved by the restart");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_traffic_on_one_redis() {
    a_node_killed_mid_traffic(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_traffic_on_a_redis_cluster() {
    a_node_killed_mid_traffic(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_loses_nothing_on_one_redis() {
    a_rolling_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_loses_nothing_on_a_redis_cluster() {
    a_rolling_restart(true).await;
}
