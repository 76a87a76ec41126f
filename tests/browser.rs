//! A real browser (headless Chromium) on a web page from another origin tries to use a Tack
//! server the user runs: a WebSocket, an EventSource, a no-cors POST to `/send` and to
//! `/publish/`. By default it gets nothing and does nothing; a page from an origin the operator
//! listed chats, so the list is not "deny everything". (The desktop app's own server is tried
//! the same way in tests/desktop.rs.)

mod support;

use serde_json::Value;
use support::browser::PageServer;
use tack_testkit::clients::{Client, Via};
use tack_testkit::hostile::{self, publish_body};
use tack_testkit::server::start_with;

/// Ann, in the lobby and watching `feed`: what a page says or publishes, she would see.
async fn ann_on(server: &tack_server::ServerHandle) -> Client {
    let mut ann = Client::connect(server, Via::WebSocket, "ann").await;
    ann.enter("lobby").await;
    ann.send(r#"watch:{"channel":"feed"}"#).await;
    ann
}

/// Reads Ann's events until her own `marker` comes back, asserting none came from the page.
async fn nothing_from_the_page_before(ann: &mut Client, server: &tack_server::ServerHandle) {
    ann.send(r#"chatMessage:{"room":"lobby","comment":"marker"}"#)
        .await;
    let publish = hostile::request(
        &format!("{}/publish/", server.control_url()),
        &[],
        Some(&publish_body("feed", "backend marker")),
    )
    .await;
    assert_eq!(publish.status, 200, "{publish:?}");
    let (mut said, mut published) = (false, false);
    while !(said && published) {
        let event: Value = ann.next().await;
        let text = event.to_string();
        assert!(
            !text.contains("web page") && !text.contains("webpage") && !text.contains("webstream"),
            "the page got through: {event}"
        );
        said |= event["comment"] == "marker";
        published |= event["payload"] == "backend marker";
    }
}

#[tokio::test]
async fn a_page_from_another_origin_gets_nothing_from_tack_serve() {
    // `tack serve` with its defaults.
    let server = start_with(|_| {}).await;
    let mut ann = ann_on(&server).await;
    let mut page = PageServer::start().await;
    let seen = page.visit(&server.url(), &server.control_url(), None).await;
    assert_eq!(seen["ws"], "refused", "{seen}");
    assert_eq!(seen["sse"], "refused", "{seen}");
    nothing_from_the_page_before(&mut ann, &server).await;
}

#[tokio::test]
async fn a_page_from_a_listed_origin_chats_streams_and_publishes() {
    let mut page = PageServer::start().await;
    let server = start_with(|c| c.allowed_origins = vec![page.origin.clone()]).await;
    let mut ann = ann_on(&server).await;
    let seen = page.visit(&server.url(), &server.control_url(), None).await;
    assert_eq!(seen["ws"], "welcome", "{seen}");
    assert_eq!(seen["sse"], "welcome", "{seen}");
    let mut heard = std::collections::BTreeSet::new();
    while heard.len() < 3 {
        let event = ann.next().await;
        for text in [&event["comment"], &event["payload"]] {
            if let Some(text) = text.as_str().filter(|t| t.contains("web page")) {
                heard.insert(text.to_owned());
            }
        }
    }
    assert_eq!(
        heard.into_iter().collect::<Vec<_>>(),
        [
            "posted by a web page",
            "published by a web page",
            "said by a web page"
        ]
    );
}
