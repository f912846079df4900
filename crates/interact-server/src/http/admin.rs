//! The admin API under `/admin/v1/` (documented in the [module docs](super#admin-api)).
//! The rules live in [`crate::admin`], shared with the CLI.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::openapi as doc;
use crate::admin;
use crate::error::AppError;
use crate::node::state::AppState;
use interact_model::TargetRef;
use interact_store::{EmbedCodeRecord, TemplateRecord};
use utoipa::{IntoParams, ToSchema};

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
        .route(
            "/admin/v1/embed-codes/{code}/identity-secret",
            post(rotate_identity_secret).delete(delete_identity_secret),
        )
        .route("/admin/v1/agents/{id}/sign-out", post(sign_out_agent))
        .route("/admin/v1/audit", get(audit_log))
        .route(
            "/admin/v1/templates/{name}/check",
            get(super::admin_tools::check_origin),
        )
        .route(
            "/admin/v1/embed-codes/{code}/preview-link",
            post(super::admin_tools::preview_link),
        )
        .route("/admin/v1/sign-in", post(super::admin_auth::sign_in))
        .route("/admin/v1/sign-out", post(super::admin_auth::sign_out))
        .route("/admin/v1/me", get(super::admin_auth::who_am_i))
        .route("/admin/v1/sessions/{id}/transcript", get(transcript))
        .merge(super::webhooks::router())
        .merge(super::workflows::router())
        .merge(super::directory::router())
        .merge(super::whatsapp::admin_router())
}

/// The query of `GET /admin/v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries older than this id (the previous page's last).
    before: Option<i64>,
    /// At most this many (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The audit log, newest first, a page at a time.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, description = "The entries, newest first.", body = [doc::AuditEntry]),
        (status = 400, description = "A bad `before` or `limit`.", body = doc::ApiError),
    ))]
async fn audit_log(
    admin: Admin,
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Result<Json<Vec<interact_store::AuditEntry>>, AppError> {
    admin.tenant_admin()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest("limit is 1 to 500".into()));
    }
    Ok(Json(state.store.audit_log(q.before, limit).await?))
}

/// A session's transcript: the session as stored and all its events, in order.
#[derive(Debug, Serialize, ToSchema)]
struct Transcript {
    session: TranscriptSession,
    /// Every event frame of the session in `seq` order, as on the wire (docs/protocol.md).
    #[schema(value_type = Vec<Object>)]
    events: Vec<interact_sdk::protocol::EventFrame>,
}

/// What a transcript says of its session.
#[derive(Debug, Serialize, ToSchema)]
struct TranscriptSession {
    #[schema(value_type = String)]
    id: interact_sdk::ids::SessionId,
    target: String,
    embed_code: String,
    origin: String,
    visitor_name: String,
    visitor_email: String,
    consent_version: String,
    consent_at: u64,
    #[schema(value_type = Option<String>)]
    agent: Option<interact_sdk::ids::AgentId>,
    created_at: u64,
    ended_at: Option<u64>,
    #[schema(value_type = Option<String>)]
    end_reason: Option<interact_sdk::protocol::EndReason>,
}

/// `GET /admin/v1/sessions/{id}/transcript`: 404 for an unknown (or malformed) id.
#[utoipa::path(get, path = "/admin/v1/sessions/{id}/transcript", tag = "sessions",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session as stored and its events.", body = Transcript),
        (status = 404, description = "No such session.", body = doc::ApiError),
    ))]
async fn transcript(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Transcript>, AppError> {
    let unknown = || AppError::NotFound(format!("no session {id:?}"));
    let sid = interact_sdk::ids::SessionId::new(id.clone()).map_err(|_| unknown())?;
    let record = state.store.session(&sid).await?.ok_or_else(unknown)?;
    admin.target(&record.target)?;
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
#[derive(Debug, Serialize, ToSchema)]
struct SignedOut {
    /// Sign-in tokens that stopped working.
    tokens: u64,
    /// Open connections closed.
    connections: usize,
}

/// Signs an agent out everywhere (an agent who left, or whose access was withdrawn):
/// every sign-in token of theirs stops working and every open connection of theirs is
/// closed at once (fatal `unauthorized`, close 4001). 404 for an unknown user.
#[utoipa::path(post, path = "/admin/v1/agents/{id}/sign-out", tag = "agents",
    params(("id" = String, Path, description = "The user's id.", example = "alex")),
    responses(
        (status = 200, description = "What was signed out.", body = SignedOut),
        (status = 404, description = "No such user.", body = doc::ApiError),
    ))]
async fn sign_out_agent(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SignedOut>, AppError> {
    admin.tenant_admin()?;
    if !state.tenant().users.contains_key(id.as_str()) {
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
        &admin.actor,
        state.now(),
        "agent.sign_out",
        &id,
        before,
        Some(&done),
    )
    .await;
    Ok(Json(done))
}

pub(super) use super::admin_auth::Admin;

/// Every Domain Template.
#[utoipa::path(get, path = "/admin/v1/templates", tag = "templates",
    responses((status = 200, description = "Every Domain Template.", body = [doc::Template])))]
async fn list_templates(
    admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<TemplateRecord>>, AppError> {
    admin.tenant_admin()?;
    Ok(Json(state.store.templates().await?))
}

/// One Domain Template.
#[utoipa::path(get, path = "/admin/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "The template's name.")),
    responses(
        (status = 200, description = "The template.", body = doc::Template),
        (status = 404, description = "No such template.", body = doc::ApiError),
    ))]
async fn get_template(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TemplateRecord>, AppError> {
    admin.tenant_admin()?;
    Ok(Json(admin::template(state.store.as_ref(), &name).await?))
}

/// The body of `PUT /admin/v1/templates/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"origins": ["https://shop.example.com", "https://*.example.com"]}))]
struct TemplateBody {
    /// Origin patterns, e.g. `https://shop.example.com`, `https://*.example.com`.
    origins: Vec<String>,
}

/// Creates or replaces a Domain Template.
#[utoipa::path(put, path = "/admin/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "The template's name.")),
    request_body = TemplateBody,
    responses(
        (status = 200, description = "The stored template.", body = doc::Template),
        (status = 400, description = "A malformed origin or name.", body = doc::ApiError),
    ))]
async fn put_template(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<Json<TemplateRecord>, AppError> {
    admin.tenant_admin()?;
    let record = admin::set_template(
        state.store.as_ref(),
        &name,
        &body.origins,
        state.now(),
        &admin.actor,
    )
    .await?;
    state.templates_changed().await?;
    tracing::info!(template = %name, origins = ?record.origins, "Domain Template set");
    Ok(Json(record))
}

/// Deletes a Domain Template no embed code uses.
#[utoipa::path(delete, path = "/admin/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "The template's name.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such template.", body = doc::ApiError),
        (status = 409, description = "An embed code uses it.", body = doc::ApiError),
    ))]
async fn delete_template(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    admin::delete_template(state.store.as_ref(), &name, state.now(), &admin.actor).await?;
    state.templates_changed().await?;
    tracing::info!(template = %name, "Domain Template deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Every embed code, revoked ones too.
#[utoipa::path(get, path = "/admin/v1/embed-codes", tag = "embed-codes",
    responses((status = 200, description = "Every embed code.", body = [doc::EmbedCode])))]
async fn list_embed_codes(
    admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<EmbedCodeRecord>>, AppError> {
    let mut codes = state.store.embed_codes().await?;
    codes.retain(|c| admin.sees(&c.target));
    Ok(Json(codes))
}

/// The body of `POST /admin/v1/embed-codes`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"target": {"kind": "service", "id": "support"}, "template": "demo"}))]
struct CreateEmbedCode {
    /// The service or user it points at (which must hold the licence for it).
    #[schema(value_type = doc::Target)]
    target: TargetRef,
    /// The Domain Template it is bound to.
    template: String,
}

/// A new embed code and the snippet to paste.
#[derive(Debug, Serialize, ToSchema)]
struct Created {
    #[serde(flatten)]
    #[schema(value_type = doc::EmbedCode)]
    record: EmbedCodeRecord,
    /// The HTML snippet to paste into a website.
    snippet: String,
}

/// Creates an embed code for a service or user, bound to a Domain Template.
#[utoipa::path(post, path = "/admin/v1/embed-codes", tag = "embed-codes",
    request_body = CreateEmbedCode,
    responses(
        (status = 201, description = "The embed code and its snippet.", body = Created),
        (status = 400, description = "A missing licence or an unknown template.", body = doc::ApiError),
    ))]
async fn create_embed_code(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateEmbedCode>,
) -> Result<(StatusCode, Json<Created>), AppError> {
    admin.tenant_admin()?;
    let record = admin::create_embed_code(
        state.store.as_ref(),
        &state.tenant(),
        body.target,
        &body.template,
        state.now(),
        &admin.actor,
    )
    .await?;
    tracing::info!(code = %record.code.as_str(), target = %record.target, "embed code created");
    let snippet = admin::snippet(&state.config.server.public_url, &record.code);
    Ok((StatusCode::CREATED, Json(Created { record, snippet })))
}

/// Revokes an embed code: websites using it stop working.
#[utoipa::path(post, path = "/admin/v1/embed-codes/{code}/revoke", tag = "embed-codes",
    params(("code" = String, Path, description = "The embed code.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such embed code.", body = doc::ApiError),
    ))]
async fn revoke_embed_code(
    admin: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    admin::revoke_embed_code(state.store.as_ref(), &code, state.now(), &admin.actor).await?;
    tracing::info!(code = %code, "embed code revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// A new identity secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"secret": "4f9c0d2e8b7a61f35c2d9e0a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c"}))]
struct IdentitySecret {
    /// The HMAC-SHA256 key (64 hex digits) the website's server signs visitor ids with:
    /// `hash = hex(HMAC-SHA256(secret, visitor id))`. The server cannot show it again.
    secret: String,
}

/// Makes (or replaces) the embed code's identity secret, for identified visitors
/// (`Interact.identify`): the answer is the only time it is shown. Hashes made with
/// an earlier secret stop verifying at once.
#[utoipa::path(post, path = "/admin/v1/embed-codes/{code}/identity-secret", tag = "embed-codes",
    params(("code" = String, Path, description = "The embed code.")),
    responses(
        (status = 201, description = "The new secret.", body = IdentitySecret),
        (status = 404, description = "No such live embed code.", body = doc::ApiError),
    ))]
async fn rotate_identity_secret(
    admin: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<(StatusCode, Json<IdentitySecret>), AppError> {
    admin.tenant_admin()?;
    let secret =
        admin::rotate_identity_secret(state.store.as_ref(), &code, state.now(), &admin.actor)
            .await?;
    tracing::info!(code = %code, "identity secret made");
    Ok((StatusCode::CREATED, Json(IdentitySecret { secret })))
}

/// Removes the embed code's identity secret: identified visitors are refused (and chat
/// anonymously) from now on.
#[utoipa::path(delete, path = "/admin/v1/embed-codes/{code}/identity-secret", tag = "embed-codes",
    params(("code" = String, Path, description = "The embed code.")),
    responses(
        (status = 204, description = "Removed (or there was none)."),
        (status = 404, description = "No such live embed code.", body = doc::ApiError),
    ))]
async fn delete_identity_secret(
    admin: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    if admin::delete_identity_secret(state.store.as_ref(), &code, state.now(), &admin.actor).await?
    {
        tracing::info!(code = %code, "identity secret removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The HTML snippet of an embed code.
#[utoipa::path(get, path = "/admin/v1/embed-codes/{code}/snippet", tag = "embed-codes",
    params(("code" = String, Path, description = "The embed code.")),
    responses(
        (status = 200, description = "The snippet.", body = String, content_type = "text/plain"),
        (status = 404, description = "No such embed code.", body = doc::ApiError),
    ))]
async fn snippet(
    admin: Admin,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    if let Some(record) = state.store.embed_code(&admin::parse_code(&code)?).await? {
        admin.target(&record.target)?;
    }
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
