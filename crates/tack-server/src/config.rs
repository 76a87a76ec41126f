//! Server settings: defaults, the TOML config file, and `TACK_*` environment overrides.
//!
//! Every limit the server enforces lives here, so an operator can find them in one place.

use crate::access::Gate;
use crate::error::ServerError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `tack serve` can be told. Missing keys in the config file take the defaults.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address clients connect to. Port 0 picks a free port (see `ServerHandle::local_addr`).
    pub listen: SocketAddr,
    /// Address of `/publish/` and `/metrics`, which backends and operators use and clients
    /// never need: loopback by default. Anywhere else, publishing needs `publish_token`.
    pub control_listen: SocketAddr,
    /// Bearer token required by `POST /publish/`. Without one, publishing is allowed only
    /// while the server listens on loopback.
    pub publish_token: Option<String>,
    /// Bearer token required on `/ws`, `/stream`, `/poll` and `/send`. None: open server.
    pub access_token: Option<String>,
    /// Web pages (their `Origin`, globs such as `https://*.example.com`) that may use the client
    /// routes and publish. Requests without an `Origin` header (the CLI, backends, the desktop
    /// engine) are not affected. Empty: no web page may.
    pub allowed_origins: Vec<String>,
    /// Channels (globs) clients may watch but not write to: entering them as a room or sending
    /// `chatMessage` is refused (`read_only`); `/publish/` still writes. For backends' feeds.
    pub read_only: Vec<String>,
    /// Signed identity: the HS256 secret client tokens are signed with.
    pub auth_key: Option<String>,
    /// Signed identity: a PEM file with the RS256 or ES256 public key client tokens are
    /// verified with.
    pub auth_public_key: Option<PathBuf>,
    /// With a key set, clients without a token are refused unless this is set; they then keep
    /// the guest nick they are given.
    pub allow_anonymous: bool,
    /// Host names (globs) a server listening on loopback answers besides 127.0.0.1, localhost
    /// and [::1]: what a DNS-rebinding page cannot use.
    pub allowed_hosts: Vec<String>,
    /// Events kept per room or channel for resume.
    pub history_len: usize,
    /// Oldest event kept for resume, in seconds.
    pub history_secs: u64,
    /// How long an HTTP (stream/poll) session lives with no open stream and no poll, in seconds.
    pub session_ttl_secs: u64,
    /// Seconds between heartbeats the server expects from clients; announced in `welcome`.
    pub heartbeat_secs: u32,
    /// Seconds between SSE keep-alive comments.
    pub keepalive_secs: u64,
    /// Simultaneous client TCP connections (WebSockets, streams, polls, sends, idle ones)
    /// before new ones are answered 503.
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's head (and, between requests, the
    /// next one) before it is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body (`/send`, `/publish/`) may take to arrive.
    pub body_read_timeout_secs: u64,
    /// Seconds a write to a client may make no progress before the connection is closed: a
    /// client that stops reading frees its slot.
    pub write_timeout_secs: u64,
    /// Rooms plus watched channels one connection may be in at once.
    pub max_rooms_per_connection: usize,
    /// Chat messages one connection may send per second (sustained).
    pub messages_per_second: u32,
    /// Chat messages one connection may send in a burst.
    pub message_burst: u32,
    /// Room changes (enter, leave, watch, unwatch, hello) one connection may make per second
    /// (sustained): each one is heard by every member of the room, so a loop of them would
    /// otherwise be everyone's problem.
    pub room_changes_per_second: u32,
    /// Room changes in a burst: enough to come back into every room at once after a
    /// reconnect (`max_rooms_per_connection` of them, and a hello).
    pub room_change_burst: u32,
    /// Rooms and channels this server holds at most (in memory, or on this node with Redis);
    /// entering, watching or publishing to a new one past it is `too_many_channels`.
    pub max_channels: usize,
    /// HTTP sessions (streams and polls with their state) held at most; a new one past it is
    /// answered 503 with Retry-After.
    pub max_http_sessions: usize,
    /// Largest WebSocket message or HTTP body accepted, in bytes.
    pub max_message_bytes: usize,
    /// How far behind a channel's newest item, in milliseconds, a subscriber may fall before
    /// it counts as a slow consumer and is disconnected ("reconnect to resume"). A channel keeps
    /// at least this much of its traffic, and at least `history_len` items, whatever its rate.
    pub live_window_ms: u64,
    /// Events a subscriber may trail a channel's newest by before it is disconnected as a slow
    /// consumer, even while the channel still keeps them. None: only when it has fallen behind
    /// what the channel keeps (see `live_window_ms`).
    pub max_subscriber_lag: Option<u64>,
    /// Bytes of items one channel keeps at most, whatever its rate and the two settings above:
    /// the bound on a busy channel's memory.
    pub channel_max_bytes: usize,
    /// Default and longest hold of `GET /poll`, in seconds.
    pub poll_timeout_secs: u64,
    pub poll_timeout_max_secs: u64,
    /// Seconds to wait for connections to finish after a shutdown is requested.
    pub shutdown_grace_secs: u64,
    /// Origin mode: the publish addresses of the Pushpin instances in front of this server
    /// (`http://127.0.0.1:5561`). Empty: this server holds client connections itself.
    pub pushpin: Vec<String>,
    /// Origin mode: each Pushpin instance's stats socket (its `stats_spec`, e.g.
    /// `ipc:///var/run/pushpin/pushpin-stats` or `tcp://127.0.0.1:5564`), one per `pushpin`
    /// entry in the same order. The server republishes them as its `$pushpin` channels.
    /// Empty: no statistics.
    pub pushpin_stats: Vec<String>,
    /// Let every client watch `$pushpin` on a server without signed identity. Off: nobody
    /// may (with signed identity, only tokens whose `tack.watch` names `$pushpin`).
    pub pushpin_stats_open: bool,
    /// Origin mode: the key Pushpin signs forwarded requests with (its `sig_key`).
    pub grip_key: Option<String>,
    /// Redis that several servers share (`redis://`, `rediss://`, `unix://`): rooms, history,
    /// presence and ids live there, so the servers act as one. Several URLs, or the URL of one
    /// node of a Redis Cluster, for a cluster. Empty: everything in this process's memory.
    pub redis: Vec<String>,
    /// With `redis`: seconds after which a member whose server stopped heartbeating it is
    /// removed from its rooms (a server killed without a goodbye). Heartbeats go out three
    /// times per TTL; the others remove a dead server's members within 4/3 of it.
    pub redis_presence_ttl_secs: u64,
    /// Origin mode: seconds between the requests Pushpin makes for each idle WebSocket
    /// (`Keep-Alive-Interval`, at least 20). A connection unheard of for 2.5 times this counts
    /// as gone. Longer is cheaper for Pushpin; shorter forgets sooner the clients lost with a
    /// Pushpin instance.
    pub ws_keepalive_interval_secs: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7999)),
            control_listen: SocketAddr::from(([127, 0, 0, 1], 7998)),
            publish_token: None,
            access_token: None,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            read_only: Vec::new(),
            auth_key: None,
            auth_public_key: None,
            allow_anonymous: false,
            history_len: 1000,
            history_secs: 3600,
            session_ttl_secs: 30,
            heartbeat_secs: 25,
            keepalive_secs: 15,
            max_connections: 20_000,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            write_timeout_secs: 30,
            max_rooms_per_connection: 64,
            messages_per_second: 20,
            message_burst: 40,
            room_changes_per_second: 10,
            room_change_burst: 80,
            max_channels: 100_000,
            max_http_sessions: 10_000,
            max_message_bytes: tack_protocol::chat::MAX_FRAME_LEN,
            // Subscribers read a channel's items from one shared buffer: a subscriber 2 s
            // behind costs the channel 2 s of items, not a queue of its own.
            live_window_ms: 2000,
            max_subscriber_lag: None,
            channel_max_bytes: 64 * 1024 * 1024,
            poll_timeout_secs: 25,
            poll_timeout_max_secs: 60,
            shutdown_grace_secs: 5,
            pushpin: Vec::new(),
            pushpin_stats: Vec::new(),
            pushpin_stats_open: false,
            grip_key: None,
            ws_keepalive_interval_secs: 20,
            redis: Vec::new(),
            // 15 s: a member survives two lost heartbeats (5 s apart), and a dead server's
            // members are gone within 20 s, inside the 30 s a user would call "still there".
            redis_presence_ttl_secs: 15,
        }
    }
}

impl ServerConfig {
    /// The defaults, with both listeners on free loopback ports (the desktop app's server,
    /// tests).
    pub fn on_free_loopback_ports() -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServerConfig::default()
        }
    }

    /// Defaults, then the config file if given, then `TACK_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<ServerConfig, ServerError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => ServerConfig::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<ServerConfig, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ServerError::BadConfig {
            path: path.to_owned(),
            detail: e.to_string(),
        })
    }

    /// Applies overrides such as `TACK_LISTEN=0.0.0.0:7999` or `TACK_HISTORY_LEN=500`.
    /// `env` is a parameter so tests need not touch the process environment.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ServerError> {
        fn parse<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            slot: &mut T,
        ) -> Result<(), ServerError>
        where
            T::Err: std::fmt::Display,
        {
            if let Some(value) = env(name) {
                *slot = value.parse().map_err(|e: T::Err| ServerError::BadEnv {
                    name,
                    value: value.clone(),
                    detail: e.to_string(),
                })?;
            }
            Ok(())
        }
        parse(&env, "TACK_LISTEN", &mut self.listen)?;
        parse(&env, "TACK_CONTROL_LISTEN", &mut self.control_listen)?;
        if let Some(token) = env("TACK_PUBLISH_TOKEN") {
            self.publish_token = Some(token);
        }
        if let Some(token) = env("TACK_ACCESS_TOKEN") {
            self.access_token = Some(token);
        }
        if let Some(list) = env("TACK_ALLOWED_ORIGINS") {
            self.allowed_origins = comma_list(&list);
        }
        if let Some(list) = env("TACK_ALLOWED_HOSTS") {
            self.allowed_hosts = comma_list(&list);
        }
        if let Some(list) = env("TACK_READ_ONLY") {
            self.read_only = comma_list(&list);
        }
        if let Some(key) = env("TACK_AUTH_KEY") {
            self.auth_key = Some(key);
        }
        if let Some(path) = env("TACK_AUTH_PUBLIC_KEY") {
            self.auth_public_key = Some(PathBuf::from(path));
        }
        parse(&env, "TACK_ALLOW_ANONYMOUS", &mut self.allow_anonymous)?;
        parse(&env, "TACK_HISTORY_LEN", &mut self.history_len)?;
        parse(&env, "TACK_HISTORY_SECS", &mut self.history_secs)?;
        parse(&env, "TACK_SESSION_TTL_SECS", &mut self.session_ttl_secs)?;
        parse(&env, "TACK_HEARTBEAT_SECS", &mut self.heartbeat_secs)?;
        parse(&env, "TACK_KEEPALIVE_SECS", &mut self.keepalive_secs)?;
        parse(&env, "TACK_MAX_CONNECTIONS", &mut self.max_connections)?;
        parse(
            &env,
            "TACK_HEADER_READ_TIMEOUT_SECS",
            &mut self.header_read_timeout_secs,
        )?;
        parse(
            &env,
            "TACK_BODY_READ_TIMEOUT_SECS",
            &mut self.body_read_timeout_secs,
        )?;
        parse(
            &env,
            "TACK_WRITE_TIMEOUT_SECS",
            &mut self.write_timeout_secs,
        )?;
        parse(
            &env,
            "TACK_MAX_ROOMS_PER_CONNECTION",
            &mut self.max_rooms_per_connection,
        )?;
        parse(
            &env,
            "TACK_MESSAGES_PER_SECOND",
            &mut self.messages_per_second,
        )?;
        parse(&env, "TACK_MESSAGE_BURST", &mut self.message_burst)?;
        parse(
            &env,
            "TACK_ROOM_CHANGES_PER_SECOND",
            &mut self.room_changes_per_second,
        )?;
        parse(&env, "TACK_ROOM_CHANGE_BURST", &mut self.room_change_burst)?;
        parse(&env, "TACK_MAX_CHANNELS", &mut self.max_channels)?;
        parse(&env, "TACK_MAX_HTTP_SESSIONS", &mut self.max_http_sessions)?;
        parse(&env, "TACK_MAX_MESSAGE_BYTES", &mut self.max_message_bytes)?;
        parse(&env, "TACK_LIVE_WINDOW_MS", &mut self.live_window_ms)?;
        if let Some(value) = env("TACK_MAX_SUBSCRIBER_LAG") {
            let mut lag = 0;
            parse(
                &|_| Some(value.clone()),
                "TACK_MAX_SUBSCRIBER_LAG",
                &mut lag,
            )?;
            self.max_subscriber_lag = Some(lag);
        }
        parse(&env, "TACK_CHANNEL_MAX_BYTES", &mut self.channel_max_bytes)?;
        if let Some(list) = env("TACK_PUSHPIN") {
            self.pushpin = comma_list(&list);
        }
        if let Some(list) = env("TACK_PUSHPIN_STATS") {
            self.pushpin_stats = comma_list(&list);
        }
        parse(
            &env,
            "TACK_PUSHPIN_STATS_OPEN",
            &mut self.pushpin_stats_open,
        )?;
        if let Some(list) = env("TACK_REDIS_URL") {
            self.redis = list
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect();
        }
        parse(
            &env,
            "TACK_REDIS_PRESENCE_TTL_SECS",
            &mut self.redis_presence_ttl_secs,
        )?;
        if let Some(key) = env("TACK_GRIP_KEY") {
            self.grip_key = Some(key);
        }
        parse(
            &env,
            "TACK_WS_KEEPALIVE_INTERVAL_SECS",
            &mut self.ws_keepalive_interval_secs,
        )?;
        Ok(())
    }

    /// The browser-facing rules of the client listener. Behind Pushpin, requests carry the
    /// public host name and a signature (which a rebinding page cannot make), so only origins
    /// are checked there.
    pub fn client_gate(&self, behind_pushpin: bool) -> Result<Gate, ServerError> {
        let listen = if behind_pushpin {
            SocketAddr::from(([0, 0, 0, 0], self.listen.port()))
        } else {
            self.listen
        };
        Gate::new(listen, &self.allowed_origins, &self.allowed_hosts)
            .map_err(|e| ServerError::Unsafe(e.to_string()))
    }

    /// The browser-facing rules of the control listener.
    pub fn control_gate(&self) -> Result<Gate, ServerError> {
        Gate::new(
            self.control_listen,
            &self.allowed_origins,
            &self.allowed_hosts,
        )
        .map_err(|e| ServerError::Unsafe(e.to_string()))
    }

    pub fn history_age(&self) -> Duration {
        Duration::from_secs(self.history_secs)
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_secs)
    }

    /// How long a member lives in Redis without a heartbeat (at least 1 s).
    pub fn presence_ttl(&self) -> Duration {
        Duration::from_secs(self.redis_presence_ttl_secs.max(1))
    }

    pub fn keepalive(&self) -> Duration {
        Duration::from_secs(self.keepalive_secs.max(1))
    }

    /// Refuses settings that would open a door: publishing reachable from other machines
    /// without a token. The message names the setting that would allow it.
    pub fn check(&self) -> Result<(), ServerError> {
        self.client_gate(!self.pushpin.is_empty())?;
        self.control_gate()?;
        crate::access::globs("read_only", &self.read_only)
            .map_err(|e| ServerError::Unsafe(e.to_string()))?;
        let signed = self.auth_key.is_some() || self.auth_public_key.is_some();
        if signed && self.access_token.is_some() {
            return Err(ServerError::Unsafe(
                "access_token and a signed-identity key (auth_key, auth_public_key) both claim Authorization: Bearer: use one".into(),
            ));
        }
        if signed && self.pushpin_stats_open {
            return Err(ServerError::Unsafe(
                "pushpin_stats_open would show Pushpin's statistics to every client, but this server signs identities: leave it off and name \"$pushpin*\" in the tack.watch list of the tokens that may watch them".into(),
            ));
        }
        if !self.control_listen.ip().is_loopback() && self.publish_token.is_none() {
            return Err(ServerError::Unsafe(format!(
                "the control address {} (publishing and metrics) is reachable from other machines, so it needs a token: set publish_token (--publish-token or TACK_PUBLISH_TOKEN), or keep control_listen on loopback",
                self.control_listen
            )));
        }
        Ok(())
    }

    /// The body of a request (`/send`, `/publish/`) must arrive within this.
    pub fn body_timeout(&self) -> tower_http::timeout::RequestBodyTimeoutLayer {
        tower_http::timeout::RequestBodyTimeoutLayer::new(Duration::from_secs(
            self.body_read_timeout_secs.max(1),
        ))
    }

    /// What every accepted connection is held to.
    pub fn connection_limits(&self) -> crate::listener::ConnectionLimits {
        crate::listener::ConnectionLimits {
            header_read: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            write: Duration::from_secs(self.write_timeout_secs.max(1)),
        }
    }
}

/// `a, b,,c` → `[a, b, c]`.
fn comma_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_sets_some_keys_and_env_overrides_win() {
        let mut config: ServerConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\nhistory_len = 10\n").unwrap();
        assert_eq!(config.history_len, 10);
        assert_eq!(
            config.live_window_ms,
            ServerConfig::default().live_window_ms
        );
        config
            .apply_env(|name| (name == "TACK_HISTORY_LEN").then(|| "7".to_owned()))
            .unwrap();
        assert_eq!(config.history_len, 7);
        assert_eq!(config.listen.port(), 9000);
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let err = ServerConfig::default()
            .apply_env(|name| (name == "TACK_LISTEN").then(|| "nowhere".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("TACK_LISTEN"), "{err}");
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        assert!(toml::from_str::<ServerConfig>("listn = \"x\"").is_err());
    }
}
