//! Messages the user sent that the server has not acknowledged yet.
//!
//! Bounded: a full outbox is an error the user sees, never a silent drop. Each message has a
//! `cid` so a resend after a reconnect is recognised by the server (it answers with the
//! original id and does not broadcast twice). Shared between the [`Session`](crate::Session)
//! handle (which must refuse a send at once when full) and the engine task.

use crate::error::ClientError;
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub cid: String,
    pub room: String,
    pub comment: String,
    /// Written on the current connection; cleared when the connection changes.
    pub written: bool,
}

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    prefix: String,
    next: u64,
    waiting: VecDeque<OutboxItem>,
    /// Failed messages kept for a retry, oldest dropped first beyond `capacity`.
    failed: HashMap<String, OutboxItem>,
    failed_order: VecDeque<String>,
}

impl Outbox {
    pub fn new(capacity: usize, prefix: String) -> Outbox {
        Outbox {
            capacity,
            prefix,
            next: 0,
            waiting: VecDeque::new(),
            failed: HashMap::new(),
            failed_order: VecDeque::new(),
        }
    }

    /// True when `cid` was made by this outbox (our own message echoed back).
    pub fn is_ours(&self, cid: &str) -> bool {
        cid.strip_prefix(&self.prefix)
            .is_some_and(|rest| rest.starts_with('-'))
    }

    pub fn push(&mut self, room: &str, comment: &str) -> Result<OutboxItem, ClientError> {
        if self.waiting.len() >= self.capacity {
            return Err(ClientError::OutboxFull {
                capacity: self.capacity,
            });
        }
        self.next += 1;
        let item = OutboxItem {
            cid: format!("{}-{}", self.prefix, self.next),
            room: room.to_owned(),
            comment: comment.to_owned(),
            written: false,
        };
        self.waiting.push_back(item.clone());
        Ok(item)
    }

    /// Puts a failed message back in the queue.
    pub fn retry(&mut self, cid: &str) -> Result<OutboxItem, ClientError> {
        if self.waiting.len() >= self.capacity {
            return Err(ClientError::OutboxFull {
                capacity: self.capacity,
            });
        }
        let mut item = self
            .failed
            .remove(cid)
            .ok_or_else(|| ClientError::UnknownMessage(cid.to_owned()))?;
        self.failed_order.retain(|c| c != cid);
        item.written = false;
        self.waiting.push_back(item.clone());
        Ok(item)
    }

    /// Messages not yet written on the current connection, in order; marks them written.
    pub fn take_unwritten(&mut self) -> Vec<OutboxItem> {
        self.waiting
            .iter_mut()
            .filter(|i| !i.written)
            .map(|i| {
                i.written = true;
                i.clone()
            })
            .collect()
    }

    /// The connection changed: everything unacknowledged must be written again.
    pub fn connection_changed(&mut self) {
        for i in &mut self.waiting {
            i.written = false;
        }
    }

    /// The server acknowledged `cid`.
    pub fn acked(&mut self, cid: &str) -> Option<OutboxItem> {
        let pos = self.waiting.iter().position(|i| i.cid == cid)?;
        self.waiting.remove(pos)
    }

    /// Written on a server without acks: done once written.
    pub fn drain_written(&mut self) -> Vec<OutboxItem> {
        let (done, keep): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|i| i.written);
        self.waiting = keep.into();
        done
    }

    /// The server could not take `cid` now (`unavailable`): it is written again later. False
    /// when it is not waiting here.
    pub fn unwritten(&mut self, cid: &str) -> bool {
        match self.waiting.iter_mut().find(|i| i.cid == cid) {
            Some(item) => {
                item.written = false;
                true
            }
            None => false,
        }
    }

    /// The server refused `cid`; keep it for a retry.
    pub fn failed(&mut self, cid: &str) -> Option<OutboxItem> {
        let pos = self.waiting.iter().position(|i| i.cid == cid)?;
        let item = self.waiting.remove(pos)?;
        self.failed.insert(item.cid.clone(), item.clone());
        self.failed_order.push_back(item.cid.clone());
        while self.failed_order.len() > self.capacity {
            if let Some(old) = self.failed_order.pop_front() {
                self.failed.remove(&old);
            }
        }
        Some(item)
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_outbox_refuses_with_a_message_the_user_can_act_on() {
        let mut o = Outbox::new(2, "c".into());
        o.push("lobby", "a").unwrap();
        o.push("lobby", "b").unwrap();
        let err = o.push("lobby", "c").unwrap_err();
        assert!(err.to_string().contains("outbox is full"));
    }

    #[test]
    fn unacked_messages_are_written_again_after_a_reconnect_in_order() {
        let mut o = Outbox::new(10, "c".into());
        let a = o.push("lobby", "a").unwrap();
        o.push("lobby", "b").unwrap();
        assert_eq!(o.take_unwritten().len(), 2);
        assert!(o.take_unwritten().is_empty());
        o.acked(&a.cid).unwrap();
        o.connection_changed();
        let again = o.take_unwritten();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].comment, "b");
        assert!(o.is_ours(&again[0].cid));
        assert!(!o.is_ours("other-1"));
    }

    #[test]
    fn a_message_the_server_could_not_take_now_stays_and_is_written_again() {
        let mut o = Outbox::new(10, "c".into());
        let a = o.push("lobby", "a").unwrap();
        assert_eq!(o.take_unwritten().len(), 1);
        assert!(o.unwritten(&a.cid));
        assert_eq!(o.len(), 1, "still pending, not failed");
        assert_eq!(o.take_unwritten()[0].cid, a.cid);
        assert!(!o.unwritten("c-99"));
    }

    #[test]
    fn a_failed_message_can_be_retried_once() {
        let mut o = Outbox::new(10, "c".into());
        let a = o.push("lobby", "a").unwrap();
        o.failed(&a.cid).unwrap();
        assert!(o.is_empty());
        o.retry(&a.cid).unwrap();
        assert_eq!(o.len(), 1);
        assert!(o.retry(&a.cid).is_err());
    }
}
