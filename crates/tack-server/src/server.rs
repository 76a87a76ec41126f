//! Starting and stopping the server: the router, the accept loop, the reaper, shutdown.

use crate::config::ServerConfig;
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
const PUBLISH_BODY_LIMIT: usize = 1024 * 1024;

/// Every route, so tests and the Pushpin origin mode can serve the same thing.
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
    let stats = state.hub.stats();
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render(stats.rooms, stats.channels, state.sessions.len()),
    )
}

/// Serves with the in-memory hub until `shutdown` resolves, then closes every connection with
/// a reason and answers every hold. With `config.pushpin` set, serves origin mode instead
/// ([`crate::origin`]): Pushpin holds the connections.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(origin) = crate::origin::OriginConfig::from_server(&config)? {
        return crate::origin::run(listener, config, origin, shutdown).await;
    }
    serve(listener, AppState::new(config), shutdown).await
}

/// Like [`run`], with state made by the caller (another hub, or to read its metrics).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "tack server listening");
    let reaper = tokio::spawn(reap(state.clone()));
    let begin = state.clone();
    // Events are small and latency matters more than packet count; batching is done by the
    // writers (feed several frames, flush once), not by Nagle.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing connections");
            begin.begin_shutdown();
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
    tracing::info!("tack server stopped");
    result
}

/// Expires HTTP sessions nobody holds and drops history older than the limit.
async fn reap(state: AppState) {
    let ttl = state.config.session_ttl();
    let period = (ttl / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        for http in state.sessions.take_expired(ttl) {
            tracing::debug!(session = %http.session.id, "http session expired");
            http.session.leave_everything(state.hub.as_ref()).await;
        }
        state.hub.sweep().await;
    }
}

/// A server running in the background (for the desktop app and tests).
pub struct ServerHandle {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Binds `config.listen` (port 0 picks one) and serves in a background task.
pub async fn spawn(config: ServerConfig) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(ServerHandle {
        addr,
        state,
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
        &self.state
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
