//! The reporting part of the store ([`interact_report`] derives the report from what
//! this reads). Nothing here is on the event-append path: reports are derived from the
//! stored sessions and their events when they are read, and the few facts the event log
//! lacks are written apart.

use async_trait::async_trait;
use interact_report::{Outcome, ReportFilter, ReportQuery, ReportRow, SessionReport};
use interact_sdk::ids::SessionId;
use interact_sdk::time::UnixMillis;

use crate::{Store, StoreError};

/// The reporting part of the [`Store`].
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

/// Sessions read from the store per round trip.
const PAGE: usize = 500;

/// The report: the sessions `filter` selects, oldest first, at most `filter.limit`.
pub async fn session_reports(
    store: &dyn Store,
    filter: &ReportFilter,
) -> Result<Vec<SessionReport>, StoreError> {
    let mut query = filter.query();
    let mut out = Vec::new();
    loop {
        // Outcomes are derived, so an outcome filter is applied here, page by page.
        query.limit = if filter.outcomes.is_empty() {
            (filter.limit - out.len()).min(PAGE)
        } else {
            PAGE
        };
        let rows = store.report_rows(&query).await?;
        let full = rows.len() == query.limit;
        query.after = rows.last().map(|r| (r.created_at, r.id.clone()));
        for row in rows {
            let report = SessionReport::new(row);
            let wanted = filter.outcomes.is_empty()
                || report.outcome.is_some_and(|o| filter.outcomes.contains(&o));
            if wanted {
                out.push(report);
                if out.len() == filter.limit {
                    return Ok(out);
                }
            }
        }
        if !full {
            return Ok(out);
        }
    }
}
