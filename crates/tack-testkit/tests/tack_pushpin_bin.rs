//! `tack-pushpin`, the launcher `bench/run.sh` uses: it starts Pushpin with the tests' own
//! config, says where it listens and which processes it is, and takes every one of them down
//! when its stdin closes.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn tack_pushpin_runs_pushpin_until_its_stdin_closes() {
    let origin = format!("127.0.0.1:{}", tack_testkit::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tack-pushpin"))
        .args(["--origin", &origin, "--sig-key", "test-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tack-pushpin runs");
    let mut said = std::collections::HashMap::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("a line");
        if line == "ready" {
            break;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        said.insert(key.to_owned(), value.to_owned());
    }

    let port = |key: &str| -> u16 {
        let url = &said[key];
        url.rsplit(':').next().unwrap().parse().expect("a port")
    };
    TcpStream::connect(("127.0.0.1", port("url"))).expect("clients can connect");
    TcpStream::connect(("127.0.0.1", port("publish_url"))).expect("publishers can connect");
    let config = std::fs::read_to_string(format!("{}/pushpin.conf", said["dir"])).unwrap();
    assert!(config.contains("message_rate=0"), "{config}");
    let pids: Vec<u32> = said["pids"]
        .split(',')
        .map(|p| p.parse().expect("a pid"))
        .collect();
    assert_eq!(
        pids.len(),
        5,
        "runner, condure, zurl, proxy, handler: {pids:?}"
    );
    assert!(pids.iter().all(|&p| alive(p)), "{pids:?}");

    drop(child.stdin.take());
    let status = child.wait().expect("tack-pushpin exits");
    assert!(status.success(), "{status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        !pids.iter().any(|&p| alive(p)),
        "pushpin processes outlived tack-pushpin: {pids:?}"
    );
}
