//! `POST /publish/`: Pushpin's publish API, so a backend that publishes to Pushpin can publish
//! to Tack unchanged. Parsing, validation and the error texts are `tack_protocol::publish`'s;
//! this module only checks the token and hands each item to the hub.

use crate::access::{bearer, tokens_match};
use crate::item::{Content, ItemBody};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tack_protocol::publish::{FormatKind, Item, Payload, PublishBody};

pub async fn publish(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    // A control address beyond loopback without a token is refused at start
    // (`ServerConfig::check`), so a token is configured whenever one is needed.
    if let Some(expected) = &state.config.publish_token {
        if !tokens_match(bearer(&headers), expected) {
            return (
                StatusCode::UNAUTHORIZED,
                "Unauthorized: publishing needs Authorization: Bearer <publish_token>.\n",
            )
                .into_response();
        }
    }
    let parsed = match PublishBody::parse(&body) {
        Ok(parsed) => parsed,
        Err(err) => return (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response(),
    };
    for item in &parsed.items {
        if let Some(body) = item_body(item) {
            if let Err(err) = state.hub.publish(&item.channel, body).await {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("item for `{}` not published: {err}\n", item.channel),
                )
                    .into_response();
            }
            state.metrics.published();
        }
    }
    (StatusCode::OK, "Published\n").into_response()
}

/// The item's content per transport; None for an item that only closes connections, which
/// has nothing to show a watcher.
fn item_body(item: &Item) -> Option<ItemBody> {
    let content = |kind| match item.payload(kind)? {
        Payload::Text(text) => Some(Content::Text(text)),
        Payload::Binary(bytes) => Some(Content::Binary(bytes)),
        Payload::Close { .. } => None,
    };
    let ws = content(FormatKind::WsMessage);
    let stream = content(FormatKind::HttpStream);
    let poll = content(FormatKind::HttpResponse);
    (ws.is_some() || stream.is_some() || poll.is_some()).then_some(ItemBody::Published {
        ws,
        stream,
        poll,
    })
}
