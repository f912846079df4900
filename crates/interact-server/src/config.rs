//! The server's configuration: a TOML file, strictly validated (unknown keys, bad values
//! and broken references are errors that name the line), and `INTERACT_*` environment
//! variables that override its settings ([`mod@env`]; secrets also from files). [`Checked`]
//! reads both and finds every problem with its place (a line, or a variable).

mod check;
pub mod env;

pub use check::{Checked, Place, Problem};

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use interact_workflow::WorkflowModality;
use serde::{Deserialize, Serialize};

pub use interact_model::{DomainTemplateConfig, Licence, ServiceConfig, UserConfig};

/// Why the configuration cannot be used: its problems (at least one), each with its
/// place; the message shows the first.
#[derive(Debug, thiserror::Error)]
#[error("{}{}", .problems[0], more(.problems.len()))]
pub struct ConfigError {
    /// What is wrong, in the order found.
    pub problems: Vec<Problem>,
}

fn more(n: usize) -> String {
    match n {
        0 | 1 => String::new(),
        n => format!(
            " (and {} more: `interact-server config check` lists them)",
            n - 1
        ),
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening, URLs, storage.
    pub server: ServerSection,
    /// Administration.
    pub admin: AdminSection,
    /// Where `/metrics` is served (by default nowhere).
    #[serde(default)]
    pub metrics: MetricsSection,
    /// OpenTelemetry traces over OTLP (off by default).
    #[serde(default)]
    pub telemetry: TelemetrySection,
    /// Limits (all have defaults).
    #[serde(default)]
    pub limits: LimitsSection,
    /// How workflows' Web Request steps reach other services.
    #[serde(default)]
    pub web_requests: WebRequestsSection,
    /// Where connectors' secret references may point (`[secrets]`).
    #[serde(default)]
    pub secrets: SecretsSection,
    /// STUN and TURN servers handed to clients for calls (none by default).
    #[serde(default)]
    pub ice: IceSection,
    /// Where email goes out (transcripts after a chat); without it the server sends none
    /// and the widget does not offer it.
    #[serde(default)]
    pub smtp: Option<SmtpSection>,
    /// Files sent in widget chats (images, PDFs): their size and how many (all have
    /// defaults).
    #[serde(default)]
    pub attachments: AttachmentsSection,
    /// Domain Templates: where widgets may be embedded.
    #[serde(default, rename = "domain_template")]
    pub domain_templates: Vec<DomainTemplateConfig>,
    /// Contact-center services.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceConfig>,
    /// Users (agents).
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// A demo embed code the server makes sure exists at start (optional).
    #[serde(default)]
    pub demo: Option<DemoSection>,
    /// Several nodes: how they tell each other about changes.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// Opening hours, referenced by workflows' Check Opening Hours steps.
    #[serde(default)]
    pub opening_hours: Vec<interact_workflow::OpeningHoursConfig>,
    /// Instant Messaging workflows, selected by services (`workflow = "name"`).
    #[serde(default, rename = "workflow")]
    pub workflows: Vec<interact_workflow::WorkflowConfig>,
    /// The opening hours and workflows, loaded and checked by [`Config::parse`].
    #[serde(skip)]
    pub definitions: interact_workflow::Definitions,
    /// Each `[[workflow]]` table as TOML text of its own, by name (what a fresh database
    /// is seeded with: [`crate::node::state::AppState::new`]).
    #[serde(skip)]
    pub workflow_texts: std::collections::BTreeMap<String, String>,
}

/// The environment variable that overrides `[server] database`.
pub const DATABASE_URL_VAR: &str = "INTERACT_DATABASE_URL";

/// SHA-256 of the demo admin token `demo-admin-token` (public in `config/demo.toml`),
/// which only `serve --demo` accepts.
pub const DEMO_ADMIN_TOKEN_SHA256: &str =
    "91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37";

/// Whether a `public_url` names a loopback host (`127.0.0.1`, `[::1]`, `localhost`);
/// `None` if it has no host to tell.
fn url_is_loopback(url: &str) -> Option<bool> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    if host.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(
        host == "localhost"
            || host.ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
    )
}

/// Where the server keeps its data (`[server] database`, or `INTERACT_DATABASE_URL`).
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file: `sqlite:<file>`, `sqlite://<file>` or a bare file name.
    Sqlite(PathBuf),
    /// A PostgreSQL database: `postgres://...` or `postgresql://...`, as libpq takes it.
    Postgres(String),
}

impl std::str::FromStr for Database {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_owned()));
        }
        let file = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        if file.is_empty() {
            return Err("the database is empty: give `sqlite:<file>` or `postgres://...`".into());
        }
        if file.contains("://") {
            return Err(format!(
                "unknown database URL {s:?}: give `sqlite:<file>` or `postgres://...`"
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(file)))
    }
}

impl std::fmt::Display for Database {
    /// The database for logs and messages: a PostgreSQL URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(file) => write!(f, "sqlite:{}", file.display()),
            Self::Postgres(url) => f.write_str(&mask_password(url)),
        }
    }
}

/// A URL without its password: `scheme://user:***@host...` (PostgreSQL, NATS).
pub fn mask_password(url: &str) -> String {
    // scheme://[user[:password]@]host[:port][/db][?...]: the user information ends at
    // the authority's last `@` (a password may hold `@` too).
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Serialize for Database {
    /// As [`Display`](std::fmt::Display) shows it: without a password.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Database {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `[cluster]`: this server as one of several nodes on one database.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// The NATS server (`nats://host:4222`) through which nodes announce changes to each
    /// other (Domain Templates changed through the admin API reach every node at once;
    /// without a bus, or if a message is lost, within `refresh_secs` anyway).
    /// `INTERACT_NATS_URL` overrides it. None by default: one node.
    #[serde(default, serialize_with = "check::serialize_url")]
    pub nats_url: Option<String>,
    /// How often a node reads the Domain Templates again whatever the bus says: the bound
    /// on how long a missed announcement (or a change made with the command line) can
    /// leave a node behind. 30 by default.
    #[serde(default = "default_refresh_secs")]
    pub refresh_secs: u64,
    /// The cluster's name: nodes of one cluster (one PostgreSQL database) talk on NATS
    /// subjects under `interact.<name>.`, so that several clusters may share a NATS
    /// server. By default a hash of `[server] database` (so every node must name the
    /// database alike, or set the same name here).
    #[serde(default)]
    pub name: Option<String>,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            nats_url: None,
            refresh_secs: default_refresh_secs(),
            name: None,
        }
    }
}

fn default_refresh_secs() -> u64 {
    30
}

/// The environment variable that overrides `[cluster] nats_url`.
pub const NATS_URL_VAR: &str = "INTERACT_NATS_URL";

/// `[server]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The URL browsers reach the server at (used in snippets and pages), without a
    /// trailing slash.
    pub public_url: String,
    /// The database: `sqlite:<file>` (or just a file name) for the embedded SQLite file,
    /// created on first start, relative to the configuration file; or
    /// `postgres://user[:password]@host[:port]/db` for PostgreSQL, which several nodes
    /// share. The environment variable `INTERACT_DATABASE_URL` overrides it.
    pub database: Database,
    /// A folder to serve the static pages from (the widget's files, the console, the
    /// admin app: the workspace's `www/`), relative to the configuration file. Without it
    /// (the default) the server serves the copies built into its binary; a folder is for
    /// development (files changed without a rebuild) or for pages of one's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub www: Option<PathBuf>,
    /// Addresses of reverse proxies and load balancers in front of this server
    /// (`"10.0.0.0/8"`, `"127.0.0.1"`). Only a connection from one of them may name the
    /// client with `Forwarded` or `X-Forwarded-For`, and only such a connection is exempt
    /// from `[limits] connections_per_ip` (it carries many clients). Empty by default:
    /// the TCP peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// On SIGTERM or Ctrl-C, how long to keep serving while `/readyz` answers 503, so
    /// that a load balancer stops sending new clients before the connections are closed
    /// (with 1001, which tells clients to reconnect, elsewhere). 0 by default.
    #[serde(default)]
    pub drain_secs: u64,
}

/// `[admin]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// SHA-256 (hex) of the bearer token of the admin API. The token itself is not kept.
    pub token_sha256: String,
}

/// `[metrics]`: the Prometheus metrics are not public. They are served on a listen address
/// of their own (`listen`, no token: keep it on a private network), and/or on the main
/// address behind `Authorization: Bearer <token>` (`token_sha256`); with neither, not at
/// all.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// A separate address that serves `GET /metrics` (and nothing else) without a token.
    pub listen: Option<SocketAddr>,
    /// SHA-256 (hex) of a bearer token that `GET /metrics` on the main address needs.
    #[serde(serialize_with = "check::serialize_hash")]
    pub token_sha256: Option<String>,
}

/// `[telemetry]`: OpenTelemetry traces (spans of HTTP requests, WebSocket frames and store
/// commits) sent over OTLP/HTTP (protobuf) to a collector. Off unless an endpoint is set
/// here, by `INTERACT_OTLP_ENDPOINT`, or by the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// The collector's OTLP/HTTP base URL, `http://collector:4318`, without a trailing
    /// slash: traces go to its `/v1/traces`. Plain `http://`: the exporter has no TLS.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the traces; `OTEL_SERVICE_NAME`, else `interact-server`, by
    /// default.
    pub service_name: Option<String>,
}

impl TelemetrySection {
    fn validate(&self) -> Result<(), String> {
        match &self.otlp_endpoint {
            Some(url) if !url.starts_with("http://") || url.ends_with('/') => Err(
                "telemetry.otlp_endpoint must be http://host[:port] without a trailing slash \
                 (traces go to its /v1/traces; plain http: the exporter has no TLS)"
                    .into(),
            ),
            _ => Ok(()),
        }
    }
}

/// `[limits]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Sessions a single address may start per minute.
    pub sessions_per_minute_per_ip: u32,
    /// Frames a connection may send per second (burst allowed up to twice this).
    pub frames_per_second: u32,
    /// Chat messages (`send` frames) one party of a session may send per second, over
    /// all of its connections (burst allowed up to twice this).
    pub messages_per_second_per_session: u32,
    /// Seconds an agent has to accept an offer.
    pub offer_timeout_secs: u64,
    /// Most chats an agent handles at once.
    pub max_chats_per_agent: usize,
    /// Offers an agent may let time out in a row before they are set `away` (they left
    /// the console open and walked off); 0 never does.
    pub missed_offers_before_away: u32,
    /// Open TCP connections one address may have (more get `429` at once).
    pub connections_per_ip: u32,
    /// Open TCP connections in all (more get `503` at once); never more than the
    /// process's open-file limit leaves room for.
    pub max_connections: u32,
    /// Seconds a client has to send a request's headers, from the connection's start or
    /// the previous answer; a connection that sends nothing is closed after it.
    pub header_timeout_secs: u64,
    /// `sync` frames a connection may send per second (bursts up to twice this).
    pub replays_per_second: u32,
    /// Seconds after a session's last activity (an event, or a visitor connection open)
    /// that its resume token stops working.
    pub resume_token_ttl_secs: u64,
    /// Seconds after its end that an ended session can still be resumed to read it.
    pub ended_session_grace_secs: u64,
    /// Seconds a `start_chat` id is kept, so that a repeat gets the same session.
    pub start_id_ttl_secs: u64,
    /// Most events one session holds; then client frames that add one are refused.
    pub max_events_per_session: usize,
    /// Most bytes of events one session holds; then client frames that add one are
    /// refused.
    pub max_bytes_per_session: usize,
    /// Seconds a session that has not ended stays in memory with nothing happening (and
    /// no visitor connected) before it is dropped from memory; it stays in the database
    /// and is read back when needed. Ended sessions go after a few seconds.
    pub session_memory_idle_secs: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            sessions_per_minute_per_ip: 10,
            frames_per_second: 20,
            messages_per_second_per_session: 5,
            offer_timeout_secs: 30,
            max_chats_per_agent: 4,
            missed_offers_before_away: 2,
            connections_per_ip: 128,
            max_connections: 10_000,
            header_timeout_secs: 10,
            replays_per_second: 10,
            resume_token_ttl_secs: 4 * 60 * 60,
            ended_session_grace_secs: 10 * 60,
            start_id_ttl_secs: 10 * 60,
            max_events_per_session: 10_000,
            max_bytes_per_session: 8 * 1024 * 1024,
            session_memory_idle_secs: 5 * 60,
        }
    }
}

/// `[secrets]`: what a connector's secret reference may name. A Tenant Admin gives a
/// connector (WhatsApp through Twilio) its secrets as references, never as values; only
/// the secrets the operator put here can be named, so an admin cannot make the server
/// read its other files or environment (and send them to an API base of their choice).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSection {
    /// A folder of secret files, one secret per file: `file:NAME` names a file in it
    /// (`file:/abs/path` must lie in it). Relative to the configuration file. Without it,
    /// `file:` references are refused.
    pub dir: Option<PathBuf>,
    /// The prefix of the environment variables `env:NAME` may name.
    pub env_prefix: String,
}

impl Default for SecretsSection {
    fn default() -> Self {
        Self {
            dir: None,
            env_prefix: "INTERACT_SECRET_".into(),
        }
    }
}

/// `[web_requests]`: Web Request steps speak HTTP and HTTPS; HTTPS servers must present a
/// certificate from a public CA (Mozilla's roots, bundled) or from `ca_file`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebRequestsSection {
    /// A PEM file of CA certificates trusted besides the public roots (an internal
    /// service's own CA). Relative to the configuration file.
    pub ca_file: Option<PathBuf>,
    /// Whether Web Request steps may reach private, loopback, link-local and other
    /// non-public addresses (the deny-list is on by default: a workflow cannot be made to
    /// call the server's own network, cloud metadata services and the like). A host name
    /// is checked for every address it resolves to.
    pub allow_private_addresses: bool,
    #[serde(skip)]
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl WebRequestsSection {
    /// Reads the certificates of `ca_file` (relative to `base`); an unreadable file or one
    /// without a certificate is an error naming it.
    pub fn load_ca(&mut self, base: &Path) -> Result<(), String> {
        use rustls::pki_types::pem::PemObject as _;
        let Some(file) = &self.ca_file else {
            return Ok(());
        };
        let path = base.join(file);
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("web_requests.ca_file {}: {e}", path.display()))?;
        let mut store = rustls::RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(certs.iter().cloned());
        if added == 0 {
            return Err(format!(
                "web_requests.ca_file {}: no usable CA certificate in it",
                path.display()
            ));
        }
        self.ca_file = Some(path);
        self.extra_roots = certs;
        Ok(())
    }

    /// The certificates read from `ca_file` by [`Self::load_ca`].
    pub fn extra_roots(&self) -> &[rustls::pki_types::CertificateDer<'static>] {
        &self.extra_roots
    }
}

/// `[ice]`: the ICE servers visitors and agents get for calls (the `ice_servers` frame).
/// TURN servers get credentials per session and per agent by the TURN REST API scheme
/// (coturn `use-auth-secret`), see [`crate::ice`].
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IceSection {
    /// How long TURN credentials are valid, in seconds (60 to 604800).
    pub credential_ttl_secs: u64,
    /// The servers, in the order clients get them.
    #[serde(rename = "server")]
    pub servers: Vec<IceServerConfig>,
}

impl Default for IceSection {
    fn default() -> Self {
        Self {
            credential_ttl_secs: 86_400,
            servers: Vec::new(),
        }
    }
}

/// `[attachments]`: files (images and PDFs) the parties of a widget chat send each other
/// (`http/attachments.rs`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsSection {
    /// Largest file in bytes (10 MiB by default); larger uploads get `413`.
    pub max_bytes: u64,
    /// Uploads one session may make per minute, both parties together (10 by default).
    pub per_minute: u32,
    /// Most files in one session (50 by default).
    pub per_session: u32,
}

impl Default for AttachmentsSection {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            per_minute: 10,
            per_session: 50,
        }
    }
}

/// How the connection to the SMTP server is secured (`[smtp] tls`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only); port 25 by default.
    None,
    /// Plain text upgraded by STARTTLS, which must succeed; port 587 by default.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS); port 465 by default.
    Tls,
}

/// `[smtp]`: the mail server that sends the server's email (transcripts after a chat).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// The server's host name (checked against its TLS certificate).
    pub host: String,
    /// Its port; by default 25, 587 or 465 after `tls`.
    #[serde(default)]
    pub port: Option<u16>,
    /// The sender, as `name <address>` or a bare address.
    pub from: String,
    /// The user name to authenticate with, if the server wants one.
    #[serde(default)]
    pub user: Option<String>,
    /// Its password, inline (or `password_env`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// The name of an environment variable holding the password instead (read at start).
    #[serde(default)]
    pub password_env: Option<String>,
    /// `none`, `starttls` (the default) or `tls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// Most emails handed to the mail server per minute; more are refused
    /// (`rate_limited`) rather than queued. 60 by default.
    #[serde(default = "default_smtp_per_minute")]
    pub per_minute: u32,
}

fn default_smtp_per_minute() -> u32 {
    60
}

impl SmtpSection {
    /// The port: the configured one or the default of the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    /// The password: inline, or read from `password_env` (or the file its `_FILE`
    /// variable names) now.
    pub fn password(&self) -> Result<Option<Secret>, String> {
        self.password_from(&|name| std::env::var(name).ok())
    }

    /// [`password`](Self::password) with the environment given.
    pub fn password_from(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Secret>, String> {
        match (&self.password, &self.password_env) {
            (Some(p), None) => Ok(Some(p.clone())),
            (None, Some(name)) => match env::read(name, env)? {
                Some(v) if !v.is_empty() => Ok(Some(Secret(v))),
                _ => Err(format!(
                    "smtp.password_env: the environment variable {name} (or {name}_FILE) \
                     is not set"
                )),
            },
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err("smtp: password or password_env, not both".into()),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("smtp.host must not be empty".into());
        }
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("smtp.from {:?}: {e}", self.from))?;
        if self.password.is_some() && self.password_env.is_some() {
            return Err("smtp: password or password_env, not both".into());
        }
        if (self.password.is_some() || self.password_env.is_some()) && self.user.is_none() {
            return Err("smtp: a password needs a user".into());
        }
        if self.per_minute == 0 {
            return Err("smtp.per_minute must be at least 1".into());
        }
        Ok(())
    }
}

/// `[[ice.server]]`: one STUN or TURN server.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IceServerConfig {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs of the server.
    pub urls: Vec<String>,
    /// The TURN REST API shared secret (coturn `static-auth-secret`), inline.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// The name of an environment variable holding the shared secret instead (read at
    /// start).
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(skip)]
    resolved: Option<Secret>,
}

/// A secret from the configuration; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Serialize for Secret {
    /// Masked: `***`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl IceServerConfig {
    /// A server with these URLs and, for TURN, an inline secret.
    pub fn new(urls: Vec<String>, secret: Option<&str>) -> Self {
        Self {
            urls,
            secret: secret.map(|s| Secret(s.to_owned())),
            secret_env: None,
            resolved: None,
        }
    }

    /// Whether any URL is a TURN URL (credentials needed).
    pub fn is_turn(&self) -> bool {
        self.urls
            .iter()
            .any(|u| u.starts_with("turn:") || u.starts_with("turns:"))
    }

    /// The shared secret: inline, or read from `secret_env` by
    /// [`IceSection::load_secrets`].
    pub fn secret(&self) -> Option<&Secret> {
        self.secret.as_ref().or(self.resolved.as_ref())
    }
}

impl IceSection {
    /// Checks URLs, secrets and the TTL.
    pub fn validate(&self) -> Result<(), String> {
        if !(60..=604_800).contains(&self.credential_ttl_secs) {
            return Err("ice.credential_ttl_secs must be from 60 to 604800".into());
        }
        for (i, server) in self.servers.iter().enumerate() {
            let at = format!("ice.server[{i}]");
            if server.urls.is_empty() {
                return Err(format!("{at}: urls is empty"));
            }
            for url in &server.urls {
                let scheme_ok = ["stun:", "stuns:", "turn:", "turns:"]
                    .iter()
                    .any(|p| url.len() > p.len() && url.starts_with(p));
                if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!(
                        "{at}: {url:?} is not a stun:, stuns:, turn: or turns: URL"
                    ));
                }
            }
            let secrets =
                usize::from(server.secret.is_some()) + usize::from(server.secret_env.is_some());
            if server.is_turn() && secrets != 1 {
                return Err(format!(
                    "{at}: a TURN server needs its shared secret: secret or secret_env (one of them)"
                ));
            }
            if !server.is_turn() && secrets != 0 {
                return Err(format!("{at}: only TURN servers take a secret"));
            }
            if server.secret.as_ref().is_some_and(|s| s.0.is_empty()) {
                return Err(format!("{at}: secret is empty"));
            }
        }
        Ok(())
    }

    /// Reads the secrets given by `secret_env` from the environment (or the file its
    /// `_FILE` variable names); an unset or empty variable is an error naming it.
    pub fn load_secrets(&mut self) -> Result<(), String> {
        self.load_secrets_from(&|name| std::env::var(name).ok())
    }

    /// [`load_secrets`](Self::load_secrets) with the environment given.
    pub fn load_secrets_from(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
        for (i, server) in self.servers.iter_mut().enumerate() {
            if let Some(name) = &server.secret_env {
                match env::read(name, env).map_err(|e| format!("ice.server[{i}]: {e}"))? {
                    Some(v) if !v.is_empty() => server.resolved = Some(Secret(v)),
                    _ => {
                        return Err(format!(
                            "ice.server[{i}]: the environment variable {name} (secret_env) is not set"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// `[demo]`: an embed code with a fixed, known value, created at start if absent, so that
/// a demo server always has a code to print and to embed. Never use it in production: the
/// code is public in this file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSection {
    /// The embed code (`ie1_` and 26 base32 characters).
    pub embed_code: String,
    /// What it points at: `service:<id>` or `user:<id>`.
    pub target: String,
    /// The Domain Template it is bound to (one of this file's `[[domain_template]]`s).
    pub template: String,
    /// The demo agents' password, printed at start so the console can be tried at once.
    /// Checked against the users' hashes at start; never set this in a real deployment.
    #[serde(default)]
    pub agent_password: Option<String>,
    /// Where `serve` also serves the demo host page (a stand-in customer website with the
    /// snippet, on an origin of its own that the template must allow), e.g.
    /// `127.0.0.1:8081`.
    #[serde(default)]
    pub host_listen: Option<std::net::SocketAddr>,
}

impl Config {
    /// The tenant this configuration declares: its services, users and Domain Templates.
    pub fn tenant(&self) -> interact_model::Tenant {
        interact_model::Tenant::new(&self.services, &self.users, &self.domain_templates)
    }

    /// Reads and validates a configuration file with the process's environment
    /// (`INTERACT_*` variables override the file's settings, [`mod@env`]). Relative paths in
    /// the file are made relative to its folder, those of variables to the working
    /// directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_from(Some(path), &|name| std::env::var(name).ok())
    }

    /// [`load`](Self::load) with the environment given (`None` for no file: the
    /// environment alone). The error holds every problem found ([`Checked`]).
    pub fn load_from(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let checked = Checked::load(path, env);
        match checked.config {
            Some(config) if checked.problems.is_empty() => Ok(config),
            _ => Err(ConfigError {
                problems: checked.problems,
            }),
        }
    }

    /// Parses TOML text and loads its opening hours and workflows; the error message
    /// names the line (and, for workflows, the workflow and step). The environment is
    /// not read.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.load_definitions(text)?;
        Ok(config)
    }

    /// Loads the opening hours and workflows of `text`, the TOML this was read from.
    fn load_definitions(&mut self, text: &str) -> Result<(), String> {
        self.definitions =
            interact_workflow::Definitions::build(&self.opening_hours, &self.workflows, Some(text))
                .map_err(|e| e.to_string())?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        if let Some(toml::Value::Array(workflows)) = table.get("workflow") {
            for w in workflows {
                if let (Some(name), Ok(text)) = (
                    w.get("name").and_then(toml::Value::as_str),
                    toml::to_string(w),
                ) {
                    self.workflow_texts.insert(name.to_owned(), text);
                }
            }
        }
        Ok(())
    }

    /// Checks what the schema cannot: unique ids, references, URLs, origins. The first
    /// of [`problems`](Self::problems).
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Everything [`validate`](Self::validate) finds, each message starting with what it
    /// is about (`server.public_url ...`, `service "support": ...`).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |r: Result<(), String>| {
            if let Err(e) = r {
                problems.push(e);
            }
        };
        check(self.ice.validate());
        check(self.telemetry.validate());
        if let Some(smtp) = &self.smtp {
            check(smtp.validate());
        }
        let mut names = BTreeSet::new();
        for t in &self.domain_templates {
            if !names.insert(t.name.as_str()) {
                check(Err(format!(
                    "domain_template {:?} is defined twice",
                    t.name
                )));
            }
            for o in &t.origins {
                check(
                    interact_model::OriginPattern::parse(o)
                        .map(drop)
                        .map_err(|e| format!("domain_template {:?}: origin {o:?}: {e}", t.name)),
                );
            }
        }
        check(check_tenant(&self.services, &self.users, |w| {
            self.definitions.workflows.get(w).map(|w| w.modality())
        }));
        let service_ids: BTreeSet<&str> = self.services.iter().map(|s| s.id.as_str()).collect();
        for w in self.definitions.workflows.values() {
            for (step, service) in w.transfer_targets() {
                if !service_ids.contains(service) {
                    check(Err(format!(
                        "{}: Transfer names service {service:?}, which is not defined \
                         (Instant Messaging transfers to services only)",
                        w.place(step)
                    )));
                }
            }
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
            || self.server.public_url.ends_with('/')
        {
            check(Err(
                "server.public_url must be http(s)://host[:port] without a trailing slash".into(),
            ));
        }
        if self.admin.token_sha256.len() != 64 || hex::decode(&self.admin.token_sha256).is_err() {
            check(Err("admin.token_sha256 must be 64 hex digits".into()));
        }
        if let Some(demo) = &self.demo {
            check(self.validate_demo(demo));
        }
        problems
    }

    /// What is doubtful but does not stop a node: `listen` and `public_url` that do not
    /// change together (one on loopback, the other not).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let listen = self.server.listen;
        let url = &self.server.public_url;
        match (listen.ip().is_loopback(), url_is_loopback(url)) {
            (true, Some(false)) if self.server.trusted_proxies.is_empty() => {
                warnings.push(format!(
                    "server.listen {listen} is a loopback address, which only this machine \
                     reaches, but server.public_url {url} is not: browsers elsewhere cannot \
                     connect. For a server reachable from elsewhere change both together: \
                     listen on 0.0.0.0:<port> (INTERACT_LISTEN) and give the URL browsers \
                     use (INTERACT_PUBLIC_URL); behind a reverse proxy on this machine, \
                     name it in server.trusted_proxies"
                ));
            }
            (false, Some(true)) => warnings.push(format!(
                "server.public_url {url} names this machine's loopback address, but \
                 server.listen {listen} is reachable from elsewhere: the snippets and links \
                 the server gives out work on this machine only. Change both together: \
                 public_url to the URL browsers elsewhere use (INTERACT_PUBLIC_URL)"
            )),
            _ => {}
        }
        warnings
    }

    /// Why a real deployment must not start with this: the public demo admin token, a
    /// `[demo]` section. Only `serve --demo` starts with them.
    pub fn demo_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self
            .admin
            .token_sha256
            .eq_ignore_ascii_case(DEMO_ADMIN_TOKEN_SHA256)
        {
            problems.push(
                "admin.token_sha256 is the hash of the public demo token \"demo-admin-token\": \
                 set your own (`printf '%s\\n' \"$TOKEN\" | interact-server hash-token`, or \
                 INTERACT_ADMIN_TOKEN), or start a demo with `interact-server serve --demo`"
                    .to_owned(),
            );
        }
        if self.demo.is_some() {
            problems.push(
                "demo: a [demo] section (a public embed code, a printed password) is for demos \
                 only: delete it, or start a demo with `interact-server serve --demo`"
                    .to_owned(),
            );
        }
        problems
    }

    fn validate_demo(&self, demo: &DemoSection) -> Result<(), String> {
        demo.embed_code
            .parse::<interact_sdk::embed::EmbedCode>()
            .map_err(|e| format!("demo.embed_code: {e}"))?;
        let target: interact_model::TargetRef = demo
            .target
            .parse()
            .map_err(|e| format!("demo.target: {e}"))?;
        self.tenant()
            .check_embeddable(&target)
            .map_err(|e| format!("demo.target: {e}"))?;
        if !self
            .domain_templates
            .iter()
            .any(|t| t.name == demo.template)
        {
            return Err(format!(
                "demo.template: no domain_template {:?} is defined",
                demo.template
            ));
        }
        Ok(())
    }
}

/// Checks a tenant's services and users as the configuration file's and the
/// administration's changes must be: unique ids, members and owners that are users,
/// argon2 password hashes, http(s) privacy links, and workflows that exist for the
/// right modality (`workflow` gives a workflow's modality, `None` if there is none):
/// `workflow` a chat workflow, `av_workflow` a call workflow.
pub fn check_tenant(
    services: &[ServiceConfig],
    users: &[UserConfig],
    workflow: impl Fn(&str) -> Option<WorkflowModality>,
) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for u in users {
        check_id(&u.id)?;
        if !ids.insert(u.id.as_str()) {
            return Err(format!("user {:?} is defined twice", u.id.as_str()));
        }
        if !u.password_hash.starts_with("$argon2") {
            return Err(format!(
                "user {:?}: password_hash must be an argon2 PHC string",
                u.id.as_str()
            ));
        }
        if u.display_name.trim().is_empty() || u.display_name.chars().count() > 100 {
            return Err(format!(
                "user {:?}: display_name must be 1 to 100 characters",
                u.id
            ));
        }
    }
    let mut service_ids = BTreeSet::new();
    for s in services {
        check_id(s.id.as_str())?;
        if !service_ids.insert(s.id.as_str()) {
            return Err(format!("service {:?} is defined twice", s.id.as_str()));
        }
        if s.display_name.trim().is_empty() || s.display_name.chars().count() > 100 {
            return Err(format!(
                "service {:?}: display_name must be 1 to 100 characters",
                s.id.as_str()
            ));
        }
        for m in &s.members {
            if !ids.contains(m.as_str()) {
                return Err(format!(
                    "service {:?}: member {:?} is not a user",
                    s.id.as_str(),
                    m.as_str()
                ));
            }
        }
        for o in &s.owners {
            if !ids.contains(o.as_str()) {
                return Err(format!(
                    "service {:?}: owner {:?} is not a user",
                    s.id.as_str(),
                    o.as_str()
                ));
            }
        }
        if s.privacy.safe_url().is_none() {
            return Err(format!(
                "service {:?}: privacy.url must be http(s)",
                s.id.as_str()
            ));
        }
        if s.privacy.url.len() > 2048
            || s.privacy.text.chars().count() > 2000
            || !(1..=64).contains(&s.privacy.version.len())
        {
            return Err(format!(
                "service {:?}: privacy.url at most 2048 bytes, privacy.text at most 2000 \
                 characters, privacy.version 1 to 64 bytes",
                s.id.as_str()
            ));
        }
        if s.languages.len() > 20 || s.members.len() > 10_000 || s.owners.len() > 1_000 {
            return Err(format!(
                "service {:?}: at most 20 languages, 10000 members and 1000 owners",
                s.id.as_str()
            ));
        }
        for (key, name, wanted) in [
            ("workflow", &s.workflow, WorkflowModality::InstantMessaging),
            ("av_workflow", &s.av_workflow, WorkflowModality::AudioVideo),
        ] {
            let Some(w) = name else { continue };
            match workflow(w) {
                None => {
                    return Err(format!(
                        "service {:?}: {key} {w:?} is not defined (no [[workflow]] has that \
                         name)",
                        s.id.as_str()
                    ));
                }
                Some(m) if m != wanted => {
                    return Err(format!(
                        "service {:?}: {key} {w:?} is a workflow for {}; {key} needs one for \
                         {} (modality = \"{}\")",
                        s.id.as_str(),
                        m.display_name(),
                        wanted.display_name(),
                        match wanted {
                            WorkflowModality::InstantMessaging => "instant_messaging",
                            WorkflowModality::AudioVideo => "audio_video",
                        }
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), String> {
    interact_sdk::ids::AgentId::new(id)
        .map(drop)
        .map_err(|e| format!("id {id:?}: {e}"))
}

#[cfg(test)]
mod env_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../../config/demo.toml");

    #[test]
    fn the_database_is_a_sqlite_file_or_a_postgres_url() {
        let parse = |s: &str| s.parse::<Database>();
        for s in ["sqlite:data/x.db", "sqlite://data/x.db", "data/x.db"] {
            assert_eq!(parse(s), Ok(Database::Sqlite("data/x.db".into())), "{s}");
        }
        let url = "postgres://interact:s3cret@db.internal:5432/interact";
        assert_eq!(parse(url), Ok(Database::Postgres(url.into())));
        assert!(matches!(
            parse("postgresql://db/interact"),
            Ok(Database::Postgres(_))
        ));
        // The password never reaches a log line.
        let shown = parse(url).expect("valid").to_string();
        assert_eq!(shown, "postgres://interact:***@db.internal:5432/interact");
        let tricky = "postgres://interact:p@ss:w0rd@db/interact?application_name=a@b";
        assert_eq!(
            parse(tricky).expect("valid").to_string(),
            "postgres://interact:***@db/interact?application_name=a@b"
        );
        assert_eq!(
            parse("postgres://postgres@127.0.0.1/test")
                .expect("valid")
                .to_string(),
            "postgres://postgres@127.0.0.1/test"
        );
        for bad in ["", "sqlite:", "mysql://db/x", "  "] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_database_url_overrides_the_file_and_a_relative_file_follows_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("interact.toml");
        std::fs::write(&path, DEMO).expect("write");
        let with = |url: Option<&'static str>| {
            move |name: &str| {
                (name == DATABASE_URL_VAR)
                    .then_some(url)
                    .flatten()
                    .map(str::to_owned)
            }
        };
        let config = Config::load_from(Some(&path), &with(None)).expect("loads");
        assert_eq!(
            config.server.database,
            Database::Sqlite(dir.path().join("../data/interact.db"))
        );
        let url = "postgres://postgres@127.0.0.1:5432/interact";
        let config = Config::load_from(Some(&path), &with(Some(url))).expect("loads");
        assert_eq!(config.server.database, Database::Postgres(url.into()));
        let err = Config::load_from(Some(&path), &with(Some("mysql://x"))).expect_err("refused");
        assert!(err.to_string().contains("INTERACT_DATABASE_URL"), "{err}");
    }

    #[test]
    fn demo_config_is_valid() {
        let c = Config::parse(DEMO).expect("parses");
        c.validate().expect("valid");
        assert!(!c.services.is_empty() && !c.users.is_empty());
    }

    #[test]
    fn unknown_keys_are_refused_with_a_line_number() {
        let text = DEMO.replacen("[server]", "[server]\nlisten_port = 1", 1);
        let e = Config::parse(&text).expect_err("unknown key");
        assert!(e.contains("listen_port"), "{e}");
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn broken_references_are_refused() {
        let mut c = Config::parse(DEMO).expect("parses");
        c.services[0].members.push("nobody".into());
        assert!(c.validate().expect_err("bad member").contains("nobody"));
        let mut c = Config::parse(DEMO).expect("parses");
        c.domain_templates[0].origins.push("null".into());
        assert!(c.validate().is_err());
    }

    #[test]
    fn workflows_are_loaded_and_checked() {
        let c = Config::parse(DEMO).expect("parses");
        let support = c
            .services
            .iter()
            .find(|s| s.id == "support")
            .expect("support");
        let name = support
            .workflow
            .as_deref()
            .expect("the demo service has a workflow");
        assert!(c.definitions.workflows.contains_key(name));

        let mut bad = c.clone();
        bad.services[0].workflow = Some("absent".into());
        assert!(bad.validate().expect_err("unknown").contains("\"absent\""));

        // An unsupported activity is refused at parse time, with its place and line.
        let text = DEMO.replacen("activity = \"queue_task\"", "activity = \"play_music\"", 1);
        let line = text
            .lines()
            .position(|l| l.contains("play_music"))
            .expect("replaced")
            + 1;
        let e = Config::parse(&text).expect_err("unsupported");
        assert!(
            e.contains("\"Play Music\" is not supported for Instant Messaging"),
            "{e}"
        );
        assert!(e.contains(&format!("line {line}")), "{e}");
        assert!(e.contains("workflow \"support-im\""), "{e}");

        let text = DEMO.replacen("on_closed = \"closed\"", "on_closed = \"shut\"", 1);
        assert!(
            Config::parse(&text)
                .expect_err("label")
                .contains("\"shut\"")
        );

        let text = DEMO.replacen(
            "activity = \"disconnect\"\noutcome = \"no_agent\"",
            "activity = \"transfer\"\nservice = \"nobody\"",
            1,
        );
        assert_ne!(text, DEMO);
        let c = Config::parse(&text).expect("parses");
        assert!(c.validate().expect_err("transfer").contains("\"nobody\""));
    }

    #[test]
    fn the_demo_section_is_checked() {
        let demo = Config::parse(DEMO).expect("parses");
        assert!(demo.demo.is_some(), "config/demo.toml has a [demo] section");
        let with = |f: &dyn Fn(&mut DemoSection)| {
            let mut c = demo.clone();
            if let Some(d) = c.demo.as_mut() {
                f(d);
            }
            c.validate().expect_err("invalid demo section")
        };
        assert!(with(&|d| d.embed_code = "ie1_short".into()).contains("demo.embed_code"));
        assert!(with(&|d| d.target = "support".into()).contains("demo.target"));
        assert!(with(&|d| d.target = "service:nobody".into()).contains("nobody"));
        assert!(with(&|d| d.target = "service:sales".into()).contains("Interact"));
        assert!(with(&|d| d.template = "absent".into()).contains("absent"));
    }

    #[test]
    fn ice_servers_are_checked() {
        let base = Config::parse(DEMO).expect("parses");
        assert!(base.ice.servers.is_empty(), "the demo has no ICE servers");
        let with = |toml: &str| {
            let c = Config::parse(&format!("{DEMO}\n{toml}"))?;
            c.validate()?;
            Ok::<_, String>(c)
        };
        let ok = with(
            "[ice]\ncredential_ttl_secs = 600\n\
             [[ice.server]]\nurls = [\"stun:stun.example.com:3478\"]\n\
             [[ice.server]]\nurls = [\"turn:turn.example.com\", \"turns:turn.example.com:5349\"]\nsecret = \"s3cret\"\n",
        )
        .expect("valid");
        assert_eq!(ok.ice.credential_ttl_secs, 600);
        assert_eq!(ok.ice.servers.len(), 2);
        assert_eq!(
            ok.ice.servers[1].secret().map(Secret::expose),
            Some("s3cret")
        );
        assert!(
            !format!("{:?}", ok.ice).contains("s3cret"),
            "Debug hides secrets"
        );
        for (toml, problem) in [
            (
                "[[ice.server]]\nurls = [\"turn:t.example\"]\n",
                "shared secret",
            ),
            (
                "[[ice.server]]\nurls = [\"turn:t.example\"]\nsecret = \"a\"\nsecret_env = \"B\"\n",
                "one of them",
            ),
            (
                "[[ice.server]]\nurls = [\"stun:s.example\"]\nsecret = \"a\"\n",
                "only TURN",
            ),
            (
                "[[ice.server]]\nurls = [\"http://s.example\"]\n",
                "not a stun:",
            ),
            ("[[ice.server]]\nurls = []\n", "urls is empty"),
            ("[ice]\ncredential_ttl_secs = 5\n", "credential_ttl_secs"),
            (
                "[[ice.server]]\nurls = [\"stun:s.example\"]\nusername = \"x\"\n",
                "unknown field",
            ),
        ] {
            let e = with(toml).expect_err(toml);
            assert!(e.contains(problem), "{toml}: {e}");
        }
        let mut env = with(
            "[[ice.server]]\nurls = [\"turn:t.example\"]\nsecret_env = \"INTERACT_TEST_UNSET_TURN_SECRET\"\n",
        )
        .expect("valid");
        assert!(env.ice.servers[0].secret().is_none());
        let e = env.ice.load_secrets().expect_err("unset variable");
        assert!(e.contains("INTERACT_TEST_UNSET_TURN_SECRET"), "{e}");
    }
}
