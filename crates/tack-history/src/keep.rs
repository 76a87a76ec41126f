//! Engine events → store entries ([`Keeper`]).
//!
//! The engine's events carry ids but not the numbering they count in: the server names its
//! epoch once, in the `Server` event at each welcome, and everything after counts in it. The
//! keeper remembers it, and for each place the epoch of the last entry it kept there (asking
//! the store the first time it meets a place), so an entry in a new numbering is preceded by a
//! `Renumbered` marker, and the engine's `Gap` at a renumbering (the server restarted) becomes
//! that marker rather than a gap nothing could ever fill.
//!
//! Presence snapshots, connection states and the outbox are not history: our own messages are
//! kept when the server broadcasts them, with their id, like everyone else's.

use base64::Engine as _;
use std::collections::HashMap;
use tack_client::events::{ClientEvent, Target};
use tack_store::{Body, Entry, Payload, Place};

/// Turns one server's engine events into the entries the store keeps.
pub struct Keeper<L> {
    server: String,
    /// The server's numbering, from its last welcome.
    epoch: Option<String>,
    /// The numbering of events that come without ids or epoch (original-system servers): this
    /// run's own, counted here per place.
    own_epoch: String,
    own_ids: HashMap<Place, u64>,
    /// Per place, the epoch of the last entry kept there (`None`: nothing kept).
    known: HashMap<Place, Option<String>>,
    /// The epoch of the newest entry the store holds for a place, asked once per place.
    stored_epoch: L,
}

impl<L: FnMut(&Place) -> Option<String>> Keeper<L> {
    /// `own_epoch` names this run's numbering for events without ids; it must differ from one
    /// run to the next (the launch time will do).
    pub fn new(server: impl Into<String>, own_epoch: impl Into<String>, stored_epoch: L) -> Self {
        Keeper {
            server: server.into(),
            epoch: None,
            own_epoch: own_epoch.into(),
            own_ids: HashMap::new(),
            known: HashMap::new(),
            stored_epoch,
        }
    }

    /// The entries `event` adds to the history, appended to `out`.
    pub fn keep(&mut self, event: &ClientEvent, out: &mut Vec<Entry>) {
        let now = now_ms;
        match event {
            ClientEvent::Server(info) => self.epoch = info.epoch.clone(),
            ClientEvent::Message {
                room,
                id,
                user,
                comment,
                ts,
                ..
            } => self.event(
                Place::Room(room.clone()),
                *id,
                ts.unwrap_or_else(now),
                Body::Message {
                    nick: user.clone(),
                    comment: comment.clone(),
                },
                out,
            ),
            ClientEvent::Entered {
                room, id, user, ts, ..
            } => self.event(
                Place::Room(room.clone()),
                *id,
                ts.unwrap_or_else(now),
                Body::Entered { nick: user.clone() },
                out,
            ),
            ClientEvent::Left {
                room, id, user, ts, ..
            } => self.event(
                Place::Room(room.clone()),
                *id,
                ts.unwrap_or_else(now),
                Body::Left { nick: user.clone() },
                out,
            ),
            ClientEvent::NickChanged {
                room,
                id,
                user,
                nick,
                ts,
            } => self.event(
                Place::Room(room.clone()),
                *id,
                ts.unwrap_or_else(now),
                Body::NickChanged {
                    nick: user.clone(),
                    new_nick: nick.clone(),
                },
                out,
            ),
            ClientEvent::Raw {
                channel,
                id,
                ts,
                payload,
                binary,
                received,
                ..
            } => self.event(
                Place::Channel(channel.clone()),
                *id,
                ts.unwrap_or(*received),
                Body::Item {
                    payload: item_payload(payload, *binary),
                },
                out,
            ),
            ClientEvent::Gap { target, after_id } => {
                let place = place_of(target);
                let Some(epoch) = self.epoch.clone() else {
                    // Without a numbering there is nothing to fill it with later.
                    return;
                };
                if self.renumbered(&place, &epoch) {
                    out.push(self.entry(place.clone(), epoch.clone(), 0, now(), Body::Renumbered));
                    self.known.insert(place, Some(epoch));
                    return;
                }
                let id = after_id.unwrap_or(0);
                out.push(self.entry(place, epoch, id, now(), Body::Gap { before: None }));
            }
            _ => {}
        }
    }

    fn event(&mut self, place: Place, id: Option<u64>, at: u64, body: Body, out: &mut Vec<Entry>) {
        let (epoch, id) = match (id, &self.epoch) {
            (Some(id), Some(epoch)) => (epoch.clone(), id),
            _ => {
                let counter = self.own_ids.entry(place.clone()).or_insert(0);
                *counter += 1;
                (self.own_epoch.clone(), *counter)
            }
        };
        if self.renumbered(&place, &epoch) {
            out.push(self.entry(place.clone(), epoch.clone(), 0, at, Body::Renumbered));
        }
        self.known.insert(place.clone(), Some(epoch.clone()));
        out.push(self.entry(place, epoch, id, at, body));
    }

    /// True when what is kept of `place` counts in another numbering than `epoch`.
    fn renumbered(&mut self, place: &Place, epoch: &str) -> bool {
        let stored_epoch = &mut self.stored_epoch;
        let known = self
            .known
            .entry(place.clone())
            .or_insert_with(|| stored_epoch(place));
        known.as_deref().is_some_and(|known| known != epoch)
    }

    fn entry(&self, place: Place, epoch: String, id: u64, at: u64, body: Body) -> Entry {
        Entry {
            server: self.server.clone(),
            place,
            epoch,
            id,
            at,
            body,
        }
    }
}

/// The engine carries binary items base64-encoded; the store keeps their bytes.
fn item_payload(payload: &str, binary: bool) -> Payload {
    if binary {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(payload) {
            return Payload::Binary(bytes);
        }
    }
    Payload::Text(payload.to_owned())
}

pub fn place_of(target: &Target) -> Place {
    match target {
        Target::Room(name) => Place::Room(name.clone()),
        Target::Channel(name) => Place::Channel(name.clone()),
    }
}

pub fn target_of(place: &Place) -> Target {
    match place {
        Place::Room(name) => Target::Room(name.clone()),
        Place::Channel(name) => Target::Channel(name.clone()),
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
