//! Record with `tack watch --json`, replay with `tack replay`, narrow with `tack watch --jq`:
//! the real binary against real servers started in the test.

use std::process::Stdio;
use std::time::{Duration, Instant};
use tack_client::monitor::Record;
use tack_protocol::publish::{Item, PublishBody};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const TACK: &str = env!("CARGO_BIN_EXE_tack");

/// How long a step may take before the story fails: far beyond what any step needs, so a slow
/// machine is never mistaken for a bug.
const PATIENCE: Duration = Duration::from_secs(30);

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(TACK);
    // The CLI remembers which transport worked in the user's cache; keep the tests' own.
    let cache = std::env::temp_dir().join(format!("tack-cli-tests-{}", std::process::id()));
    cmd.args(args)
        .env("XDG_CACHE_HOME", cache)
        .env_remove("TACK_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `tack` to the end; returns (exit code, stdout, stderr).
async fn tack(args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(PATIENCE, command(args).output())
        .await
        .unwrap_or_else(|_| panic!("tack {args:?} did not finish"))
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn publish(control: &str, channel: &str, text: &str) {
    let body = PublishBody {
        items: vec![Item::text_everywhere(channel, text)],
    };
    let resp = reqwest::Client::new()
        .post(format!("{control}/publish/"))
        .body(body.to_json())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "publish: {}", resp.status());
}

/// A `tack watch` running in the background, read line by line as it prints.
struct Watch {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Watch {
    fn start(args: &[&str]) -> Watch {
        let mut child = command(args).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        Watch {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    async fn next_line(&mut self) -> String {
        match tokio::time::timeout(PATIENCE, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "the watch printed no line ({other:?}): {}",
                self.stop().await
            ),
        }
    }

    /// Publishes probes (`{marker}-N`) on `channel` until this watch prints one, so whatever
    /// is published after is known to reach it: the engine announces no event when a watch
    /// takes effect on the server. Probes published before one arrives come, if at all, before
    /// anything published later; readers tell them apart by the marker.
    async fn wait_until_live(
        &mut self,
        control: &str,
        channel: &str,
        probe: impl Fn(u32) -> String,
    ) {
        for n in 0.. {
            publish(control, channel, &probe(n)).await;
            // Each probe gets a moment to arrive before the next: a retry, not a sleep that
            // stands for the event (the line) we wait for.
            let wait = Duration::from_millis(500);
            if let Ok(line) = tokio::time::timeout(wait, self.lines.next_line()).await {
                line.unwrap().expect("the watch ended while probing");
                return;
            }
            assert!(
                n < 60,
                "the watch never printed a probe: {}",
                self.stop().await
            );
        }
    }

    /// Stops the watch; returns what it printed on stderr.
    async fn stop(&mut self) -> String {
        let _ = self.child.kill().await;
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut err).await;
        }
        err
    }
}

fn temp_file(name: &str, lines: &[String]) -> tempfile::TempPath {
    let file = tempfile::Builder::new()
        .prefix(name)
        .suffix(".jsonl")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), lines.join("\n") + "\n").unwrap();
    file.into_temp_path()
}

fn payload(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["payload"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_made_with_watch_json_replays_into_another_server_in_order() {
    let live = tack_testkit::server::start().await;
    let lab = tack_testkit::server::start().await;

    // Record the live server's `orders`.
    let mut recorder = Watch::start(&["watch", &live.url(), "orders", "--json"]);
    recorder
        .wait_until_live(&live.control_url(), "orders", |n| format!("warm-up {n}"))
        .await;
    let sent = [
        r#"{"order":{"id":"a1","total":50}}"#,
        "plain text, with \"quotes\" and a \\ backslash",
        r#"{"order":{"id":"a2","total":150}}"#,
        "ünïcödé ✓",
        r#"[1,2,3]"#,
    ];
    for text in sent {
        publish(&live.control_url(), "orders", text).await;
    }
    let mut recording: Vec<String> = Vec::new();
    while recording
        .iter()
        .filter(|l| !payload(l).starts_with("warm-up"))
        .count()
        < sent.len()
    {
        recording.push(recorder.next_line().await);
    }
    recorder.stop().await;

    // Each line is a record of the monitor's export, with its receive time.
    let records: Vec<Record> = recording
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(records
        .iter()
        .all(|r| r.channel == "orders" && r.received > 0 && r.id.is_some()));
    let real: Vec<&str> = records
        .iter()
        .map(|r| r.payload.as_str())
        .filter(|p| !p.starts_with("warm-up"))
        .collect();
    assert_eq!(real, sent, "the recording has what was published, in order");

    // Replay it into the lab server, renamed, while a watch there looks on.
    let file = temp_file("orders", &recording);
    let mut observer = Watch::start(&["watch", &lab.url(), "orders-copy", "--json"]);
    observer
        .wait_until_live(&lab.control_url(), "orders-copy", |n| {
            format!("lab probe {n}")
        })
        .await;
    let (code, out, err) = tack(&[
        "replay",
        file.to_str().unwrap(),
        "--to",
        &lab.control_url(),
        "--channel",
        "orders-copy",
        "--speed",
        "max",
    ])
    .await;
    assert_eq!(code, 0, "replay failed: {err}");
    assert!(
        out.contains(&format!("replayed {} items", recording.len())),
        "{out}"
    );

    let mut replayed: Vec<String> = Vec::new();
    while replayed.len() < recording.len() {
        let line = observer.next_line().await;
        if !payload(&line).starts_with("lab probe") {
            replayed.push(line);
        }
    }
    observer.stop().await;
    let replayed: Vec<Record> = replayed
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(replayed.iter().all(|r| r.channel == "orders-copy"));
    let payloads = |rs: &[Record]| rs.iter().map(|r| r.payload.clone()).collect::<Vec<_>>();
    assert_eq!(
        payloads(&replayed),
        payloads(&records),
        "same payloads, same order"
    );

    live.shutdown().await;
    lab.shutdown().await;
}

/// A recording spanning 50 s, replayed at 100×, keeps its order and count and takes about half
/// a second: never less (its spacing is kept), and nowhere near 50 s.
#[tokio::test(flavor = "multi_thread")]
async fn speed_scales_the_recorded_spacing() {
    let lab = tack_testkit::server::start().await;
    let recording: Vec<String> = (0..6u64)
        .map(|i| {
            let received = 1_700_000_000_000 + i * 10_000;
            format!(r#"{{"channel":"ticks","id":{i},"received":{received},"payload":"tick {i}"}}"#)
        })
        .collect();
    let file = temp_file("ticks", &recording);
    let path = file.to_str().unwrap();

    // At 1× it would take 50 s, past a 10 s bound: refused before anything is sent.
    let (code, _, err) = tack(&[
        "replay",
        path,
        "--to",
        &lab.control_url(),
        "--max-duration",
        "10s",
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-duration"), "{err}");

    let mut observer = Watch::start(&["watch", &lab.url(), "ticks"]);
    observer
        .wait_until_live(&lab.control_url(), "ticks", |n| format!("probe {n}"))
        .await;
    let started = Instant::now();
    let (code, out, err) =
        tack(&["replay", path, "--to", &lab.control_url(), "--speed", "100"]).await;
    let took = started.elapsed();
    assert_eq!(code, 0, "replay failed: {err}");
    assert!(out.contains("replayed 6 items"), "{out}");
    assert!(
        took >= Duration::from_millis(500),
        "the spacing was dropped: {took:?}"
    );
    assert!(
        took < Duration::from_secs(25),
        "not 100× faster than 50 s: {took:?}"
    );

    let mut ticks = Vec::new();
    while ticks.len() < 6 {
        let line = observer.next_line().await;
        if !line.contains("probe") {
            ticks.push(line);
        }
    }
    observer.stop().await;
    let expected: Vec<String> = (0..6).map(|i| format!("[ticks] tick {i}")).collect();
    assert_eq!(ticks, expected);
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jq_narrows_and_maps_what_watch_prints() {
    let server = tack_testkit::server::start().await;
    let control = server.control_url();
    let probe = |n| format!(r#"{{"id":"probe {n}","total":1000}}"#);
    // Maps to one field, as text.
    let mut ids = Watch::start(&[
        "watch",
        &server.url(),
        "orders",
        "--jq",
        "select(.total > 100) | .id",
    ]);
    // Keeps whole items, as recording lines.
    let mut big = Watch::start(&[
        "watch",
        &server.url(),
        "orders",
        "--json",
        "--jq",
        "select(.total > 100)",
    ]);
    ids.wait_until_live(&control, "orders", probe).await;
    big.wait_until_live(&control, "orders", probe).await;

    let large = r#"{"id":"b",  "total":150}"#;
    for text in [
        r#"{"id":"a","total":50}"#,
        large,
        "not json at all",
        r#"{"id":"c","total":300}"#,
    ] {
        publish(&control, "orders", text).await;
    }

    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("[orders] c") {
        let line = ids.next_line().await;
        if !line.contains("probe") {
            seen.push(line);
        }
    }
    assert_eq!(seen, ["[orders] b", "[orders] c"]);
    // Plain text is a jq string: `.total` fails on it, and says so without ending the watch.
    let err = ids.stop().await;
    assert!(err.contains("cannot index"), "{err}");

    let mut kept = Vec::new();
    while kept.len() < 2 {
        let line = big.next_line().await;
        if !line.contains("probe") {
            kept.push(serde_json::from_str::<Record>(&line).unwrap());
        }
    }
    big.stop().await;
    assert_eq!(
        kept[0].payload, large,
        "a kept item is the payload byte for byte"
    );
    assert_eq!(kept[1].payload, r#"{"id":"c","total":300}"#);
    assert!(kept.iter().all(|r| r.received > 0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_jq_expression_exits_saying_where_it_failed() {
    // Checked before connecting: nothing needs to listen on the port.
    let (code, _, err) = tack(&[
        "watch",
        "http://127.0.0.1:9",
        "orders",
        "--jq",
        "select(.total > 100",
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--jq"), "{err}");
    assert!(err.contains("`)`") && err.contains("column 7"), "{err}");

    let (code, _, err) = tack(&[
        "watch",
        "http://127.0.0.1:9",
        "orders",
        "--jq",
        ".a | slect(.b)",
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("slect") && err.contains("column 6"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_refuses_a_remote_target_and_a_bad_line_before_sending() {
    let good = r#"{"channel":"a","received":1,"payload":"x"}"#.to_owned();
    let file = temp_file(
        "refused",
        &[good.clone(), good.clone(), "{not a record".into()],
    );
    let path = file.to_str().unwrap();

    // A documentation address (TEST-NET-1): refused before anything is sent to it.
    let (code, _, err) = tack(&["replay", path, "--to", "http://192.0.2.10:7998"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-remote"), "{err}");

    // Nothing listens here either: the bad line stops the replay before the first item.
    let (code, _, err) = tack(&["replay", path, "--to", "http://127.0.0.1:9"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 3"), "{err}");

    let (code, _, err) = tack(&[
        "replay",
        path,
        "--to",
        "http://127.0.0.1:9",
        "--max-items",
        "2",
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-items"), "{err}");
}
