//! Any text as every GRIP header and as an origin's TEXT message: no panics, and what parses
//! re-encodes to something that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack_protocol::grip::{
    format_channels, parse_channels, parse_last, parse_timeout, verify_sig, Hold, KeepAlive, Link,
    OriginText,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Hold::parse(text);
    let _ = parse_timeout(text);
    let _ = parse_last([text]);
    let _ = verify_sig(text, b"key", Some("pushpin"), 0);
    if let Ok(keep_alive) = KeepAlive::parse(text) {
        assert_eq!(
            KeepAlive::parse(&keep_alive.to_header()).unwrap(),
            keep_alive
        );
    }
    let _ = Link::parse(text);
    let _ = parse_channels([text]).map(|c| format_channels(&c));
    if let Ok(OriginText::Control(control)) = OriginText::classify(text, "m:") {
        let encoded = control.encode();
        assert_eq!(
            OriginText::classify(&encoded, "m:").unwrap(),
            OriginText::Control(control)
        );
    }
});
