//! Persistence behind one interface. The embedded default is SQLite ([`SqliteStore`]); the
//! SQL is portable so that a PostgreSQL implementation can follow for several nodes.

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{AgentId, SessionId};
use interact_sdk::protocol::{EndReason, EventFrame};
use interact_sdk::time::UnixMillis;
use serde::Serialize;

use crate::tenant::TargetRef;

/// A storage failure. Callers log it and answer with a generic error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrating the schema failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A unique key already exists.
    #[error("already exists")]
    Conflict,
    /// A referenced row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

/// A Domain Template as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateRecord {
    /// Unique name.
    pub name: String,
    /// Origin patterns.
    pub origins: Vec<String>,
}

/// An embed code as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmbedCodeRecord {
    /// The code.
    pub code: EmbedCode,
    /// What it points at.
    pub target: TargetRef,
    /// The Domain Template it is bound to.
    pub template: String,
    /// When it was made.
    pub created_at: UnixMillis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixMillis>,
}

/// A session as stored (its events are stored apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session.
    pub id: SessionId,
    /// The embed code it came through.
    pub embed_code: EmbedCode,
    /// The target.
    pub target: TargetRef,
    /// The `start_chat` id, for idempotent starts.
    pub start_id: String,
    /// SHA-256 (hex) of the resume token.
    pub token_hash: String,
    /// Display name from the form.
    pub visitor_name: String,
    /// Email from the form.
    pub visitor_email: String,
    /// Consent receipt: policy version.
    pub consent_version: String,
    /// Consent receipt: time.
    pub consent_at: UnixMillis,
    /// The page origin the chat came from.
    pub origin: String,
    /// The agent who took it.
    pub agent_id: Option<AgentId>,
    /// Creation time.
    pub created_at: UnixMillis,
    /// End time and reason.
    pub ended: Option<(UnixMillis, EndReason)>,
}

/// Everything the server keeps.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Creates or replaces a Domain Template.
    async fn put_template(&self, t: &TemplateRecord, at: UnixMillis) -> Result<(), StoreError>;
    /// All Domain Templates, by name.
    async fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError>;
    /// Deletes a template that no live embed code uses; `Ok(false)` if absent.
    async fn delete_template(&self, name: &str) -> Result<bool, StoreError>;

    /// Stores a new embed code.
    async fn create_embed_code(&self, r: &EmbedCodeRecord) -> Result<(), StoreError>;
    /// One embed code, revoked or not.
    async fn embed_code(&self, code: &EmbedCode) -> Result<Option<EmbedCodeRecord>, StoreError>;
    /// All embed codes.
    async fn embed_codes(&self) -> Result<Vec<EmbedCodeRecord>, StoreError>;
    /// Revokes a code; `Ok(false)` if unknown or already revoked.
    async fn revoke_embed_code(&self, code: &EmbedCode, at: UnixMillis)
    -> Result<bool, StoreError>;

    /// Creates a session with its first events, atomically.
    async fn create_session(
        &self,
        s: &SessionRecord,
        events: &[EventFrame],
    ) -> Result<(), StoreError>;
    /// Appends events to a session, atomically; records the end if one is among them.
    async fn append_events(
        &self,
        session: &SessionId,
        events: &[EventFrame],
    ) -> Result<(), StoreError>;
    /// Records the agent who took a session.
    async fn set_session_agent(
        &self,
        session: &SessionId,
        agent: &AgentId,
    ) -> Result<(), StoreError>;
    /// One session.
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError>;
    /// The session started with `start_id` through `code`, if any.
    async fn session_by_start(
        &self,
        code: &EmbedCode,
        start_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Every event of a session, in order.
    async fn events(&self, id: &SessionId) -> Result<Vec<EventFrame>, StoreError>;
    /// Sessions that have not ended (to restore after a restart).
    async fn open_sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;

    /// Stores an agent sign-in token (by hash).
    async fn put_agent_token(
        &self,
        hash: &str,
        user: &str,
        at: UnixMillis,
        expires: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The user of a token that has not expired at `now`.
    async fn agent_token(&self, hash: &str, now: UnixMillis) -> Result<Option<String>, StoreError>;
    /// Removes a token (sign-out).
    async fn delete_agent_token(&self, hash: &str) -> Result<(), StoreError>;
}
