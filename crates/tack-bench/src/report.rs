//! The result of a run: the JSON object `--json` prints and the table printed otherwise.

use crate::config::{Protocol, Transport};
use crate::tally::Percentiles;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Printed with every result: the figures are only comparable within one machine and run.
pub const SHARED_MACHINE_NOTE: &str =
    "the load tool runs on the same machine as the server and shares its CPU";

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
    /// How long the server stayed busy after the previous step before this one began (each
    /// step starts on an idle server, so an overload does not spill into the next step).
    pub waited_for_idle_s: f64,
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
                    "{:.0} deliveries/s, p99 {:.2} ms, lost {}{}",
                    step.deliveries_per_s,
                    step.latency_ms.p99,
                    step.lost,
                    if step.passed {
                        ""
                    } else {
                        "  <- over the limit"
                    }
                ),
            );
        }
        if let Some(s) = &self.saturation {
            row(
                &mut t,
                "saturation",
                format!(
                    "{:.0} deliveries/s at {:.0} msg/s (p99 {:.2} ms < {:.0} ms, nothing lost)",
                    s.deliveries_per_s, s.rate, s.p99_ms, s.p99_limit_ms
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
                "{} — {}",
                opt(self.load_tool_cpu_pct, "% of a core"),
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
