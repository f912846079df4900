//! What a visitor's browser meets over HTTP: the widget configuration (with CORS for the
//! embed code's Domain Template only) and the page the widget's iframe loads.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, ORIGIN, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::NOSNIFF;
use crate::admin::escape_html;
use crate::error::AppError;
use crate::state::AppState;

/// The query of the visitor endpoints. A missing code is treated like an unknown one.
#[derive(Debug, Deserialize)]
pub(super) struct CodeQuery {
    #[serde(default)]
    code: String,
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(ORIGIN).and_then(|v| v.to_str().ok())
}

/// Answers differ by `Origin`, so caches must key on it, whatever the answer.
const VARY_ORIGIN: [(axum::http::HeaderName, HeaderValue); 1] =
    [(VARY, HeaderValue::from_static("Origin"))];

/// `GET /v1/config?code=`: the widget configuration, for pages the embed code's Domain
/// Template allows. 404 for unknown or revoked codes, 403 for other origins (and none).
pub(super) async fn config(
    State(state): State<AppState>,
    Query(q): Query<CodeQuery>,
    headers: HeaderMap,
) -> impl IntoResponse {
    (
        VARY_ORIGIN,
        config_inner(&state, &q.code, origin(&headers)).await,
    )
}

async fn config_inner(
    state: &AppState,
    code: &str,
    origin: Option<&str>,
) -> Result<Response, AppError> {
    let (record, _) = state.admit(code, origin).await?;
    let availability = state.hub.availability(&state.tenant, &record.target);
    let config = state
        .tenant
        .widget_config(&record.target, availability)
        .ok_or_else(|| AppError::NotFound("unknown or revoked embed code".into()))?;
    Ok((
        allow_origin(origin)?,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(config),
    )
        .into_response())
}

/// `Access-Control-Allow-Origin` naming the (already admitted) origin.
fn allow_origin(
    origin: Option<&str>,
) -> Result<[(axum::http::HeaderName, HeaderValue); 1], AppError> {
    let value = origin
        .and_then(|o| HeaderValue::from_str(o).ok())
        .ok_or_else(|| AppError::Forbidden("origin not allowed".into()))?;
    Ok([(ACCESS_CONTROL_ALLOW_ORIGIN, value)])
}

/// `OPTIONS /v1/config?code=`: the CORS preflight, answered only for allowed origins.
pub(super) async fn config_preflight(
    State(state): State<AppState>,
    Query(q): Query<CodeQuery>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let origin = origin(&headers);
    let answer = async {
        state.admit(&q.code, origin).await?;
        Ok::<_, AppError>((
            StatusCode::NO_CONTENT,
            allow_origin(origin)?,
            [
                (
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET"),
                ),
                (ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600")),
            ],
        ))
    };
    (VARY_ORIGIN, answer.await)
}

/// `GET /widget/frame?code=`: the page the widget's iframe loads. Only the code is checked
/// here (a top-level iframe navigation usually carries no `Origin`); which sites may frame
/// the page is decided by the browser from the CSP `frame-ancestors`, built from the
/// embed code's Domain Template.
pub(super) async fn frame(
    State(state): State<AppState>,
    Query(q): Query<CodeQuery>,
) -> Result<Response, AppError> {
    let (record, template) = state.lookup_code(&q.code).await?;
    let name = state
        .tenant
        .widget_config(&record.target, interact_sdk::config::Availability::Closed)
        .map(|c| c.target.display_name)
        .unwrap_or_default();
    let csp = format!(
        "frame-ancestors {}; default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
         style-src 'self'; connect-src 'self'",
        template.frame_ancestors()
    );
    let csp = HeaderValue::from_str(&csp).map_err(|_| {
        // Origins are parsed patterns (no control characters), so this cannot happen.
        AppError::Forbidden("this embed code's Domain Template cannot be expressed".into())
    })?;
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>Interact widget</title>\n</head>\n<body>\n<main>\n\
         <h1>Interact widget</h1>\n<p>{}</p>\n</main>\n</body>\n</html>\n",
        escape_html(&name)
    );
    Ok((
        [
            (CONTENT_SECURITY_POLICY, csp),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Html(page),
    )
        .into_response())
}
