//! The app's state: one engine session per connected server (keyed by the server key the
//! history uses, so a search hit names the session it came from), and the built-in server
//! when it runs.
//!
//! The built-in server listens on loopback, where every other program of the machine — and
//! every web page the user opens — can reach it. So it accepts nothing without a secret made at
//! each launch: the window's engine presents it, and the user's own scripts get it from the
//! server list ("let your own scripts publish here").

use crate::startup::BUILTIN_URL;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use tack_client::events::{EventBatch, Target};
use tack_client::player::{Player, Steer};
use tack_client::profile::{BuiltinServer, Profile};
use tack_client::query::QueryApplied;
use tack_client::{Session, SessionOptions};
use tack_server::{ServerConfig, ServerHandle};
use tauri::ipc::Channel;
use tokio::sync::Mutex;

pub struct AppState {
    pub initial: Profile,
    /// Started on first use and kept for the app's lifetime: switching away and back to
    /// "This computer" finds the same rooms and history.
    builtin: Mutex<Option<Builtin>>,
    /// Server key (`tack_history::server_key`) → its session. One connection per server: a
    /// second `connect` with the same key replaces the first.
    servers: Mutex<HashMap<String, Connected>>,
    /// Everything the window's sessions receive, kept and searchable.
    pub history: crate::history::AppHistory,
}

/// Items a recording opened in the window may hold: a million-item recording (the design
/// point) and room to spare, at a few hundred bytes of memory each.
pub const REPLAY_MAX_ITEMS: usize = 2_000_000;

/// One connected server: its engine session, the window's event channel for it (a replay's
/// items reach the window the way live ones do), and the replay opened in its monitor.
struct Connected {
    session: Session,
    window: Channel<EventBatch>,
    player: Option<Player>,
}

/// The refusal of a command naming a server the window has not connected.
fn not_connected(server: &str) -> String {
    format!("not connected to {server}")
}

/// The running built-in server and the secret it was started with.
struct Builtin {
    server: ServerHandle,
    secret: String,
}

impl Builtin {
    async fn start() -> Result<Builtin, String> {
        let secret = launch_secret();
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("a valid loopback address"),
            access_token: Some(secret.clone()),
            publish_token: Some(secret.clone()),
            ..ServerConfig::on_free_loopback_ports()
        };
        let server = tack_server::spawn(config)
            .await
            .map_err(|e| format!("could not start the built-in server: {e}"))?;
        Ok(Builtin { server, secret })
    }

    fn describe(&self) -> BuiltinServer {
        BuiltinServer {
            url: self.server.url(),
            publish_url: format!("{}/publish/", self.server.control_url()),
            token: self.secret.clone(),
        }
    }
}

/// 32 random letters and digits (~190 bits) from the OS's generator.
fn launch_secret() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 32)
}

impl AppState {
    pub fn new(initial: Profile) -> AppState {
        AppState {
            initial,
            builtin: Mutex::new(None),
            servers: Mutex::new(HashMap::new()),
            history: Default::default(),
        }
    }

    /// The built-in server, started on a free loopback port on first use.
    pub async fn builtin(&self) -> Result<BuiltinServer, String> {
        let mut builtin = self.builtin.lock().await;
        if builtin.is_none() {
            *builtin = Some(Builtin::start().await?);
        }
        Ok(builtin.as_ref().expect("started above").describe())
    }

    /// Resolves `builtin:` to the in-process server's URL and secret.
    async fn resolve(&self, mut profile: Profile) -> Result<Profile, String> {
        if profile.url == BUILTIN_URL {
            let builtin = self.builtin().await?;
            profile.url = builtin.url;
            profile.token = Some(builtin.token);
        }
        Ok(profile)
    }

    /// Connects `profile` beside the servers already connected (replacing only a session on
    /// the same server), streaming its events to `channel`. `server` is the key every other
    /// command names it by; the UI computes it, so a key that is not the profile's is refused
    /// here rather than routing commands to a server nobody connected.
    pub async fn connect(
        &self,
        server: String,
        profile: Profile,
        channel: Channel<EventBatch>,
    ) -> Result<(), String> {
        // Keyed before `builtin:` is resolved: the built-in server's port changes each launch.
        let key = tack_history::server_key(&profile);
        if key != server {
            return Err(format!(
                "the server key {server:?} is not {name:?}'s ({key:?})",
                name = profile.name
            ));
        }
        let name = profile.name.clone();
        let profile = self.resolve(profile).await?;
        self.disconnect(&key).await;
        // The window's log may be a sample at extreme rates (see `forward`); the export writes
        // what the engine kept, every item of the last 64 MB (its default budget).
        let (session, events) = Session::connect(profile, SessionOptions::default());
        let keep = self.history.connected(&key, &name);
        self.servers.lock().await.insert(
            key,
            Connected {
                session,
                window: channel.clone(),
                player: None,
            },
        );
        tauri::async_runtime::spawn(crate::forward::pump(events, channel, keep));
        Ok(())
    }

    /// Closes the session on `server`, if there is one; the others go on.
    pub async fn disconnect(&self, server: &str) {
        let old = self.servers.lock().await.remove(server);
        if let Some(old) = old {
            old.session.close().await;
        }
    }

    /// Writes the engine's kept items for `channels` as JSON Lines to `path`; answers how many
    /// lines were written.
    pub async fn export_jsonl(
        &self,
        server: &str,
        path: &str,
        channels: &[String],
    ) -> Result<usize, String> {
        let file = File::create(path).map_err(|e| format!("can't write {path}: {e}"))?;
        let mut out = BufWriter::new(file);
        let lines = self
            .with_session(server, |s| Ok(s.export_jsonl(channels, &mut out)))
            .await?
            .map_err(|e| format!("can't write {path}: {e}"))?;
        out.flush()
            .map_err(|e| format!("can't write {path}: {e}"))?;
        Ok(lines)
    }

    /// Starts recording `targets`' items to `path` as they arrive.
    pub async fn start_recording(
        &self,
        server: &str,
        path: String,
        targets: Vec<Target>,
    ) -> Result<(), String> {
        self.session(server)
            .await?
            .start_recording(&PathBuf::from(path), targets)
    }

    /// Stops the recording; answers how many items it holds. The last items are written on
    /// a blocking thread.
    pub async fn stop_recording(&self, server: &str) -> Result<u64, String> {
        let session = self.session(server).await?;
        tokio::task::spawn_blocking(move || session.stop_recording())
            .await
            .map_err(|e| format!("the recording stopped: {e}"))?
            .map(|(_, items)| items)
    }

    /// Reads the recording at `path` (on a blocking thread; a bad line is refused with its
    /// line and column) and replaces any replay of `server`'s monitor with one of it, paused
    /// at its start; its events reach the window through the same frame pump as that
    /// server's live ones. Answers the items.
    pub async fn open_recording(&self, server: &str, path: String) -> Result<u64, String> {
        let (session, window) = {
            let servers = self.servers.lock().await;
            let connected = servers.get(server).ok_or_else(|| not_connected(server))?;
            (connected.session.clone(), connected.window.clone())
        };
        let file = PathBuf::from(&path);
        let records = tokio::task::spawn_blocking(move || {
            tack_client::recording::read_file(&file, REPLAY_MAX_ITEMS)
        })
        .await
        .map_err(|e| format!("reading {path} stopped: {e}"))?
        .map_err(|e| format!("{path}: {e}"))?;
        let items = records.len() as u64;
        let (player, events) = session.replay(records);
        match self.servers.lock().await.get_mut(server) {
            Some(connected) => connected.player = Some(player),
            // Disconnected while the file was read: the replay has no window to go to.
            None => return Err(not_connected(server)),
        }
        // A replay is not history: it was kept when it was live.
        tauri::async_runtime::spawn(crate::forward::pump(events, window, None));
        Ok(items)
    }

    pub async fn steer_replay(&self, server: &str, steer: Steer) -> Result<(), String> {
        let servers = self.servers.lock().await;
        match servers.get(server).and_then(|c| c.player.as_ref()) {
            Some(p) if p.steer(steer) => Ok(()),
            _ => Err("no recording is open".into()),
        }
    }

    pub async fn close_replay(&self, server: &str) {
        if let Some(connected) = self.servers.lock().await.get_mut(server) {
            connected.player = None;
        }
    }

    /// The session on `server` (a handle: the lock is not held while it works).
    async fn session(&self, server: &str) -> Result<Session, String> {
        self.servers
            .lock()
            .await
            .get(server)
            .map(|c| c.session.clone())
            .ok_or_else(|| not_connected(server))
    }

    /// Sets `server`'s monitor query; a refusal is its JSON (`QueryError`), so the window can
    /// show it in the field it belongs to. jq runs on a blocking thread: judging the newest
    /// items again takes milliseconds, and a filter that never ends must hold neither the
    /// window nor the runtime the engines run on.
    pub async fn set_monitor_query(
        &self,
        server: &str,
        filter: String,
        map: String,
    ) -> Result<QueryApplied, String> {
        let session = self.session(server).await?;
        tokio::task::spawn_blocking(move || session.set_monitor_query(&filter, &map))
            .await
            .map_err(|e| format!("the query stopped: {e}"))?
            .map_err(|e| serde_json::to_string(&e).unwrap_or_else(|_| e.to_string()))
    }

    /// Enters a room or watches a channel on `server` from where its stored history ends.
    pub async fn follow(&self, server: &str, target: Target) -> Result<(), String> {
        let session = self.session(server).await?;
        self.history.follow(&session, server, target).await
    }

    /// Leaves a room or stops watching a channel; it is not reopened at the next start.
    pub async fn unfollow(&self, server: &str, target: Target) -> Result<(), String> {
        self.with_session(server, |s| match &target {
            Target::Room(room) => s.leave(room),
            Target::Channel(channel) => s.unwatch(channel),
        })
        .await?;
        self.history.unfollowed(server, target).await
    }

    /// Runs `f` on `server`'s session, or says plainly that it is not connected.
    pub async fn with_session<T>(
        &self,
        server: &str,
        f: impl FnOnce(&Session) -> Result<T, tack_client::ClientError>,
    ) -> Result<T, String> {
        let session = self.session(server).await?;
        f(&session).map_err(|e| e.to_string())
    }
}
