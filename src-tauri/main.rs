// Keep a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's accelerated compositing renders through OpenGL; without a GPU (remote X,
    // Xvfb, many VMs) that is Mesa's llvmpipe on the CPU, which cost the web process ~90 MB and
    // held the monitor's log at ~20 frames/s under a firehose where plain rendering draws ~50
    // (BENCHMARKS.md). Tack's window is text and a small chart, which plain rendering draws
    // well on any machine. Set before GTK starts, so the web process inherits it; a user's own
    // setting wins (`WEBKIT_DISABLE_COMPOSITING_MODE=0` turns compositing back on).
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    tack_desktop::run();
}
