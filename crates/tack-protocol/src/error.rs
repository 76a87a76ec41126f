//! Every way the non-chat wire formats can be wrong, one enum per format.
//!
//! The chat protocol keeps its own errors beside its types in [`crate::chat`] because servers
//! and clients already match on them; everything else lives here. Messages say what was wrong
//! and what the limit or expectation was, so they can be shown or logged as they are.

/// Why a WebSocket-over-HTTP (`application/websocket-events`) body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsEventsError {
    #[error("unknown websocket event type `{0}`; known types: OPEN, TEXT, BINARY, PING, PONG, CLOSE, DISCONNECT")]
    UnknownType(String),
    #[error("websocket event length `{0}` is not a hexadecimal number")]
    BadHex(String),
    #[error("websocket event content is {len} bytes; the limit is {limit}")]
    TooLarge { len: u64, limit: usize },
    #[error("websocket event line does not end with CRLF (\\r\\n)")]
    MissingCrlf,
    #[error("websocket events body ended in the middle of an event ({buffered} bytes left over)")]
    Truncated { buffered: usize },
    #[error("TEXT event content is not valid UTF-8")]
    TextNotUtf8,
    #[error(
        "CLOSE event content is 1 byte; it must be empty or a 2-byte code followed by a reason"
    )]
    CloseContentTooShort,
    #[error("CLOSE event reason is not valid UTF-8")]
    CloseReasonNotUtf8,
}

/// Why a Server-Sent Events stream could not be parsed or an event could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("server-sent event is larger than {limit} bytes")]
    EventTooLarge { limit: usize },
    #[error("server-sent event `{field}` contains a line break, which would end the field early")]
    LineBreakInField { field: &'static str },
}

/// Why a GRIP header, control message or `Grip-Sig` token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GripError {
    #[error("{header}: {detail}")]
    BadHeader {
        header: &'static str,
        detail: String,
    },
    #[error("GRIP control message is not valid: {0}")]
    BadControl(String),
    #[error("Grip-Sig is not a valid HS256 token signed with the shared key: {0}")]
    BadSignature(String),
    #[error("Grip-Sig has expired (exp {exp}, now {now})")]
    Expired { exp: u64, now: u64 },
    #[error("Grip-Sig was issued by `{found}`, expected `{expected}`")]
    WrongIssuer { expected: String, found: String },
    /// A signature valid for longer than Pushpin ever signs for: a stolen or forged-by-insider
    /// token meant to be replayed for a long time.
    #[error("Grip-Sig is valid for {lifetime} s, more than the {limit} s Pushpin signs for")]
    TooLong { lifetime: u64, limit: u64 },
}

/// Why a publish body was refused. The `Display` text is what Pushpin answers with a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// Pushpin: `Body is not valid JSON.`
    #[error("Body is not valid JSON.")]
    NotJson,
    /// Pushpin: `Invalid format: <what is wrong>`, e.g. `Invalid format: no formats specified`.
    #[error("Invalid format: {0}")]
    Invalid(String),
}
