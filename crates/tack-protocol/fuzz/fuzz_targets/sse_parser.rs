//! Any bytes, fed whole and fed in pieces, must parse to the same items and error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack_protocol::sse::{Item, Parser};

fn run(stream: &[u8], piece: usize) -> (Vec<Item>, Option<tack_protocol::SseError>) {
    let mut parser = Parser::new(512);
    let mut items = Vec::new();
    for chunk in stream.chunks(piece.max(1)) {
        parser.feed(chunk);
        loop {
            match parser.next_item() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, Some(e)),
            }
        }
    }
    (items, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else {
        return;
    };
    let whole = run(stream, stream.len());
    assert_eq!(run(stream, usize::from(piece % 17) + 1), whole);
});
