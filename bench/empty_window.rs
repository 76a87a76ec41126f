//! The floor under the desktop app's idle memory: Tauri 2 and WebKitGTK with nothing of Tack's
//! in them. Same configuration (window, CSP), same render settings (`render_env`), same build
//! profile as the app; the page is blank and no plugin or command is registered.
//! `desktop-bench` launches it beside the app (`TACK_FLOOR_BIN`) and reports Tack's own share
//! of idle memory as the app's minus this window's.
//!
//! ```sh
//! cargo build --release -p tack-desktop --examples
//! DISPLAY=:57 target/release/examples/empty-window
//! ```

/// A page with nothing on it, served the way the app's own page is (a custom scheme): WebKit
/// serves `about:blank` without starting a web process, which would leave out the largest part
/// of the floor, and `data:` URLs need a Tauri feature the app does not build with.
const BLANK: &[u8] = b"<!doctype html><title>Tack</title>";

fn main() {
    tack_desktop::render_env::apply();
    let mut context = tauri::generate_context!("tauri.conf.json");
    for window in &mut context.config_mut().app.windows {
        window.url = tauri::WebviewUrl::External("blank://localhost/".parse().expect("a URL"));
    }
    tauri::Builder::default()
        .register_uri_scheme_protocol("blank", |_, _| {
            tauri::http::Response::builder()
                .header("Content-Type", "text/html")
                .body(BLANK.to_vec())
                .expect("a response")
        })
        .run(context)
        .expect("the empty window runs");
}
