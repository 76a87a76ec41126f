//! Long-polling: `GET /poll` held by the server until something happens; sends via `/send`.

use super::http::{
    check_status, note_session, parse_events, request_error, spawn_sender, SessionId,
};
use super::Dial;
use crate::error::LinkError;
use crate::link::{Inbound, Link, Tasks};
use crate::profile::Transport;
use std::time::Duration;
use tokio::sync::mpsc;

pub async fn open(dial: &Dial) -> Result<Link, LinkError> {
    let session = SessionId::default();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, in_rx) = mpsc::channel::<Inbound>(dial.inbound_capacity);
    let mut tasks = Tasks::default();
    tasks.push(spawn_sender(dial, session.clone(), out_rx, in_tx.clone()));

    let http = dial.http.clone();
    let url = dial.endpoint.http_url("/poll");
    let nick = dial.profile.nick.clone();
    let hold = dial.poll_hold.as_secs().max(1);
    // A request may take the hold time plus a round trip; more than that means it is stuck.
    let request_timeout = Duration::from_secs(hold) + dial.connect_timeout + Duration::from_secs(5);
    let poll_session = session.clone();
    tasks.push(
        tokio::spawn(async move {
            let end = loop {
                let mut req = http.get(url.clone()).timeout(request_timeout);
                let current = poll_session.lock().clone();
                match current {
                    Some(id) => req = req.query(&[("session", id.as_str())]),
                    None => {
                        if let Some(n) = &nick {
                            req = req.query(&[("nick", n.as_str())]);
                        }
                    }
                }
                let req = req.query(&[("timeout", hold.to_string())]);
                let result = async {
                    let resp = check_status(req.send().await.map_err(request_error)?)?;
                    let body = resp.bytes().await.map_err(request_error)?;
                    parse_events(&body)
                }
                .await;
                match result {
                    Ok(frames) => {
                        for f in frames {
                            note_session(&poll_session, &f);
                            if in_tx.send(Inbound::Frame(f)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => break e,
                }
            };
            let _ = in_tx.send(Inbound::Closed(end)).await;
        })
        .abort_handle(),
    );
    Link::new(Transport::Poll, out_tx, in_rx, tasks)
        .handshake(dial.welcome_timeout, false)
        .await
}
