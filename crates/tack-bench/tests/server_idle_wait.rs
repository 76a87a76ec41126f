//! Before each saturation step the bench waits until the server's processes are idle, so an
//! overloaded step does not spill into the next. Checked against real processes: one that
//! sleeps and one that spins.

use std::process::{Child, Command};
use std::time::Duration;
use tack_bench::procstat::until_idle;

struct Process(Child);

impl Process {
    fn spawn(script: &str) -> Process {
        Process(
            Command::new("sh")
                .args(["-c", script])
                .spawn()
                .expect("sh runs"),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_sleeping_server_counts_as_idle_at_once() {
    let sleeper = Process::spawn("exec sleep 30");
    let waited = until_idle(&[sleeper.pid()], Duration::from_secs(10)).await;
    // One 200 ms window shows it idle; on a busy machine allow a few more.
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
}

#[tokio::test]
async fn a_busy_server_is_waited_for_until_the_limit() {
    let spinner = Process::spawn("while :; do :; done");
    let limit = Duration::from_millis(800);
    let waited = until_idle(&[spinner.pid()], limit).await;
    assert!(
        waited >= limit,
        "a spinning process counted as idle after {waited:?}"
    );
    assert!(waited < limit + Duration::from_secs(2), "waited {waited:?}");
}

#[tokio::test]
async fn no_server_processes_means_no_wait() {
    assert_eq!(
        until_idle(&[], Duration::from_secs(5)).await,
        Duration::ZERO
    );
}
