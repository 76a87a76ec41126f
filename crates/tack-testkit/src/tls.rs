//! A TLS front: terminates TLS with a freshly made self-signed certificate (for `localhost`
//! and 127.0.0.1) and passes the plain bytes on to a server, the way a reverse proxy in front
//! of `tack serve` would.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

pub struct TlsFront {
    addr: SocketAddr,
    accept: AbortHandle,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TlsFront {
    pub async fn start(upstream: SocketAddr) -> TlsFront {
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("a self-signed certificate");
        let cert = made.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("the certificate and key match");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                // Each connection's task ends when either side closes.
                tokio::spawn(async move {
                    // A client that rejects the certificate ends the handshake: nothing to pass on.
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        })
        .abort_handle();
        TlsFront { addr, accept }
    }

    /// The `https://` base URL of the server behind this front.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}
