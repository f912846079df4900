//! The WebSocket endpoints: `/v1/ws` for visitors and `/v1/agent/ws` for agents.
//!
//! The visitor endpoint checks the embed code and the page's `Origin` before the upgrade
//! (an unknown code gets 404 and a foreign origin 403, with no upgrade: this is what stops
//! cross-site WebSocket hijacking). Every connection then runs the same loop: a handshake
//! within [`HANDSHAKE_TIMEOUT`] of the upgrade (a fixed deadline: no frame moves it),
//! frames checked against the protocol limits, a per-connection rate limit that counts
//! every frame (WebSocket pings too), and an idle timeout. `send` frames are also limited
//! per session and party, over all of that party's connections
//! ([`crate::hub::Live::allow_send`]), `sync` frames per connection, and a session's size
//! is capped. What a connection is sent goes through [`crate::conn`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::limits::{HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, MAX_FRAME_BYTES};
use interact_sdk::protocol::{
    AgentInfo, CallSignal, ClientFrame, CloseCode, DecodeError, ErrorCode, ErrorFrame,
    PROTOCOL_VERSION, Party, ServerFrame, SessionEvent, SessionInfo, decode_client,
};
use interact_sdk::relay::Effect;
use serde::Deserialize;

use crate::auth;
use crate::conn::{Conn, ConnEnds};
use crate::hub::{Bucket, Live};
use crate::session;
use crate::state::{AppState, ClientIp, now};
use crate::store::EmbedCodeRecord;
use crate::workflow::Input;

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

/// What a reader loop should do after a frame.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Whether a read error is the transport refusing a message over its size limit (twice
/// [`MAX_FRAME_BYTES`], see [`upgrade`]).
fn is_too_big(e: &axum::Error) -> bool {
    // tungstenite's `Error::Capacity` ("Space limit exceeded: Message too long: ...");
    // the WebSocket tests check that such a frame closes the connection with 1009.
    e.to_string().contains("Space limit exceeded")
}

/// Reads frames with the handshake and idle timeouts, the size check and the rate limit,
/// and hands each decoded frame to `on_frame`. Returns when the client goes, breaks a
/// rule, or the connection is killed ([`Conn::kill`]).
async fn read_loop<F, Fut>(
    state: &AppState,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    conn: &Conn,
    mut killed: crate::conn::Killed,
    mut handshaken: impl FnMut() -> bool,
    mut on_frame: F,
) where
    F: FnMut(ClientFrame) -> Fut,
    Fut: std::future::Future<Output = Flow>,
{
    let mut bucket = Bucket::new(state.config.limits.frames_per_second);
    let mut malformed = 0;
    // The handshake deadline is fixed when the connection opens: no frame moves it, so
    // pings cannot keep a connection that never says hello.
    let opened = Instant::now();
    // One timer per connection, not one per frame: a text frame only notes when it came,
    // and the timer, when it fires, checks the deadline that follows from that.
    let mut last = opened;
    let timer = tokio::time::sleep(HANDSHAKE_TIMEOUT);
    tokio::pin!(timer);
    loop {
        let next = tokio::select! {
            biased;
            () = crate::conn::stopped(&mut killed) => return,
            next = stream.next() => next,
            () = &mut timer => {
                let (due, on_timeout) = if handshaken() {
                    (last + IDLE_TIMEOUT, CloseCode::IdleTimeout)
                } else {
                    (opened + HANDSHAKE_TIMEOUT, CloseCode::HandshakeTimeout)
                };
                if due > Instant::now() {
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
        let at = Instant::now();
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
        // Boxed: a frame's handling is large and short-lived; an idle connection's task
        // should not carry room for it.
        if Box::pin(on_frame(frame)).await == Flow::Stop {
            return;
        }
    }
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

/// `GET /v1/ws?code=...`: the visitor's WebSocket.
pub async fn visitor_ws(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let record = match state.admit(&q.code, origin.as_deref()).await {
        Ok((record, _)) => record,
        Err(e) => return e.into_response(),
    };
    let origin = origin.unwrap_or_default();
    upgrade(ws).on_upgrade(move |socket| {
        // Split before the task's future is made, so that it holds the two small halves
        // rather than room for the whole socket as well.
        let socket = socket.split();
        async move {
            state.metrics.connections.inc();
            visitor_conn(&state, socket, record, origin, ip).await;
            state.metrics.connections.dec();
        }
    })
}

#[derive(Debug)]
struct Visitor {
    state: AppState,
    conn: Conn,
    record: EmbedCodeRecord,
    origin: String,
    ip: Option<std::net::IpAddr>,
    hello: bool,
    session: Option<SessionId>,
    /// `sync` frames of this connection.
    replays: Bucket,
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
) -> (Conn, crate::conn::Killed, tokio::task::JoinHandle<()>) {
    let (conn, ends): (Conn, ConnEnds) = state.hub.new_conn();
    let killed = ends.killed.clone();
    let writer = tokio::spawn(crate::conn::write_loop(state.clone(), sink, ends));
    (conn, killed, writer)
}

async fn visitor_conn(
    state: &AppState,
    (sink, stream): Halves,
    record: EmbedCodeRecord,
    origin: String,
    ip: Option<std::net::IpAddr>,
) {
    let (conn, killed, writer) = open_conn(state, sink);
    let v = tokio::sync::Mutex::new(Visitor {
        state: state.clone(),
        conn: conn.clone(),
        record,
        origin,
        ip,
        hello: false,
        session: None,
        replays: Bucket::new(state.config.limits.replays_per_second),
    });
    let hello = std::sync::atomic::AtomicBool::new(false);
    let reader = read_loop(
        state,
        stream,
        &conn,
        killed,
        || hello.load(std::sync::atomic::Ordering::Relaxed),
        |frame| {
            let v = &v;
            let hello = &hello;
            async move {
                let mut v = v.lock().await;
                let flow = v.handle(frame).await;
                hello.store(v.hello, std::sync::atomic::Ordering::Relaxed);
                flow
            }
        },
    );
    let refresh = refresh_ice(state, &conn, || async {
        let session = v.lock().await.session.clone()?;
        visitor_ice(state, &session).await
    });
    tokio::select! {
        () = reader => {}
        () = refresh => {}
    }
    let v = v.into_inner();
    if let Some(s) = &v.session
        && state.hub.detach_visitor(s, conn.id)
    {
        session::visitor_seen(state, s, now()).await;
    }
    drop(v);
    drop(conn);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// The `ice_servers` frame for the visitor of `session`: only while a call is in
/// progress in it (TURN credentials are for calls, not for chats).
async fn visitor_ice(state: &AppState, session: &SessionId) -> Option<ServerFrame> {
    let live = session::get(state, session).await.ok()??;
    if !live.lock().await.log.in_call() {
        return None;
    }
    crate::ice::frame(&state.config.ice, session.as_str(), now())
}

/// Whether `token` resumes `live` for a visitor of embed code `code` at `at`: the token is
/// the session's current one, and the session is within its resume window (see
/// `resume_token_ttl_secs` and `ended_session_grace_secs`).
fn resumable(
    state: &AppState,
    live: &Live,
    code: &interact_sdk::embed::EmbedCode,
    token: &str,
    at: interact_sdk::time::UnixMillis,
) -> bool {
    let limits = &state.config.limits;
    let secs = |s: u64| s.saturating_mul(1000);
    let matches = live.record.embed_code == *code
        && auth::hashes_equal(&auth::token_hash(token), &live.record.token_hash);
    let last_event = live.last_event_at();
    let until = if live.log.is_ended() {
        last_event
            .0
            .saturating_add(secs(limits.ended_session_grace_secs))
    } else if state.hub.visitor_connected(&live.record.id) {
        u64::MAX
    } else {
        let seen = live
            .record
            .visitor_seen_at
            .unwrap_or(live.record.created_at);
        seen.0
            .max(last_event.0)
            .saturating_add(secs(limits.resume_token_ttl_secs))
    };
    matches && at.0 < until
}

impl Visitor {
    fn send(&self, frame: &ServerFrame) {
        self.conn.send(frame);
    }

    fn config(&self) -> Option<interact_sdk::config::WidgetConfig> {
        let availability = self.state.hub.availability(&self.record.target);
        self.state
            .tenant
            .widget_config(&self.record.target, availability)
    }

    /// Sends a non-fatal `internal` error about client frame `id`.
    fn internal(
        &self,
        id: Option<&interact_sdk::ids::MessageId>,
        what: &str,
        e: &dyn std::fmt::Display,
    ) {
        tracing::error!(error = %e, "{what}");
        let mut f = error(ErrorCode::Internal, "the server failed; try again");
        f.id = id.cloned();
        self.send(&ServerFrame::Error(f));
    }

    async fn handle(&mut self, frame: ClientFrame) -> Flow {
        if !self.hello {
            let ClientFrame::Hello(hello) = frame else {
                fatal(
                    &self.conn,
                    ErrorCode::HandshakeRequired,
                    "the first frame must be hello",
                    CloseCode::ProtocolViolation,
                );
                return Flow::Stop;
            };
            if hello.protocol != PROTOCOL_VERSION {
                fatal(
                    &self.conn,
                    ErrorCode::UnsupportedProtocol,
                    "this server speaks protocol 1",
                    CloseCode::UnsupportedProtocol,
                );
                return Flow::Stop;
            }
            self.hello = true;
            return match hello.resume {
                None => {
                    self.send(&ServerFrame::Welcome {
                        protocol: PROTOCOL_VERSION,
                        config: self.config(),
                        session: None,
                        agent: None,
                        heads: Default::default(),
                    });
                    Flow::Continue
                }
                // Rare and large futures are boxed, so that an idle connection's task
                // is sized for its common path.
                Some(r) => Box::pin(self.resume(r)).await,
            };
        }
        match frame {
            ClientFrame::StartChat { id, form } => Box::pin(self.start(id, form)).await,
            ClientFrame::Ping { nonce } => {
                let mut heads = BTreeMap::new();
                if let Some(s) = &self.session
                    && let Ok(Some(live)) = session::get(&self.state, s).await
                {
                    heads.insert(s.clone(), live.lock().await.log.head());
                }
                self.send(&ServerFrame::Pong { nonce, heads });
                Flow::Continue
            }
            ClientFrame::Hello(_) => {
                self.send(&ServerFrame::Error(error(
                    ErrorCode::NotAllowed,
                    "hello was already sent",
                )));
                Flow::Continue
            }
            ClientFrame::Unknown => {
                self.send(&ServerFrame::Error(error(
                    ErrorCode::UnknownType,
                    "unknown frame type; ignored",
                )));
                Flow::Continue
            }
            f @ (ClientFrame::Send { .. }
            | ClientFrame::Typing { .. }
            | ClientFrame::Receipt { .. }
            | ClientFrame::Sync { .. }
            | ClientFrame::End { .. }
            | ClientFrame::Call { .. }) => self.session_frame(f).await,
            _ => {
                self.send(&ServerFrame::Error(error(
                    ErrorCode::NotAllowed,
                    "not a visitor frame",
                )));
                Flow::Continue
            }
        }
    }

    async fn resume(&mut self, r: interact_sdk::protocol::Resume) -> Flow {
        let live = match session::get(&self.state, &r.session).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "loading a session failed");
                fatal(
                    &self.conn,
                    ErrorCode::Internal,
                    "try again later",
                    CloseCode::Internal,
                );
                return Flow::Stop;
            }
        };
        let valid = match &live {
            Some(l) => resumable(
                &self.state,
                &*l.lock().await,
                &self.record.code,
                r.token.expose(),
                now(),
            ),
            None => false,
        };
        let Some(live) = live.filter(|_| valid) else {
            self.state.metrics.reject("invalid_resume");
            fatal(
                &self.conn,
                ErrorCode::InvalidResume,
                "this session cannot be resumed",
                CloseCode::Unauthorized,
            );
            return Flow::Stop;
        };
        self.attach(&r.session);
        let l = live.lock().await;
        self.send(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            config: self.config(),
            session: Some(SessionInfo {
                session: r.session.clone(),
                head: l.log.head(),
            }),
            agent: None,
            heads: Default::default(),
        });
        if l.log.in_call()
            && let Some(f) = crate::ice::frame(&self.state.config.ice, r.session.as_str(), now())
        {
            self.send(&f);
        }
        self.conn.replay(&r.session, r.last_seq);
        Flow::Continue
    }

    async fn start(
        &mut self,
        id: interact_sdk::ids::MessageId,
        form: interact_sdk::form::PreChatForm,
    ) -> Flow {
        let with_id = |mut e: ErrorFrame| {
            e.id = Some(id.clone());
            ServerFrame::Error(e)
        };
        // A repeat (its answer was lost, or the server restarted) gets its session back.
        let key = session::start_key(&self.record.code, &id, self.ip, &form);
        match self.state.store.session_by_start_key(&key).await {
            Ok(Some(existing)) => return self.repeat_start(existing, id).await,
            Ok(None) => {}
            Err(e) => {
                self.internal(Some(&id), "looking up a start id failed", &e);
                return Flow::Continue;
            }
        }
        if self.session.is_some() {
            self.send(&with_id(error(
                ErrorCode::NotAllowed,
                "this connection already has a session",
            )));
            return Flow::Continue;
        }
        let Some(config) = self.config() else {
            fatal(
                &self.conn,
                ErrorCode::Internal,
                "the target is gone",
                CloseCode::Internal,
            );
            return Flow::Stop;
        };
        let valid = match form.validate(&config.privacy.version) {
            Ok(v) => v,
            Err(fields) => {
                self.state.metrics.reject("invalid_form");
                let mut e = error(ErrorCode::InvalidForm, "the form is invalid");
                e.fields = Some(fields);
                self.send(&with_id(e));
                return Flow::Continue;
            }
        };
        if !self
            .state
            .hub
            .allow_session_start(self.ip, self.state.config.limits.sessions_per_minute_per_ip)
        {
            self.state.metrics.reject("session_rate_limited");
            self.send(&with_id(error(
                ErrorCode::RateLimited,
                "too many chats started from this address; wait a minute",
            )));
            return Flow::Continue;
        }
        let created = session::create(
            &self.state,
            &self.record,
            &self.origin,
            id.as_str(),
            key.clone(),
            valid,
        )
        .await;
        match created {
            Ok((sid, token, live)) => {
                self.attach(&sid);
                self.send(&ServerFrame::SessionStarted {
                    session: sid.clone(),
                    start_id: id,
                    resume_token: token,
                });
                for e in live.lock().await.log.events_after(Seq::ZERO) {
                    self.send(&ServerFrame::Event(e.clone()));
                }
                session::dispatch(&self.state).await;
            }
            // The same start raced in on another connection and won: this is a repeat.
            Err(crate::store::StoreError::Conflict) => {
                match self.state.store.session_by_start_key(&key).await {
                    Ok(Some(existing)) => return self.repeat_start(existing, id).await,
                    Ok(None) => self.internal(
                        Some(&id),
                        "a start id conflict without its session",
                        &"gone",
                    ),
                    Err(e) => self.internal(Some(&id), "looking up a start id failed", &e),
                }
            }
            Err(e) => self.internal(Some(&id), "creating a session failed", &e),
        }
        Flow::Continue
    }

    /// Answers a repeated `start_chat` with its session: a fresh resume token (the old one
    /// stops working), then the session's events as a replay.
    async fn repeat_start(
        &mut self,
        existing: crate::store::SessionRecord,
        id: interact_sdk::ids::MessageId,
    ) -> Flow {
        let refuse = |this: &Self, message: &str| {
            this.send(&ServerFrame::Error(
                error(ErrorCode::NotAllowed, message).about(id.clone()),
            ));
            Flow::Continue
        };
        let ttl = self
            .state
            .config
            .limits
            .start_id_ttl_secs
            .saturating_mul(1000);
        if now().0.saturating_sub(existing.created_at.0) > ttl {
            self.state.metrics.reject("start_id_expired");
            return refuse(
                self,
                "this start_chat id is too old to repeat; use a new id",
            );
        }
        if self.session.as_ref().is_some_and(|s| *s != existing.id) {
            return refuse(self, "this connection already has a session");
        }
        let token = auth::random_token();
        let hash = auth::token_hash(&token);
        if let Err(e) = self.state.store.set_token_hash(&existing.id, &hash).await {
            self.internal(Some(&id), "replacing a resume token failed", &e);
            return Flow::Continue;
        }
        // After the store: a copy loaded meanwhile has the new hash already.
        match session::get(&self.state, &existing.id).await {
            Ok(Some(live)) => live.lock().await.record.token_hash = hash,
            Ok(None) => {}
            Err(e) => {
                self.internal(Some(&id), "loading a session failed", &e);
                return Flow::Continue;
            }
        }
        tracing::info!(session = %existing.id, "start_chat repeated; resume token replaced");
        self.attach(&existing.id);
        self.send(&ServerFrame::SessionStarted {
            session: existing.id.clone(),
            start_id: id,
            resume_token: interact_sdk::ids::ResumeToken::new(token),
        });
        self.conn.replay(&existing.id, Seq::ZERO);
        Flow::Continue
    }

    fn attach(&mut self, sid: &SessionId) {
        if let Some(old) = self.state.hub.attach_visitor(sid, self.conn.clone())
            && old.id != self.conn.id
        {
            old.close(CloseCode::Replaced, "resumed elsewhere");
        }
        self.session = Some(sid.clone());
    }

    async fn session_frame(&mut self, frame: ClientFrame) -> Flow {
        let Some(own) = self.session.clone() else {
            let mut e = error(
                ErrorCode::NotAllowed,
                "no session on this connection yet: start a chat first",
            );
            if let ClientFrame::Send { id, .. } = &frame {
                e.id = Some(id.clone());
            }
            self.send(&ServerFrame::Error(e));
            return Flow::Continue;
        };
        if frame.session().is_some_and(|f| *f != own) {
            self.send(&ServerFrame::Error(error(
                ErrorCode::UnknownSession,
                "not the session of this connection",
            )));
            return Flow::Continue;
        }
        if let ClientFrame::Sync { after, .. } = frame {
            answer_sync(&self.state, &self.conn, &own, after, &mut self.replays);
            return Flow::Continue;
        }
        handle_session_frame(&self.state, &own, Party::Visitor, frame, &self.conn).await;
        Flow::Continue
    }
}

/// Answers a `sync` with a replay, unless the connection asks too often.
fn answer_sync(state: &AppState, conn: &Conn, sid: &SessionId, after: Seq, replays: &mut Bucket) {
    if replays.take(Instant::now()) {
        conn.replay(sid, after);
    } else {
        state.metrics.reject("sync_rate_limited");
        conn.send(&ServerFrame::Error(
            error(ErrorCode::RateLimited, "too many sync frames; slow down")
                .in_session(sid.clone()),
        ));
    }
}

/// Whether `frame` of `party` would add an event to the session that `live` holds (a
/// resend of a stored message only gets its `ack` again).
fn adds_event(live: &Live, party: Party, frame: &ClientFrame) -> bool {
    match frame {
        ClientFrame::Send { id, .. } => live.log.message_seq(party, id).is_none(),
        ClientFrame::Receipt { .. } | ClientFrame::Call { .. } => true,
        _ => false,
    }
}

/// Runs a session frame through the session's log and carries out the effects.
async fn handle_session_frame(
    state: &AppState,
    sid: &SessionId,
    party: Party,
    frame: ClientFrame,
    conn: &Conn,
) {
    let live = match session::get(state, sid).await {
        Ok(Some(live)) => live,
        Ok(None) => {
            let mut e = error(ErrorCode::UnknownSession, "no such session");
            e.session = Some(sid.clone());
            conn.send(&ServerFrame::Error(e));
            return;
        }
        Err(e) => {
            tracing::error!(session = %sid, error = %e, "loading a session failed");
            conn.send(&ServerFrame::Error(
                error(ErrorCode::Internal, "try again later").in_session(sid.clone()),
            ));
            return;
        }
    };
    // Ending the session or a call may free the agent for waiting tasks.
    let ends = matches!(
        frame,
        ClientFrame::End { .. }
            | ClientFrame::Call {
                signal: CallSignal::Hangup { .. },
                ..
            }
    );
    let msg_id = match &frame {
        ClientFrame::Send { id, .. } => Some(id.clone()),
        _ => None,
    };
    let refuse = |code, message: &str| {
        let mut e = error(code, message).in_session(sid.clone());
        e.id = msg_id.clone();
        conn.send(&ServerFrame::Error(e));
    };
    let mut fed = false;
    {
        let mut l = live.lock().await;
        l.touched = Instant::now();
        let limits = &state.config.limits;
        let (events, bytes) = l.size();
        if adds_event(&l, party, &frame)
            && !l.log.is_ended()
            && (events >= limits.max_events_per_session || bytes >= limits.max_bytes_per_session)
        {
            state.metrics.reject("session_full");
            refuse(
                ErrorCode::SessionFull,
                "this session holds as much as the server keeps for one session",
            );
            return;
        }
        // Messages are limited per session and party as well as per connection, so that
        // reconnecting (or a second tab) does not buy a fresh burst; a resend of a stored
        // message is only acknowledged again and costs nothing.
        if let Some(id) = &msg_id
            && l.log.message_seq(party, id).is_none()
            && !l.allow_send(party, id, Instant::now())
        {
            state.metrics.reject("message_rate_limited");
            refuse(
                ErrorCode::RateLimited,
                "too many messages in this session; send it again after a while",
            );
            return;
        }
        let head = l.log.head();
        match l.log.handle(now(), party, &frame) {
            Err(e) => {
                state.metrics.reject("session_frame_refused");
                conn.send(&ServerFrame::Error(e));
            }
            Ok(effects) => {
                // What the session's workflow run (if any) learns from this frame.
                let input = effects.iter().find_map(|e| match e {
                    Effect::Append(ev) => match &ev.event {
                        SessionEvent::Message {
                            from: Party::Visitor,
                            text,
                            ..
                        } => Some(Input::VisitorMessage(text.clone())),
                        SessionEvent::Ended { .. } if party == Party::Visitor => {
                            Some(Input::VisitorLeft)
                        }
                        _ => None,
                    },
                    _ => None,
                });
                let input = input.filter(|_| l.run.is_some());
                if input.as_ref() == Some(&Input::VisitorLeft) {
                    // The run must hear of it before the session's end drops it.
                    crate::drive::feed(state, &live, &mut l, Input::VisitorLeft).await;
                }
                let stored = session::apply(state, &mut l, head, effects, party, Some(conn)).await;
                if stored && let Some(input @ Input::VisitorMessage(_)) = input {
                    crate::drive::feed(state, &live, &mut l, input).await;
                    fed = true;
                }
            }
        }
    }
    if ends || fed {
        session::dispatch(state).await;
    }
}

/// `GET /v1/agent/ws`: an agent's WebSocket, authenticated by the token in `agent_hello`.
pub async fn agent_ws(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    upgrade(ws).on_upgrade(move |socket| async move {
        state.metrics.connections.inc();
        agent_conn(&state, socket).await;
        state.metrics.connections.dec();
    })
}

/// An agent signed in on a connection.
#[derive(Clone, Debug)]
struct SignedIn {
    info: AgentInfo,
    /// Closes the connection when the sign-in token expires.
    expiry: tokio::task::AbortHandle,
}

async fn agent_conn(state: &AppState, socket: WebSocket) {
    let (sink, stream) = socket.split();
    let (conn, killed, writer) = open_conn(state, sink);
    let me: std::sync::Mutex<Option<SignedIn>> = std::sync::Mutex::new(None);
    let replays = std::sync::Mutex::new(Bucket::new(state.config.limits.replays_per_second));
    let signed_in = || me.lock().map(|m| m.is_some()).unwrap_or(false);
    let reader = read_loop(state, stream, &conn, killed, signed_in, |frame| {
        let me = &me;
        let conn = &conn;
        let replays = &replays;
        async move {
            let current = me.lock().ok().and_then(|m| m.clone());
            match current {
                None => match agent_hello(state, conn, frame).await {
                    Some(info) => {
                        if let Ok(mut m) = me.lock() {
                            *m = Some(info);
                        }
                        Flow::Continue
                    }
                    None => Flow::Stop,
                },
                Some(s) => agent_frame(state, conn, &s.info, replays, frame).await,
            }
        }
    });
    let refresh = refresh_ice(state, &conn, || async {
        let id = me.lock().ok()?.as_ref()?.info.id.clone();
        agent_ice(state, id.as_str()).await
    });
    tokio::select! {
        () = reader => {}
        () = refresh => {}
    }
    let signed = me.lock().ok().and_then(|m| m.clone());
    if let Some(s) = signed {
        s.expiry.abort();
        tracing::info!(agent = %s.info.id, "agent disconnected");
        state.hub.detach_agent(s.info.id.as_str(), conn.id);
        session::dispatch(state).await;
    }
    drop(conn);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// The `ice_servers` frame for `agent`: only while one of their sessions has a call in
/// progress.
async fn agent_ice(state: &AppState, agent: &str) -> Option<ServerFrame> {
    let mut in_call = false;
    for id in state.hub.agent_sessions(agent) {
        if let Ok(Some(live)) = session::get(state, &id).await
            && live.lock().await.log.in_call()
        {
            in_call = true;
            break;
        }
    }
    if !in_call {
        return None;
    }
    crate::ice::frame(&state.config.ice, agent, now())
}

/// Closes `conn` with the fatal `unauthorized` when the sign-in token expires at `at`.
fn close_at_expiry(conn: &Conn, at: interact_sdk::time::UnixMillis) -> tokio::task::AbortHandle {
    let conn = conn.clone();
    let wait = Duration::from_millis(at.0.saturating_sub(now().0));
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let why = "the sign-in has expired; sign in again";
        conn.end(
            &ServerFrame::Error(error(ErrorCode::Unauthorized, why).into_fatal()),
            CloseCode::Unauthorized,
            why,
        );
    })
    .abort_handle()
}

async fn agent_hello(state: &AppState, conn: &Conn, frame: ClientFrame) -> Option<SignedIn> {
    let ClientFrame::AgentHello(hello) = frame else {
        fatal(
            conn,
            ErrorCode::HandshakeRequired,
            "the first frame must be agent_hello",
            CloseCode::ProtocolViolation,
        );
        return None;
    };
    if hello.protocol != PROTOCOL_VERSION {
        fatal(
            conn,
            ErrorCode::UnsupportedProtocol,
            "this server speaks protocol 1",
            CloseCode::UnsupportedProtocol,
        );
        return None;
    }
    let hash = auth::token_hash(&hello.token);
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "token lookup failed");
        fatal(
            conn,
            ErrorCode::Internal,
            "try again later",
            CloseCode::Internal,
        );
    };
    let token = match state.store.agent_token(&hash, now()).await {
        Ok(t) => t,
        Err(e) => {
            failed(&e);
            return None;
        }
    };
    let Some((user, expires)) =
        token.and_then(|(u, expires)| state.tenant.users.get(&u).map(|u| (u, expires)))
    else {
        state.metrics.reject("agent_unauthorized");
        fatal(
            conn,
            ErrorCode::Unauthorized,
            "sign in again",
            CloseCode::Unauthorized,
        );
        return None;
    };
    let info = AgentInfo {
        id: interact_sdk::ids::AgentId::new(user.config.id.clone()).ok()?,
        display_name: user.config.display_name.clone(),
    };
    state.hub.attach_agent(&info, conn.clone(), &hash, now());
    // A sign-out between the lookup and the attach must not leave this connection open:
    // look again now that a sign-out would find it.
    match state.store.agent_token(&hash, now()).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            state.hub.detach_agent(info.id.as_str(), conn.id);
            fatal(
                conn,
                ErrorCode::Unauthorized,
                "signed out; sign in again",
                CloseCode::Unauthorized,
            );
            return None;
        }
        Err(e) => {
            state.hub.detach_agent(info.id.as_str(), conn.id);
            failed(&e);
            return None;
        }
    }
    tracing::info!(agent = %info.id, "agent connected");
    let heads = match session::agent_heads(state, info.id.as_str()).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(agent = %info.id, error = %e, "reading an agent's sessions failed");
            BTreeMap::new()
        }
    };
    conn.send(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: Some(info.clone()),
        heads: heads.clone(),
    });
    if let Some(f) = agent_ice(state, info.id.as_str()).await {
        conn.send(&f);
    }
    // Only what the agent names is replayed; it fetches the others with `sync`.
    for (id, after) in &hello.resume {
        if heads.contains_key(id) {
            conn.replay(id, *after);
        }
    }
    Some(SignedIn {
        info,
        expiry: close_at_expiry(conn, expires),
    })
}

async fn agent_frame(
    state: &AppState,
    conn: &Conn,
    me: &AgentInfo,
    replays: &std::sync::Mutex<Bucket>,
    frame: ClientFrame,
) -> Flow {
    let user = me.id.as_str();
    match frame {
        ClientFrame::SetPresence { presence } => {
            state.hub.set_presence(user, presence, now());
            conn.send(&ServerFrame::Presence { presence });
            session::dispatch(state).await;
        }
        ClientFrame::Accept { session: sid } => {
            if let Err(e) = session::accept(state, me, &sid).await {
                conn.send(&ServerFrame::Error(e));
            }
        }
        ClientFrame::Decline { session: sid } => session::decline(state, &me.id, &sid).await,
        ClientFrame::Ping { nonce } => {
            let heads = session::agent_heads(state, user).await.unwrap_or_default();
            conn.send(&ServerFrame::Pong { nonce, heads });
        }
        ClientFrame::Unknown => conn.send(&ServerFrame::Error(error(
            ErrorCode::UnknownType,
            "unknown frame type; ignored",
        ))),
        f @ (ClientFrame::Send { .. }
        | ClientFrame::Typing { .. }
        | ClientFrame::Receipt { .. }
        | ClientFrame::Sync { .. }
        | ClientFrame::End { .. }
        | ClientFrame::Call { .. }) => {
            let held = f.session().filter(|s| state.hub.holds(user, s)).cloned();
            match (held, f) {
                (Some(sid), ClientFrame::Sync { after, .. }) => {
                    let mut bucket = replays.lock().unwrap_or_else(|p| p.into_inner());
                    answer_sync(state, conn, &sid, after, &mut bucket);
                }
                (Some(sid), f) => handle_session_frame(state, &sid, Party::Agent, f, conn).await,
                (None, _) => conn.send(&ServerFrame::Error(error(
                    ErrorCode::UnknownSession,
                    "name a session you handle",
                ))),
            }
        }
        _ => conn.send(&ServerFrame::Error(error(
            ErrorCode::NotAllowed,
            "not an agent frame",
        ))),
    }
    Flow::Continue
}
