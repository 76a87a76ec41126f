//! Noticing a suspended machine.
//!
//! On Linux the monotonic clock (std's and tokio's `Instant`) stops while the machine sleeps,
//! and `CLOCK_BOOTTIME` does not. When, between two heartbeat ticks, boot time moved on much
//! more than monotonic time, the machine was asleep in between: every connection it had is
//! suspect, because the server (or a NAT on the way) may have dropped it meanwhile.
//!
//! The boot clock is a trait so a test can simulate a ten-minute suspend in an instant.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Boot time and monotonic time may disagree by this much without a suspend (scheduling,
/// a busy machine); a real suspend is longer.
pub const SUSPEND_SLACK: Duration = Duration::from_secs(2);

/// A clock that keeps counting while the machine is suspended.
pub trait BootClock: Send + Sync + Debug {
    /// Time since some fixed point (boot); only differences matter.
    fn now(&self) -> Duration;
}

/// `CLOCK_BOOTTIME` on Linux; the wall clock elsewhere (it keeps counting too, but also jumps
/// when it is set, which at worst costs one needless liveness check).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemBootClock;

impl BootClock for SystemBootClock {
    #[cfg(target_os = "linux")]
    fn now(&self) -> Duration {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec as u32)
    }

    #[cfg(not(target_os = "linux"))]
    fn now(&self) -> Duration {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// Compares the boot clock with the monotonic clock from one call to the next.
#[derive(Debug)]
pub(crate) struct SuspendDetector {
    clock: Arc<dyn BootClock>,
    boot_last: Duration,
    mono_last: Instant,
}

impl SuspendDetector {
    pub fn new(clock: Arc<dyn BootClock>, now: Instant) -> SuspendDetector {
        SuspendDetector {
            boot_last: clock.now(),
            clock,
            mono_last: now,
        }
    }

    /// How long the machine was suspended since the last call, if it was.
    pub fn suspended(&mut self, now: Instant) -> Option<Duration> {
        let boot = self.clock.now();
        let boot_gap = boot.saturating_sub(self.boot_last);
        let mono_gap = now.saturating_duration_since(self.mono_last);
        self.boot_last = boot;
        self.mono_last = now;
        (boot_gap > mono_gap + SUSPEND_SLACK).then(|| boot_gap - mono_gap)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use parking_lot::Mutex;

    /// Follows tokio's (pausable) clock, plus whatever time the test says the machine slept.
    #[derive(Debug)]
    pub struct SleepyClock {
        start: Instant,
        slept: Mutex<Duration>,
    }

    impl SleepyClock {
        pub fn new() -> Arc<SleepyClock> {
            Arc::new(SleepyClock {
                start: Instant::now(),
                slept: Mutex::new(Duration::ZERO),
            })
        }

        /// The machine sleeps for `d`: boot time jumps, monotonic time does not.
        pub fn suspend(&self, d: Duration) {
            *self.slept.lock() += d;
        }
    }

    impl BootClock for SleepyClock {
        fn now(&self) -> Duration {
            self.start.elapsed() + *self.slept.lock()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_ten_minute_suspend_is_noticed_and_ordinary_time_is_not() {
        let clock = SleepyClock::new();
        let mut detector = SuspendDetector::new(clock.clone(), Instant::now());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(detector.suspended(Instant::now()), None, "awake all along");

        clock.suspend(Duration::from_secs(600));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            detector.suspended(Instant::now()),
            Some(Duration::from_secs(600))
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(detector.suspended(Instant::now()), None, "reported once");
    }

    #[test]
    fn the_system_boot_clock_moves_forward() {
        let a = SystemBootClock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert!(SystemBootClock.now() > a);
    }
}
