//! The admin API under `/admin/v1/` (documented in the [module docs](super#admin-api)).
//! The rules live in [`crate::admin`], shared with the CLI.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiJson, bearer};
use crate::admin;
use crate::auth;
use crate::error::AppError;
use crate::node::state::AppState;
use interact_model::TargetRef;
use interact_store::{EmbedCodeRecord, TemplateRecord};

/// The admin routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/templates", get(list_templates))
        .route(
            "/admin/v1/templates/{name}",
            get(get_template).put(put_template).delete(delete_template),
        )
        .route(
            "/admin/v1/embed-codes",
            get(list_embed_codes).post(create_embed_code),
        )
        .route(
            "/admin/v1/embed-codes/{code}/revoke",
            post(revoke_embed_code),
        )
        .route("/admin/v1/embed-codes/{code}/snippet", get(snippet))
        .route("/admin/v1/agents/{id}/sign-out", post(sign_out_agent))
}

/// What `POST /admin/v1/agents/{id}/sign-out` did.
#[derive(Debug, Serialize)]
struct SignedOut {
    /// Sign-in tokens that stopped working.
    tokens: u64,
    /// Open connections closed.
    connections: usize,
}

/// Signs an agent out everywhere (an agent who left, or whose access was withdrawn):
/// every sign-in token of theirs stops working and every open connection of theirs is
/// closed at once (fatal `unauthorized`, close 4001). 404 for an unknown user.
async fn sign_out_agent(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SignedOut>, AppError> {
    if !state.tenant.users.contains_key(id.as_str()) {
        return Err(AppError::NotFound(format!("no user {id:?}")));
    }
    let tokens = state.store.delete_agent_tokens_of(&id).await?;
    let connections =
        state
            .hub
            .close_agent_conns(Some(&id), None, "signed out by an administrator");
    tracing::info!(agent = %id, tokens, connections, "agent signed out by an administrator");
    Ok(Json(SignedOut {
        tokens,
        connections,
    }))
}

/// Proof that the request carries the admin token (extracting it checks the header).
#[derive(Debug, Clone, Copy)]
pub(super) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let expected = state.config.admin.token_sha256.to_ascii_lowercase();
        match bearer(&parts.headers) {
            Some(token) if auth::hashes_equal(&auth::token_hash(token), &expected) => Ok(Self),
            _ => {
                state.metrics.reject("admin_unauthorized");
                Err(AppError::Unauthorized(
                    "the admin API needs Authorization: Bearer <admin token>".into(),
                ))
            }
        }
    }
}

async fn list_templates(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<TemplateRecord>>, AppError> {
    Ok(Json(state.store.templates().await?))
}

async fn get_template(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TemplateRecord>, AppError> {
    Ok(Json(admin::template(state.store.as_ref(), &name).await?))
}

/// The body of `PUT /admin/v1/templates/{name}`.
#[derive(Debug, Deserialize)]
struct TemplateBody {
    origins: Vec<String>,
}

async fn put_template(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<Json<TemplateRecord>, AppError> {
    let record =
        admin::set_template(state.store.as_ref(), &name, &body.origins, state.now()).await?;
    state.templates_changed().await?;
    tracing::info!(template = %name, origins = ?record.origins, "Domain Template set");
    Ok(Json(record))
}

async fn delete_template(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    admin::delete_template(state.store.as_ref(), &name).await?;
    state.templates_changed().await?;
    tracing::info!(template = %name, "Domain Template deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_embed_codes(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<EmbedCodeRecord>>, AppError> {
    Ok(Json(state.store.embed_codes().await?))
}

/// The body of `POST /admin/v1/embed-codes`.
#[derive(Debug, Deserialize)]
struct CreateEmbedCode {
    target: TargetRef,
    template: String,
}

/// A new embed code and the snippet to paste.
#[derive(Debug, Serialize)]
struct Created {
    #[serde(flatten)]
    record: EmbedCodeRecord,
    snippet: String,
}

async fn create_embed_code(
    _: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateEmbedCode>,
) -> Result<(StatusCode, Json<Created>), AppError> {
    let record = admin::create_embed_code(
        state.store.as_ref(),
        &state.tenant,
        body.target,
        &body.template,
        state.now(),
    )
    .await?;
    tracing::info!(code = %record.code.as_str(), target = %record.target, "embed code created");
    let snippet = admin::snippet(&state.config.server.public_url, &record.code);
    Ok((StatusCode::CREATED, Json(Created { record, snippet })))
}

async fn revoke_embed_code(
    _: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<StatusCode, AppError> {
    admin::revoke_embed_code(state.store.as_ref(), &code, state.now()).await?;
    tracing::info!(code = %code, "embed code revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn snippet(
    _: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let snippet =
        admin::snippet_for(state.store.as_ref(), &state.config.server.public_url, &code).await?;
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        snippet + "\n",
    ))
}
