//! The tenant's services, users and opening hours in the admin API
//! ([`crate::node::directory`] keeps them in the database and puts changes in force on
//! every node).
//!
//! | Request | Who |
//! |---------|-----|
//! | `GET /admin/v1/services`, `GET /admin/v1/services/{id}` | Tenant Admins; Service Owners their own |
//! | `PUT /admin/v1/services/{id}` | Tenant Admins; Service Owners their own, without changing its licences or owners |
//! | `DELETE /admin/v1/services/{id}` | Tenant Admins (409 while a live embed code points at it) |
//! | `GET /admin/v1/users`, `GET /admin/v1/users/{id}` | Tenant Admins and Service Owners (who pick members); never a password hash |
//! | `PUT`, `DELETE /admin/v1/users/{id}` | Tenant Admins; a deleted user is signed out everywhere |
//! | `GET /admin/v1/opening-hours` | Tenant Admins and Service Owners |
//! | `PUT`, `DELETE /admin/v1/opening-hours/{name}` | Tenant Admins |

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use interact_model::{Licence, ServiceConfig, UserConfig};
use interact_sdk::config::{PrivacyPolicy, Theme};
use interact_sdk::modality::Modality;
use interact_workflow::OpeningHoursConfig;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use super::admin::Admin;
use super::openapi as doc;
use crate::admin::audit;
use crate::auth;
use crate::error::AppError;
use crate::node::directory::{self, ChangeError, TenantConfig};
use crate::node::state::AppState;

/// The routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/services", get(list_services))
        .route(
            "/admin/v1/services/{id}",
            get(get_service).put(put_service).delete(delete_service),
        )
        .route("/admin/v1/users", get(list_users))
        .route(
            "/admin/v1/users/{id}",
            get(get_user).put(put_user).delete(delete_user),
        )
        .route("/admin/v1/opening-hours", get(list_hours))
        .route(
            "/admin/v1/opening-hours/{name}",
            axum::routing::put(put_hours).delete(delete_hours),
        )
}

impl From<ChangeError> for AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Invalid(m) => Self::BadRequest(m),
            ChangeError::NotFound(m) => Self::NotFound(m),
            ChangeError::Denied(m) => Self::Denied(m),
            ChangeError::Store(e) => Self::Store(e),
        }
    }
}

/// A service as the admin API shows and takes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Service {
    /// Unique id (the path's; ignored in a body).
    #[serde(default)]
    id: String,
    /// The name visitors see.
    display_name: String,
    /// `contact_center`, `interact`.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    licences: BTreeSet<Licence>,
    /// `chat`, `audio`, `video`, `screen_share`.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    modalities: Vec<Modality>,
    /// User ids of the agents who take its chats.
    #[serde(default)]
    members: Vec<String>,
    /// User ids of its Service Owners.
    #[serde(default)]
    owners: Vec<String>,
    /// The Instant Messaging workflow its chats run.
    #[serde(default)]
    workflow: Option<String>,
    /// The Audio/Video workflow its calls run (a workflow with `modality =
    /// "audio_video"`).
    #[serde(default)]
    av_workflow: Option<String>,
    /// Languages, preferred first (BCP 47).
    #[serde(default = "default_languages")]
    languages: Vec<String>,
    /// The privacy policy visitors consent to: `{"url", "text", "version"}`.
    #[schema(value_type = Object)]
    privacy: PrivacyPolicy,
    /// Presentation: `{"accent_color": "#rrggbb", "position": "bottom_right"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    theme: Theme,
    /// Whether a visitor can start a chat while nobody is available, and wait in the
    /// queue (default true).
    #[serde(default = "yes")]
    queue_when_unavailable: bool,
    /// Whether a visitor who cannot chat can leave a message agents answer by email
    /// (default true).
    #[serde(default = "yes")]
    offline_messages: bool,
}

fn yes() -> bool {
    true
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}

impl From<&ServiceConfig> for Service {
    fn from(s: &ServiceConfig) -> Self {
        Self {
            id: s.id.to_string(),
            display_name: s.display_name.clone(),
            licences: s.licences.clone(),
            modalities: s.modalities.clone(),
            members: s.members.iter().map(ToString::to_string).collect(),
            owners: s.owners.iter().map(ToString::to_string).collect(),
            workflow: s.workflow.clone(),
            av_workflow: s.av_workflow.clone(),
            languages: s.languages.clone(),
            privacy: s.privacy.clone(),
            theme: s.theme.clone(),
            queue_when_unavailable: s.queue_when_unavailable,
            offline_messages: s.offline_messages,
        }
    }
}

impl Service {
    fn into_config(self, id: &str) -> ServiceConfig {
        ServiceConfig {
            id: id.into(),
            display_name: self.display_name,
            licences: self.licences,
            modalities: self.modalities,
            members: self.members.into_iter().map(Into::into).collect(),
            owners: self.owners.into_iter().map(Into::into).collect(),
            workflow: self.workflow.filter(|w| !w.is_empty()),
            av_workflow: self.av_workflow.filter(|w| !w.is_empty()),
            languages: self.languages,
            privacy: self.privacy,
            theme: self.theme,
            queue_when_unavailable: self.queue_when_unavailable,
            offline_messages: self.offline_messages,
        }
    }
}

/// A user as the admin API shows it (never the password hash).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub(super) struct User {
    /// Unique id, also the sign-in name.
    id: String,
    /// The name visitors see.
    display_name: String,
    /// `instant_messaging` (takes service chats), `interact_user` (reachable directly).
    #[schema(value_type = Vec<String>)]
    licences: BTreeSet<Licence>,
    /// Whether the user can be reached directly from a website (the Interact User licence).
    interact: bool,
    /// Direct modalities: `chat`, `audio`, `video`, `screen_share`.
    #[schema(value_type = Vec<String>)]
    modalities: Vec<Modality>,
    /// The privacy policy of direct contacts.
    #[schema(value_type = Option<Object>)]
    privacy: Option<PrivacyPolicy>,
    /// Languages, preferred first.
    languages: Vec<String>,
    /// A Tenant Admin.
    tenant_admin: bool,
    /// The services this user owns (a Service Owner of each).
    owns: Vec<String>,
}

/// The body of `PUT /admin/v1/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UserBody {
    display_name: String,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    licences: BTreeSet<Licence>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    modalities: Vec<Modality>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    privacy: Option<PrivacyPolicy>,
    #[serde(default = "default_languages")]
    languages: Vec<String>,
    #[serde(default)]
    tenant_admin: bool,
    /// A new password (8 to 256 characters); needed for a new user, else optional.
    #[serde(default)]
    password: Option<String>,
}

fn user_view(u: &UserConfig, tenant: &TenantConfig) -> User {
    User {
        id: u.id.to_string(),
        display_name: u.display_name.clone(),
        interact: u.licences.contains(&Licence::InteractUser),
        licences: u.licences.clone(),
        modalities: u.modalities.clone(),
        privacy: u.privacy.clone(),
        languages: u.languages.clone(),
        tenant_admin: u.tenant_admin,
        owns: tenant
            .services
            .iter()
            .filter(|s| s.owners.contains(&u.id))
            .map(|s| s.id.to_string())
            .collect(),
    }
}

/// What the audit log keeps of a user: everything but the password hash (and whether
/// it changed).
#[derive(Serialize)]
struct AuditedUser {
    #[serde(flatten)]
    user: User,
    password_hash: &'static str,
}

fn audited(u: &UserConfig, tenant: &TenantConfig) -> AuditedUser {
    AuditedUser {
        user: user_view(u, tenant),
        // A fingerprint of the hash, so the log shows that a password changed.
        password_hash: if u.password_hash.is_empty() {
            ""
        } else {
            "(set)"
        },
    }
}

/// Every service (a Service Owner: their own).
#[utoipa::path(get, path = "/admin/v1/services", tag = "services", operation_id = "list_services",
    responses((status = 200, description = "The services.", body = [Service])))]
async fn list_services(
    admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<Service>>, AppError> {
    let tenant = directory::load(state.store.as_ref()).await?;
    Ok(Json(
        tenant
            .services
            .iter()
            .filter(|s| admin.manages(&s.id))
            .map(Service::from)
            .collect(),
    ))
}

/// One service.
#[utoipa::path(get, path = "/admin/v1/services/{id}", tag = "services", operation_id = "get_service",
    params(("id" = String, Path, description = "The service's id.")),
    responses(
        (status = 200, description = "The service.", body = Service),
        (status = 404, description = "No such service.", body = doc::ApiError),
    ))]
async fn get_service(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Service>, AppError> {
    admin.service(&id)?;
    let tenant = directory::load(state.store.as_ref()).await?;
    tenant
        .services
        .iter()
        .find(|s| s.id.as_str() == id)
        .map(|s| Json(Service::from(s)))
        .ok_or_else(|| AppError::NotFound(format!("no service {id:?}")))
}

/// Creates or replaces a service; in force on every node at once. A Service Owner may
/// change their own service but not its licences or owners.
#[utoipa::path(put, path = "/admin/v1/services/{id}", tag = "services", operation_id = "put_service",
    params(("id" = String, Path, description = "The service's id.")),
    request_body = Service,
    responses(
        (status = 200, description = "The service as stored.", body = Service),
        (status = 400, description = "What is wrong with it.", body = doc::ApiError),
    ))]
async fn put_service(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Service>,
) -> Result<Json<Service>, AppError> {
    admin.service(&id)?;
    let config = body.into_config(&id);
    let owner = admin.owned().is_some();
    let (before, after) = directory::change(&state, |t| {
        match t.services.iter_mut().find(|s| s.id == config.id) {
            Some(s) => {
                if owner && (s.licences != config.licences || s.owners != config.owners) {
                    return Err(ChangeError::Denied(
                        "only a Tenant Admin changes licences or owners".into(),
                    ));
                }
                *s = config.clone();
            }
            None => t.services.push(config.clone()),
        }
        Ok(())
    })
    .await?;
    let find = |t: &TenantConfig| {
        t.services
            .iter()
            .find(|s| s.id.as_str() == id)
            .map(Service::from)
    };
    let stored = find(&after).ok_or_else(|| AppError::NotFound(format!("no service {id:?}")))?;
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "service.put",
        &id,
        find(&before).as_ref(),
        Some(&stored),
    )
    .await;
    Ok(Json(stored))
}

/// Deletes a service (Tenant Admins). 409 while a live embed code points at it.
#[utoipa::path(delete, path = "/admin/v1/services/{id}", tag = "services", operation_id = "delete_service",
    params(("id" = String, Path, description = "The service's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such service.", body = doc::ApiError),
        (status = 409, description = "A live embed code points at it.", body = doc::ApiError),
    ))]
async fn delete_service(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    let codes = state.store.embed_codes().await?;
    if let Some(c) = codes.iter().find(|c| {
        c.revoked_at.is_none()
            && matches!(&c.target, interact_model::TargetRef::Service(s) if s.as_str() == id)
    }) {
        return Err(AppError::Conflict(format!(
            "embed code {} points at service {id:?}: revoke it first",
            c.code.as_str()
        )));
    }
    delete_item(
        &state,
        &admin,
        "service.delete",
        &format!("no service {id:?}"),
        |t| {
            let n = t.services.len();
            t.services.retain(|s| s.id.as_str() != id);
            t.services.len() < n
        },
        |t| {
            t.services
                .iter()
                .find(|s| s.id.as_str() == id)
                .map(Service::from)
        },
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes an item out of the tenant with `remove` (which says whether there was one: if
/// not, 404 `missing`), and audits `action` on `target` with the item as `view` shows it
/// (`AuditedUser` for a user: no hash).
async fn delete_item<V: Serialize>(
    state: &AppState,
    admin: &Admin,
    action: &str,
    missing: &str,
    remove: impl FnOnce(&mut TenantConfig) -> bool,
    view: impl FnOnce(&TenantConfig) -> Option<V>,
    target: &str,
) -> Result<(), AppError> {
    let (before, _) = directory::change(state, |t| {
        if remove(t) {
            Ok(())
        } else {
            Err(ChangeError::NotFound(missing.to_owned()))
        }
    })
    .await?;
    audit::<V, V>(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        action,
        target,
        view(&before).as_ref(),
        None,
    )
    .await;
    Ok(())
}

/// Every user (for Tenant Admins and for Service Owners choosing members).
#[utoipa::path(get, path = "/admin/v1/users", tag = "users", operation_id = "list_users",
    responses((status = 200, description = "The users.", body = [User])))]
async fn list_users(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<User>>, AppError> {
    let tenant = directory::load(state.store.as_ref()).await?;
    Ok(Json(
        tenant.users.iter().map(|u| user_view(u, &tenant)).collect(),
    ))
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = User),
        (status = 404, description = "No such user.", body = doc::ApiError),
    ))]
async fn get_user(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<User>, AppError> {
    let tenant = directory::load(state.store.as_ref()).await?;
    tenant
        .users
        .iter()
        .find(|u| u.id.as_str() == id)
        .map(|u| Json(user_view(u, &tenant)))
        .ok_or_else(|| AppError::NotFound(format!("no user {id:?}")))
}

/// Creates or replaces a user (Tenant Admins); a new user needs a password. Licences,
/// modalities and roles are in force on every node at once.
#[utoipa::path(put, path = "/admin/v1/users/{id}", tag = "users", operation_id = "put_user",
    params(("id" = String, Path, description = "The user's id (the sign-in name).")),
    request_body = UserBody,
    responses(
        (status = 200, description = "The user as stored.", body = User),
        (status = 400, description = "What is wrong with it.", body = doc::ApiError),
    ))]
async fn put_user(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Json<User>, AppError> {
    admin.tenant_admin()?;
    let hash = match body.password {
        Some(p) if !(8..=256).contains(&p.chars().count()) => {
            return Err(AppError::BadRequest("password: 8 to 256 characters".into()));
        }
        Some(p) => Some(
            tokio::task::spawn_blocking(move || auth::hash_password(&p))
                .await
                .map_err(|_| AppError::BadRequest("password: could not be hashed".into()))?,
        ),
        None => None,
    };
    let (before, after) = directory::change(&state, |t| {
        let existing = t.users.iter().position(|u| u.id.as_str() == id);
        let password_hash = match (&hash, existing) {
            (Some(h), _) => h.clone(),
            (None, Some(i)) => t.users[i].password_hash.clone(),
            (None, None) => {
                return Err(ChangeError::Invalid(
                    "password: a new user needs one".into(),
                ));
            }
        };
        let user = UserConfig {
            id: id.as_str().into(),
            display_name: body.display_name,
            password_hash,
            licences: body.licences,
            modalities: body.modalities,
            privacy: body.privacy,
            languages: body.languages,
            tenant_admin: body.tenant_admin,
        };
        match existing {
            Some(i) => t.users[i] = user,
            None => t.users.push(user),
        }
        Ok(())
    })
    .await?;
    let find = |t: &TenantConfig| t.users.iter().find(|u| u.id.as_str() == id).cloned();
    let stored = find(&after).ok_or_else(|| AppError::NotFound(format!("no user {id:?}")))?;
    let old = find(&before);
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "user.put",
        &id,
        old.as_ref().map(|u| audited(u, &before)).as_ref(),
        Some(&audited(&stored, &after)),
    )
    .await;
    Ok(Json(user_view(&stored, &after)))
}

/// Deletes a user (Tenant Admins): every sign-in of theirs ends. 400 while a service
/// names them as member or owner.
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "users", operation_id = "delete_user",
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "A service still names them.", body = doc::ApiError),
        (status = 404, description = "No such user.", body = doc::ApiError),
    ))]
async fn delete_user(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    delete_item(
        &state,
        &admin,
        "user.delete",
        &format!("no user {id:?}"),
        |t| {
            let n = t.users.len();
            t.users.retain(|u| u.id.as_str() != id);
            t.users.len() < n
        },
        |t| {
            t.users
                .iter()
                .find(|u| u.id.as_str() == id)
                .map(|u| audited(u, t))
        },
        &id,
    )
    .await?;
    state.store.delete_agent_tokens_of(&id).await?;
    state.store.delete_admin_tokens_of(&id).await?;
    state.hub.close_agent_conns(Some(&id), None, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Every set of opening hours.
#[utoipa::path(get, path = "/admin/v1/opening-hours", tag = "opening-hours", operation_id = "list_opening_hours",
    responses((status = 200, description = "`[{\"name\", \"time_zone\", \"weekly\": {\"mon\": [\"09:00-17:00\"], ...}, \"holiday\": [{\"date\", \"name\", \"hours\"}]}]`", body = [Object])))]
async fn list_hours(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<OpeningHoursConfig>>, AppError> {
    Ok(Json(
        directory::load(state.store.as_ref()).await?.opening_hours,
    ))
}

/// Creates or replaces a set of opening hours (Tenant Admins): in force at once, for
/// the workflows that name it too.
#[utoipa::path(put, path = "/admin/v1/opening-hours/{name}", tag = "opening-hours", operation_id = "put_opening_hours",
    params(("name" = String, Path, description = "The name Check Opening Hours steps use.")),
    request_body(content = Object, description = "`{\"time_zone\", \"weekly\", \"holiday\"}` (the name is the path's)"),
    responses(
        (status = 200, description = "As stored.", body = Object),
        (status = 400, description = "What is wrong with it.", body = doc::ApiError),
    ))]
async fn put_hours(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> Result<Json<OpeningHoursConfig>, AppError> {
    admin.tenant_admin()?;
    if let Some(map) = body.as_object_mut() {
        map.insert("name".into(), serde_json::Value::String(name.clone()));
    }
    let hours: OpeningHoursConfig = serde_json::from_value(body)
        .map_err(|e| AppError::BadRequest(format!("opening hours: {e}")))?;
    let (before, _) = directory::change(&state, |t| {
        match t.opening_hours.iter_mut().find(|h| h.name == name) {
            Some(h) => *h = hours.clone(),
            None => t.opening_hours.push(hours.clone()),
        }
        Ok(())
    })
    .await?;
    let old = before.opening_hours.iter().find(|h| h.name == name);
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "opening_hours.put",
        &name,
        old,
        Some(&hours),
    )
    .await;
    Ok(Json(hours))
}

/// Deletes a set of opening hours (Tenant Admins); 400 while a workflow names it.
#[utoipa::path(delete, path = "/admin/v1/opening-hours/{name}", tag = "opening-hours", operation_id = "delete_opening_hours",
    params(("name" = String, Path, description = "The name.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "A workflow names it.", body = doc::ApiError),
        (status = 404, description = "No such opening hours.", body = doc::ApiError),
    ))]
async fn delete_hours(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    admin.tenant_admin()?;
    delete_item(
        &state,
        &admin,
        "opening_hours.delete",
        &format!("no opening hours {name:?}"),
        |t| {
            let n = t.opening_hours.len();
            t.opening_hours.retain(|h| h.name != name);
            t.opening_hours.len() < n
        },
        |t| t.opening_hours.iter().find(|h| h.name == name).cloned(),
        &name,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
