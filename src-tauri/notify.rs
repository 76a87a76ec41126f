//! Desktop notifications whose body shows as typed.
//!
//! The freedesktop notification spec lets a daemon read the body as markup (it says so with
//! the `body-markup` capability; GNOME Shell, Plasma, dunst and mako do). A chat message is
//! plain text, so for such a daemon `<b>x</b>` and `&amp;` must be escaped to show as typed;
//! for one without the capability, escaping would show the entities instead.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;
use tokio::sync::OnceCell;

pub async fn show(app: &AppHandle, title: String, body: String) -> Result<(), String> {
    let body = plain_body(&body, reads_markup().await);
    app.notification()
        .builder()
        .title(title)
        .body(body)
        .show()
        .map_err(|e| format!("could not show a notification: {e}"))
}

/// `text` as a daemon that reads markup (`markup`) or not shows it as typed.
pub fn plain_body(text: &str, markup: bool) -> String {
    if !markup {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Does the notification daemon read the body as markup? Asked once (a D-Bus call), off the
/// async threads.
async fn reads_markup() -> bool {
    static MARKUP: OnceCell<bool> = OnceCell::const_new();
    *MARKUP
        .get_or_init(|| async {
            tokio::task::spawn_blocking(daemon_reads_markup)
                .await
                .unwrap_or(false)
        })
        .await
}

#[cfg(target_os = "linux")]
fn daemon_reads_markup() -> bool {
    notify_rust::get_capabilities().is_ok_and(|caps| caps.iter().any(|c| c == "body-markup"))
}

/// Other systems' notifications take plain text.
#[cfg(not(target_os = "linux"))]
fn daemon_reads_markup() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::plain_body;

    /// Regression (issue 15): a comment went into the body raw, and a daemon that reads markup
    /// showed `<b>x</b>` bold and `&amp;` as `&`.
    #[test]
    fn markup_in_a_comment_shows_as_typed_on_a_daemon_that_reads_markup() {
        assert_eq!(
            plain_body("<b>x</b> & &amp; <a href=\"u\">", true),
            "&lt;b&gt;x&lt;/b&gt; &amp; &amp;amp; &lt;a href=\"u\"&gt;"
        );
    }

    #[test]
    fn a_daemon_without_markup_gets_the_text_untouched() {
        assert_eq!(plain_body("<b>x</b> &amp;", false), "<b>x</b> &amp;");
    }
}
