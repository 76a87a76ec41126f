//! `tack replay FILE --to URL`: publishes a recording back into a server through `/publish/`,
//! with its original spacing scaled by `--speed`, so a user can reproduce what their backend
//! saw.
//!
//! Bounded like `tack bench`: loopback only unless `--allow-remote`, at most `--max-items`
//! items and `--max-duration` of replay, both checked before anything is sent. The whole file
//! is read (and every line checked) first, so a bad line stops the replay before its first
//! item rather than halfway. The target server numbers the items itself: recorded ids are not
//! sent.

use crate::bench::parse_duration;
use crate::error::CliError;
use crate::publish::Publisher;
use std::path::PathBuf;
use std::time::Duration;
use tack_client::monitor::Record;
use tack_client::recording::{self, Speed};
use tack_client::RecordingError;
use tack_protocol::publish::Item;
use tokio::time::Instant;

/// Items a replay sends unless `--max-items` says otherwise.
const DEFAULT_MAX_ITEMS: usize = 100_000;
/// The most `--max-items` can be raised to: a million-item recording (the monitor's target)
/// and room to spare, while the file read into memory stays in the low gigabytes at most.
const MAX_ITEMS_LIMIT: usize = 10_000_000;
/// The most `--max-duration` can be raised to: a day of traffic, replayed at 1×.
const MAX_DURATION_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// Items due at the same time go out in one request, up to this many...
const BATCH_ITEMS: usize = 100;
/// ...and this many payload bytes (the server takes bodies of up to 1 MiB; an item larger than
/// this goes alone).
const BATCH_BYTES: usize = 256 * 1024;

/// Publish a recording back into a server, with its original spacing.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// A recording: JSON Lines as `tack watch --json` prints them or the monitor exports them.
    /// Items go out in the order they were received; blank lines are skipped and any other
    /// line that is not an item stops the replay, before it starts, naming the line.
    file: PathBuf,
    /// The server's control address, http(s)://host:port (as for `tack publish`), or Pushpin's
    /// publish port.
    #[arg(long)]
    to: String,
    /// Publish every item to this channel instead of the one it was recorded on.
    #[arg(long)]
    channel: Option<String>,
    /// How much faster than recorded: 10 is ten times faster, 0.5 half as fast, `max` (or 0)
    /// as fast as the server takes them.
    #[arg(long, default_value = "1")]
    speed: Speed,
    /// Bearer token for /publish/.
    #[arg(long, env = "TACK_TOKEN")]
    token: Option<String>,
    /// Refuse a recording with more items than this (at most 10,000,000).
    #[arg(long, default_value_t = DEFAULT_MAX_ITEMS)]
    max_items: usize,
    /// Refuse a replay that would take longer than this at --speed, and stop one that runs
    /// over it (e.g. 90s, 10m; at most 24 h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    max_duration: Duration,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    allow_remote: bool,
}

pub async fn run(args: ReplayArgs) -> Result<(), CliError> {
    let url = crate::base_url(&args.to)?;
    if !args.allow_remote && !tack_bench::loopback::is_loopback(&url) {
        return Err(CliError::NotLoopback {
            host: url.host_str().unwrap_or_default().to_owned(),
        });
    }
    check_bounds(&args)?;
    let path = args.file.display().to_string();
    let records = read(&args.file, &path, args.max_items)?;
    let span = recording::span(&records, args.speed);
    if span > args.max_duration {
        return Err(CliError::OutOfBounds(format!(
            "replaying {path} at this speed takes {span:.1?}, longer than --max-duration {:?}; raise --max-duration or --speed",
            args.max_duration
        )));
    }
    let publisher = Publisher::new(&args.to, args.token.as_deref())?;
    let started = Instant::now();
    let sent = send_all(&publisher, &records, &args).await?;
    println!(
        "replayed {sent} items from {path} to {} in {:.1?}",
        args.to,
        started.elapsed()
    );
    Ok(())
}

fn check_bounds(args: &ReplayArgs) -> Result<(), CliError> {
    if args.max_items > MAX_ITEMS_LIMIT {
        return Err(CliError::OutOfBounds(format!(
            "--max-items {} is over the limit of {MAX_ITEMS_LIMIT}",
            args.max_items
        )));
    }
    if args.max_duration > MAX_DURATION_LIMIT {
        return Err(CliError::OutOfBounds(format!(
            "--max-duration {:?} is over the limit of 24 h",
            args.max_duration
        )));
    }
    Ok(())
}

fn read(file: &std::path::Path, path: &str, max_items: usize) -> Result<Vec<Record>, CliError> {
    let bad = |source| CliError::BadRecording {
        path: path.to_owned(),
        source,
    };
    let opened = std::fs::File::open(file).map_err(|e| bad(RecordingError::Io(e.to_string())))?;
    recording::read_records(std::io::BufReader::new(opened), max_items).map_err(|e| match e {
        RecordingError::TooManyItems { max } => CliError::OutOfBounds(format!(
            "{path} has more than {max} items; raise --max-items (up to {MAX_ITEMS_LIMIT}) or replay part of the file"
        )),
        other => bad(other),
    })
}

/// Sends every record when it is due; returns how many were sent. Stops with an error when
/// the server refuses one or `--max-duration` runs out.
async fn send_all(
    publisher: &Publisher,
    records: &[Record],
    args: &ReplayArgs,
) -> Result<usize, CliError> {
    let Some(first) = records.first().map(|r| r.received) else {
        return Ok(0);
    };
    let start = Instant::now();
    let deadline = start + args.max_duration;
    let due = |r: &Record| start + args.speed.due_after(first, r.received);
    let mut sent = 0;
    while sent < records.len() {
        tokio::time::sleep_until(due(&records[sent])).await;
        let now = Instant::now();
        if now > deadline {
            return Err(CliError::OutOfBounds(format!(
                "stopped at --max-duration {:?}: {sent} of {} items sent (the server took them slower than recorded)",
                args.max_duration,
                records.len()
            )));
        }
        // Everything already due goes in this request, so a slow server delays items but
        // never reorders or drops them.
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(r) = records.get(sent + batch.len()) {
            let full = batch.len() == BATCH_ITEMS
                || (!batch.is_empty() && bytes + r.payload.len() > BATCH_BYTES);
            if full || due(r) > now {
                break;
            }
            bytes += r.payload.len();
            batch.push(item(r, args.channel.as_deref()));
        }
        let n = batch.len();
        if let Err(e) = publisher.send(batch).await {
            eprintln!("# replay stopped: {sent} of {} items sent", records.len());
            return Err(e);
        }
        sent += n;
    }
    Ok(sent)
}

/// The publish item for a record: its text, or its bytes when it was binary.
fn item(record: &Record, rename: Option<&str>) -> Item {
    let channel = rename.unwrap_or(&record.channel);
    // `read_records` refused binary records whose payload is not base64.
    match recording::binary_payload(record) {
        Some(bytes) => Item::binary_everywhere(channel, &bytes),
        None => Item::text_everywhere(channel, &record.payload),
    }
}
