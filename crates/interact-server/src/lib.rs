//! The Interact reference server: axum + tokio around the sans-IO `interact-sdk`, with
//! SQLite persistence, a TOML configuration, an admin API and the agent console.
//!
//! The binary is thin; everything it does is here:
//!
//! - [`build_state`] opens (and migrates) the database, seeds the configuration's Domain
//!   Templates, restores open sessions and makes sure the demo embed code exists;
//! - [`app`] is the whole router, for `tower::ServiceExt::oneshot` tests;
//! - [`run`] serves it on a listener until a shutdown future completes (tests bind
//!   port 0).
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use interact_server::config::Config;
//!
//! let config = Config::load("config/demo.toml".as_ref())?;
//! let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
//! let state = interact_server::build_state(config).await?;
//! interact_server::run(listener, state, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crash;
pub mod error;
pub mod http;
pub mod ice;
pub mod identity;
pub mod listen;
pub mod mailer;
pub mod metrics;
pub mod node;
pub mod preview;
pub mod telemetry;
pub mod ws;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use interact_sdk::embed::EmbedCode;
use tower_http::trace::TraceLayer;

use interact_model::TargetRef;
use interact_store::{EmbedCodeRecord, Store, StoreError};
use interact_store_postgres::PgStore;
use interact_store_sqlite::SqliteStore;

use crate::clock::SystemClock;
use crate::config::{Config, Database};
use crate::node::state::AppState;

/// Largest HTTP request body the server reads (the JSON bodies are tiny).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened, migrated or read.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// `[cluster] nats_url` names a NATS server that cannot be reached.
    #[error("bus: {0}")]
    Bus(String),
    /// The `[demo]` section cannot be honoured.
    #[error("[demo]: {0}")]
    Demo(String),
}

/// The whole HTTP application: the HTTP routes of [`http`], the WebSockets of [`ws`]
/// (`GET /v1/ws`, `GET /v1/agent/ws`), the access log (see [`REQUEST_ID`]) and a body limit
/// of [`MAX_BODY_BYTES`].
pub fn app(state: AppState) -> Router {
    access_log(
        http::router(&state)
            .route("/v1/ws", get(ws::visitor_ws))
            .route("/v1/agent/ws", get(ws::agent_ws))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        &state,
    )
    .with_state(state)
}

/// The response header that names a request in the log: the server's own id for it, 32
/// hex digits. A client's `x-request-id` is replaced, never logged.
pub const REQUEST_ID: &str = "x-request-id";

/// The access log: every request runs in an `info` span `request` with its method, path
/// (never the query, which can hold a token), request id ([`REQUEST_ID`], also sent
/// back in the response) and, for the traces, its kind (`server`) and response status;
/// its end is logged at `info` with the status and latency in
/// milliseconds. A WebSocket's connection keeps its request's span, so what is logged
/// while it is open carries the request id too. Each request's time is observed in
/// `interact_http_request_duration_seconds` by method, route pattern and status.
fn access_log(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    use axum::extract::{MatchedPath, State};
    use axum::http::{HeaderValue, Request};
    use tower_http::LatencyUnit;
    use tower_http::trace::DefaultOnResponse;
    let timed = |State(state): State<AppState>,
                 req: Request<axum::body::Body>,
                 next: axum::middleware::Next| async move {
        let started = std::time::Instant::now();
        let method = req.method().as_str().to_owned();
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str)
            .to_owned();
        let res = next.run(req).await;
        // In the request's span (`TraceLayer` runs this inside it), for the traces.
        tracing::Span::current().record("http.response.status_code", res.status().as_u16());
        let label = crate::metrics::HttpLabel {
            method,
            route,
            status: res.status().as_u16(),
        };
        state
            .metrics
            .http_seconds
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        res
    };
    router
        .layer(axum::middleware::from_fn_with_state(state.clone(), timed))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                        "otel.kind" = "server",
                        "http.response.status_code" = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(axum::middleware::from_fn(
            |mut req: Request<axum::body::Body>, next: axum::middleware::Next| async move {
                let id = hex::encode(auth::random_128());
                let value = HeaderValue::from_str(&id)
                    .unwrap_or_else(|e| unreachable!("hex is a valid header value: {e}"));
                req.headers_mut().insert(REQUEST_ID, value.clone());
                let mut res = next.run(req).await;
                res.headers_mut().insert(REQUEST_ID, value);
                res
            },
        ))
}

/// Serves [`app`] on `listener` until `shutdown` completes, then drains (`/readyz`
/// answers 503 for `[server] drain_secs` while everything else goes on), stops accepting, lets
/// requests in flight finish, closes every WebSocket with 1001 and waits (up to
/// [`SHUTDOWN_GRACE`]) until they are gone. Connections are bounded per address and in
/// all, and requests must send their headers in time ([`listen`]). Client addresses are
/// available to handlers ([`listen::ClientIp`]).
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub_state = state.clone();
    let shutdown = async move {
        shutdown.await;
        // Drain: `/readyz` says 503 from now on; keep serving for `drain_secs` so that a
        // load balancer sends new clients elsewhere first.
        hub_state
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let drain = hub_state.config.server.drain_secs;
        if drain > 0 {
            tracing::info!(seconds = drain, "draining: /readyz answers 503");
            tokio::time::sleep(std::time::Duration::from_secs(drain)).await;
        }
        // Upgraded connections are not part of the graceful shutdown: tell every client
        // to reconnect and resume (1001) so none waits for a dead socket.
        hub_state.hub.close_all(
            interact_sdk::protocol::CloseCode::GoingAway,
            "server restarting",
        );
    };
    let conns = state.metrics.connections.clone();
    let timers = tokio::spawn(node::session::run_timers(state.clone()));
    let config_changes = tokio::spawn(node::bus::follow_config(state.clone()));
    let webhooks = tokio::spawn(node::webhooks::run(state.clone()));
    let whatsapp = tokio::spawn(node::whatsapp::run(state.clone()));
    let mailer = tokio::spawn(mailer::run(state.clone()));
    let cluster = state.hub.cluster().cloned().map(|c| {
        let lock: Option<Box<dyn node::cluster::Leadership>> = match &state.config.server.database {
            Database::Postgres(url) => Some(Box::new(
                interact_store_postgres::lock::AdvisoryLock::new(url, node::cluster::ROUTER_LOCK),
            )),
            Database::Sqlite(_) => None,
        };
        tokio::spawn(node::cluster::run(state.clone(), c, lock))
    });
    let limits =
        listen::ConnLimits::from_config(&state.config.limits, &state.config.server.trusted_proxies);
    let stopped = state.clone();
    listen::serve(listener, app(state.clone()), limits, state, shutdown).await;
    stopped
        .stopped
        .store(true, std::sync::atomic::Ordering::Relaxed);
    timers.abort();
    config_changes.abort();
    webhooks.abort();
    whatsapp.abort();
    if let Some(cluster) = cluster {
        cluster.abort();
    }
    // The upgraded connections were told to go (1001) but run on their own tasks: wait
    // until they are gone, so that nothing this server does overlaps with its successor
    // on the same database.
    let drained = async {
        while conns.get() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drained).await;
    mailer.abort();
    if conns.get() > 0 {
        tracing::warn!(
            connections = conns.get(),
            "connections still open at the end of the shutdown grace period"
        );
    }
    Ok(())
}

/// How long [`run`] waits, after it stopped accepting, for WebSocket connections to end.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the configuration's database (creating and migrating it): the SQLite file or
/// PostgreSQL.
pub async fn open_store(database: &Database) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match database {
        Database::Sqlite(file) => Arc::new(SqliteStore::open(file).await?),
        Database::Postgres(url) => Arc::new(PgStore::open(url).await?),
    })
}

/// Builds the state from a loaded configuration: opens (creating and migrating) the
/// database ([`open_store`]), seeds the Domain Templates of the configuration, restores the
/// sessions that had not ended, and creates the `[demo]` embed code if it is configured
/// and absent.
pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    let store = open_store(&config.server.database).await?;
    tracing::info!(database = %config.server.database, "opened the database");
    let nats = config.cluster.nats_url.clone();
    let state = AppState::new(config, store, Arc::new(SystemClock)).await?;
    if let Some(url) = nats {
        let bus = node::bus::Bus::connect(&url)
            .await
            .map_err(|e| StartError::Bus(e.to_string()))?;
        tracing::info!(nats = %url, "connected to the bus");
        if matches!(state.config.server.database, Database::Postgres(_)) {
            // Several nodes on one database: sessions, routing and deliveries go
            // through the cluster.
            let name = state.config.cluster.name.clone().unwrap_or_else(|| {
                node::cluster::default_name(&state.config.server.database.to_string())
            });
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(StartError::Bus(format!(
                    "[cluster] name {name:?}: use letters, digits, '-' and '_'"
                )));
            }
            let cluster = node::cluster::Cluster::new(bus.client().clone(), &name);
            tracing::info!(node = %cluster.node, cluster = %name, "this server is a node of a cluster");
            cluster
                .subscribe()
                .await
                .map_err(|e| StartError::Bus(e.to_string()))?;
            state.hub.join_cluster(cluster);
        }
        let _ = state.bus.set(bus);
    }
    ensure_demo_code(&state).await?;
    let restored = node::session::restore(&state).await?;
    if restored > 0 {
        tracing::info!(sessions = restored, "restored open sessions");
    }
    Ok(state)
}

async fn ensure_demo_code(state: &AppState) -> Result<(), StartError> {
    let Some(demo) = &state.config.demo else {
        return Ok(());
    };
    let code = EmbedCode::from_str(&demo.embed_code)
        .map_err(|e| StartError::Demo(format!("embed_code: {e}")))?;
    let target: TargetRef = demo
        .target
        .parse()
        .map_err(|e| StartError::Demo(format!("target: {e}")))?;
    match state.store.embed_code(&code).await? {
        Some(existing) if existing.revoked_at.is_some() => {
            tracing::warn!(code = %code.as_str(), "the demo embed code is revoked");
        }
        Some(existing) if existing.target != target || existing.template != demo.template => {
            tracing::warn!(
                code = %code.as_str(),
                target = %existing.target,
                template = %existing.template,
                "the demo embed code exists with another target or template; keeping it"
            );
        }
        Some(_) => {}
        None => {
            state
                .tenant()
                .check_embeddable(&target)
                .map_err(|e| StartError::Demo(e.to_string()))?;
            let record = EmbedCodeRecord {
                code,
                target,
                template: demo.template.clone(),
                created_at: state.now(),
                revoked_at: None,
            };
            state.store.create_embed_code(&record).await?;
            tracing::info!(code = %record.code.as_str(), "created the demo embed code");
        }
    }
    Ok(())
}
