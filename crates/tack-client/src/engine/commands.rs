//! What the session's handle asks for (enter, leave, send, watch, nick, close, retry) and
//! what each asks of the current phase.

use super::{Engine, Flow};
use crate::events::{ClientEvent, SendState, Target};
use crate::liveness::Conn;
use crate::session::Command;
use tack_protocol::chat::{ClientFrame, Hello};

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
            Command::Follow(target) => {
                let since = self.seq.follow(&target);
                if let Some(conn) = conn {
                    self.write_follow(conn, &target, since).await;
                }
            }
            Command::Unfollow(target) => {
                if self.seq.unfollow(&target) {
                    self.shared.monitor.lock().forget(&target);
                    if let Some(conn) = conn {
                        self.write_unfollow(conn, &target);
                    }
                    if let Target::Room(room) = target {
                        self.out.push(ClientEvent::Parted { room }).await;
                    }
                }
            }
            Command::Queued(item) => {
                self.emit_send(item, SendState::Pending).await;
                if let Some(conn) = conn {
                    self.write_outbox(conn).await;
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
                            token: None,
                        }));
                    }
                }
            }
        }
        Flow::Continue
    }
}
