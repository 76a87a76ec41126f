//! The node's connections to Redis: one for commands and scripts, one for announcements, on a
//! single server or a Redis Cluster.
//!
//! Commands go through redis-rs's reconnecting connections (a `ConnectionManager`, or the
//! cluster connection with its per-shard connections): a call while Redis is away fails at
//! once instead of waiting, which the hub answers as `unavailable`.
//!
//! Announcements need RESP3: subscriptions live on the same connection as any command, and
//! the library tells us when a connection drops (a `Disconnection` push), which is how the node
//! learns that it may have missed something. On a single server this module owns the
//! subscription connection (dropped and made again after a disconnection, see
//! [`Store::subscribe`]); on a cluster the cluster connection resubscribes each shard itself.

use crate::redis_hub::metrics::RedisMetrics;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Client, Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, PushInfo,
    RedisError, RedisFuture, RedisResult, Value,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// A command answered after this long counts as failed: Redis answers in microseconds, so a
/// call this slow means it is away, and the client should hear so and retry.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A broken cluster connection is made again at most this often.
const REMAKE_AFTER: Duration = Duration::from_secs(2);

/// A connection to the cluster at `urls`; with `pushes`, one that receives announcements.
async fn cluster_connection(
    urls: &[String],
    pushes: Option<UnboundedSender<PushInfo>>,
) -> RedisResult<ClusterConnection> {
    let mut builder = ClusterClientBuilder::new(urls.to_vec())
        .use_protocol(ProtocolVersion::RESP3)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        // Fail fast while a shard is away: the hub answers `unavailable` and the client
        // retries.
        .retries(2);
    if let Some(pushes) = pushes {
        builder = builder.push_sender(pushes);
    }
    builder.build()?.get_async_connection().await
}

/// Where the node's Redis is, as `--redis` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    pub urls: Vec<String>,
}

impl RedisTarget {
    /// Checks every URL; the error names the bad one and what is accepted.
    pub fn parse(urls: &[String]) -> Result<RedisTarget, String> {
        if urls.is_empty() {
            return Err("no Redis URL given".into());
        }
        for url in urls {
            url.as_str().into_connection_info().map_err(|err| {
                format!("`{url}` is not a Redis URL ({err}); use redis://HOST:PORT, rediss://HOST:PORT or unix:///PATH")
            })?;
        }
        Ok(RedisTarget {
            urls: urls.to_vec(),
        })
    }
}

/// The connection that runs commands and scripts.
#[derive(Clone)]
enum Commands {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Single(c) => c.req_packed_command(cmd),
            Commands::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Single(c) => c.get_db(),
            Commands::Cluster(c) => c.get_db(),
        }
    }
}

/// The connection announcements arrive on.
// One per node: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Announcements {
    /// Made again (and every channel subscribed again) after a disconnection.
    Single {
        client: Client,
        config: AsyncConnectionConfig,
        live: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    },
    /// Resubscribes each shard itself; made again when it stays broken (see
    /// [`Store::subscribe`]).
    Cluster(parking_lot::RwLock<ClusterConnection>),
}

pub struct Store {
    commands: parking_lot::RwLock<Commands>,
    /// For making a cluster's connections again.
    urls: Vec<String>,
    pushes: UnboundedSender<PushInfo>,
    /// When a cluster connection was last made again; one at a time.
    remade: tokio::sync::Mutex<Option<Instant>>,
    announcements: Announcements,
    /// SPUBLISH on a cluster (a channel's announcements stay on its shard), PUBLISH otherwise.
    pub publish_command: &'static str,
    metrics: Arc<RedisMetrics>,
}

fn resp3(url: &str) -> RedisResult<redis::ConnectionInfo> {
    let info = url.into_connection_info()?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    Ok(info.set_redis_settings(settings))
}

impl Store {
    /// Connects to `target`, which is a cluster when it names several nodes or the one it
    /// names says `cluster_enabled:1`. Announcements go to `pushes`.
    pub async fn connect(
        target: &RedisTarget,
        pushes: UnboundedSender<PushInfo>,
        metrics: Arc<RedisMetrics>,
    ) -> RedisResult<Store> {
        let cluster = target.urls.len() > 1 || Self::is_cluster(&target.urls[0]).await?;
        if cluster {
            let commands = cluster_connection(&target.urls, None).await?;
            let live = cluster_connection(&target.urls, Some(pushes.clone())).await?;
            return Ok(Store {
                commands: parking_lot::RwLock::new(Commands::Cluster(commands)),
                urls: target.urls.clone(),
                pushes,
                remade: tokio::sync::Mutex::new(None),
                announcements: Announcements::Cluster(parking_lot::RwLock::new(live)),
                publish_command: "SPUBLISH",
                metrics,
            });
        }
        let client = Client::open(resp3(&target.urls[0])?)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let commands = ConnectionManager::new_with_config(client.clone(), manager).await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_push_sender(pushes.clone());
        let live = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(Store {
            commands: parking_lot::RwLock::new(Commands::Single(commands)),
            urls: target.urls.clone(),
            pushes: pushes.clone(),
            remade: tokio::sync::Mutex::new(None),
            announcements: Announcements::Single {
                client,
                config,
                live: tokio::sync::Mutex::new(Some(live)),
            },
            publish_command: "PUBLISH",
            metrics,
        })
    }

    async fn is_cluster(url: &str) -> RedisResult<bool> {
        let client = Client::open(url)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut conn)
            .await?;
        Ok(info.contains("cluster_enabled:1"))
    }

    /// Runs a script, timing it for `/metrics`.
    pub async fn run(&self, invocation: &redis::ScriptInvocation<'_>) -> RedisResult<Value> {
        let mut conn = self.commands.read().clone();
        let start = Instant::now();
        let result = invocation.invoke_async(&mut conn).await;
        self.metrics.call(start.elapsed(), result.as_ref().err());
        if result.as_ref().is_err_and(connection_lost) {
            if let Commands::Cluster(_) = conn {
                if let Some(remade) = self.remake(None).await {
                    *self.commands.write() = Commands::Cluster(remade);
                }
            }
        }
        result
    }

    /// A new cluster connection, when the last one was made more than [`REMAKE_AFTER`] ago
    /// and nobody is making one now. The cluster connection reconnects to a shard by itself,
    /// but after every shard was away at once it was seen to stay broken (calls kept failing
    /// after the cluster was back), so a node that keeps failing starts afresh.
    async fn remake(&self, pushes: Option<UnboundedSender<PushInfo>>) -> Option<ClusterConnection> {
        let mut remade = self.remade.try_lock().ok()?;
        if remade.is_some_and(|at| at.elapsed() < REMAKE_AFTER) {
            return None;
        }
        *remade = Some(Instant::now());
        match cluster_connection(&self.urls, pushes).await {
            Ok(conn) => Some(conn),
            Err(err) => {
                tracing::debug!(%err, "cannot reach the Redis Cluster yet");
                None
            }
        }
    }

    /// Listens for `live`'s announcements (again, after a disconnection: harmless when already
    /// listening).
    pub async fn subscribe(&self, live: &str) -> RedisResult<()> {
        match &self.announcements {
            Announcements::Cluster(conn) => {
                let current = conn.read().clone();
                let result = current.clone().ssubscribe(live).await;
                if result.as_ref().is_err_and(connection_lost) {
                    if let Some(remade) = self.remake(Some(self.pushes.clone())).await {
                        *conn.write() = remade;
                    }
                }
                result
            }
            Announcements::Single {
                client,
                config,
                live: slot,
            } => {
                let mut slot = slot.lock().await;
                let conn = match &*slot {
                    Some(conn) => conn.clone(),
                    None => {
                        let conn = client
                            .get_multiplexed_async_connection_with_config(config)
                            .await?;
                        *slot = Some(conn.clone());
                        conn
                    }
                };
                let result = conn.clone().subscribe(live).await;
                if result.as_ref().is_err_and(connection_lost) {
                    *slot = None;
                }
                result
            }
        }
    }

    pub async fn unsubscribe(&self, live: &str) -> RedisResult<()> {
        match &self.announcements {
            Announcements::Cluster(conn) => {
                let mut conn = conn.read().clone();
                conn.sunsubscribe(live).await
            }
            Announcements::Single { live: slot, .. } => {
                let conn = slot.lock().await.clone();
                match conn {
                    Some(mut conn) => conn.unsubscribe(live).await,
                    None => Ok(()),
                }
            }
        }
    }

    /// The announcement connection dropped: on a single server, the next subscribe makes a
    /// new one (the cluster connection reconnects by itself).
    pub async fn announcements_lost(&self) {
        if let Announcements::Single { live, .. } = &self.announcements {
            *live.lock().await = None;
        }
    }
}

/// Whether `err` means the connection is gone (as opposed to a refusal from Redis).
pub fn connection_lost(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
}
