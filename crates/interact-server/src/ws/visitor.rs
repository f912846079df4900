//! The visitor's endpoint, `/v1/ws?code=...`: admission before the upgrade, `hello` and
//! resume, `start_chat` (idempotent through the store), and the session frames handed to
//! the node.

use super::*;

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
    let preview = crate::preview::from_cookies(&headers, q.code.trim());
    let record = match state.admit(&q.code, origin.as_deref(), preview).await {
        Ok((record, _)) => record,
        Err(e) => return e.into_response(),
    };
    let origin = origin.unwrap_or_default();
    // The connection's task logs in its request's span (the request id).
    let span = tracing::Span::current();
    upgrade(ws).on_upgrade(move |socket| {
        // Split before the task's future is made, so that it holds the two small halves
        // rather than room for the whole socket as well.
        let socket = socket.split();
        tracing::Instrument::instrument(
            async move {
                state.metrics.connections.inc();
                visitor_conn(&state, socket, record, origin, ip).await;
                state.metrics.connections.dec();
            },
            span,
        )
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
    /// The verified visitor's id (`identify` with a valid hash): chats started on this
    /// connection are theirs.
    identity: Option<String>,
    /// `identify` frames of this connection (at most [`MAX_IDENTIFY`]).
    identifies: u8,
}

/// Most `identify` frames one connection may send (a site that signs a visitor out and
/// another in without a reload needs a few; each reads the history).
const MAX_IDENTIFY: u8 = 5;

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
        replays: Bucket::new(state.config.limits.replays_per_second, state.instant()),
        identity: None,
        identifies: 0,
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
        session::visitor_seen(state, s, state.now()).await;
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
    crate::ice::frame(&state.config.ice, session.as_str(), state.now())
}

/// Whether `token` resumes `live` for a visitor of embed code `code` at `at`: the token is
/// the session's current one, and the session is within its resume window (see
/// `resume_token_ttl_secs` and `ended_session_grace_secs`).
fn resumable(
    state: &AppState,
    live: &LiveSession,
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
        self.state.visitor_config(&self.record.target)
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
            ClientFrame::StartChat {
                id,
                form,
                call,
                context,
            } => Box::pin(self.start(id, form, call, context)).await,
            ClientFrame::Identify { id, visitor, hash } => {
                Box::pin(self.identify(id, visitor, hash)).await;
                Flow::Continue
            }
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
            ClientFrame::Rate { id, score, comment } => {
                let answer =
                    super::after::rate(&self.state, self.session.as_ref(), id, score, comment)
                        .await;
                self.send(&answer);
                Flow::Continue
            }
            ClientFrame::LeaveMessage { id, form, context } => {
                if self.session.is_some() {
                    let mut e = error(ErrorCode::NotAllowed, "this connection has a session");
                    e.id = Some(id);
                    self.send(&ServerFrame::Error(e));
                    return Flow::Continue;
                }
                let from = crate::node::offline::Source {
                    record: &self.record,
                    origin: &self.origin,
                    ip: self.ip,
                };
                let answer = Box::pin(crate::node::offline::leave(
                    &self.state,
                    from,
                    id,
                    form,
                    context,
                ))
                .await;
                self.send(&answer);
                Flow::Continue
            }
            ClientFrame::EmailTranscript { id } => {
                let answer =
                    super::after::email_transcript(&self.state, self.session.as_ref(), id).await;
                self.send(&answer);
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
                self.state.now(),
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
            && let Some(f) =
                crate::ice::frame(&self.state.config.ice, r.session.as_str(), self.state.now())
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
        call: Option<CallMedia>,
        context: Option<interact_sdk::context::ChatContext>,
    ) -> Flow {
        let with_id = |mut e: ErrorFrame| {
            e.id = Some(id.clone());
            ServerFrame::Error(e)
        };
        // A repeat (its answer was lost, or the server restarted) gets its session back.
        let key = session::start_key(&self.record.code, &id, self.ip, &form, call);
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
        if let Some(media) = call {
            let enabled = match media {
                CallMedia::Audio => config.modalities.audio,
                CallMedia::Video => config.modalities.video,
            };
            if !enabled {
                self.state.metrics.reject("modality_not_enabled");
                self.send(&with_id(error(
                    ErrorCode::NotAllowed,
                    "this target does not take calls of this kind",
                )));
                return Flow::Continue;
            }
        }
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
        if let Some(Err(e)) = context.as_ref().map(|c| c.validate()) {
            self.state.metrics.reject("invalid_context");
            self.send(&with_id(error(
                ErrorCode::InvalidField,
                format!("the context is invalid: {e}"),
            )));
            return Flow::Continue;
        }
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
            session::Via {
                channel: interact_model::Channel::Widget,
                call,
                context: context.filter(|c| !c.is_empty()),
                visitor_id: self.identity.clone(),
            },
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
            Err(interact_store::StoreError::Conflict) => {
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

    /// Checks an `identify` frame: within bounds, the embed code has an identity secret
    /// and the hash is the visitor id's HMAC under it. Verified, the connection is the
    /// visitor's and the answer is their history; refused, it is anonymous (a previous
    /// identity is dropped too), the refusal is logged and counted, and nothing is stored.
    async fn identify(&mut self, id: interact_sdk::ids::MessageId, visitor: String, hash: String) {
        let refuse = |this: &Self, code: ErrorCode, message: &str| {
            this.send(&ServerFrame::Error(error(code, message).about(id.clone())));
        };
        if self.identifies >= MAX_IDENTIFY {
            self.state.metrics.reject("identify_rate_limited");
            return refuse(
                self,
                ErrorCode::RateLimited,
                "too many identify frames on this connection",
            );
        }
        self.identifies += 1;
        self.identity = None;
        if let Err(e) = interact_sdk::identity::validate(&visitor, &hash) {
            self.state.metrics.reject("invalid_identity");
            tracing::warn!(code = %self.record.code, error = %e, "identify refused: out of bounds");
            return refuse(
                self,
                ErrorCode::InvalidField,
                &format!("the identity is invalid: {e}"),
            );
        }
        let secret = match self.state.store.identity_secret(&self.record.code).await {
            Ok(s) => s,
            Err(e) => return self.internal(Some(&id), "reading an identity secret failed", &e),
        };
        let verified = secret
            .as_deref()
            .is_some_and(|s| crate::identity::verify(s, &visitor, &hash));
        if !verified {
            self.state.metrics.reject("identity_refused");
            let why = if secret.is_none() {
                "the embed code has no identity secret"
            } else {
                "wrong hash"
            };
            tracing::warn!(code = %self.record.code, origin = %self.origin, why, "identify refused");
            return refuse(
                self,
                ErrorCode::IdentityRefused,
                "the identity could not be verified; the chat is anonymous",
            );
        }
        match crate::identity::history(&self.state, &self.record.code, &visitor).await {
            Ok(events) => {
                tracing::debug!(code = %self.record.code, messages = events.len(), "visitor identified");
                self.identity = Some(visitor);
                self.send(&ServerFrame::History { id, events });
            }
            Err(e) => self.internal(Some(&id), "reading a visitor's history failed", &e),
        }
    }

    /// Answers a repeated `start_chat` with its session: a fresh resume token (the old one
    /// stops working), then the session's events as a replay.
    async fn repeat_start(
        &mut self,
        existing: interact_store::SessionRecord,
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
        if self.state.now().0.saturating_sub(existing.created_at.0) > ttl {
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

    /// Makes this connection the session's. The one it replaces closes with `Replaced`;
    /// if a newer connection of the session is attached already (this one was handled
    /// late), this one closes instead.
    fn attach(&mut self, sid: &SessionId) {
        if let Some(old) = self.state.hub.attach_visitor(sid, self.conn.clone()) {
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
        session::handle_frame(&self.state, &own, Party::Visitor, frame, &self.conn).await;
        Flow::Continue
    }
}
