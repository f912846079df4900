//! What the client state machines take in and give out.

use crate::call::CallEvent;
use crate::config::WidgetConfig;
use crate::form::FormErrors;
use crate::ids::{MessageId, SessionId};
use crate::link::LinkState;
use crate::protocol::{AgentInfo, CloseCode, ErrorFrame, EventFrame, IceServer, Offer, Presence};
use crate::time::{Instant, UnixMillis};
use crate::visitor::VisitorState;

/// Something that happened to the transport, reported by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// The transport the machine asked for with [`Output::Connect`] is open.
    Connected,
    /// A text frame arrived.
    Received(&'a str),
    /// The transport closed or failed, with the close code if there was one.
    Disconnected(Option<u16>),
}

/// What the machine asks of its driver. Drain with `poll_output` until
/// [`Output::Timeout`].
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Open a new transport (WebSocket) to the server, dropping any old one, then report
    /// [`Input::Connected`] or [`Input::Disconnected`].
    Connect,
    /// Send this text frame.
    Transmit(String),
    /// Close the transport with this code; report nothing more for it.
    Close(CloseCode),
    /// Tell the application.
    Event(Event),
    /// Nothing more to do until this instant: call `handle_timeout` then (or earlier on new
    /// input).
    Timeout(Instant),
}

/// How far one of the user's own messages has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryState {
    /// Queued locally, not yet stored by the server.
    Pending,
    /// Stored by the server (acknowledged).
    Sent,
    /// Received by the other side's client.
    Delivered,
    /// Seen by the other side.
    Read,
    /// Refused by the server for good (see the `ServerError` that came with it); it is
    /// not sent again.
    Failed,
}

impl DeliveryState {
    /// Its name in lower case (`pending`, `sent`, `delivered`, `read`, `failed`), as the
    /// JavaScript SDK and the widget's markup spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// Something the application shows or acts on. Visitor and agent machines share this
/// type; variants that concern one role never appear on the other.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The connection state changed.
    Link(LinkState),
    /// Visitor: the widget configuration arrived (with every `welcome`).
    Config(WidgetConfig),
    /// Visitor: the session state changed.
    State(VisitorState),
    /// Visitor: the server refused the pre-chat form; show the errors by field.
    FormRejected(FormErrors),
    /// Visitor: the session exists; persist `resume_state()` now if the visitor consented.
    SessionStarted(SessionId),
    /// A sequenced session event, delivered exactly once and in order. Render these to
    /// build the transcript.
    Timeline(Box<EventFrame>),
    /// One of the user's own messages changed delivery state.
    MessageState {
        /// The session (always set; optional for symmetry with the wire).
        session: Option<SessionId>,
        /// The message.
        id: MessageId,
        /// Its new state.
        state: DeliveryState,
    },
    /// The other side started or stopped typing (expires on its own).
    Typing {
        /// The session.
        session: Option<SessionId>,
        /// Whether they are typing.
        active: bool,
    },
    /// Call signalling for the driver.
    Call {
        /// The session.
        session: Option<SessionId>,
        /// What to do.
        event: CallEvent,
    },
    /// The ICE servers for calls arrived or were renewed (fresh TURN credentials): use
    /// them for the next `RTCPeerConnection` (and `setConfiguration` on a live one).
    IceServers {
        /// The servers; empty means none (host candidates only).
        servers: Vec<IceServer>,
        /// When the TURN credentials expire, server time.
        expires_at: Option<UnixMillis>,
    },
    /// Agent: signed in as this agent.
    SignedIn(AgentInfo),
    /// Agent: a session is offered; accept or decline.
    Offered(Offer),
    /// Agent: an offer was withdrawn.
    OfferWithdrawn(SessionId),
    /// Agent: presence confirmed by the server.
    Presence(Presence),
    /// Visitor: the after-chat request with this id (a rating, a transcript by email)
    /// was carried out.
    Done(MessageId),
    /// Visitor: the identity was verified (`identify`); these are the messages of the
    /// visitor's earlier conversations, the newest conversation first, each in order
    /// (render them as text).
    History(Vec<EventFrame>),
    /// The server reported an error about something this side sent.
    ServerError(ErrorFrame),
}
