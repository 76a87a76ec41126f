//! Starting and stopping the server, whichever front door it has: the router, the accept loop,
//! the reaper, shutdown.
//!
//! The two front doors differ only here and in their transports: [`Door::Direct`] holds client
//! connections itself; [`Door::Grip`] answers the requests the Pushpin instances in front of it
//! forward and publishes every item to them. Everything else — the session layer, the hub,
//! the HTTP sessions, the reaper and the shutdown sequence — is this one skeleton.

use crate::config::ServerConfig;
use crate::control_thread::ControlThread;
#[cfg(feature = "pushpin")]
use crate::origin::{Origin, OriginConfig};
use crate::state::AppState;
use crate::{access, listener};
use crate::{poll, publish, stream, ws};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Largest `POST /publish/` body; a publish can carry many items.
pub(crate) const PUBLISH_BODY_LIMIT: usize = 1024 * 1024;

/// How clients reach this server.
#[derive(Clone)]
pub enum Door {
    /// Clients connect here: WebSocket, SSE and long-polling.
    Direct,
    /// Clients connect to Pushpin, which forwards their requests here (GRIP).
    #[cfg(feature = "pushpin")]
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
        config
            .check()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        crate::state::check_redis(&config)?;
        #[cfg(feature = "pushpin")]
        if let Some(origin) = OriginConfig::from_server(&config)? {
            return Ok(Server::behind_pushpin(config, origin));
        }
        #[cfg(not(feature = "pushpin"))]
        if !config.pushpin.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "--pushpin: this build has no origin mode (built without tack-server's \
                 `pushpin` feature); `tack serve` has it",
            ));
        }
        Ok(Server {
            state: AppState::new(config),
            door: Door::Direct,
        })
    }

    /// A GRIP origin for the Pushpin instances `origin` names (none: it only answers).
    #[cfg(feature = "pushpin")]
    pub fn behind_pushpin(config: ServerConfig, origin: OriginConfig) -> Server {
        let origin = Origin::new(config, origin);
        Server {
            state: origin.app.clone(),
            door: Door::Grip(origin),
        }
    }

    /// Every client route, behind the client listener's gate.
    pub fn router(&self) -> Router {
        let config = &self.state.config;
        let (routes, gate) = match &self.door {
            Door::Direct => (app(self.state.clone()), config.client_gate(false)),
            #[cfg(feature = "pushpin")]
            Door::Grip(origin) => (crate::origin::app(origin.clone()), config.client_gate(true)),
        };
        // Checked when the server was made (`ServerConfig::check`).
        let gate = gate.expect("the client gate's settings were checked");
        // The gate runs first: a page it refuses never reaches the CORS layer.
        routes
            .layer(gate.cors())
            .layer(axum::middleware::from_fn_with_state(gate, access::gate))
    }

    /// The origin behind Pushpin, if this server is one.
    #[cfg(feature = "pushpin")]
    pub fn origin(&self) -> Option<&Origin> {
        match &self.door {
            Door::Grip(origin) => Some(origin),
            Door::Direct => None,
        }
    }

    /// Serves clients on `listeners.client` and publishing and metrics on
    /// `listeners.control` until `shutdown` resolves, then tells every client to reconnect,
    /// answers every hold, and leaves every room.
    pub async fn serve(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listeners.client.local_addr()?;
        let control = listeners.control.local_addr()?;
        // A hub on Redis connects first: `welcome` carries its epoch. Connections wait in the
        // listen backlog meanwhile.
        let mut shutdown = Box::pin(shutdown);
        tokio::select! {
            _ = self.state.hub.ready() => {}
            _ = &mut shutdown => return Ok(()),
        }
        match &self.door {
            Door::Direct => tracing::info!(%addr, %control, "tack server listening"),
            #[cfg(feature = "pushpin")]
            Door::Grip(origin) => {
                tracing::info!(%addr, %control, pushpin = ?origin.config.pushpin, "tack origin listening (clients connect through pushpin)")
            }
        }
        let state = self.state.clone();
        let limits = state.config.connection_limits();
        // Stops accepting and closes idle connections; the sessions end on their own token.
        let stop_accepting = CancellationToken::new();
        // First: the one step that can fail, before anything is running that would outlive it.
        let mut controls = ControlThread::start(
            listeners.control,
            control_router(self.clone()),
            limits,
            stop_accepting.clone(),
        )?;
        let reaper = tokio::spawn(reap(self.clone()));
        let metrics = state.metrics.clone();
        let clients = tokio::spawn(listener::serve(
            listeners.client,
            self.router(),
            state.permits(),
            limits,
            stop_accepting.clone(),
            move || metrics.refused(),
        ));
        shutdown.await;
        tracing::info!("shutting down: telling clients to reconnect");
        state.begin_shutdown();
        #[cfg(feature = "pushpin")]
        if let Door::Grip(origin) = &self.door {
            origin.tell_everyone_to_reconnect();
        }
        stop_accepting.cancel();
        let _ = tokio::join!(clients, controls.stopped_accepting());
        // Every connection holds a permit until its socket closes, upgraded WebSockets too:
        // waiting for them all is waiting for the last close frame.
        let grace = Duration::from_secs(state.config.shutdown_grace_secs);
        if tokio::time::timeout(grace, state.wait_for_connections())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {grace:?}; stopping anyway");
        }
        reaper.abort();
        for http in state.sessions.take_all() {
            state.end_session(&http.session).await;
        }
        #[cfg(feature = "pushpin")]
        if let Door::Grip(origin) = &self.door {
            origin.stop(grace).await;
        }
        controls.finish().await;
        tracing::info!("tack server stopped");
        Ok(())
    }
}

/// Where a server listens: clients on one address, publishing and metrics on another
/// (loopback by default), as Pushpin and Centrifugo keep their APIs off the client port.
pub struct Listeners {
    pub client: TcpListener,
    pub control: TcpListener,
}

impl Listeners {
    /// Binds `config.listen` and `config.control_listen` (port 0 picks one).
    pub async fn bind(config: &ServerConfig) -> std::io::Result<Listeners> {
        Ok(Listeners {
            client: bind(config.listen).await?,
            control: bind(config.control_listen).await?,
        })
    }
}

async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot listen on {addr}: {err} (is another server already using this port?)"),
        )
    })
}

/// Publishing and metrics: what backends and operators use, never clients.
fn control_router(server: Server) -> Router {
    #[cfg(feature = "pushpin")]
    let origin = server.origin().cloned();
    let state = server.state.clone();
    let gate = state
        .config
        .control_gate()
        .expect("the control gate's settings were checked");
    Router::new()
        .route(
            "/publish/",
            post(publish::publish).layer((
                DefaultBodyLimit::max(PUBLISH_BODY_LIMIT),
                state.config.body_timeout(),
            )),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move |State(state): State<AppState>| {
                #[cfg(feature = "pushpin")]
                let origin = origin.clone();
                async move {
                    let text = metrics_text(&state);
                    #[cfg(feature = "pushpin")]
                    let text = match &origin {
                        Some(origin) => {
                            let mut text = text;
                            origin.render_metrics(&mut text);
                            text
                        }
                        None => text,
                    };
                    metrics_answer(text)
                }
            }),
        )
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(gate, access::gate))
}

/// The built-in server's client routes, so tests can serve them too.
pub fn app(state: AppState) -> Router {
    // `/send` may carry several frames at once (an outbox flushed after a reconnect).
    let send_limit = state.config.max_message_bytes.saturating_mul(4);
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/stream", get(stream::stream))
        .route("/poll", get(poll::poll))
        .route(
            "/send",
            post(poll::send).layer((
                DefaultBodyLimit::max(send_limit),
                state.config.body_timeout(),
            )),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// The server's own `/metrics` lines (the hub's included); origin mode adds its own.
pub fn metrics_text(state: &AppState) -> String {
    let stats = state.hub.stats();
    let mut text = state
        .metrics
        .render(stats.rooms, stats.channels, state.sessions.len());
    state.hub.render_metrics(&mut text);
    text
}

fn metrics_answer(text: String) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// Serves what `config` asks for until `shutdown` resolves (see [`Server::serve`]).
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    Server::new(config)?.serve(listeners, shutdown).await
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
            #[cfg(feature = "pushpin")]
            if let Door::Grip(origin) = &server.door {
                origin.close_session(&http.session.id);
            }
            state.end_session(&http.session).await;
        }
        #[cfg(feature = "pushpin")]
        if let Door::Grip(origin) = &server.door {
            origin.reap_websockets().await;
        }
        state.hub.sweep().await;
    }
}

/// A server running in the background (for the desktop app and tests).
pub struct ServerHandle {
    addr: SocketAddr,
    control: SocketAddr,
    server: Server,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Binds `config.listen` and `config.control_listen` (port 0 picks one) and serves in a
/// background task.
pub async fn spawn(config: ServerConfig) -> std::io::Result<ServerHandle> {
    let listeners = Listeners::bind(&config).await?;
    spawn_on(listeners, Server::new(config)?)
}

/// Serves `server` on already bound listeners (so the address can be known before the
/// Pushpin that points at it starts) in a background task.
pub fn spawn_on(listeners: Listeners, server: Server) -> std::io::Result<ServerHandle> {
    let addr = listeners.client.local_addr()?;
    let control = listeners.control.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.clone().serve(listeners, async move {
        let _ = stopped.await;
    }));
    Ok(ServerHandle {
        addr,
        control,
        server,
        stop: Some(stop),
        task,
    })
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: where clients connect.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where publishing (`/publish/`) and `/metrics` are served.
    pub fn control_addr(&self) -> SocketAddr {
        self.control
    }

    /// `http://127.0.0.1:PORT` of the control listener.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control)
    }

    /// The running server's state (metrics, hub), for tests and the desktop app's status view.
    pub fn state(&self) -> &AppState {
        &self.server.state
    }

    /// Behind Pushpin: the origin's own parts (publisher, counters).
    #[cfg(feature = "pushpin")]
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
