//! Where a channel lives in Redis: its keys and its announcement channel.
//!
//! Every key of one Tack channel carries the same hash tag (`{…}`), so on a Redis Cluster they
//! sit in one slot and one script can number, append and announce atomically. The name inside
//! the tag is escaped so that a room called `a}b` or `}x` cannot move the tag (an empty tag
//! would hash the whole key and split the channel over slots).

/// Every key and pub/sub channel of one Tack channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelKeys {
    /// Hash: `e` (the epoch its ids count in) and `n` (its newest id).
    pub meta: String,
    /// Stream: the kept history, entry ids `<id>-0`.
    pub history: String,
    /// Sorted set: `cid` → id of the messages still in history.
    pub cids: String,
    /// Sorted set: member (`<node>:<session>`) → when its presence expires (ms).
    pub presence: String,
    /// Hash: member → nick.
    pub nicks: String,
    /// The pub/sub channel (sharded on a cluster) every node listens on for this channel.
    pub live: String,
}

/// The global key holding the current epoch.
pub const EPOCH: &str = "tack:epoch";

/// The prefix of every announcement channel, and its end.
const LIVE_PREFIX: &str = "tack:{";
const LIVE_SUFFIX: &str = "}:live";

/// `name` escaped for use inside a hash tag: `{`, `}` and `%` as `%7B`, `%7D`, `%25`.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "7B" => '{',
            "7D" => '}',
            "25" => '%',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

impl ChannelKeys {
    pub fn new(name: &str) -> ChannelKeys {
        let tag = format!("tack:{{{}}}", escape(name));
        ChannelKeys {
            meta: format!("{tag}:m"),
            history: format!("{tag}:h"),
            cids: format!("{tag}:c"),
            presence: format!("{tag}:p"),
            nicks: format!("{tag}:u"),
            live: format!("{tag}:live"),
        }
    }

    /// The keys a channel script is given, in the order the scripts read them (`KEYS[1..6]`).
    /// The announcement channel is among them so a cluster routes and checks it like a key.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.meta,
            &self.history,
            &self.cids,
            &self.presence,
            &self.nicks,
            &self.live,
        ]
    }
}

/// The Tack channel an announcement channel belongs to.
pub fn channel_of_live(live: &[u8]) -> Option<String> {
    let live = std::str::from_utf8(live).ok()?;
    let escaped = live.strip_prefix(LIVE_PREFIX)?.strip_suffix(LIVE_SUFFIX)?;
    unescape(escaped)
}

/// The key that says who holds `nick` (case-insensitively), in its own slot.
pub fn nick_key(nick: &str) -> String {
    format!("tack:nick:{{{}}}", escape(&nick.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash tag Redis Cluster reads: the text between the first `{` and the next `}`.
    fn tag(key: &str) -> &str {
        let open = key.find('{').unwrap();
        let close = key[open + 1..].find('}').unwrap() + open + 1;
        &key[open + 1..close]
    }

    #[test]
    fn every_key_of_a_channel_shares_one_hash_tag_whatever_the_name() {
        for name in ["lobby", "a}b", "}x", "{", "%7D", "a b, c"] {
            let keys = ChannelKeys::new(name);
            let first = tag(&keys.meta);
            assert!(!first.is_empty(), "{name}");
            for key in keys.all() {
                assert_eq!(tag(key), first, "{name}: {key}");
            }
            assert_eq!(channel_of_live(keys.live.as_bytes()).as_deref(), Some(name));
        }
    }

    #[test]
    fn nicks_are_keyed_case_insensitively() {
        assert_eq!(nick_key("Ann"), nick_key("aNN"));
        assert_ne!(nick_key("ann"), nick_key("bob"));
    }
}
