//! Frames the server sends to a client.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::{AgentInfo, CallMedia, ErrorCode, Party, Presence, SessionEvent, VisitorInfo};
use crate::config::{Target, WidgetConfig};
use crate::form::FormErrors;
use crate::ids::{MessageId, ResumeToken, Seq, SessionId};
use crate::tagged::Tagged;
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

/// A frame from the server. (`Deserialize` is implemented by hand, see `tagged.rs`.)
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

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut f = Tagged::read(deserializer, "type")?;
        Ok(match f.tag() {
            "welcome" => Self::Welcome {
                protocol: f.field("protocol")?,
                config: f.optional("config")?,
                session: f.optional("session")?,
                agent: f.optional("agent")?,
                heads: f.or_default("heads")?,
            },
            "session_started" => Self::SessionStarted {
                session: f.field("session")?,
                start_id: f.field("start_id")?,
                resume_token: f.field("resume_token")?,
            },
            "event" => Self::Event(f.rest()?),
            "replayed" => Self::Replayed {
                session: f.field("session")?,
                through: f.field("through")?,
                head: f.field("head")?,
            },
            "ack" => Self::Ack {
                session: f.field("session")?,
                id: f.field("id")?,
                seq: f.field("seq")?,
            },
            "typing" => Self::Typing {
                session: f.field("session")?,
                from: f.field("from")?,
                active: f.field("active")?,
            },
            "offer" => Self::Offer(f.rest()?),
            "offer_withdrawn" => Self::OfferWithdrawn {
                session: f.field("session")?,
            },
            "presence" => Self::Presence {
                presence: f.field("presence")?,
            },
            "pong" => Self::Pong {
                nonce: f.field("nonce")?,
                heads: f.or_default("heads")?,
            },
            "ice_servers" => Self::IceServers {
                servers: f.field("servers")?,
                expires_at: f.optional("expires_at")?,
            },
            "done" => Self::Done { id: f.field("id")? },
            "history" => Self::History {
                id: f.field("id")?,
                events: f.or_default("events")?,
            },
            "error" => Self::Error(f.rest()?),
            _ => Self::Unknown,
        })
    }
}

impl ServerFrame {
    /// An `error` frame with just a code and message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error(ErrorFrame::new(code, message))
    }
}
