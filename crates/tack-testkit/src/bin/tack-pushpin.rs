//! Pushpin exactly as the tests run it, for scripts: `bench/run.sh` starts its Pushpin through
//! this, so the benchmark and the tests share one `pushpin.conf` (rate limits lifted, the same
//! buffers and connection limits) instead of two copies that drift apart.
//!
//! Usage: `tack-pushpin --origin 127.0.0.1:PORT --sig-key KEY`
//!
//! Once Pushpin accepts clients and publishes, prints `key=value` lines and `ready`:
//! `url` (clients), `publish_url` (POST `/publish/`), `dir` (config and log), `pids` (the
//! runner, condure, zurl, proxy and handler). Pushpin runs until stdin closes; then every
//! Pushpin process is stopped before this exits, so a script that dies takes Pushpin with it.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tack_testkit::pushpin::{Pushpin, PushpinConfig};

const SERVICES: [&str; 4] = ["condure", "zurl", "pushpin-proxy", "pushpin-handler"];

fn main() {
    let mut origin = None;
    let mut sig_key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--origin" => origin = args.next(),
            "--sig-key" => sig_key = args.next(),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let origin = origin.unwrap_or_else(|| usage("--origin HOST:PORT is required"));
    let sig_key = sig_key.unwrap_or_else(|| usage("--sig-key KEY is required"));

    let pushpin = Pushpin::start(&PushpinConfig::new(origin, sig_key));
    let pids = service_pids(pushpin.dir());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "url={}", pushpin.url());
    let _ = writeln!(out, "publish_url={}", pushpin.publish_url());
    let _ = writeln!(out, "dir={}", pushpin.dir().display());
    let _ = writeln!(out, "pids={pids}");
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    drop(out);

    // Whatever arrives on stdin is ignored; its end is the signal to stop.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    drop(pushpin);
}

fn usage(why: &str) -> ! {
    eprintln!("tack-pushpin: {why}\nusage: tack-pushpin --origin HOST:PORT --sig-key KEY");
    std::process::exit(2);
}

/// The runner and its four services, comma-separated. Each service writes a pid file into the
/// rundir as it starts; the proxy and zurl may do so a moment after the ports are up.
fn service_pids(dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let read = |name: &str| -> Option<u32> {
        std::fs::read_to_string(dir.join("run").join(format!("{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let mut pids: Vec<u32> = Vec::new();
    while Instant::now() < deadline {
        pids = SERVICES.iter().filter_map(|s| read(s)).collect();
        if pids.len() == SERVICES.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    if let Some(runner) = pids.first().and_then(|&pid| parent_of(pid)) {
        pids.insert(0, runner);
    }
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the parent pid is the second field after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}
