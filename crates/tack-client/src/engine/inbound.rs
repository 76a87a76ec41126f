//! One frame from the server: numbered events go to sequencing, the rest (welcome, presence,
//! acks, errors, resumed, pongs, an original-system broadcast) is handled here.

use super::{now_ms, Engine, Step, UNAVAILABLE_WAIT_MAX, UNAVAILABLE_WAIT_MIN};
use crate::error::LinkError;
use crate::events::{ClientEvent, SendState, Target};
use crate::liveness::Conn;
use crate::monitor::Record;
use crate::transport::Dial;
use std::time::{Duration, Instant};
use tack_protocol::chat::{decode_legacy_comment, ServerEvent, ServerFrame};
use tack_protocol::ErrorCode;

impl Engine {
    pub(super) async fn on_frame(
        &mut self,
        conn: &mut Conn,
        frame: ServerFrame,
        dial: &Dial,
    ) -> Option<Step> {
        let received = now_ms();
        let frame = match frame {
            ServerFrame::Event(ev) if ev.position().is_some() => {
                self.sequence(conn, ev, received).await;
                return None;
            }
            other => other,
        };
        match frame {
            ServerFrame::Event(ev) => match ev {
                ServerEvent::Welcome(w) => {
                    // A new server session on the same link (a poll session expired): resume.
                    conn.link.welcome = Some(w);
                    conn.legacy = false;
                    conn.answers_pings = true;
                    self.on_connected(conn, dial).await;
                }
                ServerEvent::Presence(p) => {
                    let room = Target::Room(p.room.clone());
                    self.seq.anchor(&room, p.last_id);
                    if self.seq.follows(&room) {
                        // Re-entered only to fetch a hole: still the same stay in the room.
                        if !self.seq.is_filling(&room) {
                            self.out
                                .push(ClientEvent::Joined {
                                    room: p.room.clone(),
                                })
                                .await;
                        }
                        self.out
                            .push(ClientEvent::Presence {
                                room: p.room,
                                viewers: p.viewers,
                                users: p.users,
                            })
                            .await;
                    }
                }
                ServerEvent::Ack(a) => {
                    self.unavailable_wait = UNAVAILABLE_WAIT_MIN;
                    let item = self.shared.outbox.lock().acked(&a.cid);
                    if let Some(item) = item {
                        self.emit_send(item, SendState::Sent { id: Some(a.id) })
                            .await;
                    }
                }
                ServerEvent::Error(e) => {
                    if e.code == ErrorCode::UnknownSession {
                        return Some(Step::Failed(LinkError::Other(
                            "the server forgot this session; reconnecting".into(),
                        )));
                    }
                    if e.code == ErrorCode::Unavailable {
                        // The server could not reach the store it shares with other servers:
                        // nothing was done. A message stays pending and is written again (its
                        // cid makes it land once); anything else — an enter, a watch — is
                        // redone by reconnecting, which resumes every room.
                        let Some(cid) = e.cid else {
                            return Some(Step::Failed(LinkError::Other(format!(
                                "{}; reconnecting",
                                e.message
                            ))));
                        };
                        if self.shared.outbox.lock().unwritten(&cid) {
                            let wait = self.unavailable_wait;
                            self.unavailable_wait = (wait * 2).min(UNAVAILABLE_WAIT_MAX);
                            self.outbox_retry
                                .get_or_insert_with(|| tokio::time::Instant::now() + wait);
                        }
                        return None;
                    }
                    let failed = e
                        .cid
                        .as_deref()
                        .and_then(|cid| self.shared.outbox.lock().failed(cid));
                    let room = failed.as_ref().map(|i| i.room.clone());
                    if let Some(item) = failed {
                        self.emit_send(
                            item,
                            SendState::Failed {
                                reason: e.message.clone(),
                            },
                        )
                        .await;
                    }
                    self.out
                        .push(ClientEvent::Error {
                            code: e.code.to_string(),
                            message: e.message,
                            room,
                            suggestion: e.suggestion,
                        })
                        .await;
                }
                ServerEvent::Resumed(r) => {
                    let target = match (r.room, r.channel) {
                        (Some(room), _) => Target::Room(room),
                        (None, Some(channel)) => Target::Channel(channel),
                        (None, None) => return None,
                    };
                    // Still waiting for a first event after `since`: nothing was replayed, so
                    // the marker goes here. Otherwise `accept` has placed it already.
                    let waiting = self.seq.resumed(&target, r.since, r.last_id);
                    // The replay of a hole being fetched is complete.
                    let held = self.seq.release(&target);
                    if !r.recovered && waiting {
                        self.out
                            .push(ClientEvent::Gap {
                                target,
                                after_id: Some(r.since),
                            })
                            .await;
                    }
                    self.deliver_all(held, received).await;
                }
                // Handled by `sequence` above.
                ServerEvent::Message(_)
                | ServerEvent::Entered(_)
                | ServerEvent::Left(_)
                | ServerEvent::NickChanged(_)
                | ServerEvent::Raw(_) => {}
                ServerEvent::Pong(p) => {
                    conn.answers_pings = true;
                    if let Some(t) = p.t {
                        self.rtt = Some(Duration::from_millis(received.saturating_sub(t)));
                    }
                }
            },
            ServerFrame::LegacyBroadcast { room, comment } => {
                let text = decode_legacy_comment(&comment);
                let record = Record {
                    channel: room.clone(),
                    id: None,
                    ts: None,
                    received,
                    user: None,
                    payload: text.clone(),
                    binary: false,
                };
                let as_room = Target::Room(room.clone());
                let as_channel = Target::Channel(room.clone());
                if self.seq.follows(&as_room) {
                    self.shared
                        .monitor
                        .lock()
                        .record(Instant::now(), &as_room, text.len(), record);
                    self.out
                        .push(ClientEvent::Message {
                            room,
                            id: None,
                            user: String::new(),
                            comment: text,
                            ts: None,
                            cid: None,
                            own: false,
                        })
                        .await;
                } else if self.seq.follows(&as_channel) {
                    self.shared.monitor.lock().record(
                        Instant::now(),
                        &as_channel,
                        text.len(),
                        record,
                    );
                    self.out
                        .push(ClientEvent::Raw {
                            channel: room,
                            id: None,
                            ts: None,
                            size: text.len() as u32,
                            query: self.judge(&text, false),
                            payload: text,
                            binary: false,
                            received,
                        })
                        .await;
                }
            }
            ServerFrame::LegacySubscribed => {}
        }
        None
    }
}
