//! One benchmark run from start to end: ramp the connections up, let them settle, drive the
//! workload, wait for stragglers, measure, close everything.

use crate::config::{BenchConfig, Protocol, PublishTo, Workload};
use crate::conn;
use crate::error::BenchError;
use crate::procstat;
use crate::publish::Publisher;
use crate::report::{load_tool_share, Machine, Report, Saturation, Step, SHARED_MACHINE_NOTE};
use crate::tally::{Tally, Window};
use crate::workers::Workers;
use parking_lot::Mutex;
use std::io::IsTerminal as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Handshakes in progress at once; more only queue in the server's accept backlog.
const HANDSHAKES_AT_ONCE: usize = 256;
/// How long closing every connection may take at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What every connection task shares.
pub struct Run {
    pub cfg: BenchConfig,
    pub tally: Tally,
    /// The run is over: every connection closes.
    pub stop: CancellationToken,
    /// Traffic begins (chat members start speaking).
    pub go: CancellationToken,
    traffic_until: Mutex<Option<Instant>>,
    /// The publisher's HTTP client.
    pub http: reqwest::Client,
    /// One HTTP client per connection thread, so a stream's or poll's pooled connection stays
    /// on the thread that uses it.
    subscriber_http: Vec<reqwest::Client>,
    pub handshakes: Semaphore,
    /// Where WebSocket connections go: connection `n` to the `n` mod len-th.
    pub ws_urls: Vec<Url>,
    /// The server's base URL ending in `/`, for `stream`, `poll`, `send`.
    pub http_base: Url,
}

impl Run {
    /// Whether chat members should be sending now.
    pub fn traffic_open(&self) -> bool {
        self.go.is_cancelled()
            && self
                .traffic_until
                .lock()
                .is_some_and(|until| Instant::now() < until)
    }

    /// The HTTP client for connection `conn`'s requests (its thread's).
    pub fn http_for(&self, conn: usize) -> &reqwest::Client {
        &self.subscriber_http[conn % self.subscriber_http.len()]
    }

    /// Where WebSocket connection `conn` goes.
    pub fn ws_url_for(&self, conn: usize) -> &Url {
        &self.ws_urls[conn % self.ws_urls.len()]
    }

    pub fn traffic_over(&self) -> bool {
        self.traffic_until
            .lock()
            .is_some_and(|until| Instant::now() >= until)
    }
}

fn endpoints(cfg: &BenchConfig, url: &Url) -> Result<(Url, Url), BenchError> {
    let bad = |why: &str| BenchError::BadUrl {
        url: url.to_string(),
        why: why.to_owned(),
    };
    let mut http = url.clone();
    let mut ws = url.clone();
    let (http_scheme, ws_scheme) = match url.scheme() {
        "http" | "ws" => ("http", "ws"),
        _ => ("https", "wss"),
    };
    http.set_scheme(http_scheme)
        .map_err(|_| bad("bad scheme"))?;
    ws.set_scheme(ws_scheme).map_err(|_| bad("bad scheme"))?;
    let bare = matches!(url.path(), "" | "/");
    if cfg.protocol == Protocol::Tack {
        // A Tack URL names the server; `/ws` is where its WebSocket lives.
        if bare {
            ws.set_path("/ws");
        }
        if url.path().ends_with("/ws") {
            let base = url.path().trim_end_matches("ws").to_owned();
            http.set_path(&base);
        }
    }
    if !http.path().ends_with('/') {
        let path = format!("{}/", http.path());
        http.set_path(&path);
    }
    http.set_query(None);
    Ok((ws, http))
}

/// Runs a benchmark to the end and reports what happened.
pub async fn run(cfg: BenchConfig) -> Result<Report, BenchError> {
    cfg.validate()?;
    // Thousands of sockets need more than the usual 1024 open files.
    let _ = rlimit::increase_nofile_limit(cfg.connections as u64 + 1024);
    let (ws_url, http_base) = endpoints(&cfg, &cfg.url)?;
    let mut ws_urls = vec![ws_url];
    for url in &cfg.also {
        ws_urls.push(endpoints(&cfg, url)?.0);
    }
    let publish_to = match (&cfg.publish, &cfg.workload) {
        (_, Workload::Idle | Workload::Chat { .. }) => None,
        (Some(to), _) => Some(to.clone()),
        (None, _) => {
            return Err(BenchError::BadSettings(
                "a broadcast needs --publish-url: a Tack server takes publishes on its control listener, http://HOST:PORT/publish/ (tack serve --control-listen; 127.0.0.1:7998 by default)".into(),
            ));
        }
    };
    let http_client = || {
        reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| BenchError::BadSettings(format!("HTTP client: {e}")))
    };
    let workers = Workers::start(cfg.threads).map_err(|e| {
        BenchError::BadSettings(format!("could not start the connection threads: {e}"))
    })?;
    let run = Arc::new(Run {
        // One tally shard per thread: a thread's connections never wait for another's.
        tally: Tally::new(cfg.rooms, workers.count()),
        stop: CancellationToken::new(),
        go: CancellationToken::new(),
        traffic_until: Mutex::new(None),
        http: http_client()?,
        subscriber_http: (0..workers.count())
            .map(|_| http_client())
            .collect::<Result<_, _>>()?,
        handshakes: Semaphore::new(HANDSHAKES_AT_ONCE),
        ws_urls,
        http_base,
        cfg,
    });
    let mut publisher = match &publish_to {
        Some(to) => Some(
            Publisher::connect(run.clone(), to)
                .await
                .map_err(|detail| BenchError::Publisher {
                    url: match to {
                        PublishTo::Http(u) | PublishTo::Ws(u) => u.to_string(),
                    },
                    detail,
                })?,
        ),
        None => None,
    };
    let pids = run.cfg.server_pids.clone();
    let rss_before = procstat::rss_kib_of(&pids).filter(|_| !pids.is_empty());
    let progress = run
        .cfg
        .progress
        .then(|| tokio::spawn(progress_line(run.clone())));

    // Ramp up: `ramp` new connections a second, in batches every 10 ms.
    let began = Instant::now();
    let mut tasks = JoinSet::new();
    let per_tick = (run.cfg.ramp as usize / 100).max(1);
    for conn in 0..run.cfg.connections {
        if conn > 0 && conn % per_tick == 0 {
            let due = Duration::from_secs_f64(conn as f64 / f64::from(run.cfg.ramp.max(1)));
            tokio::time::sleep_until(began + due).await;
        }
        tasks.spawn_on(
            conn::connection(run.clone(), conn),
            workers.for_connection(conn),
        );
    }
    let all_in = Instant::now() + Duration::from_secs(16);
    while run.tally.ready.load(Ordering::Acquire) + run.tally.closed.load(Ordering::Relaxed)
        < run.cfg.connections
        && Instant::now() < all_in
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = began.elapsed().as_secs_f64();
    let ready = run.tally.ready.load(Ordering::Acquire);
    if ready == 0 {
        finish(&run, tasks, progress).await;
        let errors = run
            .tally
            .errors()
            .into_iter()
            .map(|(kind, n)| format!("{n} × {kind}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(BenchError::NothingConnected {
            url: run.cfg.url.to_string(),
            errors: if errors.is_empty() {
                "no errors seen".into()
            } else {
                errors
            },
        });
    }
    tokio::time::sleep(run.cfg.settle).await;

    let cpu = CpuClock::start(&pids);
    let duration = run.cfg.duration;
    let mut steps = Vec::new();
    let mut saturation = None;
    let mut rss_after = None;
    // How long the broadcast's drain took: with `resume`, deliveries go on arriving in it.
    let mut drained = Duration::ZERO;
    let window = match run.cfg.workload.clone() {
        Workload::Broadcast { rate } => {
            if let Some(p) = publisher.as_mut() {
                *run.traffic_until.lock() = Some(Instant::now() + duration);
                run.go.cancel();
                p.publish_for(rate, duration).await;
            }
            drained = drain(&run).await;
            run.tally.window()
        }
        Workload::Chat { .. } => {
            *run.traffic_until.lock() = Some(Instant::now() + duration);
            run.go.cancel();
            tokio::time::sleep(duration).await;
            drain(&run).await;
            run.tally.window()
        }
        Workload::Idle => {
            tokio::time::sleep(duration).await;
            rss_after = procstat::rss_kib_of(&pids).filter(|_| !pids.is_empty());
            run.tally.window()
        }
        Workload::Saturate {
            start_rate,
            factor,
            step,
            p99_limit,
            max_steps,
            refine,
        } => {
            let p = publisher
                .as_mut()
                .expect("a saturation run has a publisher");
            *run.traffic_until.lock() = Some(Instant::now() + MAX_SATURATION);
            run.go.cancel();
            let limit_ms = p99_limit.as_secs_f64() * 1000.0;
            let mut rate = start_rate;
            let mut best: Option<(Step, Window)> = None;
            let mut failed_in_a_row = 0;
            for _ in 0..max_steps {
                let (s, w) = saturation_step(&run, p, &pids, rate, step, limit_ms).await;
                steps.push(s.clone());
                // On a shared machine one step can fail on a scheduling hiccup; the search
                // goes on past a single failure and ends after two in a row, or when the
                // server delivered less than half of what was offered.
                if s.passed {
                    failed_in_a_row = 0;
                    best = Some((s, w));
                } else {
                    failed_in_a_row += 1;
                    let hopeless = s.deliveries_per_s
                        < 0.5 * rate * run.tally.ready.load(Ordering::Relaxed) as f64;
                    if failed_in_a_row >= 2 || hopeless {
                        break;
                    }
                }
                rate *= factor;
            }
            // The coarse search knows the figure to within one factor; bisecting the gap
            // above the highest pass narrows it (two steps: within ~11 % at factor 1.5).
            if let Some((found, _)) = &best {
                let (mut low, mut high) = (found.rate, found.rate * factor);
                for _ in 0..refine {
                    let rate = (low * high).sqrt();
                    let (s, w) = saturation_step(&run, p, &pids, rate, step, limit_ms).await;
                    steps.push(s.clone());
                    if s.passed {
                        low = rate;
                        best = Some((s, w));
                    } else {
                        high = rate;
                    }
                }
            }
            match best {
                Some((s, w)) => {
                    saturation = Some(Saturation {
                        rate: s.rate,
                        deliveries_per_s: s.deliveries_per_s,
                        p99_ms: s.latency_ms.p99,
                        p99_limit_ms: limit_ms,
                        limited_by_load_tool: steps
                            .iter()
                            .any(|above| above.rate > s.rate && above.load_tool_out_of_headroom),
                    });
                    w
                }
                None => Window::default(),
            }
        }
    };
    let (load_tool_cpu_pct, server_cpu_pct) = cpu.stop(&pids);
    finish(&run, tasks, progress).await;
    drop(workers);

    let cfg = &run.cfg;
    let window_s = match (&cfg.workload, &saturation) {
        (Workload::Saturate { step, .. }, _) => step.as_secs_f64(),
        _ => duration.as_secs_f64(),
    };
    // A resumed subscriber's deliveries arrive during the drain too; they are not counted as
    // if they had come in the traffic window.
    let delivery_window_s = if cfg.resume {
        window_s + drained.as_secs_f64()
    } else {
        window_s
    };
    let rate = match (&cfg.workload, &saturation) {
        (Workload::Broadcast { rate }, _) => *rate,
        (Workload::Chat { rate_per_client }, _) => rate_per_client * ready as f64,
        (Workload::Saturate { .. }, Some(s)) => s.rate,
        _ => 0.0,
    };
    let (cores, memory_kib) = procstat::machine();
    let (load_tool_share, load_tool_out_of_headroom) = load_tool_share(load_tool_cpu_pct, cores);
    let rss_per_connection_kib = match (rss_before, rss_after) {
        (Some(before), Some(after)) => Some((after as f64 - before as f64) / ready as f64),
        _ => None,
    };
    Ok(Report {
        target: cfg.url.to_string(),
        transport: cfg.transport,
        protocol: cfg.protocol,
        workload: cfg.workload.name(),
        connections: cfg.connections,
        ready,
        rooms: cfg.rooms,
        size: cfg.size,
        rate,
        duration_s: window_s,
        ramp_s,
        published: window.published,
        publish_rate: window.published as f64 / window_s,
        expected: window.expected,
        delivered: window.delivered,
        lost: window.expected.saturating_sub(window.delivered),
        duplicated: window.duplicated,
        deliveries_per_s: window.delivered as f64 / delivery_window_s,
        latency_ms: window.latency,
        connect_ms: window.connect,
        errors: run.tally.errors(),
        load_tool_cpu_pct,
        load_tool_share,
        load_tool_cores: cores,
        load_tool_threads: cfg.threads,
        load_tool_out_of_headroom,
        server_cpu_pct,
        server_rss_kib_before: rss_before,
        server_rss_kib_after: rss_after,
        rss_per_connection_kib,
        saturation,
        steps,
        machine: Machine { cores, memory_kib },
        note: SHARED_MACHINE_NOTE,
    })
}

/// One saturation step: waits for the server to be idle, publishes at `rate` for `length`,
/// drains, and judges the step against the p99 limit.
async fn saturation_step(
    run: &Run,
    publisher: &mut Publisher,
    pids: &[u32],
    rate: f64,
    length: Duration,
    limit_ms: f64,
) -> (Step, Window) {
    let waited_for_idle = procstat::until_idle(pids, MAX_IDLE_WAIT).await;
    let step_cpu = CpuClock::start(pids);
    publisher.publish_for(rate, length).await;
    drain(run).await;
    let w = run.tally.next_epoch();
    let (tool_cpu, server_cpu) = step_cpu.stop(pids);
    let lost = w.expected.saturating_sub(w.delivered);
    let achieved = w.published as f64 / length.as_secs_f64();
    let met_limits = lost == 0 && w.latency.p99 < limit_ms && achieved >= rate * 0.9;
    let (load_tool_share, load_tool_out_of_headroom) =
        load_tool_share(tool_cpu, procstat::machine().0);
    let s = Step {
        rate,
        published: w.published,
        delivered: w.delivered,
        lost,
        duplicated: w.duplicated,
        deliveries_per_s: w.delivered as f64 / length.as_secs_f64(),
        latency_ms: w.latency,
        server_cpu_pct: server_cpu,
        load_tool_cpu_pct: tool_cpu,
        load_tool_share,
        load_tool_out_of_headroom,
        waited_for_idle_s: waited_for_idle.as_secs_f64(),
        met_limits,
        passed: met_limits && !load_tool_out_of_headroom,
    };
    (s, w)
}

/// The longest a saturation run's steps may take together.
const MAX_SATURATION: Duration = Duration::from_secs(300);
/// The longest a saturation step waits for the server to go idle after the previous one.
const MAX_IDLE_WAIT: Duration = Duration::from_secs(15);

/// Waits for deliveries still on their way, up to `drain` (with `resume`: up to `drain` after
/// the last one that arrived, at most [`MAX_RESUME_DRAIN`](crate::config::MAX_RESUME_DRAIN)
/// in all); returns how long it waited.
async fn drain(run: &Run) -> Duration {
    let began = Instant::now();
    let mut until = began + run.cfg.drain;
    let mut delivered = run.tally.delivered();
    while delivered < run.tally.expected() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
        // A resuming subscriber catches up from history long after the last message: wait
        // while deliveries still arrive.
        let now = run.tally.delivered();
        if run.cfg.resume && now > delivered {
            until = (Instant::now() + run.cfg.drain).min(began + crate::config::MAX_RESUME_DRAIN);
        }
        delivered = now;
    }
    began.elapsed()
}

/// Closes every connection and stops the progress line.
async fn finish(run: &Run, mut tasks: JoinSet<()>, progress: Option<tokio::task::JoinHandle<()>>) {
    run.stop.cancel();
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
}

/// CPU time of this process and the server's over a stretch of wall-clock time.
struct CpuClock {
    wall: Instant,
    tool: Option<Duration>,
    server: Option<Duration>,
}

impl CpuClock {
    fn start(pids: &[u32]) -> CpuClock {
        CpuClock {
            wall: Instant::now(),
            tool: procstat::cpu_time(None),
            server: procstat::cpu_time_of(pids).filter(|_| !pids.is_empty()),
        }
    }

    /// (load tool, server) CPU in % of one core.
    fn stop(&self, pids: &[u32]) -> (Option<f64>, Option<f64>) {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-3);
        let pct = |before: Option<Duration>, after: Option<Duration>| {
            Some((after?.saturating_sub(before?)).as_secs_f64() / wall * 100.0)
        };
        (
            pct(self.tool, procstat::cpu_time(None)),
            pct(
                self.server,
                procstat::cpu_time_of(pids).filter(|_| !pids.is_empty()),
            ),
        )
    }
}

/// Once a second: connections, messages and deliveries so far, on one line of stderr.
async fn progress_line(run: Arc<Run>) {
    let tty = std::io::stderr().is_terminal();
    let began = Instant::now();
    let mut last_delivered = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let delivered = run.tally.delivered();
        let rate = delivered.saturating_sub(last_delivered);
        last_delivered = delivered;
        let line = format!(
            "[{:>5.1}s] ready {}/{}  published {}  delivered {} ({}/s)  errors {}",
            began.elapsed().as_secs_f64(),
            run.tally.ready.load(Ordering::Relaxed),
            run.cfg.connections,
            run.tally.published.load(Ordering::Relaxed),
            delivered,
            rate,
            run.tally.error_count(),
        );
        if tty {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Transport;

    fn endpoints_of(url: &str, protocol: Protocol) -> (String, String) {
        let mut cfg = BenchConfig::new(Url::parse(url).unwrap());
        cfg.protocol = protocol;
        let (ws, http) = endpoints(&cfg, &cfg.url).unwrap();
        (ws.to_string(), http.to_string())
    }

    #[test]
    fn a_tack_server_url_gives_its_websocket_and_http_endpoints() {
        assert_eq!(
            endpoints_of("http://127.0.0.1:7999", Protocol::Tack),
            (
                "ws://127.0.0.1:7999/ws".into(),
                "http://127.0.0.1:7999/".into()
            )
        );
        assert_eq!(
            endpoints_of("ws://127.0.0.1:7999/ws", Protocol::Tack).1,
            "http://127.0.0.1:7999/"
        );
    }

    #[test]
    fn a_plain_endpoint_is_used_as_given() {
        assert_eq!(
            endpoints_of("ws://127.0.0.1:9000/sub", Protocol::Plain).0,
            "ws://127.0.0.1:9000/sub"
        );
    }

    #[test]
    fn an_unused_transport_value_still_names_itself() {
        assert_eq!(serde_json::to_string(&Transport::Poll).unwrap(), "\"poll\"");
    }
}
