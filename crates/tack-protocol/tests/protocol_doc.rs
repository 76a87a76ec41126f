//! docs/PROTOCOL.md cannot drift from the code: every example in a `client` block parses as a
//! client frame and every example in a `server` block parses as a server frame.

use tack_protocol::chat::{ClientFrame, ServerFrame};

fn examples(fence: &str) -> Vec<String> {
    let doc = include_str!("../../../docs/PROTOCOL.md");
    let mut out = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside && line.trim_start() == format!("```{fence}");
            continue;
        }
        if inside && !line.trim().is_empty() {
            out.push(line.to_owned());
        }
    }
    out
}

#[test]
fn every_client_frame_example_in_the_protocol_doc_parses() {
    let frames = examples("client");
    assert!(frames.len() >= 10, "expected the doc's client examples");
    for frame in frames {
        ClientFrame::parse(&frame).unwrap_or_else(|e| panic!("{frame}: {e}"));
    }
}

#[test]
fn every_server_event_example_in_the_protocol_doc_parses() {
    let events = examples("server");
    assert!(events.len() >= 15, "expected the doc's server examples");
    let mut kinds = std::collections::BTreeSet::new();
    for event in events {
        match ServerFrame::parse(&event).unwrap_or_else(|e| panic!("{event}: {e}")) {
            ServerFrame::Event(e) => {
                let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
                kinds.insert(v["type"].as_str().unwrap().to_owned());
            }
            ServerFrame::LegacyBroadcast { .. } => {
                kinds.insert("legacy broadcast".to_owned());
            }
            ServerFrame::LegacySubscribed => {
                kinds.insert("subscribed".to_owned());
            }
        }
    }
    // One example of every server event, and of both legacy replies.
    let expected = [
        "welcome",
        "chatMessage",
        "chatRoomEnter",
        "chatRoomLeave",
        "presence",
        "ack",
        "error",
        "resumed",
        "raw",
        "pong",
        "legacy broadcast",
        "subscribed",
    ];
    for kind in expected {
        assert!(kinds.contains(kind), "PROTOCOL.md has no `{kind}` example");
    }
}
