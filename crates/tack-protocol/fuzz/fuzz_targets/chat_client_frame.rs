//! Any text as a client frame: no panics, and an accepted frame round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack_protocol::chat::{ClientFrame, Positions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ClientFrame::parse(text) {
        assert_eq!(ClientFrame::parse(&frame.encode()).unwrap(), frame);
    }
    if let Ok(positions) = Positions::parse(text) {
        assert_eq!(Positions::parse(&positions.encode()).unwrap(), positions);
    }
});
