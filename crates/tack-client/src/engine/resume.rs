//! After a connection (or a new server session on it) is ready: hello, every room re-entered
//! and every channel re-watched from the last id seen, the outbox written again. Also how a
//! single enter or watch is written, since fetching a hole is one of those.

use super::Engine;
use crate::choose;
use crate::events::{ClientEvent, ConnectionStatus, SendState, ServerInfo, Target};
use crate::liveness::Conn;
use crate::profile::{Transport, TransportChoice};
use crate::transport::Dial;
use tack_protocol::chat::{ClientFrame, Enter, Hello, Leave, SendMessage, Unwatch, Watch};

impl Engine {
    /// A connection (or a new server session on it) is ready: say who we are and resume.
    pub(super) async fn on_connected(&mut self, conn: &mut Conn, dial: &Dial) {
        self.ever_connected = true;
        // Held events of the old connection are replayed by the resume below.
        self.seq.connection_changed();
        self.reported = None;
        self.shared.outbox.lock().connection_changed();
        let epoch = conn.link.welcome.as_ref().and_then(|w| w.epoch.clone());
        if let (None, Some(w)) = (&self.profile.nick, &conn.link.welcome) {
            // Keep the nick the server picked for us: after a reconnect (or a server restart)
            // we say hello with it, so the user stays the same person in every room.
            self.profile.nick = Some(w.nick.clone());
        }
        let info = match &conn.link.welcome {
            Some(w) => ServerInfo {
                nick: self.profile.nick.clone().unwrap_or_else(|| w.nick.clone()),
                server: w.server.clone(),
                resume: true,
                acks: true,
                epoch: epoch.clone(),
            },
            None => ServerInfo {
                nick: self.profile.nick.clone().unwrap_or_default(),
                server: "legacy".into(),
                resume: false,
                acks: false,
                epoch: None,
            },
        };
        // The server (and its epoch) first: a consumer keeping history files the gaps below
        // under the numbering they belong to.
        self.out.push(ClientEvent::Server(info)).await;
        self.seeds_checked(epoch.as_deref()).await;
        if let Some(epoch) = epoch {
            self.renumbered(epoch).await;
        }
        self.resume(conn).await;
        let transport = conn.link.transport;
        if self.profile.transport == TransportChoice::Auto
            && choose::remember(&dial.endpoint.key(), transport)
        {
            if let Some(path) = &self.opts.transport_memory {
                choose::save(path);
            }
        }
        let degraded = transport != Transport::Ws && dial.endpoint.has_http();
        let mut ev = self.state(ConnectionStatus::Connected, Some(transport), None);
        if let ClientEvent::State(s) = &mut ev {
            s.degraded = degraded && self.profile.transport == TransportChoice::Auto;
            if s.degraded {
                s.reason = Some(format!(
                    "WebSocket is unavailable; using {}",
                    if transport == Transport::Stream {
                        "HTTP streaming"
                    } else {
                        "long-polling"
                    }
                ));
            }
        }
        self.out.push(ev).await;
        self.out.flush().await;
    }

    /// A welcome named the server's numbering `epoch`. When it differs from the last one, the
    /// server counts from scratch: every resume point is void, so rooms and channels resume
    /// from the start of what the server has, after a `Gap` marker where ours ended.
    async fn renumbered(&mut self, epoch: String) {
        let changed = self.epoch.as_ref().is_some_and(|old| *old != epoch);
        self.epoch = Some(epoch);
        if !changed {
            return;
        }
        for (target, seen) in self.seq.renumber() {
            self.out
                .push(ClientEvent::Gap {
                    target,
                    after_id: Some(seen),
                })
                .await;
        }
    }

    /// The first welcome after [`Session::enter_from`](crate::Session::enter_from) (and
    /// `watch_from`) seeded positions: a seed from another epoch says nothing about this
    /// numbering, so that room resumes from the start of what the server has, after a `Gap`
    /// where the stored history ended. A server without epochs never resumes: seeds go.
    async fn seeds_checked(&mut self, epoch: Option<&str>) {
        for (target, (seed_epoch, last_id)) in std::mem::take(&mut self.seeded) {
            if !self.seq.follows(&target) {
                continue;
            }
            match epoch {
                Some(now) if now == seed_epoch => {}
                Some(_) => {
                    self.seq.reseed_from_start(&target);
                    self.out
                        .push(ClientEvent::Gap {
                            target,
                            after_id: Some(last_id),
                        })
                        .await;
                }
                None => self.seq.unseed(&target),
            }
        }
    }

    /// Re-enters every room and re-watches every channel from the last id seen, then writes
    /// the outbox again.
    async fn resume(&mut self, conn: &mut Conn) {
        let session = conn.link.welcome.as_ref().map(|w| w.session.clone());
        // Whatever carried the last session — a stream, a poll, or a WebSocket the server may
        // not yet know is gone — the new one takes it over: one viewer all along, same nick.
        let takeover = self
            .previous_session
            .take()
            .filter(|old| Some(old) != session.as_ref());
        self.previous_session = session;
        if let (Some(nick), false) = (&self.profile.nick, conn.legacy) {
            // First, before any enter: the server only hands over rooms to a session that has
            // not joined any itself.
            conn.write(ClientFrame::Hello(Hello {
                nick: nick.clone(),
                client: Some(concat!("tack/", env!("CARGO_PKG_VERSION")).into()),
                takeover,
                token: None,
            }));
        }
        for (target, since) in self.seq.resume_points() {
            self.write_follow(conn, &target, since).await;
        }
        self.write_outbox(conn).await;
    }

    /// Enters a room or watches a channel, from `since` when given (a resume, or fetching a
    /// hole).
    pub(super) async fn write_follow(&mut self, conn: &Conn, target: &Target, since: Option<u64>) {
        if conn.legacy {
            // An original-system server only knows rooms and never resumes: watching a name
            // means entering it (unless the room is entered already), and there is no presence
            // reply, so a room is joined once written.
            if let Target::Channel(_) = target {
                if self.seq.follows(&target.other()) {
                    return;
                }
            }
            conn.write(ClientFrame::Enter(Enter {
                room: target.name().to_owned(),
                since: None,
            }));
            if let Target::Room(room) = target {
                self.out
                    .push(ClientEvent::Joined { room: room.clone() })
                    .await;
            }
            return;
        }
        if let Some(since) = since {
            self.seq.resuming_from(target, since);
        }
        conn.write(match target {
            Target::Room(room) => ClientFrame::Enter(Enter {
                room: room.clone(),
                since,
            }),
            Target::Channel(channel) => ClientFrame::Watch(Watch {
                channel: channel.clone(),
                since,
            }),
        });
    }

    /// Leaves a room or stops watching a channel (already unfollowed).
    pub(super) fn write_unfollow(&self, conn: &Conn, target: &Target) {
        if conn.legacy {
            // One room on the server stands for both: it is left when neither is followed.
            if !self.seq.follows(&target.other()) {
                conn.write(ClientFrame::Leave(Leave {
                    room: target.name().to_owned(),
                }));
            }
            return;
        }
        conn.write(match target {
            Target::Room(room) => ClientFrame::Leave(Leave { room: room.clone() }),
            Target::Channel(channel) => ClientFrame::Unwatch(Unwatch {
                channel: channel.clone(),
            }),
        });
    }

    pub(super) async fn write_outbox(&mut self, conn: &Conn) {
        let items = self.shared.outbox.lock().take_unwritten();
        for item in items {
            conn.write(ClientFrame::Message(SendMessage {
                room: item.room.clone(),
                comment: item.comment.clone(),
                cid: (!conn.legacy).then(|| item.cid.clone()),
            }));
        }
        if conn.legacy {
            // No acks on an original-system server: written is as good as it gets.
            let done = self.shared.outbox.lock().drain_written();
            for item in done {
                self.emit_send(item, SendState::Sent { id: None }).await;
            }
        }
    }
}
