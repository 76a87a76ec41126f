//! An operator running several `tack serve` on one machine gives each a share of its cores
//! (`--threads`, or `TACK_THREADS`) and reads the share back from `/metrics`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tack_testkit::{free_port, wait_for_port};

const TACK: &str = env!("CARGO_BIN_EXE_tack");

/// A `tack serve` on loopback ports, killed when dropped.
struct Serve {
    child: Child,
    control_port: u16,
}

impl Serve {
    fn start(threads_flag: Option<&str>, threads_env: Option<&str>) -> Serve {
        let port = free_port();
        let control_port = free_port();
        let mut command = Command::new(TACK);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--control-listen", &format!("127.0.0.1:{control_port}")])
            .env_remove("TACK_THREADS")
            .env_remove("TOKIO_WORKER_THREADS")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = threads_flag {
            command.args(["--threads", n]);
        }
        if let Some(n) = threads_env {
            command.env("TACK_THREADS", n);
        }
        let child = command.spawn().expect("the tack binary runs");
        wait_for_port(control_port, "tack serve", Duration::from_secs(20));
        Serve {
            child,
            control_port,
        }
    }

    /// The `tack_worker_threads` line of `GET /metrics`.
    async fn worker_threads(&self) -> u64 {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.control_port))
            .await
            .expect("/metrics answers")
            .text()
            .await
            .expect("/metrics has a body");
        text.lines()
            .find_map(|line| line.strip_prefix("tack_worker_threads "))
            .unwrap_or_else(|| panic!("/metrics has tack_worker_threads:\n{text}"))
            .parse()
            .expect("a number")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_runs_on_the_worker_threads_it_is_given() {
    // One more than the cores, so the default (one per core) can't pass for it.
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    let more = Serve::start(Some(&(cores + 1).to_string()), None);
    assert_eq!(more.worker_threads().await, cores + 1);

    let one = Serve::start(None, Some("1"));
    assert_eq!(one.worker_threads().await, 1, "TACK_THREADS=1");

    let default = Serve::start(None, None);
    assert_eq!(default.worker_threads().await, cores, "one per core");
}

#[test]
fn no_worker_threads_is_refused_naming_the_range() {
    let out = Command::new(TACK)
        .args(["serve", "--threads", "0"])
        .output()
        .expect("the tack binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--threads"), "{stderr}");
    assert!(stderr.contains("1..=1024"), "{stderr}");
}
