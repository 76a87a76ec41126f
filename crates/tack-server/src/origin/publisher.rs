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

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Items posted in one request at most.
const BATCH: usize = 256;
/// Items kept for an instance that does not answer; beyond this the oldest are dropped.
const QUEUE_MAX: usize = 20_000;
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
    /// Items waiting for this instance now.
    pub queued: usize,
}

struct Instance {
    url: String,
    queue: Mutex<VecDeque<PublishItem>>,
    ready: Notify,
    published: AtomicU64,
    failures: AtomicU64,
    dropped: AtomicU64,
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
                    queue: Mutex::new(VecDeque::new()),
                    ready: Notify::new(),
                    published: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
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
                queue.extend(items.iter().cloned());
                let excess = queue.len().saturating_sub(QUEUE_MAX);
                if excess > 0 {
                    queue.drain(..excess);
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
            let pending = self
                .instances
                .iter()
                .any(|i| i.failures.load(Ordering::Relaxed) == 0 && !i.queue.lock().is_empty());
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
            .map(|i| InstanceStats {
                published: i.published.load(Ordering::Relaxed),
                failures: i.failures.load(Ordering::Relaxed),
                dropped: i.dropped.load(Ordering::Relaxed),
                queued: i.queue.lock().len(),
            })
            .collect()
    }
}

impl Instance {
    /// Drops every queued item up to and including `newest`; returns how many. (When
    /// `newest` is gone, overflow already dropped it and everything older.)
    fn drop_through(&self, newest: Option<&PublishItem>) -> usize {
        let Some(newest) = newest else { return 0 };
        let mut queue = self.queue.lock();
        let end = queue
            .iter()
            .position(|q| Arc::ptr_eq(q, newest))
            .map_or(0, |end| end + 1);
        queue.drain(..end);
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
            (
                queue.iter().take(BATCH).cloned().collect(),
                queue.back().cloned(),
            )
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
        match result {
            Ok(_) => {
                {
                    // Only the published items leave the queue (overflow may have dropped some
                    // of them meanwhile): everything up to the batch's last item.
                    let mut queue = instance.queue.lock();
                    let last = batch.last().expect("batch is not empty");
                    if let Some(end) = queue.iter().position(|q| Arc::ptr_eq(q, last)) {
                        queue.drain(..=end);
                    }
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
                    tracing::warn!(pushpin = %instance.url, %err, queued = instance.queue.lock().len(), "still cannot publish to pushpin");
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

    #[test]
    fn a_batch_body_joins_items_already_serialized() {
        let items: Vec<PublishItem> = vec![Arc::from("{\"a\":1}"), Arc::from("{\"b\":2}")];
        assert_eq!(body(&items), "{\"items\":[{\"a\":1},{\"b\":2}]}");
    }
}
