//! The admin API's webhooks (`/admin/v1/webhooks`): register, change, delete, and read
//! each one's delivery log. What is sent, and how, is [`crate::node::webhooks`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::admin::Admin;
use super::openapi as doc;
use crate::admin::audit;
use crate::auth;
use crate::error::AppError;
use crate::node::state::AppState;
use crate::node::webhooks::{EVENTS, MAX_WEBHOOKS};
use interact_store::{DeliveryRecord, WebhookRecord};
use utoipa::{IntoParams, ToSchema};

/// The longest webhook URL.
const MAX_URL_BYTES: usize = 2048;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/webhooks", get(list).post(create))
        .route(
            "/admin/v1/webhooks/{id}",
            get(one).put(change).delete(remove),
        )
        .route("/admin/v1/webhooks/{id}/deliveries", get(deliveries))
}

/// The body of `POST` and `PUT`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.example.com/interact",
    "events": ["session.started", "session.ended"]
}))]
struct WebhookBody {
    /// `http://` or `https://`.
    #[schema(format = "uri", max_length = 2048)]
    url: String,
    /// Some of [`EVENTS`].
    #[schema(value_type = Vec<doc::WebhookEvent>, min_items = 1)]
    events: Vec<String>,
    /// `PUT` only: make a new secret (shown in the answer, once).
    #[serde(default)]
    rotate_secret: bool,
}

/// A webhook as the API shows it: the secret only when it was just made.
#[derive(Debug, Serialize, ToSchema)]
struct Shown {
    #[serde(flatten)]
    #[schema(value_type = doc::Webhook)]
    record: WebhookRecord,
    /// The secret the bodies are signed with (HMAC-SHA256): only when it was just made.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// Checks a body: the URL's scheme, host and size, and the events (known ones, each
/// once, at least one). Returns the events in [`EVENTS`] order.
fn check(body: &WebhookBody) -> Result<Vec<String>, AppError> {
    let bad = |m: String| Err(AppError::BadRequest(m));
    if body.url.len() > MAX_URL_BYTES {
        return bad(format!("url: at most {MAX_URL_BYTES} bytes"));
    }
    let uri: axum::http::Uri = match body.url.parse() {
        Ok(u) => u,
        Err(_) => return bad("url: not a URL".into()),
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none_or(str::is_empty) {
        return bad("url: an http:// or https:// URL with a host".into());
    }
    if body.events.is_empty() {
        return bad(format!("events: at least one of {}", EVENTS.join(", ")));
    }
    if let Some(e) = body.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return bad(format!("events: {e:?} is not one of {}", EVENTS.join(", ")));
    }
    Ok(EVENTS
        .iter()
        .filter(|e| body.events.iter().any(|b| b == *e))
        .map(|e| (*e).to_owned())
        .collect())
}

/// A new secret: 256 random bits, hex.
fn new_secret() -> String {
    let (a, b) = (auth::random_128(), auth::random_128());
    format!("whsec_{}{}", hex::encode(a), hex::encode(b))
}

async fn find(state: &AppState, id: &str) -> Result<WebhookRecord, AppError> {
    state
        .store
        .webhooks()
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| AppError::NotFound(format!("no webhook {id:?}")))
}

/// Every webhook (never their secrets).
#[utoipa::path(get, path = "/admin/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    responses((status = 200, description = "Every webhook.", body = [doc::Webhook])))]
async fn list(
    admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<WebhookRecord>>, AppError> {
    admin.tenant_admin()?;
    Ok(Json(state.store.webhooks().await?))
}

/// One webhook (never its secret).
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 200, description = "The webhook.", body = doc::Webhook),
        (status = 404, description = "No such webhook.", body = doc::ApiError),
    ))]
async fn one(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WebhookRecord>, AppError> {
    admin.tenant_admin()?;
    Ok(Json(find(&state, &id).await?))
}

/// `POST`: 201 with the webhook and its secret (shown this once).
#[utoipa::path(post, path = "/admin/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = WebhookBody,
    responses(
        (status = 201, description = "The webhook and its secret.", body = Shown),
        (status = 400, description = "A bad URL or event.", body = doc::ApiError),
        (status = 409, description = "There are as many webhooks as allowed.", body = doc::ApiError),
    ))]
async fn create(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Result<(StatusCode, Json<Shown>), AppError> {
    admin.tenant_admin()?;
    let events = check(&body)?;
    if state.store.webhooks().await?.len() >= MAX_WEBHOOKS {
        return Err(AppError::Conflict(format!(
            "at most {MAX_WEBHOOKS} webhooks; delete one first"
        )));
    }
    let record = WebhookRecord {
        id: format!("wh_{}", hex::encode(auth::random_128())),
        url: body.url,
        secret: new_secret(),
        events,
        created_at: state.now(),
    };
    state.store.put_webhook(&record).await?;
    let none: Option<&WebhookRecord> = None;
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "webhook.create",
        &record.id,
        none,
        Some(&record),
    )
    .await;
    state.webhooks_changed().await?;
    tracing::info!(webhook = %record.id, url = %record.url, "webhook created");
    let secret = Some(record.secret.clone());
    Ok((StatusCode::CREATED, Json(Shown { record, secret })))
}

/// `PUT`: the URL and events; a new secret if asked (then shown once).
#[utoipa::path(put, path = "/admin/v1/webhooks/{id}", tag = "webhooks", operation_id = "change_webhook",
    params(("id" = String, Path, description = "The webhook's id.")),
    request_body = WebhookBody,
    responses(
        (status = 200, description = "The webhook (with its new secret if rotated).", body = Shown),
        (status = 400, description = "A bad URL or event.", body = doc::ApiError),
        (status = 404, description = "No such webhook.", body = doc::ApiError),
    ))]
async fn change(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Result<Json<Shown>, AppError> {
    admin.tenant_admin()?;
    let events = check(&body)?;
    let before = find(&state, &id).await?;
    let record = WebhookRecord {
        url: body.url.clone(),
        events,
        secret: if body.rotate_secret {
            new_secret()
        } else {
            before.secret.clone()
        },
        ..before.clone()
    };
    state.store.put_webhook(&record).await?;
    let action = if body.rotate_secret {
        "webhook.update_and_rotate_secret"
    } else {
        "webhook.update"
    };
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        action,
        &id,
        Some(&before),
        Some(&record),
    )
    .await;
    state.webhooks_changed().await?;
    let secret = body.rotate_secret.then(|| record.secret.clone());
    Ok(Json(Shown { record, secret }))
}

/// `DELETE`: the webhook and its delivery log; 204, or 404.
#[utoipa::path(delete, path = "/admin/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 204, description = "Deleted, with its delivery log."),
        (status = 404, description = "No such webhook.", body = doc::ApiError),
    ))]
async fn remove(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    let before = find(&state, &id).await?;
    state.store.delete_webhook(&id).await?;
    let none: Option<&WebhookRecord> = None;
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "webhook.delete",
        &id,
        Some(&before),
        none,
    )
    .await;
    state.webhooks_changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// At most this many (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The webhook's deliveries, newest first: each with its body, attempts, last status or
/// error, and whether (and when) it was delivered or is due again.
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "webhook_deliveries",
    params(("id" = String, Path, description = "The webhook's id."), LogQuery),
    responses(
        (status = 200, description = "The deliveries, newest first.", body = [doc::Delivery]),
        (status = 400, description = "A bad `limit`.", body = doc::ApiError),
        (status = 404, description = "No such webhook.", body = doc::ApiError),
    ))]
async fn deliveries(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<DeliveryRecord>>, AppError> {
    admin.tenant_admin()?;
    find(&state, &id).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest("limit is 1 to 500".into()));
    }
    Ok(Json(state.store.deliveries(Some(&id), limit).await?))
}
