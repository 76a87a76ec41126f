//! `tack serve`: run the built-in server until SIGINT or SIGTERM — or, with `--pushpin`, the
//! same chat logic as a GRIP origin behind Pushpin; with `--redis`, as one of several servers
//! that share their rooms through Redis.
//!
//! Settings come from the defaults, then `--config FILE`, then `TACK_*` environment variables,
//! then these flags. On a signal every WebSocket is closed with 1001 "server restarting,
//! reconnect" and every held poll is answered before the process exits.

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use tack_server::ServerConfig;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address clients connect to [default: 127.0.0.1:7999].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Address of POST /publish/ and GET /metrics, for backends and operators
    /// [default: 127.0.0.1:7998]. Beyond loopback, publishing needs --publish-token.
    #[arg(long, value_name = "ADDR")]
    pub control_listen: Option<SocketAddr>,
    /// TOML config file; any key of the server's config (history_len, max_connections, ...).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Bearer token required by POST /publish/.
    #[arg(long, env = "TACK_PUBLISH_TOKEN", hide_env_values = true)]
    pub publish_token: Option<String>,
    /// Token every client must present (Authorization: Bearer, or ?token= for EventSource)
    /// on /ws, /stream, /poll and /send. Without it (and without --auth-key), the client port
    /// is open to anyone who can reach it.
    #[arg(long, env = "TACK_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,
    /// A web page origin (glob, e.g. https://*.example.com) allowed to use the client routes.
    /// Repeat for several. Requests without an Origin header are not affected; by default no
    /// web page may connect.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// A host name (glob) a loopback server answers besides 127.0.0.1, localhost and [::1].
    /// Repeat for several. Guards against DNS rebinding.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// Channels (globs) clients may watch but not enter or write to; /publish/ still writes.
    /// Repeat for several, e.g. --read-only 'orders.*'.
    #[arg(long = "read-only", value_name = "GLOB")]
    pub read_only: Vec<String>,
    /// Signed identity: the HS256 secret client JWTs are signed with.
    #[arg(
        long,
        env = "TACK_AUTH_KEY",
        hide_env_values = true,
        conflicts_with = "auth_public_key"
    )]
    pub auth_key: Option<String>,
    /// Signed identity: PEM file with the RS256 or ES256 public key client JWTs are verified with.
    #[arg(long, value_name = "FILE")]
    pub auth_public_key: Option<PathBuf>,
    /// With --auth-key or --auth-public-key: also admit clients without a token (as guests).
    #[arg(long)]
    pub allow_anonymous: bool,
    /// Events kept per room for resume.
    #[arg(long)]
    pub history_len: Option<usize>,
    /// Simultaneous client connections before new ones are answered 503.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Run behind Pushpin (origin mode): publish to this Pushpin instance's publish address,
    /// e.g. http://127.0.0.1:5561. Repeat for every instance in front of this server.
    #[arg(long = "pushpin", value_name = "URL", requires = "grip_key")]
    pub pushpin: Vec<String>,
    /// Behind Pushpin: that instance's stats socket (stats_spec in pushpin.conf, e.g.
    /// ipc:///var/run/pushpin/pushpin-stats), read and republished as the `$pushpin` and
    /// `$pushpin/<n>` channels. One per --pushpin, in the same order.
    #[arg(long = "pushpin-stats", value_name = "SPEC", requires = "pushpin")]
    pub pushpin_stats: Vec<String>,
    /// Let every client watch `$pushpin` (Pushpin's statistics: every channel name and its
    /// subscribers) on a server without signed identity. With --auth-key, name `$pushpin*` in
    /// the tokens' tack.watch list instead.
    #[arg(long)]
    pub pushpin_stats_open: bool,
    /// The key Pushpin signs requests with (sig_key in pushpin.conf); requests without a valid
    /// signature are refused.
    #[arg(long, env = "TACK_GRIP_KEY", hide_env_values = true)]
    pub grip_key: Option<String>,
    /// Share rooms, history, presence and ids with every other server on this Redis, so they
    /// act as one (redis://HOST:PORT, rediss://HOST:PORT, unix:///PATH). Repeat it (or give
    /// the URL of one node) for a Redis Cluster. Without it, everything stays in this process.
    #[arg(
        long = "redis",
        value_name = "URL",
        env = "TACK_REDIS_URL",
        value_delimiter = ','
    )]
    pub redis: Vec<String>,
    /// Behind Pushpin: seconds between the requests Pushpin makes for each idle WebSocket
    /// (at least 20; default 20). A connection unheard of for 2.5 times this counts as gone:
    /// longer costs Pushpin less, but clients lost with a Pushpin instance stay counted as
    /// viewers longer.
    #[arg(
        long,
        value_name = "SECS",
        env = "TACK_WS_KEEPALIVE_INTERVAL_SECS",
        value_parser = clap::value_parser!(u32).range(20..=3600)
    )]
    pub ws_keepalive_interval: Option<u32>,
    /// Worker threads for the connections [default: one per core]. Servers sharing a machine
    /// should split its cores between them rather than each take them all.
    #[arg(
        long,
        value_name = "N",
        env = "TACK_THREADS",
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub threads: Option<u16>,
}

impl ServeArgs {
    /// The effective configuration.
    pub fn config(&self) -> Result<ServerConfig, tack_server::ServerError> {
        let mut config = ServerConfig::load(self.config.as_deref())?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(control) = self.control_listen {
            config.control_listen = control;
        }
        if let Some(token) = &self.publish_token {
            config.publish_token = Some(token.clone());
        }
        if let Some(token) = &self.access_token {
            config.access_token = Some(token.clone());
        }
        if !self.allowed_origins.is_empty() {
            config.allowed_origins = self.allowed_origins.clone();
        }
        if !self.allowed_hosts.is_empty() {
            config.allowed_hosts = self.allowed_hosts.clone();
        }
        if !self.read_only.is_empty() {
            config.read_only = self.read_only.clone();
        }
        if let Some(key) = &self.auth_key {
            config.auth_key = Some(key.clone());
        }
        if let Some(path) = &self.auth_public_key {
            config.auth_public_key = Some(path.clone());
        }
        if self.allow_anonymous {
            config.allow_anonymous = true;
        }
        if let Some(n) = self.history_len {
            config.history_len = n;
        }
        if let Some(n) = self.max_connections {
            config.max_connections = n;
        }
        if !self.pushpin.is_empty() {
            config.pushpin = self.pushpin.clone();
        }
        if !self.pushpin_stats.is_empty() {
            config.pushpin_stats = self.pushpin_stats.clone();
        }
        if self.pushpin_stats_open {
            config.pushpin_stats_open = true;
        }
        if let Some(key) = &self.grip_key {
            config.grip_key = Some(key.clone());
        }
        if !self.redis.is_empty() {
            config.redis = self.redis.clone();
        }
        if let Some(secs) = self.ws_keepalive_interval {
            config.ws_keepalive_interval_secs = secs;
        }
        Ok(config)
    }
}

pub async fn run(args: ServeArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    let config = args.config()?;
    if !config.redis.is_empty() {
        eprintln!(
            "sharing rooms through Redis at {} (waiting for it before serving)",
            config.redis.join(", ")
        );
    }
    let server = tack_server::Server::new(config)?;
    let listeners = tack_server::Listeners::bind(&server.state.config).await?;
    let (client, control) = (
        listeners.client.local_addr()?,
        listeners.control.local_addr()?,
    );
    match server.origin() {
        None => eprintln!("tack serving on http://{client} (publish and metrics on http://{control})"),
        Some(origin) => eprintln!(
            "tack origin on http://{client} (clients connect through pushpin; publishing to {}; publish and metrics on http://{control})",
            origin.config.pushpin.join(", ")
        ),
    }
    server.serve(listeners, shutdown_signal()).await?;
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM on Unix (what service managers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
