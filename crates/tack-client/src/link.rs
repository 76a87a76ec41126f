//! One open connection to a server, whatever its transport: frames out, frames in.
//!
//! A transport's tasks are owned by its [`Link`]; dropping the link aborts them, so a race
//! between transports or an upgrade never leaves a stray connection behind.

use crate::error::LinkError;
use crate::profile::Transport;
use tack_protocol::chat::{ServerFrame, Welcome};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// What a transport hands the engine.
#[derive(Debug)]
pub enum Inbound {
    /// A frame from the server.
    Frame(ServerFrame),
    /// The connection is gone.
    Closed(LinkError),
}

/// Aborts the tasks it holds when dropped.
#[derive(Debug, Default)]
pub struct Tasks(Vec<AbortHandle>);

impl Tasks {
    pub fn push(&mut self, h: AbortHandle) {
        self.0.push(h);
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

#[derive(Debug)]
pub struct Link {
    pub transport: Transport,
    /// The server's greeting; `None` on an original-system server, which sends none.
    pub welcome: Option<Welcome>,
    out: mpsc::UnboundedSender<String>,
    inbound: mpsc::Receiver<Inbound>,
    /// A frame read during the handshake that still has to be delivered.
    pending: Option<Inbound>,
    _tasks: Tasks,
}

impl Link {
    pub fn new(
        transport: Transport,
        out: mpsc::UnboundedSender<String>,
        inbound: mpsc::Receiver<Inbound>,
        tasks: Tasks,
    ) -> Link {
        Link {
            transport,
            welcome: None,
            out,
            inbound,
            pending: None,
            _tasks: tasks,
        }
    }

    /// Waits for the server's first frame: a `welcome`, or (when `legacy_ok`) anything or
    /// nothing within `wait`, which marks an original-system server.
    pub async fn handshake(
        mut self,
        wait: std::time::Duration,
        legacy_ok: bool,
    ) -> Result<Link, LinkError> {
        match tokio::time::timeout(wait, self.inbound.recv()).await {
            Ok(Some(Inbound::Frame(ServerFrame::Event(
                tack_protocol::chat::ServerEvent::Welcome(w),
            )))) => {
                self.welcome = Some(w);
                Ok(self)
            }
            Ok(Some(Inbound::Closed(e))) => Err(e),
            Ok(None) => Err(LinkError::Other(
                "connection ended during the handshake".into(),
            )),
            Ok(Some(other)) if legacy_ok => {
                self.pending = Some(other);
                Ok(self)
            }
            Ok(Some(_)) => Err(LinkError::Other(
                "the server did not start with a welcome; is this a Tack server?".into(),
            )),
            Err(_) if legacy_ok => Ok(self),
            Err(_) => Err(LinkError::HandshakeTimeout),
        }
    }

    /// Queues one encoded client frame. Returns false when the connection is gone.
    pub fn send(&self, frame: String) -> bool {
        self.out.send(frame).is_ok()
    }

    /// The next thing the server said; `Closed` once it is gone.
    pub async fn recv(&mut self) -> Inbound {
        if let Some(p) = self.pending.take() {
            return p;
        }
        self.inbound
            .recv()
            .await
            .unwrap_or_else(|| Inbound::Closed(LinkError::Other("connection ended".into())))
    }
}
