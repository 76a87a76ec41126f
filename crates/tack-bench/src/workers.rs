//! The threads the load connections run on: one single-threaded tokio runtime per thread, each
//! with its own event loop (epoll) and timers; connection `i` lives on thread `i mod threads`.
//!
//! Why not the work-stealing runtime the rest of `tack` uses: a load connection does a few
//! hundred nanoseconds of work per frame, so what a multi-threaded scheduler adds per wake-up
//! (a shared I/O driver, waking a sleeping worker, stealing, the cache traffic of a task that
//! moves between cores) is a large share of it. Pinned to a thread, a connection's socket,
//! buffers and tally shard stay on one core, and the threads never wait for one another.
//! The run's control loop stays on the caller's runtime; the publisher has a thread of its own
//! (`publish.rs` says why).

use std::io;
use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` threads (at least one), each running its own runtime until dropped.
    pub fn start(count: usize) -> io::Result<Workers> {
        Workers::start_named(count, "bench-worker")
    }

    /// [`Workers::start`], the threads named `{name}-{n}`.
    pub fn start_named(count: usize, name: &str) -> io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for n in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop);
            workers.threads.push(
                std::thread::Builder::new()
                    .name(format!("{name}-{n}"))
                    // Its tasks run only while the thread drives the runtime: until told to stop.
                    .spawn(move || {
                        let _ = runtime.block_on(stopped);
                    })?,
            );
        }
        Ok(workers)
    }

    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// The runtime connection `conn` runs on.
    pub fn for_connection(&self, conn: usize) -> &Handle {
        &self.handles[conn % self.handles.len()]
    }
}

impl Drop for Workers {
    /// Stops every thread; tasks still on them are dropped with their runtime.
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_dealt_round_robin_to_threads_of_their_own() {
        let workers = Workers::start(2).unwrap();
        let name = |conn: usize| {
            let (tx, rx) = std::sync::mpsc::channel();
            workers.for_connection(conn).spawn(async move {
                let _ = tx.send(std::thread::current().name().map(str::to_owned));
            });
            rx.recv().unwrap()
        };
        assert_eq!(name(0).as_deref(), Some("bench-worker-0"));
        assert_eq!(name(1).as_deref(), Some("bench-worker-1"));
        assert_eq!(name(2).as_deref(), Some("bench-worker-0"));
        assert_eq!(workers.count(), 2);
    }
}
