//! `tack bench`: flags in, a [`tack_bench::BenchConfig`] out, then the report as a table or
//! JSON. The load generator itself lives in the `tack-bench` crate.

use crate::error::CliError;
use clap::ValueEnum;
use std::time::Duration;
use tack_bench::{BenchConfig, BenchError, Protocol, PublishTo, Transport, Workload};

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchTransport {
    Ws,
    Stream,
    Poll,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchWorkload {
    /// One publisher at --rate messages/s over the rooms; every connection receives its room's.
    Broadcast,
    /// Every connection enters its room and sends --chat-rate chatMessages/s.
    Chat,
    /// Broadcast at rising rates; reports the highest rate with p99 under --p99-limit and nothing lost.
    Saturate,
    /// Connect and hold; with --server-pid, reports server memory per connection.
    Idle,
}

/// Load-test a real-time server: N connections, a message rate, latency and loss.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Server URL: http://host:port for Tack (directly or through Pushpin), or a ws:// URL with --plain.
    #[arg(long)]
    url: String,
    /// Another server of the same deployment (Tack nodes sharing one Redis); repeat for more.
    /// WebSocket subscribers are spread over --url and these, round-robin.
    #[arg(long = "also-url", value_name = "URL")]
    also_url: Vec<String>,
    #[arg(long, value_enum, default_value = "ws")]
    transport: BenchTransport,
    #[arg(long, value_enum, default_value = "broadcast")]
    workload: BenchWorkload,
    /// Connections to open (at most 50,000).
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Rooms the connections are spread over (connection i is in room i mod R).
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// New connections a second while ramping up.
    #[arg(long, default_value_t = 2000)]
    ramp: u32,
    /// Broadcast messages a second (the first rate for --workload saturate).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Chat messages a second each connection sends (--workload chat).
    #[arg(long, default_value_t = 1.0)]
    chat_rate: f64,
    /// Message size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// How long traffic runs (or, for idle, how long connections are held): 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Pause between "all connected" and the first message.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    settle: Duration,
    /// Longest wait after the last message for deliveries on their way.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    drain: Duration,
    /// Saturation: each step's length.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    step: Duration,
    /// Saturation: the rate is multiplied by this each step.
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// Saturation: a step fails when p99 latency reaches this.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    p99_limit: Duration,
    /// Saturation: at most this many steps.
    #[arg(long, default_value_t = 15)]
    max_steps: usize,
    /// Saturation: steps after the search that bisect between the highest passing rate and
    /// the rate one factor above it (each halves the figure's uncertainty, in log scale).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=6))]
    refine: u8,
    /// Tack over WebSocket: a subscriber the server disconnects (1008 too slow, 1001
    /// restarting) reconnects and watches again from the last id it saw, as Tack's client
    /// does; the drain then waits while deliveries still arrive (up to 60 s).
    #[arg(long)]
    resume: bool,
    /// The target is a plain WebSocket broadcast endpoint, not a Tack server: no subscribe
    /// frames, a socket is ready once connected. Needs --publish-url.
    #[arg(long)]
    plain: bool,
    /// Where broadcast messages go: http(s)://…/publish/ (Pushpin format) or ws(s):// (one
    /// text frame per message). A Tack server takes publishes on its control listener
    /// (`tack serve --control-listen`, 127.0.0.1:7998 by default): http://HOST:PORT/publish/.
    #[arg(long)]
    publish_url: Option<String>,
    /// Room and channel names are `<prefix>-<n>` (default: unique per run, so runs against one
    /// server never share history). A plain endpoint behind Pushpin needs a known one.
    #[arg(long)]
    prefix: Option<String>,
    /// Bearer token for /publish/ and the connections.
    #[arg(long, env = "TACK_TOKEN")]
    token: Option<String>,
    /// Server process ids (comma-separated or repeated) whose CPU and memory to report.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Threads the connections are spread over, each with its own event loop (default: one
    /// per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    allow_remote: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

/// `10s`, `500ms`, `2m` or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; use e.g. 10s, 500ms or 2m"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit `{unit}` in `{text}`; use ms, s or m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

impl BenchArgs {
    fn config(self) -> Result<(BenchConfig, bool), CliError> {
        let url = crate::base_url(&self.url)?;
        let mut cfg = BenchConfig::new(url);
        for also in &self.also_url {
            cfg.also.push(crate::base_url(also)?);
        }
        cfg.transport = match self.transport {
            BenchTransport::Ws => Transport::Ws,
            BenchTransport::Stream => Transport::Stream,
            BenchTransport::Poll => Transport::Poll,
        };
        cfg.protocol = if self.plain {
            Protocol::Plain
        } else {
            Protocol::Tack
        };
        cfg.workload = match self.workload {
            BenchWorkload::Broadcast => Workload::Broadcast { rate: self.rate },
            BenchWorkload::Chat => Workload::Chat {
                rate_per_client: self.chat_rate,
            },
            BenchWorkload::Saturate => Workload::Saturate {
                start_rate: self.rate,
                factor: self.factor,
                step: self.step,
                p99_limit: self.p99_limit,
                max_steps: self.max_steps,
                refine: usize::from(self.refine),
            },
            BenchWorkload::Idle => Workload::Idle,
        };
        cfg.connections = self.connections;
        cfg.rooms = self.rooms;
        cfg.ramp = self.ramp;
        cfg.size = self.size;
        cfg.duration = self.duration;
        cfg.settle = self.settle;
        cfg.drain = self.drain;
        cfg.resume = self.resume;
        cfg.token = self.token;
        if let Some(prefix) = self.prefix {
            cfg.prefix = prefix;
        }
        cfg.allow_remote = self.allow_remote;
        cfg.server_pids = self.server_pid;
        cfg.progress = !self.quiet;
        if let Some(threads) = self.threads {
            cfg.threads = threads;
        }
        if let Some(publish) = self.publish_url {
            let url = crate::base_url(&publish)?;
            cfg.publish = Some(match url.scheme() {
                "ws" | "wss" => PublishTo::Ws(url),
                _ => PublishTo::Http(url),
            });
        }
        cfg.validate()
            .map_err(|e| CliError::BadUrl(e.to_string()))?;
        Ok((cfg, self.json))
    }
}

/// Runs the benchmark and prints its report (a table, or JSON with `--json`) on stdout.
pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    let (cfg, json) = args.config()?;
    let report = tack_bench::run(cfg).await.map_err(|e| match e {
        BenchError::Publisher { url, detail } => CliError::Unreachable {
            url,
            reason: detail,
        },
        BenchError::NothingConnected { url, errors } => CliError::Unreachable {
            url,
            reason: format!("no connection became ready ({errors})"),
        },
        other => CliError::BadUrl(other.to_string()),
    })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serializes")
        );
    } else {
        print!("{report}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_the_examples() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
