//! Wire protocol v1: JSON text frames over a WebSocket.
//!
//! Frames are objects tagged by `"type"`; sequenced session events inside them are tagged
//! by `"kind"`, call signals by `"op"`. Unknown fields are ignored and unknown tags decode
//! to an `Unknown` variant, so that an older peer keeps working when a newer one adds
//! something. Size and nesting are checked on the raw text before any parsing
//! ([`decode_client`], [`decode_server`]). docs/protocol.md describes every frame; its
//! examples are checked against these types by the crate's golden tests.

mod call;
mod client;
mod error;
mod event;
mod server;

pub use call::{
    CallMedia, CallSignal, DeviceKind, HangupReason, IceCandidate, MediaState, QualitySummary,
    Spread, is_valid_sdp,
};
pub use client::{AgentHello, ClientFrame, Hello, Presence, ReceiptState, Resume, TransferTarget};
pub use error::{CloseCode, ErrorCode};
pub use event::{AgentInfo, Consent, EndReason, Party, SessionEvent, TargetInfo, VisitorInfo};
pub use server::{ErrorFrame, EventFrame, IceServer, Offer, ServerFrame, SessionInfo};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{FromJson, JsonValue};
use crate::limits::{MAX_FRAME_BYTES, MAX_JSON_DEPTH};

/// The protocol version this crate speaks, announced in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Why a frame could not be decoded. The peer is at fault in every case.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    /// The JSON nests deeper than [`MAX_JSON_DEPTH`].
    #[error("frame nests deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    /// Not valid JSON, or a known frame with missing or ill-typed fields.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// The error code to report to the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge(_) => ErrorCode::FrameTooLarge,
            Self::TooDeep => ErrorCode::TooDeep,
            Self::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

/// Checks size and nesting depth of a frame without parsing it.
pub fn precheck(text: &str) -> Result<(), DecodeError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge(text.len()));
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    precheck(text)?;
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes a frame sent by a client (visitor or agent), enforcing the limits first.
pub fn decode_client(text: &str) -> Result<ClientFrame, DecodeError> {
    decode(text)
}

/// Decodes a frame sent by the server, enforcing the limits first.
pub fn decode_server(text: &str) -> Result<ServerFrame, DecodeError> {
    precheck(text)?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    ServerFrame::from_json(&&value).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes a frame sent by the server from the JSON value `parse` makes of the text
/// (`None`: not JSON), enforcing the limits first: for a [`FrameDecoder`] with a parser
/// of its own.
pub fn decode_server_with<J: JsonValue>(
    text: &str,
    parse: impl FnOnce(&str) -> Option<J>,
) -> Result<ServerFrame, DecodeError> {
    precheck(text)?;
    let value = parse(text).ok_or_else(|| DecodeError::Malformed("not JSON".to_owned()))?;
    ServerFrame::from_json(&value).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// How a client turns received text into a [`ServerFrame`]. The JSON parser is
/// pluggable so that a client in a browser can use the browser's own `JSON.parse` and
/// leave a Rust JSON parser out of its WebAssembly (the widget does, with
/// [`decode_server_with`]).
pub trait FrameDecoder {
    /// Decodes one frame, enforcing the limits first.
    fn decode_server(&self, text: &str) -> Result<ServerFrame, DecodeError>;
}

/// The default [`FrameDecoder`]: [`decode_server`], with serde_json.
#[derive(Clone, Copy, Debug, Default)]
pub struct SerdeJson;

impl FrameDecoder for SerdeJson {
    fn decode_server(&self, text: &str) -> Result<ServerFrame, DecodeError> {
        decode_server(text)
    }
}

/// Encodes a frame as JSON text.
pub fn encode<T: Serialize>(frame: &T) -> String {
    // Serialising these types cannot fail: every map key is a string and no
    // `Serialize` impl returns an error.
    // (The error is not formatted: its `Display` would bring serde_json's table of parse
    // messages into the widget's module for a case that does not happen.)
    serde_json::to_string(frame).unwrap_or_else(|_| unreachable!("frame serialisation failed"))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn precheck_counts_depth_outside_strings_only() {
        assert!(precheck(r#"{"a":"[[[[[[[[[[[[[[[[["}"#).is_ok());
        assert!(precheck(r#"{"a":"\"[[[[[[[[[[[[[[[[[[["}"#).is_ok());
        let deep = format!("{}{}", "[".repeat(9), "]".repeat(9));
        assert_eq!(precheck(&deep), Err(DecodeError::TooDeep));
        let ok = format!("{}{}", "[".repeat(8), "]".repeat(8));
        assert!(precheck(&ok).is_ok());
    }

    #[test]
    fn oversize_frames_are_refused_before_parsing() {
        let big = format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert!(matches!(decode_client(&big), Err(DecodeError::TooLarge(_))));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for text in [
            "",
            "null",
            "[]",
            "{",
            r#"{"type":7}"#,
            r#"{"type":"send"}"#,
            "\u{0}",
        ] {
            let e = decode_client(text).expect_err(text);
            assert_eq!(e.code(), ErrorCode::Malformed);
        }
    }

    #[test]
    fn unknown_types_and_fields_are_tolerated() {
        let f = decode_client(r#"{"type":"teleport","to":"mars"}"#).expect("tolerant");
        assert_eq!(f, ClientFrame::Unknown);
        let f = decode_server(r#"{"type":"pong","nonce":3,"future":{"x":1}}"#).expect("tolerant");
        assert!(matches!(f, ServerFrame::Pong { nonce: 3, .. }));
    }
}
