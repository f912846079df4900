//! Settings from the environment: every setting a node needs has an `INTERACT_*`
//! variable ([`VARIABLES`]) that overrides the configuration file's (or stands in for
//! it: without a file the environment alone configures the node). Each variable may be
//! given as a file instead, `NAME_FILE` holding the value (secrets mounted by Docker or
//! Kubernetes: `INTERACT_ADMIN_TOKEN_FILE=/run/secrets/admin_token`); one trailing line
//! ending is dropped.
//!
//! The values are checked here, each against its kind, so that a bad one names its
//! variable; the good ones are written into the file's TOML tree before it is
//! deserialized ([`overlay`]), so the file's checks apply to them alike.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// What a variable's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// An address and port, `0.0.0.0:8080`.
    Addr,
    /// An `http://` or `https://` URL without a trailing slash.
    HttpUrl,
    /// `sqlite:<file>` or `postgres://...` ([`super::Database`]).
    Database,
    /// A URL of another scheme (`nats://host:4222`).
    Url,
    /// A file or folder (relative to the working directory).
    Path,
    /// Any text that is not empty.
    Text,
    /// A whole number from 0 to the bound.
    Int(u64),
    /// `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A token: the setting keeps its SHA-256 (hex), as the file's `*_sha256` keys.
    Token,
    /// 64 hex digits: a SHA-256 made by `interact-server hash-token`.
    Sha256,
    /// Addresses or networks (CIDR), separated by commas.
    Networks,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// One environment variable and the setting it overrides.
#[derive(Clone, Copy, Debug)]
pub struct Variable {
    /// Its name, `INTERACT_LISTEN`.
    pub name: &'static str,
    /// The setting, as the dotted TOML key: `server.listen`.
    pub key: &'static str,
    /// What its value must be.
    pub kind: Kind,
    /// Whether the value is a secret (never printed; `config check` masks it).
    pub secret: bool,
    /// Whether the node cannot start without the setting (in the file or here).
    pub required: bool,
}

const fn var(name: &'static str, key: &'static str, kind: Kind) -> Variable {
    Variable {
        name,
        key,
        kind,
        secret: false,
        required: false,
    }
}

const fn secret(name: &'static str, key: &'static str, kind: Kind) -> Variable {
    Variable {
        secret: true,
        ..var(name, key, kind)
    }
}

const fn required(v: Variable) -> Variable {
    Variable {
        required: true,
        ..v
    }
}

const U32: Kind = Kind::Int(u32::MAX as u64);
const U64: Kind = Kind::Int(i64::MAX as u64);

/// Every variable, in the order of the configuration file's sections. The README's table
/// lists them; a test checks that each overrides its setting.
pub const VARIABLES: &[Variable] = &[
    required(var("INTERACT_LISTEN", "server.listen", Kind::Addr)),
    required(var(
        "INTERACT_PUBLIC_URL",
        "server.public_url",
        Kind::HttpUrl,
    )),
    required(secret(
        "INTERACT_DATABASE_URL",
        "server.database",
        Kind::Database,
    )),
    var("INTERACT_WWW", "server.www", Kind::Path),
    var(
        "INTERACT_TRUSTED_PROXIES",
        "server.trusted_proxies",
        Kind::Networks,
    ),
    var("INTERACT_DRAIN_SECS", "server.drain_secs", U64),
    required(secret(
        "INTERACT_ADMIN_TOKEN",
        "admin.token_sha256",
        Kind::Token,
    )),
    required(var(
        "INTERACT_ADMIN_TOKEN_SHA256",
        "admin.token_sha256",
        Kind::Sha256,
    )),
    var("INTERACT_METRICS_LISTEN", "metrics.listen", Kind::Addr),
    secret(
        "INTERACT_METRICS_TOKEN",
        "metrics.token_sha256",
        Kind::Token,
    ),
    var(
        "INTERACT_METRICS_TOKEN_SHA256",
        "metrics.token_sha256",
        Kind::Sha256,
    ),
    var(
        "INTERACT_OTLP_ENDPOINT",
        "telemetry.otlp_endpoint",
        Kind::HttpUrl,
    ),
    var(
        "INTERACT_SERVICE_NAME",
        "telemetry.service_name",
        Kind::Text,
    ),
    secret("INTERACT_NATS_URL", "cluster.nats_url", Kind::Url),
    var("INTERACT_CLUSTER_NAME", "cluster.name", Kind::Text),
    var("INTERACT_CLUSTER_REFRESH_SECS", "cluster.refresh_secs", U64),
    var("INTERACT_SMTP_HOST", "smtp.host", Kind::Text),
    var("INTERACT_SMTP_PORT", "smtp.port", Kind::Int(65_535)),
    var("INTERACT_SMTP_FROM", "smtp.from", Kind::Text),
    var(
        "INTERACT_SMTP_TLS",
        "smtp.tls",
        Kind::OneOf(&["none", "starttls", "tls"]),
    ),
    var("INTERACT_SMTP_USER", "smtp.user", Kind::Text),
    secret("INTERACT_SMTP_PASSWORD", "smtp.password", Kind::Text),
    var("INTERACT_SMTP_PER_MINUTE", "smtp.per_minute", U32),
    var("INTERACT_SECRETS_DIR", "secrets.dir", Kind::Path),
    var(
        "INTERACT_SECRETS_ENV_PREFIX",
        "secrets.env_prefix",
        Kind::Text,
    ),
    var(
        "INTERACT_WEB_REQUESTS_CA_FILE",
        "web_requests.ca_file",
        Kind::Path,
    ),
    var(
        "INTERACT_WEB_REQUESTS_ALLOW_PRIVATE_ADDRESSES",
        "web_requests.allow_private_addresses",
        Kind::Bool,
    ),
    var(
        "INTERACT_ICE_CREDENTIAL_TTL_SECS",
        "ice.credential_ttl_secs",
        U64,
    ),
    var(
        "INTERACT_ATTACHMENTS_MAX_BYTES",
        "attachments.max_bytes",
        U64,
    ),
    var(
        "INTERACT_ATTACHMENTS_PER_MINUTE",
        "attachments.per_minute",
        U32,
    ),
    var(
        "INTERACT_ATTACHMENTS_PER_SESSION",
        "attachments.per_session",
        U32,
    ),
    var(
        "INTERACT_LIMITS_SESSIONS_PER_MINUTE_PER_IP",
        "limits.sessions_per_minute_per_ip",
        U32,
    ),
    var(
        "INTERACT_LIMITS_FRAMES_PER_SECOND",
        "limits.frames_per_second",
        U32,
    ),
    var(
        "INTERACT_LIMITS_MESSAGES_PER_SECOND_PER_SESSION",
        "limits.messages_per_second_per_session",
        U32,
    ),
    var(
        "INTERACT_LIMITS_OFFER_TIMEOUT_SECS",
        "limits.offer_timeout_secs",
        U64,
    ),
    var(
        "INTERACT_LIMITS_MAX_CHATS_PER_AGENT",
        "limits.max_chats_per_agent",
        U32,
    ),
    var(
        "INTERACT_LIMITS_MISSED_OFFERS_BEFORE_AWAY",
        "limits.missed_offers_before_away",
        U32,
    ),
    var(
        "INTERACT_LIMITS_CONNECTIONS_PER_IP",
        "limits.connections_per_ip",
        U32,
    ),
    var(
        "INTERACT_LIMITS_MAX_CONNECTIONS",
        "limits.max_connections",
        U32,
    ),
    var(
        "INTERACT_LIMITS_HEADER_TIMEOUT_SECS",
        "limits.header_timeout_secs",
        U64,
    ),
    var(
        "INTERACT_LIMITS_REPLAYS_PER_SECOND",
        "limits.replays_per_second",
        U32,
    ),
    var(
        "INTERACT_LIMITS_RESUME_TOKEN_TTL_SECS",
        "limits.resume_token_ttl_secs",
        U64,
    ),
    var(
        "INTERACT_LIMITS_ENDED_SESSION_GRACE_SECS",
        "limits.ended_session_grace_secs",
        U64,
    ),
    var(
        "INTERACT_LIMITS_START_ID_TTL_SECS",
        "limits.start_id_ttl_secs",
        U64,
    ),
    var(
        "INTERACT_LIMITS_MAX_EVENTS_PER_SESSION",
        "limits.max_events_per_session",
        U32,
    ),
    var(
        "INTERACT_LIMITS_MAX_BYTES_PER_SESSION",
        "limits.max_bytes_per_session",
        U64,
    ),
    var(
        "INTERACT_LIMITS_SESSION_MEMORY_IDLE_SECS",
        "limits.session_memory_idle_secs",
        U64,
    ),
];

/// The variable that names the configuration file when `--config` does not.
pub const CONFIG_VAR: &str = "INTERACT_CONFIG";

/// The variable of a setting (the first, for `admin.token_sha256` which two set).
pub fn variable_of(key: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.key == key)
}

/// A variable's value as the environment gives it: `NAME`, or the contents of the file
/// `NAME_FILE` names. `Ok(None)` when neither is set; an error (naming the variable) when
/// both are, or the file cannot be read.
pub fn read(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
    let file_var = format!("{name}_FILE");
    match (env(name), env(&file_var)) {
        (Some(_), Some(_)) => Err(format!("{name} and {file_var} are both set: give one")),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{file_var}: cannot read {path}: {e}"))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            Ok(Some(text.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// A checked value, as the TOML literal written into the tree; `None` removes the
/// file's setting (an empty variable: the default applies).
pub fn literal(v: &Variable, value: &str) -> Result<Option<String>, String> {
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let value = value.trim();
    if value.is_empty() {
        return if v.required {
            Err(format!("{} is empty; the node needs {}", v.name, v.key))
        } else {
            Ok(None)
        };
    }
    let bad = |what: &str| format!("{}: {value:?} is not {what}", v.name);
    let text = match v.kind {
        Kind::Addr => {
            value
                .parse::<std::net::SocketAddr>()
                .map_err(|_| bad("an address and port such as 0.0.0.0:8080"))?;
            quoted(value)
        }
        Kind::HttpUrl => {
            let ok = (value.starts_with("http://") || value.starts_with("https://"))
                && !value.ends_with('/')
                && !value.contains(char::is_whitespace);
            if !ok {
                return Err(bad("an http(s)://host[:port] URL without a trailing slash"));
            }
            quoted(value)
        }
        Kind::Database => {
            value
                .parse::<super::Database>()
                .map_err(|e| format!("{}: {e}", v.name))?;
            quoted(value)
        }
        Kind::Url => {
            if !value.contains("://") || value.contains(char::is_whitespace) {
                return Err(format!(
                    "{}: the value is not a URL such as nats://host:4222",
                    v.name
                ));
            }
            quoted(value)
        }
        Kind::Path | Kind::Text => quoted(value),
        Kind::Int(max) => {
            let n: u64 = value
                .parse()
                .map_err(|_| bad(&format!("a whole number from 0 to {max}")))?;
            if n > max {
                return Err(bad(&format!("a whole number from 0 to {max}")));
            }
            n.to_string()
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => "true".into(),
            "false" | "0" | "no" | "off" => "false".into(),
            _ => return Err(bad("true or false")),
        },
        Kind::Token => quoted(&crate::auth::token_hash(value)),
        Kind::Sha256 => {
            if value.len() != 64 || hex::decode(value).is_err() {
                return Err(format!(
                    "{}: the value is not 64 hex digits (a SHA-256 made by \
                     `interact-server hash-token`)",
                    v.name
                ));
            }
            quoted(&value.to_ascii_lowercase())
        }
        Kind::Networks => {
            let mut items = Vec::new();
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let net = item
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{}: {item:?} is not an address or network such as 10.0.0.0/8",
                            v.name
                        )
                    })?;
                items.push(quoted(&net.to_string()));
            }
            format!("[{}]", items.join(", "))
        }
        Kind::OneOf(words) => {
            if !words.contains(&value) {
                return Err(bad(&format!("one of {}", words.join(", "))));
            }
            quoted(value)
        }
    };
    Ok(Some(text))
}

/// One override to write into the tree: the variable and its literal (`None` removes).
#[derive(Debug)]
pub struct Override {
    /// The variable.
    pub variable: &'static Variable,
    /// The TOML literal, or `None` to remove the file's setting.
    pub literal: Option<String>,
}

/// The span given to what variable `index` writes into the tree: past the end of the
/// file's text, one byte per variable, so that an error there names the variable.
pub fn marker(text_len: usize, index: usize) -> Range<usize> {
    let at = text_len + 1 + index;
    at..at + 1
}

/// Which override a span of the tree belongs to ([`marker`]), if any.
pub fn marked(text_len: usize, span: &Range<usize>, overrides: &[Override]) -> Option<usize> {
    span.start
        .checked_sub(text_len + 1)
        .filter(|i| *i < overrides.len())
}

/// Writes the overrides into the file's tree: missing tables are made, `None` removes
/// the key. The setting `smtp.password` set here drops the file's `password_env`.
pub fn overlay<'a>(
    root: &mut DeTable<'a>,
    text_len: usize,
    overrides: &'a [Override],
) -> Result<(), String> {
    'vars: for (i, o) in overrides.iter().enumerate() {
        let span = marker(text_len, i);
        let mut path: Vec<&'static str> = o.variable.key.split('.').collect();
        let Some(last) = path.pop() else { continue };
        let mut table = &mut *root;
        for seg in path {
            if !table.contains_key(seg) {
                if o.literal.is_none() {
                    continue 'vars;
                }
                table.insert(
                    Spanned::new(span.clone(), seg.into()),
                    Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
                );
            }
            match table.get_mut(seg).map(Spanned::get_mut) {
                Some(DeValue::Table(t)) => table = t,
                _ => {
                    return Err(format!(
                        "{}: the configuration's {seg} is not a table",
                        o.variable.name
                    ));
                }
            }
        }
        match &o.literal {
            Some(lit) => {
                let value = DeValue::parse(lit)
                    .map_err(|e| format!("{}: {}", o.variable.name, e.message()))?
                    .into_inner();
                if o.variable.key == "smtp.password" {
                    table.remove("password_env");
                }
                table.insert(
                    Spanned::new(span.clone(), last.into()),
                    Spanned::new(span, value),
                );
            }
            None => {
                table.remove(last);
            }
        }
    }
    Ok(())
}
