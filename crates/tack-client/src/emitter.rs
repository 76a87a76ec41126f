//! Hands the engine's events to its consumer in batches, so a busy room costs the UI one
//! wake-up per batch rather than one per event. When to flush a partial batch (a timer, the
//! end of a phase) is the engine's call; this only collects and sends.

use crate::events::{ClientEvent, EventBatch};
use tokio::sync::mpsc;

/// Collects events and hands them over in batches of at most `max`.
pub(crate) struct Emitter {
    buf: Vec<ClientEvent>,
    tx: mpsc::Sender<EventBatch>,
    max: usize,
}

impl Emitter {
    pub(crate) fn new(tx: mpsc::Sender<EventBatch>, max: usize) -> Emitter {
        Emitter {
            buf: Vec::new(),
            tx,
            max: max.max(1),
        }
    }

    /// Collects an event; a full batch goes out at once (waiting while the consumer is behind).
    pub(crate) async fn push(&mut self, ev: ClientEvent) {
        self.buf.push(ev);
        if self.buf.len() >= self.max {
            self.flush().await;
        }
    }

    /// Sends what was collected, if anything.
    pub(crate) async fn flush(&mut self) {
        if !self.buf.is_empty() {
            let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(self.max.min(1024)));
            // A consumer that went away is not an error: the session runs until closed.
            let _ = self.tx.send(batch).await;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parted(room: &str) -> ClientEvent {
        ClientEvent::Parted { room: room.into() }
    }

    fn rooms(batch: &EventBatch) -> Vec<&str> {
        batch
            .iter()
            .map(|ev| match ev {
                ClientEvent::Parted { room } => room.as_str(),
                other => panic!("not pushed: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_full_batch_goes_out_at_once_and_the_rest_on_flush() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut out = Emitter::new(tx, 2);
        for room in ["a", "b", "c"] {
            out.push(parted(room)).await;
        }
        assert_eq!(rooms(&rx.try_recv().expect("a full batch")), ["a", "b"]);
        assert!(rx.try_recv().is_err(), "a partial batch waits for a flush");
        assert!(!out.is_empty());
        out.flush().await;
        assert_eq!(rooms(&rx.try_recv().expect("the rest")), ["c"]);
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn nothing_collected_sends_no_empty_batch() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut out = Emitter::new(tx, 4);
        out.flush().await;
        drop(out);
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_batch_size_of_zero_means_one_event_a_batch() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut out = Emitter::new(tx, 0);
        out.push(parted("a")).await;
        assert_eq!(rooms(&rx.try_recv().expect("sent at once")), ["a"]);
    }

    #[tokio::test]
    async fn a_consumer_that_went_away_is_not_an_error() {
        let (tx, rx) = mpsc::channel(8);
        drop(rx);
        let mut out = Emitter::new(tx, 1);
        out.push(parted("a")).await;
        out.flush().await;
        assert!(out.is_empty());
    }
}
