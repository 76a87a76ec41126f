//! A stream client that speaks before Pushpin has taken its stream.
//!
//! Pushpin 1.36 hands a stream to its handler, which subscribes it to the answer's channels,
//! only once the origin's answer has ended. An answer under 100 kB it keeps until then and the
//! handler sends it, so the client cannot read its `welcome` before the stream is subscribed.
//! A larger one (a stream opened with a long backlog) the proxy sends on as it comes: the
//! client can read its `welcome` and send a frame, and the origin's hint for the answer reaches
//! Pushpin while nobody is subscribed to the session's channel. That hint is lost; the answer
//! must not be. Here the window is held open (the test kit's `late_holds`) rather than hoped
//! for under load.

use std::time::Duration;
use tack_testkit::clients::{Client, Via, WAIT};
use tack_testkit::stage::Stage;

/// Waits until the origin has handed everything it published to Pushpin, and Pushpin took it.
async fn pushpin_took_every_publish(stage: &Stage) {
    let origin = stage.origin.origin().expect("an origin");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = origin.publisher().stats()[0];
        assert_eq!(stats.failures, 0, "pushpin refused a publish: {stats:?}");
        if stats.queued == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "publishes still queued: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_sent_before_pushpin_took_a_long_stream_is_answered_on_it() {
    let (stage, late) = Stage::start_with_late_holds().await;
    // A backend filled a feed with more than Pushpin keeps of a first answer.
    let page = "x".repeat(4000);
    let items: Vec<_> = (0..40)
        .map(|n| {
            serde_json::json!({"channel": "feed", "formats": {
            "ws-message": {"content": format!("{n} {page}")},
            "http-stream": {"content": format!("{n} {page}")},
            "http-response": {"body": format!("{n} {page}")}}})
        })
        .collect();
    let published = reqwest::Client::new()
        .post(format!("{}/publish/", stage.origin.control_url()))
        .json(&serde_json::json!({ "items": items }))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    pushpin_took_every_publish(&stage).await;

    // A monitor opens a stream from the feed's start; its answer has not ended yet.
    late.hold(true);
    let mut eye = Client::connect_with(
        stage.front(0),
        Via::Stream,
        "eye",
        "watch=feed&since=feed:0",
    )
    .await;
    late.holding().await;
    eye.send(r#"chatRoomEnter:{"room":"lobby"}"#).await;
    // The origin told Pushpin there is something for this stream, and Pushpin took that.
    pushpin_took_every_publish(&stage).await;

    // Now the answer ends and Pushpin's handler takes the stream.
    late.hold(false);
    let mut backlog = 0;
    loop {
        let event = eye.next().await;
        match event["type"].as_str() {
            Some("raw") => backlog += 1,
            Some("presence") if event["room"] == "lobby" => break,
            Some("error") => panic!("{event}"),
            _ => {}
        }
    }
    // Pushpin dropped the hint (nobody was subscribed to the session's channel yet) and came
    // back for the answer on its own, about a second after it subscribed the stream.
    assert_eq!(backlog, 40, "the backlog came whole, before the answer");
    stage.origin.shutdown().await;
}
