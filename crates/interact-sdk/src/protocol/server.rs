//! Frames the server sends to a client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AgentInfo, CallMedia, ErrorCode, Party, Presence, SessionEvent, VisitorInfo};
use crate::config::{Target, WidgetConfig};
use crate::form::FormErrors;
use crate::ids::{MessageId, ResumeToken, Seq, SessionId};
use crate::json::{
    FromJson, JsonError, JsonValue, deserialize_from_json, field, json_struct, optional,
    or_default, tag,
};
use crate::time::UnixMillis;

/// The session a resumed visitor connection belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session.
    pub session: SessionId,
    /// The highest sequence number the session has; every event after the client's
    /// `last_seq` up to this one follows the `welcome`.
    pub head: Seq,
}

/// One sequenced event of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFrame {
    /// The session.
    pub session: SessionId,
    /// Its sequence number: 1, 2, 3, ... without gaps within the session.
    pub seq: Seq,
    /// When the server stored it.
    pub at: UnixMillis,
    /// The event.
    pub event: SessionEvent,
}

/// A chat task offered to an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The session.
    pub session: SessionId,
    /// Who is asking.
    pub visitor: VisitorInfo,
    /// Through which service (or directly the agent).
    pub target: Target,
    /// The first message, if the visitor wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    /// Call-first: the visitor calls with this medium (the agent's side rings); absent
    /// for a chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallMedia>,
    /// Until when the agent can accept, server time.
    pub expires_at: UnixMillis,
}

/// One ICE server for the client's `RTCPeerConnection`, as `RTCIceServer` has it: STUN
/// servers come without credentials, TURN servers with a username and credential that are
/// valid until the frame's `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs of one server.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// An error report. `fatal` errors are followed by a close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// What went wrong.
    pub code: ErrorCode,
    /// A human-readable explanation (English).
    pub message: String,
    /// The id of the client frame the error is about, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    /// The session the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    /// Per-field problems for `invalid_form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<FormErrors>,
    /// Whether the server closes the connection after this frame.
    #[serde(default)]
    pub fatal: bool,
}

impl ErrorFrame {
    /// A non-fatal error with just a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            id: None,
            session: None,
            fields: None,
            fatal: false,
        }
    }

    /// The same error, about `session`.
    pub fn in_session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self
    }

    /// The same error, about the client frame with this `id`.
    pub fn about(mut self, id: MessageId) -> Self {
        self.id = Some(id);
        self
    }

    /// The same error, marked fatal (a close follows).
    pub fn into_fatal(mut self) -> Self {
        self.fatal = true;
        self
    }
}

/// A frame from the server. (Decoded by [`FromJson`]; `Deserialize` delegates to it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    /// Handshake answer.
    Welcome {
        /// The protocol version both sides now speak.
        protocol: u32,
        /// Visitor connections: the widget configuration.
        #[serde(skip_serializing_if = "Option::is_none")]
        config: Option<WidgetConfig>,
        /// Visitor connections that resumed: the session and its head.
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<SessionInfo>,
        /// Agent connections: who signed in.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<AgentInfo>,
        /// Agent connections: the head of every session the agent handles (left out when
        /// it handles none). Only the sessions named in `agent_hello.resume` are replayed;
        /// the client fetches the others with `sync`.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        heads: BTreeMap<SessionId, Seq>,
    },
    /// Visitor: the chat started. Keep `resume_token` to resume after a reload.
    SessionStarted {
        /// The new session.
        session: SessionId,
        /// The `id` of the `start_chat` this answers.
        start_id: MessageId,
        /// The secret for resuming.
        resume_token: ResumeToken,
    },
    /// A sequenced session event.
    Event(EventFrame),
    /// The end of one page of a replay (after a resume, `sync` or `accept`): the events
    /// after the client's position up to `through` were sent before this frame. If
    /// `through` is below `head`, more events exist and the client asks for them with
    /// `sync`.
    Replayed {
        /// The session.
        session: SessionId,
        /// The highest sequence number this page sent (the requested position if none).
        through: Seq,
        /// The session's head when the page was read.
        head: Seq,
    },
    /// The client's message `id` is stored as `seq`.
    Ack {
        /// The session.
        session: SessionId,
        /// The client's message id.
        id: MessageId,
        /// Its sequence number.
        seq: Seq,
    },
    /// The other party started or stopped typing. Not stored.
    Typing {
        /// The session.
        session: SessionId,
        /// Who is typing.
        from: Party,
        /// Whether they are typing.
        active: bool,
    },
    /// Agent: a session is offered.
    Offer(Offer),
    /// Agent: an offer was taken back (timeout, another agent, visitor left).
    OfferWithdrawn {
        /// The session.
        session: SessionId,
    },
    /// Agent: presence as the server now has it.
    Presence {
        /// The presence.
        presence: Presence,
    },
    /// Answer to `ping`, with the head of each session of the connection so that a client
    /// can notice events it missed.
    Pong {
        /// The ping's nonce.
        nonce: u64,
        /// Highest sequence number per session (empty if left out).
        heads: BTreeMap<SessionId, Seq>,
    },
    /// The ICE servers (STUN, TURN with credentials) to use for calls; sent after
    /// `session_started`, after a resuming visitor's `welcome` and after an agent's
    /// `welcome`. The latest list replaces any earlier one.
    IceServers {
        /// The servers; empty means none (host candidates only).
        servers: Vec<IceServer>,
        /// When the TURN credentials expire, server time; left out if none do.
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<UnixMillis>,
    },
    /// Visitor: the after-chat request `id` (`rate`, `email_transcript`) was carried out.
    Done {
        /// The request's id.
        id: MessageId,
    },
    /// Visitor: the answer to `identify`: the identity is verified, and these are the
    /// `message` events of the visitor's earlier conversations through the same embed
    /// code: the newest conversation first, each one's messages in order (at most 20
    /// conversations, each with its last 50 messages, cut further to fit a frame).
    History {
        /// The `identify` request's id.
        id: MessageId,
        /// The messages of the earlier (ended) sessions, as stored; empty if none.
        events: Vec<EventFrame>,
    },
    /// An error.
    Error(ErrorFrame),
    /// A frame type this version does not know.
    Unknown,
}

impl FromJson for ServerFrame {
    fn from_json<J: JsonValue>(f: &J) -> Result<Self, JsonError> {
        Ok(match tag(f, "type")?.as_str() {
            "welcome" => Self::Welcome {
                protocol: field(f, "protocol")?,
                config: optional(f, "config")?,
                session: optional(f, "session")?,
                agent: optional(f, "agent")?,
                heads: or_default(f, "heads")?,
            },
            "session_started" => Self::SessionStarted {
                session: field(f, "session")?,
                start_id: field(f, "start_id")?,
                resume_token: field(f, "resume_token")?,
            },
            "event" => Self::Event(EventFrame::from_json(f)?),
            "replayed" => Self::Replayed {
                session: field(f, "session")?,
                through: field(f, "through")?,
                head: field(f, "head")?,
            },
            "ack" => Self::Ack {
                session: field(f, "session")?,
                id: field(f, "id")?,
                seq: field(f, "seq")?,
            },
            "typing" => Self::Typing {
                session: field(f, "session")?,
                from: field(f, "from")?,
                active: field(f, "active")?,
            },
            "offer" => Self::Offer(Offer::from_json(f)?),
            "offer_withdrawn" => Self::OfferWithdrawn {
                session: field(f, "session")?,
            },
            "presence" => Self::Presence {
                presence: field(f, "presence")?,
            },
            "pong" => Self::Pong {
                nonce: field(f, "nonce")?,
                heads: or_default(f, "heads")?,
            },
            "ice_servers" => Self::IceServers {
                servers: field(f, "servers")?,
                expires_at: optional(f, "expires_at")?,
            },
            "done" => Self::Done {
                id: field(f, "id")?,
            },
            "history" => Self::History {
                id: field(f, "id")?,
                events: or_default(f, "events")?,
            },
            "error" => Self::Error(ErrorFrame::from_json(f)?),
            _ => Self::Unknown,
        })
    }
}

deserialize_from_json!(ServerFrame);

json_struct!(SessionInfo { session, head });
json_struct!(EventFrame {
    session,
    seq,
    at,
    event
});
json_struct!(Offer {
    session,
    visitor,
    target,
    first_message: optional,
    call: optional,
    expires_at,
});
json_struct!(IceServer {
    urls,
    username: optional,
    credential: optional,
});
json_struct!(ErrorFrame {
    code,
    message,
    id: optional,
    session: optional,
    fields: optional,
    fatal: default,
});

impl ServerFrame {
    /// An `error` frame with just a code and message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error(ErrorFrame::new(code, message))
    }
}
