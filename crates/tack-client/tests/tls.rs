//! `https://` servers: WebSocket (wss) and the HTTP transports through a real TLS front with a
//! self-signed certificate. With the profile's "accept invalid certificates" every transport
//! works; without it the user is told what is wrong with the certificate, once, in words.

use tack_client::{ClientEvent, ConnectionStatus, Session, TransportChoice};
use tack_testkit::engine::{is_status, profile, quick_options, secs, Events};
use tack_testkit::server::{no_rate_limit, start_with};
use tack_testkit::tls::TlsFront;

async fn chat_through(transport: TransportChoice) {
    let server = start_with(no_rate_limit).await;
    let front = TlsFront::start(server.local_addr()).await;
    let mut p = profile(&front.url(), transport);
    p.insecure_tls = true;
    let (session, rx) = Session::connect(p, quick_options());
    let mut events = Events::new(rx);
    session.enter("lobby").unwrap();
    events
        .wait_for("connected over TLS", secs(10), |e| {
            is_status(e, ConnectionStatus::Connected)
        })
        .await;
    session.send("lobby", "encrypted").unwrap();
    events
        .wait_for(
            "the message back",
            secs(10),
            |e| matches!(e, ClientEvent::Message { comment, .. } if comment == "encrypted"),
        )
        .await;
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_self_signed_server_works_over_wss_when_the_profile_accepts_it() {
    chat_through(TransportChoice::Ws).await;
}

#[tokio::test]
async fn a_self_signed_server_works_over_https_streaming_when_the_profile_accepts_it() {
    chat_through(TransportChoice::Stream).await;
}

#[tokio::test]
async fn a_self_signed_server_works_over_https_polling_when_the_profile_accepts_it() {
    chat_through(TransportChoice::Poll).await;
}

async fn refused(transport: TransportChoice) {
    let server = start_with(no_rate_limit).await;
    let front = TlsFront::start(server.local_addr()).await;
    let (session, rx) = Session::connect(profile(&front.url(), transport), quick_options());
    let mut events = Events::new(rx);
    let ev = events
        .wait_for("an error about the certificate", secs(10), |e| {
            matches!(e, ClientEvent::Error { .. })
        })
        .await;
    let ClientEvent::Error { code, message, .. } = ev else {
        unreachable!()
    };
    assert_eq!(code, "tls_certificate");
    assert!(message.contains("certificate is not trusted"), "{message}");
    assert!(
        message.contains("UnknownIssuer"),
        "names the problem: {message}"
    );
    assert!(
        message.contains("accept invalid certificates"),
        "says what to do: {message}"
    );

    // It keeps retrying (the server may get a proper certificate) and every retry says why,
    // but the error itself is not repeated.
    let mut retries = 0;
    while retries < 3 {
        match events.next(secs(10)).await.expect("retries go on") {
            ClientEvent::State(s)
                if s.status == ConnectionStatus::Reconnecting && s.retry_at.is_some() =>
            {
                assert!(
                    s.reason.as_deref().unwrap_or("").contains("certificate"),
                    "{s:?}"
                );
                retries += 1;
            }
            ClientEvent::Error { .. } => panic!("the same error reported twice"),
            ClientEvent::State(s) => assert_ne!(s.status, ConnectionStatus::Connected),
            _ => {}
        }
    }
    session.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn without_the_setting_wss_says_the_certificate_is_not_trusted() {
    refused(TransportChoice::Ws).await;
}

#[tokio::test]
async fn without_the_setting_https_says_the_certificate_is_not_trusted() {
    refused(TransportChoice::Stream).await;
}

#[tokio::test]
async fn in_auto_mode_the_certificate_problem_is_what_the_user_sees() {
    refused(TransportChoice::Auto).await;
}
