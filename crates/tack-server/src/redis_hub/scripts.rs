//! The Lua scripts that change Redis, one atomic step each, and how their replies are read.
//!
//! Every script that numbers an event starts with `lua/prelude.lua`: check the epoch, take the
//! channel's next id, append to its history stream (capped at `history_len`), announce it to
//! the nodes — so no node can see an id that is not in history, and no two events get one id.

use redis::{Script, Value};

const PRELUDE: &str = include_str!("lua/prelude.lua");

fn numbering(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

pub struct Scripts {
    pub enter: Script,
    pub leave: Script,
    pub rename: Script,
    pub message: Script,
    pub publish: Script,
    pub read: Script,
    pub heartbeat: Script,
    pub claim_nick: Script,
    pub release_nick: Script,
    pub epoch: Script,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts {
            enter: numbering(include_str!("lua/enter.lua")),
            leave: numbering(include_str!("lua/leave.lua")),
            rename: numbering(include_str!("lua/rename.lua")),
            message: numbering(include_str!("lua/message.lua")),
            publish: numbering(include_str!("lua/publish.lua")),
            read: numbering(include_str!("lua/read.lua")),
            heartbeat: numbering(include_str!("lua/heartbeat.lua")),
            claim_nick: Script::new(include_str!("lua/claim_nick.lua")),
            release_nick: Script::new(include_str!("lua/release_nick.lua")),
            epoch: Script::new(include_str!("lua/epoch.lua")),
        }
    }
}

/// A reply that is not what the script returns: Redis answered something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from a Tack script: {0}")]
pub struct BadReply(pub &'static str);

pub fn int(value: &Value) -> Result<i64, BadReply> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(BadReply("not a number")),
        Value::SimpleString(s) => s.parse().map_err(|_| BadReply("not a number")),
        _ => Err(BadReply("not a number")),
    }
}

pub fn array(value: &Value) -> Result<&[Value], BadReply> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(&[]),
        _ => Err(BadReply("not an array")),
    }
}

pub fn bytes(value: &Value) -> Result<&[u8], BadReply> {
    match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(s) => Ok(s.as_bytes()),
        _ => Err(BadReply("not a string")),
    }
}

pub fn text(value: &Value) -> Result<String, BadReply> {
    String::from_utf8(bytes(value)?.to_vec()).map_err(|_| BadReply("not UTF-8"))
}

/// Item `n` of an array reply.
pub fn nth(values: &[Value], n: usize) -> Result<&Value, BadReply> {
    values.get(n).ok_or(BadReply("too short"))
}
