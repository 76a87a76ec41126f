//! A real browser visiting a web page: headless Chromium (Debian's package) loads a page from a
//! server of the story's own, on an origin of its choosing, and the page tries what any web page
//! can — a WebSocket, an EventSource, no-cors POSTs — against a Tack server. The page cannot see
//! a no-cors answer, so it reports only what it saw of the WebSocket and the stream (to its own
//! origin, `POST /report`); what the POSTs did, the story checks at the server.

use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the page tries, in the page's own words.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>a web page</title>
<script>
const q = new URLSearchParams(location.search);
const target = q.get('target'), control = q.get('control'), token = q.get('token') || '';
const seen = {};
let waiting = 2;
function saw(what, how) {
  if (what in seen) return;
  seen[what] = how;
  if (--waiting === 0) finish();
}
async function finish() {
  // No-cors POSTs: the page learns nothing of the answer, the server's state tells.
  const plain = { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' } };
  await fetch(`${target}/send?session=${encodeURIComponent(seen.session || 'none')}`,
    { ...plain, body: 'chatMessage:{"room":"lobby","comment":"posted by a web page"}' }).catch(() => {});
  await fetch(`${control}/publish/`, { ...plain,
    body: JSON.stringify({ items: [{ channel: 'feed', formats: { 'ws-message': { content: 'published by a web page' } } }] }) }).catch(() => {});
  await fetch('/report', { method: 'POST', body: JSON.stringify(seen) });
}
const ws = new WebSocket(target.replace(/^http/, 'ws') + '/ws');
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === 'welcome') {
    ws.send('hello:{"nick":"webpage"}');
    ws.send('chatRoomEnter:{"room":"lobby"}');
    ws.send('chatMessage:{"room":"lobby","comment":"said by a web page"}');
    saw('ws', 'welcome');
  }
};
ws.onclose = () => saw('ws', 'refused');
const es = new EventSource(`${target}/stream?rooms=lobby&nick=webstream${token ? '&token=' + token : ''}`);
es.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === 'welcome') { seen.session = m.session; saw('sse', 'welcome'); }
};
es.onerror = () => { es.close(); saw('sse', 'refused'); };
setTimeout(() => { saw('ws', 'no answer'); saw('sse', 'no answer'); }, 15000);
</script>
<p>a web page</p>
"#;

/// The story's web server: serves [`PAGE`] at `/` and takes its report.
pub struct PageServer {
    /// `http://127.0.0.1:PORT`: the page's origin.
    pub origin: String,
    reports: mpsc::Receiver<Value>,
}

impl PageServer {
    pub async fn start() -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let origin = format!("http://{}", listener.local_addr().expect("bound"));
        let (tx, reports) = mpsc::channel(4);
        let app = Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route(
                "/report",
                post(
                    |State(tx): State<mpsc::Sender<Value>>, body: String| async move {
                        let _ = tx
                            .send(serde_json::from_str(&body).unwrap_or(Value::Null))
                            .await;
                    },
                ),
            )
            .route("/favicon.ico", get(|| async { "" }))
            .with_state(tx);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PageServer { origin, reports }
    }

    /// Opens the page in headless Chromium against the Tack server at `target` (client routes)
    /// and `control` (publishing), and returns what the page saw: `{"ws": "welcome" |
    /// "refused", "sse": …}`.
    pub async fn visit(&mut self, target: &str, control: &str, token: Option<&str>) -> Value {
        let mut url = format!("{}/?target={target}&control={control}", self.origin);
        if let Some(token) = token {
            url.push_str(&format!("&token={token}"));
        }
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let mut chromium = tokio::process::Command::new("chromium")
            .args([
                "--headless",
                // Root in CI: Chromium's sandbox refuses to run as root.
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium runs (scripts/setup.sh test installs it)");
        let report = tokio::time::timeout(Duration::from_secs(60), self.reports.recv())
            .await
            .expect("the page reported within a minute")
            .expect("a report");
        let _ = chromium.kill().await;
        report
    }
}
