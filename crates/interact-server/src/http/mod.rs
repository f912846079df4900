//! The HTTP endpoints (everything but the WebSockets, which live in [`crate::ws`]).
//!
//! | Route | What |
//! |-------|------|
//! | `GET /` | A small page with links. |
//! | `GET /healthz` | `ok` while the process serves requests. |
//! | `GET /readyz` | `ready` (200) while the database answers, the bus (`[cluster] nats_url`) is connected and the server is not draining (a node of a cluster adds `node <id>` and `router leader` or `router follower` on lines of their own); 503 and why otherwise. For load balancers. |
//! | `GET /metrics` | Prometheus text: sessions (open, in memory, started by channel), connections (WebSocket, TCP), messages relayed (and by channel and sender), calls started by modality, rejections by reason. Only with `Authorization: Bearer <token>` when `[metrics] token_sha256` is set, else 404; `[metrics] listen` serves it on an address of its own without a token ([`metrics_app`]). |
//! | `GET /v1/config?code=` | The widget configuration for an embed code; CORS only for the code's Domain Template. |
//! | `GET /widget/frame?code=&host=&lang=` | The page the widget's iframe loads; `host` (the embedding page's origin) must be allowed by the code's Domain Template and becomes the CSP `frame-ancestors`. |
//! | `GET /widget/*` | The widget's files (`www/widget`: `loader.js`, `frame.js`, `widget.css`, the wasm package in `pkg/`), with CORS for every origin; the brotli or gzip copy by `Accept-Encoding`. |
//! | `GET /preview/{code}?origin=` | The Preview page: the widget, the snippet, the Domain Template's origins and a check of one origin. Only with a Preview ticket: `?ticket=` (from `POST /admin/v1/embed-codes/{code}/preview-link`) sets it as a cookie and redirects here; without a live one, 403 ([`crate::preview`]). |
//! | `POST /v1/agent/login`, `POST /v1/agent/logout` | Agent sign-in (bearer token) and sign-out. |
//! | `POST /v1/sessions/{session}/attachments?name=`, `GET /v1/sessions/{session}/attachments/{id}` | Files in widget chats: an image or a PDF a party of the session sends, and back to the session's parties only (`attachments.rs`, docs/protocol.md §2.6). |
//! | `GET /v1/agent/transfer-targets` | With the agent's bearer token: the services (with how many members could take a chat) and users (whether they could) a session may be transferred to. |
//! | `POST /v1/whatsapp/{service}` | Twilio's incoming-message webhook for a service's WhatsApp connector: signature first (403), then the message into the sender's session (`whatsapp.rs`). |
//! | `/admin/v1/...` | The admin API: Domain Templates, embed codes, the session report and usage (see [`admin`](self#admin-api)). |
//! | `GET /admin/v1/openapi.json` | The admin API's OpenAPI 3.1 document, generated from the handlers' annotations ([`openapi`]); public. |
//! | `GET /console/` | The agent console (static files from `www/console`). |
//! | `GET /admin/` | The admin web app (static files from `www/admin`, strict CSP); a path under `/admin/v1/` that is no API route is a JSON 404. |
//! | `GET /privacy` | The demo configuration's stand-in privacy policy (`www/privacy.html`). |
//!
//! The files of `www/` come from the binary itself (built in when it was compiled), or from
//! the folder `server.www` names ([`files`]).
//!
//! # Admin API
//!
//! Every request but sign-in carries `Authorization: Bearer <token>`: the operator's admin
//! token (the server keeps only its SHA-256, `admin.token_sha256`; a Tenant Admin), or a
//! token from `POST /admin/v1/sign-in`. What each role may do is in
//! `admin_auth.rs`; a refusal is 403 `forbidden`. Bodies and answers are JSON; errors are
//! `{"error": {"code": ..., "message": ...}}`, axum's own rejections too (a path or query
//! it cannot read, a method a route does not have: `json_errors`). `GET
//! /admin/v1/openapi.json` (no token needed) describes every operation ([`openapi`]);
//! `tests/openapi_fuzz.rs` runs a fuzzer against it.
//!
//! | Request | Answer |
//! |---------|--------|
//! | `POST /admin/v1/sign-in` with `{"username", "password"}` | 200, `{"token", "expires_at", "user": {"id", "display_name"}, "role": "tenant_admin" \| "service_owner", "services"}`; 401 wrong credentials; 403 an agent; 429 |
//! | `POST /admin/v1/sign-out`, `GET /admin/v1/me` | 204; 200, as sign-in without the token |
//! | `GET`, `PUT`, `DELETE /admin/v1/services/{id}`, `GET /admin/v1/services` | the services as JSON (`{"id", "display_name", "licences", "modalities", "members", "owners", "workflow", "languages", "privacy", "theme"}`); `PUT` creates or replaces, in force on every node at once; 400 naming what is wrong; 409 deleting a service a live embed code points at |
//! | `GET`, `PUT`, `DELETE /admin/v1/users/{id}`, `GET /admin/v1/users` | the users (`{"id", "display_name", "licences", "interact", "modalities", "privacy", "languages", "tenant_admin", "owns"}`, never a hash); `PUT` takes `password` (needed for a new user) |
//! | `GET /admin/v1/opening-hours`, `PUT`, `DELETE /admin/v1/opening-hours/{name}` | opening hours and holidays (`{"time_zone", "weekly", "holiday"}`), in force for workflows at once; 400 deleting hours a workflow names |
//! | `GET`, `PUT`, `DELETE /admin/v1/services/{id}/whatsapp` | the service's WhatsApp connector: `{"account_sid", "auth_token" (a `file:`/`env:` reference, never the token), "sender" (`+1` only), "api_base"}` plus `webhook_url`; 400 naming what is wrong |
//! | `GET /admin/v1/templates/{name}/check?origin=` | 200, `{"origin", "allowed", "reason"}`: whether a page of that origin may show the widget, and why |
//! | `POST /admin/v1/embed-codes/{code}/preview-link` | 200, `{"url", "expires_at"}`: a signed link to the code's Preview page, valid for an hour |
//! | `GET /admin/v1/templates` | 200, `[{"name", "origins"}]` |
//! | `GET /admin/v1/templates/{name}` | 200, `{"name", "origins"}`; 404 |
//! | `PUT /admin/v1/templates/{name}` with `{"origins": [...]}` | 200, the stored template; 400 naming a malformed origin |
//! | `DELETE /admin/v1/templates/{name}` | 204; 404; 409 while an embed code uses it |
//! | `GET /admin/v1/embed-codes` | 200, `[{"code", "target", "template", "created_at", "revoked_at"}]` |
//! | `POST /admin/v1/embed-codes` with `{"target": {"kind": "service", "id": "support"}, "template": "demo"}` | 201, the record and its `snippet`; 400 naming a missing licence or an unknown template |
//! | `POST /admin/v1/embed-codes/{code}/revoke` | 204; 404 |
//! | `POST /admin/v1/agents/{id}/sign-out` | 200, `{"tokens", "connections"}`: every sign-in token of the user stops working and every open connection of theirs is closed (fatal `unauthorized`, 4001); 404 for an unknown user |
//! | `GET /admin/v1/embed-codes/{code}/snippet` | 200, the HTML snippet as `text/plain`; 404 |
//! | `GET /admin/v1/reports/sessions?service=&user=&kind=&outcome=&from=&to=&limit=&format=` | 200, the session report (below); 400 naming a bad parameter |
//! | `GET /admin/v1/usage?from=&to=&service=&user=&kind=&channel=&format=` | 200, usage per UTC day, target and channel (below); 400 naming a bad parameter |
//! | `GET /admin/v1/sessions/{id}/transcript` | 200, `{"session": {...}, "events": [...]}`: the session as stored and every event frame in `seq` order; 404 |
//! | `GET /admin/v1/audit?before=&limit=` | 200, the audit log newest first: `[{"id", "at", "actor", "action", "target", "before", "after"}]` (`before`/`after` the target as JSON text, `null` where it did not or no longer exists; `limit` 1 to 500, default 100; `before` an id, for the next page) |
//! | `GET /admin/v1/webhooks` | 200, `[{"id", "url", "events", "created_at"}]` (never the secret) |
//! | `POST /admin/v1/webhooks` with `{"url", "events": ["session.started", "message", "session.ended"]}` | 201, the webhook and its `secret` (shown this once); 400 naming a bad URL or event; 409 at 20 webhooks |
//! | `GET`, `PUT`, `DELETE /admin/v1/webhooks/{id}` | 200 (`PUT`: `{"url", "events", "rotate_secret"}`; a rotated secret is in the answer, once), 204 for `DELETE` (its delivery log goes too); 404 |
//! | `GET /admin/v1/workflows`, `GET /admin/v1/workflows/{name}` | 200, the current versions `[{"name", "fingerprint", "definition", "created_at"}]` (one for `{name}`; 404) |
//! | `PUT /admin/v1/workflows/{name}` with `{"definition": "<TOML of one [[workflow]] table: name, max_steps, [[step]]s>"}` | 200, the version now current on every node (new chats run it; running ones keep theirs); 400 naming the step and line of what is wrong; 413 over 64 KiB |
//! | `POST /admin/v1/workflows/{name}/dry-run` with `{"at": <Unix ms>, "visitor_name", "first_message", "answers": [...], "agents_available", "agents_busy", "for_secs", "definition"}` (all but `at` optional; `definition` tries an unsaved version) | 200, `{"path", "summary": "greeting → hours → closed", "events": [{"at", "what", "detail"}], "outcome", "waiting"}`: the run on a virtual clock, nothing sent, queued or requested (a Web Request counts as failed); 404; 400 |
//! | `GET /admin/v1/webhooks/{id}/deliveries?limit=` | 200, the delivery log newest first: `[{"id", "webhook", "event", "body", "created_at", "attempts", "next_at", "last_status", "last_error", "delivered_at"}]` |
//!
//! Every change (templates, embed codes, sign-outs, webhooks; the CLI's too, as `cli`)
//! is in the audit log. Webhook deliveries are signed and retried: see
//! [`crate::node::webhooks`].
//!
//! ## The session report
//!
//! `GET /admin/v1/reports/sessions` lists every session, service sessions and direct user
//! contacts alike, oldest first ([`interact_report`] derives the rows and decides the
//! outcome). Parameters, all optional, each narrowing the list; empty values count as
//! absent, unknown or repeated ones are refused:
//!
//! | Parameter | Meaning |
//! |-----------|---------|
//! | `service` | sessions for this service id |
//! | `user` | direct contacts with this user id |
//! | `channel` | `widget` or `whatsapp`: how the visitor came |
//! | `kind` | `service` or `user` |
//! | `outcome` | one or more of `handled`, `failed`, `abandoned`, `cancelled`, `transferred`, `no_agent`, comma-separated (open sessions have no outcome and are left out) |
//! | `from`, `to` | created at or after `from`, before `to`; Unix milliseconds |
//! | `limit` | at most this many rows, 1 to 10000 (default 1000) |
//! | `format` | `json` (default) or `csv` |
//!
//! JSON is an array of objects: `session`, `kind` (`service`/`user`), `target` (its id),
//! `channel` (`widget`; `whatsapp` for the WhatsApp connector's), `modality` (`chat`, or `audio`/`video` if such a call was
//! answered or the session started as one), `call_first` (`audio`/`video` for a session
//! the visitor started with a call, else `null`), `created_at`, `queued_at`, `offered_at`,
//! `accepted_at`, `ended_at` (Unix ms or `null`), `wait_ms`, `handling_ms`, `ring_ms`
//! (first offer to accept: how long it rang), `talk_ms` (the answered calls' durations),
//! `agent`, `offers`, `end_reason`, `outcome`
//! (`null` while open), `workflow_path` (a list of step labels), `calls` (a list of
//! `call`, `media` (`audio`/`video`), `screen_share`, `started_at`, `answered_at`,
//! `ring_ms` (start to answer, or to the end if unanswered), `ended_at`, `duration_ms`
//! (answered to ended), `ended_by` (`visitor`/`agent`/`system`),
//! `hangup_reason`, `outcome` (`answered`, `declined`, `missed`, `cancelled`, `failed`;
//! `null` while on), `quality` (`visitor` and `agent`: the last quality summary each side
//! sent, or `null`: `samples` and, for each figure it measured, `rtt_ms`, `jitter_ms`,
//! `loss_permille`, `bitrate_kbps`, `width_px`, `height_px`, an object of `min`,
//! `median` and `max`; protocol §10.4)), `transfers` (how many times it was transferred)
//! and `legs` (one per target, split at its transfers: `kind`, `target`, `started_at`,
//! `queued_at`, `accepted_at`, `agent`, `ended_at`, `outcome`; every leg but the last
//! `transferred`; `target` is the last leg's, `outcome` `transferred` for any transferred
//! session) and `satisfaction` (the visitor's end-of-chat rating, `{score, comment}` with
//! `comment` `null` if none, or `null`). CSV (`text/csv`, `Content-Disposition: attachment`) has the same
//! fields as columns under a header row, with `calls` as two columns: `calls` (how many)
//! and `call_ms` (their durations summed; the calls' quality is in JSON only), then
//! `call_first`, `ring_ms`, `transfers` (no `legs`), `satisfaction_score` and
//! `satisfaction_comment`; RFC 4180 quoting, the workflow path joined by
//! ` > `, and `'` before any cell that starts with `=`, `+`, `-` or `@` (so that
//! spreadsheets do not run it as a formula). A bad parameter gets
//! `{"error": {"code": "bad_request", "message", "parameter"}}`.
//!
//! ## Usage
//!
//! `GET /admin/v1/usage` meters usage per modality, for billing: one row per UTC day,
//! target (a service, or a user for direct contacts) and channel with anything to count,
//! ordered by day, kind, target and channel ([`interact_report::usage`] says exactly what
//! counts on which day). Parameters, all optional; empty values count as absent, unknown
//! or repeated ones are refused with a 400 naming them:
//!
//! | Parameter | Meaning |
//! |-----------|---------|
//! | `from`, `to` | the first and the last UTC day counted, both included, `YYYY-MM-DD`; `to` is today by default, `from` the 30th day up to `to`; at most 366 days |
//! | `service`, `user`, `kind`, `channel` | as for the session report |
//! | `format` | `json` (default) or `csv` |
//!
//! JSON is an array of objects: `tenant` (the host of `[server] public_url`: a server
//! serves one tenant), `day` (`YYYY-MM-DD`), `kind`, `target`, `channel`,
//! `chat_sessions` (started that day), `messages_in` (from visitors), `messages_out`
//! (from agents, and the service's workflow), `audio_minutes` and `video_minutes`
//! (answered calls, accept to hang-up, split at UTC midnight), `screen_share_minutes`
//! (either side sharing during an answered call), `whatsapp_received` and
//! `whatsapp_sent` (the messages of `whatsapp` sessions). Minutes are decimal minutes
//! rounded to 0.01 (`1.5` is 90 seconds); a call still on counts once it has ended. CSV
//! (`usage.csv`) has the same columns in that order, minutes with two decimals, quoted
//! and defused as the session report's. A Service Owner gets their services' rows only,
//! and 403 for another service, `user=` or `kind=user`, as for the session report.

mod admin;
mod admin_auth;
mod admin_tools;
mod agent;
mod attachments;
pub mod demo;
mod directory;
pub mod files;
pub mod openapi;
mod pages;
pub use pages::metrics_app;
mod reports;
mod visitor;
mod webhooks;
mod whatsapp;
mod widget;
mod workflows;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::node::state::AppState;

/// `X-Content-Type-Options: nosniff`, on every page and file the server renders.
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// All HTTP routes except the WebSockets, for `state` (whose `server.www` is the folder
/// of the static pages, or `None` for the pages built into the binary: [`files`]).
pub fn router(state: &AppState) -> Router<AppState> {
    let www = files::Source::of(state.config.server.www.as_deref());
    Router::new()
        .route("/", get(pages::root))
        .route("/healthz", get(pages::healthz))
        .route("/readyz", get(pages::readyz))
        .route("/metrics", get(pages::metrics))
        .route(
            "/v1/config",
            get(visitor::config).options(visitor::config_preflight),
        )
        .route("/v1/agent/login", post(agent::login))
        .route("/v1/agent/logout", post(agent::logout))
        .route("/v1/agent/transfer-targets", get(agent::transfer_targets))
        .route("/v1/agent/offline-messages", get(agent::offline_messages))
        .route(
            "/v1/agent/offline-messages/{id}/answer",
            post(agent::answer_offline_message),
        )
        .route(
            "/v1/agent/sessions/{id}/notes",
            get(agent::session_notes).post(agent::add_session_note),
        )
        .route(
            "/v1/agent/sessions/{id}/answers",
            get(agent::session_answers),
        )
        .merge(attachments::router(state.clone()))
        .merge(admin_api())
        .merge(whatsapp::webhook_router())
        .merge(pages::console(www))
        .merge(pages::admin_app(www))
        .merge(widget::router(www))
        .merge(pages::privacy(www))
        .layer(axum::Extension(agent::LoginLimiter::default()))
        .layer(axum::Extension(agent::TargetsLimiter::default()))
}

/// The admin API's routes ([`admin`], [`reports`], the [`openapi`] document), every
/// error of theirs JSON ([`json_errors`]).
fn admin_api() -> Router<AppState> {
    admin::router()
        .merge(reports::router())
        .route(openapi::PATH, get(openapi::document))
        .layer(axum::middleware::map_response(json_errors))
}

/// Makes an error answer that is not JSON a JSON error of the same status (its other
/// headers, `Allow` say, kept): axum's own rejections (a path or query it cannot read, a
/// method a route does not have) are plain text or empty.
async fn json_errors(answer: Response) -> Response {
    let status = answer.status();
    let is_json = answer
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return answer;
    }
    let (mut parts, body) = answer.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let code = match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let (json, body) = json_error(status, code, &message).into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in &json.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// The admin role of a user, as the banner of `serve` names it (`Tenant Admin`, `Service
/// Owner`), or `None` for an agent.
pub fn admin_role_name(tenant: &interact_model::Tenant, user: &str) -> Option<&'static str> {
    admin_auth::Role::of(tenant, user).map(|r| match r {
        admin_auth::Role::TenantAdmin => "Tenant Admin",
        admin_auth::Role::ServiceOwner(_) => "Service Owner",
    })
}

/// The bearer token of an `Authorization` header, if there is one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A JSON error in the shape [`AppError`](crate::error::AppError) renders, for the few
/// statuses it has no variant for (413, 415).
fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// A JSON request body whose rejections are JSON errors too (axum's own are plain text).
#[derive(Debug, Clone, Copy, Default)]
struct ApiJson<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    _ => "bad_request",
                };
                Err(json_error(status, code, &rejection.body_text()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(v).expect("header"));
            bearer(&h).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("Bearerabc"), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
