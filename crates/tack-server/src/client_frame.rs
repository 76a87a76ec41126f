//! What happens to a client frame.
//!
//! Every frame a client sends — over a WebSocket, `/send`, the query of `/stream` and `/poll`,
//! on the built-in server or through Pushpin — goes through [`apply`]. The front doors differ
//! only in how frames arrive and how events leave; every rule about what a frame may do is
//! written here once.

use crate::error::HubError;
use crate::hub::SessionKey;
use crate::session::{Role, Session};
use crate::state::AppState;
use tack_protocol::chat::{
    normalize_nick, Ack, ClientFrame, ErrorEvent, FrameError, Pong, ServerEvent, MAX_NICK_LEN,
};
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
        suggestion: None,
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
                state.take_over(session, old).await;
            }
            session.greet();
            rename(state, session, &normalize_nick(&hello.nick)).await
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

/// Gives `session` the nick `nick` unless another live session holds it; every room it is in
/// hears of the change, so presence and messages never disagree about who is who.
async fn rename(state: &AppState, session: &Session, nick: &str) -> Option<ServerEvent> {
    let old = session.nick();
    if *old == *nick {
        return None;
    }
    let key = session.key();
    match state.hub.claim_nick(nick, key).await {
        Ok(true) => {}
        Ok(false) => {
            let mut refusal = error_event(
                ErrorCode::NickTaken,
                format!("the nick `{nick}` is in use; you are still `{old}`"),
                None,
                Some("hello"),
            );
            if let ServerEvent::Error(e) = &mut refusal {
                e.suggestion = free_variant(state, nick, key).await;
            }
            return Some(refusal);
        }
        Err(err) => return Some(hub_error(err, None, "hello")),
    }
    if old.to_lowercase() != nick.to_lowercase() {
        state.hub.release_nick(&old, key).await;
    }
    session.set_nick(nick);
    let member = session.member();
    for room in session.rooms() {
        if let Err(err) = state.hub.rename(&room, &member, &old).await {
            tracing::warn!(%room, %err, "could not announce a nick change");
        }
    }
    None
}

/// A nick like `nick` that nobody holds right now: `ann2` … `ann9`, then `ann-` and three
/// random digits.
async fn free_variant(state: &AppState, nick: &str, key: SessionKey) -> Option<String> {
    let room_for = |suffix: &str| {
        let keep = MAX_NICK_LEN.saturating_sub(suffix.chars().count());
        let base: String = nick.chars().take(keep).collect();
        format!("{}{suffix}", base.trim_end())
    };
    let numbered = (2..=9).map(|n| room_for(&n.to_string()));
    let random = (0..4).map(|_| room_for(&format!("-{:03}", rand::random::<u16>() % 1000)));
    for candidate in numbered.chain(random) {
        // Claimed and let go at once: free when asked, not reserved.
        if let Ok(true) = state.hub.claim_nick(&candidate, key).await {
            state.hub.release_nick(&candidate, key).await;
            return Some(candidate);
        }
    }
    None
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
