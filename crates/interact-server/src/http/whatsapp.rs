//! The WhatsApp connector over HTTP ([`crate::node::whatsapp`]): its configuration in
//! the admin API, and Twilio's incoming-message webhook.
//!
//! | Request | Answer |
//! |---------|--------|
//! | `GET /admin/v1/services/{id}/whatsapp` | 200, `{"account_sid", "auth_token" (the secret reference, never the token), "sender", "api_base", "webhook_url"}`; 404 without one |
//! | `PUT /admin/v1/services/{id}/whatsapp` | 200, as `GET`; 400 naming what is wrong (a sender outside `+1`, a service without the Contact Center licence, a reference that does not resolve) |
//! | `DELETE /admin/v1/services/{id}/whatsapp` | 204; 404 |
//! | `POST /v1/whatsapp/{service}` | Twilio's webhook: 200 with empty TwiML; 403 for a bad or missing `X-Twilio-Signature` (nothing stored); 404 for a service without a connector; 400 for a malformed message; 503 when the session refuses it for now |
//! | `POST /v1/whatsapp/{service}/status?session=..&piece=..` | Twilio's status callback for a message the connector sent (the connector gives Twilio this URL): 204; 403, 404 and 400 as above |
//!
//! Tenant Admins only: a connector holds a reference to the tenant's Twilio secret.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiJson;
use super::admin::Admin;
use super::openapi as doc;
use crate::admin::audit;
use crate::error::AppError;
use crate::node::state::AppState;
use crate::node::whatsapp::{self, Connector, ConnectorError, InboundError, KIND};

/// The admin API's routes.
pub(super) fn admin_router() -> Router<AppState> {
    Router::new().route(
        "/admin/v1/services/{id}/whatsapp",
        get(get_connector)
            .put(put_connector)
            .delete(delete_connector),
    )
}

/// Twilio's webhook.
pub(super) fn webhook_router() -> Router<AppState> {
    Router::new()
        .route("/v1/whatsapp/{service}", post(inbound))
        .route("/v1/whatsapp/{service}/status", post(status))
}

impl From<ConnectorError> for AppError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::Invalid(m) => Self::BadRequest(m),
            ConnectorError::UnknownService(_) => Self::NotFound(e.to_string()),
            ConnectorError::Store(e) => Self::Store(e),
        }
    }
}

/// A connector as the admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConnectorView {
    #[serde(flatten)]
    connector: Connector,
    /// Where Twilio posts incoming messages: set it as the sender's "A message comes in"
    /// webhook.
    webhook_url: String,
}

fn view(state: &AppState, service: &str, connector: Connector) -> ConnectorView {
    ConnectorView {
        connector,
        webhook_url: format!(
            "{}{}",
            state.config.server.public_url,
            whatsapp::webhook_path(service)
        ),
    }
}

/// The service's WhatsApp connector.
#[utoipa::path(get, path = "/admin/v1/services/{id}/whatsapp", tag = "services", operation_id = "get_whatsapp",
    params(("id" = String, Path, description = "The service's id.")),
    responses(
        (status = 200, description = "The connector (the secret reference, never the token).", body = ConnectorView),
        (status = 404, description = "No connector.", body = doc::ApiError),
    ))]
async fn get_connector(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConnectorView>, AppError> {
    admin.tenant_admin()?;
    let connector = whatsapp::connector(&state, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {id:?} has no WhatsApp connector")))?;
    Ok(Json(view(&state, &id, connector)))
}

/// Sets the service's WhatsApp connector (checked first).
#[utoipa::path(put, path = "/admin/v1/services/{id}/whatsapp", tag = "services", operation_id = "put_whatsapp",
    params(("id" = String, Path, description = "The service's id.")),
    request_body = Connector,
    responses(
        (status = 200, description = "The connector as stored.", body = ConnectorView),
        (status = 400, description = "What is wrong with it.", body = doc::ApiError),
        (status = 404, description = "No such service.", body = doc::ApiError),
    ))]
async fn put_connector(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Connector>,
) -> Result<Json<ConnectorView>, AppError> {
    admin.tenant_admin()?;
    let before = whatsapp::put(&state, &id, &body).await?;
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "whatsapp.put",
        &id,
        before.as_ref(),
        Some(&body),
    )
    .await;
    Ok(Json(view(&state, &id, body)))
}

/// Removes the service's WhatsApp connector: its webhook answers 404 from now on.
#[utoipa::path(delete, path = "/admin/v1/services/{id}/whatsapp", tag = "services", operation_id = "delete_whatsapp",
    params(("id" = String, Path, description = "The service's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No connector.", body = doc::ApiError),
    ))]
async fn delete_connector(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    let before = whatsapp::connector(&state, &id).await?;
    if !state.store.delete_config_item(KIND, &id).await? {
        return Err(AppError::NotFound(format!(
            "service {id:?} has no WhatsApp connector"
        )));
    }
    audit::<Connector, Connector>(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "whatsapp.delete",
        &id,
        before.as_ref(),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook from Twilio for `service`'s connector, its signature checked: the
/// connector and the form's parameters, or the answer to give (404 without a connector,
/// 403 for a bad or missing signature or another account's message).
async fn signed(
    state: &AppState,
    service: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Connector, Vec<(String, String)>), Response> {
    let Ok(Some(connector)) = whatsapp::connector(state, service).await else {
        return Err(AppError::NotFound("no WhatsApp connector here".into()).into_response());
    };
    let token = match connector.token(&state.config.secrets) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(service = %service, error = %e, "the WhatsApp connector's token cannot be read");
            return Err((StatusCode::SERVICE_UNAVAILABLE, "connector unavailable").into_response());
        }
    };
    // The signature first: nothing of an unsigned request is read further.
    let url = format!("{}{uri}", state.config.server.public_url);
    let params = interact_twilio::form::parse(body);
    let valid = headers
        .get(interact_twilio::signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| interact_twilio::signature::verify(&token, &url, &params, sig));
    if !valid {
        state.metrics.reject("whatsapp_signature");
        return Err(AppError::Denied("invalid X-Twilio-Signature".into()).into_response());
    }
    let account = params
        .iter()
        .find(|(k, _)| k == "AccountSid")
        .map(|(_, v)| v.as_str());
    if account.is_some_and(|a| a != connector.account_sid) {
        state.metrics.reject("whatsapp_account");
        return Err(
            AppError::Denied("the message is for another Twilio account".into()).into_response(),
        );
    }
    Ok((connector, params))
}

/// Twilio's incoming-message webhook for `service` (see the module docs).
async fn inbound(
    State(state): State<AppState>,
    Path(service): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, params) = match signed(&state, &service, &uri, &headers, &body).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let message = match interact_twilio::inbound::Inbound::from_form(&params) {
        Ok(m) => m,
        Err(e) => {
            state.metrics.reject("whatsapp_malformed");
            return AppError::BadRequest(e.to_string()).into_response();
        }
    };
    // `signed` checked its AccountSid against the connector's.
    match whatsapp::receive(&state, &service, &message).await {
        Ok(received) => {
            tracing::info!(service = %service, message = %message.message_sid, ?received, "WhatsApp message received");
            (
                [(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                )],
                interact_twilio::inbound::EMPTY_TWIML,
            )
                .into_response()
        }
        Err(InboundError::Busy(m)) => (StatusCode::SERVICE_UNAVAILABLE, m).into_response(),
        Err(InboundError::Store(e)) => AppError::Store(e).into_response(),
    }
}

/// Twilio's status callback for a message `service`'s connector sent: signed like the
/// inbound webhook; 204 once taken (a callback for no message of ours too: Twilio need
/// not send it again).
async fn status(
    State(state): State<AppState>,
    Path(service): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, params) = match signed(&state, &service, &uri, &headers, &body).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let callback = match interact_twilio::status::StatusCallback::from_form(&params) {
        Ok(c) => c,
        Err(e) => {
            state.metrics.reject("whatsapp_malformed");
            return AppError::BadRequest(e.to_string()).into_response();
        }
    };
    let query = interact_twilio::form::parse(uri.query().unwrap_or_default().as_bytes());
    let find = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let session = find("session").and_then(|s| interact_sdk::ids::SessionId::new(s).ok());
    let piece = find("piece").and_then(|p| p.parse::<i64>().ok());
    match whatsapp::status(&state, &service, session.as_ref(), piece, &callback).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => AppError::Store(e).into_response(),
    }
}
