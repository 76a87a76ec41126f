//! GRIP, the Generic Realtime Intermediary Protocol: how an origin tells Pushpin what to do
//! with a connection.
//!
//! - Over WebSocket-over-HTTP, the origin's TEXT messages are either control messages
//!   (`c:{"type":"subscribe","channel":"lobby"}`) or messages for the client, marked with a
//!   prefix (`m:` by default, configurable, may be empty): [`OriginText`].
//! - Over plain HTTP, response headers hold a request open: `Grip-Hold`, `Grip-Channel`,
//!   `Grip-Timeout`, `Grip-Keep-Alive`, `Grip-Link`; Pushpin tells the origin where a client was
//!   with `Grip-Last`.
//! - Pushpin signs the requests it forwards with `Grip-Sig`, a JWT (HS256, shared key) with the
//!   claims `iss` and `exp`: [`verify_sig`] and [`sign`].
//!
//! This module only builds and reads these texts. It never looks at a clock: the caller passes
//! `now` to [`verify_sig`].

use crate::error::GripError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The prefix that marks a control message in an origin's TEXT message.
pub const CONTROL_PREFIX: &str = "c:";
/// Pushpin's default prefix for messages meant for the client.
pub const DEFAULT_MESSAGE_PREFIX: &str = "m:";

// ---------------------------------------------------------------------------------------------
// Control messages (WebSocket-over-HTTP)
// ---------------------------------------------------------------------------------------------

/// A control message, sent by the origin as `c:{json}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ControlMessage {
    /// Deliver what is published to `channel` to this connection.
    Subscribe { channel: String },
    /// Stop delivering `channel`.
    Unsubscribe { channel: String },
    /// Pushpin stops forwarding the client's messages to the origin.
    Detach,
    /// Send `content` to the client when the connection is idle (or every `timeout` seconds
    /// with mode `interval`). Without content, keep-alives are turned off.
    KeepAlive {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<KeepAliveMode>,
    },
    /// Set connection metadata that Pushpin echoes back in `Meta-*` headers.
    SetMeta { name: String, value: String },
}

/// When a keep-alive is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepAliveMode {
    /// After `timeout` seconds without other traffic (Pushpin's default).
    Idle,
    /// Every `timeout` seconds regardless.
    Interval,
}

impl ControlMessage {
    /// `c:{json}`, ready to send as a TEXT event.
    pub fn encode(&self) -> String {
        let json = serde_json::to_string(self).expect("control messages always serialize");
        format!("{CONTROL_PREFIX}{json}")
    }

    /// Parses the JSON after `c:` (without the prefix).
    pub fn parse_json(json: &str) -> Result<ControlMessage, GripError> {
        serde_json::from_str(json).map_err(|e| GripError::BadControl(e.to_string()))
    }
}

/// What an origin's TEXT message is, after looking at its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginText<'a> {
    /// `c:{json}`.
    Control(ControlMessage),
    /// A message for the client, with the message prefix removed.
    Message(&'a str),
    /// Neither: Pushpin drops these.
    Unmarked(&'a str),
}

impl<'a> OriginText<'a> {
    /// Sorts one TEXT message from an origin. `message_prefix` is `m:` unless configured; an
    /// empty prefix makes every non-control text a message.
    pub fn classify(text: &'a str, message_prefix: &str) -> Result<OriginText<'a>, GripError> {
        if let Some(json) = text.strip_prefix(CONTROL_PREFIX) {
            return ControlMessage::parse_json(json).map(OriginText::Control);
        }
        Ok(match text.strip_prefix(message_prefix) {
            Some(message) => OriginText::Message(message),
            None => OriginText::Unmarked(text),
        })
    }
}

/// Marks `message` for delivery to the client: `m:hello` with the default prefix.
pub fn message_text(message: &str, message_prefix: &str) -> String {
    format!("{message_prefix}{message}")
}

// ---------------------------------------------------------------------------------------------
// Headers (HTTP)
// ---------------------------------------------------------------------------------------------

/// `Grip-Hold`: what kind of held request this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Long-poll: one response, delivered when something is published or on timeout.
    Response,
    /// Streaming: published content is appended to the open response.
    Stream,
}

impl Hold {
    pub const HEADER: &'static str = "Grip-Hold";

    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Response => "response",
            Hold::Stream => "stream",
        }
    }

    pub fn parse(value: &str) -> Result<Hold, GripError> {
        match value.trim() {
            "response" => Ok(Hold::Response),
            "stream" => Ok(Hold::Stream),
            other => Err(bad_header(
                Self::HEADER,
                format!("`{other}` is neither `response` nor `stream`"),
            )),
        }
    }
}

/// One channel in `Grip-Channel`, optionally with the id of the last item the client has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub prev_id: Option<String>,
}

impl Channel {
    pub const HEADER: &'static str = "Grip-Channel";

    pub fn new(name: impl Into<String>) -> Channel {
        Channel {
            name: name.into(),
            prev_id: None,
        }
    }

    pub fn with_prev_id(mut self, prev_id: impl Into<String>) -> Channel {
        self.prev_id = Some(prev_id.into());
        self
    }
}

/// `Grip-Channel` value: `a, b; prev-id=3`.
pub fn format_channels(channels: &[Channel]) -> String {
    let mut out = String::new();
    for (i, channel) in channels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&channel.name);
        if let Some(prev) = &channel.prev_id {
            out.push_str("; prev-id=");
            out.push_str(prev);
        }
    }
    out
}

/// Reads every `Grip-Channel` header value (the header may repeat, and each may list several
/// channels). Unknown parameters (such as `filter`) are skipped.
pub fn parse_channels<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Channel>, GripError> {
    let mut out = Vec::new();
    for value in values {
        for (name, params) in parse_list(value) {
            if name.is_empty() {
                return Err(bad_header(Channel::HEADER, "empty channel name".into()));
            }
            let prev_id = params
                .into_iter()
                .find(|(k, _)| k == "prev-id")
                .map(|(_, v)| v);
            out.push(Channel { name, prev_id });
        }
    }
    Ok(out)
}

/// `Grip-Timeout`: seconds before a held request is answered with the origin's response.
pub const TIMEOUT_HEADER: &str = "Grip-Timeout";

pub fn parse_timeout(value: &str) -> Result<u32, GripError> {
    value.trim().parse().map_err(|_| {
        bad_header(
            TIMEOUT_HEADER,
            format!("`{value}` is not a whole number of seconds"),
        )
    })
}

/// `Grip-Keep-Alive`: what Pushpin sends down an idle held stream, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub content: Vec<u8>,
    pub timeout: Option<u32>,
    pub mode: Option<KeepAliveMode>,
}

impl KeepAlive {
    pub const HEADER: &'static str = "Grip-Keep-Alive";

    /// `content; format=…; timeout=N[; mode=interval]`. Content that would not survive as a
    /// header parameter (line ends, `;`, `,`, quotes, non-ASCII) is written base64.
    pub fn to_header(&self) -> String {
        let plain = !self.content.is_empty()
            && self
                .content
                .iter()
                .all(|&b| (0x21..0x7f).contains(&b) && !b";,\"\\=".contains(&b));
        let mut out = if plain {
            String::from_utf8(self.content.clone()).expect("checked ASCII")
        } else {
            let mut s = base64::engine::general_purpose::STANDARD.encode(&self.content);
            s.push_str("; format=base64");
            s
        };
        if let Some(timeout) = self.timeout {
            out.push_str(&format!("; timeout={timeout}"));
        }
        if let Some(mode) = self.mode {
            out.push_str(match mode {
                KeepAliveMode::Idle => "; mode=idle",
                KeepAliveMode::Interval => "; mode=interval",
            });
        }
        out
    }

    /// Reads the header; `format` may be `raw` (the default), `cstring` or `base64`.
    pub fn parse(value: &str) -> Result<KeepAlive, GripError> {
        let bad = |detail: String| bad_header(Self::HEADER, detail);
        let mut parts = split_params(value);
        let raw = parts.next().unwrap_or_default();
        let mut format = "raw".to_owned();
        let mut timeout = None;
        let mut mode = None;
        for part in parts {
            let (k, v) = param(&part);
            match k.as_str() {
                "format" => format = v,
                "timeout" => {
                    timeout = Some(
                        v.parse()
                            .map_err(|_| bad(format!("timeout `{v}` is not a number")))?,
                    )
                }
                "mode" => {
                    mode = Some(match v.as_str() {
                        "idle" => KeepAliveMode::Idle,
                        "interval" => KeepAliveMode::Interval,
                        _ => {
                            return Err(bad(format!("mode `{v}` is neither `idle` nor `interval`")))
                        }
                    })
                }
                _ => {}
            }
        }
        let content = match format.as_str() {
            "raw" => raw.into_bytes(),
            "cstring" => {
                unescape_cstring(&raw).ok_or_else(|| bad("bad escape in cstring content".into()))?
            }
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(raw.as_bytes())
                .map_err(|e| bad(format!("content is not base64: {e}")))?,
            other => {
                return Err(bad(format!(
                    "unknown format `{other}`; use raw, cstring or base64"
                )))
            }
        };
        Ok(KeepAlive {
            content,
            timeout,
            mode,
        })
    }
}

/// `Grip-Link`: where a client should continue, e.g. `</stream?after=5>; rel=next; timeout=120`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub rel: String,
    pub timeout: Option<u32>,
}

impl Link {
    pub const HEADER: &'static str = "Grip-Link";

    /// A `rel=next` link.
    pub fn next(url: impl Into<String>, timeout: Option<u32>) -> Link {
        Link {
            url: url.into(),
            rel: "next".into(),
            timeout,
        }
    }

    pub fn to_header(&self) -> String {
        let mut out = format!("<{}>; rel={}", self.url, self.rel);
        if let Some(timeout) = self.timeout {
            out.push_str(&format!("; timeout={timeout}"));
        }
        out
    }

    pub fn parse(value: &str) -> Result<Link, GripError> {
        let bad = |detail: String| bad_header(Self::HEADER, detail);
        let mut parts = split_params(value);
        let target = parts.next().unwrap_or_default();
        let url = target
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .ok_or_else(|| bad(format!("`{target}` is not `<url>`")))?
            .to_owned();
        let mut rel = None;
        let mut timeout = None;
        for part in parts {
            let (k, v) = param(&part);
            match k.as_str() {
                "rel" => rel = Some(v),
                "timeout" => {
                    timeout = Some(
                        v.parse()
                            .map_err(|_| bad(format!("timeout `{v}` is not a number")))?,
                    )
                }
                _ => {}
            }
        }
        let rel = rel.ok_or_else(|| bad("missing `rel`".into()))?;
        Ok(Link { url, rel, timeout })
    }
}

/// `Grip-Last`: the id of the last item Pushpin delivered per channel, `lobby; last-id=41`.
pub const LAST_HEADER: &str = "Grip-Last";

/// Reads every `Grip-Last` value into `(channel, last-id)` pairs.
pub fn parse_last<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, GripError> {
    let mut out = Vec::new();
    for value in values {
        for (name, params) in parse_list(value) {
            let last = params
                .into_iter()
                .find(|(k, _)| k == "last-id")
                .map(|(_, v)| v)
                .ok_or_else(|| bad_header(LAST_HEADER, format!("`{name}` has no last-id")))?;
            out.push((name, last));
        }
    }
    Ok(out)
}

fn bad_header(header: &'static str, detail: String) -> GripError {
    GripError::BadHeader { header, detail }
}

/// Splits a header value at commas outside quotes into `name; k=v; k=v` elements.
fn parse_list(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            let mut parts = split_params(&element);
            let name = parts.next().unwrap_or_default();
            let params = parts.map(|p| param(&p)).collect();
            (name, params)
        })
        .collect()
}

/// Splits at `;` outside quotes, trimming each part.
fn split_params(value: &str) -> impl Iterator<Item = String> {
    split_outside_quotes(value, ';')
        .into_iter()
        .map(|p| p.trim().to_owned())
}

fn split_outside_quotes(value: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// `k=v` or `k="v"`; a bare `k` has an empty value.
fn param(part: &str) -> (String, String) {
    match part.split_once('=') {
        Some((k, v)) => {
            let v = v.trim();
            let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => v.to_owned(),
            };
            (k.trim().to_owned(), v)
        }
        None => (part.trim().to_owned(), String::new()),
    }
}

fn unescape_cstring(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next()? {
            b'\\' => b'\\',
            b'r' => b'\r',
            b'n' => b'\n',
            b't' => b'\t',
            b'0' => 0,
            _ => return None,
        });
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Grip-Sig
// ---------------------------------------------------------------------------------------------

/// `Grip-Sig`: Pushpin's proof that a request came through it.
pub const SIG_HEADER: &str = "Grip-Sig";

/// The issuer Pushpin signs as unless its `sig_iss` is changed.
pub const PUSHPIN_ISS: &str = "pushpin";

/// Pushpin signs each forwarded request for an hour; a token valid for longer (with a minute of
/// clock skew) did not come from it.
pub const MAX_SIG_LIFETIME_SECS: u64 = 3600 + 60;

/// The claims Pushpin puts in `Grip-Sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigClaims {
    /// Issuer; Pushpin's `sig_iss`, `pushpin` by default.
    pub iss: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// Signs claims with HS256 and the shared key (for tests, and for publishing with auth).
pub fn sign(claims: &SigClaims, key: &[u8]) -> Result<String, GripError> {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .map_err(|e| GripError::BadSignature(e.to_string()))
}

/// Checks a `Grip-Sig` token: HS256 with `key`, not expired at `now` (seconds since the Unix
/// epoch), and issued by `expected_iss` when one is given.
pub fn verify_sig(
    token: &str,
    key: &[u8],
    expected_iss: Option<&str>,
    now: u64,
) -> Result<SigClaims, GripError> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    // The crate would read the system clock for `exp`; this crate has no clocks, so expiry is
    // checked below against the caller's `now`.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<SigClaims>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(key),
        &validation,
    )
    .map_err(|e| GripError::BadSignature(e.to_string()))?;
    let claims = data.claims;
    if claims.exp <= now {
        return Err(GripError::Expired {
            exp: claims.exp,
            now,
        });
    }
    let lifetime = claims.exp - now;
    if lifetime > MAX_SIG_LIFETIME_SECS {
        return Err(GripError::TooLong {
            lifetime,
            limit: MAX_SIG_LIFETIME_SECS,
        });
    }
    if let Some(expected) = expected_iss {
        if claims.iss != expected {
            return Err(GripError::WrongIssuer {
                expected: expected.to_owned(),
                found: claims.iss,
            });
        }
    }
    Ok(claims)
}
