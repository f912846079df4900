//! Limits of protocol v1. Both ends enforce them; docs/protocol.md lists them.

use std::time::Duration;

/// Largest text frame either side accepts, in bytes. Checked before any parsing.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting (objects and arrays) a frame may have. Checked before parsing.
pub const MAX_JSON_DEPTH: usize = 8;
/// Longest chat message, in Unicode scalar values.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest display name, in Unicode scalar values.
pub const MAX_DISPLAY_NAME_CHARS: usize = 80;
/// Longest email address, in bytes.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest local part (before the `@`) of an email address, in bytes (RFC 5321).
pub const MAX_EMAIL_LOCAL_BYTES: usize = 64;
/// Lowest score of an end-of-chat rating (`rate`).
pub const MIN_RATING_SCORE: u8 = 1;
/// Highest score of an end-of-chat rating (`rate`).
pub const MAX_RATING_SCORE: u8 = 5;
/// Longest comment of an end-of-chat rating, in Unicode scalar values.
pub const MAX_RATING_COMMENT_CHARS: usize = 1000;
/// Most attributes a chat's context (`start_chat`'s `context`) may carry.
pub const MAX_ATTRIBUTES: usize = 20;
/// Longest attribute key, in Unicode scalar values.
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 40;
/// Longest attribute value, in Unicode scalar values.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 200;
/// Longest page address in a chat's context, in Unicode scalar values.
pub const MAX_PAGE_URL_CHARS: usize = 2048;
/// Longest visitor id of an identified visitor (`identify`), in Unicode scalar values.
pub const MAX_VISITOR_ID_CHARS: usize = 128;
/// Most earlier conversations a `history` frame carries messages of (the newest).
pub const HISTORY_SESSIONS: usize = 20;
/// Most messages of one earlier conversation a `history` frame carries (the last).
pub const HISTORY_MESSAGES: usize = 50;
/// Longest SDP blob in an offer or answer, in bytes.
pub const MAX_SDP_BYTES: usize = 24 * 1024;
/// Longest ICE candidate line, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Most samples a call's quality summary may count (a day at one sample a second).
pub const MAX_QUALITY_SAMPLES: u32 = 86_400;
/// Largest round-trip time or jitter a quality summary may hold, in milliseconds.
pub const MAX_QUALITY_DELAY_MS: u32 = 60_000;
/// Largest bitrate a quality summary may hold, in kbit/s (10 Gbit/s).
pub const MAX_QUALITY_BITRATE_KBPS: u32 = 10_000_000;
/// Largest video frame width or height a quality summary may hold, in pixels.
pub const MAX_QUALITY_FRAME_PX: u32 = 16_384;
/// Most events one page of a replay (a resume, a `sync` answer, an accepted session's
/// transcript) carries before its `replayed` frame; the client asks for the rest.
pub const REPLAY_PAGE_EVENTS: usize = 256;
/// Most bytes of `event` frames one page of a replay carries (a page always carries at
/// least one event).
pub const REPLAY_PAGE_BYTES: usize = 256 * 1024;

/// How often a client sends `ping` when the link is otherwise quiet.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// A connection that has received nothing for this long is considered dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client waits for `welcome` after opening the transport.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client waits for an `ack` before it sends a message again (same id).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client waits for a missing sequence number before it asks for a `sync`.
pub const GAP_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a typing indicator lasts without a refresh.
pub const TYPING_TTL: Duration = Duration::from_secs(6);
/// How often a client refreshes `typing: true` while the user keeps typing.
pub const TYPING_REFRESH: Duration = Duration::from_secs(3);
/// How often a side in a call sends its quality summary (and once more when the call
/// ends), so that a closed tab still leaves one.
pub const QUALITY_INTERVAL: Duration = Duration::from_secs(30);
/// How long after a call ended the server still stores a side's quality summary for it.
pub const QUALITY_LATE: Duration = Duration::from_secs(60);
/// First reconnect delay; doubled each attempt up to [`RECONNECT_MAX`].
pub const RECONNECT_MIN: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);
