//! The `tack` binary against a server started in the test.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TACK: &str = env!("CARGO_BIN_EXE_tack");

async fn server(token: Option<&str>) -> tack_server::ServerHandle {
    tack_testkit::server::start_with(|c| c.publish_token = token.map(str::to_owned)).await
}

/// Runs `tack` with a deadline; returns (exit code, stdout, stderr).
async fn tack(args: &[&str], stdin: Option<String>) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        // The CLI remembers which transport worked in the user's cache; keep the tests' own.
        let cache = std::env::temp_dir().join(format!("tack-cli-tests-{}", std::process::id()));
        let mut child = Command::new(TACK)
            .args(&args)
            .env("XDG_CACHE_HOME", &cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        // Keep stdin open (chat reads it until EOF); it closes when `input` drops below.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(input);
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_what_publish_sends() {
    let server = server(None).await;
    let url = server.url();
    let watcher = {
        let url = url.clone();
        tokio::spawn(async move {
            tack(&["watch", &url, "orders", "--json", "--count", "2"], None).await
        })
    };
    // Publish until the watcher has seen two items (it may still be connecting at first).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while !watcher.is_finished() && Instant::now() < deadline {
        let (code, _, err) = tack(
            &[
                "publish",
                &server.control_url(),
                "orders",
                &format!("order {n}"),
            ],
            None,
        )
        .await;
        assert_eq!(code, 0, "publish failed: {err}");
        n += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (code, out, err) = watcher.await.unwrap();
    assert_eq!(code, 0, "watch failed: {err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["channel"], "orders");
    assert!(lines[0]["payload"].as_str().unwrap().starts_with("order "));
    assert!(lines[0]["id"].is_u64());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_sends_stdin_lines_and_prints_the_room() {
    let server = server(None).await;
    let (code, out, err) = tack(
        &[
            "chat",
            &server.url(),
            "lobby",
            "--nick",
            "ann",
            "--count",
            "2",
        ],
        Some("hello from a script\n".into()),
    )
    .await;
    assert_eq!(code, 0, "chat failed: {err}\nstdout: {out}");
    assert!(out.contains("* ann entered"), "{out}");
    assert!(out.contains("<ann> hello from a script"), "{out}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_say_what_to_do_and_exit_with_distinct_codes() {
    let (code, _, err) = tack(&["watch", "not a url", "x"], None).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a URL"), "{err}");

    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, err) = tack(
        &["publish", &format!("http://127.0.0.1:{port}"), "x", "m"],
        None,
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    let (code, _, err) = tack(
        &[
            "watch",
            &format!("http://127.0.0.1:{port}"),
            "x",
            "--transport",
            "ws",
        ],
        None,
    )
    .await;
    assert_eq!(code, 3, "{err}");

    let server = server(Some("s3cret")).await;
    let (code, _, err) = tack(
        &[
            "publish",
            &server.control_url(),
            "x",
            "m",
            "--token",
            "wrong",
        ],
        None,
    )
    .await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("--token"), "{err}");
    let (code, _, err) = tack(
        &[
            "publish",
            &server.control_url(),
            "x",
            "m",
            "--token",
            "s3cret",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    server.shutdown().await;
}
