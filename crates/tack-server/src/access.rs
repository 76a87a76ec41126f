//! Who may reach what: tokens, browser origins and host names, checked before a request
//! reaches a handler.
//!
//! Every refusal is a `403` or `401` whose body names the setting that would allow the request,
//! so an operator who meets one knows what to change — and a default that refuses is never a
//! mystery.
//!
//! - **Browser origins**: a request that carries an `Origin` header comes from a web page. Only
//!   pages on `allowed_origins` (globs such as `https://*.example.com`) may use the client
//!   routes or publish; requests without the header (the CLI, backends, the desktop engine) are
//!   not affected. Without this, any page the user opens can chat, watch and publish on a
//!   server the user runs.
//! - **Host names**: a server on loopback answers only loopback names (`127.0.0.1`, `localhost`,
//!   `[::1]`) and `allowed_hosts`. A page whose name an attacker resolves to 127.0.0.1 (DNS
//!   rebinding) makes same-origin requests, which carry no `Origin`; its `Host` gives it away.
//!   A listed page gets the CORS headers a browser needs to read the answers (`/stream`,
//!   `/poll`, `/send`) and to send `Authorization` and `Last-Event-ID`.
//! - **Tokens** are compared in constant time.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use globset::{Glob, GlobMatcher};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Whether `given` is `expected`, in time that does not depend on where they differ.
pub fn tokens_match(given: Option<&str>, expected: &str) -> bool {
    given.is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The browser-facing rules of one listener.
#[derive(Clone)]
pub struct Gate {
    origins: Arc<Vec<GlobMatcher>>,
    /// Host names answered besides the loopback ones; None: any (a listener beyond loopback).
    hosts: Option<Arc<Vec<GlobMatcher>>>,
}

/// A glob in a setting that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{setting} `{pattern}` is not a valid glob: {detail}")]
pub struct BadGlob {
    pub setting: &'static str,
    pub pattern: String,
    pub detail: String,
}

pub fn globs(setting: &'static str, patterns: &[String]) -> Result<Vec<GlobMatcher>, BadGlob> {
    patterns
        .iter()
        .map(|pattern| {
            Glob::new(&pattern.to_ascii_lowercase())
                .map(|glob| glob.compile_matcher())
                .map_err(|e| BadGlob {
                    setting,
                    pattern: pattern.clone(),
                    detail: e.to_string(),
                })
        })
        .collect()
}

impl Gate {
    /// The rules for a listener on `addr`.
    pub fn new(
        addr: SocketAddr,
        allowed_origins: &[String],
        allowed_hosts: &[String],
    ) -> Result<Gate, BadGlob> {
        let hosts = addr
            .ip()
            .is_loopback()
            .then(|| globs("allowed_hosts", allowed_hosts).map(Arc::new))
            .transpose()?;
        Ok(Gate {
            origins: Arc::new(globs("allowed_origins", allowed_origins)?),
            hosts,
        })
    }

    /// CORS for the listed origins: the gate has already refused every other page, so this only
    /// lets a browser read what a listed page was allowed to ask.
    pub fn cors(&self) -> tower_http::cors::CorsLayer {
        use axum::http::{HeaderValue, Method};
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origins = self.origins.clone();
        let listed = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
            origin.to_str().is_ok_and(|o| {
                let lower = o.to_ascii_lowercase();
                origins.iter().any(|g| g.is_match(&lower))
            })
        };
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(listed))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("last-event-id"),
            ])
    }

    /// Why this request may not pass, if it may not.
    pub fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        if let Some(hosts) = &self.hosts {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !loopback_host(host) && !hosts.iter().any(|g| g.is_match(host_name(host))) {
                return Some(forbidden(format!(
                    "Forbidden: this server listens on loopback and answers only loopback host names (127.0.0.1, localhost, [::1]), not `{}`. To allow it, add it to allowed_hosts (--allowed-host {}).\n",
                    printable(host),
                    printable(host_name(host)),
                )));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let lower = origin.to_ascii_lowercase();
            if !self.origins.iter().any(|g| g.is_match(&lower)) {
                return Some(forbidden(format!(
                    "Forbidden: web pages from `{}` may not use this server. To allow them, add the origin to allowed_origins (--allowed-origin {}).\n",
                    printable(origin),
                    printable(origin),
                )));
            }
        }
        None
    }
}

/// The middleware that applies a [`Gate`] to every request of a router.
pub async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    match gate.refusal(request.headers()) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

fn forbidden(body: String) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `host:port` or `[v6]:port` without the port.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn loopback_host(host: &str) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A header value as it may be shown back: printable ASCII, at most 100 characters.
fn printable(value: &str) -> String {
    value
        .chars()
        .take(100)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn loopback() -> SocketAddr {
        "127.0.0.1:7999".parse().unwrap()
    }

    #[test]
    fn loopback_names_pass_and_a_rebound_name_is_refused_naming_the_setting() {
        let gate = Gate::new(loopback(), &[], &[]).unwrap();
        for host in [
            "127.0.0.1:7999",
            "localhost:7999",
            "[::1]:7999",
            "LOCALHOST",
        ] {
            assert!(
                gate.refusal(&headers(&[("host", host)])).is_none(),
                "{host}"
            );
        }
        let refused = gate
            .refusal(&headers(&[("host", "evil.example:7999")]))
            .expect("refused");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let gate = Gate::new(loopback(), &[], &["*.corp.example".into()]).unwrap();
        assert!(gate
            .refusal(&headers(&[("host", "chat.corp.example:7999")]))
            .is_none());
    }

    #[test]
    fn beyond_loopback_any_host_name_is_answered() {
        let gate = Gate::new("0.0.0.0:7999".parse().unwrap(), &[], &[]).unwrap();
        assert!(gate
            .refusal(&headers(&[("host", "chat.example.com")]))
            .is_none());
    }

    #[test]
    fn a_page_is_refused_unless_its_origin_is_listed_and_no_origin_passes() {
        let gate = Gate::new(loopback(), &["https://*.example.com".into()], &[]).unwrap();
        let page = |origin: &str| headers(&[("host", "127.0.0.1"), ("origin", origin)]);
        assert!(gate.refusal(&page("https://chat.example.com")).is_none());
        assert!(gate.refusal(&page("HTTPS://Chat.Example.com")).is_none());
        assert!(gate.refusal(&page("https://evil.example")).is_some());
        assert!(gate.refusal(&page("null")).is_some());
        assert!(gate.refusal(&headers(&[("host", "127.0.0.1")])).is_none());
    }

    #[test]
    fn tokens_are_equal_only_when_every_byte_is() {
        assert!(tokens_match(Some("s3cret"), "s3cret"));
        assert!(!tokens_match(Some("s3cre"), "s3cret"));
        assert!(!tokens_match(Some("s3creT"), "s3cret"));
        assert!(!tokens_match(None, "s3cret"));
    }
}
