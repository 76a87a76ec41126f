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
