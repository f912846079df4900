//! The read half of a WebSocket: frames checked against the protocol's limits and the
//! connection's rate, the handshake deadline and the idle timeout.

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use interact_sdk::limits::{HANDSHAKE_TIMEOUT, IDLE_TIMEOUT};
use interact_sdk::protocol::{
    ClientFrame, CloseCode, DecodeError, ErrorCode, ServerFrame, decode_client,
};

use super::{MAX_MALFORMED, error, fatal};
use crate::node::conn::{Conn, Killed};
use crate::node::hub::Bucket;
use crate::node::state::AppState;

/// What a reader loop should do after a frame.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Flow {
    /// Read the next frame.
    Continue,
    /// Stop reading (the connection is done).
    Stop,
}

/// Whether a read error is the transport refusing a message over its size limit (twice
/// [`MAX_FRAME_BYTES`](interact_sdk::limits::MAX_FRAME_BYTES), see [`upgrade`](super::upgrade)).
fn is_too_big(e: &axum::Error) -> bool {
    // tungstenite's `Error::Capacity` ("Space limit exceeded: Message too long: ...");
    // the WebSocket tests check that such a frame closes the connection with 1009.
    e.to_string().contains("Space limit exceeded")
}

/// Reads frames with the handshake and idle timeouts, the size check and the rate limit,
/// and hands each decoded frame to `on_frame`. Returns when the client goes, breaks a
/// rule, or the connection is killed ([`Conn::kill`]).
pub(super) async fn read_loop<F, Fut>(
    state: &AppState,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    conn: &Conn,
    mut killed: Killed,
    mut handshaken: impl FnMut() -> bool,
    mut on_frame: F,
) where
    F: FnMut(ClientFrame) -> Fut,
    Fut: std::future::Future<Output = Flow>,
{
    let mut bucket = Bucket::new(state.config.limits.frames_per_second, state.instant());
    let mut malformed = 0;
    // The handshake deadline is fixed when the connection opens: no frame moves it, so
    // pings cannot keep a connection that never says hello.
    let opened = state.instant();
    // One timer per connection, not one per frame: a text frame only notes when it came,
    // and the timer, when it fires, checks the deadline that follows from that.
    let mut last = opened;
    let timer = tokio::time::sleep(HANDSHAKE_TIMEOUT);
    tokio::pin!(timer);
    loop {
        let next = tokio::select! {
            biased;
            () = crate::node::conn::stopped(&mut killed) => return,
            next = stream.next() => next,
            () = &mut timer => {
                let (due, on_timeout) = if handshaken() {
                    (last + IDLE_TIMEOUT, CloseCode::IdleTimeout)
                } else {
                    (opened + HANDSHAKE_TIMEOUT, CloseCode::HandshakeTimeout)
                };
                if due > state.instant() {
                    timer.as_mut().reset(due.into());
                    continue;
                }
                state.metrics.reject("timeout");
                conn.close(on_timeout, "timeout");
                return;
            }
        };
        let msg = match next {
            None => return,
            Some(Err(e)) => {
                if is_too_big(&e) {
                    state.metrics.reject("frame_too_large");
                    conn.kill(CloseCode::TooBig, "frame too large");
                }
                return;
            }
            Some(Ok(msg)) => msg,
        };
        let at = state.instant();
        // Every frame counts toward the rate, control frames included.
        if !bucket.take(at) {
            state.metrics.reject("rate_limited");
            fatal(
                conn,
                ErrorCode::RateLimited,
                "too many frames",
                CloseCode::RateLimited,
            );
            return;
        }
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => {
                state.metrics.reject("binary_frame");
                fatal(
                    conn,
                    ErrorCode::Malformed,
                    "binary frames are not part of the protocol",
                    CloseCode::ProtocolViolation,
                );
                return;
            }
            Message::Close(_) => return,
            // Not activity: only protocol frames keep a connection from idling out.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        last = at;
        let frame = match decode_client(text.as_str()) {
            Ok(f) => f,
            Err(e @ DecodeError::TooLarge(_)) => {
                state.metrics.reject("frame_too_large");
                fatal(conn, e.code(), &e.to_string(), CloseCode::TooBig);
                return;
            }
            Err(e) => {
                state.metrics.reject("malformed");
                malformed += 1;
                if malformed > MAX_MALFORMED || !handshaken() {
                    fatal(conn, e.code(), &e.to_string(), CloseCode::ProtocolViolation);
                    return;
                }
                conn.send(&ServerFrame::Error(error(e.code(), e.to_string())));
                continue;
            }
        };
        // The frame's span (traces only, see `crate::telemetry`): a child of the
        // connection's request span, the parent of what handling the frame does. Its
        // type as decoded (not the client's text: no second parse, no name of the
        // client's choosing).
        let span = tracing::debug_span!("ws.frame", frame = frame.type_name());
        // Boxed: a frame's handling is large and short-lived; an idle connection's task
        // should not carry room for it.
        let handled = tracing::Instrument::instrument(Box::pin(on_frame(frame)), span);
        if handled.await == Flow::Stop {
            return;
        }
    }
}
