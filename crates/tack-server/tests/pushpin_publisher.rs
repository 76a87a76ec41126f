//! Publishing to several Pushpin instances: one that is down is retried with backoff and
//! catches up when it is back, in order, while the others get everything at once.

use axum::routing::post;
use std::sync::Arc;
use std::time::Duration;
use tack_server::origin::publisher::{PublishItem, Publisher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A stand-in for Pushpin's publish endpoint that reports every body it accepts.
async fn publish_endpoint(listener: tokio::net::TcpListener) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/publish/",
        post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                "Published\n"
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

#[tokio::test]
async fn a_pushpin_that_is_down_never_delays_the_others_and_catches_up_later() {
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_url = format!("http://{}", up.local_addr().unwrap());
    let mut up = publish_endpoint(up).await;
    // A port nobody listens on yet: the second instance is down.
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
    // The down instance has been tried and is being retried.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while publisher.stats()[1].failures < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no retries");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publisher.send(&[item(3)]);
    assert_eq!(channels(&mut up, 1, Duration::from_secs(2)).await, ["c3"]);

    // It comes back: everything it missed arrives, in order, once.
    let back = tokio::net::TcpListener::bind(down_addr).await.unwrap();
    let mut back = publish_endpoint(back).await;
    assert_eq!(
        channels(&mut back, 4, Duration::from_secs(10)).await,
        ["c0", "c1", "c2", "c3"]
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while publisher.stats()[1].published < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "publish not counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(publisher.stats()[1].published, 4, "published twice");
    assert_eq!(publisher.stats()[0].failures, 0);
    stop.cancel();
}
