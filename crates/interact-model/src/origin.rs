//! Origins (`scheme://host[:port]`) and Domain Templates: which websites may use an embed
//! code. Deny by default: an empty template allows nothing, `null` never matches.

use std::fmt;

use serde::Deserialize;

/// One allowed origin of a Domain Template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    /// Lowercase host; for a wildcard, the part after `*.`.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

/// Why an origin (pattern) is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Not `http://` or `https://`.
    #[error("must start with http:// or https://")]
    Scheme,
    /// Has a path, query, user info or an empty host.
    #[error("must be scheme://host[:port] with nothing after the host")]
    Shape,
    /// The port is not a number from 1 to 65535.
    #[error("bad port")]
    Port,
    /// The host is not a host name (labels of letters, digits and inner hyphens), an
    /// IPv4 address or a bracketed IPv6 address.
    #[error("the host {0:?} is not a host name or IP address")]
    Host(String),
    /// A wildcard must stand for the subdomains of a domain of at least two labels.
    #[error("a wildcard needs a domain of at least two labels after *. (like *.example.com)")]
    Wildcard,
}

/// Whether `host` (lower case) is a DNS host name: labels of 1 to 63 letters, digits and
/// hyphens (not first or last), at most 253 bytes in all. Internationalised names are
/// written as browsers send them, in Punycode (`xn--...`).
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl OriginPattern {
    /// Parses `scheme://host[:port]` or `scheme://*.domain[:port]`.
    pub fn parse(s: &str) -> Result<Self, OriginError> {
        let (scheme, rest) = s.split_once("://").ok_or(OriginError::Scheme)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(OriginError::Scheme);
        }
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return Err(OriginError::Shape);
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                let port: u16 = p.parse().map_err(|_| OriginError::Port)?;
                if port == 0 {
                    return Err(OriginError::Port);
                }
                (h, Some(port))
            }
            _ => (rest, None),
        };
        let default = if scheme == "https" { 443 } else { 80 };
        let port = port.filter(|p| *p != default);
        let host = host.to_ascii_lowercase();
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(h) => (true, h.to_owned()),
            None => (false, host),
        };
        if host.is_empty() {
            return Err(OriginError::Shape);
        }
        let ip_literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
        if !(ip_literal || is_host_name(&host)) {
            return Err(OriginError::Host(host));
        }
        // A wildcard stands for subdomains of a domain: two labels at least, the last
        // not a number (that would be an address).
        let numeric_end = host
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if wildcard && (ip_literal || host.split('.').count() < 2 || numeric_end) {
            return Err(OriginError::Wildcard);
        }
        Ok(Self {
            scheme,
            host,
            wildcard,
            port,
        })
    }

    /// Whether a browser's `Origin` header value matches. `null` and anything malformed
    /// never match.
    pub fn matches(&self, origin: &str) -> bool {
        let Ok(o) = Self::parse(origin) else {
            return false;
        };
        if o.wildcard || o.scheme != self.scheme || o.port != self.port {
            return false;
        }
        if self.wildcard {
            o.host
                .strip_suffix(&self.host)
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            o.host == self.host
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme,
            if self.wildcard { "*." } else { "" },
            self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// A named list of allowed origins. Deny by default: an empty template allows nothing.
#[derive(Clone, Debug)]
pub struct DomainTemplate {
    /// Its name.
    pub name: String,
    /// The allowed origins.
    pub origins: Vec<OriginPattern>,
}

impl DomainTemplate {
    /// Whether `origin` (the `Origin` header) may use embed codes bound to this template.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|o| o != "null" && self.origins.iter().any(|p| p.matches(o)))
    }

    /// The CSP `frame-ancestors` source list for pages framed by allowed sites.
    pub fn frame_ancestors(&self) -> String {
        if self.origins.is_empty() {
            return "'none'".into();
        }
        self.origins
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A Domain Template as a configuration file declares it (`[[domain_template]]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainTemplateConfig {
    /// Unique name, referenced by embed codes.
    pub name: String,
    /// Allowed origins: `scheme://host[:port]` exactly, or `scheme://*.example.com` for
    /// any subdomain. Empty allows nothing.
    #[serde(default)]
    pub origins: Vec<String>,
}

impl DomainTemplate {
    /// The template a configuration declares; origins that do not parse are left out
    /// (the configuration's own check refuses them first).
    pub fn from_config(t: &DomainTemplateConfig) -> Self {
        Self {
            name: t.name.clone(),
            origins: t
                .origins
                .iter()
                .filter_map(|o| OriginPattern::parse(o).ok())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OriginPattern {
        OriginPattern::parse(s).expect(s)
    }

    #[test]
    fn exact_origins() {
        let pat = p("https://shop.example.com");
        assert!(pat.matches("https://shop.example.com"));
        assert!(pat.matches("https://SHOP.example.com:443"));
        assert!(!pat.matches("http://shop.example.com"));
        assert!(!pat.matches("https://shop.example.com:8443"));
        assert!(!pat.matches("https://evil.shop.example.com"));
        assert!(!pat.matches("https://shop.example.com.evil.net"));
        assert!(!pat.matches("null"));
        let local = p("http://localhost:8081");
        assert!(local.matches("http://localhost:8081"));
        assert!(!local.matches("http://localhost:8082"));
    }

    #[test]
    fn wildcard_origins_match_subdomains_only() {
        let pat = p("https://*.example.com");
        assert!(pat.matches("https://a.example.com"));
        assert!(pat.matches("https://a.b.example.com"));
        assert!(!pat.matches("https://example.com"));
        assert!(!pat.matches("https://badexample.com"));
        assert!(!pat.matches("https://a.example.com.evil.org"));
        assert!(!pat.matches("https://*.example.com"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "null",
            "example.com",
            "ftp://x.com",
            "https://x.com/path",
            "https://",
            "https://x.com:0",
            "https://a.*.com",
            "https://u@x.com",
            // What reaches a CSP header or a page must be a host and nothing else.
            "https://shop.example.com\"",
            "https://shop.example.com;script-src",
            "https://<b>.example.com",
            "https://exa mple.com",
            "https://shop_x.example.com",
            "https://-shop.example.com",
            "https://shop..example.com",
            "https://shop.example.com.",
            "https://[::1",
            "https://[not-an-ip]",
            // A wildcard over a top-level domain or an address.
            "https://*.com",
            "https://*.1.2.3",
            "https://*.[::1]",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://xn--bcher-kva.example",
            "http://127.0.0.1:8081",
            "http://[::1]:8080",
            "https://*.example.co.uk",
            "https://localhost",
        ] {
            assert!(OriginPattern::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn templates_deny_by_default() {
        let empty = DomainTemplate {
            name: "e".into(),
            origins: vec![],
        };
        assert!(!empty.allows(Some("https://example.com")));
        assert_eq!(empty.frame_ancestors(), "'none'");
        let t = DomainTemplate {
            name: "t".into(),
            origins: vec![p("https://example.com"), p("https://*.example.org")],
        };
        assert!(t.allows(Some("https://example.com")));
        assert!(!t.allows(None));
        assert!(!t.allows(Some("null")));
        assert_eq!(
            t.frame_ancestors(),
            "https://example.com https://*.example.org"
        );
    }
}
