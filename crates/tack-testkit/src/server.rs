//! The built-in server, started inside a story on a free loopback port. The one place here
//! that knows how tack-server starts one.

use crate::clients::Front;
use tack_server::{ServerConfig, ServerHandle};

/// A built-in server with the default configuration on `127.0.0.1:0`.
pub async fn start() -> ServerHandle {
    start_with(|_| {}).await
}

/// A built-in server on `127.0.0.1:0`, its configuration changed by `tune` first.
pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut config = ServerConfig::on_free_loopback_ports();
    tune(&mut config);
    tack_server::spawn(config)
        .await
        .expect("the built-in server starts")
}

/// Lifts the per-connection message rate limit, for stories that send faster than a person
/// types (a burst, a resend of an outbox).
pub fn no_rate_limit(config: &mut ServerConfig) {
    config.messages_per_second = 100_000;
    config.message_burst = 100_000;
}

impl From<&ServerHandle> for Front {
    fn from(server: &ServerHandle) -> Front {
        Front::Tack {
            url: server.url(),
            control: server.control_url(),
        }
    }
}

/// Seconds a story's nodes keep a member without a heartbeat: short, so the stories about a
/// dead node's members take seconds.
pub const STORY_PRESENCE_TTL_SECS: u64 = 3;

/// A built-in server on `127.0.0.1:0` that shares the Redis at `redis` with the other nodes
/// of a story (presence TTL [`STORY_PRESENCE_TTL_SECS`]), changed by `tune` first.
pub async fn node_on(redis: Vec<String>, tune: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    start_with(|config| {
        config.redis = redis;
        config.redis_presence_ttl_secs = STORY_PRESENCE_TTL_SECS;
        tune(config);
    })
    .await
}

/// Publishes `item` through the control listener at `control` (`POST /publish/`), as a
/// backend does; panics unless the server took it.
pub async fn publish(control: &str, item: tack_protocol::publish::Item) {
    let body = tack_protocol::publish::PublishBody { items: vec![item] };
    let resp = reqwest::Client::new()
        .post(format!("{control}/publish/"))
        .header("content-type", "application/json")
        .body(body.to_json())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "publish: {}", resp.status());
}
