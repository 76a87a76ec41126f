//! The join seam: a subscriber that joins a channel with `since` while items keep coming gets
//! the history after `since` and then the live items, each exactly once and in order — no gap
//! where history ends and the ring begins, no item read from both. Checked over random
//! interleavings of publishes, a join at any point, and reads of any batch size.

use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tack_server::feed::Retention;
use tack_server::hub::Hub;
use tack_server::item::{Content, ItemBody, Transport};
use tack_server::memory_hub::MemoryHub;
use tack_server::metrics::Metrics;
use tack_server::outbox::Outbox;
use tack_server::session::{Reach, Role, Session, SessionLimits};
use tokio_util::sync::CancellationToken;

fn item(n: u64) -> ItemBody {
    ItemBody::Published {
        ws: Some(Content::Text(format!("item {n}"))),
        stream: None,
        poll: None,
    }
}

fn session() -> Session {
    let outbox = Outbox::within(
        1024,
        Arc::new(Metrics::default()),
        &CancellationToken::new(),
    );
    let limits = SessionLimits {
        max_rooms: 64,
        messages_per_second: 20,
        message_burst: 40,
        room_changes_per_second: 10,
        room_change_burst: 80,
        max_lag: None,
    };
    Session::new(1, outbox, limits, Reach::Live, true)
}

/// The ids of the `raw` items `session` emits in one take of at most `max`.
fn take(session: &Session, max: usize, seen: &mut Vec<u64>) -> usize {
    session
        .take(Transport::WebSocket, max, &mut |text, _| {
            let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            if event["type"] == "raw" {
                seen.push(event["id"].as_u64().expect("an id"));
            }
        })
        .expect("never behind: the channel keeps everything here")
}

#[derive(Debug, Clone)]
enum Step {
    Publish(u64),
    Read(usize),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            (1..20u64).prop_map(Step::Publish),
            (1..16usize).prop_map(Step::Read),
        ],
        0..30,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_join_with_since_gets_history_then_live_items_each_once(
        before in 0..60u64,
        since in prop::option::of(0..80u64),
        after in steps(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let seen = runtime.block_on(async {
            let hub = MemoryHub::new(Retention {
                len: 1_000,
                live: Duration::from_secs(60),
                age: Duration::from_secs(3_600),
                max_bytes: 64 << 20,
            });
            for n in 1..=before {
                hub.publish("feed", item(n)).await.unwrap();
            }
            let joiner = session();
            let joined = hub.watch("feed", since).await.unwrap();
            joiner.follow(Role::Watcher, joined);
            let mut seen = Vec::new();
            let mut published = before;
            for step in &after {
                match step {
                    Step::Publish(k) => {
                        for _ in 0..*k {
                            published += 1;
                            hub.publish("feed", item(published)).await.unwrap();
                        }
                    }
                    Step::Read(max) => {
                        take(&joiner, *max, &mut seen);
                    }
                }
            }
            while take(&joiner, 64, &mut seen) > 0 {}
            (seen, published)
        });
        let (seen, published) = seen;
        // Without `since`: from the join on. With it: from `since` (a `since` past the newest
        // id starts at the newest: nothing was missed, nothing is invented).
        let from = since.map_or(before, |s| s.min(before)) + 1;
        let expected: Vec<u64> = (from..=published).collect();
        prop_assert_eq!(seen, expected);
    }
}
