//! Starting and stopping the server, whichever front door it has: the router, the accept loop,
//! the reaper, shutdown.
//!
//! The two front doors differ only here and in their transports: [`Door::Direct`] holds client
//! connections itself; [`Door::Grip`] answers the requests the Pushpin instances in front of it
//! forward and publishes every item to them. Everything else — the session layer, the hub,
//! the HTTP sessions, the reaper and the shutdown sequence — is this one skeleton.

use crate::config::ServerConfig;
use crate::origin::{Origin, OriginConfig};
use crate::state::AppState;
use crate::{poll, publish, stream, ws};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest `POST /publish/` body; a publish can carry many items.
pub(crate) const PUBLISH_BODY_LIMIT: usize = 1024 * 1024;

/// How clients reach this server.
#[derive(Clone)]
pub enum Door {
    /// Clients connect here: WebSocket, SSE and long-polling.
    Direct,
    /// Clients connect to Pushpin, which forwards their requests here (GRIP).
    Grip(Origin),
}

/// A configured server: its shared state and its front door.
#[derive(Clone)]
pub struct Server {
    pub state: AppState,
    pub door: Door,
}

impl Server {
    /// The server `config` asks for: behind Pushpin when it names Pushpin instances (refused
    /// without the key they sign with), otherwise serving clients itself. Starts the publisher
    /// tasks of origin mode, so call it inside a tokio runtime.
    pub fn new(config: ServerConfig) -> std::io::Result<Server> {
        Ok(match OriginConfig::from_server(&config)? {
            Some(origin) => Server::behind_pushpin(config, origin),
            None => Server {
                state: AppState::new(config),
                door: Door::Direct,
            },
        })
    }

    /// A GRIP origin for the Pushpin instances `origin` names (none: it only answers).
    pub fn behind_pushpin(config: ServerConfig, origin: OriginConfig) -> Server {
        let origin = Origin::new(config, origin);
        Server {
            state: origin.app.clone(),
            door: Door::Grip(origin),
        }
    }

    /// Every route.
    pub fn router(&self) -> Router {
        match &self.door {
            Door::Direct => app(self.state.clone()),
            Door::Grip(origin) => crate::origin::app(origin.clone()),
        }
    }

    /// The origin behind Pushpin, if this server is one.
    pub fn origin(&self) -> Option<&Origin> {
        match &self.door {
            Door::Grip(origin) => Some(origin),
            Door::Direct => None,
        }
    }

    /// Serves until `shutdown` resolves, then tells every client to reconnect, answers every
    /// hold, and leaves every room.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        match &self.door {
            Door::Direct => tracing::info!(%addr, "tack server listening"),
            Door::Grip(origin) => {
                tracing::info!(%addr, pushpin = ?origin.config.pushpin, "tack origin listening (clients connect through pushpin)")
            }
        }
        let state = self.state.clone();
        let reaper = tokio::spawn(reap(self.clone()));
        let begin = self.clone();
        // Events are small and latency matters more than packet count; batching is done by the
        // writers (feed several frames, flush once), not by Nagle.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: telling clients to reconnect");
                begin.state.begin_shutdown();
                if let Door::Grip(origin) = &begin.door {
                    origin.tell_everyone_to_reconnect();
                }
            })
            .into_future();
        let grace = Duration::from_secs(state.config.shutdown_grace_secs);
        let token = state.shutdown.clone();
        let result = tokio::select! {
            result = server => result,
            _ = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!("connections still open after {grace:?}; stopping anyway");
                Ok(())
            }
        };
        // Upgraded WebSockets are no longer hyper's to wait for; wait for their close frames.
        let _ = tokio::time::timeout(grace, state.wait_for_connections()).await;
        reaper.abort();
        for http in state.sessions.take_all() {
            http.session.leave_everything(state.hub.as_ref()).await;
        }
        if let Door::Grip(origin) = &self.door {
            origin.stop(grace).await;
        }
        tracing::info!("tack server stopped");
        result
    }
}

/// The built-in server's routes, so tests can serve them too.
pub fn app(state: AppState) -> Router {
    // `/send` may carry several frames at once (an outbox flushed after a reconnect).
    let send_limit = state.config.max_message_bytes.saturating_mul(4);
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/stream", get(stream::stream))
        .route("/poll", get(poll::poll))
        .route(
            "/send",
            post(poll::send).layer(DefaultBodyLimit::max(send_limit)),
        )
        .route(
            "/publish/",
            post(publish::publish).layer(DefaultBodyLimit::max(PUBLISH_BODY_LIMIT)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    metrics_response(&state, None)
}

/// `GET /metrics` in Prometheus' text format, on either front door.
pub fn metrics_response(state: &AppState, origin: Option<&Origin>) -> impl IntoResponse {
    let stats = state.hub.stats();
    let mut text = state
        .metrics
        .render(stats.rooms, stats.channels, state.sessions.len());
    if let Some(origin) = origin {
        origin.render_metrics(&mut text);
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// Serves what `config` asks for until `shutdown` resolves (see [`Server::serve`]).
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Server::new(config)?.serve(listener, shutdown).await
}

/// Ends HTTP sessions (and, behind Pushpin, WebSockets) nobody has heard from, and drops
/// history older than the limit.
async fn reap(server: Server) {
    let state = &server.state;
    let ttl = state.config.session_ttl();
    let period = (ttl / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        for http in state.sessions.take_expired() {
            tracing::debug!(session = %http.session.id, "http session expired");
            if let Door::Grip(origin) = &server.door {
                origin.close_session(&http.session.id);
            }
            http.session.leave_everything(state.hub.as_ref()).await;
        }
        if let Door::Grip(origin) = &server.door {
            origin.reap_websockets().await;
        }
        state.hub.sweep().await;
    }
}

/// A server running in the background (for the desktop app and tests).
pub struct ServerHandle {
    addr: SocketAddr,
    server: Server,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Binds `config.listen` (port 0 picks one) and serves in a background task.
pub async fn spawn(config: ServerConfig) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    spawn_on(listener, Server::new(config)?)
}

/// Serves `server` on an already bound listener (so the address can be known before the
/// Pushpin that points at it starts) in a background task.
pub fn spawn_on(listener: TcpListener, server: Server) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok(ServerHandle {
        addr,
        server,
        stop: Some(stop),
        task,
    })
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The running server's state (metrics, hub), for tests and the desktop app's status view.
    pub fn state(&self) -> &AppState {
        &self.server.state
    }

    /// Behind Pushpin: the origin's own parts (publisher, counters).
    pub fn origin(&self) -> Option<&Origin> {
        self.server.origin()
    }

    /// Closes every connection with 1001 "server restarting, reconnect" and waits for the end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Err(err)) => tracing::warn!(%err, "server ended with an error"),
            Err(err) => tracing::warn!(%err, "server task failed"),
            Ok(Ok(())) => {}
        }
    }
}
