//! The three ways to reach a server. Each `open` returns a [`Link`](crate::link::Link) whose
//! tasks read frames into the engine and write the engine's frames out; none of them decides
//! anything about rooms, resume or retries — that is the engine's job.

pub mod http;
pub mod poll;
pub mod stream;
mod tls;
pub mod ws;

use crate::endpoint::Endpoint;
use crate::profile::Profile;
use std::time::Duration;

/// What every transport needs to dial.
#[derive(Debug, Clone)]
pub struct Dial {
    pub endpoint: Endpoint,
    pub profile: Profile,
    pub http: reqwest::Client,
    pub connect_timeout: Duration,
    /// How long to wait for the server's first frame.
    pub welcome_timeout: Duration,
    /// A stream that delivers nothing (not even a keep-alive) for this long is dead.
    pub stream_read_timeout: Duration,
    /// How long a long-poll asks the server to hold.
    pub poll_hold: Duration,
    pub inbound_capacity: usize,
}

impl Dial {
    /// Builds the HTTP client shared by the streaming and polling transports.
    pub fn http_client(profile: &Profile, connect_timeout: Duration) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in auth_headers(profile) {
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(&v),
            ) {
                headers.insert(k, v);
            }
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            // Never a total timeout: a stream lives for hours. Reads are timed per chunk.
            .danger_accept_invalid_certs(profile.insecure_tls)
            .build()
            .expect("the HTTP client's settings are valid")
    }
}

/// The profile's token and extra headers, as sent on every request and handshake.
pub fn auth_headers(profile: &Profile) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = profile.headers.clone();
    if let Some(t) = &profile.token {
        out.push(("Authorization".into(), format!("Bearer {t}")));
    }
    out
}
