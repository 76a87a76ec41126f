//! The desktop app, as a user sees it: the real window under Xvfb, driven through tauri-driver
//! and WebKitWebDriver, against the real server. Screenshots of each state go to
//! `tests/e2e/artifacts/` (or `TACK_E2E_ARTIFACTS`).

mod support;

use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use support::desktop::{pick_in_dialog, Desktop};
use support::lossy_link::LossyLink;
use tack_client::events::ClientEvent;
use tack_client::{Profile, Session, SessionOptions};
use tack_server::{ServerConfig, ServerHandle};
use tokio::sync::{mpsc, Mutex};

/// One window at a time: two cores can't run several WebKit instances and a debug server
/// without stories timing each other out. (An async mutex: a failed story releases it too.)
static ONE_WINDOW: Mutex<()> = Mutex::const_new(());

async fn start_server(listen: SocketAddr) -> ServerHandle {
    tack_server::spawn(ServerConfig {
        listen,
        ..ServerConfig::on_free_loopback_ports()
    })
    .await
    .expect("the server starts")
}

fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A second person, using the client engine directly.
struct OtherClient {
    session: Session,
    events: mpsc::Receiver<Vec<ClientEvent>>,
}

impl OtherClient {
    async fn join(url: &str, nick: &str, room: &str) -> OtherClient {
        OtherClient::join_with_token(url, None, nick, room).await
    }

    async fn join_with_token(
        url: &str,
        token: Option<&str>,
        nick: &str,
        room: &str,
    ) -> OtherClient {
        let mut profile = Profile::new(nick, url);
        profile.nick = Some(nick.to_owned());
        profile.token = token.map(str::to_owned);
        let (session, events) = Session::connect(profile, SessionOptions::default());
        session.enter(room).expect("enter");
        let mut other = OtherClient { session, events };
        other
            .wait_for(|e| matches!(e, ClientEvent::Joined { room: r } if r == room))
            .await;
        other
    }

    async fn wait_for(&mut self, want: impl Fn(&ClientEvent) -> bool) -> ClientEvent {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let batch = self.events.recv().await.expect("the engine keeps running");
                if let Some(e) = batch.into_iter().find(|e| want(e)) {
                    return e;
                }
            }
        })
        .await
        .expect("the other client saw what it waited for")
    }
}

fn enter_key() -> String {
    char::from(Key::Enter).to_string()
}

/// Sends `text` from the window's composer, the way a user does: type, press Enter.
async fn say(app: &Desktop, text: &str) {
    app.type_into("composer", &format!("{text}{}", enter_key()))
        .await;
}

/// Waits until one of the window's own chat lines contains `text` and is in `state`.
async fn wait_own_line(app: &mut Desktop, text: &str, state: &str) {
    let css = format!("[data-testid=\"chat-line\"][data-state=\"{state}\"]");
    let what = format!("its own line {text:?} in state {state}");
    app.eventually("own-line", &what, async |app| {
        for el in app
            .client
            .find_all(Locator::Css(&css))
            .await
            .unwrap_or_default()
        {
            if el.text().await.unwrap_or_default().contains(text) {
                return Ok(());
            }
        }
        Err(format!("no line in state {state} holds it"))
    })
    .await;
}

/// Publishes `text` to `channel` the way a backend does.
async fn publish(url: &str, channel: &str, text: &str) {
    let body = json!({"items": [{
        "channel": channel,
        "formats": {"ws-message": {"content": text}},
    }]});
    let reply = reqwest::Client::new()
        .post(format!("{url}/publish/"))
        .json(&body)
        .send()
        .await
        .expect("publish reaches the server");
    assert!(
        reply.status().is_success(),
        "publish answered {}",
        reply.status()
    );
}

/// The monitor log's lines in order: each row's payload, or "gap in <channel>: <its words>" for
/// a gap marker. (Read from the DOM: WebDriver's visible text leaves out clipped columns.)
async fn monitor_lines(app: &Desktop) -> Vec<String> {
    let lines = app
        .client
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=\"monitor-row\"], [data-testid=\"monitor-gap\"]')) \
               .map(r => (r.dataset.testid === 'monitor-gap' ? `gap in ${r.querySelector('.c').textContent}: ` : '') \
                 + r.querySelector('.p').textContent)",
            vec![],
        )
        .await
        .expect("the page answers a script");
    serde_json::from_value(lines).expect("a list of strings")
}

fn count_containing(texts: &[String], needle: &str) -> usize {
    texts.iter().filter(|t| t.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_opens_the_lobby_on_the_builtin_server_and_sends() {
    let _window = ONE_WINDOW.lock().await;
    let mut app = Desktop::launch("first-start", &[]).await;

    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.wait_text("room-viewers", "1 viewer", |t| t.contains('1'))
        .await;
    app.find("room-lobby").await;
    app.screenshot("lobby").await;

    say(&app, "hello from the window").await;
    wait_own_line(&mut app, "hello from the window", "sent").await;
    app.screenshot("sent").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_server_admits_only_the_window_and_whoever_is_given_its_launch_secret() {
    let _window = ONE_WINDOW.lock().await;
    let mut app = Desktop::launch("launch-secret", &[]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    // The server list shows where the built-in server is and its secret, to copy.
    app.click("open-profiles").await;
    let url = app
        .wait_text("builtin-url", "the address", |t| {
            t.starts_with("http://127.0.0.1:")
        })
        .await;
    let publish_url = app
        .wait_text("builtin-publish-url", "the publish address", |t| {
            t.ends_with("/publish/")
        })
        .await;
    let token = app
        .wait_text("builtin-token", "the secret", |t| t.len() == 32)
        .await;
    app.screenshot("builtin-access").await;
    app.client
        .find(Locator::Css("button[aria-label=\"Close\"]"))
        .await
        .expect("the dialog's close button")
        .click()
        .await
        .expect("closing the dialog");

    // Another program of this machine, without the secret: nothing.
    let stranger = tack_testkit::hostile::websocket(&url, &[]).await;
    assert_eq!(stranger.expect_err("refused").status, 401);
    let no_token = tack_testkit::hostile::request(
        &publish_url,
        &[],
        Some(&tack_testkit::hostile::publish_body("lobby", "x")),
    )
    .await;
    assert_eq!(no_token.status, 401, "{no_token:?}");
    // A page rebinding its name to 127.0.0.1, even one that learned the secret: nothing.
    let bearer = format!("Bearer {token}");
    let rebound = tack_testkit::hostile::websocket(
        &url,
        &[("Host", "evil.example"), ("Authorization", &bearer)],
    )
    .await;
    assert_eq!(rebound.expect_err("refused").status, 403);
    // A real browser on a web page from another origin: nothing, with the secret or without.
    let control = publish_url.trim_end_matches("/publish/");
    let mut page = support::browser::PageServer::start().await;
    for secret in [None, Some(token.as_str())] {
        let seen = page.visit(&url, control, secret).await;
        assert_eq!(seen["ws"], "refused", "{seen}");
        assert_eq!(seen["sse"], "refused", "{seen}");
    }

    // The user's own script, given the secret, chats with the window.
    let script = OtherClient::join_with_token(&url, Some(&token), "script", "lobby").await;
    script
        .session
        .send("lobby", "hello from my script")
        .expect("send");
    app.wait_texts("chat-line", "the script's message", |t| {
        count_containing(t, "hello from my script") == 1
    })
    .await;
    assert!(
        !app.texts("chat-line")
            .await
            .iter()
            .any(|t| t.contains("web page")),
        "nothing the page tried reached the lobby"
    );
    let published = reqwest::Client::new()
        .post(&publish_url)
        .bearer_auth(&token)
        .json(
            &json!({"items": [{"channel": "lobby", "formats": {"ws-message": {"content": "x"}}}]}),
        )
        .send()
        .await
        .expect("publish");
    assert_eq!(published.status(), 200);
    app.screenshot("script-chats").await;
    script.session.close().await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dark_desktop_gets_the_dark_theme() {
    let _window = ONE_WINDOW.lock().await;
    // GTK's own way to ask for the dark variant; WebKit passes it on as prefers-color-scheme.
    let mut app =
        Desktop::launch_with_env("dark-theme", &[], &[("GTK_THEME", "Adwaita:dark")]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    let looks = app
        .client
        .execute(
            "const bg = getComputedStyle(document.documentElement).backgroundColor.match(/\\d+/g).map(Number); \
             return [matchMedia('(prefers-color-scheme: dark)').matches, (bg[0] + bg[1] + bg[2]) / 3];",
            vec![],
        )
        .await
        .expect("the page answers a script");
    let dark = looks[0].as_bool().expect("a boolean");
    let brightness = looks[1].as_f64().expect("a number");
    assert!(dark, "the window did not see the desktop's dark preference");
    assert!(
        brightness < 80.0,
        "dark theme asked for, but the window's background is bright ({brightness:.0}/255)"
    );
    app.screenshot("lobby-dark").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_starts_lean_and_a_users_own_webkit_setting_wins() {
    let _window = ONE_WINDOW.lock().await;
    // The user turns JavaScriptCore's JIT back on; everything else is left to Tack.
    let mut app = Desktop::launch_with_env("lean", &[], &[("JSC_useJIT", "1")]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    say(&app, "drawn by plain rendering").await;
    wait_own_line(&mut app, "drawn by plain rendering", "sent").await;
    app.screenshot("lean-lobby").await;

    let processes = app.app_processes();
    let web = processes
        .iter()
        .find(|p| p.comm.starts_with("WebKitWebProces"))
        .expect("the window has a web process");
    let inherited = web.environ();
    let var = |name: &str| {
        inherited
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        var("JSC_useJIT"),
        Some("1"),
        "the user's setting was overridden"
    );
    assert_eq!(var("WEBKIT_DISABLE_COMPOSITING_MODE"), Some("1"));
    assert_eq!(var("GDK_GL"), Some("disable"));

    // GTK's GL probe is off: the app's own process never loads Mesa's GLX driver (with it,
    // libLLVM's share of the app process's memory).
    let shell = processes
        .iter()
        .find(|p| p.comm.starts_with("tack-desktop"))
        .expect("the app's own process");
    let glx: Vec<String> = shell
        .mapped_files()
        .into_iter()
        .filter(|f| f.contains("libGLX_mesa"))
        .collect();
    assert!(glx.is_empty(), "GTK loaded GLX in the app process: {glx:?}");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_entering_chatting_and_leaving_shows_in_the_window() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let url = server.url();
    let mut app = Desktop::launch("presence", &["--connect", &url]).await;
    app.wait_text("room-viewers", "1 viewer", |t| t.contains('1'))
        .await;

    let mut bob = OtherClient::join(&url, "bob", "lobby").await;
    app.wait_text("room-viewers", "2 viewers", |t| t.contains('2'))
        .await;
    app.wait_texts("room-event", "bob entering", |t| {
        count_containing(t, "bob") == 1
    })
    .await;

    bob.session.send("lobby", "hi from bob").expect("bob sends");
    app.wait_texts("chat-line", "bob's message", |t| {
        count_containing(t, "hi from bob") == 1
    })
    .await;
    app.screenshot("bob-here").await;

    bob.session.leave("lobby").expect("bob leaves");
    bob.wait_for(|e| matches!(e, ClientEvent::Parted { .. }))
        .await;
    app.wait_text("room-viewers", "back to 1 viewer", |t| {
        t.contains('1') && !t.contains('2')
    })
    .await;
    app.screenshot("bob-left").await;

    bob.session.close().await;
    app.quit().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_shows_published_items_and_the_filter_narrows_them() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let url = server.url();
    let mut app = Desktop::launch("monitor", &["--connect", &url]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;

    app.click("add-channel").await;
    app.type_into("watch-input", &format!("orders{}", enter_key()))
        .await;
    app.find("channel-orders").await;

    let http = reqwest::Client::new();
    for (i, fruit) in ["apple", "banana", "apple"].iter().enumerate() {
        let body = json!({"items": [{
            "channel": "orders",
            "formats": {
                "ws-message": {"content": format!("{{\"fruit\":\"{fruit}\",\"n\":{i}}}")},
                "http-stream": {"content": format!("{fruit} {i}\n")},
            }
        }]});
        let reply = http
            .post(format!("{}/publish/", server.control_url()))
            .json(&body)
            .send()
            .await
            .expect("publish reaches the server");
        assert!(
            reply.status().is_success(),
            "publish answered {}",
            reply.status()
        );
    }
    app.wait_texts("monitor-row", "three published items", |rows| {
        rows.len() == 3
    })
    .await;
    app.screenshot("three-items").await;

    app.type_into("monitor-filter", "banana").await;
    app.wait_texts("monitor-row", "only one row", |rows| rows.len() == 1)
        .await;
    // The row's whole text, laid out or not: WebDriver's visible text can lag a re-render.
    let left = app
        .client
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=\"monitor-row\"]')).map(r => r.textContent)",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(left.as_array().map(Vec::len), Some(1), "rows left: {left}");
    assert!(
        left[0].as_str().unwrap_or_default().contains("banana"),
        "the row left is {left}"
    );
    app.screenshot("filtered").await;

    app.quit().await;
    server.shutdown().await;
}

/// A burst far faster than a window can show: the log gets the newest items of each frame and
/// says it is a sample; the counters count every item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_sampled_in_the_log_and_counted_in_full() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let url = server.url();
    let mut app = Desktop::launch("burst", &["--connect", &url]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.click("add-channel").await;
    app.type_into("watch-input", &format!("burst{}", enter_key()))
        .await;
    app.find("channel-burst").await;

    // 3 × 1,000 items, each request delivered to the window at once: far more than one
    // frame's worth.
    let http = reqwest::Client::new();
    for round in 0..3 {
        let items: Vec<_> = (0..1000)
            .map(|i| {
                json!({"channel": "burst", "formats": {"ws-message": {
                    "content": format!("{{\"round\":{round},\"n\":{i}}}")
                }}})
            })
            .collect();
        let reply = http
            .post(format!("{}/publish/", server.control_url()))
            .json(&json!({ "items": items }))
            .send()
            .await
            .expect("publish reaches the server");
        assert!(
            reply.status().is_success(),
            "publish answered {}",
            reply.status()
        );
    }

    let stats = app
        .wait_text("channel-stats", "3,000 messages", |t| t.contains("3,000"))
        .await;
    assert!(
        stats.contains("Messages"),
        "the stats panel reads {stats:?}"
    );
    let note = app
        .wait_text("monitor-sampled", "how many were not shown", |t| {
            t.contains("not shown")
        })
        .await;
    let skipped: u64 = note
        .split_whitespace()
        .find_map(|w| w.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("the note has a number: {note:?}"));
    let logged = app
        .client
        .execute("return window.__tackPerf.buffered.log", vec![])
        .await
        .expect("the page answers");
    assert!(skipped > 0, "{note}");
    assert_eq!(
        logged.as_u64().map(|l| l + skipped),
        Some(3000),
        "every item is either in the log or counted as not shown ({logged} logged, {note})"
    );
    // The newest item is always in the log. (Row text via the DOM: WebDriver's visible text
    // leaves out the clipped columns.)
    let newest = r#""round":2,"n":999"#;
    app.eventually("newest-row", "the newest item in the log", async |app| {
        let rows = app
            .client
            .execute(
                "return Array.from(document.querySelectorAll('[data-testid=\"monitor-row\"]')).map(r => r.textContent).join('\\n')",
                vec![],
            )
            .await
            .expect("script runs");
        let rows = rows.as_str().unwrap_or_default();
        if rows.contains(newest) {
            Ok(())
        } else {
            Err(rows.to_owned())
        }
    })
    .await;
    app.screenshot("sampled").await;

    app.quit().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_message_shows_literally_and_runs_nothing() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let url = server.url();
    let mut app = Desktop::launch("xss", &["--connect", &url]).await;
    app.wait_text("room-viewers", "1 viewer", |t| t.contains('1'))
        .await;

    let attack = "<img src=x onerror=alert(1)>";
    let mut mallory = OtherClient::join(&url, "mallory", "lobby").await;
    mallory.session.send("lobby", attack).expect("send");
    mallory
        .wait_for(|e| matches!(e, ClientEvent::Message { comment, .. } if comment == attack))
        .await;

    app.wait_texts("chat-line", "the literal markup", |t| {
        count_containing(t, attack) == 1
    })
    .await;
    let images = app
        .client
        .execute(
            "return document.querySelectorAll('[data-testid=\"chat-line\"] img').length",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(images, json!(0), "the message became an <img> element");
    assert!(
        app.client.get_alert_text().await.is_err(),
        "an alert is open: the markup ran"
    );
    app.screenshot("literal").await;

    mallory.session.close().await;
    app.quit().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_reconnects_and_keeps_every_message_once() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let addr = server.local_addr();
    let url = server.url();
    let mut app = Desktop::launch("restart", &["--connect", &url]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.wait_text("room-viewers", "1 viewer", |t| t.contains('1'))
        .await;
    let mut bob = OtherClient::join(&url, "bob", "lobby").await;
    bob.session
        .send("lobby", "bob before the restart")
        .expect("bob sends");
    say(&app, "typed before the restart").await;
    wait_own_line(&mut app, "typed before the restart", "sent").await;

    server.shutdown().await;
    app.wait_text("conn-status", "Reconnecting", |t| {
        t.contains("Reconnecting")
    })
    .await;
    app.screenshot("reconnecting").await;

    say(&app, "typed while away 1").await;
    say(&app, "typed while away 2").await;
    wait_own_line(&mut app, "typed while away 2", "pending").await;
    app.screenshot("pending").await;

    let server = start_server(addr).await;
    // Don't wait out the backoff: the user presses "Retry now" (if the engine hasn't already
    // started its next attempt, in which case the button is gone).
    if let Ok(retry) = app
        .client
        .find(Locator::Css("[data-testid=\"retry-now\"]"))
        .await
    {
        let _ = retry.click().await;
    }
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    wait_own_line(&mut app, "typed while away 1", "sent").await;
    wait_own_line(&mut app, "typed while away 2", "sent").await;
    // Bob is back too, and what he says on the restarted server (numbered from 1 again) shows.
    bob.wait_for(|e| matches!(e, ClientEvent::Joined { .. }))
        .await;
    bob.session
        .send("lobby", "bob after the restart")
        .expect("bob sends");
    app.wait_texts("chat-line", "bob after the restart", |t| {
        count_containing(t, "bob after the restart") == 1
    })
    .await;
    let lines = app.texts("chat-line").await;
    for text in [
        "bob before the restart",
        "typed before the restart",
        "typed while away 1",
        "typed while away 2",
        "bob after the restart",
    ] {
        assert_eq!(count_containing(&lines, text), 1, "{text:?} in {lines:#?}");
    }
    app.screenshot("reconnected").await;

    bob.session.close().await;
    app.quit().await;
    server.shutdown().await;
}

/// Regression (issue 13): the engine's `Gap` named a bare name and the window gave it to the room
/// of that name, so a watched channel's gap showed in a room, never in the monitor. Here an item
/// of channel "news" is lost on the way and already gone from the server's history (it keeps
/// one item); the window is in room "news" too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_on_a_watched_channel_shows_in_the_monitor_and_not_in_the_room_of_that_name() {
    let _window = ONE_WINDOW.lock().await;
    let server = tack_server::spawn(ServerConfig {
        history_len: 1,
        // Nothing kept for being recent either: the lost item is gone when the hole is fetched.
        live_window_ms: 0,
        ..ServerConfig::on_free_loopback_ports()
    })
    .await
    .expect("the server starts");
    let link = LossyLink::start(server.local_addr()).await;
    let mut app = Desktop::launch("channel-gap", &["--connect", &link.url()]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;

    app.click("add-room").await;
    app.type_into("join-input", &format!("news{}", enter_key()))
        .await;
    app.wait_text("room-viewers", "1 viewer in #news", |t| t.contains('1'))
        .await;
    app.click("add-channel").await;
    app.type_into("watch-input", &format!("news{}", enter_key()))
        .await;
    app.find("channel-news").await;

    publish(&server.control_url(), "news", "first item").await;
    wait_monitor_lines(&mut app, "the first item", &["first item"]).await;

    link.lose_frames_containing("lost on the way");
    publish(&server.control_url(), "news", "lost on the way").await;
    publish(&server.control_url(), "news", "after the loss").await;
    let want = [
        "first item",
        "gap in news: ┄┄ some items could not be recovered here ┄┄",
        "after the loss",
    ];
    wait_monitor_lines(&mut app, "the gap in its place", &want).await;
    app.screenshot("monitor-gap").await;

    app.click("room-news").await;
    app.find("composer").await;
    app.wait_text("room-title", "#news open", |t| t.contains("news"))
        .await;
    assert!(
        app.texts("gap-marker").await.is_empty(),
        "the room of the same name shows the channel's gap"
    );
    app.screenshot("room-without-gap").await;

    app.quit().await;
    server.shutdown().await;
}

/// Waits until the monitor log's lines (see `monitor_lines`) are `want`.
async fn wait_monitor_lines(app: &mut Desktop, what: &str, want: &[&str]) {
    let what = format!("{what} in the monitor: {want:?}");
    app.eventually("monitor-lines", &what, async |app| {
        let lines = monitor_lines(app).await;
        if lines == want {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    })
    .await;
}

/// Issue 18: someone watching a market feed narrows it with jq to tickers, then shows only
/// their prices, then slips while typing. The engine runs jq; the window only shows its
/// verdicts, and a refused expression is shown where it failed while the query in force goes
/// on working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jq_query_narrows_the_monitor_and_a_map_shows_only_the_prices() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let control = server.control_url();
    let mut app = Desktop::launch("monitor-jq", &["--connect", &server.url()]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.click("add-channel").await;
    app.type_into("watch-input", &format!("market{}", enter_key()))
        .await;
    app.find("channel-market").await;

    let acme = r#"{"type":"ticker","sym":"ACME","price":101.5}"#;
    let trade = r#"{"type":"trade","sym":"ACME","price":101.4,"qty":20}"#;
    let init = r#"{"type":"ticker","sym":"INIT","price":99.25}"#;
    for item in [acme, trade, init, "heartbeat"] {
        publish(&control, "market", item).await;
    }
    wait_monitor_lines(
        &mut app,
        "the four items",
        &[acme, trade, init, "heartbeat"],
    )
    .await;

    // The filter: what was already there is judged by the engine too.
    app.click("monitor-mode-jq").await;
    app.type_into(
        "monitor-jq-filter",
        &format!(r#".type == "ticker"{}"#, enter_key()),
    )
    .await;
    wait_monitor_lines(&mut app, "only the tickers", &[acme, init]).await;
    let later = r#"{"type":"ticker","sym":"ACME","price":102}"#;
    publish(&control, "market", trade).await;
    publish(&control, "market", later).await;
    wait_monitor_lines(
        &mut app,
        "the new ticker, not the trade",
        &[acme, init, later],
    )
    .await;
    app.screenshot("filtered").await;

    // The map: only what it yields from each item shows.
    app.type_into("monitor-jq-map", &format!(".price{}", enter_key()))
        .await;
    wait_monitor_lines(&mut app, "only the prices", &["101.5", "99.25", "102"]).await;
    app.screenshot("mapped").await;

    // A slip: a parenthesis left open. It is refused with where, and the query stays.
    app.type_into(
        "monitor-jq-filter",
        &format!(" and (.price > 100{}", enter_key()),
    )
    .await;
    let error = app
        .wait_text("monitor-jq-error", "the refusal", |t| {
            t.contains("Filter, column 36:")
        })
        .await;
    assert!(
        error.contains("expected `)` to match the `(` at column 23"),
        "the error says which parenthesis: {error:?}"
    );
    assert!(
        error.contains("The previous query still applies."),
        "{error:?}"
    );
    publish(&control, "market", trade).await;
    publish(
        &control,
        "market",
        r#"{"type":"ticker","sym":"INIT","price":98}"#,
    )
    .await;
    wait_monitor_lines(
        &mut app,
        "the previous query still at work",
        &["101.5", "99.25", "102", "98"],
    )
    .await;
    app.screenshot("refused").await;

    app.quit().await;
    server.shutdown().await;
}

/// Binary items (issue 18): a sensor publishes MessagePack and CBOR. Each row shows its first
/// bytes in hex; selecting one shows the value it holds, decoded by the engine, and its hex
/// dump; bytes that are neither show as hex only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_items_show_as_hex_and_as_the_messagepack_or_cbor_they_hold() {
    use tack_protocol::publish::{Item, PublishBody};
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let mut app = Desktop::launch("monitor-binary", &["--connect", &server.url()]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.click("add-channel").await;
    app.type_into("watch-input", &format!("sensors{}", enter_key()))
        .await;
    app.find("channel-sensors").await;

    // {"temp": 21.5, "unit": "C"}: in MessagePack, then in CBOR; then bytes that are neither.
    let msgpack: &[u8] = &[
        0x82, 0xa4, b't', b'e', b'm', b'p', 0xcb, 0x40, 0x35, 0x80, 0, 0, 0, 0, 0, 0xa4, b'u',
        b'n', b'i', b't', 0xa1, b'C',
    ];
    let cbor: &[u8] = &[
        0xa2, 0x64, b't', b'e', b'm', b'p', 0xfb, 0x40, 0x35, 0x80, 0, 0, 0, 0, 0, 0x64, b'u',
        b'n', b'i', b't', 0x61, b'C',
    ];
    let garbage: &[u8] = &[0xc1, 0xff, 0x00, 0x13];
    let http = reqwest::Client::new();
    for bytes in [msgpack, cbor, garbage] {
        let body = PublishBody {
            items: vec![Item::binary_everywhere("sensors", bytes)],
        };
        let reply = http
            .post(format!("{}/publish/", server.control_url()))
            .header("content-type", "application/json")
            .body(body.to_json())
            .send()
            .await
            .expect("publish reaches the server");
        assert!(reply.status().is_success(), "publish: {}", reply.status());
    }
    wait_monitor_lines(
        &mut app,
        "three binary items in hex",
        &[
            "⟨binary 22 B⟩ 82 a4 74 65 6d 70 cb 40 35 80 00 00 00 00 00 a4 75 6e 69 74 a1 43",
            "⟨binary 22 B⟩ a2 64 74 65 6d 70 fb 40 35 80 00 00 00 00 00 64 75 6e 69 74 61 43",
            "⟨binary 4 B⟩ c1 ff 00 13",
        ],
    )
    .await;

    let rows = app
        .client
        .find_all(Locator::Css("[data-testid=\"monitor-row\"]"))
        .await
        .expect("rows");
    rows[0].click().await.expect("select the MessagePack item");
    app.find("binary-messagepack").await;
    let detail = app
        .wait_text("monitor-detail", "the decoded value", |t| {
            t.contains("temp") && t.contains("21.5")
        })
        .await;
    assert!(detail.contains("unit"), "{detail:?}");
    app.screenshot("messagepack").await;
    app.click("binary-hex").await;
    app.wait_text("binary-dump", "the hex dump", |t| {
        t.starts_with("00000000  82 a4 74 65") && t.contains("|..temp.@5")
    })
    .await;

    rows[1].click().await.expect("select the CBOR item");
    app.find("binary-cbor").await;
    app.wait_text("monitor-detail", "the CBOR value", |t| {
        t.contains("temp") && t.contains("21.5")
    })
    .await;
    app.screenshot("cbor").await;

    rows[2].click().await.expect("select the garbage");
    app.wait_text("binary-dump", "hex only", |t| {
        t.starts_with("00000000  c1 ff 00 13")
    })
    .await;
    assert!(
        app.texts("binary-messagepack").await.is_empty()
            && app.texts("binary-cbor").await.is_empty(),
        "garbage decodes as nothing"
    );
    app.screenshot("garbage").await;

    app.quit().await;
    server.shutdown().await;
}

/// Issue 18: someone records the orders feed while it is live, stops, and opens the
/// recording again later: it replays at ten times the recorded speed, into the same log, in
/// the order the items arrived. A file with a bad line is refused with where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_traffic_recorded_from_the_monitor_replays_in_its_original_order() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let control = server.control_url();
    let files = tempfile::tempdir().expect("a directory for the recording");
    let recording = files.path().join("orders-recording.jsonl");
    let mut app = Desktop::launch("monitor-replay", &["--connect", &server.url()]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.click("add-channel").await;
    app.type_into("watch-input", &format!("orders{}", enter_key()))
        .await;
    app.find("channel-orders").await;

    // Recording, while the feed is live.
    app.click("monitor-record").await;
    let chosen = app
        .find("record-channel-orders")
        .await
        .prop("checked")
        .await
        .expect("the checkbox has a state");
    assert_eq!(
        chosen.as_deref(),
        Some("true"),
        "the channel shown is chosen"
    );
    app.screenshot("choosing").await;
    app.click("record-start").await;
    pick_in_dialog("Record to", &recording).await;
    app.find("monitor-record-stop").await;
    let items: Vec<String> = (1..=6)
        .map(|n| format!(r#"{{"order":{n},"sym":"ACME","qty":{}}}"#, n * 10))
        .collect();
    for item in &items {
        publish(&control, "orders", item).await;
        // Each item after the one before has arrived: a spacing the replay keeps, scaled.
        wait_monitor_lines_containing(&mut app, item).await;
    }
    app.wait_text("monitor-recorded", "all six items written", |t| t == "6")
        .await;
    app.screenshot("recording").await;
    app.click("monitor-record-stop").await;
    app.wait_texts("notice", "how many were recorded", |n| {
        n.iter().any(|t| t.contains("Recorded 6 items to"))
    })
    .await;

    // The file is the export's format, one item a line, in arrival order.
    let file = std::fs::read_to_string(&recording).expect("the recording was written");
    let payloads: Vec<String> = file
        .lines()
        .map(|l| {
            let record: tack_client::monitor::Record =
                serde_json::from_str(l).expect("each line is a record");
            assert_eq!(record.channel, "orders");
            record.payload
        })
        .collect();
    assert_eq!(payloads, items);

    // Later: opened again, it replays at 10× into the log, in its original order.
    app.click("monitor-open").await;
    pick_in_dialog("Open a recording", &recording).await;
    app.wait_text("replay-progress", "a paused replay of six items", |t| {
        t.starts_with("0 / 6")
    })
    .await;
    assert!(
        monitor_lines(&app).await.is_empty(),
        "the log starts empty for the replay"
    );
    app.screenshot("opened").await;
    app.click("replay-speed-10").await;
    app.click("replay-play").await;
    let want: Vec<&str> = items.iter().map(String::as_str).collect();
    wait_monitor_lines(&mut app, "the six items in their original order", &want).await;
    app.wait_text("replay-progress", "the end of the replay", |t| {
        t.starts_with("6 / 6")
    })
    .await;
    let speed = app
        .find("replay-speed-10")
        .await
        .attr("aria-checked")
        .await
        .expect("the speed button has a state");
    assert_eq!(speed.as_deref(), Some("true"), "it replayed at 10×");
    app.find("replay-play").await;
    app.screenshot("replayed").await;

    // A file with a bad line is refused, with its line and column.
    let bad = files.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{{\"channel\": \"orders\",\n",
            file.lines().next().unwrap()
        ),
    )
    .expect("write the bad file");
    app.click("monitor-open").await;
    pick_in_dialog("Open a recording", &bad).await;
    let refusal = app
        .wait_text("replay-error", "the refusal", |t| t.contains("line 2"))
        .await;
    assert!(refusal.contains("column"), "it says where: {refusal:?}");
    app.screenshot("refused").await;

    app.quit().await;
    server.shutdown().await;
}

/// Waits until a line of the monitor log contains `text`.
async fn wait_monitor_lines_containing(app: &mut Desktop, text: &str) {
    let what = format!("a monitor line containing {text:?}");
    app.eventually("monitor-line", &what, async |app| {
        let lines = monitor_lines(app).await;
        if lines.iter().any(|l| l.contains(text)) {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    })
    .await;
}

/// Issue 18: an operator opens the deployment view of a server behind a real Pushpin (its
/// statistics opened with `pushpin_stats_open`) and watches the people connect, enter and
/// leave, and a message go out to them, as Pushpin itself counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployment_view_shows_a_real_pushpin_s_connections_rise_and_fall() {
    let _window = ONE_WINDOW.lock().await;
    let stage = tack_testkit::stage::Stage::start_with_stats(
        &[tack_testkit::pushpin::StatsFormat::Tnetstring],
        |config| config.pushpin_stats_open = true,
    )
    .await;
    let url = stage.url(0);
    let mut app = Desktop::launch("deployment", &["--connect", &url]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.click("deployment").await;

    // The window itself is Pushpin's one client, in the lobby.
    app.wait_text("subscribers-0-lobby", "the window in the lobby", |t| {
        t == "1"
    })
    .await;
    app.wait_text("connections-0", "one connection", |t| t == "1")
        .await;

    // Three people connect through Pushpin and enter the lobby.
    let mut people = Vec::new();
    for nick in ["ann", "bob", "cid"] {
        people.push(OtherClient::join(&url, nick, "lobby").await);
    }
    app.wait_text("subscribers-0-lobby", "four in the lobby", |t| t == "4")
        .await;
    app.wait_text("connections-0", "four connections", |t| t == "4")
        .await;

    // One of them says something: Pushpin sends it to the four members.
    let before = leading_count(
        &app.wait_text("sent-total-0", "a total", |t| leading_count(t).is_some())
            .await,
    )
    .unwrap();
    people[0]
        .session
        .send("lobby", "hello, operators")
        .expect("ann sends");
    app.wait_text("sent-total-0", "four more sent", |t| {
        leading_count(t).is_some_and(|n| n >= before + 4)
    })
    .await;
    app.screenshot("four-connected").await;

    // They leave: the count falls back to the window alone.
    for person in people {
        person.session.close().await;
    }
    app.wait_text("connections-0", "the window alone again", |t| t == "1")
        .await;
    app.wait_text(
        "subscribers-0-lobby",
        "the window alone in the lobby",
        |t| t == "1",
    )
    .await;
    app.screenshot("alone-again").await;
    app.quit().await;
}

/// The number a text such as "1,024 in all" starts with.
fn leading_count(text: &str) -> Option<u64> {
    text.split(' ').next()?.replace(',', "").parse().ok()
}

/// The comments stored of `room` in the history file at `path`, oldest first (the window's
/// server is keyed by its URL).
fn stored_comments(path: &std::path::Path, server: &str, room: &str) -> Vec<String> {
    let Ok(store) = tack_store::Store::open(path, tack_store::StoreOptions::default()) else {
        return Vec::new();
    };
    store
        .recent(server, &tack_store::Place::Room(room.into()), 100)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| match s.entry.body {
            tack_store::Body::Message { comment, .. } => Some(comment),
            _ => None,
        })
        .collect()
}

/// Waits until the history file holds `comment` in `room` (the writer stores in batches).
async fn wait_stored(path: &std::path::Path, server: &str, room: &str, comment: &str) {
    let deadline = std::time::Instant::now() + support::desktop::UI_TIMEOUT;
    while !stored_comments(path, server, room)
        .iter()
        .any(|c| c == comment)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{comment:?} was never stored in #{room}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopened_the_window_shows_what_it_kept_before_reconnecting_then_what_was_said_meanwhile_once(
) {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    // The window reaches the server through a proxy the story can take down; the history file
    // is the story's own, kept across the two launches.
    let proxy = tack_testkit::fault_proxy::FaultProxy::start(server.local_addr()).await;
    let url = proxy.url();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.sqlite");
    let env = [("TACK_HISTORY", history.to_str().unwrap())];

    let mut app = Desktop::launch_with_env("reopen-1", &["--connect", &url], &env).await;
    app.wait_text("room-viewers", "1 viewer", |t| t.contains('1'))
        .await;
    let mut bob = OtherClient::join(&server.url(), "bob", "lobby").await;
    for line in ["before 1", "before 2"] {
        bob.session.send("lobby", line).expect("bob sends");
    }
    app.wait_texts("chat-line", "what bob said", |t| {
        count_containing(t, "before 2") == 1
    })
    .await;
    wait_stored(&history, &url, "lobby", "before 2").await;
    app.quit().await;

    for line in ["while closed 1", "while closed 2"] {
        bob.session.send("lobby", line).expect("bob sends");
    }
    bob.wait_for(
        |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "while closed 2"),
    )
    .await;
    proxy.set_down(true);

    let mut app = Desktop::launch_with_env("reopen-2", &["--connect", &url], &env).await;
    let kept = app
        .wait_texts("chat-line", "the lines kept from the last run", |t| {
            count_containing(t, "before 2") == 1
        })
        .await;
    assert_eq!(count_containing(&kept, "while closed"), 0);
    let status = app.find("conn-status").await.text().await.unwrap();
    assert!(
        !status.contains("Connected"),
        "shown before connecting: {status}"
    );
    app.screenshot("kept-before-reconnecting").await;

    proxy.set_down(false);
    app.click("retry-now").await;
    let lines = app
        .wait_texts("chat-line", "what was said while closed", |t| {
            count_containing(t, "while closed 2") == 1
        })
        .await;
    for line in ["before 1", "before 2", "while closed 1", "while closed 2"] {
        assert_eq!(
            count_containing(&lines, line),
            1,
            "{line:?} once: {lines:?}"
        );
    }
    let order: Vec<usize> = ["before 1", "before 2", "while closed 1", "while closed 2"]
        .iter()
        .map(|l| lines.iter().position(|t| t.contains(l)).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.screenshot("caught-up").await;

    bob.session.close().await;
    app.quit().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_a_message_in_another_room_and_enter_jumps_to_it() {
    let _window = ONE_WINDOW.lock().await;
    let server = start_server(loopback_any_port()).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.sqlite");
    let env = [("TACK_HISTORY", history.to_str().unwrap())];
    let mut app = Desktop::launch_with_env("search", &["--connect", &url], &env).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;

    app.click("add-room").await;
    app.type_into("join-input", &format!("ops{}", enter_key()))
        .await;
    app.wait_text("room-viewers", "1 viewer in #ops", |t| t.contains('1'))
        .await;
    let bob = OtherClient::join(&url, "bob", "ops").await;
    bob.session
        .send("ops", "the lamp in the hall is red")
        .expect("bob sends");
    bob.session
        .send("ops", "and the bike is blue")
        .expect("bob sends");
    app.wait_texts("chat-line", "bob's lines in #ops", |t| {
        count_containing(t, "bike") == 1
    })
    .await;
    wait_stored(&history, &url, "ops", "the lamp in the hall is red").await;
    app.click("room-lobby").await;

    app.type_into(
        "composer",
        &format!("{}{}f{}", Key::Control, Key::Shift, Key::Null),
    )
    .await;
    app.type_into("search-input", "lamp").await;
    app.wait_texts("search-hit", "the hit in #ops", |t| {
        t.len() == 1 && t[0].contains("#ops") && t[0].contains("bob")
    })
    .await;
    app.screenshot("search-results").await;
    app.type_into("search-input", &enter_key()).await;
    wait_jumped_to(&app, "ops", "the lamp in the hall is red").await;
    app.screenshot("jumped-to-the-hit").await;

    bob.session.close().await;
    app.quit().await;
    server.shutdown().await;
}

/// `[data-testid=id]` inside the sidebar's group of the server named `server`.
fn in_server(server: &str, id: &str) -> String {
    format!("[data-testid=\"server-group-{server}\"] [data-testid=\"{id}\"]")
}

/// Waits until the bar's compact state of the (unfocused) server `server` is `status`.
async fn wait_other_server_state(app: &mut Desktop, server: &str, status: &str) {
    let css = format!("[data-testid=\"server-state-{server}\"]");
    let what = format!("{server} as {status} in the bar");
    app.eventually("server-state", &what, async |app| {
        let el = app
            .client
            .find(Locator::Css(&css))
            .await
            .map_err(|_| "no state for it".to_owned())?;
        let shown = el.attr("data-status").await.unwrap_or_default();
        if shown.as_deref() == Some(status) {
            Ok(())
        } else {
            Err(format!("{shown:?}"))
        }
    })
    .await;
}

/// Issue 17: the built-in server and a remote one open together, each room getting only its own
/// server's messages, each server's state shown apart; one server going down leaves the other
/// connected and chatting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_open_together_and_one_going_down_leaves_the_other_chatting() {
    let _window = ONE_WINDOW.lock().await;
    let remote = start_server(loopback_any_port()).await;
    let remote_url = remote.url();
    // A profile opened with `--connect` is named by its address.
    let remote_name = remote_url.clone();
    let mut app = Desktop::launch("two-servers", &["--connect", &remote_url]).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;

    // "This computer" is connected beside it from the server list, which also says how the
    // user's own scripts reach it.
    app.click("open-profiles").await;
    app.click("profile-This computer").await;
    let builtin_url = app
        .wait_text("builtin-url", "the address", |t| {
            t.starts_with("http://127.0.0.1:")
        })
        .await;
    let token = app
        .wait_text("builtin-token", "the secret", |t| t.len() == 32)
        .await;
    app.click("profile-toggle-This computer").await;
    app.wait_text("profile-toggle-This computer", "Disconnect", |t| {
        t.contains("Disconnect")
    })
    .await;
    app.screenshot("servers-dialog").await;
    app.client
        .find(Locator::Css("button[aria-label=\"Close\"]"))
        .await
        .expect("the dialog's close button")
        .click()
        .await
        .expect("closing the dialog");

    // The window turned to the server it connected last; the other shows as a dot in the bar.
    app.wait_text("conn-server", "This computer", |t| t == "This computer")
        .await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    wait_other_server_state(&mut app, &remote_name, "connected").await;

    // Someone in the lobby of each server.
    let ann = OtherClient::join_with_token(&builtin_url, Some(&token), "ann", "lobby").await;
    let bob = OtherClient::join(&remote_url, "bob", "lobby").await;
    ann.session
        .send("lobby", "ann on this computer")
        .expect("ann sends");
    bob.session
        .send("lobby", "bob on the remote server")
        .expect("bob sends");
    app.wait_texts("chat-line", "ann's line", |t| {
        count_containing(t, "ann on this computer") == 1
    })
    .await;
    // The remote lobby's line waits unread under its own server, not in this lobby.
    let unread = app
        .client
        .wait()
        .at_most(support::desktop::UI_TIMEOUT)
        .for_element(Locator::Css(&in_server(&remote_name, "unread-lobby")))
        .await
        .expect("the remote lobby counts its unread line");
    assert_eq!(unread.text().await.unwrap(), "1");
    assert_eq!(
        count_containing(&app.texts("chat-line").await, "bob on the remote server"),
        0
    );
    app.screenshot("two-servers-this-computer").await;

    app.client
        .find(Locator::Css(&in_server(&remote_name, "room-lobby")))
        .await
        .expect("the remote lobby in the sidebar")
        .click()
        .await
        .expect("clicking works");
    app.wait_text("conn-server", "the remote server", |t| t != "This computer")
        .await;
    let lines = app
        .wait_texts("chat-line", "bob's line", |t| {
            count_containing(t, "bob on the remote server") == 1
        })
        .await;
    assert_eq!(count_containing(&lines, "ann on this computer"), 0);
    wait_other_server_state(&mut app, "This computer", "connected").await;
    app.screenshot("two-servers-remote").await;

    // The remote server goes down: it reconnects in the bar; "This computer" stays connected.
    remote.shutdown().await;
    app.wait_text("conn-status", "Reconnecting", |t| {
        t.contains("Reconnecting")
    })
    .await;
    wait_other_server_state(&mut app, "This computer", "connected").await;
    app.screenshot("remote-down").await;
    app.client
        .find(Locator::Css("[data-testid=\"server-state-This computer\"]"))
        .await
        .expect("the other server's state in the bar")
        .click()
        .await
        .expect("clicking works");
    app.wait_text("conn-server", "This computer", |t| t == "This computer")
        .await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    wait_other_server_state(&mut app, &remote_name, "reconnecting").await;
    ann.session
        .send("lobby", "ann while the remote is down")
        .expect("ann sends");
    app.wait_texts("chat-line", "ann's line while the remote is down", |t| {
        count_containing(t, "ann while the remote is down") == 1
    })
    .await;
    say(&app, "still here on this computer").await;
    wait_own_line(&mut app, "still here on this computer", "sent").await;
    app.screenshot("this-computer-unaffected").await;

    ann.session.close().await;
    bob.session.close().await;
    app.quit().await;
}

/// Issue 17: search spans every server; a hit in a room of the server the window is not showing
/// turns the window to that server and its room, highlighted there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_a_message_on_the_other_server_and_enter_jumps_to_that_server() {
    let _window = ONE_WINDOW.lock().await;
    let remote = start_server(loopback_any_port()).await;
    let remote_url = remote.url();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.sqlite");
    let env = [("TACK_HISTORY", history.to_str().unwrap())];
    let mut app =
        Desktop::launch_with_env("search-servers", &["--connect", &remote_url], &env).await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;
    app.click("add-room").await;
    app.type_into("join-input", &format!("ops{}", enter_key()))
        .await;
    app.wait_text("room-viewers", "1 viewer in #ops", |t| t.contains('1'))
        .await;
    let bob = OtherClient::join(&remote_url, "bob", "ops").await;
    bob.session
        .send("ops", "the lamp on the remote server is red")
        .expect("bob sends");
    wait_stored(
        &history,
        &remote_url,
        "ops",
        "the lamp on the remote server is red",
    )
    .await;

    // "This computer" connected beside it; the window turns to it.
    app.click("open-profiles").await;
    app.click("profile-toggle-This computer").await;
    app.client
        .find(Locator::Css("button[aria-label=\"Close\"]"))
        .await
        .expect("the dialog's close button")
        .click()
        .await
        .expect("closing the dialog");
    app.wait_text("conn-server", "This computer", |t| t == "This computer")
        .await;
    app.wait_text("conn-status", "Connected", |t| t.contains("Connected"))
        .await;

    app.type_into(
        "composer",
        &format!("{}{}f{}", Key::Control, Key::Shift, Key::Null),
    )
    .await;
    app.type_into("search-input", "lamp").await;
    app.wait_texts("search-hit", "the hit on the remote server", |t| {
        t.len() == 1 && t[0].contains(&format!("{remote_url} · #ops"))
    })
    .await;
    app.screenshot("search-results").await;
    app.type_into("search-input", &enter_key()).await;
    app.wait_text("conn-server", "the remote server", |t| t != "This computer")
        .await;
    wait_jumped_to(&app, "ops", "the lamp on the remote server is red").await;
    app.screenshot("jumped-to-the-other-server").await;

    bob.session.close().await;
    app.quit().await;
    remote.shutdown().await;
}

/// Waits for the line holding `text` to show highlighted in room `room`, where a search hit's
/// Enter jumps.
async fn wait_jumped_to(app: &Desktop, room: &str, text: &str) {
    let highlighted = app
        .client
        .wait()
        .at_most(support::desktop::UI_TIMEOUT)
        .for_element(Locator::Css(".line.highlighted"))
        .await
        .expect("the hit is highlighted in its room");
    let line = highlighted.text().await.unwrap();
    assert!(line.contains(text), "the highlighted line is {line:?}");
    let shown = app
        .client
        .execute(
            "return document.querySelector('[role=log]').getAttribute('aria-label')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown.as_str(),
        Some(format!("Messages in #{room}").as_str())
    );
}
