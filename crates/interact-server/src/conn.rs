//! The sending half of a WebSocket connection: a bounded queue of frames in front of one
//! writer task per connection, replays written page by page as the client reads them,
//! and a way to close the connection at once that does not wait in the queue.
//!
//! Nothing sent to a connection is ever dropped silently. A client that does not read
//! fills its queue ([`CONN_QUEUE`] frames); the connection is then closed with 4010
//! ([`CloseCode::SlowConsumer`]) and the client resumes by sequence number. Replays do
//! not go through the queue frame by frame: a [`Conn::replay`] takes one slot, and the
//! writer reads one page of the session ([`crate::session::replay_page`]) when it gets to
//! it, so a replay is paced by the socket rather than by the queue.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::protocol::{CloseCode, ServerFrame, encode};
use tokio::sync::{mpsc, watch};

use crate::state::AppState;

/// Frames queued per connection before it counts as too slow and is closed (4010).
pub const CONN_QUEUE: usize = 512;

/// Most frames written to the socket with one flush.
const MAX_BATCH: usize = 32;

/// How long the writer tries to send a close frame to a client that is not reading (it
/// may read again and learn why it was closed: 4010), before it drops the socket.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection's writer task sends.
#[derive(Debug)]
pub enum Outgoing {
    /// A text frame.
    Frame(Utf8Bytes),
    /// One page of the session's events after `after`, read when the writer gets to
    /// it, followed by a `replayed` frame.
    Replay {
        /// The session.
        session: SessionId,
        /// The client's position.
        after: Seq,
    },
    /// Close with this code and reason, then stop.
    Close(CloseCode, String),
}

/// How a connection was told to stop from outside its own reader.
#[derive(Clone, Debug)]
enum Stop {
    /// Close at once with this code and reason: the writer sends the close ahead of
    /// anything queued ([`Conn::kill`]).
    Now(CloseCode, String),
    /// Stop reading at once; the writer sends what is queued, a close last
    /// ([`Conn::end`]).
    Reading,
}

type Kill = Option<Stop>;

/// What a connection's tasks watch to stop when it is killed ([`Conn::kill`]) or ended
/// ([`Conn::end`]).
#[derive(Clone, Debug)]
pub struct Killed(watch::Receiver<Kill>);

/// The sending half of one WebSocket connection; cheap to clone.
#[derive(Clone, Debug)]
pub struct Conn {
    /// Unique per node.
    pub id: u64,
    tx: mpsc::Sender<Outgoing>,
    kill: Arc<watch::Sender<Kill>>,
}

/// The other ends of a [`Conn`]: what its writer drains, and the signal that closes it.
#[derive(Debug)]
pub struct ConnEnds {
    rx: mpsc::Receiver<Outgoing>,
    /// Changes when the connection must close at once; the reader watches it too.
    pub killed: Killed,
}

impl Conn {
    /// A new connection handle with id `id` and the ends its tasks use.
    pub fn new(id: u64) -> (Self, ConnEnds) {
        let (tx, rx) = mpsc::channel(CONN_QUEUE);
        let (kill, killed) = watch::channel(None);
        let conn = Self {
            id,
            tx,
            kill: Arc::new(kill),
        };
        (
            conn,
            ConnEnds {
                rx,
                killed: Killed(killed),
            },
        )
    }

    /// Queues a frame.
    pub fn send(&self, frame: &ServerFrame) {
        self.send_text(Utf8Bytes::from(encode(frame)));
    }

    /// Queues an already encoded frame (shared, not copied, between connections). A
    /// connection whose queue is full is closed at once with 4010: it is not reading,
    /// and dropping the frame instead would lose it without anyone knowing.
    pub fn send_text(&self, text: Utf8Bytes) {
        self.push(Outgoing::Frame(text));
    }

    /// Queues one page of `session`'s events after `after`, then its `replayed` frame.
    pub fn replay(&self, session: &SessionId, after: Seq) {
        self.push(Outgoing::Replay {
            session: session.clone(),
            after,
        });
    }

    fn push(&self, out: Outgoing) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(out) {
            self.kill(CloseCode::SlowConsumer, "too slow: frames were not read");
        }
    }

    /// Asks the writer to close the connection once what is queued before has gone out
    /// (a fatal error frame first, say). If the queue is full, the connection closes at
    /// once.
    pub fn close(&self, code: CloseCode, reason: &str) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.tx.try_send(Outgoing::Close(code, reason.to_owned()))
        {
            self.kill(code, reason);
        }
    }

    /// Closes the connection now: the writer sends the close frame ahead of anything
    /// queued, and the reader stops. The first stop given wins.
    pub fn kill(&self, code: CloseCode, reason: &str) {
        if self.stop(Stop::Now(code, reason.to_owned())) {
            tracing::info!(
                conn = self.id,
                code = code.code(),
                reason,
                "closing a connection at once"
            );
        }
    }

    /// Ends the connection from outside (a sign-out, an expired sign-in): the reader
    /// stops at once, so nothing more the client sends is handled, while the writer still
    /// sends `last` and then closes with `code`.
    pub fn end(&self, last: &ServerFrame, code: CloseCode, reason: &str) {
        self.send(last);
        self.close(code, reason);
        self.stop(Stop::Reading);
    }

    fn stop(&self, stop: Stop) -> bool {
        self.kill.send_if_modified(|k| {
            if k.is_some() {
                return false;
            }
            *k = Some(stop);
            true
        })
    }
}

/// Waits until the connection must close at once ([`Conn::kill`]); pending forever if it
/// never must. What the writer watches.
async fn killed_now(killed: &mut Killed) -> (CloseCode, String) {
    loop {
        if let Some(Stop::Now(code, reason)) = killed.0.borrow_and_update().clone() {
            return (code, reason);
        }
        if killed.0.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Waits until the connection must stop reading ([`Conn::kill`] or [`Conn::end`]);
/// pending forever if it never must. What the reader watches.
pub async fn stopped(killed: &mut Killed) {
    loop {
        if killed.0.borrow_and_update().is_some() {
            return;
        }
        if killed.0.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

fn close_message(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.code(),
        reason: reason.chars().take(100).collect::<String>().into(),
    }))
}

/// The writer task of a connection: drains its queue to the socket, replays page by
/// page, and closes when told to (in the queue's order) or killed (at once).
pub async fn write_loop(state: AppState, mut sink: SplitSink<WebSocket, Message>, ends: ConnEnds) {
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
                for text in crate::session::replay_page(state, &session, after).await {
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
