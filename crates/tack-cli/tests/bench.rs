//! `tack bench` as a user runs it: against a real server, `--json` prints the promised fields,
//! and a target on another machine is refused with exit code 2.

use std::process::Command;

const TACK: &str = env!("CARGO_BIN_EXE_tack");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_json_reports_every_delivery_and_its_latency() {
    let server = tack_testkit::server::start().await;
    let url = server.url();
    let publish = format!("{}/publish/", server.control_url());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(TACK)
            .args([
                "bench",
                "--url",
                &url,
                "--publish-url",
                &publish,
                "--connections",
                "30",
                "--rate",
                "50",
            ])
            .args(["--duration", "1s", "--settle", "100ms", "--json", "--quiet"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["delivered"], 30 * 50, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["duplicated"], 0, "{report}");
    assert!(report["deliveries_per_s"].as_f64().unwrap() > 0.0);
    for p in ["p50", "p90", "p99", "max"] {
        assert!(
            report["latency_ms"][p].is_number(),
            "latency_ms.{p}: {report}"
        );
    }
    server.shutdown().await;
}

#[test]
fn a_remote_target_needs_allow_remote() {
    let out = Command::new(TACK)
        .args(["bench", "--url", "http://192.0.2.1:7999", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}
