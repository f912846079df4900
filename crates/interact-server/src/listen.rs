//! Accepting connections, with the bounds that keep one client from locking out the
//! others: at most `connections_per_ip` open TCP connections per address (more get `429`
//! at once), at most `max_connections` in all (more get `503`; never more than the
//! process's open-file limit leaves room for), and `header_timeout_secs` for a request's
//! headers, from the connection's start or the previous answer (hyper's header read
//! timeout, which needs the timer set here), so that connections that send nothing or
//! send slowly are closed.
//!
//! Connections are served by hyper's HTTP/1 server with upgrades (the WebSockets). A
//! connection's slot is held by its socket, so an upgraded WebSocket keeps its slot until
//! it closes.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::node::state::AppState;

/// File descriptors kept free of connections, for the database, log files and the like.
const RESERVED_FDS: u64 = 64;

/// How long a refusal (429, 503) may take to write before the socket is dropped.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Open connections per address.
    pub per_ip: u32,
    /// Open connections in all.
    pub total: u32,
    /// Time for a request's headers.
    pub header_timeout: Duration,
}

impl ConnLimits {
    /// The limits of `[limits]`, with the total lowered to what the open-file limit of
    /// the process leaves room for.
    pub fn from_config(limits: &crate::config::LimitsSection) -> Self {
        let fds = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(u64::MAX);
        let room = u32::try_from(fds.saturating_sub(RESERVED_FDS)).unwrap_or(u32::MAX);
        let total = limits.max_connections.min(room).max(1);
        if total < limits.max_connections {
            tracing::warn!(
                configured = limits.max_connections,
                open_files = fds,
                total,
                "max_connections lowered to what the open-file limit allows"
            );
        }
        Self {
            per_ip: limits.connections_per_ip.max(1),
            total,
            header_timeout: Duration::from_secs(limits.header_timeout_secs.max(1)),
        }
    }
}

/// Open connections, in all and per address.
#[derive(Debug, Default)]
struct Counts {
    total: u32,
    by_ip: HashMap<IpAddr, u32>,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Its address has too many open.
    PerAddress,
    /// The server has too many open.
    Total,
}

impl Refusal {
    fn response(self) -> &'static [u8] {
        match self {
            Self::PerAddress => {
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 52\r\nRetry-After: 10\r\nConnection: close\r\n\r\ntoo many open connections from your address; retry\n"
            }
            Self::Total => {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 45\r\nRetry-After: 10\r\nConnection: close\r\n\r\nthe server has too many open connections now\n"
            }
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::PerAddress => "connections_per_ip",
            Self::Total => "max_connections",
        }
    }
}

/// The connection slots of one listener.
#[derive(Clone, Debug)]
struct Slots {
    counts: Arc<Mutex<Counts>>,
    limits: ConnLimits,
    /// For the metrics.
    state: AppState,
}

impl Slots {
    /// Takes a slot for a connection from `ip`, or says why there is none.
    fn take(&self, ip: IpAddr) -> Result<Slot, Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= self.limits.total {
            return Err(Refusal::Total);
        }
        let n = c.by_ip.entry(ip).or_default();
        if *n >= self.limits.per_ip {
            return Err(Refusal::PerAddress);
        }
        *n += 1;
        c.total += 1;
        self.state.metrics.tcp_connections.inc();
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

/// One connection's slot, given back when the connection's socket is dropped.
#[derive(Debug)]
struct Slot {
    slots: Slots,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.slots.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.by_ip.remove(&self.ip);
            }
        }
        self.slots.state.metrics.tcp_connections.dec();
    }
}

/// A socket that holds its connection's slot for as long as it lives (through a
/// WebSocket upgrade too).
#[derive(Debug)]
struct Counted {
    io: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Answers a refused connection with its status line and closes it.
async fn refuse(mut tcp: TcpStream, why: Refusal) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        tcp.write_all(why.response()).await?;
        tcp.shutdown().await
    })
    .await;
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets every connection finish its request in flight (a connection between
/// requests closes at once) and returns once they have. Upgraded connections (the
/// WebSockets) are not waited for here. Handlers see the client's address as
/// [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Slots {
        counts: Arc::default(),
        limits,
        state,
    };
    // Every connection task holds a receiver: `closed()` completes when all are gone.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (or a connection reset while queued): wait a
                    // little instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.take(addr.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                slots.state.metrics.reject(why.reason());
                tokio::spawn(refuse(tcp, why));
                continue;
            }
        };
        // Chat frames are small and latency matters more than packet count.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let io = TokioIo::new(Counted {
            io: tcp,
            _slot: slot,
        });
        let service = tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(addr));
                req.map(axum::body::Body::new)
            },
        );
        let mut stop = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(io, TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(conn);
            let stopping = async {
                // A `Ref` is not `Send`: drop it before the connection is awaited again.
                let _ = stop.wait_for(|s| *s).await.map(|_| ());
            };
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(stop);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    stop_tx.closed().await;
}

/// The client's IP address, when the server runs with connect info (absent in
/// `oneshot` tests).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
