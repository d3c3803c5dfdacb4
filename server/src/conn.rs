//! Serving connections: HTTP/1.1 through hyper, over plain TCP or TLS, with the connection
//! budget of `docs/server.md#limits` enforced at accept, before a TLS handshake or a byte of a
//! request is read.
//!
//! `axum::serve` sets no timer and no cap, so one client could hold every file descriptor with
//! idle sockets, trickled headers (slowloris) or trickled bodies. Here:
//! - connections beyond [`crate::Limits::max_connections_per_addr`] from one address (IPv6: one
//!   /64; trusted proxies exempt) or [`crate::Limits::max_connections`] in total are closed at
//!   once, so one address cannot fill the server; a connection still in its TLS handshake
//!   (up to [`crate::tls::HANDSHAKE_TIMEOUT`]) counts like any other;
//! - hyper closes a connection whose request headers take longer than
//!   [`crate::Limits::header_read_timeout`] (this also ends idle keep-alive connections);
//! - a connection on which nothing moved for [`crate::Limits::idle_timeout`] is closed
//!   ([`IdleIo`]: a client that stops reading its response or stalls mid-body);
//! - a request body must keep up [`crate::Limits::body_min_rate`] after
//!   [`crate::Limits::body_grace`] ([`PacedBody`]);
//! - an address whose large request bodies keep being refused for their credentials
//!   ([`crate::Limits::refused_uploads_per_addr`]) is shut out for a while
//!   ([`ShutOuts`]): the kernel drops its SYNs ([`crate::syn_filter`]), so not even a
//!   handshake is spent on it.
//!
//! Each request carries `ConnectInfo<SocketAddr>` (the socket peer) and
//! [`ClientAddr`] (the client, read through trusted proxies: [`crate::client_addr`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

use crate::client_addr::{AddrKey, ClientAddr, TrustedProxies};
use crate::slots::Slots;
use crate::syn_filter::SynFilter;

/// Pending connections the kernel keeps for the accept loop (capped by the kernel's
/// `net.core.somaxconn`, 4096 on current Linux). Tokio's default, 1024, overflows under a
/// reconnect flood from one address: the kernel then drops new connections' SYNs, and a
/// legitimate viewer waits a whole SYN retransmission (1 s) before it is even accepted.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A TCP listener on `addr` with [`LISTEN_BACKLOG`] pending connections.
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The connection budget ([`crate::Limits`] and the trusted proxies, as the accept loop needs
/// them).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Request headers must arrive within this.
    pub header_read_timeout: Duration,
    /// Nothing read or written for this long closes the connection.
    pub idle_timeout: Duration,
    /// Open connections in total.
    pub max_connections: usize,
    /// Open connections per address (IPv6: per /64); trusted proxies are exempt.
    pub max_connections_per_addr: usize,
    /// Refused large bodies per address before it is shut out (see [`ShutOuts`]).
    pub refused_uploads_per_addr: u32,
    /// The window those refusals are counted in.
    pub refused_upload_window: Duration,
    /// How long an address is shut out.
    pub refused_upload_penalty: Duration,
    /// Bytes per second a request body must average after `body_grace`.
    pub body_min_rate: u64,
    /// Time before `body_min_rate` applies.
    pub body_grace: Duration,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
}

impl ConnLimits {
    /// The budget `config` sets.
    #[must_use]
    pub fn from_config(config: &crate::Config) -> Self {
        let l = &config.limits;
        Self {
            header_read_timeout: l.header_read_timeout,
            idle_timeout: l.idle_timeout,
            max_connections: l.max_connections,
            max_connections_per_addr: l.max_connections_per_addr,
            refused_uploads_per_addr: l.refused_uploads_per_addr,
            refused_upload_window: l.refused_upload_window,
            refused_upload_penalty: l.refused_upload_penalty,
            body_min_rate: l.body_min_rate,
            body_grace: l.body_grace,
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }
}

/// Serves `router` on every connection `listener` accepts, over TLS when `tls` is given, for
/// as long as the process runs.
///
/// Every check of the connection budget happens at accept, before a TLS handshake: an
/// unfinished handshake holds a file descriptor like any other connection, so it takes one of
/// its address's slots, and a shut-out address gets no handshake at all.
pub async fn serve_connections(
    router: Router,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
) {
    let limits = Arc::new(limits);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_addr = Slots::new(limits.max_connections_per_addr);
    let filter = match SynFilter::attach(&listener) {
        Ok(filter) => Some(filter),
        Err(e) => {
            tracing::warn!(
                "no kernel filter for shut-out addresses ({e}): their connections are closed \
                 at accept instead"
            );
            None
        }
    };
    let refused = Arc::new(ShutOuts::new(&limits, filter));
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(conn) => conn,
            // Out of file descriptors and the like: back off instead of spinning.
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let trusted = limits.trusted_proxies.contains(addr.ip());
        // Connections that reached the queue before the kernel filter was set.
        if !trusted && refused.shut_out(&AddrKey::of(addr.ip())) {
            drop(tcp);
            continue;
        }
        // The address cap first, so connections refused by it do not count toward the total.
        let addr_slot = if trusted {
            None
        } else if let Some(slot) = per_addr.try_take(AddrKey::of(addr.ip())) {
            Some(slot)
        } else {
            tracing::debug!(
                "connection from {addr} refused: {} already open from its address",
                limits.max_connections_per_addr
            );
            drop(tcp);
            refused.at_cap(AddrKey::of(addr.ip()));
            continue;
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                "connection from {addr} refused: {} already open",
                limits.max_connections
            );
            drop(tcp);
            continue;
        };
        let router = router.clone();
        let limits = limits.clone();
        let refused = (!trusted).then(|| refused.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_one(tcp, addr, router, limits, refused).await,
                Some(acceptor) => {
                    match tokio::time::timeout(crate::tls::HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => serve_one(stream, addr, router, limits, refused).await,
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {addr} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {addr} timed out"),
                    }
                }
            }
            drop((permit, addr_slot));
        });
    }
}

/// Serves HTTP/1.1 on one connection from `addr` until it ends.
async fn serve_one<I>(
    io: I,
    addr: SocketAddr,
    router: Router,
    limits: Arc<ConnLimits>,
    refused: Option<Arc<ShutOuts>>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let per_request = limits.clone();
    // HTTP/1 answers one request at a time: the declared body length of the request being
    // answered, for the response check below.
    let declared = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let declared_in = declared.clone();
    let service =
        tower::ServiceExt::map_request(router, move |req: axum::http::Request<Incoming>| {
            declared_in.store(
                declared_length(req.headers()),
                std::sync::atomic::Ordering::Relaxed,
            );
            let client = per_request
                .trusted_proxies
                .client_ip(addr.ip(), req.headers());
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(ConnectInfo(addr));
            parts.extensions.insert(ClientAddr(client));
            let body = PacedBody::new(body, per_request.body_min_rate, per_request.body_grace);
            axum::http::Request::from_parts(parts, axum::body::Body::new(body))
        });
    let service = tower::ServiceExt::map_response(service, move |res: axum::response::Response| {
        if let Some(refused) = &refused
            && refused_for_credentials(res.status())
            && declared.load(std::sync::atomic::Ordering::Relaxed) >= LARGE_BODY
        {
            refused.strike(AddrKey::of(addr.ip()));
        }
        res
    });
    let io = IdleIo::new(io, limits.idle_timeout);
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .await;
    if let Err(e) = result {
        tracing::debug!("connection from {addr} ended: {e}");
    }
}

/// A declared body of this size or more, refused for its credentials, is a strike against its
/// address ([`ShutOuts`]): far above any JSON request, below any real upload.
const LARGE_BODY: u64 = 1 << 20;

/// The `Content-Length` a request declares (0 when it declares none).
fn declared_length(headers: &axum::http::HeaderMap) -> u64 {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// 401, 403 and 413: the body was refused unread for who sent it or for its size.
fn refused_for_credentials(status: axum::http::StatusCode) -> bool {
    use axum::http::StatusCode as S;
    matches!(
        status,
        S::UNAUTHORIZED | S::FORBIDDEN | S::PAYLOAD_TOO_LARGE
    )
}

/// Addresses shut out for a while: those whose large request bodies keep being refused, and
/// (briefly, [`AT_CAP_SHUT_OUT`]) those refused a connection for their cap.
///
/// The server already refuses an unauthenticated upload after its headers, without reading the
/// body; but each such connection still costs a task, an HTTP parse and wake-ups of several
/// threads, and a client reconnecting in a loop turns that into a core's worth of work
/// (`docs/server.md#load-test`). After [`crate::Limits::refused_uploads_per_addr`] refusals
/// within [`crate::Limits::refused_upload_window`], the address's new connections are refused
/// in the kernel ([`SynFilter`]: their SYNs are dropped, so no handshake, accept or wake-up
/// happens) and, where the kernel cannot, as they are accepted, for
/// [`crate::Limits::refused_upload_penalty`]. Ordinary mistakes (an expired session, one wrong
/// token) stay far below the count, and requests without a large body never count.
#[derive(Debug)]
pub struct ShutOuts {
    limit: u32,
    window: Duration,
    penalty: Duration,
    by_addr: std::sync::Mutex<std::collections::HashMap<AddrKey, Strikes>>,
    filter: Option<SynFilter>,
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    count: u32,
    since: std::time::Instant,
    shut_until: Option<std::time::Instant>,
}

impl Strikes {
    fn new(now: std::time::Instant) -> Self {
        Self {
            count: 0,
            since: now,
            shut_until: None,
        }
    }
}

/// How long the kernel drops the SYNs of an address that was refused a connection for its cap.
pub const AT_CAP_SHUT_OUT: Duration = Duration::from_secs(1);

/// Addresses tracked before expired entries are dropped.
const MAX_TRACKED_ADDRS: usize = 100_000;

impl ShutOuts {
    fn new(limits: &ConnLimits, filter: Option<SynFilter>) -> Self {
        Self {
            limit: limits.refused_uploads_per_addr,
            window: limits.refused_upload_window,
            penalty: limits.refused_upload_penalty,
            by_addr: std::sync::Mutex::default(),
            filter,
        }
    }

    /// The per-address state, locked.
    fn addrs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<AddrKey, Strikes>> {
        self.by_addr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one refusal against `key`; at the limit, shuts it out (and schedules the kernel
    /// filter's update for when the shut-out ends).
    fn strike(self: &Arc<Self>, key: AddrKey) {
        if self.limit == 0 {
            return;
        }
        let now = std::time::Instant::now();
        let mut map = self.addrs();
        if map.len() >= MAX_TRACKED_ADDRS {
            map.retain(|_, s| {
                now.duration_since(s.since) < self.window || s.shut_until.is_some_and(|u| u > now)
            });
        }
        let s = map.entry(key).or_insert_with(|| Strikes::new(now));
        if now.duration_since(s.since) >= self.window {
            *s = Strikes {
                count: 0,
                since: now,
                shut_until: s.shut_until,
            };
        }
        s.count += 1;
        if s.count < self.limit {
            return;
        }
        s.shut_until = Some(now + self.penalty);
        tracing::warn!(
            "{} large requests refused for their credentials from one address within {:?}: \
             its connections are refused for {:?}",
            s.count,
            self.window,
            self.penalty
        );
        self.update_filter(map, now, self.penalty);
    }

    /// `key` was refused a connection for its cap ([`crate::Limits::max_connections_per_addr`]):
    /// the kernel drops its SYNs for [`AT_CAP_SHUT_OUT`], so a client reconnecting in a loop
    /// costs neither an accept nor a close, and its TCP stack retries after a second. Without a
    /// kernel filter nothing changes: the accept loop goes on closing what is over the cap.
    fn at_cap(self: &Arc<Self>, key: AddrKey) {
        if self.filter.is_none() {
            return;
        }
        let now = std::time::Instant::now();
        let mut map = self.addrs();
        let s = map.entry(key).or_insert_with(|| Strikes::new(now));
        if s.shut_until.is_some_and(|until| until > now) {
            return;
        }
        s.shut_until = Some(now + AT_CAP_SHUT_OUT);
        self.update_filter(map, now, AT_CAP_SHUT_OUT);
    }

    /// Sets the kernel filter after a new shut-out of `lasting`, and again once it is over.
    fn update_filter(
        self: &Arc<Self>,
        map: std::sync::MutexGuard<'_, std::collections::HashMap<AddrKey, Strikes>>,
        now: std::time::Instant,
        lasting: Duration,
    ) {
        if self.filter.is_none() {
            return;
        }
        self.refilter(&map, now);
        drop(map);
        let this = Arc::clone(self);
        tokio::spawn(async move {
            // Just after the shut-out ends (later shut-outs schedule their own update).
            tokio::time::sleep(lasting + Duration::from_millis(10)).await;
            this.refilter(&this.addrs(), std::time::Instant::now());
        });
    }

    /// Sets the kernel filter to the addresses shut out at `now`.
    fn refilter(&self, map: &std::collections::HashMap<AddrKey, Strikes>, now: std::time::Instant) {
        let Some(filter) = &self.filter else { return };
        let shut: Vec<AddrKey> = map
            .iter()
            .filter(|(_, s)| s.shut_until.is_some_and(|until| until > now))
            .map(|(key, _)| *key)
            .collect();
        if let Err(e) = filter.set(&shut) {
            tracing::warn!("cannot update the kernel filter for shut-out addresses: {e}");
        }
    }

    /// Whether connections from `key` are closed at accept now.
    fn shut_out(&self, key: &AddrKey) -> bool {
        self.addrs()
            .get(key)
            .and_then(|s| s.shut_until)
            .is_some_and(|until| until > std::time::Instant::now())
    }
}

/// A connection that fails with `TimedOut` once nothing has been read or written for `idle`
/// while the server waits on the client.
pub struct IdleIo<T> {
    inner: T,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<T> IdleIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn progressed(&mut self) {
        let next = Instant::now() + self.idle;
        // Resetting the timer on every read is cheap, but skip it within the same 1/16 period.
        if next - self.deadline.deadline() > self.idle / 16 {
            self.deadline.as_mut().reset(next);
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }

    /// A write's outcome: bytes written push the deadline back; a write still pending after
    /// the deadline fails with [`idle_error`].
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle too long")
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that fails once it falls behind `min_rate` bytes per second (counted from
/// the request's start, after `grace`): a client trickling its body is cut off instead of
/// holding a handler and a connection.
pub struct PacedBody {
    inner: Incoming,
    started: Instant,
    received: u64,
    min_rate: u64,
    grace: Duration,
    deadline: Pin<Box<Sleep>>,
}

/// The error a [`PacedBody`] ends with when its client is too slow.
#[derive(Debug, thiserror::Error)]
#[error("request body arrived slower than {0} bytes per second")]
pub struct BodyTooSlow(u64);

impl PacedBody {
    /// Wraps `inner`, starting the clock now.
    #[must_use]
    pub fn new(inner: Incoming, min_rate: u64, grace: Duration) -> Self {
        let started = Instant::now();
        Self {
            inner,
            started,
            received: 0,
            min_rate: min_rate.max(1),
            grace,
            deadline: Box::pin(tokio::time::sleep_until(started + grace)),
        }
    }
}

impl HttpBody for PacedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let earned =
                        Duration::from_secs_f64(this.received as f64 / this.min_rate as f64);
                    let deadline = this.started + this.grace + earned;
                    this.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Some(Err(BodyTooSlow(this.min_rate).into())))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
