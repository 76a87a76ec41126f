//! Reading one Pushpin instance's stats socket (a ZeroMQ PUB that Pushpin binds): subscribe
//! to everything, hand each message to the instance's [`Feed`], and start over when the
//! socket fails or goes silent.
//!
//! An absent or silent socket never stops the server: the item just goes `stale`. Silence is
//! also a reason to reconnect, because a SUB whose publisher was restarted can stay connected
//! to nothing (an ipc file replaced under it).

use super::tally::STALE_AFTER;
use super::Feed;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zeromq::{Socket, SocketRecv, SubSocket};

const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// A connect that has not completed by then is given up and tried again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads `feed`'s socket until `stop` is cancelled.
pub async fn read(feed: &Feed, stop: CancellationToken) {
    let mut retry = RETRY_MIN;
    loop {
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            connected = connect(&feed.spec) => connected,
        };
        match connected {
            Ok(mut socket) => {
                tracing::info!(instance = %feed.name, spec = %feed.spec, "reading pushpin stats");
                retry = RETRY_MIN;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    why = receive(feed, &mut socket) => {
                        tracing::info!(instance = %feed.name, spec = %feed.spec, "pushpin stats: {why}; reconnecting");
                    }
                }
            }
            Err(err) => {
                tracing::debug!(instance = %feed.name, spec = %feed.spec, %err, "pushpin stats socket not reachable");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn connect(spec: &str) -> Result<SubSocket, String> {
    let mut socket = SubSocket::new();
    // Remembered by the socket and sent to the publisher as soon as it is connected.
    socket.subscribe("").await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(spec)).await {
        Ok(Ok(())) => Ok(socket),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
    }
}

/// Hands messages to `feed` until the socket fails or says nothing for [`STALE_AFTER`];
/// which of the two.
async fn receive(feed: &Feed, socket: &mut SubSocket) -> String {
    loop {
        match tokio::time::timeout(STALE_AFTER, socket.recv()).await {
            Err(_) => return format!("nothing for {STALE_AFTER:?}"),
            Ok(Err(err)) => return format!("receive failed: {err}"),
            Ok(Ok(message)) => {
                let frames = message.into_vec();
                // Pushpin sends one frame per message; more is not Pushpin's.
                match frames.as_slice() {
                    [frame] => feed.take(frame),
                    _ => feed.bad(&format!("{} frames in one message", frames.len())),
                }
            }
        }
    }
}
