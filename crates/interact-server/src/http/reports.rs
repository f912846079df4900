//! `GET /admin/v1/reports/sessions`: the session report as JSON or CSV (documented in the
//! [module docs](super#admin-api); the rows and the outcome rules are in
//! [`interact_report`]).

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use interact_report::{FilterError, Format, ReportFilter};
use interact_store::session_reports;

use super::NOSNIFF;
use super::admin::Admin;
use crate::error::AppError;
use crate::node::state::AppState;

/// The report routes.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/admin/v1/reports/sessions", get(sessions))
}

/// A 400 that names the parameter: `{"error": {"code", "message", "parameter"}}`.
fn bad_parameter(e: &FilterError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {
            "code": "bad_request",
            "message": e.to_string(),
            "parameter": e.parameter,
        }})),
    )
        .into_response()
}

async fn sessions(
    _: Admin,
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(e) => return AppError::BadRequest(e.body_text()).into_response(),
    };
    let filter = match ReportFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        Ok(f) => f,
        Err(e) => return bad_parameter(&e),
    };
    let reports = match session_reports(state.store.as_ref(), &filter).await {
        Ok(r) => r,
        Err(e) => return AppError::from(e).into_response(),
    };
    match filter.format {
        Format::Json => ([(X_CONTENT_TYPE_OPTIONS, NOSNIFF)], Json(reports)).into_response(),
        Format::Csv => (
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    CONTENT_DISPOSITION,
                    HeaderValue::from_static(r#"attachment; filename="sessions.csv""#),
                ),
                (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
            ],
            interact_report::to_csv(&reports),
        )
            .into_response(),
    }
}
