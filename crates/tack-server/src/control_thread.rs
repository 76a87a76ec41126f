//! The control door (`/publish/`, `/metrics`) served on a thread of its own ([`OwnThread`]):
//! a publish appends as soon as it arrives instead of waiting behind the connection tasks of
//! the fan-out it is about to cause. Measured on 2 cores at 1,000 subscribers × 2,200 msg/s
//! (bench/NOTES.md): delivery p50 18–25 ms before, 10–11.5 ms after, the bare broadcast loop
//! 9–9.5 ms.
//!
//! The thread's runtime lives until the server has stopped, not only until it stops
//! accepting: what a handler started there (an in-flight request finishing after shutdown
//! began, a Redis connection's reconnect) keeps running while the server winds down, as it did
//! on the main runtime.

use crate::listener::{self, ConnectionLimits};
use crate::own_thread::OwnThread;
use axum::Router;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

/// Connections the control listener serves at once: publishers and metrics scrapers, not
/// clients.
const CONTROL_CONNECTIONS: usize = 256;

pub struct ControlThread {
    stopped_accepting: Option<oneshot::Receiver<()>>,
    /// Dropped with this (a server whose `serve` was dropped mid-way), it ends the listener too.
    thread: OwnThread,
}

impl ControlThread {
    /// Serves `router` on `listener` from a new thread until `stop` is cancelled.
    pub fn start(
        listener: TcpListener,
        router: Router,
        limits: ConnectionLimits,
        stop: CancellationToken,
    ) -> std::io::Result<ControlThread> {
        let thread = OwnThread::start("tack-control")?;
        // Moved out of this runtime's event loop; registered with the thread's own below.
        let listener = listener.into_std()?;
        let (stopped, stopped_accepting) = oneshot::channel();
        thread.handle().spawn(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => {
                    listener::serve(
                        listener,
                        router,
                        Arc::new(Semaphore::new(CONTROL_CONNECTIONS)),
                        limits,
                        stop,
                        || tracing::warn!("control listener full"),
                    )
                    .await
                }
                Err(err) => tracing::error!(%err, "cannot serve the control listener"),
            }
            let _ = stopped.send(());
        });
        Ok(ControlThread {
            stopped_accepting: Some(stopped_accepting),
            thread,
        })
    }

    /// Resolves once the listener has stopped accepting (after `stop` was cancelled).
    pub async fn stopped_accepting(&mut self) {
        if let Some(stopped) = self.stopped_accepting.take() {
            let _ = stopped.await;
        }
    }

    /// Ends the thread and its runtime, with whatever still runs there, and waits for it.
    pub async fn finish(self) {
        self.thread.finish().await;
    }
}
