//! What the admin's integrations keep: the audit log of admin changes, webhooks and the
//! log of their deliveries (a durable outbox: a delivery is stored with the change that
//! causes it, and any node sends it, claiming it first).

use interact_sdk::time::UnixMillis;
use serde::Serialize;

/// One admin change, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Its number, in the order entries were stored (assigned by the store: 0 in a new
    /// entry).
    pub id: i64,
    /// When.
    pub at: UnixMillis,
    /// Who (the admin's name).
    pub actor: String,
    /// What was done, e.g. `template.put`, `embed_code.revoke`.
    pub action: String,
    /// What it was done to, e.g. the template's name.
    pub target: String,
    /// The target before the change, as JSON (`None`: it did not exist).
    pub before: Option<String>,
    /// The target after the change, as JSON (`None`: it no longer exists).
    pub after: Option<String>,
}

/// A webhook: where a tenant's events are posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebhookRecord {
    /// Unique id.
    pub id: String,
    /// The `http://` or `https://` URL posted to.
    pub url: String,
    /// The secret the bodies are signed with (HMAC-SHA256). Never shown after creation.
    #[serde(skip)]
    pub secret: String,
    /// The event types it receives (e.g. `session.started`), in order, no repeats.
    pub events: Vec<String>,
    /// When it was made.
    pub created_at: UnixMillis,
}

/// A delivery to store: one event for one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The webhook.
    pub webhook: String,
    /// The event type.
    pub event: String,
    /// The body to post (JSON).
    pub body: String,
    /// When it was made (and first due).
    pub at: UnixMillis,
}

/// A delivery as stored: its body and what became of it so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    /// Its number (assigned by the store, in the order deliveries were stored).
    pub id: i64,
    /// The webhook.
    pub webhook: String,
    /// The event type.
    pub event: String,
    /// The body (JSON).
    pub body: String,
    /// When it was made.
    pub created_at: UnixMillis,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is due (again); `None` once it is done (delivered, or given up).
    pub next_at: Option<UnixMillis>,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// What went wrong in the last attempt, if it failed.
    pub last_error: Option<String>,
    /// When it was delivered (a 2xx answer).
    pub delivered_at: Option<UnixMillis>,
}

/// What an attempt at a delivery came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// When it was made.
    pub at: UnixMillis,
    /// The HTTP status, if there was an answer.
    pub status: Option<u16>,
    /// What went wrong, if it did.
    pub error: Option<String>,
    /// Delivered (a 2xx answer).
    pub delivered: bool,
    /// When to try again; `None`: no more attempts (delivered, or given up).
    pub next_at: Option<UnixMillis>,
}

/// One version of a workflow: its definition as the admin wrote it (the TOML of one
/// `[[workflow]]` table), named by the workflow's fingerprint. Versions are kept: a
/// session's run goes on with the version it started with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkflowVersion {
    /// The workflow's name.
    pub name: String,
    /// The fingerprint of its steps (`interact_workflow::Workflow::fingerprint`).
    pub fingerprint: String,
    /// The definition (TOML).
    pub definition: String,
    /// When this version was first stored.
    pub created_at: UnixMillis,
}

/// One item of a tenant's configuration as the administration stores it: a service, a
/// user or a set of opening hours, as a JSON document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigItem {
    /// What it is: [`ConfigItem::SERVICE`], [`ConfigItem::USER`] or
    /// [`ConfigItem::OPENING_HOURS`].
    pub kind: String,
    /// Its id (unique within its kind).
    pub name: String,
    /// The item, as JSON.
    pub body: String,
    /// When it was last written.
    pub updated_at: UnixMillis,
}

impl ConfigItem {
    /// The kind of a service.
    pub const SERVICE: &'static str = "service";
    /// The kind of a user.
    pub const USER: &'static str = "user";
    /// The kind of a set of opening hours.
    pub const OPENING_HOURS: &'static str = "opening_hours";
}
