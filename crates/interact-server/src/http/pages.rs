//! The pages and files that are not part of the widget: the root page, health, metrics,
//! and the static files of the agent console and of the admin web app.

use super::NOSNIFF;
use super::files::{self, Source};
use crate::admin::escape_html;
use crate::node::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

/// The policy of the agent console: its own scripts, styles and socket only, and no
/// framing. `'wasm-unsafe-eval'` lets its scripts compile the console's WebAssembly
/// package (the SDK's agent machine); it allows no `eval` of JavaScript.
const CONSOLE_CSP: &str = "default-src 'self'; connect-src 'self'; style-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; frame-ancestors 'none'";

/// The policy of the admin web app (`www/admin`): its own scripts, styles and API only,
/// no inline script or style, no framing, no `<base>`, forms posting nowhere else.
const ADMIN_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// The policy of the root page: no scripts or styles at all.
const ROOT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// `GET /`: links to what a person might look for.
pub(super) async fn root() -> impl IntoResponse {
    let links = [
        ("/console/", "Agent console"),
        ("/admin/", "Administration"),
        ("/healthz", "Health"),
        ("/metrics", "Metrics"),
    ]
    .iter()
    .map(|(href, label)| {
        format!(
            "<li><a href=\"{}\">{}</a></li>",
            escape_html(href),
            escape_html(label)
        )
    })
    .collect::<String>();
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Interact</title>\n</head>\n<body>\n<h1>Interact</h1>\n\
         <p>{}</p>\n<ul>{links}</ul>\n</body>\n</html>\n",
        escape_html(concat!(
            "Interact reference server ",
            env!("CARGO_PKG_VERSION")
        ))
    );
    (
        [
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(ROOT_CSP)),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
        ],
        Html(page),
    )
}

/// `GET /privacy`: the demo configuration's stand-in privacy policy (`www/privacy.html`),
/// with the same headers as the root page.
pub(super) fn privacy(www: Source<'_>) -> Router<AppState> {
    Router::new()
        .route_service("/privacy", files::file(www, "privacy.html"))
        .layer(middleware::map_response(|mut r: Response| async move {
            let h = r.headers_mut();
            h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(ROOT_CSP));
            h.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
            r
        }))
}

/// `GET /readyz`: `ready` (200) while this node should get new clients: the database
/// answers, the bus (if configured) is connected and the server is not draining; otherwise 503 and why (`draining`, or
/// `database: ...`). Load balancers route by it; `/healthz` only says the process is up.
pub(super) async fn readyz(State(state): State<AppState>) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining".into());
    }
    if state.bus.get().is_some_and(|bus| !bus.is_connected()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "bus: not connected".into());
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
        // A node of a cluster says which it is and whether it leads routing.
        Ok(Ok(())) => match state.hub.cluster() {
            Some(c) => {
                let role = if c.is_leading() { "leader" } else { "follower" };
                (
                    StatusCode::OK,
                    format!("ready\nnode {}\nrouter {role}", c.node),
                )
            }
            None => (StatusCode::OK, "ready".into()),
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database: unavailable".into(),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database: no answer within 2 s".into(),
        ),
    }
}

/// `GET /healthz`: `ok` while the process serves requests.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// The Prometheus text format of the metrics.
fn metrics_text(state: &AppState) -> axum::response::Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /metrics` on the main address: only behind `[metrics] token_sha256` (404 when it
/// is not set, 401 without the token).
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, crate::error::AppError> {
    use crate::error::AppError;
    let Some(expected) = &state.config.metrics.token_sha256 else {
        return Err(AppError::NotFound(
            "metrics are not served here (see [metrics] in the configuration)".into(),
        ));
    };
    match super::bearer(&headers) {
        Some(token)
            if crate::auth::hashes_equal(
                &crate::auth::token_hash(token),
                &expected.to_ascii_lowercase(),
            ) =>
        {
            Ok(metrics_text(&state))
        }
        _ => {
            state.metrics.reject("metrics_unauthorized");
            Err(AppError::Unauthorized(
                "/metrics needs Authorization: Bearer <metrics token>".into(),
            ))
        }
    }
}

/// The app of the metrics' own address (`[metrics] listen`): `GET /metrics`, no token.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<AppState>| async move { metrics_text(&state) }),
        )
        .with_state(state)
}

/// The agent console: the folder `console` of `www` at `/console/`, every answer with the
/// console's CSP and `nosniff`; `/console` redirects to `/console/` (the page's links are
/// relative).
pub(super) fn console(www: Source<'_>) -> Router<AppState> {
    Router::new()
        .nest_service("/console/", files::folder(www, "console", false))
        .layer(middleware::map_response(console_headers))
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
}

async fn console_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    response
}

/// The admin web app: the folder `admin` of `www` at `/admin/`, every answer with
/// [`ADMIN_CSP`], `nosniff`, `Cache-Control: no-cache` (a changed app is fetched again,
/// revalidated by `Last-Modified`) and no referrer; `/admin` redirects to `/admin/`.
///
/// The admin API's routes (`/admin/v1/...`, merged from other routers) are static paths
/// and win over the files; a path under `/admin/v1/` that no route has gets a JSON 404,
/// never a file.
pub(super) fn admin_app(www: Source<'_>) -> Router<AppState> {
    Router::new()
        .nest_service("/admin/", files::folder(www, "admin", false))
        .layer(middleware::map_response(admin_headers))
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/v1/{*rest}", axum::routing::any(no_admin_route))
}

/// A path under `/admin/v1/` that is no route of the admin API.
async fn no_admin_route(uri: axum::http::Uri) -> Response {
    super::json_error(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        &format!("the admin API has no route {}", uri.path()),
    )
}

async fn admin_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(ADMIN_CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
