//! `tack`: the command-line face of Tack. Thin: parses flags and calls the crates.

mod bench;
mod error;
mod publish;
mod replay;
mod serve;
mod watch;

use clap::{Parser, Subcommand, ValueEnum};
use error::CliError;
use std::process::ExitCode;
use tack_client::{JqFilter, Profile, TransportChoice};

#[derive(Parser)]
#[command(
    name = "tack",
    version,
    about = "Real-time chat rooms and live channel traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum TransportArg {
    Auto,
    Ws,
    Stream,
    Poll,
}

impl From<TransportArg> for TransportChoice {
    fn from(t: TransportArg) -> Self {
        match t {
            TransportArg::Auto => TransportChoice::Auto,
            TransportArg::Ws => TransportChoice::Ws,
            TransportArg::Stream => TransportChoice::Stream,
            TransportArg::Poll => TransportChoice::Poll,
        }
    }
}

#[derive(clap::Args)]
struct Connection {
    /// Server URL: http(s)://host:port for a Tack server, or a ws(s):// endpoint.
    url: String,
    /// Transport to use.
    #[arg(long, value_enum, default_value = "auto")]
    transport: TransportArg,
    /// Bearer token for the handshake and every request.
    #[arg(long, env = "TACK_TOKEN")]
    token: Option<String>,
    /// Print one JSON object per line: the monitor's export format, with each item's receive
    /// time, so the output is a recording `tack replay` (and the window) can open.
    #[arg(long)]
    json: bool,
    /// Exit after printing this many items (for scripts).
    #[arg(long)]
    count: Option<usize>,
}

impl Connection {
    fn profile(&self, nick: Option<String>) -> Profile {
        let mut p = Profile::new(self.url.clone(), self.url.clone());
        p.transport = self.transport.into();
        p.token = self.token.clone();
        p.nick = nick;
        p
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print each item on one or more channels as it arrives; reconnects and resumes.
    Watch {
        #[command(flatten)]
        conn: Connection,
        /// Channels (or, on an original-system server, rooms) to watch.
        #[arg(required = true)]
        channels: Vec<String>,
        /// Keep and map items with a jq expression on each payload: `select(.total > 100)`
        /// keeps, `.price` maps. A payload that is not JSON is a jq string (binary: its
        /// base64); one line per output; an error on one item is printed on stderr.
        #[arg(long, value_name = "EXPR")]
        jq: Option<String>,
    },
    /// Enter a room: lines on stdin are sent, room events are printed.
    Chat {
        #[command(flatten)]
        conn: Connection,
        room: String,
        #[arg(long)]
        nick: Option<String>,
    },
    /// Publish one message to a channel through the server's /publish/.
    Publish {
        /// The server's control address, http(s)://host:port (`tack serve --control-listen`,
        /// http://127.0.0.1:7998 by default), or Pushpin's publish port.
        url: String,
        channel: String,
        message: String,
        #[arg(long, env = "TACK_TOKEN")]
        token: Option<String>,
    },
    /// Publish a recording (`tack watch --json`, the monitor's export) back into a server with
    /// its original spacing scaled by --speed.
    Replay(replay::ReplayArgs),
    /// Run the built-in server (WebSocket, HTTP streaming, long-polling; /publish/ and
    /// /metrics on the control address).
    Serve(serve::ServeArgs),
    /// Load-test a real-time server: N connections, a message rate, latency, loss, duplicates.
    Bench(bench::BenchArgs),
}

/// Checks a URL early so a typo fails with exit code 2, not after a connection attempt.
pub(crate) fn base_url(text: &str) -> Result<url::Url, CliError> {
    let url = url::Url::parse(text).map_err(|e| {
        CliError::BadUrl(format!(
            "`{text}` is not a URL ({e}); expected e.g. http://127.0.0.1:7999"
        ))
    })?;
    match url.scheme() {
        "http" | "https" | "ws" | "wss" if url.host_str().is_some() => Ok(url),
        _ => Err(CliError::BadUrl(format!(
            "`{text}`: use http://, https://, ws:// or wss:// with a host"
        ))),
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Watch { conn, channels, jq } => {
            base_url(&conn.url)?;
            // Compiled before connecting: a typo in the filter fails at once, not on the first item.
            let printer = watch::Printer {
                json: conn.json,
                jq: jq.as_deref().map(JqFilter::compile).transpose()?,
            };
            watch::watch(conn.profile(None), &channels, &printer, conn.count).await
        }
        Command::Chat { conn, room, nick } => {
            base_url(&conn.url)?;
            watch::chat(conn.profile(nick), &room, conn.json, conn.count).await
        }
        Command::Publish {
            url,
            channel,
            message,
            token,
        } => publish::run(&url, &channel, &message, token.as_deref()).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Serve(args) => serve::run(args)
            .await
            .map_err(|e| CliError::Serve(e.to_string())),
    }
}

/// Tokio's multi-threaded runtime, with `tack serve --threads` workers when it says so.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Command::Serve(serve::ServeArgs {
        threads: Some(n), ..
    }) = command
    {
        builder.worker_threads(usize::from(*n));
    }
    builder.build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TACK_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = runtime_for(&cli.command).expect("a tokio runtime starts");
    let result = runtime.block_on(run(cli));
    // `chat` may leave a blocking stdin read behind; don't wait for a line that never comes.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tack: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
