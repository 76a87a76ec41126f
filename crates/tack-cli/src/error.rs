//! What can stop a `tack` command, each with the exit code a script can test.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot reach {url}: {reason}; is the server running and the address right?")]
    Unreachable { url: String, reason: String },
    #[error("{url} refused the token ({reason}); pass the right one with --token or TACK_TOKEN")]
    Refused { url: String, reason: String },
    #[error("the server rejected the request: {0}")]
    Rejected(String),
    #[error("--jq: {0}")]
    BadJq(#[from] tack_client::JqError),
    #[error("{path}: {source}")]
    BadRecording {
        path: String,
        source: tack_client::RecordingError,
    },
    /// A bound of `tack replay` (items, duration) would be exceeded.
    #[error("{0}")]
    OutOfBounds(String),
    #[error(
        "`{host}` is not a loopback address; replaying into another machine needs --allow-remote"
    )]
    NotLoopback { host: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the server stopped: {0}")]
    Serve(String),
}

impl CliError {
    /// 2: bad usage, URL or input file; 3: unreachable; 4: refused token; 5: rejected;
    /// 1: anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BadUrl(_)
            | CliError::BadJq(_)
            | CliError::BadRecording { .. }
            | CliError::OutOfBounds(_)
            | CliError::NotLoopback { .. } => 2,
            CliError::Unreachable { .. } => 3,
            CliError::Refused { .. } => 4,
            CliError::Rejected(_) => 5,
            CliError::Io(_) | CliError::Serve(_) => 1,
        }
    }
}
