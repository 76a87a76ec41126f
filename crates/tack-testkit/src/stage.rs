//! The origin-mode stage: a Tack origin and one or more real Pushpins in front of it, each
//! routing every request to the origin and taking its publishes. Clients connect to a
//! Pushpin, never to the origin ([`Stage::front`]).

use crate::clients::Front;
use crate::late_holds::LateHolds;
use crate::pushpin::{Pushpin, PushpinConfig, StatsFormat};
use tack_server::origin::OriginConfig;
use tack_server::{Listeners, Server, ServerConfig, ServerHandle};
use tokio::net::TcpListener;

/// The key Pushpin signs its requests to the origin with (`Grip-Sig`), and the origin checks.
pub const GRIP_KEY: &str = "tack-test-grip-key";

/// An origin and the Pushpins in front of it.
pub struct Stage {
    pub origin: ServerHandle,
    pub pushpins: Vec<Pushpin>,
}

impl Stage {
    /// `instances` Pushpins in front of an origin with the default configuration.
    pub async fn start(instances: usize) -> Stage {
        Stage::start_with(instances, |_| {}).await
    }

    /// `instances` Pushpins in front of an origin configured by `tune`.
    pub async fn start_with(instances: usize, tune: impl FnOnce(&mut ServerConfig)) -> Stage {
        Stage::start_publishing_to(instances, instances, tune).await
    }

    /// `instances` Pushpins, of which only the last `published` get the origin's publishes
    /// (the others only forward requests): a stage for losing publishes on purpose.
    pub async fn start_publishing_to(
        instances: usize,
        published: usize,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Stage {
        let formats = vec![StatsFormat::Tnetstring; instances];
        Stage::start_inner(&formats, published, false, tune).await
    }

    /// One Pushpin per entry of `formats`, each writing its stats socket in that format, and
    /// an origin (configured by `tune`) that reads them all: `--pushpin-stats`.
    pub async fn start_with_stats(
        formats: &[StatsFormat],
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Stage {
        Stage::start_inner(formats, formats.len(), true, tune).await
    }

    async fn start_inner(
        formats: &[StatsFormat],
        published: usize,
        read_stats: bool,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Stage {
        let instances = formats.len();
        let formats = formats.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the origin");
        let target = listener.local_addr().expect("bound").to_string();
        // Starting Pushpin waits (blocking) until it proxies.
        let pushpins = tokio::task::spawn_blocking(move || {
            formats
                .into_iter()
                .map(|stats_format| {
                    Pushpin::start(&PushpinConfig {
                        stats_format,
                        ..PushpinConfig::new(target.clone(), GRIP_KEY)
                    })
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("pushpins start");
        let mut config = ServerConfig::default();
        if read_stats {
            config.pushpin_stats = pushpins.iter().map(Pushpin::stats_spec).collect();
        }
        tune(&mut config);
        let publish_to = pushpins[instances - published..]
            .iter()
            .map(Pushpin::publish_url)
            .collect();
        let origin = spawn_origin(listener, config, publish_to).await;
        Stage { origin, pushpins }
    }

    /// One Pushpin that reaches the origin through [`LateHolds`], so a story can make a
    /// stream's hold reach Pushpin's handler after its client has the first answer.
    pub async fn start_with_late_holds() -> (Stage, LateHolds) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the origin");
        let late = LateHolds::start(listener.local_addr().expect("bound")).await;
        let target = late.target();
        let pushpin = tokio::task::spawn_blocking(move || {
            Pushpin::start(&PushpinConfig::new(target, GRIP_KEY))
        })
        .await
        .expect("pushpin starts");
        let publish_to = vec![pushpin.publish_url()];
        let origin = spawn_origin(listener, ServerConfig::default(), publish_to).await;
        let stage = Stage {
            origin,
            pushpins: vec![pushpin],
        };
        (stage, late)
    }

    /// Pushpin instance `n`, where clients connect.
    pub fn front(&self, n: usize) -> Front {
        Front::Pushpin {
            url: self.pushpins[n].url(),
            control: self.origin.control_url(),
        }
    }

    /// `http://127.0.0.1:P` of Pushpin instance `n`, for clients other than [`crate::clients`].
    pub fn url(&self, n: usize) -> String {
        self.pushpins[n].url()
    }

    /// Every Pushpin's log, for a failing story to print.
    pub fn logs(&self) -> String {
        self.pushpins
            .iter()
            .map(Pushpin::log)
            .collect::<Vec<_>>()
            .join("\n----\n")
    }
}

/// Serves a Tack origin on `listener` that checks [`GRIP_KEY`] and publishes to the Pushpins
/// at `publish_to` (their `http://HOST:PORT`). The one place here that knows how tack-server
/// starts an origin.
pub async fn spawn_origin(
    listener: TcpListener,
    config: ServerConfig,
    publish_to: Vec<String>,
) -> ServerHandle {
    let mut origin_config = OriginConfig::new(publish_to, GRIP_KEY);
    origin_config.websocket_keepalive_secs = config.ws_keepalive_interval_secs;
    origin_config.stats = config.pushpin_stats.clone();
    let control = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a control listener");
    let listeners = Listeners {
        client: listener,
        control,
    };
    tack_server::spawn_on(listeners, Server::behind_pushpin(config, origin_config))
        .expect("the origin starts")
}

/// Several origins sharing one Redis, each behind its own Pushpin, each publishing to every
/// Pushpin: how a deployment without a single point of failure looks.
pub struct SharedStage {
    pub origins: Vec<ServerHandle>,
    pub pushpins: Vec<Pushpin>,
}

impl SharedStage {
    /// `pairs` origins on the Redis at `redis` (presence TTL
    /// [`crate::server::STORY_PRESENCE_TTL_SECS`]), origin `n` behind Pushpin `n`.
    pub async fn start(
        pairs: usize,
        redis: Vec<String>,
        tune: impl Fn(&mut ServerConfig),
    ) -> SharedStage {
        let mut listeners = Vec::new();
        for _ in 0..pairs {
            listeners.push(
                TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a loopback port for an origin"),
            );
        }
        let targets: Vec<String> = listeners
            .iter()
            .map(|l| l.local_addr().expect("bound").to_string())
            .collect();
        let pushpins = tokio::task::spawn_blocking(move || {
            targets
                .iter()
                .map(|target| Pushpin::start(&PushpinConfig::new(target.clone(), GRIP_KEY)))
                .collect::<Vec<_>>()
        })
        .await
        .expect("pushpins start");
        let publish_to: Vec<String> = pushpins.iter().map(Pushpin::publish_url).collect();
        let mut origins = Vec::new();
        for listener in listeners {
            let mut config = ServerConfig {
                redis: redis.clone(),
                redis_presence_ttl_secs: crate::server::STORY_PRESENCE_TTL_SECS,
                ..ServerConfig::on_free_loopback_ports()
            };
            tune(&mut config);
            origins.push(spawn_origin(listener, config, publish_to.clone()).await);
        }
        SharedStage { origins, pushpins }
    }

    /// Pushpin instance `n`, where clients connect; backends publish through origin `n`.
    pub fn front(&self, n: usize) -> Front {
        Front::Pushpin {
            url: self.pushpins[n].url(),
            control: self.origins[n].control_url(),
        }
    }

    pub fn url(&self, n: usize) -> String {
        self.pushpins[n].url()
    }
}
