//! The real desktop window, driven through tauri-driver and WebKitWebDriver.
//!
//! Each [`Desktop`] owns its own tauri-driver (on free ports) and its own data directories, so
//! stories never share saved profiles or window state. The X display comes from `DISPLAY`
//! (`scripts/test.sh` starts Xvfb).

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tack_testkit::free_port;
use tokio::net::TcpStream;

/// How long the UI gets to show what a story expects. Generous: a debug build on two shared
/// cores under Xvfb; a wait returns as soon as the condition holds.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Desktop {
    pub client: Client,
    driver: DriverProcesses,
    _data: tempfile::TempDir,
    story: String,
    shots: u32,
}

impl Desktop {
    /// Launches the app with `args` (e.g. `["--connect", url]`) and waits for its window.
    pub async fn launch(story: &str, args: &[&str]) -> Desktop {
        Desktop::launch_with_env(story, args, &[]).await
    }

    /// Like `launch`, with extra environment for the app (e.g. a desktop theme).
    pub async fn launch_with_env(story: &str, args: &[&str], env: &[(&str, &str)]) -> Desktop {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "the desktop stories need an X display: run scripts/test.sh, which starts Xvfb"
        );
        let data = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        let native_port = free_port();
        let driver = Command::new(tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            // Fresh profile store and window state for every story.
            .env("XDG_DATA_HOME", data.path().join("data"))
            .env("XDG_CONFIG_HOME", data.path().join("config"))
            .env("XDG_CACHE_HOME", data.path().join("cache"))
            .env_remove("TACK_CONNECT")
            .envs(env.iter().copied())
            // Its own process group: WebKitWebDriver and the app are stopped with it.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver runs (scripts/setup.sh test installs it)");
        let driver = DriverProcesses(driver);
        wait_for_port(port).await;
        // Both of rustls' crypto providers are compiled into the workspace, so none is the
        // default; WebDriver traffic is plain HTTP on loopback and any provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let caps = json!({
            "tauri:options": {
                "application": app_binary(),
                "args": args,
            }
        });
        let client = ClientBuilder::rustls()
            .expect("rustls client")
            .capabilities(caps.as_object().expect("an object").clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("tauri-driver starts the app");
        Desktop {
            client,
            driver,
            _data: data,
            story: story.to_owned(),
            shots: 0,
        }
    }

    /// The element with `data-testid="id"`, once it exists.
    pub async fn find(&self, id: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(&format!("[data-testid=\"{id}\"]")))
            .await
            .unwrap_or_else(|e| panic!("[data-testid={id}] never appeared: {e}"))
    }

    /// Asks `probe` every 100 ms until it answers `Ok`, and returns that. Past [`UI_TIMEOUT`]
    /// it saves a screenshot (`timeout-<shot>`) and panics saying the window never showed
    /// `what`, with `probe`'s last answer. Every wait of a story on the window is this one.
    pub async fn eventually<T>(
        &mut self,
        shot: &str,
        what: &str,
        mut probe: impl AsyncFnMut(&Desktop) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            match probe(self).await {
                Ok(found) => return found,
                Err(last) if Instant::now() > deadline => {
                    self.screenshot(&format!("timeout-{shot}")).await;
                    panic!("the window never showed {what}; last: {last}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the text of `[data-testid=id]` satisfies `ok`; returns it.
    pub async fn wait_text(&mut self, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let css = format!("[data-testid=\"{id}\"]");
        self.eventually(id, &format!("{what} in [data-testid={id}]"), async |app| {
            let el = app
                .client
                .find(Locator::Css(&css))
                .await
                .map_err(|_| "no such element".to_owned())?;
            let text = el.text().await.map_err(|e| e.to_string())?;
            if ok(&text) {
                Ok(text)
            } else {
                Err(format!("{text:?}"))
            }
        })
        .await
    }

    /// Texts of every element with `data-testid=id`, in document order.
    pub async fn texts(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        for el in self
            .client
            .find_all(Locator::Css(&format!("[data-testid=\"{id}\"]")))
            .await
            .unwrap_or_default()
        {
            out.push(el.text().await.unwrap_or_default());
        }
        out
    }

    /// Waits until the texts of all `data-testid=id` elements satisfy `ok`; returns them.
    pub async fn wait_texts(
        &mut self,
        id: &str,
        what: &str,
        ok: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        self.eventually(id, &format!("{what} in [data-testid={id}]"), async |app| {
            let texts = app.texts(id).await;
            if ok(&texts) {
                Ok(texts)
            } else {
                Err(format!("{texts:?}"))
            }
        })
        .await
    }

    /// Types `text` into `[data-testid=id]`.
    pub async fn type_into(&self, id: &str, text: &str) {
        self.find(id)
            .await
            .send_keys(text)
            .await
            .expect("typing works");
    }

    pub async fn click(&self, id: &str) {
        self.find(id).await.click().await.expect("clicking works");
    }

    /// Saves a PNG of the window to the artifacts dir (`TACK_E2E_ARTIFACTS`, default
    /// `tests/e2e/artifacts`) as `<story>-<n>-<name>.png`.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        self.shots += 1;
        let dir = std::env::var_os("TACK_E2E_ARTIFACTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/artifacts")
            });
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(format!("{}-{:02}-{}.png", self.story, self.shots, name));
        // WebKit hands out the last painted frame; let it paint what the DOM holds now. rAF can
        // stall (WebKit throttles an unfocused window), so a timer ends the wait too, and the
        // whole call is bounded: a screenshot is evidence, never a reason to hang.
        //
        // WebKitWebDriver takes the shot after the page's *next* paint. With WebKit's plain
        // (non-composited) rendering, which the app uses, a page where nothing changes never
        // paints again and the shot would wait forever; so while it is taken, a 1-pixel,
        // practically transparent dot in the corner changes every 16 ms (and is removed after).
        let painted = self.client.execute_async(
            "const done = arguments[0]; let sent = false; \
             const go = () => { if (!sent) { sent = true; done(); } }; \
             const dot = document.createElement('div'); dot.id = '__tack_paint_nudge'; \
             dot.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647;background:#000;opacity:0.01'; \
             document.body.append(dot); let odd = false; \
             window.__tackPaintNudge = setInterval(() => { odd = !odd; dot.style.opacity = odd ? '0.02' : '0.01'; }, 16); \
             requestAnimationFrame(() => requestAnimationFrame(go)); setTimeout(go, 300);",
            vec![],
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), painted).await;
        match tokio::time::timeout(Duration::from_secs(10), self.client.screenshot()).await {
            Ok(Ok(png)) => std::fs::write(&path, png).expect("write screenshot"),
            Ok(Err(e)) => eprintln!("screenshot {name} failed: {e}"),
            Err(_) => eprintln!("screenshot {name}: the window did not paint within 10 s"),
        }
        let cleanup = self.client.execute(
            "clearInterval(window.__tackPaintNudge); document.getElementById('__tack_paint_nudge')?.remove();",
            vec![],
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), cleanup).await;
        path
    }

    /// Memory of the app and the WebKit processes it started, in bytes: their proportional
    /// set size (PSS), so the WebKit libraries they share are counted once, not three times.
    /// The drivers that share the app's process group are not counted.
    pub fn app_memory_bytes(&self) -> u64 {
        self.app_processes().iter().map(|p| p.pss_bytes()).sum()
    }

    /// The app and the WebKit processes it started (web, network), without the drivers.
    pub fn app_processes(&self) -> Vec<AppProcess> {
        processes_in_group(self.driver.0.id() as i64)
            .into_iter()
            .filter(|p| !p.comm.starts_with("tauri-driver") && !p.comm.starts_with("WebKitWebDriv"))
            .collect()
    }

    /// When the app's own process started (not the drivers'), on the wall clock.
    pub fn app_started_at(&self) -> Option<std::time::SystemTime> {
        let app = self
            .app_processes()
            .into_iter()
            .find(|p| p.comm.starts_with("tack-desktop"))?;
        ProcStat::read(app.pid)?.started_at()
    }

    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Every process in process group `group`.
pub fn processes_in_group(group: i64) -> Vec<AppProcess> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Some(stat) = ProcStat::read(pid) else {
            continue;
        };
        if stat.pgrp == group {
            found.push(AppProcess {
                pid,
                comm: stat.comm,
            });
        }
    }
    found
}

/// One process of the running app.
pub struct AppProcess {
    pub pid: u32,
    /// The kernel's short name: `tack-desktop`, `WebKitWebProces`, `WebKitNetworkP`.
    pub comm: String,
}

impl AppProcess {
    /// Proportional set size in bytes (0 once the process is gone).
    pub fn pss_bytes(&self) -> u64 {
        let rollup =
            std::fs::read_to_string(format!("/proc/{}/smaps_rollup", self.pid)).unwrap_or_default();
        let kb: u64 = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        kb * 1024
    }

    /// The environment the process was started with (what it inherited), as `NAME=value` pairs.
    pub fn environ(&self) -> Vec<(String, String)> {
        std::fs::read(format!("/proc/{}/environ", self.pid))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                let (k, v) = kv.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }

    /// The files the process has mapped (its libraries), one path per mapping.
    pub fn mapped_files(&self) -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{}/maps", self.pid))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5).map(str::to_owned))
            .collect()
    }

    /// CPU time used so far, user and system (zero once the process is gone); read the way
    /// `tack bench` reads a server's.
    pub fn cpu_time(&self) -> Duration {
        tack_bench::procstat::cpu_time(Some(self.pid)).unwrap_or_default()
    }
}

/// The fields of `/proc/<pid>/stat` the harness needs.
struct ProcStat {
    comm: String,
    pgrp: i64,
    /// Clock ticks after boot when the process started.
    start_ticks: u64,
}

impl ProcStat {
    /// USER_HZ, the unit of the times in `stat`: 100 on every Linux this runs on.
    const TICKS_PER_S: u64 = 100;

    fn read(pid: u32) -> Option<ProcStat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid pgrp ...`; comm may contain spaces, so split after `)`.
        let (head, rest) = stat.rsplit_once(") ")?;
        let comm = head.split_once(" (").map(|(_, c)| c)?.to_owned();
        let fields: Vec<&str> = rest.split(' ').collect();
        Some(ProcStat {
            comm,
            pgrp: fields.get(2)?.parse().ok()?,
            // Field 22 of the line, the 20th after `comm`.
            start_ticks: fields.get(19)?.parse().ok()?,
        })
    }

    /// The start as wall-clock time: the process's age is the system's uptime minus its start
    /// (both since boot, 10 ms resolution), taken back from now. (`btime` would be whole seconds.)
    fn started_at(&self) -> Option<std::time::SystemTime> {
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let age = (uptime - self.start_ticks as f64 / Self::TICKS_PER_S as f64).max(0.0);
        std::time::SystemTime::now().checked_sub(Duration::from_secs_f64(age))
    }
}

/// tauri-driver, WebKitWebDriver and the app: stopped together when dropped, so a failed story
/// never leaves a window running.
struct DriverProcesses(Child);

impl Drop for DriverProcesses {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// The app under test: `TACK_DESKTOP_BIN` (the benchmark points it at a release build), else
/// the debug binary Cargo built for these tests.
fn app_binary() -> PathBuf {
    std::env::var_os("TACK_DESKTOP_BIN")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_BIN_EXE_tack-desktop").map(PathBuf::from))
        .expect("set TACK_DESKTOP_BIN to the tack-desktop binary")
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/tauri-driver"));
    match cargo_bin {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "tauri-driver never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Picks `path` in the GTK file dialog titled `title` the way a user does at the keyboard:
/// a whole path typed into the location field, and Enter.
/// WebDriver cannot reach these windows, so the keys go through the X server (xdotool).
pub async fn pick_in_dialog(title: &'static str, path: &std::path::Path) {
    let path = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let xdotool = |args: &[&str]| {
            let out = std::process::Command::new("xdotool")
                .args(args)
                .output()
                .expect("xdotool runs (apt install xdotool)");
            assert!(out.status.success(), "xdotool {args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        // --sync waits for the dialog to be mapped.
        let window = xdotool(&[
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            &format!("^{title}$"),
        ]);
        let window = window
            .lines()
            .next()
            .expect("the dialog's window")
            .to_owned();
        xdotool(&["windowfocus", "--sync", &window]);
        // Ctrl+L: the location field (the name field, in a save dialog), whole path selected.
        xdotool(&["key", "--clearmodifiers", "ctrl+l"]);
        xdotool(&["key", "--clearmodifiers", "ctrl+a"]);
        xdotool(&["type", "--delay", "20", &path]);
        // The first Enter may only close the field's completion popup: Enter again until the
        // dialog is gone.
        let open = || {
            std::process::Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", &format!("^{title}$")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        for _ in 0..5 {
            xdotool(&["key", "Return"]);
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while open() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !open() {
                return;
            }
        }
        panic!("the {title:?} dialog did not take {path}");
    })
    .await
    .expect("the dialog was answered");
}
