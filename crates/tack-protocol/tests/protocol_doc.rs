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
        "nickChange",
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

/// The rows of the table under `heading`: each row's first cell, without backticks.
fn table_keys(heading: &str) -> Vec<String> {
    let doc = include_str!("../../../docs/PROTOCOL.md");
    let rest = doc
        .split_once(heading)
        .unwrap_or_else(|| panic!("PROTOCOL.md has no `{heading}`"))
        .1;
    rest.lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2) // header and separator
        .filter_map(|line| line.split('|').nth(1))
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn the_error_code_table_lists_exactly_the_codes_the_protocol_crate_knows() {
    let documented = table_keys("### Error codes");
    let known: Vec<String> = tack_protocol::ErrorCode::KNOWN
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(documented, known);
}
