//! The WebSocket endpoints: `/v1/ws` for visitors and `/v1/agent/ws` for agents.
//!
//! The visitor endpoint checks the embed code and the page's `Origin` before the upgrade
//! (an unknown code gets 404 and a foreign origin 403, with no upgrade: this is what stops
//! cross-site WebSocket hijacking). Every connection then runs the same loop: a handshake
//! within [`HANDSHAKE_TIMEOUT`], frames checked against the protocol limits, a per-connection
//! rate limit, and an idle timeout. `send` frames are also limited per session and party,
//! over all of that party's connections ([`crate::hub::Live::allow_send`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::limits::{HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, MAX_FRAME_BYTES};
use interact_sdk::protocol::{
    AgentInfo, CallSignal, ClientFrame, CloseCode, DecodeError, ErrorCode, ErrorFrame,
    PROTOCOL_VERSION, Party, ServerFrame, SessionInfo, decode_client,
};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::auth;
use crate::hub::{Bucket, Conn, Outgoing};
use crate::session;
use crate::state::{AppState, ClientIp, now};
use crate::store::EmbedCodeRecord;
use crate::workflow::Input;
use interact_sdk::protocol::SessionEvent;
use interact_sdk::relay::Effect;

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

/// Most frames written to the socket with one flush.
const MAX_BATCH: usize = 32;

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    // Everything already queued goes out with one flush (one `write` for an event and
    // its ack, or for the events of many sessions to an agent).
    'frames: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut batched = 0;
        while let Some(out) = next.take() {
            match out {
                Outgoing::Frame(text) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        break 'frames;
                    }
                }
                Outgoing::Close(code, reason) => {
                    let frame = CloseFrame {
                        code: code.code(),
                        reason: reason.chars().take(100).collect::<String>().into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break 'frames;
                }
            }
            batched += 1;
            if batched < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// What a reader loop should do after a frame.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Reads frames with the handshake and idle timeouts, the size check and the rate limit,
/// and hands each decoded frame to `on_frame`.
async fn read_loop<F, Fut>(
    state: &AppState,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    conn: &Conn,
    mut handshaken: impl FnMut() -> bool,
    mut on_frame: F,
) where
    F: FnMut(ClientFrame) -> Fut,
    Fut: std::future::Future<Output = Flow>,
{
    let mut bucket = Bucket::new(state.config.limits.frames_per_second);
    let mut malformed = 0;
    // One timer per connection, not one per frame: a frame only notes when it came, and
    // the timer, when it fires, checks the deadline that follows from that.
    let mut last = Instant::now();
    let timer = tokio::time::sleep(HANDSHAKE_TIMEOUT);
    tokio::pin!(timer);
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = &mut timer => {
                let (limit, on_timeout) = if handshaken() {
                    (IDLE_TIMEOUT, CloseCode::IdleTimeout)
                } else {
                    (HANDSHAKE_TIMEOUT, CloseCode::HandshakeTimeout)
                };
                let due = last + limit;
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
            None | Some(Err(_)) => return,
            Some(Ok(msg)) => msg,
        };
        last = Instant::now();
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
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if !bucket.take(last) {
            state.metrics.reject("rate_limited");
            fatal(
                conn,
                ErrorCode::RateLimited,
                "too many frames",
                CloseCode::RateLimited,
            );
            return;
        }
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

/// Sends a connection fresh TURN credentials every half of their lifetime, so that one
/// open for long (an agent signed in all day, a chat that turns into a call hours later)
/// always holds credentials with at least half their life left when a call starts.
/// `frame` makes the connection's frame now (`None` before its handshake, or for a target
/// without calls). Never ends; without TURN servers it does nothing.
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
}

/// The two halves of a WebSocket.
type Halves = (
    futures_util::stream::SplitSink<WebSocket, Message>,
    futures_util::stream::SplitStream<WebSocket>,
);

async fn visitor_conn(
    state: &AppState,
    (sink, stream): Halves,
    record: EmbedCodeRecord,
    origin: String,
    ip: Option<std::net::IpAddr>,
) {
    let (conn, rx) = state.hub.new_conn();
    let writer = tokio::spawn(write_loop(sink, rx));
    let v = tokio::sync::Mutex::new(Visitor {
        state: state.clone(),
        conn: conn.clone(),
        record,
        origin,
        ip,
        hello: false,
        session: None,
    });
    let hello = std::sync::atomic::AtomicBool::new(false);
    let reader = read_loop(
        state,
        stream,
        &conn,
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
        let v = v.lock().await;
        v.ice_frame(v.session.as_ref()?)
    });
    tokio::select! {
        () = reader => {}
        () = refresh => {}
    }
    let v = v.into_inner();
    if let Some(s) = &v.session {
        state.hub.detach_visitor(s, conn.id);
    }
    drop(v);
    drop(conn);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
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

    /// Sends `ice_servers` with TURN credentials for `session`, if ICE servers are
    /// configured and the target has calls enabled.
    fn send_ice_servers(&self, session: &SessionId) {
        if let Some(f) = self.ice_frame(session) {
            self.send(&f);
        }
    }

    /// The `ice_servers` frame for `session`, if ICE servers are configured and the
    /// target has calls enabled.
    fn ice_frame(&self, session: &SessionId) -> Option<ServerFrame> {
        let modalities = self.state.tenant.modalities(&self.record.target);
        if !(modalities.audio || modalities.video) {
            return None;
        }
        crate::ice::frame(&self.state.config.ice, session.as_str(), now())
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
                    && let Some(live) = self.state.hub.session(s)
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
        let live = match self.state.hub.session(&r.session) {
            Some(l) => Some(l),
            None => match session::load(&self.state, &r.session).await {
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
            },
        };
        let valid = match &live {
            Some(l) => {
                let l = l.lock().await;
                l.record.embed_code == self.record.code
                    && auth::hashes_equal(&auth::token_hash(r.token.expose()), &l.record.token_hash)
            }
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
        if let Some(old) = self.state.hub.attach_visitor(&r.session, self.conn.clone()) {
            old.close(CloseCode::Replaced, "resumed elsewhere");
        }
        self.session = Some(r.session.clone());
        let l = live.lock().await;
        self.send(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            config: self.config(),
            session: Some(SessionInfo {
                session: r.session.clone(),
                head: l.log.head(),
            }),
            agent: None,
        });
        self.send_ice_servers(&r.session);
        for e in l.log.events_after(r.last_seq) {
            self.send(&ServerFrame::Event(e.clone()));
        }
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
        if let Some(started) = self
            .state
            .hub
            .recent_start(&self.record.code, &id, self.ip, &form)
        {
            self.attach(&started.0);
            self.send(&ServerFrame::SessionStarted {
                session: started.0.clone(),
                start_id: id,
                resume_token: started.1,
            });
            self.send_ice_servers(&started.0);
            return Flow::Continue;
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
        match session::create(&self.state, &self.record, &self.origin, id.as_str(), valid).await {
            Ok((sid, token, live)) => {
                self.state
                    .hub
                    .remember_start(&self.record.code, &id, self.ip, &sid, &token, &form);
                self.attach(&sid);
                self.send(&ServerFrame::SessionStarted {
                    session: sid.clone(),
                    start_id: id,
                    resume_token: token,
                });
                self.send_ice_servers(&sid);
                for e in live.lock().await.log.events_after(Seq::ZERO) {
                    self.send(&ServerFrame::Event(e.clone()));
                }
                session::dispatch(&self.state).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "creating a session failed");
                self.send(&with_id(error(
                    ErrorCode::Internal,
                    "the chat could not be started; try again",
                )));
            }
        }
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
        let own = self.session.clone();
        let Some(sid) = own.filter(|s| frame.session().is_none_or(|f| f == s)) else {
            self.send(&ServerFrame::Error(error(
                ErrorCode::UnknownSession,
                "no session on this connection",
            )));
            return Flow::Continue;
        };
        handle_session_frame(&self.state, &sid, Party::Visitor, frame, &self.conn).await;
        Flow::Continue
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
    let Some(live) = state.hub.session(sid) else {
        let mut e = error(ErrorCode::UnknownSession, "no such session");
        e.session = Some(sid.clone());
        conn.send(&ServerFrame::Error(e));
        return;
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
    let mut fed = false;
    {
        let mut l = live.lock().await;
        // Messages are limited per session and party as well as per connection, so that
        // reconnecting (or a second tab) does not buy a fresh burst.
        if let ClientFrame::Send { id, .. } = &frame
            && !l.allow_send(party, Instant::now())
        {
            state.metrics.reject("message_rate_limited");
            let e = error(
                ErrorCode::RateLimited,
                "too many messages in this session; slow down",
            );
            conn.send(&ServerFrame::Error(
                e.in_session(sid.clone()).about(id.clone()),
            ));
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

async fn agent_conn(state: &AppState, socket: WebSocket) {
    let (conn, rx) = state.hub.new_conn();
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx));
    let me: std::sync::Mutex<Option<AgentInfo>> = std::sync::Mutex::new(None);
    let signed_in = || me.lock().map(|m| m.is_some()).unwrap_or(false);
    let reader = read_loop(state, stream, &conn, signed_in, |frame| {
        let me = &me;
        let conn = &conn;
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
                Some(info) => agent_frame(state, conn, &info, frame).await,
            }
        }
    });
    let refresh = refresh_ice(state, &conn, || async {
        let id = me.lock().ok()?.as_ref()?.id.clone();
        crate::ice::frame(&state.config.ice, id.as_str(), now())
    });
    tokio::select! {
        () = reader => {}
        () = refresh => {}
    }
    let info = me.lock().ok().and_then(|m| m.clone());
    if let Some(info) = info {
        tracing::info!(agent = %info.id, "agent disconnected");
        state.hub.detach_agent(info.id.as_str(), conn.id);
        session::dispatch(state).await;
    }
    drop(conn);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

async fn agent_hello(state: &AppState, conn: &Conn, frame: ClientFrame) -> Option<AgentInfo> {
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
    let user = match state
        .store
        .agent_token(&auth::token_hash(&hello.token), now())
        .await
    {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            fatal(
                conn,
                ErrorCode::Internal,
                "try again later",
                CloseCode::Internal,
            );
            return None;
        }
    };
    let Some(user) = user.and_then(|u| state.tenant.users.get(&u)) else {
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
    state.hub.attach_agent(&info, conn.clone(), now());
    tracing::info!(agent = %info.id, "agent connected");
    conn.send(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: Some(info.clone()),
    });
    if let Some(f) = crate::ice::frame(&state.config.ice, info.id.as_str(), now()) {
        conn.send(&f);
    }
    session::replay_for_agent(state, info.id.as_str(), &hello.resume).await;
    Some(info)
}

async fn agent_frame(state: &AppState, conn: &Conn, me: &AgentInfo, frame: ClientFrame) -> Flow {
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
            let mut heads = BTreeMap::new();
            for sid in state.hub.agent_sessions(user) {
                if let Some(live) = state.hub.session(&sid) {
                    heads.insert(sid, live.lock().await.log.head());
                }
            }
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
            match held {
                Some(sid) => handle_session_frame(state, &sid, Party::Agent, f, conn).await,
                None => conn.send(&ServerFrame::Error(error(
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
