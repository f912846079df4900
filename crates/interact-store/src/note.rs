//! Agents' internal notes on a session: what one agent leaves for the next (after a
//! transfer, or for a colleague of the service). Never a session event, so never sent to
//! the visitor.

use interact_sdk::ids::{AgentId, SessionId};
use interact_sdk::time::UnixMillis;
use serde::Serialize;

/// A note as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoteRecord {
    /// Given by the store (ignored when adding); notes of a session are in id order.
    pub id: i64,
    /// The session it is about.
    #[serde(skip)]
    pub session: SessionId,
    /// Who wrote it.
    pub agent: AgentId,
    /// What they wrote.
    pub text: String,
    /// When.
    pub at: UnixMillis,
}
