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
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// Open connections per address.
    pub per_ip: u32,
    /// Open connections in all.
    pub total: u32,
    /// Time for a request's headers.
    pub header_timeout: Duration,
    /// Proxies (`[server] trusted_proxies`), which carry many clients: not held to
    /// `per_ip`.
    pub trusted: Vec<ipnet::IpNet>,
}

impl ConnLimits {
    /// The limits of `[limits]`, with the total lowered to what the open-file limit of
    /// the process leaves room for.
    pub fn from_config(limits: &crate::config::LimitsSection, trusted: &[ipnet::IpNet]) -> Self {
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
            trusted: trusted.to_vec(),
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
        if *n >= self.limits.per_ip && !is_trusted(&self.limits.trusted, &ip) {
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
    let header_timeout = limits.header_timeout;
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
/// `oneshot` tests): the TCP peer's, or, when the peer is one of `[server]
/// trusted_proxies`, the address the proxies named ([`client_ip`]).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = &state.config.server.trusted_proxies;
        Ok(Self(peer.map(|p| client_ip(p, &parts.headers, trusted))))
    }
}

/// Most forwarded addresses read from one request (a longer chain is cut at the left,
/// the end a client could pad).
const MAX_FORWARDED: usize = 16;

/// Whether `ip` is one of the `trusted` proxies.
fn is_trusted(trusted: &[ipnet::IpNet], ip: &IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// The client's address for a request from `peer`. Unless `peer` is a trusted proxy,
/// that is `peer`: headers from anyone else are not believed. From a trusted proxy, the
/// chain of addresses it forwarded (`Forwarded: for=...` (RFC 7239) if present, else
/// `X-Forwarded-For`) is read from the right, the nearest hop, skipping trusted proxies:
/// the first other address is the client. A chain that ends in something that is not an
/// address (`unknown`, an obfuscated name) ends the walk at the last trusted hop.
pub fn client_ip(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    if !is_trusted(trusted, &peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for").then_some(value.trim())
            })
        })
        .collect();
    let chain: Vec<&str> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect()
    } else {
        forwarded
    };
    let mut client = peer;
    for hop in chain.iter().rev().take(MAX_FORWARDED) {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !is_trusted(trusted, &ip) {
            break;
        }
    }
    client
}

/// One forwarded hop: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::17`,
/// `"[2001:db8::17]:4711"`; `None` for anything else.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("a header value"));
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().expect("a network")];
        let xff = headers(&[("x-forwarded-for", "203.0.113.7")]);
        // Anyone else's header is not believed.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &xff, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.1.2.3"), &xff, &[]), ip("10.1.2.3"));
        // The proxy's is.
        assert_eq!(client_ip(ip("10.1.2.3"), &xff, &trusted), ip("203.0.113.7"));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_chain_is_read_from_the_nearest_hop() {
        let trusted: Vec<ipnet::IpNet> = vec![
            "10.0.0.0/8".parse().expect("a network"),
            "192.0.2.9/32".parse().expect("a network"),
        ];
        // The client put a made-up address in front; the proxies appended the real one.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.7"),
            ("x-forwarded-for", "192.0.2.9"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
        // Forwarded wins over X-Forwarded-For, with quotes, ports and brackets.
        let h = headers(&[
            (
                "forwarded",
                r#"for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.7"#,
            ),
            ("x-forwarded-for", "198.51.100.99"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &h, &trusted),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "for=192.0.2.60:80;by=10.0.0.5")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("192.0.2.60"));
        // Garbage ends the walk at the last trusted hop.
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.8")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.8"));
        let h = headers(&[("x-forwarded-for", "<script>")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
    }
}
