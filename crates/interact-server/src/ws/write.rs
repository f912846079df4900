//! The write half of a WebSocket: the task that drains a connection's queue
//! ([`crate::node::conn`]) to the socket, writes replays page by page as the socket takes
//! them, and closes when told to (in the queue's order) or killed (at once).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use interact_sdk::protocol::CloseCode;
use tokio::sync::mpsc;

use crate::node::conn::{ConnEnds, Outgoing, killed_now};
use crate::node::state::AppState;

/// Most frames written to the socket with one flush.
const MAX_BATCH: usize = 32;

/// How long the writer tries to send a close frame to a client that is not reading (it
/// may read again and learn why it was closed: 4010), before it drops the socket.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn close_message(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.code(),
        reason: reason.chars().take(100).collect::<String>().into(),
    }))
}

/// The writer task of a connection: drains its queue to the socket, replays page by
/// page, and closes when told to (in the queue's order) or killed (at once).
pub(super) async fn write_loop(
    state: AppState,
    mut sink: SplitSink<WebSocket, Message>,
    ends: ConnEnds,
) {
    let ConnEnds { mut rx, mut killed } = ends;
    let close = loop {
        let written = tokio::select! {
            biased;
            k = killed_now(&mut killed) => break Some(k),
            w = write_some(&state, &mut sink, &mut rx) => w,
        };
        match written {
            Written::More => {}
            Written::Close(code, reason) => break Some((code, reason)),
            Written::Done => break None,
        }
    };
    if let Some((code, reason)) = close {
        if code == CloseCode::SlowConsumer {
            state.metrics.reject("slow_consumer");
        }
        let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.send(close_message(code, &reason)))
            .await;
    }
    // The close frame is out (or could not go): one more second to shut down cleanly.
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

/// What one round of the writer ended with.
enum Written {
    /// Keep going.
    More,
    /// Send this close frame and stop.
    Close(CloseCode, String),
    /// The queue is closed or the socket failed.
    Done,
}

/// Writes what is queued (up to [`MAX_BATCH`] items) with one flush.
async fn write_some(
    state: &AppState,
    sink: &mut SplitSink<WebSocket, Message>,
    rx: &mut mpsc::Receiver<Outgoing>,
) -> Written {
    let Some(first) = rx.recv().await else {
        return Written::Done;
    };
    let mut next = Some(first);
    let mut batched = 0;
    while let Some(out) = next.take() {
        match out {
            Outgoing::Frame(text) => {
                if sink.feed(Message::Text(text)).await.is_err() {
                    return Written::Done;
                }
            }
            Outgoing::Replay { session, after } => {
                for text in crate::node::session::replay_page(state, &session, after).await {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return Written::Done;
                    }
                }
            }
            Outgoing::Close(code, reason) => {
                let _ = sink.flush().await;
                return Written::Close(code, reason);
            }
        }
        batched += 1;
        if batched < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    if sink.flush().await.is_err() {
        return Written::Done;
    }
    Written::More
}
