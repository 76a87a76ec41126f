//! Staying connected: the outbox across an outage, stall detection, and reconnects that come
//! back spread out.

use std::time::Duration;
use tack_client::{
    Backoff, BackoffPolicy, ClientEvent, ConnectionStatus, SendState, Session, TransportChoice,
};
use tack_testkit::engine::{is_status, profile, quick_options, secs, Events};
use tack_testkit::fault_proxy::FaultProxy;
use tack_testkit::server::{no_rate_limit, start_with};

#[tokio::test]
async fn messages_typed_during_an_outage_are_delivered_exactly_once_after_reconnect() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (writer, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    let (observer, orx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut seen = Events::new(orx);
    writer.enter("ops").unwrap();
    observer.enter("ops").unwrap();
    events
        .wait_for("writer joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    seen.wait_for("observer joined", secs(10), |e| {
        matches!(e, ClientEvent::Joined { .. })
    })
    .await;

    proxy.set_down(true);
    proxy.cut();
    events
        .wait_for("reconnecting", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    let cids: Vec<String> = (0..5)
        .map(|i| writer.send("ops", &format!("offline {i}")).unwrap())
        .collect();
    assert_eq!(writer.outbox_len(), 5);
    proxy.set_down(false);
    writer.retry_now();

    let mut acked = std::collections::BTreeSet::new();
    while acked.len() < cids.len() {
        match events.next(secs(10)).await.expect("acks after the outage") {
            ClientEvent::Send {
                cid,
                state: SendState::Sent { id: Some(_) },
                ..
            } => {
                acked.insert(cid);
            }
            ClientEvent::Send {
                state: SendState::Failed { reason },
                ..
            } => panic!("failed: {reason}"),
            _ => {}
        }
    }
    assert_eq!(writer.outbox_len(), 0);
    // A sentinel from the observer marks the end of what the room received.
    observer.send("ops", "sentinel").unwrap();
    let mut got = Vec::new();
    loop {
        let ev = seen.next(secs(10)).await.expect("room traffic");
        if let ClientEvent::Message { comment, .. } = ev {
            if comment == "sentinel" {
                break;
            }
            got.push(comment);
        }
    }
    let want: Vec<String> = (0..5).map(|i| format!("offline {i}")).collect();
    assert_eq!(got, want, "each queued message exactly once, in order");
    writer.close().await;
    observer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_stalled_connection_is_detected_within_two_heartbeats() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let opts = quick_options();
    let heartbeat = opts.heartbeat;
    let (session, rx) = Session::connect(profile(&proxy.url(), TransportChoice::Ws), opts);
    let mut events = Events::new(rx);
    events
        .wait_for("connected", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    proxy.stall(true);
    let stalled_at = std::time::Instant::now();
    let ev = events
        .wait_for("the stall noticed", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    let noticed = stalled_at.elapsed();
    assert!(noticed < heartbeat * 2, "noticed after {noticed:?}");
    let ClientEvent::State(s) = ev else {
        unreachable!()
    };
    assert!(s.reason.unwrap().contains("no sign of life"));
    proxy.stall(false);
    session.close().await;
    server.shutdown().await;
}

/// The largest share of `times` (ms) inside any 500 ms window.
fn densest_window_share(times: &[u64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= 500 {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as f64 / times.len() as f64
}

#[tokio::test(start_paused = true)]
async fn two_hundred_clients_cut_at_once_come_back_spread_out() {
    // Every client retries on its own schedule until the server is back after 20 s.
    let back_at = Duration::from_secs(20);
    let mut attempts = Vec::new();
    let mut first = Vec::new();
    let start = tokio::time::Instant::now();
    let mut clients: Vec<_> = (0..200)
        .map(|seed| Backoff::new(BackoffPolicy::default(), Some(seed)))
        .collect();
    let tasks: Vec<_> = clients
        .iter_mut()
        .map(|b| {
            let mut times = Vec::new();
            let mut t = Duration::ZERO;
            loop {
                t += b.next_delay(false);
                times.push(t);
                if t >= back_at {
                    break;
                }
            }
            times
        })
        .collect();
    for times in tasks {
        first.push(times[0].as_millis() as u64);
        for t in times {
            // Paused time: sleeping to each attempt costs nothing and keeps the order real.
            tokio::time::sleep_until(start + t).await;
            attempts.push(t.as_millis() as u64);
        }
    }
    let share = densest_window_share(&attempts);
    assert!(
        share <= 0.20,
        "{:.0}% of all attempts in one 500 ms window",
        share * 100.0
    );
    let share = densest_window_share(&first);
    assert!(
        share <= 0.20,
        "{:.0}% of first attempts in one 500 ms window",
        share * 100.0
    );
}

#[tokio::test]
async fn fifty_real_clients_cut_at_once_reconnect_spread_out() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let mut sessions = Vec::new();
    for seed in 0..50 {
        let mut opts = quick_options();
        opts.seed = Some(seed);
        opts.heartbeat = Duration::from_secs(30);
        opts.backoff = BackoffPolicy {
            base: Duration::from_secs(5),
            ..BackoffPolicy::default()
        };
        let (s, rx) = Session::connect(profile(&proxy.url(), TransportChoice::Ws), opts);
        let mut events = Events::new(rx);
        events
            .wait_for("connected", secs(10), |e| {
                is_status(e, ConnectionStatus::Connected)
            })
            .await;
        sessions.push((s, events));
    }
    let before = proxy.accepted_at().len();
    let cut_at = tokio::time::Instant::now();
    proxy.cut();
    for (_, events) in sessions.iter_mut() {
        events
            .wait_for("back", secs(10), |e| {
                is_status(e, ConnectionStatus::Connected)
            })
            .await;
    }
    let times: Vec<u64> = proxy.accepted_at()[before..]
        .iter()
        .map(|t| t.duration_since(cut_at).as_millis() as u64)
        .collect();
    assert_eq!(times.len(), 50);
    let share = densest_window_share(&times);
    assert!(
        share <= 0.20,
        "{:.0}% of reconnects in one 500 ms window",
        share * 100.0
    );
    for (s, _) in sessions {
        s.close().await;
    }
    server.shutdown().await;
}
