//! Frames a client (visitor or agent) sends to the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CallMedia, CallSignal};
use crate::config::TargetKind;
use crate::context::ChatContext;
use crate::form::PreChatForm;
use crate::ids::{MessageId, ResumeToken, Seq, SessionId, TargetId};
use crate::json::json_names;

/// A visitor's first frame on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version the client speaks; the server answers with the same or closes
    /// with `unsupported_protocol`.
    pub protocol: u32,
    /// Free-form client name and version, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Present when the visitor already has a session (reconnect, page reload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// What a visitor presents to resume a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The session to resume.
    pub session: SessionId,
    /// The secret issued in `session_started`.
    pub token: ResumeToken,
    /// The highest sequence number the client has processed; the server replays every
    /// event after it.
    pub last_seq: Seq,
}

/// An agent's first frame on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    /// Protocol version the client speaks.
    pub protocol: u32,
    /// The bearer token obtained by signing in.
    pub token: String,
    /// Free-form client name and version, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// For each session the agent already handles, the highest sequence number seen;
    /// the server replays what came after.
    #[serde(default)]
    pub resume: BTreeMap<SessionId, Seq>,
}

/// How far the reader of a session has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptState {
    /// The reader's client has received the events.
    Delivered,
    /// The reader has seen them.
    Read,
}

/// An agent's presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Can be offered new tasks.
    Available,
    /// Signed in but takes no new tasks.
    Busy,
    /// Away from the desk; takes no new tasks.
    Away,
    /// Signed out.
    Offline,
}

/// Where an agent transfers a session: a service or a user, by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransferTarget {
    /// Service or user.
    pub kind: TargetKind,
    /// The service's or user's id.
    pub id: TargetId,
}

/// A frame from a client. Fields named `session` are required on agent connections
/// (an agent handles several sessions) and may be left out on a visitor's (it has one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Visitor handshake.
    Hello(Hello),
    /// Agent handshake.
    AgentHello(AgentHello),
    /// Visitor: start a chat with the pre-chat form. `id` makes it idempotent and becomes
    /// the id of the first message, if the form has one.
    StartChat {
        /// Client-generated id of the request.
        id: MessageId,
        /// The form as entered; the server validates it with the same rules as the UI.
        form: PreChatForm,
        /// Call-first: the session is a call of this medium from the start (routed as a
        /// call task by the service's Audio/Video workflow); absent for a chat.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallMedia>,
        /// What the host page says about the chat (its address, the website's
        /// attributes), within the bounds of [`crate::limits`]; stored in `started`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<ChatContext>,
    },
    /// A chat message. A repeat with the same `id` is acknowledged again, not stored twice.
    Send {
        /// Target session (agents).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// Client-generated message id.
        id: MessageId,
        /// The text, at most 4000 characters.
        text: String,
        /// The sender's message this one comes after, if that one is not acknowledged
        /// yet: the server stores this one only once that one is stored, and otherwise
        /// refuses it as over the rate (`rate_limited`), to be sent again with it. So a
        /// party's messages are stored in the order it wrote them, whichever node or
        /// connection each one reaches first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<MessageId>,
    },
    /// Typing indicator; not stored, not replayed.
    Typing {
        /// Target session (agents).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// Whether the user is typing.
        active: bool,
    },
    /// Delivery or read receipt for the other party's events up to `up_to`.
    Receipt {
        /// Target session (agents).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// Highest sequence number covered.
        up_to: Seq,
        /// Delivered or read.
        state: ReceiptState,
    },
    /// Ask the server to send again every event after `after` (a gap was detected).
    Sync {
        /// Target session (agents).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// Highest sequence number processed.
        after: Seq,
    },
    /// End the session.
    End {
        /// Target session (agents).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// Call signalling, relayed to the other party.
    Call {
        /// Target session (agents).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The signal.
        signal: CallSignal,
    },
    /// Agent: set presence.
    SetPresence {
        /// New presence.
        presence: Presence,
    },
    /// Agent: accept an offered session.
    Accept {
        /// The offered session.
        session: SessionId,
    },
    /// Agent: decline an offered session (it goes to the next agent).
    Decline {
        /// The offered session.
        session: SessionId,
    },
    /// Agent: hand the session to another service or user. The session keeps its
    /// transcript; the agent leaves it (`transferred`, then `agent_left`).
    Transfer {
        /// The session (always required).
        session: SessionId,
        /// Where it goes.
        to: TransferTarget,
    },
    /// Visitor, after the session ended: rate the chat, once per session. Answered
    /// with `done` (same `id`), or an `error` with that `id` (`not_allowed` before the end
    /// or for a second rating, `invalid_field` for a bad score or comment).
    Rate {
        /// Client-generated id of the request.
        id: MessageId,
        /// 1 (bad) to 5 (very good).
        score: u8,
        /// What the visitor adds, at most 1000 characters with something visible.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Visitor, after the session ended: email the transcript to the address of the
    /// pre-chat form, once per session, where the server sends email
    /// (`WidgetConfig::transcript_email`). Answered with `done` or an `error` with the `id`.
    EmailTranscript {
        /// Client-generated id of the request.
        id: MessageId,
    },
    /// Visitor, while no chat can start (`WidgetConfig::can_leave_message`): leave a
    /// message that the target's agents answer by email later. The form is the pre-chat
    /// form's, its `first_message` required. Needs no session; answered with `done` (the
    /// same `id`; a repeat is not stored twice), or an `error` with the `id`
    /// (`invalid_form` with the fields, `not_allowed` where the target takes no messages
    /// or can be chatted with now, `rate_limited`).
    LeaveMessage {
        /// Client-generated id of the request.
        id: MessageId,
        /// Name, email, consent and the message (`first_message`).
        form: PreChatForm,
        /// What the host page says (its address, the website's attributes), as in
        /// `start_chat`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<ChatContext>,
    },
    /// Visitor: who the visitor is, as the website vouches for it (see
    /// [`crate::identity`]). Answered with `history` (same `id`), or an `error` with that
    /// `id`: `identity_refused` for a wrong hash or an embed code without identity
    /// secret, `invalid_field` for an id or hash out of bounds. Chats started on the
    /// connection afterwards are the verified visitor's.
    Identify {
        /// Client-generated id of the request.
        id: MessageId,
        /// The website's id of the visitor, 1 to 128 characters.
        visitor: String,
        /// HMAC-SHA256 of `visitor` under the embed code's identity secret, 64 hex digits.
        hash: String,
    },
    /// Keep-alive; answered with `pong`.
    Ping {
        /// Echoed in the `pong`.
        #[serde(default)]
        nonce: u64,
    },
    /// A frame type this version does not know.
    #[serde(other)]
    Unknown,
}

impl ClientFrame {
    /// The frame's `type` on the wire (`"unknown"` for a type this version does not know).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::AgentHello(_) => "agent_hello",
            Self::StartChat { .. } => "start_chat",
            Self::Send { .. } => "send",
            Self::Typing { .. } => "typing",
            Self::Receipt { .. } => "receipt",
            Self::Sync { .. } => "sync",
            Self::End { .. } => "end",
            Self::Call { .. } => "call",
            Self::SetPresence { .. } => "set_presence",
            Self::Accept { .. } => "accept",
            Self::Decline { .. } => "decline",
            Self::Transfer { .. } => "transfer",
            Self::Rate { .. } => "rate",
            Self::EmailTranscript { .. } => "email_transcript",
            Self::LeaveMessage { .. } => "leave_message",
            Self::Identify { .. } => "identify",
            Self::Ping { .. } => "ping",
            Self::Unknown => "unknown",
        }
    }

    /// The session a frame addresses, if it names one.
    pub fn session(&self) -> Option<&SessionId> {
        match self {
            Self::Send { session, .. }
            | Self::Typing { session, .. }
            | Self::Receipt { session, .. }
            | Self::Sync { session, .. }
            | Self::End { session }
            | Self::Call { session, .. } => session.as_ref(),
            Self::Accept { session }
            | Self::Decline { session }
            | Self::Transfer { session, .. } => Some(session),
            _ => None,
        }
    }
}

json_names!(ReceiptState {
    Delivered = "delivered",
    Read = "read",
});
json_names!(Presence {
    Available = "available",
    Busy = "busy",
    Away = "away",
    Offline = "offline",
});
