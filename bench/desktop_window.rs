//! Benchmark: the real desktop window under a firehose.
//!
//! Launches the app (`TACK_DESKTOP_BIN`, a release build) through tauri-driver on the X display
//! in `DISPLAY`, measures how long until the window is interactive and its idle memory, then
//! watches a channel that a publisher fills at `--rate` messages/s for `--seconds`, sampling the
//! webview's frame rate (`window.__tackPerf.fps`), a script round trip (is the page's main
//! thread free?) and the memory (PSS) of the app and its WebKit processes.
//!
//! "Memory flat under load" is reported as a measured trend, not a first/last pair: the
//! least-squares slope of PSS (MB per minute) over the samples once the run has settled (at
//! least 10 s in and the window's log full: until then memory grows by design), with the band
//! (min-max) those samples moved in, for the total and for each process. The CPU each
//! process used during the load is reported too: frames/s stops at 60, CPU does not.
//!
//! Launch → interactive is measured from the app process's own start (read from `/proc`) to
//! the moment the UI reports its composer painted and usable (`__tackPerf.interactiveAt`), so
//! tauri-driver's and WebKitWebDriver's session setup is not counted. The old figure (WebDriver
//! session request → composer in the DOM, not yet painted) is reported beside it.
//!
//! `--hide-log` switches back to the lobby once the channel is watched: items still arrive and
//! are counted, but the log is not drawn — where the webview's time goes, by difference.
//!
//! `--jq EXPR` filters the monitor with that jq expression (run by the engine on every item)
//! before the load starts: the frame rate then says whether jq keeps up at `--rate`. The items
//! are `{"n":N,"kind":"order","amount":N % 997,"note":"firehose item"}`, so
//! `select(.amount > 500)` keeps about half.
//!
//! The floor: with `TACK_FLOOR_BIN` (the `empty-window` example, an empty Tauri window built
//! like the app), the bench first measures that window's idle memory the same way, and reports
//! Tack's own share as the app's idle memory minus the floor.
//!
//! ```sh
//! cargo build --release -p tack-desktop --bins --examples
//! TACK_DESKTOP_BIN=target/release/tack-desktop TACK_FLOOR_BIN=target/release/examples/empty-window \
//!   xvfb-run -a target/release/examples/desktop-bench --rate 10000 --seconds 60
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use fantoccini::key::Key;
use serde_json::json;
use std::time::{Duration, Instant};
use support::desktop::Desktop;
use tack_server::ServerConfig;

struct Args {
    rate: u64,
    seconds: u64,
    hide_log: bool,
    sample_every: u64,
    jq: Option<String>,
}

/// The trend starts no earlier than this (the engine's ring fills in ~5 s at 10,000 msg/s), and
/// not before the window's log stops growing (its ring is full).
const SETTLE: Duration = Duration::from_secs(10);

fn args() -> Args {
    let mut args = Args {
        rate: 10_000,
        seconds: 60,
        hide_log: false,
        sample_every: 2,
        jq: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--hide-log" {
            args.hide_log = true;
            continue;
        }
        if flag == "--jq" {
            args.jq = Some(it.next().expect("--jq takes an expression"));
            continue;
        }
        let value = it.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--rate", Some(v)) => args.rate = v,
            ("--seconds", Some(v)) => args.seconds = v.min(600),
            ("--sample-every", Some(v)) => args.sample_every = v.clamp(1, 60),
            _ => panic!(
                "usage: desktop-bench [--rate N] [--seconds N (max 600)] [--sample-every S] [--hide-log] [--jq EXPR]"
            ),
        }
    }
    args
}

/// From the app process's start to the UI's "composer painted and usable" mark; `None` when
/// the UI does not report it (an older build).
async fn interactive_since_process_start(app: &Desktop) -> Option<Duration> {
    let started = app.app_started_at()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let at = app
            .client
            .execute("return window.__tackPerf?.interactiveAt ?? null", vec![])
            .await
            .ok()?;
        if let Some(ms) = at.as_f64() {
            let at = std::time::UNIX_EPOCH + Duration::from_secs_f64(ms / 1000.0);
            return at.duration_since(started).ok();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// How a series of (seconds, MB) samples moved: least-squares slope in MB per minute, and the
/// band it stayed in. `None` with fewer than two samples.
fn trend(points: &[(f64, f64)]) -> Option<serde_json::Value> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let var_t: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    let cov: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean_y)).sum();
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    Some(json!({
        "slope_mb_per_min": tenths(cov / var_t * 60.0),
        "min_mb": tenths(min),
        "max_mb": tenths(max),
        "samples": points.len(),
    }))
}

/// Idle memory (PSS, MB) of the empty window at `bin` and the WebKit processes it starts: the
/// same reading as the app's, 5 s after its web process appears. `None` without a web process
/// within 20 s.
async fn floor_idle_pss(bin: &str) -> Option<(f64, serde_json::Value)> {
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(bin)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the empty window starts");
    let group = child.id() as i64;
    let processes = || support::desktop::processes_in_group(group);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut web = false;
    while Instant::now() < deadline && !web {
        web = processes()
            .iter()
            .any(|p| p.comm.starts_with("WebKitWebProces"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let measured = if web {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut by_process = serde_json::Map::new();
        let mut total = 0;
        for p in processes() {
            let pss = p.pss_bytes();
            total += pss;
            by_process.insert(format!("{} ({})", p.comm, p.pid), json!(tenths(mb(pss))));
        }
        Some((mb(total), serde_json::Value::Object(by_process)))
    } else {
        None
    };
    // The whole group: the WebKit processes end with it.
    let _ = std::process::Command::new("kill")
        .args(["--", &format!("-{group}")])
        .status();
    let _ = child.wait();
    measured
}

#[tokio::main]
async fn main() {
    let args = args();
    let floor = match std::env::var("TACK_FLOOR_BIN") {
        Ok(bin) => floor_idle_pss(&bin).await,
        Err(_) => None,
    };
    let server = tack_server::spawn(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections: 1000,
        ..ServerConfig::on_free_loopback_ports()
    })
    .await
    .expect("server starts");
    let url = server.url();

    let launched = Instant::now();
    let mut app = Desktop::launch("bench", &["--connect", &url]).await;
    app.find("composer").await;
    let webdriver_figure = launched.elapsed();
    let interactive = interactive_since_process_start(&app).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;

    // Idle: connected, in the lobby, nothing happening.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut idle_by_process = serde_json::Map::new();
    let mut idle_pss = 0;
    for p in app.app_processes() {
        let pss = p.pss_bytes();
        idle_pss += pss;
        let key = format!("{} ({})", p.comm, p.pid);
        idle_by_process.insert(key, json!(tenths(mb(pss))));
    }

    app.click("add-channel").await;
    app.type_into(
        "watch-input",
        &format!("firehose{}", char::from(Key::Enter)),
    )
    .await;
    app.find("channel-firehose").await;
    if let Some(expression) = &args.jq {
        app.click("monitor-mode-jq").await;
        app.type_into(
            "monitor-jq-filter",
            &format!("{expression}{}", char::from(Key::Enter)),
        )
        .await;
        // The engine compiled it and it is in force (a refused one would show its error).
        let what = format!("the jq filter {expression:?} applied");
        app.eventually("jq-applied", &what, async |app| {
            let applied = app
                .find("monitor-jq")
                .await
                .attr("data-applied-filter")
                .await
                .ok()
                .flatten();
            if applied.as_deref() == Some(expression.as_str()) {
                Ok(())
            } else {
                Err(format!("{applied:?}"))
            }
        })
        .await;
    }
    if args.hide_log {
        app.click("room-lobby").await;
    }

    // The publisher: `rate` messages/s in 100 requests/s, each a batch of items, bounded by
    // `seconds`.
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let per_tick = (args.rate / 100).max(1) as usize;
    let publish_url = format!("{}/publish/", server.control_url());
    let publisher = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut sent = 0u64;
        while Instant::now() < deadline {
            tick.tick().await;
            let items: Vec<_> = (0..per_tick)
                .map(|i| {
                    let n = sent + i as u64;
                    json!({"channel": "firehose", "formats": {"ws-message": {
                        "content": format!("{{\"n\":{n},\"kind\":\"order\",\"amount\":{},\"note\":\"firehose item\"}}", n % 997)
                    }}})
                })
                .collect();
            if http
                .post(&publish_url)
                .json(&json!({ "items": items }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                sent += per_tick as u64;
            }
        }
        sent
    });

    let started = Instant::now();
    let cpu_at_start: Vec<(u32, Duration)> = app
        .app_processes()
        .iter()
        .map(|p| (p.pid, p.cpu_time()))
        .collect();
    let mut samples = Vec::new();
    // After the settle time: (seconds, MB) of the total and of each process.
    let mut settled: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut settled_at: Option<u64> = None;
    let mut log_before: Option<u64> = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(args.sample_every)).await;
        let probe_started = Instant::now();
        let probe = app
            .client
            .execute(
                "const p = window.__tackPerf; return { fps: p.fps, buffered: p.buffered, heap: p.heap }",
                vec![],
            )
            .await
            .expect("the page answers");
        let round_trip = probe_started.elapsed();
        let at = started.elapsed();
        let mut by_process = serde_json::Map::new();
        let mut pss = 0;
        let mut this_sample = Vec::new();
        for p in app.app_processes() {
            let bytes = p.pss_bytes();
            pss += bytes;
            this_sample.push((p.comm.clone(), mb(bytes)));
            by_process.insert(p.comm, json!(tenths(mb(bytes))));
        }
        let log = probe["buffered"]["log"].as_u64();
        if settled_at.is_none() && at >= SETTLE && log.is_some() && log == log_before {
            settled_at = Some(at.as_secs());
        }
        log_before = log;
        if settled_at.is_some() {
            this_sample.push(("total".to_owned(), mb(pss)));
            for (name, value) in this_sample {
                let t = at.as_secs_f64();
                match settled.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, series)) => series.push((t, value)),
                    None => settled.push((name, vec![(t, value)])),
                }
            }
        }
        let sample = json!({
            "t_s": at.as_secs(),
            "fps": probe["fps"],
            "script_round_trip_ms": round_trip.as_millis() as u64,
            "pss_mb": tenths(mb(pss)),
            "pss_by_process_mb": by_process,
            "buffered": probe["buffered"],
            "js_heap_mb": probe["heap"].as_f64().map(|h| tenths(mb(h as u64))),
        });
        eprintln!("{sample}");
        samples.push(sample);
    }
    let published = publisher.await.expect("publisher ran");
    let elapsed = started.elapsed().as_secs_f64();

    // Still responsive after the run: typing works.
    app.click("room-lobby").await;
    app.type_into("composer", "still typing").await;

    let fps: Vec<f64> = samples.iter().filter_map(|s| s["fps"].as_f64()).collect();
    let mut sorted = fps.clone();
    sorted.sort_by(f64::total_cmp);
    let rss: Vec<f64> = samples
        .iter()
        .filter_map(|s| s["pss_mb"].as_f64())
        .collect();
    let mut trends = serde_json::Map::new();
    for (name, series) in &settled {
        if let Some(t) = trend(series) {
            trends.insert(name.clone(), t);
        }
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let mut cpu = serde_json::Map::new();
    for p in app.app_processes() {
        let before = cpu_at_start.iter().find(|(pid, _)| *pid == p.pid);
        let used = p
            .cpu_time()
            .saturating_sub(before.map_or(Duration::ZERO, |b| b.1));
        cpu.insert(
            p.comm,
            json!(tenths(used.as_secs_f64() / load_seconds * 100.0)),
        );
    }
    let report = json!({
        "interactive_from_process_start_ms": interactive.map(|d| d.as_millis() as u64),
        "webdriver_session_to_composer_in_dom_ms": webdriver_figure.as_millis() as u64,
        "idle_pss_mb": tenths(mb(idle_pss)),
        "idle_pss_by_process_mb": idle_by_process,
        "floor_idle_pss_mb": floor.as_ref().map(|(total, _)| tenths(*total)),
        "floor_idle_pss_by_process_mb": floor.as_ref().map(|(_, by)| by.clone()),
        "tack_own_idle_pss_mb": floor.as_ref().map(|(total, _)| tenths(mb(idle_pss) - total)),
        "log_drawn": !args.hide_log,
        "jq_filter": args.jq,
        "published": published,
        "published_per_s": (published as f64 / elapsed).round(),
        "fps_min": sorted.first(),
        "fps_median": sorted.get(sorted.len() / 2),
        "pss_first_sample_mb": rss.first(),
        "pss_last_sample_mb": rss.last(),
        "pss_max_mb": rss.iter().cloned().fold(0.0, f64::max),
        "pss_trend_after_settle": trends,
        "settled_at_s": settled_at,
        "cpu_percent_under_load": cpu,
        "samples": samples,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    app.quit().await;
    server.shutdown().await;
}
