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
        .route("/admin/v1/audit", get(audit_log))
        .route("/admin/v1/sessions/{id}/transcript", get(transcript))
        .merge(super::webhooks::router())
        .merge(super::workflows::router())
}

/// Who the admin API's changes are by, in the audit log (one admin token today).
pub(super) const BY: &str = "admin";

/// The query of `GET /admin/v1/audit`.
#[derive(Debug, Deserialize)]
struct AuditQuery {
    /// Entries older than this id (the previous page's last).
    before: Option<i64>,
    /// At most this many (1 to 500, default 100).
    limit: Option<u32>,
}

/// The audit log, newest first, a page at a time.
async fn audit_log(
    _: Admin,
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Result<Json<Vec<interact_store::AuditEntry>>, AppError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest("limit is 1 to 500".into()));
    }
    Ok(Json(state.store.audit_log(q.before, limit).await?))
}

/// A session's transcript: the session as stored and all its events, in order.
#[derive(Debug, Serialize)]
struct Transcript {
    session: TranscriptSession,
    events: Vec<interact_sdk::protocol::EventFrame>,
}

/// What a transcript says of its session.
#[derive(Debug, Serialize)]
struct TranscriptSession {
    id: interact_sdk::ids::SessionId,
    target: String,
    embed_code: String,
    origin: String,
    visitor_name: String,
    visitor_email: String,
    consent_version: String,
    consent_at: u64,
    agent: Option<interact_sdk::ids::AgentId>,
    created_at: u64,
    ended_at: Option<u64>,
    end_reason: Option<interact_sdk::protocol::EndReason>,
}

/// `GET /admin/v1/sessions/{id}/transcript`: 404 for an unknown (or malformed) id.
async fn transcript(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Transcript>, AppError> {
    let unknown = || AppError::NotFound(format!("no session {id:?}"));
    let sid = interact_sdk::ids::SessionId::new(id.clone()).map_err(|_| unknown())?;
    let record = state.store.session(&sid).await?.ok_or_else(unknown)?;
    let events = state.store.events(&sid).await?;
    Ok(Json(Transcript {
        session: TranscriptSession {
            id: record.id,
            target: record.target.to_string(),
            embed_code: record.embed_code.as_str().to_owned(),
            origin: record.origin,
            visitor_name: record.visitor_name,
            visitor_email: record.visitor_email,
            consent_version: record.consent_version,
            consent_at: record.consent_at.0,
            agent: record.agent_id,
            created_at: record.created_at.0,
            ended_at: record.ended.map(|(at, _)| at.0),
            end_reason: record.ended.map(|(_, r)| r),
        },
        events,
    }))
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
    let done = SignedOut {
        tokens,
        connections,
    };
    let before: Option<&SignedOut> = None;
    admin::audit(
        state.store.as_ref(),
        BY,
        state.now(),
        "agent.sign_out",
        &id,
        before,
        Some(&done),
    )
    .await;
    Ok(Json(done))
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
        admin::set_template(state.store.as_ref(), &name, &body.origins, state.now(), BY).await?;
    state.templates_changed().await?;
    tracing::info!(template = %name, origins = ?record.origins, "Domain Template set");
    Ok(Json(record))
}

async fn delete_template(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    admin::delete_template(state.store.as_ref(), &name, state.now(), BY).await?;
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
        BY,
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
    admin::revoke_embed_code(state.store.as_ref(), &code, state.now(), BY).await?;
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
