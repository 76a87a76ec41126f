//! When to try again: exponential backoff with full jitter.
//!
//! The jitter is applied *after* the cap: once the exponential reaches the cap every client
//! still draws uniformly from `[0, cap)`, so a thousand clients cut at once keep coming back
//! spread out instead of in a wave every `cap`. The attempt counter resets only after a
//! connection has stayed up for `stable_after`, so a server that accepts and then drops
//! connections at once does not reset it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct BackoffPolicy {
    /// The first step of the exponential.
    pub base: Duration,
    /// The largest delay drawn.
    pub cap: Duration,
    /// A connection must stay up this long before the attempt counter resets.
    pub stable_after: Duration,
    /// After a "going away" close (1001), the first retry is drawn from `[0, going_away_spread)`.
    pub going_away_spread: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            // The first retry is drawn from [0, 5 s): 200 clients cut at once put ~10% of their
            // attempts in any 500 ms window instead of all of them in the first one.
            base: Duration::from_secs(5),
            cap: Duration::from_secs(60),
            stable_after: Duration::from_secs(10),
            going_away_spread: Duration::from_secs(5),
        }
    }
}

#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    attempt: u32,
    rng: StdRng,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy, seed: Option<u64>) -> Backoff {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        Backoff {
            policy,
            attempt: 0,
            rng,
        }
    }

    /// How many retries since the last stable connection.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt; advances the counter.
    pub fn next_delay(&mut self, going_away: bool) -> Duration {
        let p = &self.policy;
        let ceiling = if going_away && self.attempt == 0 {
            p.going_away_spread
        } else {
            let exp = p.base.saturating_mul(1u32 << self.attempt.min(20));
            exp.min(p.cap)
        };
        self.attempt = self.attempt.saturating_add(1);
        let ms = ceiling.as_millis() as u64;
        if ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.rng.gen_range(0..ms))
    }

    /// The connection stayed up for `uptime`: reset if that was long enough.
    pub fn connection_ended(&mut self, uptime: Duration) {
        if uptime >= self.policy.stable_after {
            self.attempt = 0;
        }
    }

    /// A random value for other spreading needs (probe timing).
    pub fn jitter(&mut self, max: Duration) -> Duration {
        let ms = max.as_millis() as u64;
        if ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(self.rng.gen_range(0..ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_jittered_there() {
        let policy = BackoffPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            ..Default::default()
        };
        let mut b = Backoff::new(policy, Some(7));
        let delays: Vec<_> = (0..12).map(|_| b.next_delay(false)).collect();
        assert!(delays[0] < Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d < Duration::from_secs(2)));
        // Past the cap the delays still differ: jitter after the cap.
        let capped = &delays[6..];
        assert!(capped.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn a_short_lived_connection_does_not_reset_the_backoff() {
        let mut b = Backoff::new(BackoffPolicy::default(), Some(1));
        b.next_delay(false);
        b.next_delay(false);
        b.connection_ended(Duration::from_millis(200));
        assert_eq!(b.attempt(), 2);
        b.connection_ended(Duration::from_secs(60));
        assert_eq!(b.attempt(), 0);
    }

    #[test]
    fn going_away_spreads_the_first_retry() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let mut b = Backoff::new(BackoffPolicy::default(), Some(seed));
            let d = b.next_delay(true);
            assert!(d < Duration::from_secs(5));
            seen.insert(d.as_millis() / 500);
        }
        assert!(seen.len() >= 8, "first retries bunch up: {seen:?}");
    }
}
