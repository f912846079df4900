//! Error codes in `error` frames and WebSocket close codes.

use serde::{Deserialize, Serialize};

use crate::json::json_names;

/// The `code` of an `error` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The `hello` named a protocol version the server does not speak. Fatal.
    UnsupportedProtocol,
    /// The frame is not valid JSON or a known frame lacks fields.
    Malformed,
    /// The frame exceeds the size limit.
    FrameTooLarge,
    /// The frame nests too deeply.
    TooDeep,
    /// The frame type is unknown to the server; the frame was ignored.
    UnknownType,
    /// A field has an invalid value (see `message`).
    InvalidField,
    /// The pre-chat form was refused; `fields` says why, per field.
    InvalidForm,
    /// A frame other than `hello` arrived before the handshake. Fatal.
    HandshakeRequired,
    /// The agent token is missing, wrong or expired. Fatal.
    Unauthorized,
    /// The resume token does not match the session (wrong, replayed or expired). Fatal.
    InvalidResume,
    /// The frame names a session the connection may not address.
    UnknownSession,
    /// The frame makes no sense in the session's current state.
    NotAllowed,
    /// Too many frames or sessions; slow down.
    RateLimited,
    /// The session has ended; nothing more can be sent in it.
    SessionEnded,
    /// The server failed; the frame may be sent again.
    Internal,
    /// The session holds as many events or bytes as the server keeps for one session;
    /// the frame was not stored and will not be (only `end`, `sync` and `typing` still
    /// work).
    SessionFull,
    /// `identify` was refused: the hash does not match the visitor id under the embed
    /// code's identity secret, or the embed code has none. The connection stays
    /// anonymous.
    IdentityRefused,
    /// A code this version does not know.
    #[serde(other)]
    Unknown,
}

json_names!(ErrorCode {
    UnsupportedProtocol = "unsupported_protocol",
    Malformed = "malformed",
    FrameTooLarge = "frame_too_large",
    TooDeep = "too_deep",
    UnknownType = "unknown_type",
    InvalidField = "invalid_field",
    InvalidForm = "invalid_form",
    HandshakeRequired = "handshake_required",
    Unauthorized = "unauthorized",
    InvalidResume = "invalid_resume",
    UnknownSession = "unknown_session",
    NotAllowed = "not_allowed",
    RateLimited = "rate_limited",
    SessionEnded = "session_ended",
    Internal = "internal",
    SessionFull = "session_full",
    IdentityRefused = "identity_refused",
    Unknown = "unknown",
} else Unknown);

/// WebSocket close codes used by protocol v1.
///
/// The 4000 range is reserved by RFC 6455 for applications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: the session ended normally.
    Normal,
    /// 1001: the server is shutting down; reconnect and resume.
    GoingAway,
    /// 1008: the connection broke a rule (used when no finer code applies).
    Policy,
    /// 1009: a frame was too large.
    TooBig,
    /// 1011: the server failed; reconnect and resume.
    Internal,
    /// 4000: protocol version not supported; do not retry with the same version.
    UnsupportedProtocol,
    /// 4001: authentication failed (agent token, or resume token); do not retry it.
    Unauthorized,
    /// 4003: protocol violation (frames before `hello`, repeated malformed frames).
    ProtocolViolation,
    /// 4004: no `hello` within the handshake timeout (a stalled network); reconnect.
    HandshakeTimeout,
    /// 4008: rate limit exceeded; reconnect later.
    RateLimited,
    /// 4009: nothing received within the idle timeout.
    IdleTimeout,
    /// 4010: the client did not read what the server sent it fast enough; the server
    /// closed the connection rather than drop frames. Reconnect and resume.
    SlowConsumer,
    /// 4011: another connection resumed this session; this one is closed.
    Replaced,
}

impl CloseCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::GoingAway => 1001,
            Self::Policy => 1008,
            Self::TooBig => 1009,
            Self::Internal => 1011,
            Self::UnsupportedProtocol => 4000,
            Self::Unauthorized => 4001,
            Self::ProtocolViolation => 4003,
            Self::HandshakeTimeout => 4004,
            Self::RateLimited => 4008,
            Self::IdleTimeout => 4009,
            Self::SlowConsumer => 4010,
            Self::Replaced => 4011,
        }
    }

    /// The close code for a numeric value, if protocol v1 defines it.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Whether a client should reconnect (and resume) after this close.
    pub fn should_reconnect(self) -> bool {
        matches!(
            self,
            Self::GoingAway
                | Self::Internal
                | Self::RateLimited
                | Self::IdleTimeout
                | Self::SlowConsumer
                | Self::TooBig
                | Self::HandshakeTimeout
        )
    }

    /// Every close code, in numeric order.
    pub const ALL: [Self; 13] = [
        Self::Normal,
        Self::GoingAway,
        Self::Policy,
        Self::TooBig,
        Self::Internal,
        Self::UnsupportedProtocol,
        Self::Unauthorized,
        Self::ProtocolViolation,
        Self::HandshakeTimeout,
        Self::RateLimited,
        Self::IdleTimeout,
        Self::SlowConsumer,
        Self::Replaced,
    ];
}
