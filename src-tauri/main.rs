// Keep a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Before GTK or any thread starts: WebKit's processes inherit what this sets.
    #[cfg(target_os = "linux")]
    tack_desktop::render_env::apply();
    tack_desktop::run();
}
