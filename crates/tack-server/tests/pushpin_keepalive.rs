//! The WebSocket keep-alive an operator configures is the one Pushpin keeps: an idle
//! WebSocket through the real Pushpin makes Pushpin ask the origin every
//! `ws_keepalive_interval_secs` (`--ws-keepalive-interval`), not at its own 20 s.

use std::time::{Duration, Instant};
use tack_testkit::clients::{Client, Via};
use tack_testkit::stage::Stage;

/// Longer than Pushpin's minimum (and the default), so an early keep-alive tells them apart.
const INTERVAL: u32 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_is_kept_at_the_configured_interval() {
    let stage = Stage::start_with(1, |config| config.ws_keepalive_interval_secs = INTERVAL).await;
    let mut keepalives = stage
        .origin
        .origin()
        .unwrap()
        .websocket_keepalives
        .subscribe();
    let client = Client::connect(stage.front(0), Via::WebSocket, "idle").await;
    // From here on the client says nothing: the next request is Pushpin's keep-alive.
    let idle_since = Instant::now();
    tokio::time::timeout(Duration::from_secs(40), keepalives.wait_for(|n| *n >= 1))
        .await
        .expect("Pushpin asked the origin again for the idle WebSocket within 40 s")
        .unwrap();
    let waited = idle_since.elapsed();
    assert!(
        waited >= Duration::from_secs(u64::from(INTERVAL) - 2),
        "the first keep-alive came after {waited:?}: Pushpin did not keep the configured {INTERVAL} s"
    );
    // The keep-alive kept the connection: it is still counted.
    assert_eq!(stage.origin.origin().unwrap().connections.len(), 1);
    client.close().await;
    stage.origin.shutdown().await;
}
