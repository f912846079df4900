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
use super::openapi as doc;
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

/// The session report, as JSON or CSV (every parameter is optional and narrows the list;
/// empty values count as absent; unknown or repeated ones are refused).
#[utoipa::path(get, path = "/admin/v1/reports/sessions", tag = "sessions", operation_id = "session_report",
    params(
        ("service" = Option<String>, Query, description = "Sessions for this service id."),
        ("user" = Option<String>, Query, description = "Direct contacts with this user id."),
        ("channel" = Option<String>, Query, description = "`widget` or `whatsapp`.", example = "widget"),
        ("kind" = Option<doc::TargetKind>, Query, description = "`service` or `user`."),
        ("outcome" = Option<String>, Query, description = "One or more outcomes, comma-separated: \
            `handled`, `failed`, `abandoned`, `cancelled`, `transferred`, `no_agent`."),
        ("from" = Option<u64>, Query, description = "Created at or after (Unix ms)."),
        ("to" = Option<u64>, Query, description = "Created before (Unix ms)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000,
            description = "At most this many rows (default 1000)."),
        ("format" = Option<doc::ReportFormat>, Query, description = "`json` (default) or `csv`."),
    ),
    responses(
        (status = 200, description = "The sessions, oldest first.", content(
            (Vec<doc::SessionReport> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A bad parameter, named in `parameter`.", body = doc::ApiError),
    ))]
async fn sessions(
    admin: Admin,
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(e) => return AppError::BadRequest(e.body_text()).into_response(),
    };
    let mut filter =
        match ReportFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(f) => f,
            Err(e) => return bad_parameter(&e),
        };
    // A Service Owner sees their services' sessions only.
    if let Some(owned) = admin.owned() {
        let denied = match (&filter.service, &filter.user, filter.kind) {
            (Some(s), _, _) if !admin.manages(s) => {
                Some(format!("you are not an owner of service {s:?}"))
            }
            (_, Some(_), _) | (_, _, Some(interact_report::TargetKind::User)) => {
                Some("direct contacts with users are for Tenant Admins only".to_owned())
            }
            _ => None,
        };
        if let Some(message) = denied {
            return AppError::Denied(message).into_response();
        }
        if filter.service.is_none() && owned.len() == 1 {
            filter.service = owned.first().map(ToString::to_string);
        }
    }
    let mut reports = match session_reports(state.store.as_ref(), &filter).await {
        Ok(r) => r,
        Err(e) => return AppError::from(e).into_response(),
    };
    if admin.owned().is_some() {
        reports
            .retain(|r| r.kind == interact_report::TargetKind::Service && admin.manages(&r.target));
    }
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
