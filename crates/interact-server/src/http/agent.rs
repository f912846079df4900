//! Agent sign-in and sign-out. The console exchanges a user's password for a bearer token
//! (256 random bits, stored only as its SHA-256, valid for [`TOKEN_LIFETIME`]) and sends
//! it in its first WebSocket frame, never in a URL. With the token, the console also lists
//! where a session may be transferred ([`transfer_targets`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::{Extension, Json};
use interact_model::TargetRef;
use interact_sdk::time::UnixMillis;
use serde::Deserialize;
use serde_json::json;

use super::{ApiJson, bearer};
use crate::auth;
use crate::error::AppError;
use crate::listen::ClientIp;
use crate::node::state::AppState;

/// How long a sign-in token is valid.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Sign-in attempts one address may make per [`LOGIN_WINDOW`].
const LOGINS_PER_WINDOW: u32 = 10;
/// The window of the sign-in rate limit.
const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked before expired windows are swept.
const SWEEP_ABOVE: usize = 4096;

/// Counts sign-in attempts per client address: at most [`LOGINS_PER_WINDOW`] in a fixed
/// window of [`LOGIN_WINDOW`] from an address's first attempt.
#[derive(Clone, Debug, Default)]
pub(super) struct LoginLimiter(Arc<Mutex<HashMap<Option<IpAddr>, Window>>>);

/// An address's window: when it began and the attempts in it.
type Window = (Instant, u32);

impl LoginLimiter {
    /// Counts an attempt; `false` if the address is over its limit.
    pub(super) fn allow(&self, ip: Option<IpAddr>, now: Instant) -> bool {
        self.allow_up_to(ip, now, LOGINS_PER_WINDOW)
    }

    /// Counts a request; `false` if the address made more than `limit` in its window.
    fn allow_up_to(&self, ip: Option<IpAddr>, now: Instant, limit: u32) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (start, _)| now.duration_since(*start) < LOGIN_WINDOW);
        }
        let (start, count) = map.entry(ip).or_insert((now, 0));
        if now.duration_since(*start) >= LOGIN_WINDOW {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= limit
    }
}

/// Transfer-target lists one address may ask for per [`LOGIN_WINDOW`].
const TARGET_LISTS_PER_WINDOW: u32 = 60;

/// Counts `GET /v1/agent/transfer-targets` per client address (as [`LoginLimiter`], at
/// most [`TARGET_LISTS_PER_WINDOW`] a minute).
#[derive(Clone, Debug, Default)]
pub(super) struct TargetsLimiter(LoginLimiter);

/// The body of `POST /v1/agent/login`.
#[derive(Debug, Deserialize)]
pub(super) struct Login {
    username: String,
    password: String,
}

/// Verified against when the user does not exist, so that an unknown name costs the same
/// time as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| auth::hash_password("no user has this password"));

/// `POST /v1/agent/login` `{"username", "password"}` → `{"token", "agent": {"id",
/// "display_name"}}`. Wrong credentials: 401, the same for an unknown user and a wrong
/// password. More than [`LOGINS_PER_WINDOW`] attempts a minute from one address: 429.
pub(super) async fn login(
    State(state): State<AppState>,
    Extension(limiter): Extension<LoginLimiter>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    if !limiter.allow(ip, state.instant()) {
        state.metrics.reject("login_rate_limited");
        return Err(AppError::RateLimited(
            "too many sign-in attempts; wait a minute".into(),
        ));
    }
    let user = state.tenant().users.get(body.username.as_str()).cloned();
    let hash = user.as_ref().map(|u| u.config.password_hash.clone());
    let password = body.password;
    let verified = tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or(DUMMY_HASH.as_str());
        auth::verify_password(hash, &password)
    })
    .await
    .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        state.metrics.reject("login_failed");
        return Err(AppError::Unauthorized("wrong username or password".into()));
    };
    let token = auth::random_token();
    let at = state.now();
    let lifetime = u64::try_from(TOKEN_LIFETIME.as_millis()).unwrap_or(u64::MAX);
    state
        .store
        .put_agent_token(
            &auth::token_hash(&token),
            &user.config.id,
            at,
            UnixMillis(at.0.saturating_add(lifetime)),
        )
        .await?;
    tracing::info!(user = %user.config.id, "agent signed in");
    // A bearer token: no cache (the browser's or a proxy's) may keep the answer.
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({
            "token": token,
            "agent": {"id": user.config.id, "display_name": user.config.display_name},
        })),
    ))
}

/// `GET /v1/agent/transfer-targets` with `Authorization: Bearer <agent token>` →
/// `{"services": [{"id", "display_name", "available"}], "users": [{"id", "display_name",
/// "available"}]}`: every service of the tenant with how many of its members could take
/// a chat now, and every user who takes chats but the caller with whether they could
/// (docs/protocol.md
/// §2.4). 401 without a valid token; more than [`TARGET_LISTS_PER_WINDOW`] a minute from
/// one address: 429.
pub(super) async fn transfer_targets(
    State(state): State<AppState>,
    Extension(limiter): Extension<TargetsLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<impl axum::response::IntoResponse, AppError> {
    if !limiter
        .0
        .allow_up_to(ip, state.instant(), TARGET_LISTS_PER_WINDOW)
    {
        state.metrics.reject("transfer_targets_rate_limited");
        return Err(AppError::RateLimited(
            "too many requests; wait a minute".into(),
        ));
    }
    let token = bearer(&headers)
        .ok_or_else(|| AppError::Unauthorized("an Authorization: Bearer token is needed".into()))?;
    let Some((me, _)) = state
        .store
        .agent_token(&auth::token_hash(token), state.now())
        .await?
    else {
        return Err(AppError::Unauthorized("sign in again".into()));
    };
    let tenant = state.tenant();
    let services: Vec<_> = tenant
        .services
        .iter()
        .map(|(id, s)| {
            let (available, _) = state.hub.agent_counts(&TargetRef::Service(id.clone()));
            json!({"id": id, "display_name": s.config.display_name, "available": available})
        })
        .collect();
    let users: Vec<_> = tenant
        .users
        .iter()
        .filter(|(id, u)| id.as_str() != me && u.can_take_service_chats())
        .map(|(id, u)| {
            let (available, _) = state.hub.agent_counts(&TargetRef::User(id.clone()));
            json!({"id": id, "display_name": u.config.display_name, "available": available > 0})
        })
        .collect();
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({"services": services, "users": users})),
    ))
}

/// The agent a request's `Authorization: Bearer <agent token>` signs in (401 without a
/// valid one), after the per-address limit of agent lists ([`TargetsLimiter`]).
async fn signed_in(
    state: &AppState,
    limiter: &TargetsLimiter,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<String, AppError> {
    if !limiter
        .0
        .allow_up_to(ip, state.instant(), TARGET_LISTS_PER_WINDOW)
    {
        state.metrics.reject("agent_api_rate_limited");
        return Err(AppError::RateLimited(
            "too many requests; wait a minute".into(),
        ));
    }
    let token = bearer(headers)
        .ok_or_else(|| AppError::Unauthorized("an Authorization: Bearer token is needed".into()))?;
    let Some((me, _)) = state
        .store
        .agent_token(&auth::token_hash(token), state.now())
        .await?
    else {
        return Err(AppError::Unauthorized("sign in again".into()));
    };
    Ok(me)
}

/// `?state=open` (the default) or `?state=all`.
#[derive(Debug, Deserialize)]
pub(super) struct OfflineQuery {
    #[serde(default)]
    state: Option<String>,
}

/// `GET /v1/agent/offline-messages[?state=all]` with `Authorization: Bearer <agent
/// token>` → `{"messages": [...]}`: the offline messages of the caller's services and of
/// the caller reached directly, newest first (open ones unless `state=all`; at most
/// [`crate::node::offline::MAX_LISTED`]).
pub(super) async fn offline_messages(
    State(state): State<AppState>,
    Extension(limiter): Extension<TargetsLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<OfflineQuery>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let me = signed_in(&state, &limiter, ip, &headers).await?;
    let open_only = match q.state.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "state {other:?}: use open or all"
            )));
        }
    };
    let messages = crate::node::offline::list(&state, &me, open_only).await?;
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({ "messages": messages })),
    ))
}

/// The body of an answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Answer {
    text: String,
}

/// `POST /v1/agent/offline-messages/{id}/answer` with `{"text": "..."}`: emails the
/// answer to the visitor and marks the message answered; the message as it is now. 404
/// for one that is not the caller's to answer, 409 for one answered already (or where
/// the server sends no email), 429 when the outbox is full.
pub(super) async fn answer_offline_message(
    State(state): State<AppState>,
    Extension(limiter): Extension<TargetsLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiJson(body): ApiJson<Answer>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let me = signed_in(&state, &limiter, ip, &headers).await?;
    let agent = interact_sdk::ids::AgentId::new(me)
        .map_err(|_| AppError::Unauthorized("sign in again".into()))?;
    let message = crate::node::offline::answer(&state, &agent, &id, &body.text).await?;
    Ok(Json(json!({ "message": message })))
}

/// Most notes one session takes.
const MAX_NOTES: usize = 200;

/// The session `id` if agent `me` may read and write its notes and read its answers: they
/// hold it, or it is for one of their services (or for them): colleagues see each
/// other's notes. A session they may not see is "not found", as one that does not exist.
async fn note_session(
    state: &AppState,
    me: &str,
    id: &str,
) -> Result<interact_sdk::ids::SessionId, AppError> {
    let not_found = || AppError::NotFound("no such session".into());
    let session = interact_sdk::ids::SessionId::new(id).map_err(|_| not_found())?;
    let record = state.store.session(&session).await?.ok_or_else(not_found)?;
    let holds = record.agent_id.as_ref().is_some_and(|a| a.as_str() == me);
    if holds || crate::node::offline::targets_of(state, me).contains(&record.target) {
        Ok(session)
    } else {
        Err(not_found())
    }
}

/// `GET /v1/agent/sessions/{id}/notes` → `{"notes": [{"id", "agent", "text", "at"}]}`:
/// the agents' internal notes on a session, oldest first. Never sent to the visitor.
pub(super) async fn session_notes(
    State(state): State<AppState>,
    Extension(limiter): Extension<TargetsLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let me = signed_in(&state, &limiter, ip, &headers).await?;
    let session = note_session(&state, &me, &id).await?;
    let notes = state.store.session_notes(&session).await?;
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({ "notes": notes })),
    ))
}

/// `GET /v1/agent/sessions/{id}/answers` → `{"answers": [{"name", "question", "value",
/// "seq", "at"}]}`: the visitor's answers to the Collect Information questions of the
/// session's workflow (the latest for each parameter), in the order first answered; `seq`
/// is the visitor's message that gave the answer (null if unknown). Who may read them as
/// for notes ([`note_session`]). Never sent to the visitor.
pub(super) async fn session_answers(
    State(state): State<AppState>,
    Extension(limiter): Extension<TargetsLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let me = signed_in(&state, &limiter, ip, &headers).await?;
    let session = note_session(&state, &me, &id).await?;
    let answers = state.store.session_answers(&session).await?;
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({ "answers": answers })),
    ))
}

/// `POST /v1/agent/sessions/{id}/notes` with `{"text": "..."}` (at most 4000
/// characters, something visible): adds a note; 201 with it. 409 once the session has
/// [`MAX_NOTES`].
pub(super) async fn add_session_note(
    State(state): State<AppState>,
    Extension(limiter): Extension<TargetsLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiJson(body): ApiJson<Answer>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let me = signed_in(&state, &limiter, ip, &headers).await?;
    let session = note_session(&state, &me, &id).await?;
    let text = interact_sdk::form::validate_text(&body.text)
        .map_err(|e| AppError::BadRequest(format!("text: {e}")))?;
    if state.store.session_notes(&session).await?.len() >= MAX_NOTES {
        return Err(AppError::Conflict(format!(
            "a session takes at most {MAX_NOTES} notes"
        )));
    }
    let agent = interact_sdk::ids::AgentId::new(me)
        .map_err(|_| AppError::Unauthorized("sign in again".into()))?;
    let mut note = interact_store::NoteRecord {
        id: 0,
        session,
        agent,
        text,
        at: state.now(),
    };
    note.id = state.store.add_session_note(&note).await?;
    Ok((StatusCode::CREATED, Json(json!({ "note": note }))))
}

/// `POST /v1/agent/logout` with `Authorization: Bearer <token>`: forgets the token (204,
/// also for a token that is already gone) and closes every connection opened with it.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let token = bearer(&headers)
        .ok_or_else(|| AppError::Unauthorized("an Authorization: Bearer token is needed".into()))?;
    let hash = auth::token_hash(token);
    state.store.delete_agent_token(&hash).await?;
    let closed = state.hub.close_agent_conns(None, Some(&hash), "signed out");
    if closed > 0 {
        tracing::info!(connections = closed, "agent signed out; connections closed");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_per_address_and_per_window() {
        let limiter = LoginLimiter::default();
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        let t0 = Instant::now();
        for _ in 0..LOGINS_PER_WINDOW {
            assert!(limiter.allow(a, t0));
        }
        assert!(!limiter.allow(a, t0 + Duration::from_secs(59)));
        assert!(limiter.allow(b, t0));
        assert!(limiter.allow(a, t0 + LOGIN_WINDOW));
    }
}
