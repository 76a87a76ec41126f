//! The control door (`/publish/`, `/metrics`) served on a thread of its own.
//!
//! Under fan-out load the main runtime's run queue holds the task of every subscriber with
//! something to write. A publish served there waited its turn behind all of them — a whole
//! round of the fan-out it was about to cause — before its items reached the channel, and the
//! subscribers then took another round to write them. On its own thread a publish appends as
//! soon as the kernel gives that thread a core; the append wakes the subscribers on the main
//! runtime as before. Measured on 2 cores at 1,000 subscribers × 2,200 msg/s (bench/NOTES.md):
//! delivery p50 18–25 ms before, 10–11.5 ms after, the bare broadcast loop 9.2–9.4 ms.
//!
//! The thread's runtime lives until the server has stopped, not only until it stops
//! accepting: what a handler started there (an in-flight request finishing after shutdown
//! began, a Redis connection's reconnect) keeps running while the server winds down, as it did
//! on the main runtime.

use crate::listener::{self, ConnectionLimits};
use axum::Router;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

/// Connections the control listener serves at once: publishers and metrics scrapers, not
/// clients.
const CONTROL_CONNECTIONS: usize = 256;

pub struct ControlThread {
    /// Cancelled when this is dropped: a server whose `serve` was dropped mid-way (its task
    /// aborted, its runtime shut down) must not leave the thread serving.
    stop: CancellationToken,
    stopped_accepting: Option<oneshot::Receiver<()>>,
    release: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ControlThread {
    /// Serves `router` on `listener` from a new thread until `stop` is cancelled.
    pub fn start(
        listener: TcpListener,
        router: Router,
        limits: ConnectionLimits,
        stop: CancellationToken,
    ) -> std::io::Result<ControlThread> {
        let stop = stop.child_token();
        // Moved out of this runtime's event loop; registered with the thread's own below.
        let listener = listener.into_std()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stopped, stopped_accepting) = oneshot::channel();
        let (release, released) = oneshot::channel::<()>();
        let serving = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tack-control".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            listener::serve(
                                listener,
                                router,
                                Arc::new(Semaphore::new(CONTROL_CONNECTIONS)),
                                limits,
                                serving,
                                || tracing::warn!("control listener full"),
                            )
                            .await
                        }
                        Err(err) => tracing::error!(%err, "cannot serve the control listener"),
                    }
                    let _ = stopped.send(());
                    let _ = released.await;
                });
            })?;
        Ok(ControlThread {
            stop,
            stopped_accepting: Some(stopped_accepting),
            release: Some(release),
            thread: Some(thread),
        })
    }

    /// Resolves once the listener has stopped accepting (after `stop` was cancelled).
    pub async fn stopped_accepting(&mut self) {
        if let Some(stopped) = self.stopped_accepting.take() {
            let _ = stopped.await;
        }
    }

    /// Ends the thread and its runtime, with whatever still runs there, and waits for it.
    pub async fn finish(mut self) {
        self.stop.cancel();
        self.release.take();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for ControlThread {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
