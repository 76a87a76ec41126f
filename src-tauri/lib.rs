//! Tack's desktop shell: thin Tauri commands over the crates, app state, official plugins.
//!
//! - [`startup`]: which server the window opens on (`--connect URL`, `TACK_CONNECT`, or the
//!   built-in one).
//! - [`state`]: one engine session per connected server, and the in-process built-in server.
//! - [`commands`]: what the UI may call, one table read by `ipc` (the Tauri commands and the
//!   UI's TypeScript) and by `build.rs` (their permissions).
//! - `notify`: desktop notifications whose text shows as typed.
//! - [`forward`]: engine events to the window, one batch per frame (and to the history).
//! - `history`: the history file, kept in the app's data directory.
//! - [`render_env`]: how GTK and WebKit are told to draw (set before anything starts).
//!
//! No protocol logic lives here: the engine (`tack-client`) owns connections, resume and the
//! outbox; the server (`tack-server`) owns rooms. This file only wires plugins and state.

#[macro_use]
mod ipc;
/// What the UI may call; each is a line or two into `tack-client`. (The module is the command
/// table `commands!` reads; see `ipc`.)
pub mod commands;
mod forward;
mod history;
mod notify;
#[cfg(target_os = "linux")]
pub mod render_env;
mod startup;
mod state;

use state::AppState;

pub fn run() {
    let initial =
        startup::initial_profile(std::env::args().skip(1), std::env::var("TACK_CONNECT").ok());
    tauri::Builder::default()
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .manage(AppState::new(initial))
        .setup(|app| {
            use tauri::Manager;
            let file = history::file(
                app.path().app_data_dir().ok(),
                std::env::var("TACK_HISTORY").ok(),
            );
            app.state::<AppState>().history.open(file);
            Ok(())
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!())
        .expect("Tack could not start its window")
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                use tauri::Manager;
                // What the writer still holds is stored before the process ends.
                app.state::<AppState>().history.flush();
            }
        });
}
