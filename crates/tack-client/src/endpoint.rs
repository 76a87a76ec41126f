//! Where a profile's URL points: a Tack server's base URL (all transports) or one WebSocket
//! endpoint (possibly an original-system server, which has no HTTP transports).

use crate::error::ClientError;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `http(s)://host:port` — Tack's paths `/ws`, `/stream`, `/poll`, `/send`.
    Base(Url),
    /// A full `ws(s)://` URL; only WebSocket is possible.
    WebSocket(Url),
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if url.host_str().is_none() {
            return Err(bad("it has no host"));
        }
        match url.scheme() {
            "http" | "https" => Ok(Endpoint::Base(url)),
            "ws" | "wss" => Ok(Endpoint::WebSocket(url)),
            other => Err(bad(&format!(
                "scheme `{other}` is not supported; use http://, https://, ws:// or wss://"
            ))),
        }
    }

    /// The WebSocket URL to dial.
    pub fn ws_url(&self) -> Url {
        match self {
            Endpoint::WebSocket(u) => u.clone(),
            Endpoint::Base(base) => {
                let mut u = self.http_url("/ws");
                let scheme = if base.scheme() == "https" {
                    "wss"
                } else {
                    "ws"
                };
                u.set_scheme(scheme).expect("ws schemes are valid here");
                u
            }
        }
    }

    /// One of Tack's HTTP paths under the base URL (keeps a base path prefix, e.g. behind a proxy).
    pub fn http_url(&self, path: &str) -> Url {
        let base = match self {
            Endpoint::Base(u) | Endpoint::WebSocket(u) => u,
        };
        let mut u = base.clone();
        let prefix = base.path().trim_end_matches('/');
        u.set_path(&format!("{prefix}{path}"));
        u.set_query(None);
        u
    }

    /// True when HTTP streaming and long-polling are available.
    pub fn has_http(&self) -> bool {
        matches!(self, Endpoint::Base(_))
    }

    /// A key for remembering which transport worked on this server.
    pub fn key(&self) -> String {
        match self {
            Endpoint::Base(u) | Endpoint::WebSocket(u) => u.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gives_every_tack_path() {
        let e = Endpoint::parse("http://127.0.0.1:7999").unwrap();
        assert_eq!(e.ws_url().as_str(), "ws://127.0.0.1:7999/ws");
        assert_eq!(e.http_url("/poll").as_str(), "http://127.0.0.1:7999/poll");
        let e = Endpoint::parse("https://example.com/tack/").unwrap();
        assert_eq!(e.ws_url().as_str(), "wss://example.com/tack/ws");
    }

    #[test]
    fn an_original_system_url_is_used_as_is() {
        let e = Endpoint::parse("ws://host:7999/websocket/chat").unwrap();
        assert_eq!(e.ws_url().as_str(), "ws://host:7999/websocket/chat");
        assert!(!e.has_http());
    }

    #[test]
    fn bad_urls_say_why() {
        let err = Endpoint::parse("ftp://x").unwrap_err().to_string();
        assert!(err.contains("scheme `ftp`"), "{err}");
        assert!(Endpoint::parse("localhost:80").is_err());
    }
}
