//! `tack serve`: run the built-in server until SIGINT or SIGTERM — or, with `--pushpin`, the
//! same chat logic as a GRIP origin behind Pushpin.
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
    /// The key Pushpin signs requests with (sig_key in pushpin.conf); requests without a valid
    /// signature are refused.
    #[arg(long, env = "TACK_GRIP_KEY", hide_env_values = true)]
    pub grip_key: Option<String>,
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
        if let Some(n) = self.history_len {
            config.history_len = n;
        }
        if let Some(n) = self.max_connections {
            config.max_connections = n;
        }
        if !self.pushpin.is_empty() {
            config.pushpin = self.pushpin.clone();
        }
        if let Some(key) = &self.grip_key {
            config.grip_key = Some(key.clone());
        }
        if let Some(secs) = self.ws_keepalive_interval {
            config.ws_keepalive_interval_secs = secs;
        }
        Ok(config)
    }
}

pub async fn run(args: ServeArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    let config = args.config()?;
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
