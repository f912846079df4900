//! The agent's endpoint, `/v1/agent/ws`: the bearer token in `agent_hello`, the welcome
//! with the heads of the agent's sessions, and the agent's frames handed to the node.

use super::*;

/// `GET /v1/agent/ws`: an agent's WebSocket, authenticated by the token in `agent_hello`.
pub async fn agent_ws(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    // The connection's task logs in its request's span (the request id).
    let span = tracing::Span::current();
    upgrade(ws).on_upgrade(move |socket| {
        tracing::Instrument::instrument(
            async move {
                state.metrics.connections.inc();
                agent_conn(&state, socket).await;
                state.metrics.connections.dec();
            },
            span,
        )
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
    let replays = std::sync::Mutex::new(Bucket::new(
        state.config.limits.replays_per_second,
        state.instant(),
    ));
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
    for id in session::agent_sessions(state, agent)
        .await
        .unwrap_or_default()
    {
        if let Ok(Some((_, true))) = session::peek(state, &id).await {
            in_call = true;
            break;
        }
    }
    if !in_call {
        return None;
    }
    crate::ice::frame(&state.config.ice, agent, state.now())
}

/// Closes `conn` with the fatal `unauthorized` when the sign-in token expires at `at`.
fn close_at_expiry(
    state: &AppState,
    conn: &Conn,
    at: interact_sdk::time::UnixMillis,
) -> tokio::task::AbortHandle {
    let conn = conn.clone();
    let wait = Duration::from_millis(at.0.saturating_sub(state.now().0));
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
    let token = match state.store.agent_token(&hash, state.now()).await {
        Ok(t) => t,
        Err(e) => {
            failed(&e);
            return None;
        }
    };
    let Some((user, expires)) = token.and_then(|(u, expires)| {
        state
            .tenant()
            .users
            .get(u.as_str())
            .cloned()
            .map(|u| (u, expires))
    }) else {
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
        id: interact_sdk::ids::AgentId::new(user.config.id.to_string()).ok()?,
        display_name: user.config.display_name.clone(),
    };
    state
        .hub
        .attach_agent(&info, conn.clone(), &hash, state.now());
    // A sign-out between the lookup and the attach must not leave this connection open:
    // look again now that a sign-out would find it.
    match state.store.agent_token(&hash, state.now()).await {
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
    state.hub.agent_welcomed(info.id.as_str());
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
        expiry: close_at_expiry(state, conn, expires),
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
            state.hub.set_presence(user, presence, state.now());
            conn.send(&ServerFrame::Presence { presence });
            session::dispatch(state).await;
        }
        ClientFrame::Accept { session: sid } if state.hub.cluster().is_some() => {
            let work = crate::node::cluster::ToOwner::Accept {
                session: sid.clone(),
                agent: me.clone(),
            };
            let frames = session::at_owner(state, work).await;
            tracing::debug!(session = %sid, answer = ?frames, "accept handled by the session's owner");
            for text in frames {
                conn.send_text(axum::extract::ws::Utf8Bytes::from(text));
            }
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
        | ClientFrame::Call { .. }
        | ClientFrame::Transfer { .. }) => match (f.session().cloned(), f) {
            (Some(sid), ClientFrame::Sync { after, .. })
                if session::agent_sessions(state, user)
                    .await
                    .is_ok_and(|held| held.contains(&sid)) =>
            {
                let mut bucket = replays.lock().unwrap_or_else(|p| p.into_inner());
                answer_sync(state, conn, &sid, after, &mut bucket);
            }
            (Some(sid), f) if !matches!(f, ClientFrame::Sync { .. }) => {
                session::agent_frame(state, me, &sid, f, conn).await;
            }
            _ => conn.send(&ServerFrame::Error(error(
                ErrorCode::UnknownSession,
                "name a session you handle",
            ))),
        },
        _ => conn.send(&ServerFrame::Error(error(
            ErrorCode::NotAllowed,
            "not an agent frame",
        ))),
    }
    Flow::Continue
}
