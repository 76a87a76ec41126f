//! CPU time and memory of processes, from `/proc` (Linux only; elsewhere the figures are
//! simply missing from the report).

use std::time::Duration;

/// Linux reports CPU time in clock ticks of 1/100 s on every architecture Tack builds for.
const TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU time of `pid` (`None`: this process).
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the fields after the last
    // `)` are plain numbers: state is field 3, utime 14 and stime 15.
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / TICKS_PER_SEC,
    ))
}

/// Total CPU time of several processes; `None` if any of them is gone.
pub fn cpu_time_of(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|&pid| cpu_time(Some(pid))).sum()
}

/// Waits until `pids` together use less than a fifth of a core over a 200 ms window, or
/// `limit` has passed; returns how long that took. Measured, not guessed: a server that was
/// overloaded (Pushpin especially) goes on working through its backlog long after the load
/// stops, and a measurement that starts then measures the backlog. Ticks are 10 ms, so the
/// window holds 20 of them per core and "idle" means at most 4 were used.
pub async fn until_idle(pids: &[u32], limit: Duration) -> Duration {
    const WINDOW: Duration = Duration::from_millis(200);
    let began = tokio::time::Instant::now();
    if pids.is_empty() {
        return Duration::ZERO;
    }
    while began.elapsed() < limit {
        let Some(before) = cpu_time_of(pids) else {
            break;
        };
        tokio::time::sleep(WINDOW).await;
        let Some(after) = cpu_time_of(pids) else {
            break;
        };
        if after.saturating_sub(before) < WINDOW / 5 {
            break;
        }
    }
    began.elapsed()
}

/// Resident memory of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Total resident memory of several processes in KiB; `None` if any of them is gone.
pub fn rss_kib_of(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|&pid| rss_kib(pid)).sum()
}

/// This machine's cores and memory, for the report's header.
pub fn machine() -> (usize, Option<u64>) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemTotal:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    });
    (cores, mem_kib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_a_cpu_time() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        assert!(cpu_time(None).is_some());
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
