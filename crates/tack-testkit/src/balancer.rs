//! A TCP load balancer in front of several servers, as a user puts one before a deployment:
//! each new connection goes to the first server in its list that accepts it, and when that
//! server goes away the connection ends (so the client reconnects, to the next one).

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Balancer {
    addr: SocketAddr,
    accept: AbortHandle,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Balancer {
    /// Listens on a free loopback port and balances over `upstreams`, in order of preference.
    pub async fn start(upstreams: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the balancer");
        let addr = listener.local_addr().expect("bound");
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstreams = upstreams.clone();
                tokio::spawn(async move {
                    for upstream in upstreams {
                        let connect = TcpStream::connect(upstream);
                        if let Ok(Ok(mut server)) =
                            tokio::time::timeout(Duration::from_secs(2), connect).await
                        {
                            let _ = server.set_nodelay(true);
                            let _ = client.set_nodelay(true);
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
            }
        })
        .abort_handle();
        Balancer { addr, accept }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
