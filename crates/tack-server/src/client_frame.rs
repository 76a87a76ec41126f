//! What happens to a client frame.
//!
//! Every frame a client sends — over a WebSocket, `/send`, the query of `/stream` and `/poll`,
//! on the built-in server or through Pushpin — goes through [`apply`]. The front doors differ
//! only in how frames arrive and how events leave; every rule about what a frame may do is
//! written here once.

use crate::error::HubError;
use crate::hub::SessionKey;
use crate::identity::Identity;
use crate::session::{Role, Session};
use crate::state::identity_refusal;
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
        Err(err) => {
            let refused = frame_error(&err);
            if let ServerEvent::Error(e) = &refused {
                state.metrics.frame_refused(&e.code);
            }
            Some(refused)
        }
    }
}

/// Applies one client frame. What others see goes through the hub; what this client gets for
/// it (presence, replays) goes to its own events; what is returned is the reply to this frame
/// alone: ack, error or pong.
pub async fn apply(state: &AppState, session: &Session, frame: ClientFrame) -> Option<ServerEvent> {
    let reply = apply_frame(state, session, frame).await;
    if let Some(ServerEvent::Error(refused)) = &reply {
        state.metrics.frame_refused(&refused.code);
    }
    reply
}

async fn apply_frame(
    state: &AppState,
    session: &Session,
    frame: ClientFrame,
) -> Option<ServerEvent> {
    if let Err(err) = frame.validate() {
        return Some(frame_error(&err));
    }
    let event = frame.name();
    let hub = state.hub.as_ref();
    if let Some(refusal) = signed_in(state, session, &frame) {
        return Some(refusal);
    }
    if let Some(refusal) = room_change_budget(session, &frame) {
        return Some(refusal);
    }
    match frame {
        ClientFrame::Hello(hello) => {
            if let Some(old) = &hello.takeover {
                state.take_over(session, old).await;
            }
            session.greet();
            // Who holds the current nick: signing in moves the nick to the signed user.
            let holder = session.nick_owner();
            let wanted = match hello.token.as_deref() {
                Some(token) => match sign_in(state, session, token) {
                    Ok(nick) => nick,
                    Err(refusal) => return Some(refusal),
                },
                None => match session.identity() {
                    // A signed client's nick is its token's; what hello says is not asked.
                    Some(identity) => identity.nick.clone(),
                    None if state.verifier.is_some() && *session.nick() != *hello.nick => {
                        return Some(error_event(
                            ErrorCode::Forbidden,
                            "anonymous clients keep the nick they were given: sign in (hello with a token) to choose one".into(),
                            None,
                            Some(event),
                        ))
                    }
                    None => normalize_nick(&hello.nick),
                },
            };
            rename(state, session, &wanted, holder).await
        }
        ClientFrame::Ping(ping) => Some(ServerEvent::Pong(Pong { t: ping.t })),
        ClientFrame::Enter(enter) => {
            if let Some(refusal) = may_write(state, session, &enter.room, event, None) {
                return Some(refusal);
            }
            if let Some(refusal) =
                permitted(session, event, &enter.room, |i, room| i.may_enter(room))
            {
                return Some(refusal);
            }
            if !session.follows(&enter.room, Role::Viewer) {
                if let Some(refusal) = room_cap(session, event) {
                    return Some(refusal);
                }
            }
            if let Some(refusal) = channel_cap(state, &enter.room, event) {
                return Some(refusal);
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
            if let Some(refusal) = may_write(state, session, &msg.room, event, msg.cid.clone()) {
                return Some(refusal);
            }
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
            if let Some(message) = crate::server_channels::watch_refusal(
                state,
                session.identity().as_deref(),
                &watch.channel,
            ) {
                return Some(error_event(
                    ErrorCode::Forbidden,
                    message,
                    None,
                    Some(event),
                ));
            }
            if let Some(refusal) = permitted(session, event, &watch.channel, |i, channel| {
                i.may_watch(channel)
            }) {
                return Some(refusal);
            }
            if !session.follows(&watch.channel, Role::Watcher) {
                if let Some(refusal) = room_cap(session, event) {
                    return Some(refusal);
                }
            }
            if let Some(refusal) = channel_cap(state, &watch.channel, event) {
                return Some(refusal);
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

/// Refuses a room change (enter, leave, watch, unwatch, hello) past the session's budget:
/// every enter and leave is heard by the whole room, so one client's loop of them would be
/// every member's traffic.
fn room_change_budget(session: &Session, frame: &ClientFrame) -> Option<ServerEvent> {
    if matches!(frame, ClientFrame::Ping(_) | ClientFrame::Message(_)) {
        return None;
    }
    if session.room_changes.lock().allow() {
        return None;
    }
    Some(error_event(
        ErrorCode::RateLimited,
        format!(
            "too many room changes: at most {} a second (room_changes_per_second); this `{}` was not applied",
            session.limits.room_changes_per_second,
            frame.name()
        ),
        None,
        Some(frame.name()),
    ))
}

/// Refuses making a new channel when the server holds as many as `max_channels`.
fn channel_cap(state: &AppState, name: &str, event: &str) -> Option<ServerEvent> {
    over_channel_cap(state, name)
        .map(|message| error_event(ErrorCode::TooManyChannels, message, None, Some(event)))
}

/// Why following or publishing to `name` would make one channel too many, if it would.
pub fn over_channel_cap(state: &AppState, name: &str) -> Option<String> {
    let hub = state.hub.as_ref();
    if hub.holds(name) || hub.channel_count() < state.config.max_channels {
        return None;
    }
    Some(format!(
        "this server holds {} rooms and channels, its limit (max_channels); `{name}` would be a new one",
        state.config.max_channels
    ))
}

/// Refuses every frame but `hello` and `ping` from a client that must sign in and has not, or
/// whose token has expired.
fn signed_in(state: &AppState, session: &Session, frame: &ClientFrame) -> Option<ServerEvent> {
    if matches!(frame, ClientFrame::Hello(_) | ClientFrame::Ping(_)) {
        return None;
    }
    let event = Some(frame.name());
    match session.identity() {
        Some(identity) if identity.expired() => Some(error_event(
            ErrorCode::TokenExpired,
            "your token has expired: send hello with a fresh one".into(),
            None,
            event,
        )),
        Some(_) => None,
        None if state.verifier.is_some() && !state.config.allow_anonymous => Some(error_event(
            ErrorCode::Unauthorized,
            "this server needs a signed token: send hello with one first".into(),
            None,
            event,
        )),
        None => None,
    }
}

/// Verifies `token` and makes `session` its user's; the nick it gives.
fn sign_in(state: &AppState, session: &Session, token: &str) -> Result<String, ServerEvent> {
    let Some(verifier) = &state.verifier else {
        return Err(error_event(
            ErrorCode::BadField,
            "this server does not use signed tokens: send hello without one".into(),
            None,
            Some("hello"),
        ));
    };
    let identity = verifier
        .verify(token)
        .map_err(|err| ServerEvent::Error(identity_refusal(err)))?;
    if let Some(current) = session.identity() {
        if current.user != identity.user {
            return Err(error_event(
                ErrorCode::Unauthorized,
                format!(
                    "this connection is signed in as `{}`; connect again to sign in as someone else",
                    current.user
                ),
                None,
                Some("hello"),
            ));
        }
    }
    let nick = normalize_nick(&identity.nick);
    session.set_identity(std::sync::Arc::new(identity));
    Ok(nick)
}

/// Refuses writing into `room` — entering it as a viewer (which announces the viewer) or
/// sending to it — when it is one of the server's own channels, a read-only feed, or the
/// client's token does not allow it.
fn may_write(
    state: &AppState,
    session: &Session,
    room: &str,
    event: &str,
    cid: Option<String>,
) -> Option<ServerEvent> {
    if let Some(message) = crate::server_channels::write_refusal(room) {
        return Some(error_event(ErrorCode::Forbidden, message, cid, Some(event)));
    }
    if state.is_read_only(room) {
        return Some(error_event(
            ErrorCode::ReadOnly,
            format!("`{room}` is a read-only feed: watch it instead (read_only setting)"),
            cid,
            Some(event),
        ));
    }
    if event == "chatMessage" {
        return permitted(session, event, room, |i, room| i.may_write(room));
    }
    None
}

/// Refuses `name` when the client's signed token does not allow it by `allows`.
fn permitted(
    session: &Session,
    event: &str,
    name: &str,
    allows: impl Fn(&Identity, &str) -> bool,
) -> Option<ServerEvent> {
    let identity = session.identity()?;
    (!allows(&identity, name)).then(|| {
        error_event(
            ErrorCode::Forbidden,
            format!("your token does not allow `{event}` for `{name}`"),
            None,
            Some(event),
        )
    })
}

/// Gives `session` the nick `nick` unless another live session holds it; every room it is in
/// hears of the change, so presence and messages never disagree about who is who.
async fn rename(
    state: &AppState,
    session: &Session,
    nick: &str,
    holder: SessionKey,
) -> Option<ServerEvent> {
    let old = session.nick();
    let key = session.nick_owner();
    if *old == *nick && holder == key {
        return None;
    }
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
    if old.to_lowercase() != nick.to_lowercase() || holder != key {
        state.hub.release_nick(&old, holder).await;
    }
    if *old == *nick {
        return None;
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
