//! Engine ingest: small `raw` events from one WebSocket into batched `ClientEvent`s, with the
//! engine on one single-threaded runtime (one core). The sending server runs on its own thread
//! and pre-serializes every frame so it is not what is measured.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tack_client::{ClientEvent, Profile, Session, SessionOptions, TransportChoice};
use tokio_tungstenite::tungstenite::Message;

const MESSAGES: u64 = 50_000;

/// A server that greets, and on `watch` sends `MESSAGES` raw items of ~100 bytes.
fn start_server() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let frames: Vec<Message> = (1..=MESSAGES)
                .map(|id| {
                    Message::text(format!(
                        r#"{{"type":"raw","channel":"bench","id":{id},"ts":1700000000000,"payload":"{}"}}"#,
                        "x".repeat(40)
                    ))
                })
                .collect();
            let welcome = Message::text(
                r#"{"type":"welcome","session":"s","nick":"n","heartbeat":25,"server":"tack/bench"}"#,
            );
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let frames = frames.clone();
                let welcome = welcome.clone();
                tokio::spawn(async move {
                    let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                    let (mut sink, mut stream) = ws.split();
                    sink.send(welcome).await.unwrap();
                    while let Some(Ok(msg)) = stream.next().await {
                        if msg.to_text().unwrap_or_default().starts_with("watch:") {
                            for f in frames.iter().cloned() {
                                if sink.feed(f).await.is_err() {
                                    return;
                                }
                            }
                            let _ = sink.flush().await;
                        }
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

async fn ingest_once(url: &str) -> Duration {
    let mut profile = Profile::new("bench", url);
    profile.transport = TransportChoice::Ws;
    let (session, mut rx) = Session::connect(profile, SessionOptions::default());
    let start = Instant::now();
    session.watch("bench").unwrap();
    let mut seen = 0u64;
    while seen < MESSAGES {
        let batch = rx.recv().await.expect("events");
        seen += batch
            .iter()
            .filter(|e| matches!(e, ClientEvent::Raw { .. }))
            .count() as u64;
    }
    let elapsed = start.elapsed();
    session.close().await;
    elapsed
}

fn ingest(c: &mut Criterion) {
    let addr = start_server();
    let url = format!("http://{addr}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(10);
    group.bench_function("ingest_ws_raw_100B", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(ingest_once(&url));
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
