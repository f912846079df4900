//! The sending half of a WebSocket connection: a bounded queue of frames in front of one
//! writer task per connection, replays written page by page as the client reads them,
//! and a way to close the connection at once that does not wait in the queue.
//!
//! Nothing sent to a connection is ever dropped silently. A client that does not read
//! fills its queue ([`CONN_QUEUE`] frames); the connection is then closed with 4010
//! ([`CloseCode::SlowConsumer`]) and the client resumes by sequence number. Replays do
//! not go through the queue frame by frame: a [`Conn::replay`] takes one slot, and the
//! writer ([`crate::ws`]) reads one page of the session
//! ([`crate::node::session::replay_page`]) when it gets to it, so a replay is paced by the
//! socket rather than by the queue.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::protocol::{CloseCode, ServerFrame, encode};
use tokio::sync::{mpsc, watch};

/// Frames queued per connection before it counts as too slow and is closed (4010).
pub const CONN_QUEUE: usize = 512;

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
    /// What the writer drains.
    pub rx: mpsc::Receiver<Outgoing>,
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
pub async fn killed_now(killed: &mut Killed) -> (CloseCode, String) {
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
