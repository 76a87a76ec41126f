//! Numbered events (messages, enters, leaves, channel items) to the consumer: in order, each
//! once, with a hole fetched when ids were skipped. The [`Sequencer`](crate::sequencer)
//! decides; this writes the fetch and turns the event into what the consumer and the monitor
//! see.

use super::Engine;
use crate::events::{ClientEvent, Target};
use crate::liveness::Conn;
use crate::monitor::Record;
use crate::query::Verdict;
use crate::sequencer::{Accept, Order};
use std::time::Instant;
use tack_protocol::chat::ServerEvent;

impl Engine {
    /// Delivers a numbered event in order. An event that skips ids (one was lost on the way:
    /// behind Pushpin a subscription is applied asynchronously, a proxy may drop a frame) is
    /// held, with everything after it, while the hole is fetched — the room entered (or the
    /// channel watched) again from the last id seen; the server's replay ends with `resumed`,
    /// and then the held events follow in id order, duplicates dropped.
    pub(super) async fn sequence(&mut self, conn: &Conn, ev: ServerEvent, received: u64) {
        let Some((target, id)) = numbering(&ev) else {
            return;
        };
        match self.seq.order(&target, id) {
            Order::Seen => {}
            Order::Next => self.deliver(target, ev, received).await,
            Order::Hold => {
                if self.seq.hold(&target, id, ev) {
                    // The replay is not coming (or not soon): stop waiting, say so, go on.
                    let (after_id, held) = self.seq.give_up(&target);
                    self.out.push(ClientEvent::Gap { target, after_id }).await;
                    self.deliver_all(held, received).await;
                }
            }
            Order::Hole => {
                let since = self.seq.start_fill(&target, id, ev);
                tracing::debug!(
                    ?target,
                    ?since,
                    id,
                    "events were skipped; fetching the hole"
                );
                self.write_follow(conn, &target, since).await;
            }
        }
    }

    /// Ends a fill: the held events go out in id order, each once.
    pub(super) async fn deliver_all(&mut self, held: Vec<ServerEvent>, received: u64) {
        for ev in held {
            // Whatever is still missing now is gone from the server's history too, and was
            // marked by `resumed`: no second fetch.
            if let Some((target, _)) = numbering(&ev) {
                self.deliver(target, ev, received).await;
            }
        }
    }

    /// Hands a numbered event to the consumer unless it was already seen.
    async fn deliver(&mut self, target: Target, ev: ServerEvent, received: u64) {
        let Some((_, id)) = ev.position() else {
            return;
        };
        if !self.accept(&target, id).await {
            return;
        }
        match ev {
            ServerEvent::Message(m) => {
                let own = m
                    .cid
                    .as_deref()
                    .is_some_and(|c| self.shared.outbox.lock().is_ours(c));
                let record = Record {
                    channel: m.room.clone(),
                    id: Some(m.id),
                    ts: Some(m.ts),
                    received,
                    user: Some(m.user.clone()),
                    payload: m.comment.clone(),
                    binary: false,
                };
                self.record(&target, &record).await;
                self.shared
                    .monitor
                    .lock()
                    .record(Instant::now(), &target, m.comment.len(), record);
                self.out
                    .push(ClientEvent::Message {
                        room: m.room,
                        id: Some(m.id),
                        user: m.user,
                        comment: m.comment,
                        ts: Some(m.ts),
                        cid: m.cid,
                        own,
                    })
                    .await;
            }
            ServerEvent::Entered(c) => {
                self.out
                    .push(ClientEvent::Entered {
                        room: c.room,
                        id: Some(c.id),
                        user: c.user,
                        viewers: Some(c.viewers),
                        ts: Some(c.ts),
                    })
                    .await;
            }
            ServerEvent::Left(c) => {
                self.out
                    .push(ClientEvent::Left {
                        room: c.room,
                        id: Some(c.id),
                        user: c.user,
                        viewers: Some(c.viewers),
                        ts: Some(c.ts),
                    })
                    .await;
            }
            ServerEvent::NickChanged(c) => {
                self.out
                    .push(ClientEvent::NickChanged {
                        room: c.room,
                        id: Some(c.id),
                        user: c.user,
                        nick: c.nick,
                        ts: Some(c.ts),
                    })
                    .await;
            }
            ServerEvent::Raw(r) => {
                let decoded = if r.binary {
                    decoded_len(&r.payload)
                } else {
                    r.payload.len()
                };
                let record = Record {
                    channel: r.channel.clone(),
                    id: Some(r.id),
                    ts: Some(r.ts),
                    received,
                    user: None,
                    payload: r.payload.clone(),
                    binary: r.binary,
                };
                self.record(&target, &record).await;
                self.shared
                    .monitor
                    .lock()
                    .record(Instant::now(), &target, decoded, record);
                let query = self.judge(&r.payload, r.binary);
                self.out
                    .push(ClientEvent::Raw {
                        channel: r.channel,
                        id: Some(r.id),
                        ts: Some(r.ts),
                        payload: r.payload,
                        query,
                        binary: r.binary,
                        size: decoded as u32,
                        received,
                    })
                    .await;
            }
            _ => {}
        }
    }

    /// Hands an item to the recording in progress when it records `target`. A full buffer
    /// makes the engine wait for the disk rather than hold items without bound.
    async fn record(&self, target: &Target, record: &Record) {
        let tap = self
            .shared
            .recorder
            .lock()
            .as_ref()
            .and_then(|r| r.tap(target));
        if let Some(tap) = tap {
            // Stopped meanwhile: the item is simply not recorded.
            let _ = tap.send(record.clone()).await;
        }
    }

    /// What the monitor's jq query (if one is set) makes of a channel item. It runs here, on
    /// the engine's task, for every item: a consumer sent only a sample (the window, at
    /// extreme rates) would otherwise miss matches, and a window that evaluated jq itself
    /// would fall behind.
    pub(super) fn judge(&self, payload: &str, binary: bool) -> Option<Verdict> {
        let query = self.shared.query.lock().current.clone()?;
        Some(query.judge(payload, binary))
    }

    /// Accepts a numbered event of a room or channel unless it was already seen; emits a `Gap`
    /// there first when ids were skipped since the resume point.
    async fn accept(&mut self, target: &Target, id: u64) -> bool {
        let Accept::Deliver { gap_after } = self.seq.accept(target, id) else {
            return false;
        };
        if let Some(since) = gap_after {
            self.out
                .push(ClientEvent::Gap {
                    target: target.clone(),
                    after_id: Some(since),
                })
                .await;
        }
        true
    }
}

/// The room or channel of a numbered event, and its id: a channel's items are `raw`, a room's
/// are chat (messages, enters, leaves).
fn numbering(ev: &ServerEvent) -> Option<(Target, u64)> {
    let (name, id) = ev.position()?;
    let target = match ev {
        ServerEvent::Raw(_) => Target::Channel(name.to_owned()),
        _ => Target::Room(name.to_owned()),
    };
    Some((target, id))
}

/// Bytes in a base64 payload once decoded.
fn decoded_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|b| *b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(pad)
}
