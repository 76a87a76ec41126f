//! A measurement, not a check (run with `--ignored --nocapture`): one room, 100 WebSocket
//! subscribers through one Pushpin, one sender at a steady rate; prints how many deliveries
//! arrived and their latency. On a shared 2-core machine (debug build, load ~7) it printed
//! 20,000 of 20,000 at 50 messages/s (p50 46 ms, p99 164 ms) and 20,000 of 20,000 at
//! 200 messages/s (p50 435 ms, p99 1.2 s: Pushpin's own ceiling, ~55 µs of CPU per delivery).

use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tack_testkit::clients::{ws_url, Client, Via};
use tack_testkit::stage::Stage;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIBERS: usize = 100;
const MESSAGES: usize = 200;
const EVERY: Duration = Duration::from_millis(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; prints numbers"]
async fn fanout_latency_through_pushpin() {
    let stage = Stage::start_with(1, |c| {
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;
    let front = stage.front(0);
    Client::connect(&front, Via::WebSocket, "probe").await;
    let ws = ws_url(front.url());
    let mut sockets = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let (mut s, _) = tokio_tungstenite::connect_async(&ws).await.unwrap();
        s.send(Message::text(r#"chatRoomEnter:{"room":"bench"}"#))
            .await
            .unwrap();
        sockets.push(s);
        // Pushpin 1.36 answers 502 to bursts of hundreds of simultaneous handshakes.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    for mut s in sockets {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(Ok(Message::Text(t)))) =
                tokio::time::timeout(Duration::from_secs(10), s.next()).await
            {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "chatMessage" {
                    let sent: u64 = v["comment"].as_str().unwrap().parse().unwrap();
                    let _ = tx.send(t0.elapsed().as_micros() as u64 - sent);
                }
            }
        });
    }
    drop(tx);
    let mut sender = Client::connect(&front, Via::WebSocket, "sender").await;
    sender.enter("bench").await;
    let started = tokio::time::Instant::now();
    for i in 1..=MESSAGES {
        let at = t0.elapsed().as_micros();
        sender
            .send(&format!(
                r#"chatMessage:{{"room":"bench","comment":"{at}"}}"#
            ))
            .await;
        tokio::time::sleep_until(started + EVERY * i as u32).await;
    }
    let mut latencies = Vec::new();
    while let Ok(Some(l)) = tokio::time::timeout(Duration::from_secs(12), rx.recv()).await {
        latencies.push(l);
        if latencies.len() == SUBSCRIBERS * MESSAGES {
            break;
        }
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
        latencies[i] as f64 / 1000.0
    };
    eprintln!(
        "{} of {} deliveries; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} messages/s to {SUBSCRIBERS} subscribers)",
        latencies.len(),
        SUBSCRIBERS * MESSAGES,
        at(0.5),
        at(0.99),
        at(1.0),
        1000 / EVERY.as_millis()
    );
    stage.origin.shutdown().await;
}
