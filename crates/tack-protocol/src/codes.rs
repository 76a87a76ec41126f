//! The protocol's vocabulary of refusals: the `code` of an `error` event and the close codes a
//! server ends a WebSocket with.
//!
//! Both ends use these types — the server to send, the client to match — so a code cannot be
//! spelled one way on one side and another way on the other. The wire form is the snake_case
//! string (error codes) or the RFC 6455 number (close codes); a code this version does not
//! know (a newer server's) is kept as [`ErrorCode::Other`] rather than refused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal,)*) => {
        /// The stable, machine-readable `code` of an `error` event (see docs/PROTOCOL.md).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this version does not know, as the server spelled it.
            Other(String),
        }

        impl ErrorCode {
            /// Every code this version knows, in the order PROTOCOL.md lists them.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it is written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                    ErrorCode::Other(code) => code,
                }
            }

            /// Reads a wire code; unknown ones become [`ErrorCode::Other`].
            pub fn from_wire(code: &str) -> ErrorCode {
                match code {
                    $($wire => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// A frame without a `name:` prefix, or a body that is not UTF-8.
    BadFrame => "bad_frame",
    /// An event name the server does not know.
    UnknownEvent => "unknown_event",
    /// The body is not a JSON object.
    BadJson => "bad_json",
    /// A required field is missing.
    MissingField => "missing_field",
    /// A field has the wrong type or value.
    BadField => "bad_field",
    /// A room, channel or nick breaks the naming rules.
    InvalidName => "invalid_name",
    /// A frame or comment over its size limit.
    TooLarge => "too_large",
    /// The connection sends faster than allowed.
    RateLimited => "rate_limited",
    /// The connection is in as many rooms and channels as allowed.
    TooManyRooms => "too_many_rooms",
    /// The server holds as many channels as allowed and this would make a new one.
    TooManyChannels => "too_many_channels",
    /// `chatMessage` for a room the sender has not entered.
    NotInRoom => "not_in_room",
    /// An HTTP request names a session the server does not have.
    UnknownSession => "unknown_session",
    /// A token is required and missing or wrong.
    Unauthorized => "unauthorized",
    /// The client read slower than its rooms talk and was disconnected; reconnect to resume.
    SlowConsumer => "slow_consumer",
    /// Another live session holds this nick (`suggestion` names a free one).
    NickTaken => "nick_taken",
    /// A channel clients may watch but not write to (a backend's feed).
    ReadOnly => "read_only",
    /// The client's signed token does not allow this room or channel.
    Forbidden => "forbidden",
    /// The client's signed token has expired: send `hello{token}` with a fresh one.
    TokenExpired => "token_expired",
    /// The server cannot do this now — it cannot reach the store it shares with other servers
    /// (Redis), or holds as many HTTP sessions as allowed: nothing was done; try again later
    /// (a message with its `cid`, so it lands once).
    Unavailable => "unavailable",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(ErrorCode::from_wire(&code))
    }
}

/// The close codes a Tack server ends a WebSocket with, as RFC 6455 numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// The client asked to close.
    Normal = 1000,
    /// The server is restarting, or heard nothing from the client: reconnect (spread out).
    GoingAway = 1001,
    /// A text frame that is not UTF-8.
    InvalidData = 1007,
    /// A policy refusal, such as a slow consumer: reconnect and resume with `since`.
    Policy = 1008,
    /// A message over the size limit.
    TooBig = 1009,
    /// The server is at its connection cap: try again later.
    TryAgainLater = 1013,
}

impl CloseCode {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The close code behind a number, if it is one Tack sends.
    pub fn from_code(code: u16) -> Option<CloseCode> {
        [
            CloseCode::Normal,
            CloseCode::GoingAway,
            CloseCode::InvalidData,
            CloseCode::Policy,
            CloseCode::TooBig,
            CloseCode::TryAgainLater,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}

/// The close reason at shutdown; clients reconnect when they see it.
pub const SHUTDOWN_REASON: &str = "server restarting, reconnect";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_through_its_wire_form() {
        for code in ErrorCode::KNOWN {
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn a_code_from_a_newer_server_is_kept_as_it_was_spelled() {
        let code: ErrorCode = serde_json::from_str("\"quota_exceeded\"").unwrap();
        assert_eq!(code, ErrorCode::Other("quota_exceeded".into()));
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"quota_exceeded\"");
    }

    #[test]
    fn close_codes_are_rfc_6455_numbers() {
        assert_eq!(CloseCode::GoingAway.code(), 1001);
        assert_eq!(CloseCode::Policy.code(), 1008);
        assert_eq!(CloseCode::from_code(1013), Some(CloseCode::TryAgainLater));
        assert_eq!(CloseCode::from_code(4000), None);
    }
}
