//! Watching a channel: raw items published through `/publish/` arrive exactly once across a
//! cut, monitoring figures follow, and the items kept export as JSON Lines, each once.

use tack_client::{ClientEvent, Session, Target, TransportChoice};
use tack_protocol::publish::Item;
use tack_testkit::engine::{is_status, profile, quick_options, secs, Events};
use tack_testkit::fault_proxy::FaultProxy;
use tack_testkit::server::{no_rate_limit, publish, start_with};

async fn watch_across_a_cut(transport: TransportChoice) {
    const N: usize = 60;
    let server = start_with(no_rate_limit).await;
    let proxy = FaultProxy::start(server.local_addr()).await;
    let (session, rx) = Session::connect(profile(&proxy.url(), transport), quick_options());
    let mut events = Events::new(rx);
    session.watch("orders").unwrap();
    events
        .wait_for("connected", secs(10), |e| {
            is_status(e, tack_client::ConnectionStatus::Connected)
        })
        .await;
    // The watch is sent right after the handshake; the first item proves it is in place.
    let mut got = Vec::new();
    let base = server.control_url();
    let mut next = 0;
    while got.is_empty() {
        publish(&base, Item::text_everywhere("orders", &format!("o{next}"))).await;
        next += 1;
        if let Some(ClientEvent::Raw { payload, .. }) = events.next(secs(1)).await {
            got.push(payload);
        }
    }
    let first = next - 1;
    let publisher = tokio::spawn(async move {
        for i in next..first + N {
            publish(&base, Item::text_everywhere("orders", &format!("o{i}"))).await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    while got.len() < N {
        let ev = events.next(secs(20)).await.expect("items keep arriving");
        if let ClientEvent::Raw { payload, .. } = ev {
            got.push(payload);
            if got.len() == N / 2 {
                proxy.cut();
            }
        }
    }
    publisher.await.unwrap();
    let want: Vec<String> = (first..first + N).map(|i| format!("o{i}")).collect();
    assert_eq!(got, want, "every item exactly once, in order");
    events
        .wait_for("stats", secs(5), |e| {
            matches!(e, ClientEvent::Stats(s)
                if s.target == Target::Channel("orders".into()) && s.messages == N as u64)
        })
        .await;
    let mut out = Vec::new();
    assert_eq!(
        session.export_jsonl(&["orders".into()], &mut out).unwrap(),
        N
    );
    let exported: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            line["payload"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(exported, want, "the export has every item once, in order");
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn watching_over_websocket() {
    watch_across_a_cut(TransportChoice::Ws).await;
}

#[tokio::test]
async fn watching_over_http_streaming() {
    watch_across_a_cut(TransportChoice::Stream).await;
}

#[tokio::test]
async fn watching_over_long_polling() {
    watch_across_a_cut(TransportChoice::Poll).await;
}
