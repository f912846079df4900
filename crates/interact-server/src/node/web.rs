//! The HTTP client of workflows' Web Request steps: HTTP/1 over TCP or TLS (rustls, Mozilla's
//! roots and the configured CA file), host names resolved by [`GuardedResolver`], which
//! leaves out non-public addresses unless the configuration allows them, and answers read
//! up to [`MAX_WEB_BODY`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use interact_workflow::HttpRequest;

/// Largest Web Request answer read; a larger one counts as failed.
pub const MAX_WEB_BODY: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The HTTP/1 client of Web Request steps: `http://` and `https://` (TLS 1.2 and 1.3 by
/// rustls, certificates checked against Mozilla's roots and the configured CA file),
/// host names resolved by [`GuardedResolver`].
pub type WebClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<
        hyper_util::client::legacy::connect::HttpConnector<GuardedResolver>,
    >,
    http_body_util::Full<axum::body::Bytes>,
>;

/// Whether Web Request steps may reach `ip` while private addresses are denied: not
/// unspecified, loopback, private (RFC 1918, IPv6 unique local), shared (RFC 6598),
/// link-local (cloud metadata services live there), multicast, broadcast or reserved;
/// IPv4 inside IPv6 (mapped, NAT64) is judged as the IPv4 address.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    fn v4(ip: Ipv4Addr) -> bool {
        let [a, b, ..] = ip.octets();
        !(ip.is_unspecified()
            || a == 0
            || ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_multicast()
            || ip.is_broadcast()
            || (a == 100 && (64..128).contains(&b)) // shared address space
            || (a == 198 && (b == 18 || b == 19)) // benchmarking
            || a >= 240) // reserved
    }
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return v4(mapped);
            }
            let s = ip.segments();
            // NAT64 (64:ff9b::/96) carries the IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = ip.octets();
                return v4(Ipv4Addr::new(a, b, c, d));
            }
            !(ip.is_unspecified()
                || ip.is_loopback()
                || ip.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link-local
        }
    }
}

/// Resolves the host names of Web Request steps, leaving out (unless
/// `allow_private_addresses`) the addresses that are not [public](is_public). The
/// connection goes to what this returns, so a name cannot resolve to a public address for
/// a check and to a private one for the connection.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl tower::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<std::net::SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{name} resolves to no public address ({found:?})"),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Builds the server's one [`WebClient`] (connections are pooled across requests).
pub fn web_client(config: &crate::config::WebRequestsSection) -> WebClient {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Checked when the configuration was loaded.
    roots.add_parsable_certificates(config.extra_roots().iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| unreachable!("ring supports the default TLS versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http =
        hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(GuardedResolver {
            allow_private: config.allow_private_addresses,
        });
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector)
}

/// One HTTP/1 request; the answer's body up to [`MAX_WEB_BODY`]. An address literal in
/// the URL is checked here (host names are checked by [`GuardedResolver`]).
pub(crate) async fn http(
    client: &WebClient,
    req: &HttpRequest,
    allow_private: bool,
) -> Result<(u16, String), BoxError> {
    let answer = request(client, req, allow_private).await?;
    Ok((
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    ))
}

/// An answer to [`request`].
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The body, at most [`MAX_WEB_BODY`] bytes.
    pub body: axum::body::Bytes,
}

/// Why [`request`] got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The request was never sent: the address is refused, the URL is bad, or no
    /// connection was made.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The request may have reached the server, and no (whole) answer came back.
    #[error("no answer: {0}")]
    Lost(String),
}

/// One HTTP/1 request, telling a request never sent from one whose answer was lost.
pub(crate) async fn request(
    client: &WebClient,
    req: &HttpRequest,
    allow_private: bool,
) -> Result<Answer, Failure> {
    use http_body_util::BodyExt as _;
    let not_sent = |e: &dyn std::fmt::Display| Failure::NotSent(e.to_string());
    let uri: axum::http::Uri = req.url.parse().map_err(|e| not_sent(&e))?;
    let host = uri.host().unwrap_or_default();
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        && !allow_private
        && !is_public(ip)
    {
        return Err(Failure::NotSent(format!("{ip} is not a public address")));
    }
    let mut builder = axum::http::Request::builder()
        .method(req.method.as_str())
        .uri(uri);
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    let body = http_body_util::Full::new(axum::body::Bytes::from(
        req.body.clone().unwrap_or_default(),
    ));
    let resp = client
        .request(builder.body(body).map_err(|e| not_sent(&e))?)
        .await
        .map_err(|e| {
            if e.is_connect() {
                Failure::NotSent(e.to_string())
            } else {
                Failure::Lost(e.to_string())
            }
        })?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(axum::http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = http_body_util::Limited::new(resp.into_body(), MAX_WEB_BODY)
        .collect()
        .await
        .map_err(|e| Failure::Lost(e.to_string()))?
        .to_bytes();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "100.128.0.1",
        ] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }
}
