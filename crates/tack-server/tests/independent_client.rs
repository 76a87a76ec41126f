//! An independent client — Python's `websockets` — sending the original system's frames verbatim,
//! and reading what an original-system page reads: a comment escaped for HTML, since those
//! pages put it into the page as it is.

use std::process::Stdio;
use tack_testkit::clients::{ws_url, Client, Via, WAIT};
use tack_testkit::server::start;

const SCRIPT: &str = r#"
import asyncio, sys, json
import websockets

async def main(url):
    async with websockets.connect(url) as ws:
        json.loads(await ws.recv())  # welcome
        await ws.send('chatRoomEnter:{"room":"test"}')
        await ws.send('chatMessage:{"room":"test","comment":"<b>hello</b> & \\"you\\""}')
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event.get("type") == "chatMessage":
                print(event["room"], event["comment"], event["user"])
                return

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn python_websockets_sending_the_original_frames_verbatim_is_heard() {
    // The apt package installs the module for the system interpreter, which may not be the
    // first `python3` on PATH (pyenv, venvs): use the first one that has it.
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        std::process::Command::new(python)
            .args(["-c", "import websockets"])
            .output()
            .is_ok_and(|out| out.status.success())
    });
    let Some(python) = python else {
        eprintln!(
            "SKIPPED: no python3 with the `websockets` module (apt install python3-websockets)"
        );
        return;
    };
    let server = start().await;
    let mut listener = Client::connect(&server, Via::WebSocket, "listener").await;
    listener.enter("test").await;

    let child = tokio::process::Command::new(python)
        .args(["-c", SCRIPT, &ws_url(&server.url())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let heard = listener.until("chatMessage").await;
    assert_eq!(
        (heard["room"].as_str(), heard["comment"].as_str()),
        (Some("test"), Some(r#"<b>hello</b> & "you""#)),
        "a Tack client gets the comment as typed"
    );
    assert!(
        heard["user"].as_str().unwrap().starts_with("guest-"),
        "{heard}"
    );

    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("python finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("test &lt;b&gt;hello&lt;/b&gt; &amp; &quot;you&quot; guest-"),
        "the original page gets the original server's escaping: {line}"
    );
    server.shutdown().await;
}
