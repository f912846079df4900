//! What agents read about a session beside its transcript: their internal notes (what
//! one agent leaves for the next, after a transfer, or for a colleague of the service)
//! and the visitor's answers to the workflow's Collect Information questions. Neither is
//! a session event, so neither is sent to the visitor.

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

/// A visitor's answer to a Collect Information question of the session's workflow, as
/// kept for the agents: the latest answer for each parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnswerRecord {
    /// The session it is about.
    #[serde(skip)]
    pub session: SessionId,
    /// The parameter the answer was saved to.
    pub name: String,
    /// The question as it was asked in the chat.
    pub question: String,
    /// The value saved.
    pub value: String,
    /// The `seq` of the visitor's message that answered, if known.
    pub seq: Option<u64>,
    /// When it came.
    pub at: UnixMillis,
}
