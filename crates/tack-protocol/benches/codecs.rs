//! Throughput of the two streaming codecs on the hot path: websocket-events (every message
//! between Pushpin and an origin) and SSE (every event to a streaming client).
//!
//! Inputs are 1,000 chat-sized events (~100-byte JSON), the size the fan-out measurements use (bench/NOTES.md).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tack_protocol::sse;
use tack_protocol::wsevents::{self, Event};

fn chat_json(i: usize) -> String {
    format!(
        r#"{{"type":"chatMessage","id":{i},"room":"lobby","user":"ann","comment":"message number {i:06}","ts":1700000000000}}"#
    )
}

fn websocket_events(c: &mut Criterion) {
    let events: Vec<Event> = (0..1000).map(|i| Event::text(chat_json(i))).collect();
    let body = wsevents::encode_all(&events);
    let mut group = c.benchmark_group("websocket-events");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(body.len());
        b.iter(|| {
            out.clear();
            for event in &events {
                wsevents::encode_into(black_box(event), &mut out);
            }
            black_box(out.len())
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut decoder = wsevents::Decoder::default();
            let mut n = 0;
            // 4 KiB chunks, like reads from a socket.
            for chunk in body.chunks(4096) {
                decoder.feed(chunk);
                while let Some(event) = decoder.next_event().unwrap() {
                    black_box(&event);
                    n += 1;
                }
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

fn server_sent_events(c: &mut Criterion) {
    let events: Vec<sse::Event> = (0..1000)
        .map(|i| sse::Event::data(chat_json(i)).with_id(format!("lobby:{i}")))
        .collect();
    let mut stream = String::new();
    for event in &events {
        sse::encode_into(event, &mut stream).unwrap();
    }
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("encode", |b| {
        let mut out = String::with_capacity(stream.len());
        b.iter(|| {
            out.clear();
            for event in &events {
                sse::encode_into(black_box(event), &mut out).unwrap();
            }
            black_box(out.len())
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut parser = sse::Parser::default();
            let mut n = 0;
            for chunk in stream.as_bytes().chunks(4096) {
                parser.feed(chunk);
                while let Some(item) = parser.next_item().unwrap() {
                    black_box(&item);
                    n += 1;
                }
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

criterion_group!(benches, websocket_events, server_sent_events);
criterion_main!(benches);
