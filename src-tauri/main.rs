// Keep a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's DMA-BUF renderer keeps ~90 MB of extra buffers in the web process when it
    // renders in software (no GPU, remote X, Xvfb) and shows a blank window on some drivers.
    // Tack's window is text and a small chart: the plain renderer is plenty. A user's own
    // setting wins.
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
    tack_desktop::run();
}
