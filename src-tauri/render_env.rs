//! The environment GTK, WebKitGTK and JavaScriptCore read at start, chosen for Tack's window: text,
//! a small SVG chart, a little JavaScript, and no GPU needed for any of it.
//!
//! Each variable is set only when the user has not set it (any value, even empty, wins), and
//! only before any thread or GTK starts: the WebKit processes inherit the environment, so this is
//! the one place that reaches them. Figures are idle PSS of app + web + network processes under
//! Xvfb (no GPU: Mesa's llvmpipe), measured with `bench/desktop_window.rs`; see BENCHMARKS.md.

use std::path::Path;

/// Where Linux lists the GPUs' render nodes (`renderD128`, ...).
const DRI_DIR: &str = "/dev/dri";

/// What the web process is told is its GPU when the machine has none: a path that does not
/// exist, so WebKit finds no device there and renders on the CPU, as it would anyway.
pub const NO_RENDER_NODE: &str = "/dev/dri/none";

/// The variables to set, in order, for a machine with (`true`) or without a GPU render node.
pub fn defaults(has_render_node: bool) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        // WebKit's accelerated compositing renders through OpenGL, which without a GPU is
        // llvmpipe on the CPU: ~90 MB more in the web process, and the monitor's log at ~20
        // frames/s under a firehose where plain rendering draws 60. Plain rendering draws
        // Tack's window well on any machine. `=0` turns compositing back on.
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
        // GTK probes OpenGL visuals when it opens the display, which loads Mesa (and its 100 MB
        // libLLVM: ~20 MB PSS) into the app process. Tack draws no GL of its own.
        ("GDK_GL", "disable"),
        // The DMA-BUF renderer carries composited frames to the window; with compositing off
        // it has nothing to carry, and checking for it opens an EGL display (Mesa again).
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        // JavaScriptCore's JIT keeps compiled code and an executable pool in the web process
        // (~7 MB idle, more under load) for a page whose scripts are small. The interpreter
        // keeps the log at 55-60 frames/s at 10,000 messages/s (BENCHMARKS.md), and a page that
        // cannot emit machine code is a smaller target too.
        ("JSC_useJIT", "0"),
    ];
    if !has_render_node {
        // Asked nothing, the app process opens an EGL display (Mesa, libLLVM: ~23 MB PSS with
        // the two above) only to learn which GPU the web process should use. Without a GPU the
        // answer is "none"; saying so up front keeps Mesa out of the app process. (With a GPU
        // WebKit still asks, and gets the right device on multi-GPU machines.)
        vars.push(("WEBKIT_WEB_RENDER_DEVICE_FILE", NO_RENDER_NODE));
    }
    vars
}

/// Does `dir` list a GPU render node (`renderD*`)?
pub fn has_render_node(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        })
        .unwrap_or(false)
}

/// Sets each default the user has not set. Call first thing in `main`, before any thread exists
/// (`set_var` is not safe to race with other threads reading the environment).
pub fn apply() {
    let defaults = defaults(has_render_node(Path::new(DRI_DIR)));
    for (name, value) in unset(defaults, |name| std::env::var_os(name).is_some()) {
        std::env::set_var(name, value);
    }
}

/// The defaults the user has not set themselves.
fn unset<'a>(
    defaults: Vec<(&'a str, &'a str)>,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(&'a str, &'a str)> {
    defaults.into_iter().filter(|(n, _)| !is_set(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: &[(&str, &str)]) -> Vec<String> {
        vars.iter().map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn without_a_gpu_the_app_process_is_told_there_is_none() {
        let vars = defaults(false);
        assert!(vars.contains(&("WEBKIT_WEB_RENDER_DEVICE_FILE", NO_RENDER_NODE)));
        assert!(!Path::new(NO_RENDER_NODE).exists());
    }

    #[test]
    fn with_a_gpu_webkit_picks_the_device_itself() {
        let vars = defaults(true);
        assert!(!names(&vars).contains(&"WEBKIT_WEB_RENDER_DEVICE_FILE".to_string()));
        assert!(vars.contains(&("WEBKIT_DISABLE_COMPOSITING_MODE", "1")));
    }

    #[test]
    fn the_users_own_setting_wins() {
        let user = ["WEBKIT_DISABLE_COMPOSITING_MODE", "JSC_useJIT"];
        let left = names(&unset(defaults(false), |n| user.contains(&n)));
        assert!(!left.contains(&"WEBKIT_DISABLE_COMPOSITING_MODE".to_string()));
        assert!(!left.contains(&"JSC_useJIT".to_string()));
        assert!(left.contains(&"GDK_GL".to_string()));
    }

    #[test]
    fn a_render_node_is_recognised_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("card0"), "").unwrap();
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("renderD128"), "").unwrap();
        assert!(has_render_node(dir.path()));
        assert!(!has_render_node(&dir.path().join("missing")));
    }
}
