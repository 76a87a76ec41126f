//! What the session's handle asks for (enter, leave, send, watch, nick, close, retry) and
//! what each asks of the current phase.

use super::{Engine, Flow};
use crate::events::{ClientEvent, SendState};
use crate::liveness::Conn;
use crate::session::Command;
use tack_protocol::chat::{ClientFrame, Hello, Leave, Unwatch};

impl Engine {
    pub(super) async fn on_command(
        &mut self,
        cmd: Option<Command>,
        conn: Option<&mut Conn>,
    ) -> Flow {
        let Some(cmd) = cmd else {
            // Every handle was dropped.
            return Flow::Close;
        };
        match cmd {
            Command::Close => return Flow::Close,
            Command::RetryNow => return Flow::RetryNow,
            Command::NetworkChanged => return Flow::CheckNow,
            Command::Enter(room) => {
                let since = self.seq.follow(false, &room);
                if let Some(conn) = conn {
                    self.write_enter(conn, &room, since).await;
                    self.write_outbox(conn).await;
                }
            }
            Command::Leave(room) => {
                if self.seq.unfollow(false, &room) {
                    if let Some(conn) = conn {
                        conn.write(ClientFrame::Leave(Leave { room: room.clone() }));
                    }
                    self.out.push(ClientEvent::Parted { room }).await;
                }
            }
            Command::Queued(item) => {
                self.emit_send(item, SendState::Pending).await;
                if let Some(conn) = conn {
                    self.write_outbox(conn).await;
                }
            }
            Command::Watch(channel) => {
                let since = self.seq.follow(true, &channel);
                if let Some(conn) = conn {
                    self.write_watch(conn, &channel, since);
                }
            }
            Command::Unwatch(channel) => {
                if self.seq.unfollow(true, &channel) {
                    if let Some(conn) = conn {
                        if !conn.legacy {
                            conn.write(ClientFrame::Unwatch(Unwatch { channel }));
                        } else if !self.seq.follows(false, &channel) {
                            conn.write(ClientFrame::Leave(Leave { room: channel }));
                        }
                    }
                }
            }
            Command::Nick(nick) => {
                self.profile.nick = Some(nick.clone());
                if let Some(conn) = conn {
                    if !conn.legacy {
                        conn.write(ClientFrame::Hello(Hello {
                            nick,
                            client: None,
                            takeover: None,
                        }));
                    }
                }
            }
        }
        Flow::Continue
    }
}
