//! Which server the window opens on.

use tack_client::profile::Profile;

/// The profile URL that means "the built-in server, started in-process".
pub const BUILTIN_URL: &str = "builtin:";

/// "This computer": the built-in server. Always available in the server list.
pub fn builtin_profile() -> Profile {
    Profile::new("This computer", BUILTIN_URL)
}

/// `--connect URL` (or `--connect=URL`) wins over `TACK_CONNECT`; without either, the
/// built-in server. Unknown arguments are left alone: Tauri and WebKit have their own.
pub fn initial_profile(args: impl IntoIterator<Item = String>, env: Option<String>) -> Profile {
    let mut args = args.into_iter();
    let mut from_args = None;
    while let Some(arg) = args.next() {
        if arg == "--connect" {
            from_args = args.next();
        } else if let Some(url) = arg.strip_prefix("--connect=") {
            from_args = Some(url.to_owned());
        }
    }
    match from_args.or(env).filter(|u| !u.trim().is_empty()) {
        Some(url) => Profile::new(url.trim(), url.trim()),
        None => builtin_profile(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn opens_on_the_builtin_server_by_default() {
        assert_eq!(initial_profile(args(&[]), None).url, BUILTIN_URL);
    }

    #[test]
    fn connect_flag_beats_the_environment() {
        let p = initial_profile(
            args(&["--connect", "http://127.0.0.1:9000"]),
            Some("http://10.0.0.1:7999".into()),
        );
        assert_eq!(p.url, "http://127.0.0.1:9000");
        let p = initial_profile(args(&["--connect=ws://h:1/websocket/chat"]), None);
        assert_eq!(p.url, "ws://h:1/websocket/chat");
    }

    #[test]
    fn environment_is_used_without_the_flag() {
        let p = initial_profile(
            args(&["--some-webkit-flag"]),
            Some("http://127.0.0.1:7999".into()),
        );
        assert_eq!(p.url, "http://127.0.0.1:7999");
    }
}
