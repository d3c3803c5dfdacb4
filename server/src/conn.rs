//! Serving connections: HTTP/1.1 through hyper with a header-read timeout and a cap on open
//! connections, over plain TCP or TLS.
//!
//! `axum::serve` sets no timer, so a client trickling its request headers (slowloris) would keep
//! a connection forever; here hyper closes any connection whose headers take longer than
//! [`crate::Limits::header_read_timeout`]. Connections beyond
//! [`crate::Limits::max_connections`] are closed at once. The client address is attached to each
//! request as `ConnectInfo<SocketAddr>` for the audit log and the rate limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;

use crate::tls::TlsListener;

/// A source of client connections.
pub trait Accept {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection and its client address; `None` when there will be no more.
    fn next(&mut self) -> impl Future<Output = Option<(Self::Io, SocketAddr)>>;
}

impl Accept for TcpListener {
    type Io = TcpStream;

    async fn next(&mut self) -> Option<(TcpStream, SocketAddr)> {
        loop {
            match self.accept().await {
                Ok(conn) => return Some(conn),
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl Accept for TlsListener {
    type Io = TlsStream<TcpStream>;

    async fn next(&mut self) -> Option<(Self::Io, SocketAddr)> {
        self.accept().await
    }
}

/// Serves `router` on every connection `listener` yields, until it yields `None`.
pub async fn serve_connections<A: Accept>(
    router: Router,
    mut listener: A,
    header_read_timeout: Duration,
    max_connections: usize,
) {
    let open = Arc::new(Semaphore::new(max_connections));
    while let Some((io, addr)) = listener.next().await {
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!("connection from {addr} refused: {max_connections} already open");
            drop(io);
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let service = tower::ServiceExt::map_request(
                router,
                move |mut req: axum::http::Request<Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(addr));
                    req
                },
            );
            let result = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                .await;
            if let Err(e) = result {
                tracing::debug!("connection from {addr} ended: {e}");
            }
            drop(permit);
        });
    }
}
