//! The HTTP transports' two requests, one at a time: `POST /send` and one `GET /poll`, for
//! stories that look at a single answer (its status, what it carried) rather than a session.

use super::{Front, WAIT};
use serde_json::Value;
use std::time::Duration;

/// Sends `frames` (one `name:{json}` a line) for `session` with `POST /send`; returns the
/// status and the immediate replies.
pub async fn send(front: impl Into<Front>, session: &str, frames: &str) -> (u16, Vec<Value>) {
    post_send(&reqwest::Client::new(), front.into().url(), session, frames).await
}

pub(super) async fn post_send(
    http: &reqwest::Client,
    base: &str,
    session: &str,
    frames: &str,
) -> (u16, Vec<Value>) {
    let request = http
        .post(format!("{base}/send?session={session}"))
        .body(frames.to_owned())
        .send();
    let response = tokio::time::timeout(WAIT, request)
        .await
        .expect("send answered in time")
        .expect("send request");
    let status = response.status().as_u16();
    let replies = response.json().await.expect("replies as a JSON array");
    (status, replies)
}

/// One long-poll, `GET /poll?{query}`: its events, once the server answers (at once, or when
/// something arrives, or when the hold times out).
pub async fn poll(front: impl Into<Front>, query: &str) -> Vec<Value> {
    let url = format!("{}/poll?{query}", front.into().url());
    // Longer than the longest hold a server grants by default (60 s).
    let response = tokio::time::timeout(Duration::from_secs(70), reqwest::get(url))
        .await
        .expect("poll answers in time")
        .expect("poll request");
    assert_eq!(response.status(), 200, "poll refused");
    response.json().await.expect("events as a JSON array")
}

/// The events of type `kind`, in order.
pub fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}
