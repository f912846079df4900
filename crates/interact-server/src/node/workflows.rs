//! Workflows live in the database, changed through the admin API without a restart.
//!
//! - Every version is kept, named by its fingerprint
//!   ([`Store::put_workflow`](interact_store::Store::put_workflow)); each workflow name has
//!   a current version. A new chat runs the current version of its service's workflow; a
//!   running one goes on with the version it started with, after a restart or on another
//!   node too ([`version`]).
//! - The configuration's `[[workflow]]` tables seed a fresh database ([`seed`]); once a
//!   workflow is stored, the stored one stays (a changed table in the file is reported at
//!   start, not applied: change it through the admin API).
//! - A definition is one `[[workflow]]` table as TOML text (`name`, `max_steps`,
//!   `[[step]]`s), checked as the configuration's are ([`build`]): errors name the step
//!   and the line.
//! - Every node holds the current versions in memory ([`Workflows`]), read again after
//!   a change here, when the bus announces one, and every `[cluster] refresh_secs`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use interact_store::{StoreError, WorkflowVersion};
use interact_workflow::{Definitions, Workflow, WorkflowConfig};

use crate::node::state::AppState;

/// The longest definition (bytes of TOML).
pub const MAX_DEFINITION_BYTES: usize = 32 * 1024;

/// The current version of every workflow, on this node.
#[derive(Debug, Default)]
pub struct Workflows(RwLock<BTreeMap<String, Arc<Workflow>>>);

impl Workflows {
    /// The current version of workflow `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Workflow>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }
}

/// Checks definition `text` (one `[[workflow]]` table) against the configuration's
/// opening hours and services, and loads it. The error names the step and line.
pub fn build(state: &AppState, text: &str) -> Result<Arc<Workflow>, String> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(format!(
            "a workflow definition is at most {MAX_DEFINITION_BYTES} bytes"
        ));
    }
    let config: WorkflowConfig = toml::from_str(text).map_err(|e| e.to_string())?;
    let defs = Definitions::build(
        &state.config.opening_hours,
        std::slice::from_ref(&config),
        Some(text),
    )
    .map_err(|e| e.to_string())?;
    let workflow = defs
        .workflows
        .into_values()
        .next()
        .ok_or_else(|| "no workflow in the definition".to_owned())?;
    for (step, service) in workflow.transfer_targets() {
        if !state.tenant.services.contains_key(service) {
            return Err(format!(
                "{}: Transfer names service {service:?}, which does not exist",
                workflow.place(step)
            ));
        }
    }
    Ok(workflow)
}

/// Stores the configuration's workflows that the database does not have yet.
pub async fn seed(state: &AppState) -> Result<(), StoreError> {
    for (name, text) in &state.config.workflow_texts {
        let workflow = match build(state, text) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(workflow = %name, error = %e, "a configured workflow does not load");
                continue;
            }
        };
        let version = WorkflowVersion {
            name: name.clone(),
            fingerprint: workflow.fingerprint().to_owned(),
            definition: text.clone(),
            created_at: state.now(),
        };
        if !state.store.put_workflow(&version, false).await? {
            tracing::info!(
                workflow = %name,
                "the configuration's workflow differs from the stored one, which stays \
                 (change workflows through the admin API)"
            );
        }
    }
    Ok(())
}

/// Reads the current versions again.
pub async fn reload(state: &AppState) -> Result<(), StoreError> {
    let mut current = BTreeMap::new();
    for v in state.store.workflows().await? {
        match build(state, &v.definition) {
            Ok(w) => {
                current.insert(v.name.clone(), w);
            }
            Err(e) => {
                tracing::error!(workflow = %v.name, error = %e, "a stored workflow does not load");
            }
        }
    }
    *state.workflows.0.write().unwrap_or_else(|p| p.into_inner()) = current;
    Ok(())
}

/// Workflow `name` as it was at `fingerprint`: the current version, or a stored older
/// one (for a run that started with it).
pub async fn version(state: &AppState, name: &str, fingerprint: &str) -> Option<Arc<Workflow>> {
    if let Some(w) = state.workflows.get(name)
        && w.fingerprint() == fingerprint
    {
        return Some(w);
    }
    let stored = match state.store.workflow_version(name, fingerprint).await {
        Ok(v) => v?,
        Err(e) => {
            tracing::warn!(workflow = %name, error = %e, "reading a workflow version failed");
            return None;
        }
    };
    match build(state, &stored.definition) {
        Ok(w) if w.fingerprint() == fingerprint => Some(w),
        Ok(_) => {
            tracing::error!(workflow = %name, "a stored workflow version loads with another fingerprint");
            None
        }
        Err(e) => {
            tracing::error!(workflow = %name, error = %e, "a stored workflow version does not load");
            None
        }
    }
}
