//! A tokio runtime on a thread of its own, for work that must not wait its turn behind the
//! connection tasks of the server's main runtime.
//!
//! Under fan-out load the main runtime's run queue holds the task of every subscriber with
//! something to write, and a task woken there runs only after the ones before it: a whole
//! round of the fan-out. Work that *starts* a fan-out — taking a publish (`control_thread.rs`),
//! receiving what Redis announces (`redis_hub`) — paid that round before the subscribers paid
//! theirs. On its own thread it runs as soon as the kernel gives the thread a core; what it
//! appends wakes the subscribers on the main runtime as before (bench/NOTES.md has the
//! measurements).

use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct OwnThread {
    handle: Handle,
    /// Dropped to end the runtime.
    release: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OwnThread {
    /// Starts a thread named `name` running a single-threaded runtime until this is finished
    /// or dropped.
    pub fn start(name: &str) -> std::io::Result<OwnThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (release, released) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Its tasks run only while the thread drives the runtime: until released.
                let _ = runtime.block_on(released);
            })?;
        Ok(OwnThread {
            handle,
            release: Some(release),
            thread: Some(thread),
        })
    }

    /// Where to spawn the thread's work.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Ends the runtime, dropping whatever still runs on it, and waits for the thread.
    pub async fn finish(mut self) {
        self.release.take();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for OwnThread {
    /// Ends the runtime without waiting: a server dropped mid-way (its task aborted) leaves no
    /// thread behind serving a port.
    fn drop(&mut self) {
        self.release.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_spawned_on_it_runs_on_its_thread_and_ends_with_it() {
        let own = OwnThread::start("tack-test-own").unwrap();
        let name = own
            .handle()
            .spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("tack-test-own"));

        let (_held, never) = oneshot::channel::<()>();
        let pending = own.handle().spawn(async move {
            let _ = never.await;
        });
        own.finish().await;
        let ended = pending.await.unwrap_err();
        assert!(ended.is_cancelled(), "{ended:?}");
    }
}
