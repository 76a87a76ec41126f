//! Choosing a transport: the order to try them in, the staggered race between them, and the
//! per-server memory of which one worked.
//!
//! Auto mode does not wait out each transport's timeout in series: it starts the next one
//! after a short delay (a few measured round trips) and keeps whichever finishes its handshake
//! first. The others are dropped, which closes them.

use crate::error::LinkError;
use crate::link::Link;
use crate::profile::{Transport, TransportChoice};
use crate::transport::{poll, stream, ws, Dial};
use futures_util::stream::{FuturesUnordered, StreamExt};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::Duration;

/// Which transport last worked, per server (process-wide: every session to a server benefits).
static WORKED: LazyLock<Mutex<HashMap<String, Transport>>> = LazyLock::new(Default::default);

/// Notes that `t` worked on `server`; true when that is news (worth saving).
pub fn remember(server: &str, t: Transport) -> bool {
    let mut worked = WORKED.lock();
    if worked.get(server) == Some(&t) {
        return false;
    }
    if worked.len() >= MAX_REMEMBERED && !worked.contains_key(server) {
        // A bounded memory: forget some other server rather than grow forever.
        if let Some(other) = worked.keys().next().cloned() {
            worked.remove(&other);
        }
    }
    worked.insert(server.to_owned(), t);
    true
}

/// Most servers remembered (in memory and in the file).
const MAX_REMEMBERED: usize = 256;
/// A remembered-transports file larger than this is not ours to read.
const MAX_FILE_LEN: u64 = 256 * 1024;

/// Adds what an earlier run remembered (a JSON object, server → transport) to this process's
/// memory. A missing, oversized or unreadable file is an empty memory, never an error: it is
/// only a hint for which transport to try first.
pub fn load(path: &std::path::Path) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.len() > MAX_FILE_LEN {
        tracing::warn!(
            "ignoring {}: too large to be remembered transports",
            path.display()
        );
        return;
    }
    let saved: HashMap<String, Transport> = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(saved) => saved,
        Err(e) => {
            tracing::warn!("ignoring {}: {e}", path.display());
            return;
        }
    };
    let mut worked = WORKED.lock();
    for (server, t) in saved.into_iter().take(MAX_REMEMBERED) {
        worked.entry(server).or_insert(t);
    }
}

/// Writes this process's memory to `path` (through a temporary file, so a reader never sees
/// half of it). Failing to save is logged, not fatal.
pub fn save(path: &std::path::Path) {
    let json = serde_json::to_vec_pretty(&*WORKED.lock()).expect("a map of strings serializes");
    let tmp = path.with_extension("json.tmp");
    let result = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&tmp, json))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(
            "could not save remembered transports to {}: {e}",
            path.display()
        );
    }
}

pub fn remembered(server: &str) -> Option<Transport> {
    WORKED.lock().get(server).copied()
}

/// The transports to try, in order.
pub fn order(choice: TransportChoice, has_http: bool, worked: Option<Transport>) -> Vec<Transport> {
    if !has_http {
        return vec![Transport::Ws];
    }
    match choice {
        TransportChoice::Ws => vec![Transport::Ws],
        TransportChoice::Stream => vec![Transport::Stream],
        TransportChoice::Poll => vec![Transport::Poll],
        TransportChoice::Auto => {
            let mut order = vec![Transport::Ws, Transport::Stream, Transport::Poll];
            if let Some(w) = worked {
                order.retain(|t| *t != w);
                order.insert(0, w);
            }
            order
        }
    }
}

/// How long to give one transport before starting the next: a few round trips when one has
/// been measured, never more than `fallback_delay`.
pub fn stagger(rtt: Option<Duration>, fallback_delay: Duration) -> Duration {
    match rtt {
        Some(rtt) => (rtt * 4 + Duration::from_millis(250)).min(fallback_delay),
        None => fallback_delay,
    }
}

pub async fn open(t: Transport, dial: &Dial) -> Result<Link, LinkError> {
    match t {
        Transport::Ws => ws::open(dial).await,
        Transport::Stream => stream::open(dial).await,
        Transport::Poll => poll::open(dial).await,
    }
}

type Attempt = Pin<Box<dyn Future<Output = Result<Link, LinkError>> + Send>>;

/// Races the transports in `order`, each started `stagger` after the previous (or at once when
/// the previous fails). The first to finish its handshake wins.
pub async fn race(dial: Dial, order: Vec<Transport>, stagger: Duration) -> Result<Link, LinkError> {
    let mut pending = order.into_iter();
    let mut running: FuturesUnordered<Attempt> = FuturesUnordered::new();
    let start = |t: Transport| -> Attempt {
        let dial = dial.clone();
        Box::pin(async move { open(t, &dial).await })
    };
    let mut worst: Option<LinkError> = None;
    if let Some(first) = pending.next() {
        running.push(start(first));
    }
    let mut next_at = tokio::time::Instant::now() + stagger;
    loop {
        let more = pending.len() > 0;
        tokio::select! {
            result = running.next(), if !running.is_empty() => match result {
                Some(Ok(link)) => return Ok(link),
                Some(Err(e)) => {
                    // Report the first transport's failure (WebSocket's, in auto mode), unless a
                    // later one says the token was refused: that is what the user must fix.
                    if worst.is_none() || matches!(e, LinkError::Unauthorized(_)) {
                        worst = Some(e);
                    }
                    if let Some(t) = pending.next() {
                        running.push(start(t));
                        next_at = tokio::time::Instant::now() + stagger;
                    } else if running.is_empty() {
                        return Err(worst.unwrap_or(LinkError::Other("no transport worked".into())));
                    }
                }
                None => {}
            },
            _ = tokio::time::sleep_until(next_at), if more => {
                if let Some(t) = pending.next() {
                    running.push(start(t));
                }
                next_at = tokio::time::Instant::now() + stagger;
            }
        }
        if running.is_empty() && pending.len() == 0 {
            return Err(worst.unwrap_or(LinkError::Other("no transport worked".into())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_tries_what_worked_last_first() {
        assert_eq!(
            order(TransportChoice::Auto, true, Some(Transport::Poll)),
            vec![Transport::Poll, Transport::Ws, Transport::Stream]
        );
        assert_eq!(
            order(TransportChoice::Auto, false, None),
            vec![Transport::Ws]
        );
        assert_eq!(
            order(TransportChoice::Stream, true, None),
            vec![Transport::Stream]
        );
    }

    #[test]
    fn what_worked_is_remembered_across_runs_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache").join("transports.json");
        let server = "http://remembered.test:7999/";
        assert!(remember(server, Transport::Poll));
        assert!(
            !remember(server, Transport::Poll),
            "no news, nothing to save"
        );
        save(&path);
        // A new run: the process starts knowing nothing.
        WORKED.lock().remove(server);
        load(&path);
        assert_eq!(remembered(server), Some(Transport::Poll));
    }

    #[test]
    fn a_damaged_file_is_an_empty_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("transports.json");
        std::fs::write(&path, b"{not json").unwrap();
        load(&path);
        load(&dir.path().join("missing.json"));
        assert_eq!(remembered("http://never.test/"), None);
    }

    #[test]
    fn the_stagger_follows_the_round_trip() {
        let max = Duration::from_millis(1500);
        assert_eq!(stagger(None, max), max);
        assert_eq!(
            stagger(Some(Duration::from_millis(10)), max),
            Duration::from_millis(290)
        );
        assert_eq!(stagger(Some(Duration::from_secs(2)), max), max);
    }
}
