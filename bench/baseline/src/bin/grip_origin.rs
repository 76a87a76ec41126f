//! The plainest GRIP origin for Pushpin: used by `bench/run.sh` to measure Pushpin's own
//! fan-out when Tack's origin mode (`tack serve --pushpin`) is not available.
//!
//! A WebSocket client of Pushpin on `/c/<channel>` reaches this origin as WebSocket-over-HTTP;
//! `OPEN` is answered with a subscription to `<channel>` and nothing else happens here — every
//! message is published to Pushpin's publish port directly, as the same bytes to everyone.
//! No signature check: it listens on loopback for a benchmark only.
//!
//! Usage: `tack-bench-grip-origin 127.0.0.1:7997`.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use tack_protocol::grip::ControlMessage;
use tack_protocol::wsevents::{self, Event};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7997".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "tack-bench-grip-origin listening on {}",
        listener.local_addr()?
    );
    let app = Router::new().route("/c/{channel}", post(events));
    axum::serve(listener, app).await
}

async fn events(Path(channel): Path<String>, body: Bytes) -> impl IntoResponse {
    let incoming = wsevents::decode_all(&body, 64 * 1024).unwrap_or_default();
    let mut reply = Vec::new();
    for event in incoming {
        match event {
            Event::Open(_) => {
                reply.push(Event::open());
                reply.push(Event::text(
                    ControlMessage::Subscribe {
                        channel: channel.clone(),
                    }
                    .encode(),
                ));
            }
            Event::Ping(content) => reply.push(Event::Pong(content)),
            Event::Close(_) => reply.push(Event::Close(None)),
            _ => {}
        }
    }
    (
        [
            (CONTENT_TYPE, "application/websocket-events"),
            (
                axum::http::HeaderName::from_static("sec-websocket-extensions"),
                "grip",
            ),
        ],
        wsevents::encode_all(&reply),
    )
}
