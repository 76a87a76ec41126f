//! The server crate's errors: the ones a user or an operator can act on.

use std::path::PathBuf;
use tack_protocol::ErrorCode;

/// Why the server could not start or a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot read config file {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {detail}")]
    BadConfig { path: PathBuf, detail: String },
    #[error("environment variable {name}={value:?} is not valid: {detail}")]
    BadEnv {
        name: &'static str,
        value: String,
        detail: String,
    },
    #[error("cannot listen on {addr}: {source} (is another server already using this port?)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsafe(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why the hub refused a chat action. Each maps to the `code` of an `error` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("you are not in room `{0}`; send chatRoomEnter first")]
    NotInRoom(String),
    /// The shared store (Redis) cannot be reached or answered in time: nothing was done, and
    /// the same frame can be sent again.
    #[error("not done, try again: {0}")]
    Unavailable(String),
}

impl HubError {
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::NotInRoom(_) => ErrorCode::NotInRoom,
            HubError::Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}
