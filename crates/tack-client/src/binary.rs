//! A binary item as a person can read it: a hex dump, and the value it holds when it is one
//! whole MessagePack or CBOR value, as JSON.
//!
//! Decoding is done here (in Rust, on request, for the item the user selects) rather than in
//! the window: the decoders are well-kept crates with depth limits and no allocation bombs,
//! and a payload the user never opens costs nothing.
//!
//! A payload "is" MessagePack (or CBOR) only when the whole of it decodes as exactly one value;
//! a prefix that happens to decode (almost any first byte does) followed by more bytes is not.
//! Short payloads can be both (a single byte `0x05` is the number 5 in each): both are shown.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Bytes shown in the hex dump; the rest is counted.
pub const HEX_MAX_BYTES: usize = 4096;

/// Largest payload decoded as MessagePack or CBOR: beyond it, the hex dump only. The JSON of a
/// decoded value can be several times its size, and a window's detail pane is not the place to
/// read megabytes.
pub const DECODE_MAX_BYTES: usize = 1024 * 1024;

/// Nesting decoded at most; deeper values are not decoded (both formats recurse per level).
const MAX_DEPTH: usize = 128;

/// A binary item, as the detail pane shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BinaryView {
    /// Decoded size in bytes.
    pub size: u32,
    /// Offset, 16 bytes in hex, and their printable ASCII, per line; at most `HEX_MAX_BYTES`.
    pub hex: String,
    /// Bytes left out of `hex`.
    pub hex_omitted: u32,
    /// What the payload decodes as (none: neither format, or too large to try).
    pub decoded: Vec<DecodedValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum BinaryFormat {
    MessagePack,
    Cbor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecodedValue {
    pub format: BinaryFormat,
    /// The value as indented JSON. Byte strings are hex strings, MessagePack extensions
    /// `{"ext": type, "data": hex}`, CBOR tags `{"tag": n, "value": …}`.
    pub json: String,
}

/// Reads a binary item as the engine carries it (base64).
pub fn view_base64(payload: &str) -> Result<BinaryView, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    Ok(view(&bytes))
}

pub fn view(bytes: &[u8]) -> BinaryView {
    let shown = &bytes[..bytes.len().min(HEX_MAX_BYTES)];
    let mut decoded = Vec::new();
    if bytes.len() <= DECODE_MAX_BYTES {
        let formats = [
            (BinaryFormat::MessagePack, msgpack(bytes)),
            (BinaryFormat::Cbor, cbor(bytes)),
        ];
        for (format, value) in formats {
            if let Some(value) = value {
                decoded.push(DecodedValue {
                    format,
                    json: serde_json::to_string_pretty(&value).unwrap_or_default(),
                });
            }
        }
    }
    BinaryView {
        size: bytes.len() as u32,
        hex: hex_dump(shown),
        hex_omitted: (bytes.len() - shown.len()) as u32,
        decoded,
    }
}

/// `00000010  7b 22 61 22 3a 31 7d                             |{"a":1}|` per 16 bytes.
pub fn hex_dump(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() / 16 * 78 + 78);
    for (i, line) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x} ", i * 16);
        for b in line {
            let _ = write!(out, " {b:02x}");
        }
        out.push_str(&"   ".repeat(16 - line.len()));
        out.push_str("  |");
        out.extend(line.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn msgpack(bytes: &[u8]) -> Option<Value> {
    let mut rest = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH).ok()?;
    rest.is_empty().then(|| from_msgpack(value))
}

fn from_msgpack(v: rmpv::Value) -> Value {
    use rmpv::Value as M;
    match v {
        M::Nil => Value::Null,
        M::Boolean(b) => Value::Bool(b),
        M::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => u.into(),
            (_, Some(s)) => s.into(),
            _ => Value::Null,
        },
        M::F32(f) => float(f64::from(f)),
        M::F64(f) => float(f),
        M::String(s) => match s.into_str() {
            Some(s) => Value::String(s),
            None => Value::Null,
        },
        M::Binary(b) => Value::String(hex(&b)),
        M::Array(items) => Value::Array(items.into_iter().map(from_msgpack).collect()),
        M::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (key(from_msgpack(k)), from_msgpack(v)))
                .collect::<Map<_, _>>(),
        ),
        M::Ext(kind, data) => {
            serde_json::json!({ "ext": kind, "data": hex(&data) })
        }
    }
}

fn cbor(bytes: &[u8]) -> Option<Value> {
    let mut rest = bytes;
    let value: ciborium::Value =
        ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH).ok()?;
    rest.is_empty().then(|| from_cbor(value))
}

fn from_cbor(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match v {
        C::Null => Value::Null,
        C::Bool(b) => Value::Bool(b),
        C::Integer(i) => {
            let i = i128::from(i);
            match (u64::try_from(i), i64::try_from(i)) {
                (Ok(u), _) => u.into(),
                (_, Ok(s)) => s.into(),
                // Beyond 64 bits: as its decimal text, exactly.
                _ => Value::String(i.to_string()),
            }
        }
        C::Float(f) => float(f),
        C::Text(s) => Value::String(s),
        C::Bytes(b) => Value::String(hex(&b)),
        C::Array(items) => Value::Array(items.into_iter().map(from_cbor).collect()),
        C::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (key(from_cbor(k)), from_cbor(v)))
                .collect::<Map<_, _>>(),
        ),
        C::Tag(tag, value) => serde_json::json!({ "tag": tag, "value": from_cbor(*value) }),
        _ => Value::Null,
    }
}

/// JSON has no NaN or infinities; they are shown as their names.
fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(f.to_string()))
}

/// JSON keys are strings; a non-string key is its JSON text.
fn key(k: Value) -> String {
    match k {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn formats(v: &BinaryView) -> Vec<BinaryFormat> {
        v.decoded.iter().map(|d| d.format).collect()
    }

    fn json(v: &BinaryView, format: BinaryFormat) -> Value {
        let d = v.decoded.iter().find(|d| d.format == format).unwrap();
        serde_json::from_str(&d.json).unwrap()
    }

    #[test]
    fn a_messagepack_map_is_shown_as_json() {
        let value = rmpv::Value::Map(vec![
            ("price".into(), rmpv::Value::F64(101.5)),
            ("sym".into(), "ACME".into()),
            ("raw".into(), rmpv::Value::Binary(vec![0xde, 0xad])),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &value).unwrap();
        let v = view(&bytes);
        assert_eq!(formats(&v), [BinaryFormat::MessagePack]);
        assert_eq!(
            json(&v, BinaryFormat::MessagePack),
            serde_json::json!({"price": 101.5, "sym": "ACME", "raw": "dead"})
        );
    }

    #[test]
    fn a_cbor_map_is_shown_as_json() {
        let value = ciborium::Value::Map(vec![
            ("price".into(), ciborium::Value::Float(99.25)),
            ("n".into(), ciborium::Value::Integer((-3).into())),
            (
                "when".into(),
                ciborium::Value::Tag(1, Box::new(ciborium::Value::Integer(1_700_000_000.into()))),
            ),
        ]);
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&value, &mut bytes).unwrap();
        let v = view(&bytes);
        assert_eq!(formats(&v), [BinaryFormat::Cbor]);
        assert_eq!(
            json(&v, BinaryFormat::Cbor),
            serde_json::json!({"price": 99.25, "n": -3, "when": {"tag": 1, "value": 1_700_000_000}})
        );
    }

    #[test]
    fn garbage_is_hex_only() {
        // 0xc1 is never used in MessagePack; in CBOR it is a tag with nothing after it.
        let v = view(&[0xc1, 0xff, 0x00, 0x13]);
        assert!(v.decoded.is_empty(), "{v:?}");
        assert!(v.hex.starts_with("00000000  c1 ff 00 13"), "{}", v.hex);
        // A value followed by more bytes is not that value.
        let v = view(&[0x05, 0x05]);
        assert!(v.decoded.is_empty(), "{v:?}");
    }

    #[test]
    fn a_byte_that_is_a_value_in_both_formats_shows_both() {
        let v = view(&[0x05]);
        assert_eq!(formats(&v), [BinaryFormat::MessagePack, BinaryFormat::Cbor]);
    }

    #[test]
    fn the_hex_dump_has_offsets_and_printable_text_and_is_bounded() {
        let dump = hex_dump(b"{\"a\":1}\x00\x01 tack payload!");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(
            lines[0],
            "00000000  7b 22 61 22 3a 31 7d 00 01 20 74 61 63 6b 20 70  |{\"a\":1}.. tack p|"
        );
        assert!(lines[1].starts_with("00000010  61 79 6c 6f 61 64 21"));
        assert!(lines[1].ends_with("|ayload!|"));
        assert_eq!(
            lines[0].find('|'),
            lines[1].find('|'),
            "text columns line up"
        );
        let big = view(&vec![0u8; HEX_MAX_BYTES + 10]);
        assert_eq!(big.hex.lines().count(), HEX_MAX_BYTES / 16);
        assert_eq!(big.hex_omitted, 10);
    }

    #[test]
    fn deep_nesting_is_not_decoded_and_does_not_overflow() {
        // 100,000 nested one-element arrays, in each format.
        let v = view(&[[0x91].repeat(100_000), vec![0xc0]].concat());
        assert!(!formats(&v).contains(&BinaryFormat::MessagePack));
        let v = view(&[[0x81].repeat(100_000), vec![0xf6]].concat());
        assert!(!formats(&v).contains(&BinaryFormat::Cbor));
    }

    #[test]
    fn base64_is_read_as_the_engine_carries_it() {
        let v = view_base64("gaFhAQ==").unwrap(); // MessagePack {"a": 1}
        assert_eq!(
            json(&v, BinaryFormat::MessagePack),
            serde_json::json!({"a": 1})
        );
        assert!(view_base64("not base64!").is_err());
    }

    proptest! {
        /// Whatever the bytes, a view is made, its dump covers them, and anything decoded is
        /// valid JSON.
        #[test]
        fn any_bytes_get_a_view(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let v = view(&bytes);
            prop_assert_eq!(v.size as usize, bytes.len());
            prop_assert_eq!(v.hex.lines().count(), bytes.len().div_ceil(16));
            for d in &v.decoded {
                prop_assert!(serde_json::from_str::<Value>(&d.json).is_ok());
            }
        }
    }
}
