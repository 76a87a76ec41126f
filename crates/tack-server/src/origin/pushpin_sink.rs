//! Every item the hub numbers, published to every Pushpin instance in front of the origin.
//!
//! The hub hands each item over while its channel is still locked, so a channel's items are
//! queued in id order; the [`Publisher`] posts them in that order, and Pushpin checks each
//! one's `prev-id`. Nothing else publishes room traffic: whichever session caused an item, it
//! goes out exactly once, here.

use crate::hub::{ItemSink, SessionKey};
use crate::item::Item;
use crate::origin::channels::item_publishes;
use crate::origin::publisher::{PublishItem, Publisher};
use std::sync::Arc;

pub struct PushpinSink {
    publisher: Publisher,
}

impl PushpinSink {
    pub fn new(publisher: Publisher) -> PushpinSink {
        PushpinSink { publisher }
    }
}

impl ItemSink for PushpinSink {
    fn appended(&self, epoch: &str, item: &Arc<Item>, sender: Option<SessionKey>) {
        let items: Vec<PublishItem> = item_publishes(item, sender, epoch)
            .into_iter()
            .map(PublishItem::from)
            .collect();
        self.publisher.send(&items);
    }
}
