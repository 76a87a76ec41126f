//! The harness itself works: Pushpin forwards to an origin from the first request on, and
//! again right after a restart on the same ports; Redis answers PING.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use tack_testkit::http_probe;
use tack_testkit::pushpin::{Pushpin, PushpinConfig};
use tack_testkit::redis::Redis;

/// A one-trick origin: answers every request with `hello from origin`.
fn start_origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "hello from origin";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// GET through Pushpin, once: `start` and `restart` return only when Pushpin proxies, so the
/// first request must get through (the generous timeout is for a busy machine, not a retry).
fn http_get(port: u16, path: &str) -> String {
    let answer = http_probe::get(port, "localhost", path, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("pushpin did not answer the first request: {e}"));
    format!("{} {}", answer.status, answer.body)
}

#[test]
fn pushpin_forwards_to_the_origin_and_survives_a_restart() {
    let origin = start_origin();
    let mut pushpin = Pushpin::start(&PushpinConfig::new(
        format!("127.0.0.1:{origin}"),
        "test-key",
    ));
    let reply = http_get(pushpin.http_port(), "/");
    assert!(
        reply.starts_with("200 ") && reply.contains("hello from origin"),
        "reply: {reply}\nlog:\n{}",
        pushpin.log()
    );

    pushpin.restart();
    let reply = http_get(pushpin.http_port(), "/");
    assert!(
        reply.contains("hello from origin"),
        "after restart: {reply}\nlog:\n{}",
        pushpin.log()
    );
    assert_eq!(
        http_probe::get(
            pushpin.publish_port(),
            "localhost",
            "/",
            Duration::from_secs(10)
        )
        .map(|a| a.status),
        Ok(200),
        "the publish port answers after a restart"
    );
}

#[test]
fn redis_answers_ping() {
    let redis = Redis::start();
    let mut s = TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+PONG\r\n");
}
