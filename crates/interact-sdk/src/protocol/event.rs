//! Sequenced session events: stored by the server, numbered, replayed on resume.

use serde::{Deserialize, Serialize};

use super::{CallMedia, CallSignal, ReceiptState};
use crate::config::{Target, TargetKind};
use crate::context::ChatContext;
use crate::ids::{AgentId, AttachmentId, MessageId, Seq, TargetId};
use crate::json::{
    FromJson, JsonError, JsonValue, deserialize_from_json, field, json_names, json_struct,
    optional, tag,
};
use crate::time::UnixMillis;

/// Who caused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The website visitor.
    Visitor,
    /// The agent handling the session.
    Agent,
    /// The server (workflow messages, timeouts).
    System,
}

/// The visitor as the agent sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorInfo {
    /// Display name from the pre-chat form.
    pub display_name: String,
    /// Email address from the pre-chat form (empty where the channel has none).
    pub email: String,
    /// How the visitor came, where it is not the widget: `whatsapp`. Absent for the
    /// widget (and in sessions stored before channels existed); a client shows a channel
    /// it does not know as it would the widget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The visitor's phone number (E.164, e.g. `+447700900123`) where the channel has one
    /// (WhatsApp): shown instead of the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The website's id of the visitor, where the website vouched for it (`identify`
    /// with a valid hash): the console shows the visitor as verified. Absent for
    /// anonymous visitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_id: Option<String>,
}

/// The receipt of the visitor's privacy consent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The policy version consented to.
    pub policy_version: String,
    /// When the consent was given (server time).
    pub at: UnixMillis,
}

/// An agent as the visitor sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent's id.
    pub id: AgentId,
    /// The name shown to the visitor.
    pub display_name: String,
}

/// A service or user a session was transferred from or to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Service or user.
    pub kind: TargetKind,
    /// The service's or user's id.
    pub id: TargetId,
    /// Its display name.
    pub display_name: String,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// The visitor ended the chat.
    VisitorEnded,
    /// The agent ended the chat.
    AgentEnded,
    /// No agent could take the chat.
    NoAgent,
    /// The target is outside its opening hours.
    Closed,
    /// Nothing happened for too long.
    IdleTimeout,
    /// The workflow disconnected the session.
    Workflow,
    /// The session failed (for example its workflow became invalid).
    Failed,
    /// A reason this version does not know.
    #[serde(other)]
    Other,
}

/// One sequenced event of a session, tagged by `"kind"`. (Decoded by [`FromJson`];
/// `Deserialize` delegates to it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionEvent {
    /// The session was created from the pre-chat form (always sequence number 1).
    Started {
        /// Who the visitor is.
        visitor: VisitorInfo,
        /// The consent receipt.
        consent: Consent,
        /// The service or user contacted.
        target: Target,
        /// Call-first: the visitor asked for a call of this medium from the start (the
        /// session is routed as a call task); absent for a chat.
        #[serde(skip_serializing_if = "Option::is_none")]
        call: Option<CallMedia>,
        /// The page the chat was started on and the website's attributes, as the
        /// visitor's `start_chat` sent them (absent when it sent none). Boxed: rare and
        /// large beside the other events.
        #[serde(skip_serializing_if = "Option::is_none")]
        context: Option<Box<ChatContext>>,
    },
    /// A chat message.
    Message {
        /// The sender's message id.
        id: MessageId,
        /// Who sent it.
        from: Party,
        /// Display name of the sender (agent or system messages).
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        /// The text; always shown as text, never interpreted as markup.
        text: String,
    },
    /// The session waits in the queue at `position` (1 = next).
    Queued {
        /// Position in the queue.
        position: u32,
    },
    /// An agent took the session.
    AgentJoined {
        /// The agent.
        agent: AgentInfo,
    },
    /// The agent left (transfer); another may join.
    AgentLeft {
        /// The agent.
        agent: AgentInfo,
    },
    /// A file one party sent (an image or a PDF, uploaded over HTTP: docs/protocol.md
    /// §2.6). Its bytes are fetched with the party's credentials from
    /// `/v1/sessions/{session}/attachments/{id}`.
    Attachment {
        /// The file's id.
        id: AttachmentId,
        /// Who sent it.
        from: Party,
        /// Display name of the sender (agents).
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        /// The file's name, cleaned by the server (no path, no control characters); shown
        /// as text only.
        name: String,
        /// Its type as the server found it in the content: `image/png`, `image/jpeg`,
        /// `image/gif`, `image/webp` or `application/pdf`.
        mime: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The session was handed to another service or user (by its agent, or by its
    /// workflow's Transfer). An agent's transfer is followed by its `agent_left`.
    Transferred {
        /// The agent who transferred it; absent when the session's workflow did.
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<AgentInfo>,
        /// The service or user it was for until now.
        from: TargetInfo,
        /// The service or user it is for from now on.
        to: TargetInfo,
    },
    /// The other party received or read events up to `up_to`.
    Receipt {
        /// Who sent the receipt.
        by: Party,
        /// Highest sequence number covered.
        up_to: Seq,
        /// Delivered or read.
        state: ReceiptState,
    },
    /// A message the server could not pass on to the other party's channel (a WhatsApp
    /// message Twilio did not deliver, a reply outside WhatsApp's 24-hour window): it is
    /// stored, and the recipient never got it.
    Undelivered {
        /// The message's id (its sender's).
        message: MessageId,
        /// Who sent it.
        from: Party,
        /// Why, in words for an agent.
        reason: String,
    },
    /// Call signalling from one party to the other.
    Call {
        /// Who sent it.
        from: Party,
        /// The signal.
        signal: CallSignal,
    },
    /// The session ended; no event follows.
    Ended {
        /// Why.
        reason: EndReason,
    },
    /// An event this version does not know. It still takes its sequence number.
    Unknown,
}

impl FromJson for SessionEvent {
    fn from_json<J: JsonValue>(f: &J) -> Result<Self, JsonError> {
        Ok(match tag(f, "kind")?.as_str() {
            "started" => Self::Started {
                visitor: field(f, "visitor")?,
                consent: field(f, "consent")?,
                target: field(f, "target")?,
                call: optional(f, "call")?,
                context: optional(f, "context")?,
            },
            "message" => Self::Message {
                id: field(f, "id")?,
                from: field(f, "from")?,
                author: optional(f, "author")?,
                text: field(f, "text")?,
            },
            "attachment" => Self::Attachment {
                id: field(f, "id")?,
                from: field(f, "from")?,
                author: optional(f, "author")?,
                name: field(f, "name")?,
                mime: field(f, "mime")?,
                size: field(f, "size")?,
            },
            "queued" => Self::Queued {
                position: field(f, "position")?,
            },
            "agent_joined" => Self::AgentJoined {
                agent: field(f, "agent")?,
            },
            "agent_left" => Self::AgentLeft {
                agent: field(f, "agent")?,
            },
            "transferred" => Self::Transferred {
                by: optional(f, "by")?,
                from: field(f, "from")?,
                to: field(f, "to")?,
            },
            "receipt" => Self::Receipt {
                by: field(f, "by")?,
                up_to: field(f, "up_to")?,
                state: field(f, "state")?,
            },
            "undelivered" => Self::Undelivered {
                message: field(f, "message")?,
                from: field(f, "from")?,
                reason: field(f, "reason")?,
            },
            "call" => Self::Call {
                from: field(f, "from")?,
                signal: field(f, "signal")?,
            },
            "ended" => Self::Ended {
                reason: field(f, "reason")?,
            },
            _ => Self::Unknown,
        })
    }
}

deserialize_from_json!(SessionEvent);

json_names!(Party {
    Visitor = "visitor",
    Agent = "agent",
    System = "system",
});
json_struct!(VisitorInfo {
    display_name,
    email,
    channel: optional,
    phone: optional,
    verified_id: optional,
});
json_struct!(Consent { policy_version, at });
json_struct!(AgentInfo { id, display_name });
json_struct!(TargetInfo {
    kind,
    id,
    display_name
});
json_names!(EndReason {
    VisitorEnded = "visitor_ended",
    AgentEnded = "agent_ended",
    NoAgent = "no_agent",
    Closed = "closed",
    IdleTimeout = "idle_timeout",
    Workflow = "workflow",
    Failed = "failed",
    Other = "other",
} else Other);
