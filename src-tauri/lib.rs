//! The Tauri shell: thin commands that call into the crates, app state, plugins.

pub fn run() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("error while running Tack");
}
