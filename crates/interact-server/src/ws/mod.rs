//! The WebSocket endpoints: `/v1/ws` for visitors and `/v1/agent/ws` for agents.
//!
//! The visitor endpoint checks the embed code and the page's `Origin` before the upgrade
//! (an unknown code gets 404 and a foreign origin 403, with no upgrade: this is what stops
//! cross-site WebSocket hijacking). Every connection then runs the same loop: a handshake
//! within [`HANDSHAKE_TIMEOUT`](interact_sdk::limits::HANDSHAKE_TIMEOUT) of the upgrade (a fixed deadline: no frame moves it),
//! frames checked against the protocol limits, a per-connection rate limit that counts
//! every frame (WebSocket pings too), and an idle timeout. `send` frames are also limited
//! per session and party, over all of that party's connections
//! ([`crate::node::hub::LiveSession::allow_send`]), `sync` frames per connection, and a session's size
//! is capped. What a connection is sent goes through [`crate::node::conn`].

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::limits::MAX_FRAME_BYTES;
use interact_sdk::protocol::{
    AgentInfo, CallMedia, ClientFrame, CloseCode, ErrorCode, ErrorFrame, PROTOCOL_VERSION, Party,
    ServerFrame, SessionInfo,
};
use interact_store::EmbedCodeRecord;
use serde::Deserialize;

use self::read::{Flow, read_loop};
use crate::auth;
use crate::listen::ClientIp;
use crate::node::conn::{Conn, ConnEnds};
use crate::node::hub::{Bucket, LiveSession};
use crate::node::session;
use crate::node::state::AppState;

mod after;
mod agent;
mod read;
mod visitor;
mod write;

pub use agent::agent_ws;
pub use visitor::visitor_ws;

/// Malformed frames tolerated on one connection before it is closed.
const MAX_MALFORMED: u32 = 5;

/// Query of the visitor endpoint.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The embed code.
    pub code: String,
}

fn error(code: ErrorCode, message: impl Into<String>) -> ErrorFrame {
    ErrorFrame::new(code, message)
}

/// Sends a fatal error, then closes.
fn fatal(conn: &Conn, code: ErrorCode, message: &str, close: CloseCode) {
    conn.send(&ServerFrame::Error(error(code, message).into_fatal()));
    conn.close(close, message);
}

/// Sends a connection fresh TURN credentials every half of their lifetime while it is in
/// a call, so that a long call always holds credentials with at least half their life
/// left. `frame` makes the connection's frame now (`None` when it has no call in
/// progress). Never ends; without TURN servers it does nothing.
async fn refresh_ice<F, Fut>(state: &AppState, conn: &Conn, mut frame: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<ServerFrame>>,
{
    if !state.config.ice.servers.iter().any(|s| s.is_turn()) {
        return std::future::pending().await;
    }
    let every = Duration::from_millis(state.config.ice.credential_ttl_secs * 500);
    loop {
        tokio::time::sleep(every).await;
        if let Some(f) = frame().await {
            conn.send(&f);
        }
    }
}

fn upgrade(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    // Twice the protocol limit: frames up to it are refused with a proper error and close
    // code by `read_loop`; beyond it the transport drops the connection.
    // A 4 KiB read buffer instead of tungstenite's 128 KiB: chat frames are small, and
    // the default buffer is most of an idle connection's memory.
    ws.read_buffer_size(4 * 1024)
        .max_message_size(MAX_FRAME_BYTES * 2)
        .max_frame_size(MAX_FRAME_BYTES * 2)
}

/// The two halves of a WebSocket.
type Halves = (
    futures_util::stream::SplitSink<WebSocket, Message>,
    futures_util::stream::SplitStream<WebSocket>,
);

/// Starts a connection's writer task; returns the connection and what its reader
/// watches to stop when the connection is killed.
fn open_conn(
    state: &AppState,
    sink: futures_util::stream::SplitSink<WebSocket, Message>,
) -> (Conn, crate::node::conn::Killed, tokio::task::JoinHandle<()>) {
    let (conn, ends): (Conn, ConnEnds) = state.hub.new_conn();
    let killed = ends.killed.clone();
    let writer = tokio::spawn(write::write_loop(state.clone(), sink, ends));
    (conn, killed, writer)
}

/// Answers a `sync` with a replay, unless the connection asks too often.
fn answer_sync(state: &AppState, conn: &Conn, sid: &SessionId, after: Seq, replays: &mut Bucket) {
    if replays.take(state.instant()) {
        conn.replay(sid, after);
    } else {
        state.metrics.reject("sync_rate_limited");
        conn.send(&ServerFrame::Error(
            error(ErrorCode::RateLimited, "too many sync frames; slow down")
                .in_session(sid.clone()),
        ));
    }
}
