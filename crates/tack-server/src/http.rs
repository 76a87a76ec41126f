//! What the HTTP transports share, on the built-in server and behind Pushpin: the query of
//! `/stream` and `/poll`, the one rule for resume points, finding or starting the session and
//! applying what the query asks for, `/send`, and the JSON replies.

use crate::client_frame::{self, error_event};
use crate::identity::Identity;
use crate::session::{Role, Session};
use crate::sessions::HttpSession;
use crate::state::{Admitted, AppState, SessionKind};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use tack_protocol::chat::{ClientFrame, Enter, ErrorEvent, Hello, Positions, ServerEvent, Watch};
use tack_protocol::ErrorCode;

/// The query of `GET /stream` and `GET /poll`, on the built-in server and behind Pushpin.
#[derive(Debug, Default, Deserialize)]
pub struct HttpQuery {
    pub session: Option<String>,
    pub nick: Option<String>,
    pub rooms: Option<String>,
    pub watch: Option<String>,
    pub since: Option<String>,
    pub timeout: Option<u64>,
    /// Behind Pushpin: `next` when Pushpin follows the `Grip-Link` of a held stream.
    pub link: Option<String>,
    /// Behind Pushpin, on a held stream's link: the session's own events up to this number
    /// reached Pushpin (the answer that named it arrived), so they are not sent again.
    pub own: Option<u64>,
    /// A signed identity, for clients that cannot send `Authorization` (EventSource).
    pub token: Option<String>,
}

/// The query of `POST /send`.
#[derive(Debug, Deserialize)]
pub struct SendQuery {
    pub session: Option<String>,
    pub token: Option<String>,
}

/// A session found or started for a request, with what the query asked for applied.
pub struct Opened {
    pub http: Arc<HttpSession>,
    /// True when this request started the session.
    pub fresh: bool,
    /// The session's `welcome`: a stream starts with it; a poll only when `fresh`.
    pub welcome: ServerEvent,
    /// Refusals of what the query asked for (a room name that breaks the rules, a cap).
    pub refused: Vec<ServerEvent>,
}

impl Opened {
    pub fn session(&self) -> &Arc<Session> {
        &self.http.session
    }
}

/// A JSON array of events with the given status.
pub fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// One `error` event as a JSON array answer.
pub fn refusal(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    let event = error_event(code, message.into(), None, None);
    json_response(status, format!("[{}]", event.to_json()))
}

/// A refused credential as a JSON array answer with 401.
pub fn unauthorized(event: ErrorEvent) -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        format!("[{}]", ServerEvent::Error(event).to_json()),
    )
}

/// Checks that what the request presents may act as `session`: a signed session's every
/// request carries its user's token (which refreshes when a newer one comes).
fn signed_as(session: &Session, admitted: Admitted) -> Result<Option<Arc<Identity>>, ErrorEvent> {
    let refused = |message: String| ErrorEvent {
        code: ErrorCode::Unauthorized,
        message,
        cid: None,
        event: None,
        suggestion: None,
    };
    match (admitted, session.identity()) {
        (Admitted::Signed(identity), Some(current)) if identity.user != current.user => Err(
            refused(format!("this session belongs to `{}`", current.user)),
        ),
        (Admitted::Signed(identity), _) => {
            session.set_identity(identity.clone());
            Ok(Some(identity))
        }
        (_, Some(current)) => Err(refused(format!(
            "this session belongs to `{}`: present its token",
            current.user
        ))),
        _ => Ok(None),
    }
}

fn names(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where the client says it is, per room or channel: `since`, with a `Last-Event-ID` header
/// winning for the names it carries. One rule for both front doors: through Pushpin an event's
/// id names only its own room, on the built-in server every room; either way the names a
/// header does not carry keep their `since`.
/// Refused with a message naming the bad part.
pub fn resume_points(query: &HttpQuery, headers: &HeaderMap) -> Result<Positions, String> {
    let mut since = match &query.since {
        Some(text) => Positions::parse(text).map_err(|e| format!("since: {e}"))?,
        None => Positions::default(),
    };
    if let Some(last) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        if !last.is_empty() {
            let last = Positions::parse(last).map_err(|e| format!("Last-Event-ID: {e}"))?;
            since.0.extend(last.0);
        }
    }
    Ok(since)
}

/// Finds the session the query names, or starts one, and applies the query: its nick, the
/// rooms to enter and channels to watch (resuming from the resume points), and for names the
/// session already follows, where the client says it is (a client coming back after a lost
/// answer is sent that again).
pub async fn open(
    state: &AppState,
    query: &HttpQuery,
    headers: &HeaderMap,
) -> Result<Opened, Response> {
    let admitted = state
        .admit(headers, query.token.as_deref(), false)
        .map_err(unauthorized)?;
    let since = resume_points(query, headers)
        .map_err(|why| refusal(StatusCode::BAD_REQUEST, ErrorCode::BadField, why))?;
    let rooms = names(query.rooms.as_deref());
    let watch = names(query.watch.as_deref());
    let limit = state.config.max_rooms_per_connection;
    if rooms.len() + watch.len() > limit {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::TooManyRooms,
            format!(
                "the query names {} rooms and channels; the limit is {limit}",
                rooms.len() + watch.len()
            ),
        ));
    }
    let existing = query
        .session
        .as_deref()
        .and_then(|id| state.sessions.get(id))
        .filter(|http| !http.session.outbox.ended().is_cancelled());
    let (http, fresh) = match existing {
        Some(http) => (http, false),
        None => {
            if state.sessions.len() >= state.config.max_http_sessions {
                let mut refused = refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    format!(
                        "this server holds {} HTTP sessions, its limit (max_http_sessions); try again later",
                        state.config.max_http_sessions
                    ),
                );
                refused.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("30"),
                );
                return Err(refused);
            }
            let session = state.start_session(SessionKind::Http).await;
            let http = HttpSession::new(session, state.config.session_ttl());
            state.sessions.insert(http.clone());
            (http, true)
        }
    };
    http.touch(state.config.session_ttl());
    let session = &http.session;
    let signed = signed_as(session, admitted).map_err(unauthorized)?;
    let mut frames = Vec::new();
    // A signed client is its token's nick; hello takes it from there.
    let nick = signed
        .map(|identity| identity.nick.clone())
        .or(query.nick.clone());
    if let Some(nick) = nick {
        frames.push(ClientFrame::Hello(Hello {
            nick,
            client: None,
            takeover: None,
            token: None,
        }));
    }
    session.seek(&since);
    for room in rooms {
        if !session.follows(&room, Role::Viewer) {
            let since = since.get(&room);
            frames.push(ClientFrame::Enter(Enter { room, since }));
        }
    }
    for channel in watch {
        if !session.follows(&channel, Role::Watcher) {
            let since = since.get(&channel);
            frames.push(ClientFrame::Watch(Watch { channel, since }));
        }
    }
    let mut refused = Vec::new();
    for frame in frames {
        refused.extend(client_frame::apply(state, session, frame).await);
    }
    let welcome = state.welcome(session);
    Ok(Opened {
        http,
        fresh,
        welcome,
        refused,
    })
}

/// `POST /send`: frames from an HTTP client, one per line; answers their replies (acks,
/// errors, pongs) as a JSON array.
pub async fn send(
    state: &AppState,
    query: &SendQuery,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Arc<HttpSession>, Vec<ServerEvent>), Response> {
    let admitted = state
        .admit(headers, query.token.as_deref(), false)
        .map_err(unauthorized)?;
    let Some(http) = query
        .session
        .as_deref()
        .and_then(|id| state.sessions.get(id))
    else {
        return Err(refusal(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownSession,
            "no such session (it may have expired): open /stream or /poll without `session` to start a new one",
        ));
    };
    signed_as(&http.session, admitted).map_err(unauthorized)?;
    http.touch(state.config.session_ttl());
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadFrame,
            "request body is not valid UTF-8",
        ));
    };
    let mut replies = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            continue;
        }
        replies.extend(client_frame::handle_text(state, &http.session, line).await);
    }
    Ok((http, replies))
}

/// Replies as the JSON array `/send` answers.
pub fn replies_response(replies: &[ServerEvent]) -> Response {
    let body: Vec<String> = replies.iter().map(ServerEvent::to_json).collect();
    json_response(StatusCode::OK, format!("[{}]", body.join(",")))
}
