//! Proof that a started Pushpin works end to end, before a test gets it.
//!
//! Pushpin's ports listen before its parts are wired together: condure accepts before the
//! proxy is connected (a request in that moment can go unanswered), and the proxy forwards
//! before the handler has connected to its accept socket (a `Grip-Hold` answer then becomes
//! `500 Accept service unavailable`). And the handler asks the origin again (a stream's
//! `Grip-Link`) through the proxy before it is sure to hear the proxy's answers: a link
//! followed in Pushpin's first moments can wait 60 s for an answer the proxy already sent
//! (seen: a stream's first hint after an enter, answered by the origin at once, reached the
//! client only when Pushpin's request timed out a minute later).
//!
//! So readiness is a real round trip: a request through the client port, routed (by its
//! `Host`) to a tiny GRIP origin here that holds it as a stream; a publish to the publish port
//! that must come out of that stream; then a hint on the stream's channel, which makes the
//! handler follow the stream's link, whose answer must come out too. That covers condure, the
//! proxy and its routes, zurl, the handler's accept path, its publish path and its own
//! requests through the proxy.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The `Host` of the probe; the routes file sends it to [`ProbeOrigin`].
pub const HOST: &str = "tack-testkit-ready";
const CHANNEL: &str = "tack-testkit-ready";
const HELD: &str = "held\n";
/// The path of the held stream's `Grip-Link`, and what following it writes to the stream.
const NEXT: &str = "/next";
const FOLLOWED: &str = "followed\n";

/// The probe's origin: a loopback listener, served only while a probe runs.
pub struct ProbeOrigin {
    listener: TcpListener,
}

impl ProbeOrigin {
    pub fn bind() -> ProbeOrigin {
        ProbeOrigin {
            listener: TcpListener::bind("127.0.0.1:0").expect("a loopback port for the probe"),
        }
    }

    /// `127.0.0.1:PORT`, for the routes file.
    pub fn target(&self) -> String {
        self.listener.local_addr().expect("bound").to_string()
    }

    /// One probe: a held stream through `client_port`, then publishes to `publish_port` until
    /// one arrives on it. Err says how far it got.
    pub fn probe(
        &self,
        client_port: u16,
        publish_port: u16,
        within: Duration,
    ) -> Result<(), String> {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| self.serve(&stop));
            let result = round_trip(client_port, publish_port, within);
            stop.store(true, Ordering::SeqCst);
            // Wakes the accept loop so the thread sees `stop`.
            let _ = TcpStream::connect(self.listener.local_addr().expect("bound"));
            result
        })
    }

    /// Answers every request with `Grip-Hold: stream` on the probe's channel and a link to
    /// [`NEXT`]; a request for the link says [`FOLLOWED`] instead of [`HELD`].
    fn serve(&self, stop: &AtomicBool) {
        for stream in self.listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let Ok(head) = read_head(&mut stream) else {
                continue;
            };
            let body = if head.starts_with(&format!("GET {NEXT} ")) {
                FOLLOWED
            } else {
                HELD
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nGrip-Hold: stream\r\nGrip-Channel: {CHANNEL}\r\nGrip-Link: <{NEXT}>; rel=next\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    }
}

/// The request's head, up to its blank line.
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn round_trip(client_port: u16, publish_port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let mut client = TcpStream::connect(("127.0.0.1", client_port)).map_err(|e| e.to_string())?;
    client
        .set_read_timeout(Some(within))
        .map_err(|e| e.to_string())?;
    write!(
        client,
        "GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut seen = String::new();
    read_until(&mut client, &mut seen, HELD, deadline)?;
    if !seen.starts_with("HTTP/1.1 200") {
        return Err(format!("the held request was answered {seen:?}"));
    }
    // The handler subscribes the stream as it takes it over; a publish that overtakes the
    // subscription is lost, so publish again (each with its own mark) until one comes out.
    client
        .set_read_timeout(Some(Duration::from_millis(250)))
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    loop {
        n += 1;
        let mark = format!("published {n}\n");
        publish(publish_port, &content(&mark))?;
        match read_until(&mut client, &mut seen, &mark, deadline) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => continue,
            Err(e) => return Err(format!("held stream, but no publish came out: {e}")),
        }
    }
    // One hint is enough once the stream is subscribed (it was: a publish came out). If the
    // handler does not hear the proxy's answer yet, its request waits a minute: this probe
    // gives up at its deadline and the next one tries on a new stream.
    publish(publish_port, HINT)?;
    let left = deadline.saturating_duration_since(Instant::now());
    client
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .map_err(|e| e.to_string())?;
    read_until(&mut client, &mut seen, FOLLOWED, deadline)
        .map_err(|e| format!("a publish came out, but the stream's link was not followed: {e}"))
}

/// An `http-stream` item that writes `text` to the probe's stream.
fn content(text: &str) -> String {
    format!(r#"{{"content":{text:?}}}"#)
}

/// An `http-stream` item that makes Pushpin follow the probe stream's link.
const HINT: &str = r#"{"action":"hint"}"#;

/// Reads into `seen` until it contains `mark` (Ok), the read times out, or `deadline` passes.
fn read_until(
    client: &mut TcpStream,
    seen: &mut String,
    mark: &str,
    deadline: Instant,
) -> Result<(), String> {
    let mut buf = [0u8; 4096];
    while !seen.contains(mark) {
        if Instant::now() >= deadline {
            return Err(format!("gave up waiting for {mark:?}; got {seen:?}"));
        }
        match client.read(&mut buf) {
            Ok(0) => return Err(format!("connection ended; got {seen:?}")),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) => return Err(format!("{e}; got {seen:?}")),
        }
        if seen.len() > 64 * 1024 {
            return Err("the probe stream grew too big".into());
        }
    }
    Ok(())
}

/// Publishes one `http-stream` format (`{"content": …}` or `{"action": …}`) to the probe's
/// channel.
fn publish(publish_port: u16, http_stream: &str) -> Result<(), String> {
    let body = format!(
        r#"{{"items":[{{"channel":"{CHANNEL}","formats":{{"http-stream":{http_stream}}}}}]}}"#
    );
    let mut stream = TcpStream::connect(("127.0.0.1", publish_port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST /publish/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .take(64 * 1024)
        .read_to_string(&mut answer)
        .map_err(|e| format!("publish not answered: {e}"))?;
    if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!("publish refused: {answer:?}"))
    }
}
