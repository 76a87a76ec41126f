//! Any body: parsing never panics, and an accepted body re-serializes to one that parses the
//! same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack_protocol::publish::{FormatKind, PublishBody};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = PublishBody::parse(data) {
        for item in &body.items {
            let _ = item.payload(FormatKind::WsMessage);
            let _ = item.payload(FormatKind::HttpStream);
            let _ = item.payload(FormatKind::HttpResponse);
        }
        let again = PublishBody::parse(body.to_json().as_bytes()).expect("re-encoded body parses");
        assert_eq!(again, body);
    }
});
