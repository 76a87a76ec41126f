//! The harness itself works: Pushpin forwards to an origin and restarts on the same ports;
//! Redis answers PING.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
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

/// GET through Pushpin. Its client port can accept a moment before the proxy behind it is
/// ready, so a request that gets no answer within 2 s is tried again (up to 20 s).
fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        match s.read_to_string(&mut out) {
            Ok(_) => return out,
            Err(e) if Instant::now() < deadline => eprintln!("no answer yet ({e}); trying again"),
            Err(e) => panic!("pushpin never answered: {e}"),
        }
    }
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
        reply.contains("hello from origin"),
        "reply: {reply}\nlog:\n{}",
        pushpin.log()
    );

    pushpin.restart();
    let reply = http_get(pushpin.http_port(), "/");
    assert!(
        reply.contains("hello from origin"),
        "after restart: {reply}"
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
