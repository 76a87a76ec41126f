//! The subset of tnetstrings (typed netstrings) Pushpin's stats socket speaks, read into JSON
//! values so the rest of [`super`] has one shape to interpret whatever `stats_format` says.
//!
//! A tnetstring is `<length>:<data><tag>`: `,` bytes, `#` integer, `^` float, `!` boolean,
//! `~` null, `}` a dict of key/value pairs, `]` a list. Bytes become strings (lossily, as
//! Pushpin's are UTF-8 channel names and ids).
//!
//! No crate for this is both kept up and permissively licensed (the one on crates.io is
//! AGPL), and the format is small. The input comes from another process, so everything is
//! bounded: the caller caps the message's size, lengths are at most [`MAX_LENGTH_DIGITS`]
//! digits and must fit what is left, nesting stops at [`MAX_DEPTH`], and nothing panics.

use serde_json::{Map, Number, Value};

/// Nesting deeper than Pushpin ever sends (it sends one flat dict) is refused, so a hostile
/// message cannot recurse the parser off its stack.
pub const MAX_DEPTH: usize = 8;
/// A length of more digits than this cannot fit in a message under the size cap anyway.
pub const MAX_LENGTH_DIGITS: usize = 9;

/// Why a tnetstring could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TnetError {
    #[error("ends before its length says")]
    Truncated,
    #[error("bad length prefix")]
    BadLength,
    #[error("unknown type tag {0:?}")]
    BadTag(char),
    #[error("bad {0} value")]
    BadValue(&'static str),
    #[error("nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("{0} bytes left over after the value")]
    Trailing(usize),
}

/// Reads one whole tnetstring; anything after it is an error.
pub fn parse(input: &[u8]) -> Result<Value, TnetError> {
    let (value, rest) = parse_one(input, 0)?;
    if !rest.is_empty() {
        return Err(TnetError::Trailing(rest.len()));
    }
    Ok(value)
}

/// One value at the start of `input`, and what follows it.
fn parse_one(input: &[u8], depth: usize) -> Result<(Value, &[u8]), TnetError> {
    if depth > MAX_DEPTH {
        return Err(TnetError::TooDeep);
    }
    let colon = input
        .iter()
        .take(MAX_LENGTH_DIGITS + 1)
        .position(|&b| b == b':')
        .ok_or(TnetError::BadLength)?;
    let digits = &input[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(TnetError::BadLength);
    }
    // At most nine ASCII digits: always a valid usize.
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(TnetError::BadLength)?;
    let rest = &input[colon + 1..];
    if rest.len() < len + 1 {
        return Err(TnetError::Truncated);
    }
    let (data, tag, rest) = (&rest[..len], rest[len], &rest[len + 1..]);
    let value = match tag {
        b',' => Value::String(String::from_utf8_lossy(data).into_owned()),
        b'#' => {
            let n: i64 = ascii(data)
                .and_then(|s| s.parse().ok())
                .ok_or(TnetError::BadValue("integer"))?;
            Value::Number(n.into())
        }
        b'^' => {
            let f: f64 = ascii(data)
                .and_then(|s| s.parse().ok())
                .ok_or(TnetError::BadValue("float"))?;
            Value::Number(Number::from_f64(f).ok_or(TnetError::BadValue("float"))?)
        }
        b'!' => match data {
            b"true" => Value::Bool(true),
            b"false" => Value::Bool(false),
            _ => return Err(TnetError::BadValue("boolean")),
        },
        b'~' if data.is_empty() => Value::Null,
        b'~' => return Err(TnetError::BadValue("null")),
        b'}' => {
            let mut map = Map::new();
            let mut body = data;
            while !body.is_empty() {
                let (key, after_key) = parse_one(body, depth + 1)?;
                let Value::String(key) = key else {
                    return Err(TnetError::BadValue("dict key"));
                };
                let (value, after_value) = parse_one(after_key, depth + 1)?;
                map.insert(key, value);
                body = after_value;
            }
            Value::Object(map)
        }
        b']' => {
            let mut list = Vec::new();
            let mut body = data;
            while !body.is_empty() {
                let (value, after) = parse_one(body, depth + 1)?;
                list.push(value);
                body = after;
            }
            Value::Array(list)
        }
        other => return Err(TnetError::BadTag(char::from(other))),
    };
    Ok((value, rest))
}

fn ascii(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Writes `value` as a tnetstring: what the tests feed the parser, and the stories' fake
/// Pushpin. Strings become byte strings, as Pushpin writes them.
pub fn encode(value: &Value) -> Vec<u8> {
    let (tag, data) = match value {
        Value::Null => (b'~', Vec::new()),
        Value::Bool(b) => (b'!', b.to_string().into_bytes()),
        Value::Number(n) if n.is_f64() => (b'^', n.to_string().into_bytes()),
        Value::Number(n) => (b'#', n.to_string().into_bytes()),
        Value::String(s) => (b',', s.as_bytes().to_vec()),
        Value::Array(list) => (b']', list.iter().flat_map(encode).collect()),
        Value::Object(map) => (
            b'}',
            map.iter()
                .flat_map(|(k, v)| {
                    let mut pair = encode(&Value::String(k.clone()));
                    pair.extend(encode(v));
                    pair
                })
                .collect(),
        ),
    };
    let mut out = format!("{}:", data.len()).into_bytes();
    out.extend(data);
    out.push(tag);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_conn_packet_as_pushpin_writes_it_reads_back() {
        // Captured from Pushpin 1.36's stats socket, after `conn T`.
        let wire = b"129:4:from,21:pushpin-handler_32110,4:type,2:ws,12:peer-address,9:127.0.0.1,3:ttl,3:120#2:id,36:621434f0-7003-4b44-9765-a6bcbd146ddb,}";
        let value = parse(wire).unwrap();
        assert_eq!(
            value,
            json!({"from":"pushpin-handler_32110","type":"ws","peer-address":"127.0.0.1","ttl":120,"id":"621434f0-7003-4b44-9765-a6bcbd146ddb"})
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b":",
            b"5:abc,",
            b"3:abc?",
            b"3:abcX",
            b"1234567890:x,",
            b"-1:,",
            b"2:1x#",
            b"5:maybe!",
            b"1:x~",
            b"6:1:a,1#}",
            b"3:abc,extra",
            b"4:1:a#}",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let mut value = json!(1);
        for _ in 0..=MAX_DEPTH + 1 {
            value = json!([value]);
        }
        assert_eq!(parse(&encode(&value)), Err(TnetError::TooDeep));
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z0-9:.-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z-]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn what_is_encoded_reads_back_the_same(v in value()) {
            prop_assert_eq!(parse(&encode(&v)), Ok(v));
        }

        #[test]
        fn any_bytes_are_read_or_refused_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn a_cut_or_altered_packet_never_panics(v in value(), cut in 0usize..64, flip in any::<u8>()) {
            let mut wire = encode(&v);
            let at = cut.min(wire.len());
            let _ = parse(&wire[..at]);
            if !wire.is_empty() {
                let i = cut % wire.len();
                wire[i] ^= flip;
                let _ = parse(&wire);
            }
        }
    }
}
