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
            Command::FollowFrom {
                target,
                epoch,
                last_id,
            } => {
                let fresh = !self.seq.follows(&target);
                let since = self.seq.follow(&target);
                let since = if fresh {
                    self.seed(&target, epoch, last_id).await
                } else {
                    since
                };
                if let Some(conn) = conn {
                    self.write_follow(conn, &target, since).await;
                }
            }
            Command::Follow(target) => {
                let since = self.seq.follow(&target);
                if let Some(conn) = conn {
                    self.write_follow(conn, &target, since).await;
                }
            }
            Command::Unfollow(target) => {
                self.seeded.remove(&target);
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

    /// A room or channel followed afresh from a position kept elsewhere (the app's stored
    /// history): where to resume it. Under the server's current epoch that is `last_id`;
    /// under another, the server's whole history after a `Gap` where the kept one ended.
    /// Before the first welcome the epoch is unknown: the seed is checked when it comes
    /// (`seeds_checked`).
    async fn seed(&mut self, target: &Target, epoch: String, last_id: u64) -> Option<u64> {
        match &self.epoch {
            Some(now) if *now == epoch => self.seq.seed(target, last_id),
            Some(_) => {
                self.seq.seed(target, 0);
                self.out
                    .push(ClientEvent::Gap {
                        target: target.clone(),
                        after_id: Some(last_id),
                    })
                    .await;
            }
            None => {
                self.seq.seed(target, last_id);
                self.seeded.insert(target.clone(), (epoch, last_id));
            }
        }
        self.seq.last_seen(target).or(Some(0))
    }
}
