//! Why a benchmark could not start. Failures *during* a run (a refused connection, a closed
//! socket, a publish answered 503) are not errors of the tool: they are counted by kind in the
//! report, because they are what a load test is for.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("`{url}` is not a usable target: {why}")]
    BadUrl { url: String, why: String },
    #[error(
        "`{host}` is not a loopback address; benchmarking another machine needs --allow-remote"
    )]
    NotLoopback { host: String },
    #[error("{connections} connections asked for; the limit is {limit}")]
    TooManyConnections { connections: usize, limit: usize },
    #[error("a run of {asked:?} asked for; the limit is {limit:?}")]
    TooLong { asked: Duration, limit: Duration },
    #[error("{0}")]
    BadSettings(String),
    #[error("could not reach the publisher at {url}: {detail}")]
    Publisher { url: String, detail: String },
    #[error("no connection became ready ({errors}); is the server running at {url}?")]
    NothingConnected { url: String, errors: String },
}
