//! Benchmark: a million-item recording in the real desktop window.
//!
//! Writes a recording of `--items` items (default 1,000,000; one every millisecond, ~100-byte
//! JSON payloads, in the export's format) and measures:
//!
//! - how long the engine takes to read it (`recording::read_file`, the function the shell's
//!   `open_recording` runs), here in this process;
//! - how long the window takes to open it: from the open dialog taking the path (picked at the
//!   keyboard, as in the stories) to the replay bar showing the recording's size;
//! - the window's frame rate (`window.__tackPerf.fps`: requestAnimationFrame counted over the
//!   last second) sampled every half second while the whole recording replays as fast as
//!   possible, and how long that replay took.
//!
//! ```sh
//! cargo build --release -p tack-desktop
//! TACK_DESKTOP_BIN=target/release/tack-desktop xvfb-run -a -s '-screen 0 1400x900x24' \
//!   cargo run --release --example replay-bench -- --items 1000000
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};
use support::desktop::{pick_in_dialog, Desktop};
use tack_server::ServerConfig;

fn items_arg() -> usize {
    let mut it = std::env::args().skip(1);
    let mut items = 1_000_000;
    while let Some(flag) = it.next() {
        match (flag.as_str(), it.next().and_then(|v| v.parse().ok())) {
            ("--items", Some(n)) => items = n,
            _ => panic!("usage: replay-bench [--items N]"),
        }
    }
    items
}

/// A recording of `items` items on channel `market`, one a millisecond.
fn write_recording(path: &std::path::Path, items: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let start = 1_765_000_000_000u64;
    for n in 0..items {
        let at = start + n as u64;
        writeln!(
            out,
            r#"{{"channel":"market","id":{},"ts":{at},"received":{at},"payload":"{{\"n\":{n},\"type\":\"ticker\",\"sym\":\"ACME\",\"price\":{}.25,\"note\":\"replayed item\"}}"}}"#,
            n + 1,
            100 + n % 97
        )
        .expect("write");
    }
    out.flush().expect("flush");
}

/// The replay bar's "position / total" as numbers.
async fn progress(app: &Desktop) -> Option<(u64, u64)> {
    let text = app
        .client
        .execute(
            "return document.querySelector('[data-testid=\"replay-progress\"]')?.textContent ?? null",
            vec![],
        )
        .await
        .ok()?;
    let text = text.as_str()?.replace(',', "");
    let mut parts = text.split_whitespace();
    let position = parts.next()?.parse().ok()?;
    parts.next();
    let total = parts.next()?.parse().ok()?;
    Some((position, total))
}

#[tokio::main]
async fn main() {
    let items = items_arg();
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("market-recording.jsonl");
    write_recording(&path, items);
    let file_mb = std::fs::metadata(&path).expect("written").len() as f64 / 1e6;

    let started = Instant::now();
    let records = tack_client::recording::read_file(&path, 2_000_000).expect("it reads");
    let engine_read = started.elapsed();
    assert_eq!(records.len(), items);
    drop(records);

    let server = tack_server::spawn(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::on_free_loopback_ports()
    })
    .await
    .expect("server starts");
    let mut app = Desktop::launch("replay-bench", &["--connect", &server.url()]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    // The monitor, on a channel of its own (the recording's items show under theirs).
    app.click("add-channel").await;
    app.type_into("watch-input", "market\u{e007}").await;
    app.find("channel-market").await;

    app.click("monitor-open").await;
    pick_in_dialog("Open a recording", &path).await;
    let asked = Instant::now();
    let deadline = asked + Duration::from_secs(120);
    while progress(&app).await != Some((0, items as u64)) {
        assert!(Instant::now() < deadline, "the recording never opened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let window_open = asked.elapsed();
    eprintln!("engine read {engine_read:?}, window open {window_open:?}");

    // As fast as possible, the whole recording: every frame the page draws is counted, and
    // the longest gap between two (the worst frame) is kept.
    app.client
        .execute(
            "const c = window.__replayFrames = { n: 0, worst: 0, last: performance.now(), start: performance.now() }; \
             const f = (t) => { c.worst = Math.max(c.worst, t - c.last); c.last = t; c.n++; if (!c.stop) requestAnimationFrame(f); }; \
             requestAnimationFrame(f);",
            vec![],
        )
        .await
        .expect("the page answers");
    app.click("replay-speed-max").await;
    app.click("replay-play").await;
    let playing = Instant::now();
    let deadline = playing + Duration::from_secs(600);
    while progress(&app).await.is_none_or(|(p, t)| p != t) {
        assert!(Instant::now() < deadline, "the replay never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let replay = playing.elapsed();
    let frames = app
        .client
        .execute(
            "const c = window.__replayFrames; c.stop = true; \
             return { frames: c.n, ms: performance.now() - c.start, worst_ms: c.worst }",
            vec![],
        )
        .await
        .expect("the page answers");
    let fast_fps =
        frames["frames"].as_f64().unwrap_or(0.0) * 1000.0 / frames["ms"].as_f64().unwrap_or(1.0);
    app.screenshot("replayed-as-fast-as-possible").await;

    // Sustained: from the start again at 100x (100,000 items/s), frames/s sampled every half
    // second for eight seconds (the whole recording takes ten).
    app.click("replay-speed-100").await;
    app.type_into("replay-seek", "0\u{e007}").await;
    while progress(&app).await.is_none_or(|(p, _)| p != 0) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.click("replay-play").await;
    let mut fps = Vec::new();
    let mut samples = Vec::new();
    let sustained = Instant::now();
    while sustained.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let probe = app
            .client
            .execute("return window.__tackPerf.fps", vec![])
            .await
            .expect("the page answers");
        let at = progress(&app).await;
        // The first second counts frames from before the replay started.
        if sustained.elapsed() >= Duration::from_secs(1) {
            fps.extend(probe.as_f64());
        }
        samples.push(json!({"t_ms": sustained.elapsed().as_millis() as u64, "fps": probe, "position": at.map(|p| p.0)}));
    }
    let position_after_8s = progress(&app).await.map(|p| p.0);
    app.screenshot("replaying-at-100x").await;
    app.click("replay-pause").await;
    let mut sorted = fps.clone();
    sorted.sort_by(f64::total_cmp);
    let report = json!({
        "items": items,
        "file_mb": (file_mb * 10.0).round() / 10.0,
        "engine_read_ms": engine_read.as_millis() as u64,
        "window_open_ms": window_open.as_millis() as u64,
        "as_fast_as_possible": {
            "replay_ms": replay.as_millis() as u64,
            "items_per_s": (items as f64 / replay.as_secs_f64()).round(),
            "frames": frames["frames"],
            "fps": (fast_fps * 10.0).round() / 10.0,
            "worst_frame_ms": frames["worst_ms"].as_f64().map(|w| (w * 10.0).round() / 10.0),
        },
        "at_100x_for_8s": {
            "items_replayed": position_after_8s,
            "fps_min": sorted.first(),
            "fps_median": sorted.get(sorted.len() / 2),
            "samples": samples,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    app.quit().await;
    server.shutdown().await;
}
