//! `tack watch URL CHANNEL...` and `tack chat URL ROOM`: the engine, printed one line per event.

use crate::error::CliError;
use std::io::Write;
use tack_client::{ClientEvent, ConnectionStatus, EventBatch, Session, SessionOptions};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// Turns a failure before the first connection into an error with an exit code; after that the
/// engine reconnects forever and states are only reported on stderr.
fn check_first_failure(ev: &ClientEvent, connected: bool, url: &str) -> Result<(), CliError> {
    let ClientEvent::State(s) = ev else {
        return Ok(());
    };
    match (s.status, &s.reason) {
        (ConnectionStatus::Offline, Some(reason)) => Err(CliError::BadUrl(reason.clone())),
        (ConnectionStatus::Reconnecting, Some(reason)) if !connected => {
            if reason.contains("refused the token") {
                Err(CliError::Refused {
                    url: url.to_owned(),
                    reason: reason.clone(),
                })
            } else {
                Err(CliError::Unreachable {
                    url: url.to_owned(),
                    reason: reason
                        .strip_prefix("cannot reach the server: ")
                        .unwrap_or(reason)
                        .to_owned(),
                })
            }
        }
        _ => Ok(()),
    }
}

fn describe_state(ev: &ClientEvent) -> Option<String> {
    let ClientEvent::State(s) = ev else {
        return None;
    };
    let transport = s
        .transport
        .map(|t| format!(" via {t:?}").to_lowercase())
        .unwrap_or_default();
    let reason = s
        .reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Some(format!("# {:?}{transport}{reason}", s.status).to_lowercase())
}

/// Prints events until `limit` items were printed (or forever).
async fn print_events(
    mut rx: mpsc::Receiver<EventBatch>,
    url: &str,
    json: bool,
    limit: Option<usize>,
) -> Result<(), CliError> {
    let mut connected = false;
    let mut printed = 0usize;
    let stdout = std::io::stdout();
    while let Some(batch) = rx.recv().await {
        let mut out = stdout.lock();
        for ev in batch {
            check_first_failure(&ev, connected, url)?;
            if let Some(line) = describe_state(&ev) {
                eprintln!("{line}");
            }
            if matches!(&ev, ClientEvent::State(s) if s.status == ConnectionStatus::Connected) {
                connected = true;
            }
            if let Some(line) = render(&ev, json) {
                writeln!(out, "{line}")?;
                printed += 1;
                if limit.is_some_and(|l| printed >= l) {
                    out.flush()?;
                    return Ok(());
                }
            }
        }
        out.flush()?;
    }
    Ok(())
}

/// One output line for an item event; `None` for events that are not items.
fn render(ev: &ClientEvent, json: bool) -> Option<String> {
    match ev {
        ClientEvent::Raw {
            channel,
            id,
            ts,
            payload,
            binary,
            ..
        } => Some(if json {
            serde_json::json!({"channel": channel, "id": id, "ts": ts, "payload": payload, "binary": binary}).to_string()
        } else {
            format!("[{channel}] {payload}")
        }),
        ClientEvent::Message {
            room,
            id,
            user,
            comment,
            ts,
            ..
        } => Some(if json {
            serde_json::json!({"channel": room, "id": id, "ts": ts, "user": user, "payload": comment}).to_string()
        } else if user.is_empty() {
            format!("[{room}] {comment}")
        } else {
            format!("[{room}] <{user}> {comment}")
        }),
        ClientEvent::Entered { room, user, .. } if !json => {
            Some(format!("[{room}] * {user} entered"))
        }
        ClientEvent::Left { room, user, .. } if !json => Some(format!("[{room}] * {user} left")),
        ClientEvent::Gap { target, .. } if !json => Some(format!(
            "[{}] * some messages may be missing",
            target.name()
        )),
        ClientEvent::Error { code, message, .. } => {
            eprintln!("# error {code}: {message}");
            None
        }
        _ => None,
    }
}

/// The engine's defaults, remembering which transport worked per server in the user's cache
/// directory (`$XDG_CACHE_HOME/tack`, else `~/.cache/tack`), so the next run starts with it.
fn options() -> SessionOptions {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
    SessionOptions {
        transport_memory: cache.map(|c| c.join("tack").join("transports.json")),
        ..SessionOptions::default()
    }
}

pub async fn watch(
    profile: tack_client::Profile,
    channels: &[String],
    json: bool,
    limit: Option<usize>,
) -> Result<(), CliError> {
    let url = profile.url.clone();
    let (session, rx) = Session::connect(profile, options());
    for c in channels {
        session
            .watch(c)
            .map_err(|e| CliError::BadUrl(format!("channel `{c}`: {e}")))?;
    }
    let result = print_events(rx, &url, json, limit).await;
    session.close().await;
    result
}

pub async fn chat(
    profile: tack_client::Profile,
    room: &str,
    json: bool,
    limit: Option<usize>,
) -> Result<(), CliError> {
    let url = profile.url.clone();
    let (session, rx) = Session::connect(profile, options());
    session
        .enter(room)
        .map_err(|e| CliError::BadUrl(format!("room `{room}`: {e}")))?;
    let typing = {
        let session = session.clone();
        let room = room.to_owned();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.is_empty() {
                    continue;
                }
                if let Err(e) = session.send(&room, &line) {
                    eprintln!("# not sent: {e}");
                }
            }
        })
    };
    let result = print_events(rx, &url, json, limit).await;
    typing.abort();
    session.close().await;
    result
}
