//! `POST /publish/`: Pushpin's publish API, so a backend that publishes to Pushpin can publish
//! to Tack unchanged. Parsing, validation and the error texts are `tack_protocol::publish`'s;
//! this module checks the token, holds channel names to the rules rooms follow (Pushpin takes
//! any name; a channel here is kept in memory, so its name is bounded like a room's) and hands
//! each item to the hub. A body with one bad item publishes none of them.

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
    if let Some(refused) = refusal(&state, &parsed) {
        return refused;
    }
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

/// Why this body may not be published, naming the first item at fault.
fn refusal(state: &AppState, body: &PublishBody) -> Option<Response> {
    for (n, item) in body.items.iter().enumerate() {
        if let Err(problem) = tack_protocol::chat::check_name(&item.channel) {
            return Some(
                (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "item {n}: channel {} {problem}; channels follow the room name rules (1-64 bytes, no control characters, no comma)\n",
                        shown(&item.channel)
                    ),
                )
                    .into_response(),
            );
        }
        if let Some(message) = crate::server_channels::publish_refusal(&item.channel) {
            return Some(
                (StatusCode::BAD_REQUEST, format!("item {n}: {message}\n")).into_response(),
            );
        }
        if let Some(message) = crate::client_frame::over_channel_cap(state, &item.channel) {
            return Some(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "60")],
                    format!("item {n}: {message}\n"),
                )
                    .into_response(),
            );
        }
    }
    None
}

/// A name as an error shows it: quoted, escaped, and cut short if long.
fn shown(name: &str) -> String {
    let cut: String = name.chars().take(64).collect();
    if cut.len() < name.len() {
        format!("{cut:?}… ({} bytes)", name.len())
    } else {
        format!("{cut:?}")
    }
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
