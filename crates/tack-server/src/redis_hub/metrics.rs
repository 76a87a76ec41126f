//! What a node's `/metrics` says about its Redis: how long calls take, how many fail, how often
//! it lost contact, and how many gaps it reported to its subscribers.

use redis::RedisError;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the round-trip histogram, in seconds: a Redis call on a LAN takes well under
/// a millisecond; the top buckets are trouble.
const BUCKETS: [f64; 9] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0];

#[derive(Debug, Default)]
pub struct RedisMetrics {
    buckets: [AtomicU64; BUCKETS.len()],
    calls: AtomicU64,
    micros: AtomicU64,
    /// Calls that failed because Redis could not be reached (or did not answer in time).
    unreachable: AtomicU64,
    /// Calls Redis answered with an error (a script error, a wrong epoch).
    script_errors: AtomicU64,
    /// Times the announcement connection dropped.
    reconnects: AtomicU64,
    /// Times this node told its subscribers that items were lost (a stretch it could not read
    /// back from history, or a new epoch).
    gaps: AtomicU64,
    /// Times this node read missed items back from history instead.
    repairs: AtomicU64,
    /// 1 while this node can reach Redis.
    connected: AtomicI64,
}

impl RedisMetrics {
    pub fn call(&self, took: Duration, err: Option<&RedisError>) {
        let secs = took.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.calls.fetch_add(1, Relaxed);
        self.micros.fetch_add(took.as_micros() as u64, Relaxed);
        match err {
            Some(err) if crate::redis_hub::store::connection_lost(err) => {
                self.unreachable.fetch_add(1, Relaxed);
            }
            Some(_) => {
                self.script_errors.fetch_add(1, Relaxed);
            }
            None => {}
        }
    }

    pub fn reconnect(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub fn gap(&self) {
        self.gaps.fetch_add(1, Relaxed);
    }

    pub fn gaps(&self) -> u64 {
        self.gaps.load(Relaxed)
    }

    pub fn repair(&self) {
        self.repairs.fetch_add(1, Relaxed);
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.store(i64::from(connected), Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let c = |a: &AtomicU64| a.load(Relaxed);
        let _ = writeln!(
            out,
            "# HELP tack_redis_call_seconds Round-trip time of this node's Redis calls (scripts).\n# TYPE tack_redis_call_seconds histogram"
        );
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "tack_redis_call_seconds_bucket{{le=\"{bound}\"}} {}",
                c(bucket)
            );
        }
        let _ = writeln!(
            out,
            "tack_redis_call_seconds_bucket{{le=\"+Inf\"}} {calls}\ntack_redis_call_seconds_sum {sum}\ntack_redis_call_seconds_count {calls}",
            calls = c(&self.calls),
            sum = c(&self.micros) as f64 / 1e6,
        );
        let mut counter = |name: &str, help: &str, value: i64, kind: &str| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        counter(
            "tack_redis_unreachable_total",
            "Redis calls that failed because Redis could not be reached in time.",
            c(&self.unreachable) as i64,
            "counter",
        );
        counter(
            "tack_redis_script_errors_total",
            "Redis calls Redis answered with an error.",
            c(&self.script_errors) as i64,
            "counter",
        );
        counter(
            "tack_redis_reconnects_total",
            "Times this node lost its announcement connection to Redis.",
            c(&self.reconnects) as i64,
            "counter",
        );
        counter(
            "tack_redis_gaps_total",
            "Times this node told its subscribers that items were lost.",
            c(&self.gaps) as i64,
            "counter",
        );
        counter(
            "tack_redis_repairs_total",
            "Times this node read missed items back from Redis history.",
            c(&self.repairs) as i64,
            "counter",
        );
        counter(
            "tack_redis_connected",
            "1 while this node reaches Redis.",
            self.connected.load(Relaxed),
            "gauge",
        );
    }
}
