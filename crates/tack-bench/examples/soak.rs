//! The abuse soak (bench/soak.sh runs it): ordinary clients chat in their rooms for the whole
//! run while hostile ones cycle through every abuse the server is meant to hold off. It reports
//! what an operator would ask: were any ordinary clients disconnected, how fast were their own
//! messages acknowledged (p50/p99), how did the server's memory move, and what was refused, by
//! kind.
//!
//!   cargo run --release -p tack-bench --example soak -- --url http://127.0.0.1:7999 \
//!       --control http://127.0.0.1:7998 --server-pid PID [--clients 1000] [--hostile 50] \
//!       [--duration 600] [--out FILE.json]
//!
//! Bounded: the counts and the duration are capped, and the targets must be on loopback.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    url: String,
    control: String,
    server_pid: Option<u32>,
    clients: usize,
    hostile: usize,
    duration: Duration,
    rooms: usize,
    out: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:7999".into(),
        control: "http://127.0.0.1:7998".into(),
        server_pid: None,
        clients: 1000,
        hostile: 50,
        duration: Duration::from_secs(600),
        rooms: 100,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value,
            "--control" => a.control = value,
            "--server-pid" => a.server_pid = Some(value.parse().expect("a pid")),
            "--clients" => a.clients = value.parse().expect("a count"),
            "--hostile" => a.hostile = value.parse().expect("a count"),
            "--duration" => a.duration = Duration::from_secs(value.parse().expect("seconds")),
            "--rooms" => a.rooms = value.parse().expect("a count"),
            "--out" => a.out = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        a.clients <= 20_000 && a.hostile <= 1_000,
        "counts are capped"
    );
    assert!(a.duration <= Duration::from_secs(3_600), "at most an hour");
    for url in [&a.url, &a.control] {
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"),
            "soak only targets loopback: {url}"
        );
    }
    a
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn ws_url(base: &str) -> String {
    format!("{}/ws", base.replacen("http://", "ws://", 1))
}

/// What everyone saw.
#[derive(Default)]
struct Tally {
    /// Ordinary clients whose connection ended while the run went on.
    disconnected: AtomicU64,
    /// Ack round trips of ordinary clients, in microseconds.
    acks: parking_lot::Mutex<Vec<u64>>,
    sent: AtomicU64,
    /// Refusals the abusers got, by kind (an error code, an HTTP status, a close code).
    refused: parking_lot::Mutex<BTreeMap<String, u64>>,
    /// Abuses attempted, by kind.
    abuses: parking_lot::Mutex<BTreeMap<&'static str, u64>>,
}

impl Tally {
    fn refused(&self, kind: String) {
        *self.refused.lock().entry(kind).or_default() += 1;
    }

    fn abuse(&self, kind: &'static str) {
        *self.abuses.lock().entry(kind).or_default() += 1;
    }
}

/// One ordinary client: enters its room and says something every ~5 s, timing each ack.
async fn ordinary(n: usize, args: Arc<Args>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let Ok((socket, _)) = tokio_tungstenite::connect_async(ws_url(&args.url)).await else {
        tally.disconnected.fetch_add(1, Relaxed);
        return;
    };
    let (mut tx, mut rx) = socket.split();
    let room = format!("room{}", n % args.rooms);
    let _ = tx
        .send(Message::text(format!(r#"hello:{{"nick":"user{n}"}}"#)))
        .await;
    let _ = tx
        .send(Message::text(format!(
            r#"chatRoomEnter:{{"room":"{room}"}}"#
        )))
        .await;
    let mut pending: BTreeMap<String, Instant> = BTreeMap::new();
    // Spread the clients' messages over the interval.
    let mut next = Instant::now() + Duration::from_millis((n as u64 * 37) % 5_000);
    let mut count = 0u64;
    while !stop.load(Relaxed) {
        let wait = next.saturating_duration_since(Instant::now());
        tokio::select! {
            message = rx.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    // Server events are JSON objects with a `type`; only acks are timed.
                    if text.contains(r#""type":"ack""#) {
                        let ack: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        if let Some(sent) = ack["cid"].as_str().and_then(|cid| pending.remove(cid)) {
                            tally.acks.lock().push(sent.elapsed().as_micros() as u64);
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => {
                    if !stop.load(Relaxed) {
                        tally.disconnected.fetch_add(1, Relaxed);
                    }
                    return;
                }
            },
            _ = tokio::time::sleep(wait) => {
                count += 1;
                let cid = format!("u{n}-{count}");
                let frame = format!(r#"chatMessage:{{"room":"{room}","comment":"hello {count}","cid":"{cid}"}}"#);
                pending.insert(cid, Instant::now());
                tally.sent.fetch_add(1, Relaxed);
                if tx.send(Message::text(frame)).await.is_err() {
                    tally.disconnected.fetch_add(1, Relaxed);
                    return;
                }
                next += Duration::from_secs(5);
            }
        }
    }
    let _ = tx.send(Message::Close(None)).await;
}

/// Reads a WebSocket's frames for `within`, counting every `error` by code.
async fn count_errors<S>(rx: &mut S, tally: &Tally, within: Duration)
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, rx.next()).await {
        match message {
            Ok(Message::Text(text)) => {
                if text.contains(r#""type":"error""#) {
                    let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    tally.refused(error["code"].as_str().unwrap_or("?").to_owned());
                }
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                tally.refused(format!("close {code}"));
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// One hostile client: every abuse in turn, again and again, until the run ends.
async fn hostile(n: usize, args: Arc<Args>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut round = 0u64;
    while !stop.load(Relaxed) {
        round += 1;
        match round % 7 {
            // Enter/leave loop in a busy room.
            0 => {
                tally.abuse("enter/leave loop");
                if let Ok((socket, _)) = tokio_tungstenite::connect_async(ws_url(&args.url)).await {
                    let (mut tx, mut rx) = socket.split();
                    let room = format!("room{}", n % args.rooms);
                    for _ in 0..300 {
                        let _ = tx
                            .send(Message::text(format!(
                                r#"chatRoomEnter:{{"room":"{room}"}}"#
                            )))
                            .await;
                        let _ = tx
                            .send(Message::text(format!(
                                r#"chatRoomLeave:{{"room":"{room}"}}"#
                            )))
                            .await;
                    }
                    count_errors(&mut rx, &tally, Duration::from_secs(2)).await;
                }
            }
            // A new channel for every name it can think of.
            1 => {
                tally.abuse("channel flood");
                if let Ok((socket, _)) = tokio_tungstenite::connect_async(ws_url(&args.url)).await {
                    let (mut tx, mut rx) = socket.split();
                    for c in 0..200 {
                        let _ = tx
                            .send(Message::text(format!(
                                r#"watch:{{"channel":"junk-{n}-{round}-{c}"}}"#
                            )))
                            .await;
                    }
                    count_errors(&mut rx, &tally, Duration::from_secs(2)).await;
                }
            }
            // Malformed and out-of-range frames.
            2 => {
                tally.abuse("malformed frames");
                if let Ok((socket, _)) = tokio_tungstenite::connect_async(ws_url(&args.url)).await {
                    let (mut tx, mut rx) = socket.split();
                    for frame in [
                        "no colon".to_owned(),
                        "chatMessage:{nope".to_owned(),
                        r#"chatRoomEnter:{"room":"lobby","since":18446744073709551615}"#.to_owned(),
                        format!(r#"chatRoomEnter:{{"room":"{}"}}"#, "x".repeat(100)),
                        r#"hello:{"nick":"ad\u202emin"}"#.to_owned(),
                    ] {
                        let _ = tx.send(Message::text(frame)).await;
                    }
                    let _ = tx
                        .send(Message::text(format!(
                            r#"chatMessage:{{"room":"a","comment":"{}"}}"#,
                            "x".repeat(20_000)
                        )))
                        .await;
                    count_errors(&mut rx, &tally, Duration::from_secs(2)).await;
                }
            }
            // Enter a busy room and never read.
            3 => {
                tally.abuse("stops reading");
                if let Ok((socket, _)) = tokio_tungstenite::connect_async(ws_url(&args.url)).await {
                    let (mut tx, rx) = socket.split();
                    let room = format!("room{}", n % args.rooms);
                    let _ = tx
                        .send(Message::text(format!(
                            r#"chatRoomEnter:{{"room":"{room}"}}"#
                        )))
                        .await;
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    drop((tx, rx));
                }
            }
            // Headers that never finish.
            4 => {
                tally.abuse("slow headers");
                let addr = args.url.trim_start_matches("http://").to_owned();
                if let Ok(mut socket) = tokio::net::TcpStream::connect(&addr).await {
                    let _ = socket
                        .write_all(b"GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                        .await;
                    let mut buf = [0u8; 256];
                    let closed = tokio::time::timeout(Duration::from_secs(30), async {
                        use tokio::io::AsyncReadExt;
                        loop {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                        }
                    })
                    .await;
                    if closed.is_ok() {
                        tally.refused("closed: header timeout".into());
                    }
                }
            }
            // Many HTTP sessions and a query naming thousands of rooms.
            5 => {
                tally.abuse("http flood");
                for s in 0..20 {
                    if let Ok(answer) = http
                        .get(format!("{}/poll?nick=h{n}x{s}&timeout=1", args.url))
                        .send()
                        .await
                    {
                        if !answer.status().is_success() {
                            tally.refused(format!("http {}", answer.status().as_u16()));
                        }
                    }
                }
                let rooms: Vec<String> = (0..3_000).map(|r| format!("r{r}")).collect();
                if let Ok(answer) = http
                    .get(format!("{}/poll?rooms={}", args.url, rooms.join(",")))
                    .send()
                    .await
                {
                    tally.refused(format!(
                        "http {} (too many rooms)",
                        answer.status().as_u16()
                    ));
                }
            }
            // Publishing bad names, and publishing from a web page.
            _ => {
                tally.abuse("bad publishes");
                let bad = json!({"items": [{"channel": "x".repeat(10_000), "formats": {"ws-message": {"content": "x"}}}]});
                if let Ok(answer) = http
                    .post(format!("{}/publish/", args.control))
                    .json(&bad)
                    .send()
                    .await
                {
                    tally.refused(format!("publish {}", answer.status().as_u16()));
                }
                let page = http
                    .post(format!("{}/publish/", args.control))
                    .header("Origin", "http://evil.example")
                    .json(&json!({"items": [{"channel": "room0", "formats": {"ws-message": {"content": "x"}}}]}))
                    .send()
                    .await;
                if let Ok(answer) = page {
                    tally.refused(format!("publish {} (web page)", answer.status().as_u16()));
                }
            }
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    let _ = rlimit::increase_nofile_limit(65_536);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rss_start = args.server_pid.and_then(rss_bytes);
    let mut tasks = Vec::new();
    for n in 0..args.clients {
        tasks.push(tokio::spawn(ordinary(
            n,
            args.clone(),
            tally.clone(),
            stop.clone(),
        )));
        if n % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let ramped = Instant::now();
    let rss_ready = args.server_pid.and_then(rss_bytes);
    let mut abusers = Vec::new();
    for n in 0..args.hostile {
        abusers.push(tokio::spawn(hostile(
            n,
            args.clone(),
            tally.clone(),
            stop.clone(),
        )));
    }
    let mut rss_samples = Vec::new();
    while ramped.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_secs(10)).await;
        if let Some(rss) = args.server_pid.and_then(rss_bytes) {
            rss_samples.push(rss);
        }
        eprintln!(
            "soak: {:>4}s sent {} acked {} disconnected {}",
            ramped.elapsed().as_secs(),
            tally.sent.load(Relaxed),
            tally.acks.lock().len(),
            tally.disconnected.load(Relaxed)
        );
    }
    let rss_end = args.server_pid.and_then(rss_bytes);
    stop.store(true, Relaxed);
    for task in abusers {
        task.abort();
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    let mut acks = std::mem::take(&mut *tally.acks.lock());
    acks.sort_unstable();
    let report = json!({
        "clients": args.clients,
        "hostile": args.hostile,
        "duration_secs": args.duration.as_secs(),
        "ordinary_disconnected": tally.disconnected.load(Relaxed),
        "messages_sent": tally.sent.load(Relaxed),
        "messages_acked": acks.len(),
        "ack_p50_ms": percentile(&acks, 0.50),
        "ack_p99_ms": percentile(&acks, 0.99),
        "ack_max_ms": percentile(&acks, 1.0),
        "rss_start_bytes": rss_start,
        "rss_ready_bytes": rss_ready,
        "rss_end_bytes": rss_end,
        "rss_max_bytes": rss_samples.iter().max(),
        // One sample a minute: whether memory levels off once history is full, or keeps going.
        "rss_per_minute_bytes": rss_samples.iter().step_by(6).collect::<Vec<_>>(),
        "abuses": *tally.abuses.lock(),
        "refused": *tally.refused.lock(),
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, text).expect("write the report");
    }
}
