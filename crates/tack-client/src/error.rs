//! The engine's one error type. Messages say what to do about it.

use tack_protocol::chat::FrameError;
use tack_protocol::CloseCode;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("server URL `{url}` is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the outbox is full ({capacity} messages waiting); wait until the connection is back before sending more")]
    OutboxFull { capacity: usize },
    #[error("no message with id `{0}` is waiting to be retried")]
    UnknownMessage(String),
    #[error(transparent)]
    Refused(#[from] FrameError),
    #[error("the session is closed")]
    Closed,
}

/// Why a jq filter was not compiled, or failed on one item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqError {
    #[error("the jq expression is {len} bytes long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    /// A mistake in the expression; `column` counts characters from 1.
    #[error("jq expression, column {column}: {message}")]
    Syntax { column: usize, message: String },
    /// The filter failed on one item (`.a` on a number); other items may pass.
    #[error("jq: {0}")]
    Runtime(String),
}

/// Why a recording could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    #[error("line {line} is not a recorded item ({reason}); each line must be one JSON object as `tack watch --json` prints or the monitor exports")]
    BadLine { line: usize, reason: String },
    #[error("the recording has more than {max} items; raise the bound or cut the file")]
    TooManyItems { max: usize },
    #[error("cannot read the recording: {0}")]
    Io(String),
}

/// Why a connection attempt or a live connection failed. Shown to the user as the
/// `reason` of a [`ConnectionState`](crate::events::ConnectionState).
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("the server refused the token (HTTP {0}); check the profile's token")]
    Unauthorized(u16),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the server closed the connection{}", close_suffix(*code, reason))]
    Closed { code: Option<u16>, reason: String },
    #[error("no sign of life from the server for {0} ms")]
    Stalled(u64),
    #[error("the server did not finish the handshake in time")]
    HandshakeTimeout,
    #[error("the server's TLS certificate is not trusted ({0}); if this is a development server with a self-signed certificate, turn on \"accept invalid certificates\" in the profile")]
    Certificate(String),
    #[error("{0}")]
    Other(String),
}

fn close_suffix(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (Some(c), false) => format!(" ({c}: {reason})"),
        (Some(c), true) => format!(" ({c})"),
        (None, false) => format!(" ({reason})"),
        (None, true) => String::new(),
    }
}

/// The certificate problem somewhere in `err`'s chain of causes, if a TLS handshake failed
/// because of the server's certificate. (An `io::Error` hides the error it wraps from
/// `source()`, so those are opened too.)
pub(crate) fn certificate_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(problem)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(format!("{problem:?}"));
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(found) = certificate_problem(inner) {
                return Some(found);
            }
        }
        next = e.source();
    }
    None
}

impl LinkError {
    /// The server said it is going away (restart): reconnect, but spread out.
    pub fn is_going_away(&self) -> bool {
        matches!(
            self,
            LinkError::Closed { code: Some(code), .. } if *code == CloseCode::GoingAway.code()
        )
    }
}
