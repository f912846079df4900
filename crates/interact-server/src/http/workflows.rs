//! The admin API's workflows (`/admin/v1/workflows`): read the current versions, put a
//! new one. What a version is, and who runs which, is [`crate::node::workflows`].

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiJson;
use super::admin::Admin;
use super::openapi as doc;
use crate::admin::audit;
use crate::error::AppError;
use crate::node::state::AppState;
use crate::node::workflows::build;
use interact_store::WorkflowVersion;
use utoipa::ToSchema;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/workflows", get(list))
        .route("/admin/v1/workflows/{name}/dry-run", post(dry_run))
        .route(
            "/admin/v1/workflows/{name}",
            get(one)
                .put(put)
                .layer(axum::extract::DefaultBodyLimit::max(
                    2 * crate::node::workflows::MAX_DEFINITION_BYTES,
                )),
        )
}

/// The current version of every workflow.
#[utoipa::path(get, path = "/admin/v1/workflows", tag = "workflows", operation_id = "list_workflows",
    responses((status = 200, description = "The current versions.", body = [doc::WorkflowVersion])))]
async fn list(
    admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<WorkflowVersion>>, AppError> {
    let tenant = state.tenant();
    let mut all = state.store.workflows().await?;
    all.retain(|w| admin.manages_workflow(&tenant, &w.name));
    Ok(Json(all))
}

async fn current(state: &AppState, name: &str) -> Result<Option<WorkflowVersion>, AppError> {
    Ok(state
        .store
        .workflows()
        .await?
        .into_iter()
        .find(|w| w.name == name))
}

/// The current version of one workflow.
#[utoipa::path(get, path = "/admin/v1/workflows/{name}", tag = "workflows", operation_id = "get_workflow",
    params(("name" = String, Path, description = "The workflow's name.")),
    responses(
        (status = 200, description = "The current version.", body = doc::WorkflowVersion),
        (status = 404, description = "No such workflow.", body = doc::ApiError),
    ))]
async fn one(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<WorkflowVersion>, AppError> {
    admin.workflow(&state.tenant(), &name)?;
    current(&state, &name)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no workflow {name:?}")))
}

/// The body of `PUT /admin/v1/workflows/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Definition {
    /// One `[[workflow]]` table as TOML: `name` (the path's), `max_steps`, `[[step]]`s.
    definition: String,
}

/// `PUT`: checks the definition (400 naming the step and line of what is wrong) and
/// makes it the workflow's current version, on every node at once. New chats run it;
/// running ones go on with the version they started with.
#[utoipa::path(put, path = "/admin/v1/workflows/{name}", tag = "workflows", operation_id = "put_workflow",
    params(("name" = String, Path, description = "The workflow's name.")),
    request_body = Definition,
    responses(
        (status = 200, description = "The version now current on every node.", body = doc::WorkflowVersion),
        (status = 400, description = "What is wrong, naming the step and line.", body = doc::ApiError),
    ))]
async fn put(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Definition>,
) -> Result<Json<WorkflowVersion>, AppError> {
    admin.workflow(&state.tenant(), &name)?;
    let workflow = build(&state, &body.definition).map_err(AppError::BadRequest)?;
    if workflow.name() != name {
        return Err(AppError::BadRequest(format!(
            "the definition names workflow {:?}, not {name:?}",
            workflow.name()
        )));
    }
    let before = current(&state, &name).await?;
    let version = WorkflowVersion {
        name: name.clone(),
        fingerprint: workflow.fingerprint().to_owned(),
        definition: body.definition,
        created_at: state.now(),
    };
    state.store.put_workflow(&version, true).await?;
    let stored = state
        .store
        .workflow_version(&name, &version.fingerprint)
        .await?
        .unwrap_or(version);
    audit(
        state.store.as_ref(),
        &admin.actor,
        state.now(),
        "workflow.put",
        &name,
        before.as_ref(),
        Some(&stored),
    )
    .await;
    state.workflows_changed().await?;
    tracing::info!(workflow = %name, fingerprint = %stored.fingerprint, "workflow version made current");
    Ok(Json(stored))
}

/// The body of `POST /admin/v1/workflows/{name}/dry-run`: the chat to imagine, and
/// optionally a definition to try instead of the current version (unsaved).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DryRunBody {
    #[serde(default)]
    definition: Option<String>,
    #[serde(flatten)]
    input: crate::node::workflows::DryRunInput,
}

/// The schema of [`DryRunBody`]: the input's with `definition` added (what serde's
/// `flatten` reads; a derived `allOf` of two closed objects would refuse `definition`).
impl utoipa::PartialSchema for DryRunBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        doc::with_string_property(
            <crate::node::workflows::DryRunInput as utoipa::PartialSchema>::schema(),
            "definition",
            "A definition to try instead of the current version (TOML, as for `PUT`; unsaved).",
        )
    }
}

impl ToSchema for DryRunBody {}

/// `POST .../dry-run`: the path a chat arriving at `at` would take, on a virtual clock
/// (nothing is sent, queued or requested): "a chat arriving Saturday 10:00 goes: hours
/// → closed".
#[utoipa::path(post, path = "/admin/v1/workflows/{name}/dry-run", tag = "workflows",
    operation_id = "dry_run_workflow",
    params(("name" = String, Path, description = "The workflow's name.")),
    request_body = DryRunBody,
    responses(
        (status = 200, description = "The run on a virtual clock.", body = crate::node::workflows::DryRun),
        (status = 400, description = "A bad definition or input.", body = doc::ApiError),
        (status = 404, description = "No such workflow (and no definition given).", body = doc::ApiError),
    ))]
async fn dry_run(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<DryRunBody>,
) -> Result<Json<crate::node::workflows::DryRun>, AppError> {
    admin.workflow(&state.tenant(), &name)?;
    let workflow = match &body.definition {
        Some(text) => build(&state, text).map_err(AppError::BadRequest)?,
        None => state
            .workflows
            .get(&name)
            .ok_or_else(|| AppError::NotFound(format!("no workflow {name:?}")))?,
    };
    Ok(Json(crate::node::workflows::dry_run(workflow, &body.input)))
}
