//! Publishing to several Pushpin instances: one that answers with errors is retried with
//! backoff and catches up, in order, once; one that is not running at all (its clients are
//! gone with it) gets only what is published after it is back; neither delays the others.

use axum::http::StatusCode;
use axum::routing::post;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tack_server::origin::publisher::{PublishItem, Publisher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A stand-in for Pushpin's publish endpoint that reports every body it accepts.
async fn publish_endpoint(listener: tokio::net::TcpListener) -> mpsc::UnboundedReceiver<String> {
    publish_endpoint_failing(listener, Arc::new(AtomicBool::new(false))).await
}

/// Like [`publish_endpoint`], answering 503 while `failing` is set.
async fn publish_endpoint_failing(
    listener: tokio::net::TcpListener,
    failing: Arc<AtomicBool>,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/publish/",
        post(move |body: String| {
            let tx = tx.clone();
            let failing = failing.clone();
            async move {
                if failing.load(Ordering::SeqCst) {
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy\n");
                }
                let _ = tx.send(body);
                (StatusCode::OK, "Published\n")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    rx
}

/// The `channel` of every item in the bodies received so far, waiting up to `within` for
/// `count` of them.
async fn channels(
    rx: &mut mpsc::UnboundedReceiver<String>,
    count: usize,
    within: Duration,
) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while out.len() < count {
        let body = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {out:?} arrived in {within:?}"))
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        for item in body["items"].as_array().unwrap() {
            out.push(item["channel"].as_str().unwrap().to_owned());
        }
    }
    out
}

fn item(n: usize) -> PublishItem {
    Arc::from(format!(
        r#"{{"channel":"c{n}","formats":{{"ws-message":{{"content":"{n}"}}}}}}"#
    ))
}

/// Waits (bounded) until `done` holds for the publisher's stats of instance `n`.
async fn stats_until(
    publisher: &Publisher,
    n: usize,
    what: &str,
    done: impl Fn(&tack_server::origin::publisher::InstanceStats) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done(&publisher.stats()[n]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {:?}",
            publisher.stats()[n]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pushpin_answering_errors_never_delays_the_others_and_catches_up_later() {
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_url = format!("http://{}", up.local_addr().unwrap());
    let mut up = publish_endpoint(up).await;
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let busy_url = format!("http://{}", busy.local_addr().unwrap());
    let failing = Arc::new(AtomicBool::new(true));
    let mut busy = publish_endpoint_failing(busy, failing.clone()).await;

    let stop = CancellationToken::new();
    let publisher = Publisher::start(&[up_url, busy_url], stop.clone());
    for n in 0..3 {
        publisher.send(&[item(n)]);
    }
    assert_eq!(
        channels(&mut up, 3, Duration::from_secs(2)).await,
        ["c0", "c1", "c2"]
    );
    stats_until(&publisher, 1, "no retries", |s| s.failures >= 2).await;
    publisher.send(&[item(3)]);
    assert_eq!(channels(&mut up, 1, Duration::from_secs(2)).await, ["c3"]);

    // It answers again: everything it missed arrives, in order, once.
    failing.store(false, Ordering::SeqCst);
    assert_eq!(
        channels(&mut busy, 4, Duration::from_secs(10)).await,
        ["c0", "c1", "c2", "c3"]
    );
    stats_until(&publisher, 1, "publish not counted", |s| s.published >= 4).await;
    assert_eq!(publisher.stats()[1].published, 4, "published twice");
    assert_eq!(publisher.stats()[1].dropped, 0);
    assert_eq!(publisher.stats()[0].failures, 0);
    stop.cancel();
}

#[tokio::test]
async fn a_pushpin_that_is_not_running_gets_only_what_is_published_after_it_is_back() {
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_url = format!("http://{}", up.local_addr().unwrap());
    let mut up = publish_endpoint(up).await;
    // A port nobody listens on yet: the second instance is not running.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_addr = down.local_addr().unwrap();
    drop(down);

    let stop = CancellationToken::new();
    let publisher = Publisher::start(&[up_url, format!("http://{down_addr}")], stop.clone());
    for n in 0..3 {
        publisher.send(&[item(n)]);
    }
    assert_eq!(
        channels(&mut up, 3, Duration::from_secs(2)).await,
        ["c0", "c1", "c2"]
    );
    // Refused: whoever those were for went away with that Pushpin.
    stats_until(&publisher, 1, "not dropped", |s| s.dropped == 3).await;

    let back = tokio::net::TcpListener::bind(down_addr).await.unwrap();
    let mut back = publish_endpoint(back).await;
    publisher.send(&[item(3)]);
    assert_eq!(channels(&mut back, 1, Duration::from_secs(5)).await, ["c3"]);
    assert_eq!(channels(&mut up, 1, Duration::from_secs(2)).await, ["c3"]);
    stats_until(&publisher, 1, "publish not counted", |s| s.published >= 1).await;
    assert_eq!(publisher.stats()[1].published, 1);
    assert_eq!(publisher.stats()[1].dropped, 3);
    assert_eq!(publisher.stats()[0].failures, 0);
    stop.cancel();
}
