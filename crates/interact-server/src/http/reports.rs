//! `GET /admin/v1/reports/sessions`: the session report as JSON or CSV, and `GET
//! /admin/v1/usage`: usage per UTC day, target, channel and modality (both documented in
//! the [module docs](super#admin-api); the rows, the outcome rules and what usage counts
//! are in [`interact_report`] and [`interact_report::usage`]).

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use interact_report::{Day, FilterError, Format, ReportFilter, TargetKind, UsageFilter};
use interact_store::session_reports;

use super::NOSNIFF;
use super::admin::Admin;
use super::openapi as doc;
use crate::error::AppError;
use crate::node::state::AppState;

/// The report routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/reports/sessions", get(sessions))
        .route("/admin/v1/usage", get(usage))
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
    if let Err(refused) = scope(
        &admin,
        &mut filter.service,
        filter.user.as_deref(),
        filter.kind,
    ) {
        return refused.into_response();
    }
    let mut reports = match session_reports(state.store.as_ref(), &filter).await {
        Ok(r) => r,
        Err(e) => return AppError::from(e).into_response(),
    };
    if admin.owned().is_some() {
        reports.retain(|r| r.kind == TargetKind::Service && admin.manages(&r.target));
    }
    answer(
        filter.format,
        &reports,
        r#"attachment; filename="sessions.csv""#,
        interact_report::to_csv,
    )
}

/// Narrows a report to what a Service Owner may see: refused (403) if it names another
/// service, a user or direct contacts; their one service if it names none.
fn scope(
    admin: &Admin,
    service: &mut Option<String>,
    user: Option<&str>,
    kind: Option<TargetKind>,
) -> Result<(), AppError> {
    let Some(owned) = admin.owned() else {
        return Ok(());
    };
    if let Some(message) = owner_refusal(admin, service.as_deref(), user, kind) {
        return Err(AppError::Denied(message));
    }
    if service.is_none() && owned.len() == 1 {
        *service = owned.first().map(ToString::to_string);
    }
    Ok(())
}

/// A report's rows as JSON, or as a CSV download named by `disposition`.
fn answer<T: serde::Serialize>(
    format: Format,
    rows: &[T],
    disposition: &'static str,
    csv: impl Fn(&[T]) -> String,
) -> Response {
    match format {
        Format::Json => ([(X_CONTENT_TYPE_OPTIONS, NOSNIFF)], Json(rows)).into_response(),
        Format::Csv => (
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (CONTENT_DISPOSITION, HeaderValue::from_static(disposition)),
                (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
            ],
            csv(rows),
        )
            .into_response(),
    }
}

/// Why a Service Owner may not ask for this usage or report: a service they do not own,
/// or direct contacts with users (for Tenant Admins only). `None` if they may.
fn owner_refusal(
    admin: &Admin,
    service: Option<&str>,
    user: Option<&str>,
    kind: Option<TargetKind>,
) -> Option<String> {
    match (service, user, kind) {
        (Some(s), _, _) if !admin.manages(s) => {
            Some(format!("you are not an owner of service {s:?}"))
        }
        (_, Some(_), _) | (_, _, Some(TargetKind::User)) => {
            Some("direct contacts with users are for Tenant Admins only".to_owned())
        }
        _ => None,
    }
}

/// Usage per UTC day, target (service, or user for direct contacts) and channel: chat
/// sessions, messages in and out, audio, video and screen-share minutes, WhatsApp
/// messages; as JSON or CSV (every parameter is optional; empty values count as absent;
/// unknown or repeated ones are refused).
#[utoipa::path(get, path = "/admin/v1/usage", tag = "usage", operation_id = "usage_report",
    params(
        ("from" = Option<String>, Query, format = Date, example = "2024-05-01",
            description = "The first UTC day (`YYYY-MM-DD`); by default the 30 days up to `to`."),
        ("to" = Option<String>, Query, format = Date, example = "2024-05-31",
            description = "The last UTC day, included (`YYYY-MM-DD`); by default today. \
            At most 366 days from `from`."),
        ("service" = Option<String>, Query, description = "Sessions for this service id."),
        ("user" = Option<String>, Query, description = "Direct contacts with this user id."),
        ("channel" = Option<String>, Query, description = "`widget` or `whatsapp`.", example = "widget"),
        ("kind" = Option<doc::TargetKind>, Query, description = "`service` or `user`."),
        ("format" = Option<doc::ReportFormat>, Query, description = "`json` (default) or `csv`."),
    ),
    responses(
        (status = 200, description = "Usage per day, kind, target and channel, in that order; \
            days and targets without usage are left out.", content(
            (Vec<doc::DayUsage> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A bad parameter, named in `parameter`.", body = doc::ApiError),
    ))]
async fn usage(
    admin: Admin,
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(e) => return AppError::BadRequest(e.body_text()).into_response(),
    };
    let today = Day::of(state.now());
    let mut filter =
        match UsageFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), today) {
            Ok(f) => f,
            Err(e) => return bad_parameter(&e),
        };
    // A Service Owner sees their services' usage only, as in the session report.
    if let Err(refused) = scope(
        &admin,
        &mut filter.service,
        filter.user.as_deref(),
        filter.kind,
    ) {
        return refused.into_response();
    }
    let tenant = crate::admin::tenant_name(&state.config.server.public_url);
    let mut rows = match interact_store::usage(state.store.as_ref(), &filter, tenant).await {
        Ok(r) => r,
        Err(e) => return AppError::from(e).into_response(),
    };
    if admin.owned().is_some() {
        rows.retain(|r| r.kind == TargetKind::Service && admin.manages(&r.target));
    }
    answer(
        filter.format,
        &rows,
        r#"attachment; filename="usage.csv""#,
        interact_report::usage_csv,
    )
}
