//! The tenant's configuration lives in the database: services (licences, modalities,
//! members, owners, workflow, languages, privacy text and version, theme), users
//! (licences, modalities, roles, password hash) and opening hours (with holidays),
//! changed through the administration without a restart.
//!
//! - The configuration file's `[[service]]`, `[[user]]` and `[[opening_hours]]` tables
//!   seed a database that has never had a tenant ([`seed`]); from then on the database
//!   is the truth, and the file's tables are not read again (a node says so at start if
//!   they differ).
//! - Every change is checked as a whole tenant before it is stored
//!   ([`crate::config::check_tenant`], plus the opening hours every workflow names), is
//!   in the audit log, and reaches every node at once: this node reloads and tells the
//!   others on the bus (each also reloads every `[cluster] refresh_secs`).
//! - A reload swaps the tenant every request reads ([`Inner::tenant`](crate::node::state::Inner::tenant)), hands routing
//!   the new members ([`crate::node::hub::Hub::set_tenant`]) and rebuilds the workflows
//!   with the new opening hours. Running sessions go on: their agents, queues and
//!   workflow versions stay.

use std::sync::{Arc, RwLock};

use interact_model::{ServiceConfig, Tenant, UserConfig};
use interact_store::{ConfigItem, Store, StoreError};
use interact_workflow::{OpeningHoursConfig, WorkflowModality};
use serde::{Deserialize, Serialize};

use crate::node::state::AppState;

/// The marker item that says the database has had a tenant (seeded or imported).
const SEEDED: (&str, &str) = ("meta", "seeded");

/// A tenant's whole configuration, as `config export` writes it and `config import` and
/// the seed read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Contact-center services.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceConfig>,
    /// Users (agents, Service Owners, Tenant Admins).
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// Opening hours, named by workflows' Check Opening Hours steps.
    #[serde(default)]
    pub opening_hours: Vec<OpeningHoursConfig>,
}

/// The opening hours in force on this node (what workflows are built with).
#[derive(Debug, Default)]
pub struct Directory {
    hours: RwLock<Arc<Vec<OpeningHoursConfig>>>,
    /// The tenant configuration last put in force ([`reload`] skips the same again).
    applied: std::sync::Mutex<Option<TenantConfig>>,
}

impl Directory {
    /// The opening hours now.
    pub fn hours(&self) -> Arc<Vec<OpeningHoursConfig>> {
        self.hours.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Why a change is refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The tenant it would make is inconsistent (the message says how).
    #[error("{0}")]
    Invalid(String),
    /// The change names an item that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The admin's role does not allow this change.
    #[error("{0}")]
    Denied(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the tenant's configuration from the store.
pub async fn load(store: &dyn Store) -> Result<TenantConfig, StoreError> {
    fn parse<T: serde::de::DeserializeOwned>(items: Vec<ConfigItem>) -> Vec<T> {
        items
            .into_iter()
            .filter_map(|i| match serde_json::from_str(&i.body) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::error!(kind = %i.kind, name = %i.name, error = %e, "a stored configuration item does not load");
                    None
                }
            })
            .collect()
    }
    Ok(TenantConfig {
        services: parse(store.config_items(ConfigItem::SERVICE).await?),
        users: parse(store.config_items(ConfigItem::USER).await?),
        opening_hours: parse(store.config_items(ConfigItem::OPENING_HOURS).await?),
    })
}

/// The modality a workflow definition (the TOML of one `[[workflow]]` table) declares.
fn modality_of(definition: &str) -> WorkflowModality {
    toml::from_str::<toml::Table>(definition)
        .ok()
        .and_then(|t| t.get("modality")?.clone().try_into().ok())
        .unwrap_or_default()
}

/// The modality of the current stored version of workflow `name`, if there is one.
fn stored_modality(
    workflows: &[interact_store::WorkflowVersion],
    name: &str,
) -> Option<WorkflowModality> {
    workflows
        .iter()
        .find(|w| w.name == name)
        .map(|w| modality_of(&w.definition))
}

/// Checks a whole tenant: [`crate::config::check_tenant`], opening hours that load, and
/// workflows (named by services) that exist in `workflows` and whose hours exist.
pub fn check(
    tenant: &TenantConfig,
    workflow: impl Fn(&str) -> Option<WorkflowModality>,
) -> Result<(), String> {
    crate::config::check_tenant(&tenant.services, &tenant.users, workflow)?;
    interact_workflow::Definitions::build(&tenant.opening_hours, &[], None)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Stores `tenant` whole (what is stored becomes it: items it lacks are deleted) and
/// marks the database as having a tenant. The caller checks it first.
pub async fn store_all(
    store: &dyn Store,
    tenant: &TenantConfig,
    at: interact_sdk::time::UnixMillis,
) -> Result<(), StoreError> {
    store_changes(store, &load(store).await?, tenant, at).await?;
    put(store, SEEDED.0, SEEDED.1, &true, at).await
}

/// Writes the items of `after` that differ from `before`, and deletes those it lacks.
async fn store_changes(
    store: &dyn Store,
    before: &TenantConfig,
    after: &TenantConfig,
    at: interact_sdk::time::UnixMillis,
) -> Result<(), StoreError> {
    async fn kind<T: Serialize + PartialEq>(
        store: &dyn Store,
        kind: &str,
        before: &[T],
        after: &[T],
        name: impl Fn(&T) -> &str,
        at: interact_sdk::time::UnixMillis,
    ) -> Result<(), StoreError> {
        for old in before {
            if !after.iter().any(|n| name(n) == name(old)) {
                store.delete_config_item(kind, name(old)).await?;
            }
        }
        for new in after {
            if !before.iter().any(|o| o == new) {
                put(store, kind, name(new), new, at).await?;
            }
        }
        Ok(())
    }
    kind(
        store,
        ConfigItem::SERVICE,
        &before.services,
        &after.services,
        |s| s.id.as_str(),
        at,
    )
    .await?;
    kind(
        store,
        ConfigItem::USER,
        &before.users,
        &after.users,
        |u| u.id.as_str(),
        at,
    )
    .await?;
    kind(
        store,
        ConfigItem::OPENING_HOURS,
        &before.opening_hours,
        &after.opening_hours,
        |h| h.name.as_str(),
        at,
    )
    .await
}

async fn put<T: Serialize>(
    store: &dyn Store,
    kind: &str,
    name: &str,
    value: &T,
    at: interact_sdk::time::UnixMillis,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {kind} {name}: {e}")))?;
    store
        .put_config_item(&ConfigItem {
            kind: kind.to_owned(),
            name: name.to_owned(),
            body,
            updated_at: at,
        })
        .await
}

/// Fills a database that has never had a tenant with the configuration file's services,
/// users and opening hours; says so if the file's differ from a stored tenant.
pub async fn seed(state: &AppState) -> Result<(), StoreError> {
    let file = TenantConfig {
        services: state.config.services.clone(),
        users: state.config.users.clone(),
        opening_hours: state.config.opening_hours.clone(),
    };
    let seeded = state
        .store
        .config_items(SEEDED.0)
        .await?
        .iter()
        .any(|i| i.name == SEEDED.1);
    if !seeded {
        store_all(state.store.as_ref(), &file, state.now()).await?;
        tracing::info!(
            services = file.services.len(),
            users = file.users.len(),
            "the database's tenant is seeded from the configuration file"
        );
    } else if load(state.store.as_ref()).await? != file {
        tracing::info!(
            "the configuration file's services, users or opening hours differ from the \
             database's, which are used (change them in the administration, or with \
             `interact-server config import`)"
        );
    }
    Ok(())
}

/// Puts the stored opening hours in force without checking the rest (at start, before
/// the workflows that name them are loaded).
pub async fn load_hours(state: &AppState) -> Result<(), StoreError> {
    let hours = load(state.store.as_ref()).await?.opening_hours;
    *state
        .directory
        .hours
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Arc::new(hours);
    Ok(())
}

/// Reads the tenant again and puts it in force on this node: the tenant requests read,
/// routing's members, the opening hours workflows are built with. A stored tenant that
/// does not check (written by hand, or by an older version) is refused whole: the node
/// keeps the one it has and says why.
pub async fn reload(state: &AppState) -> Result<(), StoreError> {
    let config = load(state.store.as_ref()).await?;
    let applied = || {
        state
            .directory
            .applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    };
    // Every node rereads at every announcement and refresh: routing is rebuilt only when
    // the tenant did change.
    if applied().as_ref() == Some(&config) {
        return Ok(());
    }
    let workflows = state.store.workflows().await?;
    if let Err(e) = check(&config, |w| stored_modality(&workflows, w)) {
        tracing::error!(error = %e, "the stored tenant does not check; keeping the one in force");
        return Ok(());
    }
    let tenant = Tenant::new(&config.services, &config.users, &[]);
    *state
        .directory
        .hours
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Arc::new(config.opening_hours.clone());
    state.hub.set_tenant(&tenant);
    state.set_tenant(tenant);
    *applied() = Some(config);
    Ok(())
}

/// Changes the tenant through `change` (applied to the stored one), checks the result,
/// stores it, puts it in force here and tells the other nodes. Returns the tenant before
/// and after.
pub async fn change(
    state: &AppState,
    change: impl FnOnce(&mut TenantConfig) -> Result<(), ChangeError>,
) -> Result<(TenantConfig, TenantConfig), ChangeError> {
    let _one_at_a_time = state.directory_changes.lock().await;
    let before = load(state.store.as_ref()).await?;
    let mut after = before.clone();
    change(&mut after)?;
    let workflows = state.store.workflows().await?;
    check(&after, |name| stored_modality(&workflows, name)).map_err(ChangeError::Invalid)?;
    // Every workflow must still find its opening hours.
    let hours_changed = before.opening_hours != after.opening_hours;
    if hours_changed {
        for w in &workflows {
            let config: Result<interact_workflow::WorkflowConfig, _> =
                toml::from_str(&w.definition);
            if let Ok(config) = config
                && let Err(e) = interact_workflow::Definitions::build(
                    &after.opening_hours,
                    std::slice::from_ref(&config),
                    Some(&w.definition),
                )
            {
                return Err(ChangeError::Invalid(format!(
                    "workflow {:?} would not load: {e}",
                    w.name
                )));
            }
        }
    }
    // Only what this change changed: another node's change made meanwhile to other items
    // stays (a whole rewrite from this node's `before` would undo it).
    store_changes(state.store.as_ref(), &before, &after, state.now()).await?;
    reload(state).await?;
    if hours_changed {
        crate::node::workflows::reload(state).await?;
    }
    if let Some(bus) = state.bus.get() {
        bus.config_changed("tenant").await;
    }
    Ok((before, after))
}

/// A tenant as `interact-server config export` writes it and `config import` reads it
/// (TOML or JSON): the tenant's configuration, its Domain Templates and the current
/// version of every workflow. Not in it: embed codes (they are in websites already),
/// sessions, the audit log, webhooks (their secrets stay in the database).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// Which format version this is (1).
    pub interact_tenant: u32,
    /// Domain Templates.
    #[serde(default, rename = "domain_template")]
    pub templates: Vec<ExportedTemplate>,
    /// Services, users and opening hours.
    #[serde(flatten)]
    pub tenant: TenantConfig,
    /// Workflows: each one `[[workflow]]` table, as the admin API takes it.
    #[serde(default, rename = "workflow")]
    pub workflows: Vec<toml::Table>,
}

/// A Domain Template in an [`Export`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedTemplate {
    /// Its name.
    pub name: String,
    /// Its origins.
    pub origins: Vec<String>,
}

/// The tenant as stored now.
pub async fn export(state: &AppState) -> Result<Export, StoreError> {
    let templates = state
        .store
        .templates()
        .await?
        .into_iter()
        .map(|t| ExportedTemplate {
            name: t.name,
            origins: t.origins,
        })
        .collect();
    let mut workflows = Vec::new();
    for w in state.store.workflows().await? {
        match w.definition.parse::<toml::Table>() {
            Ok(t) => workflows.push(t),
            Err(e) => {
                return Err(StoreError::Corrupt(format!(
                    "workflow {:?} is not TOML: {e}",
                    w.name
                )));
            }
        }
    }
    Ok(Export {
        interact_tenant: 1,
        templates,
        tenant: load(state.store.as_ref()).await?,
        workflows,
    })
}

/// Replaces the stored tenant with `export` (templates and workflows it names are
/// created or replaced; others stay), after checking all of it: every workflow builds
/// against the imported opening hours and services, and the tenant checks against the
/// workflows there will be. Audited as `config.import` by `by`. Running nodes take it
/// within `[cluster] refresh_secs` (or at once, when told on the bus).
pub async fn import(state: &AppState, export: &Export, by: &str) -> Result<(), ChangeError> {
    if export.interact_tenant != 1 {
        return Err(ChangeError::Invalid(format!(
            "interact_tenant = {}: this server reads version 1",
            export.interact_tenant
        )));
    }
    let mut texts = Vec::new();
    for table in &export.workflows {
        let text =
            toml::to_string(table).map_err(|e| ChangeError::Invalid(format!("a workflow: {e}")))?;
        let config: interact_workflow::WorkflowConfig =
            toml::from_str(&text).map_err(|e| ChangeError::Invalid(format!("a workflow: {e}")))?;
        let defs = interact_workflow::Definitions::build(
            &export.tenant.opening_hours,
            std::slice::from_ref(&config),
            Some(&text),
        )
        .map_err(|e| ChangeError::Invalid(e.to_string()))?;
        for w in defs.workflows.values() {
            for (step, service) in w.transfer_targets() {
                if !export
                    .tenant
                    .services
                    .iter()
                    .any(|s| s.id.as_str() == service)
                {
                    return Err(ChangeError::Invalid(format!(
                        "{}: Transfer names service {service:?}, which the import lacks",
                        w.place(step)
                    )));
                }
            }
            texts.push((
                w.name().to_owned(),
                w.fingerprint().to_owned(),
                text.clone(),
            ));
        }
    }
    let stored = state.store.workflows().await?;
    check(&export.tenant, |w| {
        // The import's own version of a workflow wins over the stored one.
        texts
            .iter()
            .find(|(n, _, _)| n == w)
            .map(|(_, _, text)| modality_of(text))
            .or_else(|| stored_modality(&stored, w))
    })
    .map_err(ChangeError::Invalid)?;
    for t in &export.templates {
        for o in &t.origins {
            interact_model::OriginPattern::parse(o).map_err(|e| {
                ChangeError::Invalid(format!("domain_template {:?}: origin {o:?}: {e}", t.name))
            })?;
        }
    }
    let _one_at_a_time = state.directory_changes.lock().await;
    let before = export_quietly(state).await;
    let at = state.now();
    for t in &export.templates {
        crate::admin::set_template(state.store.as_ref(), &t.name, &t.origins, at, by)
            .await
            .map_err(|e| ChangeError::Invalid(e.to_string()))?;
    }
    store_all(state.store.as_ref(), &export.tenant, at).await?;
    for (name, fingerprint, text) in texts {
        let version = interact_store::WorkflowVersion {
            name,
            fingerprint,
            definition: text,
            created_at: at,
        };
        state.store.put_workflow(&version, true).await?;
    }
    crate::admin::audit(
        state.store.as_ref(),
        by,
        at,
        "config.import",
        "tenant",
        before.map(redacted).as_ref(),
        Some(&redacted(export.clone())),
    )
    .await;
    reload(state).await?;
    crate::node::workflows::reload(state).await?;
    state.reload_templates().await?;
    if let Some(bus) = state.bus.get() {
        bus.config_changed("tenant").await;
    }
    Ok(())
}

/// An export for the audit log: the password hashes replaced by `(set)`.
fn redacted(mut export: Export) -> Export {
    for u in &mut export.tenant.users {
        u.password_hash = "(set)".into();
    }
    export
}

/// [`export`], or `None` (for the audit log's before) if it fails.
async fn export_quietly(state: &AppState) -> Option<Export> {
    export(state).await.ok()
}
