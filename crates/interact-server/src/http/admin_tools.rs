//! What the admin app asks beyond plain records: whether an origin passes a Domain
//! Template (and why), and a signed link to an embed code's Preview page.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::Admin;
use super::openapi as doc;
use crate::admin;
use crate::error::AppError;
use crate::node::state::AppState;

/// The query of `GET /admin/v1/templates/{name}/check`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CheckQuery {
    /// The origin to check, as `scheme://host[:port]`.
    #[serde(default)]
    #[param(example = "https://shop.example.com")]
    origin: String,
}

/// Whether an origin passes a Domain Template, and why, in words.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Verdict {
    /// The origin checked (as given).
    origin: String,
    /// Whether a page of that origin may show the widget.
    allowed: bool,
    /// Why, in a sentence for the admin.
    reason: String,
}

/// `GET /admin/v1/templates/{name}/check?origin=`: the live check the admin app shows
/// while an origin is typed. Tenant Admins only; 404 for an unknown template.
#[utoipa::path(get, path = "/admin/v1/templates/{name}/check", tag = "templates",
    params(("name" = String, Path, description = "The template's name."), CheckQuery),
    responses(
        (status = 200, description = "The verdict.", body = Verdict),
        (status = 400, description = "No origin given.", body = doc::ApiError),
        (status = 403, description = "Not a Tenant Admin.", body = doc::ApiError),
        (status = 404, description = "No such template.", body = doc::ApiError),
    ))]
pub(super) async fn check_origin(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<CheckQuery>,
) -> Result<Json<Verdict>, AppError> {
    admin.tenant_admin()?;
    admin::template(state.store.as_ref(), &name).await?;
    let origin = q.origin.trim();
    if origin.is_empty() || origin.len() > 2048 {
        return Err(AppError::BadRequest(
            "origin: give one origin of at most 2048 bytes, as scheme://host[:port]".into(),
        ));
    }
    let (allowed, reason) = super::widget::origin_verdict(&state, &state.template(&name), origin);
    Ok(Json(Verdict {
        origin: origin.to_owned(),
        allowed,
        reason,
    }))
}

/// A signed link to a Preview page.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PreviewLink {
    /// The link: `<public URL>/preview/<code>?ticket=<ticket>`.
    url: String,
    /// When it stops working (Unix ms).
    expires_at: u64,
}

/// `POST /admin/v1/embed-codes/{code}/preview-link`: a link to the code's Preview page,
/// valid for an hour ([`crate::preview`]). Tenant Admins, and Owners of the code's
/// service; 404 for an unknown or revoked code.
#[utoipa::path(post, path = "/admin/v1/embed-codes/{code}/preview-link", tag = "embed-codes",
    params(("code" = String, Path, description = "The embed code.")),
    responses(
        (status = 200, description = "The signed link.", body = PreviewLink),
        (status = 403, description = "Not an admin of the code's target.", body = doc::ApiError),
        (status = 404, description = "No live embed code.", body = doc::ApiError),
    ))]
pub(super) async fn preview_link(
    admin: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<PreviewLink>, AppError> {
    let parsed = admin::parse_code(&code)?;
    let record = match state.store.embed_code(&parsed).await? {
        Some(r) if r.revoked_at.is_none() => r,
        _ => return Err(AppError::NotFound(format!("no live embed code {code:?}"))),
    };
    admin.target(&record.target)?;
    let code = record.code.as_str();
    let (ticket, expires) = crate::preview::issue(state.store.as_ref(), code, state.now()).await?;
    Ok(Json(PreviewLink {
        url: format!(
            "{}/preview/{code}?ticket={ticket}",
            state.config.server.public_url
        ),
        expires_at: expires.0,
    }))
}
