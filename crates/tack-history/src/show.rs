//! Stored entries → what the window shows: the engine's own events (so a room renders its
//! history with the code that renders live chat), search hits, the store's figures. This is
//! part of the desktop's IPC contract: with feature `ts` the TypeScript is generated from
//! these declarations ([`typescript_bindings`]).

use crate::keep::target_of;
use base64::Engine as _;
use serde::Serialize;
use tack_client::events::{ClientEvent, Target};
use tack_store::{Body, Hit, Payload, Stored};

/// A stored entry as the window shows it: the event the engine would have delivered, with
/// the numbering its id counts in (ids of two epochs of one room may be equal) and its key in
/// the store (to ask for its context).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryEvent {
    pub key: i64,
    pub epoch: String,
    pub event: ClientEvent,
}

/// One search result: where and when it was said, by whom, and the text around the matched
/// words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub key: i64,
    /// The server's key and the name the app shows for it.
    pub server: String,
    pub server_name: String,
    pub target: Target,
    pub id: u64,
    /// ms since the Unix epoch.
    pub at: u64,
    pub nick: Option<String>,
    pub snippet: Vec<SnippetPiece>,
}

/// A stretch of a snippet: matched words, or the text between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SnippetPiece {
    pub text: String,
    pub matched: bool,
}

/// How much the history file holds, and how much it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoreInfo {
    pub size_bytes: u64,
    /// Past this the oldest entries go first.
    pub max_bytes: u64,
}

/// A stored entry as the event the window shows. A gap is the engine's `Gap` after the last
/// id received; a renumbering (the server restarted) is a `Gap` too, since what happened
/// between the two numberings was never received.
pub fn shown(stored: &Stored) -> HistoryEvent {
    let entry = &stored.entry;
    let target = target_of(&entry.place);
    let room = || entry.place.name().to_owned();
    let (id, ts) = (Some(entry.id), Some(entry.at));
    let event = match &entry.body {
        Body::Message { nick, comment } => ClientEvent::Message {
            room: room(),
            id,
            user: nick.clone(),
            comment: comment.clone(),
            ts,
            cid: None,
            own: false,
        },
        Body::Entered { nick } => ClientEvent::Entered {
            room: room(),
            id,
            user: nick.clone(),
            viewers: None,
            ts,
        },
        Body::Left { nick } => ClientEvent::Left {
            room: room(),
            id,
            user: nick.clone(),
            viewers: None,
            ts,
        },
        Body::NickChanged { nick, new_nick } => ClientEvent::NickChanged {
            room: room(),
            id,
            user: nick.clone(),
            nick: new_nick.clone(),
            ts,
        },
        Body::Item { payload } => {
            let (payload, binary, size) = match payload {
                Payload::Text(text) => (text.clone(), false, text.len()),
                Payload::Binary(data) => (
                    base64::engine::general_purpose::STANDARD.encode(data),
                    true,
                    data.len(),
                ),
            };
            ClientEvent::Raw {
                channel: room(),
                id,
                ts,
                payload,
                binary,
                size: u32::try_from(size).unwrap_or(u32::MAX),
                received: entry.at,
                query: None,
            }
        }
        Body::Gap { .. } => ClientEvent::Gap {
            target,
            after_id: id,
        },
        Body::Renumbered => ClientEvent::Gap {
            target,
            after_id: None,
        },
    };
    HistoryEvent {
        key: stored.key.0,
        epoch: entry.epoch.clone(),
        event,
    }
}

impl From<Hit> for SearchHit {
    fn from(hit: Hit) -> SearchHit {
        SearchHit {
            key: hit.key.0,
            server: hit.server,
            server_name: hit.server_name,
            target: target_of(&hit.place),
            id: hit.id,
            at: hit.at,
            nick: hit.nick,
            snippet: hit
                .snippet
                .into_iter()
                .map(|p| SnippetPiece {
                    text: p.text,
                    matched: p.matched,
                })
                .collect(),
        }
    }
}

/// The TypeScript declarations of the history's part of the IPC contract, as one file that
/// imports the engine's (`bindings.ts`).
#[cfg(feature = "ts")]
pub fn typescript_bindings() -> String {
    use ts_rs::{Config, TS};
    // As in the engine's bindings: ids, keys and times stay below 2^53.
    let cfg = Config::default().with_large_int("number".to_owned());
    let decls = [
        HistoryEvent::decl(&cfg),
        SnippetPiece::decl(&cfg),
        SearchHit::decl(&cfg),
        StoreInfo::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/tack-history (ts-rs). Do not edit: run `scripts/gen-bindings.sh`.\n\n\
         import type { ClientEvent, Target } from './bindings';\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
