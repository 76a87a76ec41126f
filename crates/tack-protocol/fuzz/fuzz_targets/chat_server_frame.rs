//! Any text as a server frame: no panics, and a Tack event re-serializes to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack_protocol::chat::{decode_legacy_comment, ServerFrame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ServerFrame::parse(text) {
        Ok(ServerFrame::Event(event)) => {
            assert_eq!(
                ServerFrame::parse(&event.to_json()).unwrap(),
                ServerFrame::Event(event)
            );
        }
        Ok(ServerFrame::LegacyBroadcast { comment, .. }) => {
            let _ = decode_legacy_comment(&comment);
        }
        _ => {}
    }
});
