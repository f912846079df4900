//! The admin API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /admin/v1/openapi.json` (public: it says what the API
//! is, not what is in it).
//!
//! The request and answer types of the server derive their schemas where they are
//! defined. The records of other crates (`interact-store`, `interact-report`,
//! `interact-model`) have their schemas here, as mirrors of what they serialize to: those
//! crates stay free of utoipa, and the tests below check that each mirror has exactly the
//! fields its record serializes (the API fuzzer of `tests/openapi_fuzz.rs` checks the
//! answers against them too).
//!
//! Every operation but this document and `POST /admin/v1/sign-in` needs `Authorization:
//! Bearer <token>`, the operator's admin token or a sign-in's (the `bearer` security
//! scheme); `Conventions` adds the answers every operation may give (401 and 403; for
//! those with a JSON body 400, 413, 415 and 422), all in the shape of `ApiError`, and
//! `Links` says which answer gives which operation its path parameter.

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{admin, admin_auth, admin_tools, directory, reports, webhooks, whatsapp, workflows};

/// Where the document is served.
pub const PATH: &str = "/admin/v1/openapi.json";

/// The admin API's OpenAPI document (`AdminApi::openapi()`).
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Interact admin API",
        description = "Domain Templates, embed codes, webhooks, workflows, the audit log, \
                       transcripts, the session report and usage metering of an Interact \
                       server. Errors are \
                       `{\"error\": {\"code\", \"message\"}}`.",
    ),
    paths(
        document,
        admin_auth::sign_in,
        admin_auth::sign_out,
        admin_auth::who_am_i,
        admin::list_templates,
        admin::get_template,
        admin::put_template,
        admin::delete_template,
        admin::list_embed_codes,
        admin::create_embed_code,
        admin::revoke_embed_code,
        admin::snippet,
        admin::rotate_identity_secret,
        admin::delete_identity_secret,
        admin::sign_out_agent,
        admin_tools::check_origin,
        admin_tools::preview_link,
        admin::audit_log,
        admin::transcript,
        reports::sessions,
        reports::usage,
        webhooks::list,
        webhooks::create,
        webhooks::one,
        webhooks::change,
        webhooks::remove,
        webhooks::deliveries,
        workflows::list,
        workflows::one,
        workflows::put,
        workflows::dry_run,
        directory::list_services,
        directory::get_service,
        directory::put_service,
        directory::delete_service,
        directory::list_users,
        directory::get_user,
        directory::put_user,
        directory::delete_user,
        directory::list_hours,
        directory::put_hours,
        directory::delete_hours,
        whatsapp::get_connector,
        whatsapp::put_connector,
        whatsapp::delete_connector,
    ),
    components(schemas(ApiError, ReportFormat, TargetKind)),
    modifiers(&Conventions, &Links),
    security(("bearer" = [])),
    tags(
        (name = "session", description = "Signing in and out of the administration."),
        (name = "templates", description = "Domain Templates: the origins an embed code may be used on."),
        (name = "embed-codes", description = "Embed codes: what a website pastes."),
        (name = "agents", description = "Agents (users) as the administration sees them."),
        (name = "audit", description = "The audit log of every admin change."),
        (name = "sessions", description = "Transcripts and the session report."),
        (name = "usage", description = "Usage per UTC day and modality, for billing."),
        (name = "webhooks", description = "Webhooks and their delivery logs."),
        (name = "workflows", description = "Instant Messaging workflows, changed live."),
        (name = "services", description = "Services: licences, modalities, members, owners, workflow, privacy text, theme."),
        (name = "users", description = "Users: licences, direct modalities, roles, passwords (never shown)."),
        (name = "opening-hours", description = "Opening hours and holidays, named by workflows."),
        (name = "meta", description = "This document."),
    ),
)]
pub struct AdminApi;

/// The document, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(AdminApi::openapi);

/// This document, as JSON.
#[utoipa::path(
    get,
    path = "/admin/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of the admin API.",
        body = Object, content_type = "application/json")),
)]
pub(super) async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}

/// Adds what every operation shares: the `bearer` security scheme, a 401 and a 403 for
/// every operation that needs it and, for those with a JSON body, the answers
/// [`ApiJson`](super::ApiJson) gives to a body it cannot read.
#[derive(Debug)]
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token; the server keeps only its SHA-256 \
                         (`admin.token_sha256`).",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_error_answers(operation);
            }
        }
    }
}

/// The shared error answers of one operation, where it does not document them itself.
fn add_error_answers(operation: &mut Operation) {
    // An operation without `security` of its own has the document's (the bearer token);
    // `security(())` makes one public.
    let public = operation
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == Default::default()));
    let mut answers = Vec::new();
    if !public {
        answers.extend([
            (
                "401",
                "No or a wrong `Authorization: Bearer <admin token>`.",
            ),
            ("403", "The admin's role does not allow this."),
        ]);
    }
    if operation.request_body.is_some() {
        answers.extend([
            (
                "400",
                "The body is not JSON, or not what the operation takes.",
            ),
            ("413", "The body is too large."),
            ("415", "The body is not `Content-Type: application/json`."),
            ("422", "The body is JSON of the wrong shape."),
        ]);
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_answer(description)));
    }
}

/// A link: `(path, method, status, JSON pointer into the answer, parameter, operation
/// ids)`.
type Link = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// The links of the document: which answer gives the parameter of which operation, so that
/// a client (and the fuzzer) can follow them.
const LINKS: &[Link] = &[
    (
        "/admin/v1/templates",
        "get",
        "200",
        "/0/name",
        "name",
        &["get_template", "delete_template"],
    ),
    (
        "/admin/v1/templates/{name}",
        "put",
        "200",
        "/name",
        "name",
        &["get_template", "delete_template"],
    ),
    (
        "/admin/v1/embed-codes",
        "get",
        "200",
        "/0/code",
        "code",
        &[
            "snippet",
            "revoke_embed_code",
            "rotate_identity_secret",
            "delete_identity_secret",
        ],
    ),
    (
        "/admin/v1/embed-codes",
        "post",
        "201",
        "/code",
        "code",
        &[
            "snippet",
            "revoke_embed_code",
            "rotate_identity_secret",
            "delete_identity_secret",
        ],
    ),
    (
        "/admin/v1/webhooks",
        "get",
        "200",
        "/0/id",
        "id",
        &[
            "get_webhook",
            "change_webhook",
            "delete_webhook",
            "webhook_deliveries",
        ],
    ),
    (
        "/admin/v1/webhooks",
        "post",
        "201",
        "/id",
        "id",
        &[
            "get_webhook",
            "change_webhook",
            "delete_webhook",
            "webhook_deliveries",
        ],
    ),
    (
        "/admin/v1/workflows",
        "get",
        "200",
        "/0/name",
        "name",
        &["get_workflow", "dry_run_workflow"],
    ),
];

/// Adds [`LINKS`].
#[derive(Debug)]
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, method, status, pointer, parameter, targets) in LINKS {
            let Some(item) = openapi.paths.paths.get_mut(*path) else {
                continue;
            };
            let operation = match *method {
                "get" => &mut item.get,
                "put" => &mut item.put,
                "post" => &mut item.post,
                _ => &mut item.delete,
            };
            let Some(RefOr::T(answer)) = operation
                .as_mut()
                .and_then(|o| o.responses.responses.get_mut(*status))
            else {
                continue;
            };
            for target in *targets {
                answer.links.insert(
                    (*target).to_owned(),
                    RefOr::T(
                        LinkBuilder::new()
                            .operation_id(*target)
                            .parameter(*parameter, format!("$response.body#{pointer}"))
                            .build(),
                    ),
                );
            }
        }
    }
}

/// `schema`, an object, with an optional string property `name` added (`null` allowed).
pub(super) fn with_string_property(
    schema: RefOr<Schema>,
    name: &str,
    description: &str,
) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = schema else {
        return schema;
    };
    object.properties.insert(
        name.to_owned(),
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some(description))
                .build(),
        )),
    );
    RefOr::T(Schema::Object(object))
}

/// An answer with an [`ApiError`] body.
fn error_answer(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiError")))
                .build(),
        )
        .build()
}

/// Every error of the admin API: `{"error": {"code", "message"}}` (the session report's
/// 400 adds `parameter`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct ApiError {
    error: ApiErrorBody,
}

/// What went wrong.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct ApiErrorBody {
    /// What kind of error, for programs: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `method_not_allowed`, `rate_limited`, `internal`, ...
    #[schema(pattern = "^[a-z_]+$", min_length = 1)]
    code: String,
    /// What went wrong, for people.
    message: String,
    /// The session report's 400: the parameter that is wrong.
    #[schema(nullable = false)]
    parameter: Option<String>,
}

/// A Domain Template (`interact_store::TemplateRecord`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct Template {
    /// Unique name.
    name: String,
    /// Origin patterns, e.g. `https://shop.example.com`, `https://*.example.com`.
    origins: Vec<String>,
}

/// What an embed code points at (`interact_model::TargetRef`): a service or a user.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct Target {
    /// `service` or `user`.
    kind: TargetKind,
    /// The service's or user's id.
    id: String,
}

/// A service or a user.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum TargetKind {
    /// A service.
    Service,
    /// A user.
    User,
}

/// An embed code (`interact_store::EmbedCodeRecord`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct EmbedCode {
    /// The code (`ie1_...`).
    code: String,
    /// What it points at.
    target: Target,
    /// The Domain Template it is bound to.
    template: String,
    /// When it was made (Unix ms).
    created_at: u64,
    /// When it was revoked (Unix ms), if it was.
    revoked_at: Option<u64>,
}

/// One admin change (`interact_store::AuditEntry`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct AuditEntry {
    /// Its number, in the order entries were stored.
    id: i64,
    /// When (Unix ms).
    at: u64,
    /// Who (`admin`, `cli`).
    actor: String,
    /// What was done, e.g. `template.put`, `embed_code.revoke`.
    action: String,
    /// What it was done to, e.g. the template's name.
    target: String,
    /// The target before the change, as JSON text (`null`: it did not exist).
    before: Option<String>,
    /// The target after the change, as JSON text (`null`: it no longer exists).
    after: Option<String>,
}

/// An event a webhook may receive.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) enum WebhookEvent {
    /// A visitor started a session.
    #[schema(rename = "session.started")]
    SessionStarted,
    /// A message in a session.
    #[schema(rename = "message")]
    Message,
    /// A session ended, with its outcome.
    #[schema(rename = "session.ended")]
    SessionEnded,
}

/// A webhook (`interact_store::WebhookRecord`; never its secret).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct Webhook {
    /// Unique id.
    id: String,
    /// The `http://` or `https://` URL posted to.
    url: String,
    /// The events it receives, in this order.
    events: Vec<WebhookEvent>,
    /// When it was made (Unix ms).
    created_at: u64,
}

/// One delivery of a webhook (`interact_store::DeliveryRecord`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct Delivery {
    /// Its number.
    id: i64,
    /// The webhook.
    webhook: String,
    /// The event type.
    event: String,
    /// The body posted (JSON text).
    body: String,
    /// When it was made (Unix ms).
    created_at: u64,
    /// Attempts made so far.
    attempts: u32,
    /// When it is due (again), Unix ms; `null` once done.
    next_at: Option<u64>,
    /// The HTTP status of the last attempt, if it got one.
    last_status: Option<u16>,
    /// What went wrong in the last attempt, if it failed.
    last_error: Option<String>,
    /// When it was delivered (Unix ms).
    delivered_at: Option<u64>,
}

/// One version of a workflow (`interact_store::WorkflowVersion`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct WorkflowVersion {
    /// The workflow's name.
    name: String,
    /// The fingerprint of its steps.
    fingerprint: String,
    /// The definition: the TOML of one `[[workflow]]` table.
    definition: String,
    /// When this version was first stored (Unix ms).
    created_at: u64,
}

/// The session report's format.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum ReportFormat {
    /// JSON, an array of [`SessionReport`]s.
    Json,
    /// CSV with a header row.
    Csv,
}

/// One session of the report (`interact_report::SessionReport`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct SessionReport {
    /// The session.
    session: String,
    /// Service session or direct user contact.
    kind: TargetKind,
    /// The service's or user's id.
    target: String,
    /// How the visitor came: `widget` or `whatsapp`.
    #[schema(pattern = "^(widget|whatsapp)$")]
    channel: String,
    /// The richest modality reached (a call-first session's medium at least).
    modality: Modality,
    /// `audio` or `video` if the visitor started with a call (call-first); `null` for a
    /// chat.
    #[schema(pattern = "^(audio|video)$")]
    call_first: Option<String>,
    /// When the visitor started it (Unix ms).
    created_at: u64,
    /// When it first waited in the queue.
    queued_at: Option<u64>,
    /// When it was first offered to an agent.
    offered_at: Option<u64>,
    /// When an agent first accepted it.
    accepted_at: Option<u64>,
    /// When it ended.
    ended_at: Option<u64>,
    /// Waiting time (ms).
    wait_ms: Option<u64>,
    /// Handling time (ms).
    handling_ms: Option<u64>,
    /// Ring time (ms): first offer to accept.
    ring_ms: Option<u64>,
    /// Talk time (ms): the answered calls' durations.
    talk_ms: u64,
    /// The last agent who joined.
    agent: Option<String>,
    /// How many times it was offered to an agent.
    offers: u64,
    /// The reason in its `ended` event (`visitor_ended`, `agent_ended`, `no_agent`,
    /// `closed`, `idle_timeout`, `workflow`, `failed`, ...).
    end_reason: Option<String>,
    /// The outcome; `null` while open.
    outcome: Option<Outcome>,
    /// The labels of the workflow steps it went through.
    workflow_path: Vec<String>,
    /// Its calls, in order.
    calls: Vec<CallReport>,
    /// How many times it was transferred to another service or user.
    transfers: u32,
    /// Its legs: one per target, split at its transfers (a single leg if never
    /// transferred).
    legs: Vec<LegReport>,
    /// The visitor's end-of-chat rating; `null` if they gave none.
    satisfaction: Option<Satisfaction>,
}

/// The visitor's end-of-chat rating (`interact_report::Satisfaction`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct Satisfaction {
    /// 1 (bad) to 5 (very good).
    #[schema(minimum = 1, maximum = 5)]
    score: u8,
    /// What the visitor wrote; `null` if nothing. Plain text.
    comment: Option<String>,
}

/// One leg of a session: its time with one target (`interact_report::LegReport`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct LegReport {
    /// Service or user.
    kind: TargetKind,
    /// The service's or user's id.
    target: String,
    /// When the leg began: the session's creation, or the transfer to this target.
    started_at: u64,
    /// When it first waited in this target's queue.
    queued_at: Option<u64>,
    /// When an agent of this leg first accepted it.
    accepted_at: Option<u64>,
    /// The last agent who joined during this leg.
    agent: Option<String>,
    /// When it ended (the next transfer, or the session's end).
    ended_at: Option<u64>,
    /// `transferred` for a leg a transfer ended, else as the session's end says; `null`
    /// while it lasts.
    outcome: Option<Outcome>,
}

/// The modality a session is reported with.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum Modality {
    /// Chat only.
    Chat,
    /// An audio call was answered.
    Audio,
    /// A video call was answered.
    Video,
}

/// The usage of one tenant, UTC day, target and channel (`interact_report::DayUsage`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct DayUsage {
    /// The tenant: the host of the server's public URL.
    tenant: String,
    /// The UTC day, `YYYY-MM-DD`.
    #[schema(format = Date)]
    day: String,
    /// Service sessions or direct user contacts.
    kind: TargetKind,
    /// The service's or user's id.
    target: String,
    /// How the visitors came: `widget` or `whatsapp`.
    #[schema(pattern = "^(widget|whatsapp)$")]
    channel: String,
    /// Sessions started that day.
    chat_sessions: u64,
    /// Messages from visitors.
    messages_in: u64,
    /// Messages from agents or the service (workflow messages).
    messages_out: u64,
    /// Answered audio calls, accept to hang-up: decimal minutes rounded to 0.01.
    #[schema(minimum = 0)]
    audio_minutes: f64,
    /// Answered video calls, as `audio_minutes`.
    #[schema(minimum = 0)]
    video_minutes: f64,
    /// Screen sharing (either side) during answered calls, as `audio_minutes`.
    #[schema(minimum = 0)]
    screen_share_minutes: f64,
    /// `messages_in` of WhatsApp sessions (0 for other channels).
    whatsapp_received: u64,
    /// `messages_out` of WhatsApp sessions (0 for other channels).
    whatsapp_sent: u64,
}

/// A session's outcome (`interact_model::Outcome`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum Outcome {
    /// An agent was with the visitor at the end.
    Handled,
    /// The session failed.
    Failed,
    /// The visitor gave up before an agent was with them.
    Abandoned,
    /// The system ended it before an agent took it.
    Cancelled,
    /// Handed to another agent or service.
    Transferred,
    /// No agent could take it.
    NoAgent,
}

/// One call of a session (`interact_report::CallReport`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct CallReport {
    /// The call's id.
    call: String,
    /// `audio` or `video`.
    media: String,
    /// Whether either side shared its screen.
    screen_share: bool,
    /// When the visitor called (Unix ms).
    started_at: u64,
    /// When the agent accepted.
    answered_at: Option<u64>,
    /// Start to answer, or to the end if unanswered (ms).
    ring_ms: Option<u64>,
    /// When it ended.
    ended_at: Option<u64>,
    /// Answered to ended (ms).
    duration_ms: Option<u64>,
    /// `visitor`, `agent` or `system`.
    ended_by: Option<String>,
    /// The reason of the hang-up.
    hangup_reason: Option<String>,
    /// `answered`, `declined`, `missed`, `cancelled` or `failed`; `null` while on.
    outcome: Option<String>,
    /// Each side's last quality summary.
    quality: CallQuality,
}

/// Each side's summary of a call's quality (`interact_report::CallQuality`).
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct CallQuality {
    /// What the visitor measured; `null` if it sent nothing.
    visitor: Option<QualitySummary>,
    /// What the agent measured; `null` if it sent nothing.
    agent: Option<QualitySummary>,
}

/// One side's summary of a call's quality (protocol §10.4, `quality`); a figure no
/// sample had is left out.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct QualitySummary {
    /// How many samples (one every 2 s).
    samples: u32,
    /// Round-trip time, ms.
    rtt_ms: Option<Spread>,
    /// Jitter of the received media, ms.
    jitter_ms: Option<Spread>,
    /// Received packets lost, per mille.
    loss_permille: Option<Spread>,
    /// Received bitrate, kbit/s.
    bitrate_kbps: Option<Spread>,
    /// Width of the received video, pixels.
    width_px: Option<Spread>,
    /// Height of the received video, pixels.
    height_px: Option<Spread>,
}

/// The smallest, median and largest value of one figure.
#[allow(
    dead_code,
    reason = "a schema only: never built, only its shape is used"
)]
#[derive(Debug, ToSchema)]
pub(super) struct Spread {
    /// The smallest.
    min: u32,
    /// The median.
    median: u32,
    /// The largest.
    max: u32,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use interact_model::TargetRef;
    use interact_sdk::embed::EmbedCode as Code;
    use interact_sdk::time::UnixMillis;
    use serde::Serialize;
    use serde_json::Value;

    use super::*;

    /// The property names of the component schema `name`.
    fn properties(name: &str) -> BTreeSet<String> {
        let doc = serde_json::to_value(&*DOCUMENT).expect("the document is JSON");
        let schema = &doc["components"]["schemas"][name];
        schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema {name} has properties: {schema}"))
            .keys()
            .cloned()
            .collect()
    }

    /// The field names `record` serializes to.
    fn fields(record: &impl Serialize) -> BTreeSet<String> {
        match serde_json::to_value(record).expect("serializes") {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[track_caller]
    fn mirrors(name: &str, record: &impl Serialize) {
        assert_eq!(
            properties(name),
            fields(record),
            "the schema {name} must have exactly the fields its record serializes"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_a_bearer_scheme() {
        let doc = serde_json::to_value(&*DOCUMENT).expect("JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
        assert_eq!(
            doc["paths"][PATH]["get"]["security"],
            serde_json::json!([{}])
        );
        let templates = &doc["paths"]["/admin/v1/templates/{name}"]["put"]["responses"];
        for status in ["200", "400", "401", "413", "415", "422"] {
            assert!(
                templates.get(status).is_some(),
                "PUT template answers {status}"
            );
        }
    }

    #[test]
    fn the_mirror_schemas_have_the_fields_of_their_records() {
        let at = UnixMillis(1);
        let code = Code::from_random([7; 16]);
        let target = TargetRef::Service("support".into());
        mirrors("Target", &target);
        mirrors(
            "Template",
            &interact_store::TemplateRecord {
                name: "demo".into(),
                origins: vec![],
            },
        );
        mirrors(
            "EmbedCode",
            &interact_store::EmbedCodeRecord {
                code,
                target,
                template: "demo".into(),
                created_at: at,
                revoked_at: None,
            },
        );
        mirrors(
            "AuditEntry",
            &interact_store::AuditEntry {
                id: 1,
                at,
                actor: "admin".into(),
                action: "template.put".into(),
                target: "demo".into(),
                before: None,
                after: None,
            },
        );
        mirrors(
            "Webhook",
            &interact_store::WebhookRecord {
                id: "wh_1".into(),
                url: "https://example.com".into(),
                secret: "s".into(),
                events: vec![],
                created_at: at,
            },
        );
        mirrors(
            "Delivery",
            &interact_store::DeliveryRecord {
                id: 1,
                webhook: "wh_1".into(),
                event: "message".into(),
                body: "{}".into(),
                created_at: at,
                attempts: 0,
                next_at: None,
                last_status: None,
                last_error: None,
                delivered_at: None,
            },
        );
        mirrors(
            "WorkflowVersion",
            &interact_store::WorkflowVersion {
                name: "w".into(),
                fingerprint: "f".into(),
                definition: String::new(),
                created_at: at,
            },
        );
    }

    #[test]
    fn the_report_schemas_have_the_fields_of_the_report() {
        use interact_sdk::ids::{AgentId, CallId, SessionId};
        use interact_sdk::protocol::{CallMedia, EndReason, HangupReason, Party};
        let call = interact_report::CallReport {
            call: CallId::new("c1").expect("a call id"),
            media: CallMedia::Audio,
            screen_share: false,
            started_at: UnixMillis(1),
            answered_at: None,
            ring_ms: Some(3),
            ended_at: None,
            duration_ms: None,
            ended_by: Some(Party::Visitor),
            hangup_reason: Some(HangupReason::Normal),
            outcome: None,
            quality: interact_report::CallQuality::default(),
        };
        mirrors("CallReport", &call);
        let spread = Some(interact_sdk::protocol::Spread {
            min: 1,
            median: 2,
            max: 3,
        });
        let summary = interact_sdk::protocol::QualitySummary {
            samples: 1,
            rtt_ms: spread,
            jitter_ms: spread,
            loss_permille: spread,
            bitrate_kbps: spread,
            width_px: spread,
            height_px: spread,
        };
        mirrors("QualitySummary", &summary);
        mirrors("Spread", &spread);
        mirrors("CallQuality", &call.quality);
        mirrors(
            "SessionReport",
            &interact_report::SessionReport {
                session: SessionId::new("s1").expect("a session id"),
                kind: interact_report::TargetKind::Service,
                target: "support".into(),
                channel: interact_report::Channel::Widget,
                modality: interact_report::Modality::Chat,
                call_first: Some(CallMedia::Video),
                created_at: UnixMillis(1),
                queued_at: None,
                offered_at: None,
                accepted_at: None,
                ended_at: None,
                wait_ms: None,
                handling_ms: None,
                ring_ms: Some(2),
                talk_ms: 0,
                agent: Some(AgentId::new("alex").expect("an agent id")),
                offers: 0,
                end_reason: Some(EndReason::Closed),
                outcome: None,
                workflow_path: vec![],
                calls: vec![call],
                transfers: 0,
                legs: vec![],
                satisfaction: None,
            },
        );
        mirrors(
            "Satisfaction",
            &interact_report::Satisfaction {
                score: 4,
                comment: Some("kind".into()),
            },
        );
        mirrors(
            "LegReport",
            &interact_report::LegReport {
                kind: interact_report::TargetKind::Service,
                target: "support".into(),
                started_at: UnixMillis(1),
                queued_at: None,
                accepted_at: None,
                agent: None,
                ended_at: None,
                outcome: None,
            },
        );
        mirrors(
            "DayUsage",
            &interact_report::DayUsage {
                tenant: "shop.example".into(),
                day: interact_report::Day(19_844),
                kind: interact_report::TargetKind::Service,
                target: "support".into(),
                channel: interact_report::Channel::Widget,
                chat_sessions: 1,
                messages_in: 2,
                messages_out: 3,
                audio_minutes: interact_report::Minutes { ms: 90_000 },
                video_minutes: interact_report::Minutes::default(),
                screen_share_minutes: interact_report::Minutes::default(),
                whatsapp_received: 0,
                whatsapp_sent: 0,
            },
        );
        let doc = serde_json::to_value(&*DOCUMENT).expect("JSON");
        let outcomes = &doc["components"]["schemas"]["Outcome"]["enum"];
        for outcome in interact_model::Outcome::ALL {
            assert!(
                outcomes
                    .as_array()
                    .is_some_and(|all| all.iter().any(|o| o == outcome.as_str())),
                "Outcome lists {outcome}: {outcomes}"
            );
        }
    }
}
