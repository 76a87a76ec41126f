//! The result of a run: the JSON object `--json` prints and the table printed otherwise.

use crate::config::{Protocol, Transport};
use crate::tally::Percentiles;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Printed with every result: the figures are only comparable within one machine and run.
pub const SHARED_MACHINE_NOTE: &str =
    "the load tool runs on the same machine as the server and shares its CPU";

/// The largest share of the machine's cores the load tool may use for a figure to count. Above
/// it the tool, not the server, may be what set the figure (at 1,000 subscribers the old tool
/// spent more CPU than the loop it measured; issue 19): such a run or saturation step is
/// marked `load_tool_out_of_headroom` and is not a figure.
pub const LOAD_TOOL_HEADROOM: f64 = 0.8;

/// The load tool's CPU over a measured window as a share of the machine's cores (0 to 1), and
/// whether that leaves it no headroom.
pub fn load_tool_share(cpu_pct_of_a_core: Option<f64>, cores: usize) -> (Option<f64>, bool) {
    let share = cpu_pct_of_a_core.map(|pct| pct / 100.0 / cores.max(1) as f64);
    (share, share.is_some_and(|s| s > LOAD_TOOL_HEADROOM))
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub transport: Transport,
    pub protocol: Protocol,
    pub workload: &'static str,
    pub connections: usize,
    /// Connections whose subscription was confirmed before traffic began.
    pub ready: usize,
    pub rooms: usize,
    pub size: usize,
    /// Messages a second offered (broadcast: the publisher's; chat: all members together).
    pub rate: f64,
    pub duration_s: f64,
    pub ramp_s: f64,
    pub published: u64,
    pub publish_rate: f64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub deliveries_per_s: f64,
    pub latency_ms: Percentiles,
    pub connect_ms: Percentiles,
    pub errors: BTreeMap<String, u64>,
    /// CPU used while traffic ran, in % of one core (200 = both cores of a 2-core machine).
    pub load_tool_cpu_pct: Option<f64>,
    /// The load tool's CPU (user + system, all its threads) as a share of the machine's cores.
    pub load_tool_share: Option<f64>,
    /// The cores that share is of: the machine's.
    pub load_tool_cores: usize,
    /// The threads the connections ran on.
    pub load_tool_threads: usize,
    /// The load tool used more than [`LOAD_TOOL_HEADROOM`] of its cores: not a figure.
    pub load_tool_out_of_headroom: bool,
    pub server_cpu_pct: Option<f64>,
    pub server_rss_kib_before: Option<u64>,
    pub server_rss_kib_after: Option<u64>,
    pub rss_per_connection_kib: Option<f64>,
    pub saturation: Option<Saturation>,
    pub steps: Vec<Step>,
    pub machine: Machine,
    pub note: &'static str,
}

/// The highest rate of a saturation run at which p99 stayed under the limit with nothing lost.
#[derive(Debug, Clone, Serialize)]
pub struct Saturation {
    pub rate: f64,
    pub deliveries_per_s: f64,
    pub p99_ms: f64,
    pub p99_limit_ms: f64,
    /// A step above this one met the server's limits, or failed, while the load tool had no
    /// headroom: the figure is a floor the tool set, not the server's ceiling.
    pub limited_by_load_tool: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub rate: f64,
    pub published: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub deliveries_per_s: f64,
    pub latency_ms: Percentiles,
    pub server_cpu_pct: Option<f64>,
    pub load_tool_cpu_pct: Option<f64>,
    pub load_tool_share: Option<f64>,
    pub load_tool_out_of_headroom: bool,
    /// How long the server stayed busy after the previous step before this one began (each
    /// step starts on an idle server, so an overload does not spill into the next step).
    pub waited_for_idle_s: f64,
    /// p99 under the limit, nothing lost, and the publisher kept the rate.
    pub met_limits: bool,
    /// Met the limits with the load tool inside its headroom: only such a step is a figure.
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_kib: Option<u64>,
}

fn opt(value: Option<f64>, unit: &str) -> String {
    value.map_or("n/a".to_owned(), |v| format!("{v:.1}{unit}"))
}

fn share(value: Option<f64>, cores: usize) -> String {
    value.map_or("n/a".to_owned(), |v| {
        format!("{:.0} % of {cores} cores", v * 100.0)
    })
}

fn ms(p: &Percentiles) -> String {
    format!(
        "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2} ms",
        p.p50, p.p90, p.p99, p.max
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "tack bench: {} — {} over {}, {} connections in {} room(s), {} B messages",
            self.target,
            self.workload,
            format!("{:?}", self.transport).to_lowercase(),
            self.connections,
            self.rooms,
            self.size
        );
        let row = |t: &mut String, name: &str, value: String| {
            let _ = writeln!(t, "  {name:<22} {value}");
        };
        row(
            &mut t,
            "ready",
            format!(
                "{} of {} (ramp {:.1} s)",
                self.ready, self.connections, self.ramp_s
            ),
        );
        row(&mut t, "connect time", ms(&self.connect_ms));
        if self.workload != "idle" {
            row(
                &mut t,
                "published",
                format!(
                    "{} ({:.0}/s, offered {:.0}/s)",
                    self.published, self.publish_rate, self.rate
                ),
            );
            row(
                &mut t,
                "delivered",
                format!(
                    "{} of {} expected ({:.0}/s)",
                    self.delivered, self.expected, self.deliveries_per_s
                ),
            );
            row(&mut t, "lost", self.lost.to_string());
            row(&mut t, "duplicated", self.duplicated.to_string());
            row(&mut t, "latency", ms(&self.latency_ms));
        }
        for step in &self.steps {
            row(
                &mut t,
                &format!("  step {:.0}/s", step.rate),
                format!(
                    "{:.0} deliveries/s, p99 {:.2} ms, lost {}, load tool {}{}",
                    step.deliveries_per_s,
                    step.latency_ms.p99,
                    step.lost,
                    share(step.load_tool_share, self.load_tool_cores),
                    match (step.passed, step.load_tool_out_of_headroom) {
                        (true, _) => "",
                        (false, true) => "  <- load tool without headroom",
                        (false, false) => "  <- over the limit",
                    }
                ),
            );
        }
        if let Some(s) = &self.saturation {
            row(
                &mut t,
                "saturation",
                format!(
                    "{:.0} deliveries/s at {:.0} msg/s (p99 {:.2} ms < {:.0} ms, nothing lost){}",
                    s.deliveries_per_s,
                    s.rate,
                    s.p99_ms,
                    s.p99_limit_ms,
                    if s.limited_by_load_tool {
                        "; a floor: the load tool ran out of headroom above it"
                    } else {
                        ""
                    }
                ),
            );
        }
        if let (Some(before), Some(after)) = (self.server_rss_kib_before, self.server_rss_kib_after)
        {
            row(
                &mut t,
                "server memory",
                format!(
                    "{before} KiB -> {after} KiB ({} per connection)",
                    opt(self.rss_per_connection_kib, " KiB")
                ),
            );
        }
        row(
            &mut t,
            "server CPU",
            opt(self.server_cpu_pct, "% of a core"),
        );
        row(
            &mut t,
            "load tool CPU",
            format!(
                "{} on {} threads ({}){} — {}",
                opt(self.load_tool_cpu_pct, "% of a core"),
                self.load_tool_threads,
                share(self.load_tool_share, self.load_tool_cores),
                if self.load_tool_out_of_headroom {
                    ": no headroom, not a figure"
                } else {
                    ""
                },
                self.note
            ),
        );
        if self.errors.is_empty() {
            row(&mut t, "errors", "none".into());
        } else {
            for (kind, count) in &self.errors {
                row(&mut t, "error", format!("{count} × {kind}"));
            }
        }
        f.write_str(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_tool_has_headroom_up_to_four_fifths_of_the_machine_s_cores() {
        // 150 % of one core on 2 cores is 75 % of them: a figure.
        assert_eq!(load_tool_share(Some(150.0), 2), (Some(0.75), false));
        // 170 % is 85 %: the tool may have set the figure.
        let (share, out) = load_tool_share(Some(170.0), 2);
        assert!((share.unwrap() - 0.85).abs() < 1e-9);
        assert!(out);
        // The same CPU on 4 cores leaves room.
        assert!(!load_tool_share(Some(170.0), 4).1);
        // Without /proc there is no figure to judge.
        assert_eq!(load_tool_share(None, 2), (None, false));
    }
}
