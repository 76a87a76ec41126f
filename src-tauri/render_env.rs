//! The environment GTK, WebKitGTK and JavaScriptCore read at start, chosen for Tack's window: text,
//! a small SVG chart, a little JavaScript, and no GPU needed for any of it.
//!
//! Each variable is set only when the user has not set it (any value, even empty, wins), and
//! only before any thread or GTK starts: the WebKit processes inherit the environment, so this is
//! the one place that reaches them. Figures are idle PSS of app + web + network processes under
//! Xvfb (no GPU: Mesa's llvmpipe), measured with `bench/desktop_window.rs`; see BENCHMARKS.md.

/// The variables to set, in order.
pub fn defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        // WebKit's accelerated compositing renders through OpenGL, which without a GPU is
        // llvmpipe on the CPU: ~90 MB more in the web process, and the monitor's log at ~20
        // frames/s under a firehose where plain rendering draws 60. Plain rendering draws
        // Tack's window well on any machine. `=0` turns compositing back on.
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
        // GTK probes OpenGL visuals through GLX when it opens the display, which loads Mesa and
        // its 100 MB libLLVM into the app process. Tack draws no GL of its own.
        ("GDK_GL", "disable"),
        // The DMA-BUF renderer carries composited frames to the window; with compositing off
        // it has nothing to carry. Together with GDK_GL: app process ~6 MB less idle.
        // (WebKit still opens an EGL display in the app process to tell the web process which
        // GPU to use; naming none in WEBKIT_WEB_RENDER_DEVICE_FILE would save ~9 MB more, but
        // then the window no longer follows a dark GTK theme. See BENCHMARKS.md.)
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        // JavaScriptCore's JIT keeps compiled code and an executable pool in the web process:
        // ~7 MB idle, and under a firehose the web process grew ~80 MB/min with it where it
        // stays flat without it. The interpreter, with 50 items a frame (forward.rs), keeps
        // the log at ~60 frames/s at 10,000 messages/s; a page that cannot emit machine code is
        // a smaller target too.
        ("JSC_useJIT", "0"),
    ]
}

/// Sets each default the user has not set. Call first thing in `main`, before any thread exists
/// (`set_var` is not safe to race with other threads reading the environment).
pub fn apply() {
    for (name, value) in unset(defaults(), |name| std::env::var_os(name).is_some()) {
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
    fn plain_rendering_and_no_jit_by_default() {
        let vars = defaults();
        assert!(vars.contains(&("WEBKIT_DISABLE_COMPOSITING_MODE", "1")));
        assert!(vars.contains(&("JSC_useJIT", "0")));
    }

    #[test]
    fn the_users_own_setting_wins() {
        let user = ["WEBKIT_DISABLE_COMPOSITING_MODE", "JSC_useJIT"];
        let left = names(&unset(defaults(), |n| user.contains(&n)));
        assert!(!left.contains(&"WEBKIT_DISABLE_COMPOSITING_MODE".to_string()));
        assert!(!left.contains(&"JSC_useJIT".to_string()));
        assert!(left.contains(&"GDK_GL".to_string()));
    }
}
