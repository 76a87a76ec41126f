//! What happens to a client frame.
//!
//! Every frame a client sends — over a WebSocket, `/send`, the query of `/stream` and `/poll`,
//! on the built-in server or through Pushpin — goes through [`apply`]. The front doors differ
//! only in how frames arrive and how events leave; every rule about what a frame may do is
//! written here once.

use crate::error::HubError;
use crate::session::{Role, Session};
use crate::state::AppState;
use tack_protocol::chat::{Ack, ClientFrame, ErrorEvent, FrameError, Pong, ServerEvent};
use tack_protocol::ErrorCode;

/// An `error` event answering `event`.
pub fn error_event(
    code: ErrorCode,
    message: String,
    cid: Option<String>,
    event: Option<&str>,
) -> ServerEvent {
    ServerEvent::Error(ErrorEvent {
        code,
        message,
        cid,
        event: event.map(str::to_owned),
    })
}

/// The `error` event for a frame that could not be parsed.
pub fn frame_error(err: &FrameError) -> ServerEvent {
    error_event(err.code(), err.to_string(), None, err.event())
}

fn hub_error(err: HubError, cid: Option<String>, event: &str) -> ServerEvent {
    error_event(err.code(), err.to_string(), cid, Some(event))
}

/// Parses and applies one client frame; the immediate reply, if any.
pub async fn handle_text(state: &AppState, session: &Session, text: &str) -> Option<ServerEvent> {
    state.metrics.message_in();
    match ClientFrame::parse(text) {
        Ok(frame) => apply(state, session, frame).await,
        Err(err) => Some(frame_error(&err)),
    }
}

/// Applies one client frame. What others see goes through the hub; what this client gets for
/// it (presence, replays) goes to its own events; what is returned is the reply to this frame
/// alone: ack, error or pong.
pub async fn apply(state: &AppState, session: &Session, frame: ClientFrame) -> Option<ServerEvent> {
    if let Err(err) = frame.validate() {
        return Some(frame_error(&err));
    }
    let event = frame.name();
    let hub = state.hub.as_ref();
    match frame {
        ClientFrame::Hello(hello) => {
            if let Some(old) = &hello.takeover {
                state.take_over(session, old);
            }
            session.set_nick(&hello.nick);
            session.greet();
            None
        }
        ClientFrame::Ping(ping) => Some(ServerEvent::Pong(Pong { t: ping.t })),
        ClientFrame::Enter(enter) => {
            if !session.follows(&enter.room, Role::Viewer) {
                if let Some(refusal) = room_cap(session, event) {
                    return Some(refusal);
                }
            }
            match hub.enter(&enter.room, &session.member(), enter.since).await {
                Ok(joined) => {
                    session.follow(Role::Viewer, joined);
                    None
                }
                Err(err) => Some(hub_error(err, None, event)),
            }
        }
        ClientFrame::Leave(leave) => {
            if !session.unfollow(&leave.room, Role::Viewer) {
                return Some(error_event(
                    ErrorCode::NotInRoom,
                    format!("you are not in room `{}`", leave.room),
                    None,
                    Some(event),
                ));
            }
            match hub.leave(&leave.room, &session.member()).await {
                Ok(_) => None,
                Err(err) => Some(hub_error(err, None, event)),
            }
        }
        ClientFrame::Message(msg) => {
            if !session.rate.lock().allow() {
                return Some(error_event(
                    ErrorCode::RateLimited,
                    format!(
                        "too many messages: at most {} a second; this one was not sent",
                        session.limits.messages_per_second
                    ),
                    msg.cid,
                    Some(event),
                ));
            }
            let cid = msg.cid.clone();
            match hub
                .message(&msg.room, &session.member(), msg.comment, msg.cid)
                .await
            {
                Ok(sent) => cid.map(|cid| {
                    ServerEvent::Ack(Ack {
                        cid,
                        id: sent.id,
                        room: msg.room,
                    })
                }),
                Err(err) => Some(hub_error(err, cid, event)),
            }
        }
        ClientFrame::Watch(watch) => {
            if !session.follows(&watch.channel, Role::Watcher) {
                if let Some(refusal) = room_cap(session, event) {
                    return Some(refusal);
                }
            }
            match hub.watch(&watch.channel, watch.since).await {
                Ok(joined) => {
                    session.follow(Role::Watcher, joined);
                    None
                }
                Err(err) => Some(hub_error(err, None, event)),
            }
        }
        ClientFrame::Unwatch(unwatch) => {
            if session.unfollow(&unwatch.channel, Role::Watcher) {
                hub.unwatch(&unwatch.channel).await;
            }
            None
        }
    }
}

fn room_cap(session: &Session, event: &str) -> Option<ServerEvent> {
    let joined = session.following();
    let limit = session.limits.max_rooms;
    (joined >= limit).then(|| {
        error_event(
            ErrorCode::TooManyRooms,
            format!(
                "already in {joined} rooms and channels; the limit is {limit}: leave one first"
            ),
            None,
            Some(event),
        )
    })
}
