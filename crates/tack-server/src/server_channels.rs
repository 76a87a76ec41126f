//! The server's own channels: every name that starts with `$`.
//!
//! Clients never write to them: entering one as a room, chatting in one and `POST /publish/`
//! to one are refused, so what a `$` channel says is always the server's word. The only ones
//! that exist are Pushpin's statistics in origin mode (`$pushpin`, `$pushpin/<instance>`,
//! see [`crate::origin::stats`]).
//!
//! Watching them is closed by default. The statistics name every channel that has
//! subscribers and how many, which is worth knowing to anyone reaching Pushpin from the
//! internet: a signed token must name a `$` glob in its `tack.watch` list (a token that leaves
//! the list out may watch "everything", but not this), and a server without signed identity
//! opens them only with `pushpin_stats_open`.

use crate::identity::Identity;
use crate::state::AppState;

/// Every instance's statistics, one item per instance per second.
pub const PUSHPIN: &str = "$pushpin";

/// Whether `name` is one of the server's own channels.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with('$')
}

/// The channel of one Pushpin instance's statistics.
pub fn pushpin_instance(instance: &str) -> String {
    format!("{PUSHPIN}/{instance}")
}

fn is_pushpin_stats(name: &str) -> bool {
    name == PUSHPIN
        || name
            .strip_prefix(PUSHPIN)
            .is_some_and(|r| r.starts_with('/'))
}

/// Why a client may not enter `name` as a room or write to it, if it is a server channel.
pub fn write_refusal(name: &str) -> Option<String> {
    is_reserved(name).then(|| {
        format!("`{name}` is one of the server's own channels (names starting with `$`): clients may not enter or write to them")
    })
}

/// Why `/publish/` may not write to `name`, if it is a server channel.
pub fn publish_refusal(name: &str) -> Option<String> {
    is_reserved(name).then(|| {
        format!("channel `{name}` is one of the server's own (names starting with `$`): only the server publishes to it")
    })
}

/// Why this client may not watch `name`, if it is a server channel it may not watch.
pub fn watch_refusal(state: &AppState, identity: Option<&Identity>, name: &str) -> Option<String> {
    if !is_reserved(name) {
        return None;
    }
    if !is_pushpin_stats(name) {
        return Some(format!(
            "`{name}` is not one of this server's channels (names starting with `$` are the server's own; it has `{PUSHPIN}` and `{PUSHPIN}/<instance>`)"
        ));
    }
    if state.verifier.is_some() {
        if identity.is_some_and(|i| i.names_server_channel(name)) {
            return None;
        }
        return Some(format!(
            "watching `{name}` (Pushpin's statistics) needs a signed token whose tack.watch list names it explicitly, e.g. \"{PUSHPIN}*\"; a token without a tack.watch list does not count"
        ));
    }
    if state.config.pushpin_stats_open {
        return None;
    }
    Some(format!(
        "`{name}` (Pushpin's statistics) is closed on this server: the operator opens it with pushpin_stats_open (--pushpin-stats-open, TACK_PUSHPIN_STATS_OPEN), or signs clients' tokens with a tack.watch list that names it"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_names_are_reserved_and_only_the_pushpin_family_exists() {
        assert!(is_reserved("$pushpin"));
        assert!(is_reserved("$anything"));
        assert!(!is_reserved("lobby$"));
        assert!(is_pushpin_stats("$pushpin"));
        assert!(is_pushpin_stats(&pushpin_instance("1")));
        assert!(!is_pushpin_stats("$pushpinx"));
        assert!(write_refusal("$pushpin").unwrap().contains("server's own"));
        assert!(write_refusal("lobby").is_none());
        assert!(publish_refusal("$pushpin/x").is_some());
    }
}
