//! What a visitor's browser meets over HTTP before the widget opens: the widget
//! configuration, with CORS for the embed code's Domain Template only. The widget's own
//! files and frame are in [`super::widget`].

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    CACHE_CONTROL, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::AppError;
use crate::node::state::AppState;

/// The query of the visitor endpoints. A missing code is treated like an unknown one.
#[derive(Debug, Deserialize)]
pub(super) struct CodeQuery {
    #[serde(default)]
    pub(super) code: String,
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
        config_inner(
            &state,
            &q.code,
            origin(&headers),
            crate::preview::from_cookies(&headers, q.code.trim()),
        )
        .await,
    )
}

async fn config_inner(
    state: &AppState,
    code: &str,
    origin: Option<&str>,
    preview: Option<&str>,
) -> Result<Response, AppError> {
    let (record, _) = state.admit(code, origin, preview).await?;
    let config = state
        .visitor_config(&record.target)
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
        let preview = crate::preview::from_cookies(&headers, q.code.trim());
        state.admit(&q.code, origin, preview).await?;
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
