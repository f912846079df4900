//! The tenant as the configuration defines it: services, users, licences and Domain
//! Templates, with the rules that decide what may be embedded where.

use std::collections::BTreeMap;
use std::fmt;

use interact_sdk::config::{Availability, PrivacyPolicy, Target, TargetKind, Theme, WidgetConfig};
use interact_sdk::modality::Modalities;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Licence};

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

/// What an embed code points at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum TargetRef {
    /// A service, by id.
    Service(String),
    /// A user, by id.
    User(String),
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service(id) => write!(f, "service:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
        }
    }
}

/// Why an embed code cannot be issued (or used) for a target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenceError {
    /// No such service or user.
    #[error("no {0} is configured")]
    UnknownTarget(TargetRef),
    /// A licence is missing; the message names it.
    #[error("{target} lacks the {licence} licence: {why}")]
    Missing {
        /// The target.
        target: TargetRef,
        /// The missing licence.
        licence: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
    /// Nothing is enabled to talk over.
    #[error("{0} has no modality enabled")]
    NoModality(TargetRef),
}

/// A service, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct Service {
    /// The configuration entry.
    pub config: crate::config::ServiceConfig,
    /// Enabled modalities.
    pub modalities: Modalities,
}

/// A user (agent), resolved from the configuration.
#[derive(Clone, Debug)]
pub struct User {
    /// The configuration entry.
    pub config: crate::config::UserConfig,
    /// Enabled modalities.
    pub modalities: Modalities,
}

impl User {
    /// Whether the user can receive chat tasks from services: Instant Messaging licensed
    /// and chat enabled.
    pub fn can_take_service_chats(&self) -> bool {
        self.config.licences.contains(&Licence::InstantMessaging) && self.modalities.chat
    }
}

/// Services, users and Domain Templates.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Services by id.
    pub services: BTreeMap<String, Service>,
    /// Users by id.
    pub users: BTreeMap<String, User>,
    /// Domain Templates by name.
    pub templates: BTreeMap<String, DomainTemplate>,
}

impl Tenant {
    /// Builds the tenant from a validated configuration.
    pub fn from_config(config: &Config) -> Self {
        let services = config
            .services
            .iter()
            .map(|s| {
                let service = Service {
                    config: s.clone(),
                    modalities: Modalities::new(s.modalities.iter().copied()),
                };
                (s.id.clone(), service)
            })
            .collect();
        let users = config
            .users
            .iter()
            .map(|u| {
                let user = User {
                    config: u.clone(),
                    modalities: Modalities::new(u.modalities.iter().copied()),
                };
                (u.id.clone(), user)
            })
            .collect();
        let templates = config
            .domain_templates
            .iter()
            .map(|t| {
                let template = DomainTemplate {
                    name: t.name.clone(),
                    origins: t
                        .origins
                        .iter()
                        .filter_map(|o| OriginPattern::parse(o).ok())
                        .collect(),
                };
                (t.name.clone(), template)
            })
            .collect();
        Self {
            services,
            users,
            templates,
        }
    }

    /// Checks that `target` may be reached from a website, as the licensing rules say.
    pub fn check_embeddable(&self, target: &TargetRef) -> Result<(), LicenceError> {
        let missing = |licence, why| LicenceError::Missing {
            target: target.clone(),
            licence,
            why,
        };
        match target {
            TargetRef::Service(id) => {
                let s = self
                    .services
                    .get(id)
                    .ok_or_else(|| LicenceError::UnknownTarget(target.clone()))?;
                if !s.config.licences.contains(&Licence::ContactCenter) {
                    return Err(missing("Contact Center", "chat workflows of a service"));
                }
                if !s.config.licences.contains(&Licence::Interact) {
                    return Err(missing("Interact", "a service reachable from a website"));
                }
                if s.modalities.is_empty() {
                    return Err(LicenceError::NoModality(target.clone()));
                }
            }
            TargetRef::User(id) => {
                let u = self
                    .users
                    .get(id)
                    .ok_or_else(|| LicenceError::UnknownTarget(target.clone()))?;
                if !u.config.licences.contains(&Licence::InteractUser) {
                    return Err(missing(
                        "Interact User",
                        "a user reachable directly from a website",
                    ));
                }
                if u.modalities.is_empty() {
                    return Err(LicenceError::NoModality(target.clone()));
                }
            }
        }
        Ok(())
    }

    /// The modalities enabled for `target`.
    pub fn modalities(&self, target: &TargetRef) -> Modalities {
        match target {
            TargetRef::Service(id) => self.services.get(id).map(|s| s.modalities),
            TargetRef::User(id) => self.users.get(id).map(|u| u.modalities),
        }
        .unwrap_or_default()
    }

    /// The users who may take a chat for `target`: service members with Instant
    /// Messaging, or the user themself.
    pub fn candidates(&self, target: &TargetRef) -> Vec<String> {
        match target {
            TargetRef::Service(id) => self
                .services
                .get(id)
                .map(|s| {
                    s.config
                        .members
                        .iter()
                        .filter(|m| self.users.get(*m).is_some_and(User::can_take_service_chats))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            TargetRef::User(id) => vec![id.clone()],
        }
    }

    /// The widget configuration for `target`, with the given availability.
    pub fn widget_config(
        &self,
        target: &TargetRef,
        availability: Availability,
    ) -> Option<WidgetConfig> {
        let default_privacy = || PrivacyPolicy {
            url: "https://example.invalid/privacy".into(),
            text: "I agree that my name, email and messages are processed to answer me.".into(),
            version: "1".into(),
        };
        let (kind, name, modalities, privacy, languages, theme) = match target {
            TargetRef::Service(id) => {
                let s = self.services.get(id)?;
                (
                    TargetKind::Service,
                    s.config.display_name.clone(),
                    s.modalities,
                    s.config.privacy.clone(),
                    s.config.languages.clone(),
                    s.config.theme.clone(),
                )
            }
            TargetRef::User(id) => {
                let u = self.users.get(id)?;
                (
                    TargetKind::User,
                    u.config.display_name.clone(),
                    u.modalities,
                    u.config.privacy.clone().unwrap_or_else(default_privacy),
                    u.config.languages.clone(),
                    Theme::default(),
                )
            }
        };
        Some(WidgetConfig {
            target: Target {
                kind,
                display_name: name,
            },
            modalities,
            privacy,
            availability,
            theme,
            languages,
        })
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
