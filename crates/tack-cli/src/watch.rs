//! `tack watch URL CHANNEL...` and `tack chat URL ROOM`: the engine, printed one line per event
//! (or, with `--jq`, per output of the filter). `--json` lines are the monitor's export format,
//! so what `tack watch --json` prints is a recording `tack replay` and the window can open.

use crate::error::CliError;
use std::io::Write;
use tack_client::monitor::Record;
use tack_client::{ClientEvent, ConnectionStatus, EventBatch, JqFilter, Session, SessionOptions};
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

/// How items are shown: as text or as recording lines, all of them or what a jq filter makes
/// of them.
pub struct Printer {
    /// One JSON object per line, in the monitor's export format (a recording).
    pub json: bool,
    pub jq: Option<JqFilter>,
}

impl Printer {
    /// The output lines for one event: none for events that are not shown, several when a jq
    /// filter makes several outputs of one item.
    fn lines(&self, ev: &ClientEvent) -> Vec<String> {
        if let Some(record) = Record::of_event(ev, now_ms()) {
            return self.item_lines(record);
        }
        match ev {
            ClientEvent::Entered { room, user, .. } if !self.json => {
                vec![format!("[{room}] * {user} entered")]
            }
            ClientEvent::Left { room, user, .. } if !self.json => {
                vec![format!("[{room}] * {user} left")]
            }
            ClientEvent::Gap { target, .. } if !self.json => vec![format!(
                "[{}] * some messages may be missing",
                target.name()
            )],
            ClientEvent::Error { code, message, .. } => {
                eprintln!("# error {code}: {message}");
                vec![]
            }
            _ => vec![],
        }
    }

    fn item_lines(&self, record: Record) -> Vec<String> {
        let Some(jq) = &self.jq else {
            return vec![self.render(&record)];
        };
        match jq.apply(&record.payload, record.binary) {
            Ok(outputs) => outputs
                .into_iter()
                .map(|payload| {
                    // Only the item's own payload is still binary (base64); a mapped value is text.
                    let binary = record.binary && payload == record.payload;
                    self.render(&Record {
                        payload,
                        binary,
                        ..record.clone()
                    })
                })
                .collect(),
            // One item's failure is the user's to see, not the end of the watch (as with jq).
            Err(e) => {
                let id = record.id.map(|i| format!(" #{i}")).unwrap_or_default();
                eprintln!("# [{}]{id}: {e}", record.channel);
                vec![]
            }
        }
    }

    fn render(&self, record: &Record) -> String {
        if self.json {
            return serde_json::to_string(record).expect("records always serialize");
        }
        match &record.user {
            Some(user) => format!("[{}] <{user}> {}", record.channel, record.payload),
            None => format!("[{}] {}", record.channel, record.payload),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Prints events until `limit` lines were printed (or forever).
async fn print_events(
    mut rx: mpsc::Receiver<EventBatch>,
    url: &str,
    printer: &Printer,
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
            for line in printer.lines(&ev) {
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
    printer: &Printer,
    limit: Option<usize>,
) -> Result<(), CliError> {
    let url = profile.url.clone();
    let (session, rx) = Session::connect(profile, options());
    for c in channels {
        session
            .watch(c)
            .map_err(|e| CliError::BadUrl(format!("channel `{c}`: {e}")))?;
    }
    let result = print_events(rx, &url, printer, limit).await;
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
    let printer = Printer { json, jq: None };
    let result = print_events(rx, &url, &printer, limit).await;
    typing.abort();
    session.close().await;
    result
}
