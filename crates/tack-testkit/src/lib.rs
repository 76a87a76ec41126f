//! Tack's test kit: everything a story stands up besides the code it is about, started on
//! free loopback ports and stopped on drop.
//!
//! Outside services, real and from the Debian packages:
//! - [`pushpin`]: Pushpin 1.36 with zurl, routing to an origin you name.
//! - [`redis`]: a throwaway Redis server, or a Redis Cluster; both stop and start again with
//!   or without their data.
//!
//! Tack's own servers and the fronts a user puts before them:
//! - [`server`]: the built-in server.
//! - [`stage`]: a Tack origin behind one or more real Pushpins.
//! - [`tls`]: a TLS front with a self-signed certificate.
//! - [`fault_proxy`]: a TCP proxy that cuts, stalls, refuses upgrades and drops a frame.
//! - [`late_holds`]: a link to the origin on which a stream's hold reaches Pushpin late.
//! - [`balancer`]: a TCP load balancer before several servers (first one that accepts).
//! - [`legacy`]: a server of the original system, which the client must still talk to.
//!
//! Clients:
//! - [`clients`]: small WebSocket, SSE and long-poll clients of the wire protocol.
//! - [`engine`]: the client engine's events, read with deadlines, and short timings for it.
//!
//! Readiness is awaited by asking the service itself (a request through Pushpin's proxy, a
//! connection to Redis's port), never by sleeping a fixed time.

pub mod balancer;
pub mod clients;
pub mod engine;
pub mod fault_proxy;
pub mod hostile;
pub mod http_probe;
pub mod late_holds;
pub mod legacy;
pub mod pushpin;
pub mod redis;
pub mod server;
pub mod stage;
pub mod tls;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Waits until something accepts TCP connections on `port`, or panics naming `what`.
pub fn wait_for_port(port: u16, what: &str, within: Duration) {
    if let Err(why) = wait_listening(port, within, || None) {
        panic!("{what} {why}");
    }
}

/// Waits until something accepts TCP connections on `port`. Err says why not: the time is up,
/// or `gone` (asked between tries) says the process that should listen has ended.
pub fn wait_listening(
    port: u16,
    within: Duration,
    mut gone: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(why) = gone() {
            return Err(why);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "did not listen on 127.0.0.1:{port} within {within:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

/// True when nothing listens on `port` and it can be bound now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A loopback port nobody is listening on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("loopback has free ports")
}
