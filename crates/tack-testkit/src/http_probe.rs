//! A minimal HTTP/1.1 GET over std's `TcpStream`, for readiness probes: the harness must not
//! depend on the HTTP stacks the tests exercise.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What one probe got back: the status code and the body (headers dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// `GET path` on `127.0.0.1:port` with `Host: host`, waiting at most `within` for the whole
/// answer. An error says what went wrong (refused, no answer in time, not HTTP).
pub fn get(port: u16, host: &str, path: &str, within: Duration) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(within))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    // A small cap: a probe's answer is a line or two.
    (&mut stream)
        .take(64 * 1024)
        .read_to_end(&mut raw)
        .map_err(|e| format!("no complete answer: {e}"))?;
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> Result<Answer, String> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {raw:?}"))?;
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    Ok(Answer {
        status,
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_its_status_and_body() {
        let answer = parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nPushpin API\n").unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, "Pushpin API\n");
        assert!(parse("garbage").is_err());
        assert!(parse("HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
