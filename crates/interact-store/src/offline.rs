//! Offline messages (protocol §6.14): what a visitor leaves while nobody can chat, kept as
//! an open task of its target until one of the target's agents answers it by email.

use interact_model::TargetRef;
use interact_sdk::context::ChatContext;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::AgentId;
use interact_sdk::time::UnixMillis;
use serde::Serialize;

/// An offline message as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfflineMessageRecord {
    /// The server's id for it (unique).
    pub id: String,
    /// What makes a repeat of the same `leave_message` the same message (unique): the
    /// embed code, the client's request id and the address.
    #[serde(skip)]
    pub request_key: String,
    /// The embed code it came through.
    pub embed_code: EmbedCode,
    /// The service or user it is for.
    pub target: TargetRef,
    /// The name from the form.
    pub visitor_name: String,
    /// Where the answer goes.
    pub visitor_email: String,
    /// The message.
    pub text: String,
    /// Consent receipt: the policy version (the time is `created_at`).
    pub consent_version: String,
    /// The page origin it came from.
    pub origin: String,
    /// What the host page said (its address, the website's attributes).
    pub context: Option<ChatContext>,
    /// When it was left.
    pub created_at: UnixMillis,
    /// The answer, once an agent sent one.
    pub answer: Option<OfflineAnswer>,
}

/// An agent's answer to an offline message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfflineAnswer {
    /// Who answered.
    pub agent: AgentId,
    /// What they wrote (sent by email).
    pub text: String,
    /// When.
    pub at: UnixMillis,
}
