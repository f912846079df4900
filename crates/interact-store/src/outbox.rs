//! Messages to send on an outside channel (WhatsApp through Twilio): a durable outbox.
//!
//! A session message an agent or the service writes in a WhatsApp session is stored as
//! one or more outbound pieces (a long text is cut to what the provider takes), keyed by
//! the session, the message's id and the piece's number, so storing the same message
//! again changes nothing. Any node sends them: it claims a piece first
//! ([`Store::claim_outbound`](crate::Store::claim_outbound)), and only the earliest
//! unfinished piece of a session can be claimed, so a session's messages leave in the
//! order they were written, each after the one before it was accepted (or given up).

use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::time::UnixMillis;
use serde::Serialize;

/// A piece of a message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutbound {
    /// The session.
    pub session: SessionId,
    /// The session message's id.
    pub message: String,
    /// The piece's number in the message (0 for the first).
    pub part: u32,
    /// The sequence number of the message's event in the session.
    pub seq: Seq,
    /// The connector that sends it (the service's id).
    pub connector: String,
    /// The recipient's address (`whatsapp:+...`).
    pub to: String,
    /// The text.
    pub body: String,
    /// When it was written (and first due).
    pub at: UnixMillis,
}

/// Where an outbound piece is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundState {
    /// Not yet accepted by the provider: due at `next_at`.
    Pending,
    /// Accepted (the provider gave it an id); on its way.
    Sent,
    /// On the recipient's device.
    Delivered,
    /// Read by the recipient.
    Read,
    /// Given up, or the provider could not deliver it (`error` says why).
    Failed,
}

impl OutboundState {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// An outbound piece as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboundRecord {
    /// Its number (assigned by the store, in the order pieces were stored).
    pub id: i64,
    /// The session.
    pub session: SessionId,
    /// The session message's id.
    pub message: String,
    /// The piece's number in the message.
    pub part: u32,
    /// The sequence number of the message's event.
    pub seq: Seq,
    /// The connector (service id).
    pub connector: String,
    /// The recipient.
    pub to: String,
    /// The text.
    pub body: String,
    /// When it was written.
    pub created_at: UnixMillis,
    /// Attempts at sending so far.
    pub attempts: u32,
    /// When it is due (again), while pending.
    pub next_at: Option<UnixMillis>,
    /// Where it is.
    pub state: OutboundState,
    /// The provider's id for it (Twilio's `SM...`), once known.
    pub sid: Option<String>,
    /// Whether the last attempt may have created it at the provider (an answer lost, a
    /// 5xx): look for it there before sending again.
    pub uncertain: bool,
    /// Why the last attempt failed, or why it was not delivered.
    pub error: Option<String>,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

/// A change to an outbound piece: after an attempt at sending it, or a status report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundUpdate {
    /// When.
    pub at: UnixMillis,
    /// Whether an attempt at sending was made (counted in `attempts`).
    pub attempted: bool,
    /// Its state now.
    pub state: OutboundState,
    /// The provider's id, if known now (a known one is kept otherwise).
    pub sid: Option<String>,
    /// When to try again, while pending.
    pub next_at: Option<UnixMillis>,
    /// Whether the provider may have it already.
    pub uncertain: bool,
    /// What went wrong, if anything.
    pub error: Option<String>,
}
