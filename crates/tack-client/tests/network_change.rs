//! The OS says the network changed, or the machine woke up: the engine checks its connection
//! at once instead of waiting out a heartbeat, and stops waiting out a backoff.

use std::time::Duration;
use tack_client::{BackoffPolicy, ClientEvent, ConnectionStatus, Session, TransportChoice};
use tack_testkit::engine::{is_status, now_ms, profile, quick_options, secs, Events};
use tack_testkit::fault_proxy::FaultProxy;
use tack_testkit::server::{no_rate_limit, start_with};

/// A heartbeat so long that only a network change can explain a quick reaction.
fn slow_heartbeat() -> tack_client::SessionOptions {
    tack_client::SessionOptions {
        heartbeat: Duration::from_secs(120),
        ..quick_options()
    }
}

#[tokio::test]
async fn a_network_change_while_waiting_an_hour_to_retry_retries_at_once() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    proxy.set_down(true);
    let mut options = quick_options();
    options.backoff = BackoffPolicy {
        base: Duration::from_secs(3600),
        cap: Duration::from_secs(3600),
        ..options.backoff
    };
    options.seed = Some(7);
    let (session, rx) = Session::connect(profile(&proxy.url(), TransportChoice::Ws), options);
    let mut events = Events::new(rx);
    let ev = events
        .wait_for(
            "a scheduled retry",
            secs(10),
            |e| matches!(e, ClientEvent::State(s) if s.retry_at.is_some()),
        )
        .await;
    let ClientEvent::State(s) = ev else {
        unreachable!()
    };
    let wait = s.retry_at.unwrap().saturating_sub(now_ms());
    assert!(
        wait > 60_000,
        "the story needs a long backoff, got {wait} ms"
    );

    proxy.set_down(false);
    session.network_changed();
    events
        .wait_for("connected long before the backoff ends", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_network_change_drops_a_dead_connection_within_seconds_and_reconnects() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (session, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), slow_heartbeat());
    let mut events = Events::new(rx);
    events
        .wait_for("connected", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    // The Wi-Fi changed under us: the socket is open but nothing gets through any more.
    proxy.stall(true);
    session.network_changed();
    let ev = events
        .wait_for("the dead link noticed", secs(10), |e| {
            is_status(e, ConnectionStatus::Reconnecting)
        })
        .await;
    let ClientEvent::State(s) = ev else {
        unreachable!()
    };
    assert!(
        s.reason
            .as_deref()
            .unwrap_or("")
            .contains("no sign of life"),
        "{s:?}"
    );
    proxy.stall(false);
    events
        .wait_for("connected again", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_network_change_on_a_healthy_connection_keeps_it() {
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (session, rx) =
        Session::connect(profile(&proxy.url(), TransportChoice::Ws), slow_heartbeat());
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    events
        .wait_for("joined", secs(10), |e| {
            matches!(e, ClientEvent::Joined { .. })
        })
        .await;
    session.network_changed();
    session.send("lobby", "still here").unwrap();
    events
        .wait_for(
            "the message",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "still here"),
        )
        .await;
    // The check's deadline (3 s) passes with the answer in: nothing else happens.
    let until = tokio::time::Instant::now() + secs(4);
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        match events.next(left).await {
            Some(ev) => assert!(!matches!(ev, ClientEvent::State(_)), "{ev:?}"),
            None => break,
        }
    }
    assert_eq!(proxy.accepted(), 1, "the same connection all along");
    session.close().await;
    server.shutdown().await;
}

/// The real thing, in a network namespace of the test's own so the host's network is not
/// touched: server, proxy and client all live there, the client's watcher listens to that
/// namespace's kernel, and an address added to its loopback is the change.
#[cfg(target_os = "linux")]
#[test]
fn the_kernel_reporting_a_new_address_makes_the_engine_check_its_connection() {
    let story = std::thread::spawn(|| {
        // SAFETY: NEWNET only moves this thread (and what it starts) to a new network
        // namespace; the file table is untouched, so every descriptor stays valid.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
            .expect("a network namespace of our own (needs root, as the tests run)");
        ip(&["link", "set", "lo", "up"]);
        // One thread: everything the story starts stays in this namespace.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let server = start_with(no_rate_limit).await;
                let proxy = FaultProxy::start(server.local_addr()).await;
                let mut options = slow_heartbeat();
                options.watch_network = true;
                let (session, rx) =
                    Session::connect(profile(&proxy.url(), TransportChoice::Ws), options);
                let mut events = Events::new(rx);
                events
                    .wait_for("connected", secs(10), |e| {
                        is_status(e, ConnectionStatus::Connected)
                    })
                    .await;
                proxy.stall(true);
                ip(&["address", "add", "10.77.0.1/32", "dev", "lo"]);
                events
                    .wait_for("the dead link noticed", secs(10), |e| {
                        is_status(e, ConnectionStatus::Reconnecting)
                    })
                    .await;
                session.close().await;
                server.shutdown().await;
            });
    });
    story.join().expect("the story passes");
}

#[cfg(target_os = "linux")]
fn ip(args: &[&str]) {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .expect("`ip` (iproute2) runs");
    assert!(status.success(), "ip {args:?} failed");
}
