//! The commands the UI may call. Each is one or two lines into the engine; the TypeScript side
//! is `ui/src/lib/backend/index.ts`, the only UI module that talks to Tauri.

use crate::state::AppState;
use std::fs::File;
use std::io::BufWriter;
use tack_client::events::EventBatch;
use tack_client::profile::Profile;
use tauri::ipc::Channel;
use tauri::State;

type Reply<T> = Result<T, String>;

#[tauri::command]
pub fn initial_profile(state: State<'_, AppState>) -> Profile {
    state.initial.clone()
}

#[tauri::command]
pub async fn connect(
    state: State<'_, AppState>,
    profile: Profile,
    on_event: Channel<EventBatch>,
) -> Reply<()> {
    state.connect(profile, on_event).await
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>) -> Reply<()> {
    state.disconnect().await;
    Ok(())
}

#[tauri::command]
pub async fn enter(state: State<'_, AppState>, room: String) -> Reply<()> {
    state.with_session(|s| s.enter(&room)).await
}

#[tauri::command]
pub async fn leave(state: State<'_, AppState>, room: String) -> Reply<()> {
    state.with_session(|s| s.leave(&room)).await
}

#[tauri::command]
pub async fn send(state: State<'_, AppState>, room: String, comment: String) -> Reply<String> {
    state.with_session(|s| s.send(&room, &comment)).await
}

#[tauri::command]
pub async fn retry_send(state: State<'_, AppState>, cid: String) -> Reply<()> {
    state.with_session(|s| s.retry_send(&cid)).await
}

#[tauri::command]
pub async fn watch(state: State<'_, AppState>, channel: String) -> Reply<()> {
    state.with_session(|s| s.watch(&channel)).await
}

#[tauri::command]
pub async fn unwatch(state: State<'_, AppState>, channel: String) -> Reply<()> {
    state.with_session(|s| s.unwatch(&channel)).await
}

#[tauri::command]
pub async fn set_nick(state: State<'_, AppState>, nick: String) -> Reply<()> {
    state.with_session(|s| s.set_nick(&nick)).await
}

#[tauri::command]
pub async fn retry_now(state: State<'_, AppState>) -> Reply<()> {
    state
        .with_session(|s| {
            s.retry_now();
            Ok(())
        })
        .await
}

/// Writes the engine's ring buffers for `channels` as JSON Lines to `path` (chosen by the user
/// in the save dialog); answers how many lines were written.
#[tauri::command]
pub async fn export_jsonl(
    state: State<'_, AppState>,
    path: String,
    channels: Vec<String>,
) -> Reply<usize> {
    let mut out =
        BufWriter::new(File::create(&path).map_err(|e| format!("can't write {path}: {e}"))?);
    state
        .with_session(|s| Ok(s.export_jsonl(&channels, &mut out)))
        .await?
        .map_err(|e| format!("can't write {path}: {e}"))
}
