//! `tack bench` against a real built-in server started in this test: a short, bounded run
//! must see every message arrive exactly once, on each transport.

use std::time::Duration;
use tack_bench::{BenchConfig, PublishTo, Transport, Workload};
use tack_server::ServerHandle;
use tack_testkit::server::{start, start_with};

fn short_run(url: &str, transport: Transport) -> BenchConfig {
    let mut cfg = BenchConfig::new(url.parse().unwrap());
    cfg.transport = transport;
    cfg.connections = 50;
    cfg.rooms = 1;
    cfg.workload = Workload::Broadcast { rate: 100.0 };
    cfg.size = 100;
    cfg.duration = Duration::from_secs(1);
    cfg.settle = Duration::from_millis(100);
    cfg.drain = Duration::from_secs(3);
    cfg
}

/// A short run against `server`, publishing to its control listener as a backend does.
fn against(server: &ServerHandle, transport: Transport) -> BenchConfig {
    let mut cfg = short_run(&server.url(), transport);
    let publish = format!("{}/publish/", server.control_url());
    cfg.publish = Some(PublishTo::Http(publish.parse().unwrap()));
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_websockets_get_every_broadcast_once_and_the_json_has_the_promised_fields() {
    let server = start().await;
    let report = tack_bench::run(against(&server, Transport::Ws))
        .await
        .expect("the run completes");
    assert_eq!(report.ready, 50, "{report}");
    assert_eq!(report.published, 100, "{report}");
    assert!(report.delivered > 0, "{report}");
    assert_eq!(report.delivered, 50 * 100, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.duplicated, 0, "{report}");
    assert!(report.errors.is_empty(), "{report}");

    let json = serde_json::to_value(&report).unwrap();
    for field in ["delivered", "lost", "duplicated", "deliveries_per_s"] {
        assert!(json[field].is_number(), "`{field}` missing from {json}");
    }
    for p in ["p50", "p90", "p99", "max"] {
        assert!(
            json["latency_ms"][p].is_number(),
            "latency_ms.{p} missing from {json}"
        );
    }
    assert!(json["latency_ms"]["max"].as_f64().unwrap() > 0.0);
    // The tool's own CPU, as a share of the machine's cores, with every figure.
    assert!(json["load_tool_share"].is_number(), "{json}");
    assert!(json["load_tool_out_of_headroom"].is_boolean(), "{json}");
    assert!(json["load_tool_cores"].as_u64().unwrap() >= 1, "{json}");
    assert!(json["note"].as_str().unwrap().contains("same machine"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_and_long_polls_get_every_broadcast_once() {
    let server = start().await;
    for transport in [Transport::Stream, Transport::Poll] {
        let mut cfg = against(&server, transport);
        cfg.connections = 20;
        let report = tack_bench::run(cfg).await.expect("the run completes");
        assert_eq!(report.ready, 20, "{transport:?}: {report}");
        assert_eq!(report.delivered, 20 * 100, "{transport:?}: {report}");
        assert_eq!(
            (report.lost, report.duplicated),
            (0, 0),
            "{transport:?}: {report}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatting_members_of_many_rooms_hear_everyone_in_their_room() {
    let server = start().await;
    let mut cfg = against(&server, Transport::Ws);
    cfg.connections = 40;
    cfg.rooms = 8;
    cfg.workload = Workload::Chat {
        rate_per_client: 2.0,
    };
    cfg.duration = Duration::from_secs(2);
    let report = tack_bench::run(cfg).await.expect("the run completes");
    assert_eq!(report.ready, 40, "{report}");
    // 40 members × 2/s × 2 s, each heard by the 5 members of its room.
    assert!(report.published >= 150, "{report}");
    assert_eq!(report.delivered, report.published * 5, "{report}");
    assert_eq!((report.lost, report.duplicated), (0, 0), "{report}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_remote_target_is_refused_without_allow_remote() {
    let cfg = short_run("http://192.0.2.1:7999", Transport::Ws);
    let err = tack_bench::run(cfg).await.unwrap_err();
    assert!(err.to_string().contains("--allow-remote"), "{err}");
}

#[tokio::test]
async fn a_websocket_run_through_tls_is_refused_with_what_to_do_instead() {
    let cfg = short_run("https://127.0.0.1:7999", Transport::Ws);
    let err = tack_bench::run(cfg).await.unwrap_err();
    assert!(err.to_string().contains("--transport stream"), "{err}");
}

#[tokio::test]
async fn a_run_beyond_the_bounds_is_refused() {
    let mut cfg = short_run("http://127.0.0.1:1", Transport::Ws);
    cfg.connections = 1_000_000;
    assert!(tack_bench::run(cfg).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturation_search_climbs_and_reports_its_highest_passing_step() {
    let server = start().await;
    let mut cfg = against(&server, Transport::Ws);
    cfg.connections = 20;
    cfg.drain = Duration::from_secs(1);
    cfg.workload = Workload::Saturate {
        start_rate: 20.0,
        factor: 2.0,
        step: Duration::from_millis(500),
        // Generous: this checks the search, not the machine.
        p99_limit: Duration::from_secs(2),
        max_steps: 3,
        refine: 1,
    };
    let report = tack_bench::run(cfg).await.expect("the run completes");
    assert_eq!(report.steps.len(), 4, "{report}");
    let rates: Vec<f64> = report.steps.iter().map(|s| s.rate).collect();
    assert_eq!(rates[..3], [20.0, 40.0, 80.0]);
    // The refining step bisects the gap above the highest pass (80 → 160) in log scale.
    let refined = 80.0 * 2f64.sqrt();
    assert!((rates[3] - refined).abs() < 1e-9, "{rates:?}");
    let top = report.saturation.clone().expect("a step passed");
    assert_eq!(top.rate, refined, "{report}");
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.lost == 0 && s.duplicated == 0),
        "{report}"
    );
    server.shutdown().await;
}

/// A server that kicks a subscriber as soon as 8 events wait for it, and remembers 10,000.
async fn impatient_server() -> tack_server::ServerHandle {
    start_with(|c| {
        c.max_subscriber_lag = Some(8);
        c.history_len = 10_000;
    })
    .await
}

/// Bursts of ~20 messages a millisecond: every `POST /publish/` carries more items than a
/// subscriber's queue holds, so every subscriber is kicked (1008) again and again.
fn burst(server: &ServerHandle, resume: bool) -> BenchConfig {
    let mut cfg = against(server, Transport::Ws);
    cfg.connections = 5;
    cfg.workload = Workload::Broadcast { rate: 20_000.0 };
    cfg.duration = Duration::from_millis(200);
    cfg.resume = resume;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kicked_subscribers_that_resume_from_their_last_id_miss_nothing() {
    let server = impatient_server().await;
    let report = tack_bench::run(burst(&server, true))
        .await
        .expect("the run completes");
    // The in-process (debug) server answers publishes slowly on a busy machine and the
    // publisher then gives up a second late (it did with 3,445 of 4,000 sent): what matters
    // is that every message it did send arrived, through the kicks.
    assert!(report.published >= 1_000, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.duplicated, 0, "{report}");
    assert!(
        report
            .errors
            .keys()
            .any(|kind| kind.starts_with("resumed after: closed by server: 1008")),
        "the server should have kicked someone: {report}"
    );

    // The same burst without resuming loses what the kicked subscribers missed.
    let report = tack_bench::run(burst(&server, false))
        .await
        .expect("the run completes");
    assert!(report.lost > 0, "{report}");
    server.shutdown().await;
}
