//! What the store keeps and reads for reporting ([`crate::report`]). Nothing here is on
//! the event-append path: reports are derived from the stored sessions and their events
//! when they are read, and the few facts the event log lacks are written apart.

use async_trait::async_trait;
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::SessionEvent;
use interact_sdk::time::UnixMillis;

use super::StoreError;
use crate::report::{Outcome, TargetKind};
use crate::tenant::TargetRef;

/// Which sessions [`ReportStore::report_rows`] reads. Every filter given narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Only service sessions, or only direct user contacts.
    pub kind: Option<TargetKind>,
    /// Only sessions for this service.
    pub service: Option<String>,
    /// Only direct contacts with this user.
    pub user: Option<String>,
    /// Created at or after.
    pub from: Option<UnixMillis>,
    /// Created before.
    pub to: Option<UnixMillis>,
    /// Only sessions after this one in report order (`created_at`, then id): paging.
    pub after: Option<(UnixMillis, SessionId)>,
    /// At most this many.
    pub limit: usize,
}

/// A stored session with what its report is derived from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The session.
    pub id: SessionId,
    /// The service or user contacted.
    pub target: TargetRef,
    /// Creation time.
    pub created_at: UnixMillis,
    /// When it was first offered to an agent.
    pub offered_at: Option<UnixMillis>,
    /// How many offers were made.
    pub offers: u64,
    /// An outcome recorded with [`ReportStore::record_outcome`].
    pub recorded_outcome: Option<Outcome>,
    /// Its lifecycle events in order (`queued`, `agent_joined`, `agent_left`, `ended`;
    /// others may be included and are ignored).
    pub events: Vec<(UnixMillis, SessionEvent)>,
    /// Its workflow path.
    pub workflow_path: Vec<String>,
}

/// The reporting part of the [`Store`](super::Store).
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Records an offer of the session to an agent at `at`: the first offer's time is
    /// kept and offers are counted.
    async fn record_offer(&self, session: &SessionId, at: UnixMillis) -> Result<(), StoreError>;

    /// Records the session's outcome, which then overrides the one derived from its events
    /// (for what the log cannot show: a workflow's Cancel Task, a workflow that became
    /// invalid, a transfer to another service). The last recording wins.
    async fn record_outcome(&self, session: &SessionId, outcome: Outcome)
    -> Result<(), StoreError>;

    /// Appends a step (the label of a workflow activity) to the session's workflow path.
    async fn record_workflow_step(
        &self,
        session: &SessionId,
        at: UnixMillis,
        label: &str,
    ) -> Result<(), StoreError>;

    /// The sessions `query` selects, ordered by `created_at` and then id.
    async fn report_rows(&self, query: &ReportQuery) -> Result<Vec<ReportRow>, StoreError>;
}
