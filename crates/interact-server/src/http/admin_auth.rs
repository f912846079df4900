//! Who may use the admin API, and for what.
//!
//! Two kinds of credentials open it, both as `Authorization: Bearer <token>`:
//! - the operator's admin token (`[admin] token_sha256`, for the command line and
//!   automation): a Tenant Admin, named `admin` in the audit log;
//! - a user's admin sign-in token from `POST /admin/v1/sign-in` (256 random bits, stored
//!   only as its SHA-256, valid for [`TOKEN_LIFETIME`]), named by the user's id.
//!
//! A user's role is read from the tenant at every request, so a change of role takes
//! effect at once:
//! - **Tenant Admin** (`tenant_admin = true`): everything;
//! - **Service Owner** (named in a service's `owners`): only their services' settings,
//!   members, workflow, embed codes' Preview and reports;
//! - anyone else is an agent: the console only. Agents cannot sign in here (403), and an
//!   agent's console token is no admin token (401).

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::{Extension, Json};
use interact_model::{ServiceId, TargetRef, Tenant};
use interact_sdk::time::UnixMillis;
use serde::{Deserialize, Serialize};

use super::agent::LoginLimiter;
use super::{ApiJson, bearer};
use crate::auth;
use crate::error::AppError;
use crate::listen::ClientIp;
use crate::node::state::AppState;

/// How long an admin sign-in is valid.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// The audit log's name for the operator's admin token.
pub(crate) const OPERATOR: &str = "admin";

/// What a signed-in admin may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Everything.
    TenantAdmin,
    /// Only these services' settings, members, workflow and reports.
    ServiceOwner(BTreeSet<ServiceId>),
}

impl Role {
    /// The role of `user` in `tenant`: `None` for an agent (no admin role), or a user
    /// the tenant no longer has.
    pub(crate) fn of(tenant: &Tenant, user: &str) -> Option<Self> {
        let u = tenant.users.get(user)?;
        if u.config.tenant_admin {
            return Some(Self::TenantAdmin);
        }
        let owned: BTreeSet<ServiceId> = tenant
            .services
            .values()
            .filter(|s| s.config.owners.iter().any(|o| o.as_str() == user))
            .map(|s| s.config.id.clone())
            .collect();
        (!owned.is_empty()).then_some(Self::ServiceOwner(owned))
    }

    /// The role's name in answers: `tenant_admin` or `service_owner`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::TenantAdmin => "tenant_admin",
            Self::ServiceOwner(_) => "service_owner",
        }
    }
}

/// A request from an admin (extracting it checks the bearer token): who, and what they
/// may do. 401 without a valid token; 403 for a user who is no longer an admin.
#[derive(Clone, Debug)]
pub(crate) struct Admin {
    /// Who, as the audit log names them: [`OPERATOR`] or the user's id.
    pub(crate) actor: String,
    /// What they may do.
    pub(crate) role: Role,
    /// When the sign-in ends (`None` for the operator's token).
    pub(crate) expires_at: Option<UnixMillis>,
}

impl Admin {
    /// Ok for a Tenant Admin; 403 otherwise.
    pub(crate) fn tenant_admin(&self) -> Result<(), AppError> {
        match self.role {
            Role::TenantAdmin => Ok(()),
            Role::ServiceOwner(_) => {
                Err(AppError::Denied("only a Tenant Admin may do this".into()))
            }
        }
    }

    /// Whether the admin manages service `id` (a Tenant Admin manages every one).
    pub(crate) fn manages(&self, id: &str) -> bool {
        match &self.role {
            Role::TenantAdmin => true,
            Role::ServiceOwner(owned) => owned.iter().any(|s| s.as_str() == id),
        }
    }

    /// Ok if the admin manages service `id`; 403 otherwise.
    pub(crate) fn service(&self, id: &str) -> Result<(), AppError> {
        if self.manages(id) {
            Ok(())
        } else {
            Err(AppError::Denied(format!(
                "you are not an owner of service {id:?}"
            )))
        }
    }

    /// Whether the admin may see what concerns `target`: a Tenant Admin everything, a
    /// Service Owner their services (not users).
    pub(crate) fn sees(&self, target: &TargetRef) -> bool {
        match target {
            TargetRef::Service(s) => self.manages(s.as_str()),
            TargetRef::User(_) => matches!(self.role, Role::TenantAdmin),
        }
    }

    /// Ok if the admin may see what concerns `target`; 403 otherwise.
    pub(crate) fn target(&self, target: &TargetRef) -> Result<(), AppError> {
        if self.sees(target) {
            Ok(())
        } else {
            Err(AppError::Denied(format!("you do not manage {target}")))
        }
    }

    /// Whether the admin manages workflow `name`: a Tenant Admin every one, a Service
    /// Owner one that some of their services use and no other service does.
    pub(crate) fn manages_workflow(&self, tenant: &Tenant, name: &str) -> bool {
        let mut users = tenant
            .services
            .values()
            .filter(|s| {
                s.config.workflow.as_deref() == Some(name)
                    || s.config.av_workflow.as_deref() == Some(name)
            })
            .peekable();
        match self.role {
            Role::TenantAdmin => true,
            Role::ServiceOwner(_) => {
                users.peek().is_some() && users.all(|s| self.manages(s.config.id.as_str()))
            }
        }
    }

    /// Ok if the admin manages workflow `name`; 403 otherwise.
    pub(crate) fn workflow(&self, tenant: &Tenant, name: &str) -> Result<(), AppError> {
        if self.manages_workflow(tenant, name) {
            Ok(())
        } else {
            Err(AppError::Denied(format!(
                "workflow {name:?} is used by services you do not own"
            )))
        }
    }

    /// The services a Service Owner owns (`None` for a Tenant Admin: all).
    pub(crate) fn owned(&self) -> Option<&BTreeSet<ServiceId>> {
        match &self.role {
            Role::TenantAdmin => None,
            Role::ServiceOwner(owned) => Some(owned),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let unauthorized = || {
            state.metrics.reject("admin_unauthorized");
            AppError::Unauthorized(
                "the admin API needs Authorization: Bearer <token> (sign in at /admin/)".into(),
            )
        };
        let token = bearer(&parts.headers).ok_or_else(unauthorized)?;
        let hash = auth::token_hash(token);
        let expected = state.config.admin.token_sha256.to_ascii_lowercase();
        if auth::hashes_equal(&hash, &expected) {
            return Ok(Self {
                actor: OPERATOR.into(),
                role: Role::TenantAdmin,
                expires_at: None,
            });
        }
        let (user, expires) = state
            .store
            .admin_token(&hash, state.now())
            .await?
            // A Preview ticket lives among the admin tokens, but opens no admin route.
            .filter(|(user, _)| !user.starts_with("preview:"))
            .ok_or_else(unauthorized)?;
        let role = Role::of(&state.tenant(), &user).ok_or_else(|| {
            state.metrics.reject("admin_forbidden");
            AppError::Denied(format!("{user} is no longer an administrator"))
        })?;
        Ok(Self {
            actor: user,
            role,
            expires_at: Some(expires),
        })
    }
}

/// The body of `POST /admin/v1/sign-in`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct SignIn {
    /// The user's id.
    username: String,
    /// The user's password.
    password: String,
}

/// Who is signed in, as `POST /admin/v1/sign-in` and `GET /admin/v1/me` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    /// The admin token (only in the answer to a sign-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// When the sign-in expires (Unix ms; `null` for the operator's token).
    #[schema(value_type = Option<u64>)]
    expires_at: Option<UnixMillis>,
    /// The user (`{"id": "admin", "display_name": "Operator"}` for the operator's token).
    user: MeUser,
    /// `tenant_admin` or `service_owner`.
    role: &'static str,
    /// The services a Service Owner owns; every service for a Tenant Admin.
    services: Vec<String>,
}

/// The user part of [`Me`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MeUser {
    /// Id.
    id: String,
    /// Display name.
    display_name: String,
}

/// Verified against when the user does not exist, so that an unknown name costs the same
/// time as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| auth::hash_password("no admin has this password"));

fn me(state: &AppState, admin: &Admin, token: Option<String>, expires: Option<UnixMillis>) -> Me {
    let tenant = state.tenant();
    let display_name = tenant
        .users
        .get(admin.actor.as_str())
        .map_or_else(|| "Operator".to_owned(), |u| u.config.display_name.clone());
    let services = match &admin.role {
        Role::TenantAdmin => tenant.services.keys().map(ToString::to_string).collect(),
        Role::ServiceOwner(owned) => owned.iter().map(ToString::to_string).collect(),
    };
    Me {
        token,
        expires_at: expires,
        user: MeUser {
            id: admin.actor.clone(),
            display_name,
        },
        role: admin.role.name(),
        services,
    }
}

/// `POST /admin/v1/sign-in`: a Tenant Admin's or Service Owner's password for an admin
/// token. 401 for a wrong name or password (the same for both), 403 for an agent, 429
/// after 10 attempts a minute from one address (shared with the console's sign-in).
#[utoipa::path(
    post,
    path = "/admin/v1/sign-in",
    tag = "session",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in", body = Me),
        (status = 401, description = "Wrong username or password", body = super::openapi::ApiError),
        (status = 403, description = "The user has no admin role", body = super::openapi::ApiError),
        (status = 429, description = "Too many attempts", body = super::openapi::ApiError),
    ),
    security(())
)]
pub(super) async fn sign_in(
    State(state): State<AppState>,
    Extension(limiter): Extension<LoginLimiter>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    if !limiter.allow(ip, state.instant()) {
        state.metrics.reject("login_rate_limited");
        return Err(AppError::RateLimited(
            "too many sign-in attempts; wait a minute".into(),
        ));
    }
    let tenant = state.tenant();
    let user = tenant.users.get(body.username.as_str()).cloned();
    let hash = user.as_ref().map(|u| u.config.password_hash.clone());
    let password = body.password;
    let verified = tokio::task::spawn_blocking(move || {
        auth::verify_password(hash.as_deref().unwrap_or(DUMMY_HASH.as_str()), &password)
    })
    .await
    .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        state.metrics.reject("admin_login_failed");
        return Err(AppError::Unauthorized("wrong username or password".into()));
    };
    let id = user.config.id.to_string();
    let Some(role) = Role::of(&tenant, &id) else {
        state.metrics.reject("admin_login_forbidden");
        return Err(AppError::Denied(
            "this user is an agent: agents sign in to the console (/console/)".into(),
        ));
    };
    let token = auth::random_token();
    let at = state.now();
    let lifetime = u64::try_from(TOKEN_LIFETIME.as_millis()).unwrap_or(u64::MAX);
    let expires = UnixMillis(at.0.saturating_add(lifetime));
    state
        .store
        .put_admin_token(&auth::token_hash(&token), &id, at, expires)
        .await?;
    tracing::info!(user = %id, role = role.name(), "admin signed in");
    let admin = Admin {
        actor: id,
        role,
        expires_at: Some(expires),
    };
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(me(&state, &admin, Some(token), Some(expires))),
    ))
}

/// `POST /admin/v1/sign-out`: forgets the admin token (204, also for one already gone).
#[utoipa::path(
    post,
    path = "/admin/v1/sign-out",
    tag = "session",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No bearer token", body = super::openapi::ApiError),
    ),
    // Any bearer token: an unknown one is signed out already.
    security((), ("bearer" = []))
)]
pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let token = bearer(&headers)
        .ok_or_else(|| AppError::Unauthorized("an Authorization: Bearer token is needed".into()))?;
    state
        .store
        .delete_admin_token(&auth::token_hash(token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/v1/me`: who the token belongs to and what they may do.
#[utoipa::path(
    get,
    path = "/admin/v1/me",
    tag = "session",
    responses(
        (status = 200, description = "The signed-in admin", body = Me),
        (status = 401, description = "No valid token", body = super::openapi::ApiError),
    )
)]
pub(super) async fn who_am_i(admin: Admin, State(state): State<AppState>) -> Json<Me> {
    Json(me(&state, &admin, None, admin.expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use interact_model::{ServiceConfig, UserConfig};

    fn tenant() -> Tenant {
        let users: Vec<UserConfig> = ["dana", "owen", "alex"]
            .iter()
            .map(|id| {
                toml::from_str(&format!(
                    "id = \"{id}\"\ndisplay_name = \"{id}\"\npassword_hash = \"$argon2id$x\"\n\
                     tenant_admin = {}",
                    *id == "dana"
                ))
                .expect("user")
            })
            .collect();
        let services: Vec<ServiceConfig> = [("support", "[\"owen\"]"), ("sales", "[]")]
            .iter()
            .map(|(id, owners)| {
                toml::from_str(&format!(
                    "id = \"{id}\"\ndisplay_name = \"{id}\"\nowners = {owners}\n\
                     [privacy]\nurl = \"https://example.com/p\"\ntext = \"ok\"\nversion = \"1\""
                ))
                .expect("service")
            })
            .collect();
        Tenant::new(&services, &users, &[])
    }

    #[test]
    fn roles_come_from_the_tenant() {
        let t = tenant();
        assert_eq!(Role::of(&t, "dana"), Some(Role::TenantAdmin));
        let owen = Role::of(&t, "owen").expect("owner");
        assert_eq!(owen.name(), "service_owner");
        assert_eq!(Role::of(&t, "alex"), None, "an agent has no admin role");
        assert_eq!(Role::of(&t, "nobody"), None);
        let admin = Admin {
            actor: "owen".into(),
            role: owen,
            expires_at: None,
        };
        assert!(admin.service("support").is_ok());
        assert!(matches!(admin.service("sales"), Err(AppError::Denied(_))));
        assert!(matches!(admin.tenant_admin(), Err(AppError::Denied(_))));
        assert!(!admin.sees(&TargetRef::User("alex".into())));
    }
}
