//! The node's listener: every announcement from Redis, in the order Redis sent them, handed to
//! its channel's feed ([`Node::announced`]); a dropped connection starts a resync
//! ([`Node::lost_contact`]).
//!
//! One task reads them all: a channel's announcements come from one Redis connection in id
//! order, and reading them in one place keeps that order up to the feed. The work per
//! announcement is a decode and an append; the fan-out to sessions happens in their own tasks.

use crate::redis_hub::node::Node;
use redis::{PushInfo, PushKind, Value};
use std::sync::Weak;
use tokio::sync::mpsc::UnboundedReceiver;

pub async fn listen(node: Weak<Node>, mut pushes: UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        let Some(node) = node.upgrade() else { return };
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                if let [Value::BulkString(live), Value::BulkString(payload)] = &push.data[..] {
                    node.announced(live, payload);
                }
            }
            PushKind::Disconnection => node.lost_contact(),
            _ => {}
        }
    }
}

/// Heartbeats this node's members and nicks every `period`, and removes other nodes' expired
/// members.
pub async fn heartbeat(node: Weak<Node>, period: std::time::Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(node) = node.upgrade() else { return };
        node.heartbeat().await;
    }
}
