//! Behind Pushpin, what could wedge the origin or let someone past it: a publish address that
//! refuses every batch (an operator pointed `--pushpin` at Pushpin's client port), and
//! signatures that did not come from Pushpin as it signs.

use tack_protocol::grip::{sign, SigClaims, SIG_HEADER};
use tack_server::ServerConfig;
use tack_testkit::clients::{Client, Front, Via};
use tack_testkit::hostile::{self, publish_body};
use tack_testkit::pushpin::{Pushpin, PushpinConfig};
use tack_testkit::stage::{spawn_origin, Stage, GRIP_KEY};

#[tokio::test]
async fn a_publish_address_that_refuses_every_batch_does_not_hold_up_the_others() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let pushpin =
        tokio::task::spawn_blocking(move || Pushpin::start(&PushpinConfig::new(target, GRIP_KEY)))
            .await
            .unwrap();
    // The second address is Pushpin's client port: it forwards /publish/ to the origin's
    // client listener, which answers 404 to every batch.
    let wrong = pushpin.url();
    let origin = spawn_origin(
        listener,
        ServerConfig::default(),
        vec![pushpin.publish_url(), wrong.clone()],
    )
    .await;
    let front = Front::Pushpin {
        url: pushpin.url(),
        control: origin.control_url(),
    };
    let mut watcher = Client::connect(&front, Via::WebSocket, "watcher").await;
    watcher.enter("news").await;
    for n in 1..=3 {
        let answer = hostile::request(
            &format!("{}/publish/", origin.control_url()),
            &[],
            Some(&publish_body("news", &format!("item {n}"))),
        )
        .await;
        assert_eq!(answer.status, 200);
    }
    for n in 1..=3 {
        let item = watcher
            .until_matching("raw", |e| e["channel"] == "news")
            .await;
        assert_eq!(item["payload"], format!("item {n}"), "{item}");
    }
    // The refused batches were dropped and counted, not retried forever.
    let label = format!("pushpin=\"{wrong}\"");
    let control = origin.control_url();
    let deadline = std::time::Instant::now() + tack_testkit::clients::WAIT;
    while hostile::metric(&control, "tack_pushpin_queued", &label).await > 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the refused batch is still queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(hostile::metric(&control, "tack_pushpin_rejected_total", &label).await >= 3.0);
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_signature_pushpin_would_not_make_is_refused() {
    let stage = Stage::start(1).await;
    let origin = stage.origin.url();
    let opening = "OPEN\r\n";
    for (claims, why) in [
        (
            SigClaims {
                iss: "pushpin".into(),
                exp: now() + 86_400,
            },
            "valid for",
        ),
        (
            SigClaims {
                iss: "mallory".into(),
                exp: now() + 60,
            },
            "issued by `mallory`",
        ),
    ] {
        let sig = sign(&claims, GRIP_KEY.as_bytes()).unwrap();
        let answer = hostile::request(
            &format!("{origin}/ws"),
            &[
                (SIG_HEADER, sig.as_str()),
                ("Content-Type", "application/websocket-events"),
                ("Connection-Id", "forged-1"),
            ],
            Some(opening),
        )
        .await;
        assert_eq!(answer.status, 401, "{answer:?}");
        assert!(answer.body.contains(why), "{answer:?}");
    }
    // What Pushpin signs still gets in.
    let mut ann = Client::connect(stage.front(0), Via::WebSocket, "ann").await;
    ann.enter("lobby").await;
}
