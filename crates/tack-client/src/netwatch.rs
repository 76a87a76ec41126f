//! Hears the OS say the network changed: an interface went up or down, an address came or went
//! (Linux: a netlink socket subscribed to those groups; nothing is asked of the kernel, it just
//! tells). Each burst of changes becomes one `NetworkChanged` command to the engine, which then
//! checks its connection at once, or retries at once if it was waiting to.
//!
//! Elsewhere nothing is watched; the heartbeat still notices a dead connection, only later.

use crate::session::Command;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Changes closer together than this are one change (a Wi-Fi switch is a dozen messages).
#[cfg(target_os = "linux")]
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// Starts watching; `None` when the OS offers no way to (the reason is logged).
pub(crate) fn spawn(commands: mpsc::UnboundedSender<Command>) -> Option<AbortHandle> {
    #[cfg(target_os = "linux")]
    {
        match linux::Changes::open() {
            Ok(changes) => Some(tokio::spawn(forward(changes, commands)).abort_handle()),
            Err(e) => {
                tracing::warn!("not watching for network changes: {e}");
                None
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = commands;
        None
    }
}

/// Tells the engine at once about the first change of a burst, and once more after the burst
/// if more came (an address that went away is often followed by the new one).
#[cfg(target_os = "linux")]
async fn forward(mut changes: linux::Changes, commands: mpsc::UnboundedSender<Command>) {
    loop {
        if let Err(e) = changes.next().await {
            tracing::warn!("stopped watching for network changes: {e}");
            return;
        }
        tracing::debug!("the network changed");
        if commands.send(Command::NetworkChanged).is_err() {
            return;
        }
        let mut more = false;
        while let Ok(result) = tokio::time::timeout(SETTLE, changes.next()).await {
            if result.is_err() {
                return;
            }
            more = true;
        }
        if more && commands.send(Command::NetworkChanged).is_err() {
            return;
        }
    }
}

#[cfg(target_os = "linux")]
pub(crate) mod linux {
    use netlink_sys::{
        protocols::NETLINK_ROUTE, AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket,
    };
    use std::io;

    // From <linux/rtnetlink.h>: the multicast groups of link and address changes.
    const RTMGRP_LINK: u32 = 0x1;
    const RTMGRP_IPV4_IFADDR: u32 = 0x10;
    const RTMGRP_IPV6_IFADDR: u32 = 0x100;
    const ENOBUFS: i32 = 105;

    /// Link and address change notifications of the network namespace it was opened in.
    pub struct Changes(TokioSocket);

    impl Changes {
        pub fn open() -> io::Result<Changes> {
            let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
            let groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
            socket.socket_mut().bind(&SocketAddr::new(0, groups))?;
            Ok(Changes(socket))
        }

        /// Waits for the next notification. What changed does not matter: any change is a
        /// reason to check the connection, so the message is not parsed.
        pub async fn next(&mut self) -> io::Result<()> {
            match self.0.recv_from_full().await {
                Ok(_) => Ok(()),
                // The kernel had more to say than the socket holds: changes were missed, which
                // is still a change.
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}
