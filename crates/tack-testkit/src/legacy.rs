//! A small original-system chat server: `chatRoomEnter`/`chatMessage` in, the literal text
//! `subscribed` and bare `{"room","comment"}` broadcasts (HTML-escaped) out. No ids, no acks,
//! no history, no welcome, and it answers no pings of any kind.

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Message;

type Rooms = Arc<Mutex<HashMap<String, Vec<mpsc::UnboundedSender<String>>>>>;

pub struct LegacyServer {
    addr: SocketAddr,
    task: AbortHandle,
}

impl Drop for LegacyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl LegacyServer {
    pub async fn start() -> LegacyServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rooms: Rooms = Default::default();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let rooms = rooms.clone();
                tokio::spawn(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let (mut sink, mut stream) = ws.split();
                    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
                    let writer = tokio::spawn(async move {
                        while let Some(text) = rx.recv().await {
                            if sink.send(Message::text(text)).await.is_err() {
                                return;
                            }
                        }
                    });
                    while let Some(Ok(msg)) = stream.next().await {
                        let Message::Text(text) = msg else { continue };
                        let Some((name, body)) = text.as_str().split_once(':') else {
                            continue;
                        };
                        let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
                            continue;
                        };
                        let room = v["room"].as_str().unwrap_or_default().to_owned();
                        match name {
                            "chatRoomEnter" => {
                                rooms.lock().entry(room).or_default().push(tx.clone());
                                let _ = tx.send("subscribed".into());
                            }
                            "chatMessage" => {
                                let comment =
                                    escape_html(v["comment"].as_str().unwrap_or_default());
                                let out = serde_json::json!({"room": room, "comment": comment})
                                    .to_string();
                                let mut rooms = rooms.lock();
                                if let Some(members) = rooms.get_mut(&room) {
                                    members.retain(|m| m.send(out.clone()).is_ok());
                                }
                            }
                            // Anything else (including Tack's `ping`) goes unanswered.
                            _ => {}
                        }
                    }
                    writer.abort();
                });
            }
        })
        .abort_handle();
        LegacyServer { addr, task }
    }

    /// The URL the original clients used.
    pub fn url(&self) -> String {
        format!("ws://{}/websocket/chat", self.addr)
    }
}
