//! Any bytes, fed whole and fed in pieces, must decode to the same events and error — and
//! whatever decodes must encode back to something that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack_protocol::wsevents::{encode_all, Decoder};

fn run(
    body: &[u8],
    piece: usize,
) -> (
    Vec<tack_protocol::wsevents::Event>,
    Option<tack_protocol::WsEventsError>,
) {
    let mut decoder = Decoder::new(4096);
    let mut events = Vec::new();
    for chunk in body.chunks(piece.max(1)) {
        decoder.feed(chunk);
        loop {
            match decoder.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, decoder.finish().err())
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, body)) = data.split_first() else {
        return;
    };
    let whole = run(body, body.len());
    assert_eq!(run(body, usize::from(piece % 17) + 1), whole);
    let (events, _) = whole;
    let again = run(&encode_all(&events), usize::MAX);
    assert_eq!(again, (events, None));
});
