//! The monitor's jq query, judged in the engine: a user watching a channel of tickers and
//! trades narrows it to tickers, sees only their prices, mistypes a filter (refused, the old
//! one stays), and clears it. The export keeps every item whatever the query.

use tack_client::query::{QueryField, Verdict};
use tack_client::{ClientEvent, Session, TransportChoice};
use tack_protocol::publish::Item;
use tack_testkit::engine::{is_status, profile, quick_options, secs, Events};
use tack_testkit::server::{no_rate_limit, publish, start_with};

/// The next item on the channel (after the greetings that proved the watch), with its verdict.
async fn next_item(events: &mut Events) -> (String, Option<Verdict>) {
    match events
        .wait_for(
            "an item",
            secs(10),
            |e| matches!(e, ClientEvent::Raw { payload, .. } if payload != "hello"),
        )
        .await
    {
        ClientEvent::Raw { payload, query, .. } => (payload, query),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_jq_query_judges_each_item_in_the_engine() {
    let server = start_with(no_rate_limit).await;
    let base = server.control_url();
    let (session, rx) =
        Session::connect(profile(&server.url(), TransportChoice::Ws), quick_options());
    let mut events = Events::new(rx);
    session.watch("market").unwrap();
    events
        .wait_for("connected", secs(10), |e| {
            is_status(e, tack_client::ConnectionStatus::Connected)
        })
        .await;
    // The watch is in place once an item comes back; no query yet, so no verdict.
    loop {
        publish(&base, Item::text_everywhere("market", "hello")).await;
        if let Some(ClientEvent::Raw { query, .. }) = events.next(secs(1)).await {
            assert_eq!(query, None);
            break;
        }
    }

    let applied = session
        .set_monitor_query(r#".type == "ticker""#, ".price")
        .unwrap();
    let generation = applied.generation;
    // What was delivered before is judged too, so a window can narrow what it already shows.
    assert!(!applied.rejudged.is_empty());
    for r in &applied.rejudged {
        assert_eq!(
            (r.channel.as_str(), r.verdict.keep),
            ("market", false),
            "{r:?}"
        );
        assert_eq!(r.verdict.generation, generation);
    }
    let ticker = r#"{"type":"ticker","price":101.5}"#;
    let trade = r#"{"type":"trade","price":3}"#;
    for text in [ticker, trade] {
        publish(&base, Item::text_everywhere("market", text)).await;
    }
    let (payload, verdict) = next_item(&mut events).await;
    assert_eq!(payload, ticker, "the payload itself is unchanged");
    let verdict = verdict.expect("judged");
    assert_eq!(verdict.generation, generation);
    assert!(verdict.keep);
    assert_eq!(verdict.shown, Some(vec!["101.5".to_owned()]));
    let (_, verdict) = next_item(&mut events).await;
    assert!(!verdict.unwrap().keep, "a trade is hidden");

    // A mistake is refused with where it is; the query in force stays.
    let err = session
        .set_monitor_query(r#".type == "ticker""#, ".price |")
        .unwrap_err();
    assert_eq!(err.field, QueryField::Map);
    assert!(err.message.contains("column"), "{err}");
    let err = session.set_monitor_query("env", "").unwrap_err();
    assert!(err.message.contains("environment"), "{err}");
    publish(&base, Item::text_everywhere("market", ticker)).await;
    let (_, verdict) = next_item(&mut events).await;
    let verdict = verdict.unwrap();
    assert_eq!((verdict.generation, verdict.keep), (generation, true));

    // Binary items are judged as their base64 text, as `tack watch --jq` sees them.
    session.set_monitor_query("length > 0", "").unwrap();
    publish(
        &base,
        Item::binary_everywhere("market", &[0x81, 0xa1, 0x61, 0x01]),
    )
    .await;
    let (payload, verdict) = next_item(&mut events).await;
    assert_eq!(payload, "gaFhAQ==");
    assert!(verdict.unwrap().keep);

    // Cleared: items come without verdicts again.
    assert!(session
        .set_monitor_query("", "")
        .unwrap()
        .rejudged
        .is_empty());
    publish(&base, Item::text_everywhere("market", trade)).await;
    assert_eq!(next_item(&mut events).await.1, None);

    let mut out = Vec::new();
    session.export_jsonl(&["market".into()], &mut out).unwrap();
    let exported = String::from_utf8(out).unwrap();
    assert_eq!(
        exported.lines().filter(|l| !l.contains("hello")).count(),
        5,
        "the query is a view: Export keeps every item, hidden or not: {exported}"
    );
    session.close().await;
    server.shutdown().await;
}
