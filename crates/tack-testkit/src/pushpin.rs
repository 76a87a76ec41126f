//! Pushpin 1.36 from the Debian package, run without root in a temp dir.
//!
//! The shipped config runs as a system service; here `rundir`/`logdir` point into a temp dir,
//! zurl is added to the services (without it every request to the origin fails) and wired to
//! the proxy over IPC, and `port_offset` moves the handler's ports (publish among them) so
//! several instances can run side by side. The client port is given as `127.0.0.1:PORT`, which
//! Pushpin 1.36 takes literally: `port_offset` does not move an explicit address.

mod ready;

use crate::port_is_free;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Pushpin's handler ports, before `port_offset`.
const HANDLER_PORTS: [u16; 4] = [5560, 5561, 5562, 5563];
const PUBLISH_PORT: u16 = 5561;
/// Starts on fresh ports after one was taken before Pushpin bound it, at most.
const START_ATTEMPTS: u32 = 3;
/// What Pushpin's log says when a port it binds is taken.
const PORT_TAKEN: &str = "Address already in use";

/// How Pushpin should treat the origin.
#[derive(Debug, Clone)]
pub struct PushpinConfig {
    /// `host:port` of the GRIP origin.
    pub origin: String,
    /// Shared key for `Grip-Sig` (HS256); Pushpin signs requests to the origin with it.
    pub sig_key: String,
    /// Pushpin ships with `message_rate=2500`, which delays deliveries when publishes come less
    /// than ~25 ms apart; tests lift it (0 = no shaping).
    pub message_rate: u32,
    /// Per-connection outgoing buffer; the shipped 8192 silently drops bigger bursts.
    pub client_buffer_size: u32,
    /// How its stats socket ([`Pushpin::stats_spec`]) writes messages.
    pub stats_format: StatsFormat,
}

/// Pushpin's `stats_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    /// The shipped default.
    Tnetstring,
    Json,
}

impl StatsFormat {
    fn setting(self) -> &'static str {
        match self {
            StatsFormat::Tnetstring => "tnetstring",
            StatsFormat::Json => "json",
        }
    }
}

impl PushpinConfig {
    pub fn new(origin: impl Into<String>, sig_key: impl Into<String>) -> PushpinConfig {
        PushpinConfig {
            origin: origin.into(),
            sig_key: sig_key.into(),
            message_rate: 0,
            client_buffer_size: 65536,
            stats_format: StatsFormat::Tnetstring,
        }
    }
}

pub struct Pushpin {
    child: Option<Child>,
    offset: u16,
    http_port: u16,
    probe: ready::ProbeOrigin,
    dir: tempfile::TempDir,
}

impl Pushpin {
    /// Starts Pushpin (condure, zurl, proxy, handler) and waits until it accepts clients and
    /// publishes.
    ///
    /// Its ports are picked free, but nothing holds them until Pushpin binds them, so one can
    /// be taken meanwhile (seen: condure "failed to bind 127.0.0.1:41003: Address already in
    /// use"). Then it starts again on other ports, at most [`START_ATTEMPTS`] times.
    pub fn start(config: &PushpinConfig) -> Pushpin {
        Pushpin::start_trying(config, None)
    }

    /// [`start`](Self::start), with the client port of the first attempt given.
    fn start_trying(config: &PushpinConfig, mut first_port: Option<u16>) -> Pushpin {
        // Bound before the ports are picked, so the probe's port cannot be one of them.
        let probe = ready::ProbeOrigin::bind();
        let mut pushpin = Pushpin {
            child: None,
            offset: 0,
            http_port: 0,
            probe,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for attempt in 1..=START_ATTEMPTS {
            pushpin.pick_ports();
            if let Some(port) = first_port.take() {
                pushpin.http_port = port;
            }
            write_config(
                pushpin.dir.path(),
                pushpin.offset,
                pushpin.http_port,
                &pushpin.probe.target(),
                config,
            );
            match pushpin.try_run() {
                Ok(()) => return pushpin,
                Err(why) if attempt < START_ATTEMPTS && pushpin.log().contains(PORT_TAKEN) => {
                    eprintln!("pushpin: {why}; a port was taken before it bound it, so again on other ports");
                    // Not `stop`: the taken port stays taken by whoever took it.
                    pushpin.end_processes();
                }
                Err(why) => panic!("{why}\nlog:\n{}", pushpin.log()),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// A free `port_offset` for the handler's ports and a free client port apart from them.
    fn pick_ports(&mut self) {
        self.offset = free_offset();
        // The client port must not be one of the handler's: a free port picked now can be one
        // of them (they are free until Pushpin binds them), and then condure and the handler
        // share it and publishes land on the client port (seen: `POST /publish/ -> origin`).
        let handler_ports = HANDLER_PORTS.map(|p| p + self.offset);
        self.http_port = loop {
            let port = crate::free_port();
            if !handler_ports.contains(&port) {
                break port;
            }
        };
    }

    fn run(&mut self) {
        if let Err(why) = self.try_run() {
            panic!("{why}\nlog:\n{}", self.log());
        }
    }

    fn try_run(&mut self) -> Result<(), String> {
        let child = Command::new("pushpin")
            .arg("--config")
            .arg(self.dir.path().join("pushpin.conf"))
            .arg("--merge-output")
            .arg("--logfile")
            .arg(self.dir.path().join("log/pushpin.log"))
            // Its own process group, so stopping it stops condure, zurl, proxy and handler too.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pushpin runs (scripts/setup.sh test installs it)");
        self.child = Some(child);
        let within = Duration::from_secs(20);
        self.wait_listening(self.http_port(), "client port", within)?;
        self.wait_listening(self.publish_port(), "publish port", within)?;
        self.wait_until_it_proxies(within)
    }

    /// Waits until something accepts connections on `port`; Err when Pushpin exits first or
    /// the time is up.
    fn wait_listening(&mut self, port: u16, what: &str, within: Duration) -> Result<(), String> {
        crate::wait_listening(port, within, || {
            self.exited().map(|status| format!("exited ({status})"))
        })
        .map_err(|why| format!("pushpin's {what}: {why}"))
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits until a request through the client port is held by Pushpin, a publish comes out
    /// of it and so does the answer to its followed link (see [`ready`]). Each attempt is
    /// short: a request taken before the proxy was connected never returns.
    fn wait_until_it_proxies(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.probe.probe(
                self.http_port(),
                self.publish_port(),
                Duration::from_secs(1),
            ) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            if let Some(status) = self.exited() {
                last = format!("pushpin exited: {status}");
                break;
            }
        }
        Err(format!(
            "pushpin did not hold a request, deliver a publish and follow a link within {within:?} (last: {last})"
        ))
    }

    /// Where clients connect: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port())
    }

    /// Where the origin publishes: `http://127.0.0.1:PORT` (POST `/publish/`).
    pub fn publish_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.publish_port())
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn publish_port(&self) -> u16 {
        PUBLISH_PORT + self.offset
    }

    /// Its stats socket, a ZeroMQ PUB in the run dir (`stats_spec`): what the origin's
    /// `pushpin_stats` names.
    pub fn stats_spec(&self) -> String {
        format!(
            "ipc://{}",
            self.dir.path().join("run/pushpin-stats").display()
        )
    }

    /// Pushpin's merged log, for a failing test to print.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/pushpin.log")).unwrap_or_default()
    }

    /// Stops every Pushpin process and waits until its ports are free.
    pub fn stop(&mut self) {
        if self.end_processes() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !(port_is_free(self.http_port()) && port_is_free(self.publish_port()))
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }

    /// Ends every Pushpin process; false when none was running.
    fn end_processes(&mut self) -> bool {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-TERM", "--", &group])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
            return true;
        }
        false
    }

    /// Stops and starts again on the same ports, as an operator's restart would.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Pushpin {
    fn drop(&mut self) {
        self.stop();
        // A failing test shows what Pushpin saw, before the temp dir and its log go away.
        if std::thread::panicking() {
            eprintln!("---- pushpin log ({}) ----\n{}", self.url(), self.log());
        }
    }
}

/// A `port_offset` under which every port Pushpin binds is free now.
fn free_offset() -> u16 {
    for _ in 0..200 {
        let offset = 1000 + (rand_u16() % 40000);
        let all_free = HANDLER_PORTS.iter().all(|p| port_is_free(p + offset));
        if all_free {
            return offset;
        }
    }
    panic!("no free port_offset for pushpin");
}

fn rand_u16() -> u16 {
    // Good enough to spread parallel tests apart; no need for a RNG dependency.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id().rotate_left(7)) as u16
}

/// Pushpin's log level: 2 (info) unless `TACK_PUSHPIN_LOG_LEVEL` asks for more (3 = debug
/// shows every subscribe and publish), for chasing a failure.
fn log_level() -> u8 {
    std::env::var("TACK_PUSHPIN_LOG_LEVEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn write_config(dir: &Path, offset: u16, http_port: u16, probe: &str, config: &PushpinConfig) {
    let run = dir.join("run");
    let log = dir.join("log");
    std::fs::create_dir_all(&run).expect("rundir");
    std::fs::create_dir_all(&log).expect("logdir");
    let libdir = PathBuf::from("/usr/lib/pushpin");
    let conf = format!(
        r#"[global]
include={libdir}/internal.conf
rundir={run}
ipc_prefix=pushpin-
port_offset={offset}
stats_connection_ttl=120

[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:{http_port}
logdir={log}
log_level={log_level}
client_buffer_size={buffer}
client_maxconn=50000
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile={routes}
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
sig_iss=pushpin
sig_key={key}
updates_check=off
zurl_out_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in
zurl_out_stream_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in-stream
zurl_in_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-out

[handler]
push_in_spec=tcp://127.0.0.1:5560
push_in_sub_specs=tcp://127.0.0.1:5562
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port={PUBLISH_PORT}
push_in_http_max_headers_size=10000
push_in_http_max_body_size=1000000
stats_spec=ipc://{{rundir}}/{{ipc_prefix}}stats
command_spec=tcp://127.0.0.1:5563
message_rate={rate}
message_hwm=25000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format={stats_format}
"#,
        libdir = libdir.display(),
        run = run.display(),
        log = log.display(),
        routes = dir.join("routes").display(),
        buffer = config.client_buffer_size,
        key = config.sig_key,
        rate = config.message_rate,
        log_level = log_level(),
        stats_format = config.stats_format.setting(),
    );
    std::fs::write(dir.join("pushpin.conf"), conf).expect("write pushpin.conf");
    // `over_http`: WebSocket clients reach the origin as WebSocket-over-HTTP requests. The
    // first line is the readiness probe's (see `ready`).
    std::fs::write(
        dir.join("routes"),
        format!("{} {probe}\n* {},over_http\n", ready::HOST, config.origin),
    )
    .expect("write routes");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Another listener takes the client port Pushpin was given: it starts again on another
    /// port and works there.
    #[test]
    fn a_taken_client_port_makes_pushpin_start_again_on_another() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = taken.local_addr().expect("bound").port();
        let config = PushpinConfig::new("127.0.0.1:9", "key");
        let pushpin = Pushpin::start_trying(&config, Some(port));
        assert_ne!(pushpin.http_port(), port);
        assert!(pushpin.log().contains(PORT_TAKEN), "{}", pushpin.log());
        drop(taken);
    }
}
