//! Publishing to every Pushpin instance in front of the origin.
//!
//! Each instance has its own queue and its own task, so an instance that is down or slow only
//! ever delays itself: [`Publisher::send`] appends to every queue without waiting. A task posts
//! what is queued in batches (`{"items":[…]}`, in order), and on failure keeps the batch,
//! logs, and retries with exponential backoff. A queue that grows past its bound while its
//! instance is away drops the oldest items — HTTP subscribers recover those through Pushpin's
//! `prev-id` check and the `Grip-Link`, WebSocket clients by resuming with `since`.
//!
//! A refused connection is different from a slow or failing answer: nothing listens on the
//! publish port, so Pushpin's handler is not running, and every connection and subscription
//! it held is gone with it. What was queued before that attempt can only reach subscriptions
//! made after Pushpin is back — clients that re-entered with `since` and already got those
//! items from history — so it is dropped instead of delivered twice. Items queued after the
//! refused attempt are kept (Pushpin may be back by then), and the instance is tried again
//! soon, because a refused connection costs nothing.
//!
//! A batch Pushpin answers with a 4xx is not retried: the same body would be refused again,
//! and everything queued behind it would wait forever. It is dropped with a log line and
//! counted (`tack_pushpin_rejected_total`); the queue goes on.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Items posted in one request at most, and their bytes (a single larger item goes alone).
const BATCH: usize = 256;
const BATCH_BYTES: usize = 1024 * 1024;
/// Items, and their bytes, kept for an instance that does not answer; beyond either the oldest
/// are dropped.
const QUEUE_MAX: usize = 20_000;
const QUEUE_MAX_BYTES: usize = 64 * 1024 * 1024;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The longest wait between tries of an instance that refuses connections: short, so that
/// little is queued between its return and the next try (see the module notes).
const REFUSED_RETRY_MAX: Duration = Duration::from_millis(200);
/// One publish request may take this long before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One item of a publish body, serialized once and shared by every instance's queue.
pub type PublishItem = Arc<str>;

/// Hands items to every instance's queue.
#[derive(Clone)]
pub struct Publisher {
    instances: Arc<Vec<Arc<Instance>>>,
}

/// What one instance's queue has seen, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceStats {
    pub published: u64,
    pub failures: u64,
    pub dropped: u64,
    /// Items in batches Pushpin refused with a 4xx (dropped, not retried).
    pub rejected: u64,
    /// Items waiting for this instance now, and their bytes.
    pub queued: usize,
    pub queued_bytes: usize,
}

struct Instance {
    url: String,
    queue: Mutex<Queue>,
    ready: Notify,
    published: AtomicU64,
    failures: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
}

/// An instance's waiting items, in order, with their total size.
#[derive(Default)]
struct Queue {
    items: VecDeque<PublishItem>,
    bytes: usize,
}

impl Queue {
    fn push(&mut self, item: PublishItem) {
        self.bytes += item.len();
        self.items.push_back(item);
    }

    /// Drops the `n` oldest items.
    fn drop_front(&mut self, n: usize) {
        for item in self.items.drain(..n) {
            self.bytes -= item.len();
        }
    }

    /// How many of the oldest items must go for the queue to be within its bounds.
    fn excess(&self) -> usize {
        let mut excess = self.items.len().saturating_sub(QUEUE_MAX);
        let mut bytes = self.bytes;
        for item in self.items.iter().take(excess) {
            bytes -= item.len();
        }
        while bytes > QUEUE_MAX_BYTES && excess < self.items.len() {
            bytes -= self.items[excess].len();
            excess += 1;
        }
        excess
    }

    /// The next batch: up to [`BATCH`] items and [`BATCH_BYTES`], at least one.
    fn batch(&self) -> Vec<PublishItem> {
        let mut bytes = 0;
        self.items
            .iter()
            .take(BATCH)
            .take_while(|item| {
                let first = bytes == 0;
                bytes += item.len();
                first || bytes <= BATCH_BYTES
            })
            .cloned()
            .collect()
    }

    /// Removes everything up to and including `last`, if it is still queued; how many.
    fn drop_through(&mut self, last: &PublishItem) -> usize {
        let end = self
            .items
            .iter()
            .position(|q| Arc::ptr_eq(q, last))
            .map_or(0, |end| end + 1);
        self.drop_front(end);
        end
    }
}

impl Publisher {
    /// Starts one task per publish URL (`http://host:5561`, `/publish/` is added) that runs
    /// until `stop` is cancelled.
    pub fn start(urls: &[String], stop: CancellationToken) -> Publisher {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client with default settings builds");
        let instances: Vec<Arc<Instance>> = urls
            .iter()
            .map(|url| {
                Arc::new(Instance {
                    url: publish_endpoint(url),
                    queue: Mutex::new(Queue::default()),
                    ready: Notify::new(),
                    published: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                    rejected: AtomicU64::new(0),
                })
            })
            .collect();
        for instance in &instances {
            tokio::spawn(run(instance.clone(), http.clone(), stop.clone()));
        }
        Publisher {
            instances: Arc::new(instances),
        }
    }

    /// Queues `items` for every instance, in order, without waiting for any of them.
    pub fn send(&self, items: &[PublishItem]) {
        if items.is_empty() {
            return;
        }
        for instance in self.instances.iter() {
            {
                let mut queue = instance.queue.lock();
                for item in items {
                    queue.push(item.clone());
                }
                let excess = queue.excess();
                if excess > 0 {
                    queue.drop_front(excess);
                    let before = instance.dropped.fetch_add(excess as u64, Ordering::Relaxed);
                    if before == 0 {
                        tracing::warn!(
                            pushpin = %instance.url,
                            "pushpin is not taking publishes; dropping the oldest (its HTTP clients recover them, WebSocket clients resume on reconnect)"
                        );
                    }
                }
            }
            instance.ready.notify_one();
        }
    }

    /// Waits (at most `within`) until every instance has taken everything queued, or is
    /// failing. For shutdown: the last publishes should reach Pushpin before the process ends.
    pub async fn flushed(&self, within: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            let pending = self.instances.iter().any(|i| {
                i.failures.load(Ordering::Relaxed) == 0 && !i.queue.lock().items.is_empty()
            });
            if !pending {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Per instance, in the order of the URLs given to [`start`](Self::start).
    pub fn stats(&self) -> Vec<InstanceStats> {
        self.instances
            .iter()
            .map(|i| {
                let (queued, queued_bytes) = {
                    let queue = i.queue.lock();
                    (queue.items.len(), queue.bytes)
                };
                InstanceStats {
                    published: i.published.load(Ordering::Relaxed),
                    failures: i.failures.load(Ordering::Relaxed),
                    dropped: i.dropped.load(Ordering::Relaxed),
                    rejected: i.rejected.load(Ordering::Relaxed),
                    queued,
                    queued_bytes,
                }
            })
            .collect()
    }
}

impl Instance {
    /// Drops every queued item up to and including `newest`; returns how many. (When
    /// `newest` is gone, overflow already dropped it and everything older.)
    fn drop_through(&self, newest: Option<&PublishItem>) -> usize {
        let Some(newest) = newest else { return 0 };
        let end = self.queue.lock().drop_through(newest);
        self.dropped.fetch_add(end as u64, Ordering::Relaxed);
        end
    }
}

/// Whether the request failed because nothing listens at the address.
fn connection_refused(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = e.source();
    }
    false
}

/// `http://127.0.0.1:5561` → `http://127.0.0.1:5561/publish/`; a URL that already ends in
/// `/publish/` is used as it is.
pub fn publish_endpoint(url: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with("/publish") {
        format!("{base}/")
    } else {
        format!("{base}/publish/")
    }
}

/// The body for a batch: the items are already JSON, so this only joins them.
fn body(batch: &[PublishItem]) -> String {
    let len: usize = batch.iter().map(|i| i.len() + 1).sum();
    let mut out = String::with_capacity(len + 12);
    out.push_str("{\"items\":[");
    for (n, item) in batch.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str("]}");
    out
}

async fn run(instance: Arc<Instance>, http: reqwest::Client, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    let mut down_since: Option<tokio::time::Instant> = None;
    loop {
        let (batch, newest): (Vec<PublishItem>, Option<PublishItem>) = {
            let queue = instance.queue.lock();
            (queue.batch(), queue.items.back().cloned())
        };
        if batch.is_empty() {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = instance.ready.notified() => continue,
            }
        }
        let result = http
            .post(&instance.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body(&batch))
            .send()
            .await
            .and_then(|r| r.error_for_status());
        if let Err(status) = result.as_ref().map_err(|e| e.status()) {
            if status.is_some_and(|s| s.is_client_error()) {
                let last = batch.last().expect("batch is not empty");
                instance.queue.lock().drop_through(last);
                instance
                    .rejected
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!(pushpin = %instance.url, status = ?status, items = batch.len(), "pushpin refused a publish batch; dropped it (the same body would be refused again)");
                continue;
            }
        }
        match result {
            Ok(_) => {
                {
                    // Only the published items leave the queue (overflow may have dropped some
                    // of them meanwhile): everything up to the batch's last item.
                    let last = batch.last().expect("batch is not empty");
                    instance.queue.lock().drop_through(last);
                }
                instance
                    .published
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if let Some(since) = down_since.take() {
                    tracing::info!(pushpin = %instance.url, after = ?since.elapsed(), "pushpin takes publishes again");
                }
                backoff = BACKOFF_MIN;
            }
            Err(err) => {
                let failures = instance.failures.fetch_add(1, Ordering::Relaxed);
                let refused = connection_refused(&err);
                if refused {
                    let dropped = instance.drop_through(newest.as_ref());
                    if dropped > 0 {
                        tracing::info!(pushpin = %instance.url, dropped, "pushpin is not running: dropped what was queued for the clients it held (they resume with `since` when they reconnect)");
                    }
                }
                if down_since.is_none() {
                    down_since = Some(tokio::time::Instant::now());
                    tracing::warn!(pushpin = %instance.url, %err, "cannot publish to pushpin; retrying with backoff");
                } else if failures.count_ones() == 1 {
                    // Every power of two: a long outage logs now and then, not every retry.
                    tracing::warn!(pushpin = %instance.url, %err, queued = instance.queue.lock().items.len(), "still cannot publish to pushpin");
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                let cap = if refused {
                    REFUSED_RETRY_MAX
                } else {
                    BACKOFF_MAX
                };
                backoff = (backoff * 2).min(cap);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_url_gets_the_publish_path_once() {
        assert_eq!(
            publish_endpoint("http://127.0.0.1:5561"),
            "http://127.0.0.1:5561/publish/"
        );
        assert_eq!(
            publish_endpoint("http://127.0.0.1:5561/publish/"),
            "http://127.0.0.1:5561/publish/"
        );
    }

    fn item(len: usize) -> PublishItem {
        Arc::from("x".repeat(len))
    }

    #[test]
    fn a_queue_is_bounded_in_bytes_as_well_as_items() {
        let mut queue = Queue::default();
        for _ in 0..100 {
            queue.push(item(1024 * 1024));
        }
        assert_eq!(queue.excess(), 100 - QUEUE_MAX_BYTES / (1024 * 1024));
        queue.drop_front(queue.excess());
        assert!(queue.bytes <= QUEUE_MAX_BYTES);
        assert_eq!(queue.bytes, queue.items.len() * 1024 * 1024);
    }

    #[test]
    fn a_batch_stays_under_its_byte_bound_but_always_takes_one() {
        let mut queue = Queue::default();
        queue.push(item(3 * BATCH_BYTES));
        queue.push(item(10));
        assert_eq!(queue.batch().len(), 1, "a large item goes alone");
        queue.drop_front(1);
        for _ in 0..1000 {
            queue.push(item(10));
        }
        assert_eq!(queue.batch().len(), BATCH);
        let mut queue = Queue::default();
        for _ in 0..10 {
            queue.push(item(BATCH_BYTES / 4));
        }
        assert_eq!(queue.batch().len(), 4);
    }

    #[test]
    fn a_batch_body_joins_items_already_serialized() {
        let items: Vec<PublishItem> = vec![Arc::from("{\"a\":1}"), Arc::from("{\"b\":2}")];
        assert_eq!(body(&items), "{\"items\":[{\"a\":1},{\"b\":2}]}");
    }
}
