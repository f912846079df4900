//! Session operations that join the SDK's session log, the store and the hub. Every
//! change to a session follows one rule: lock the session, append to its log, store the
//! new events durably, and only then send anything.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use interact_sdk::form::ValidForm;
use interact_sdk::ids::{AgentId, ResumeToken, Seq, SessionId};
use interact_sdk::protocol::{
    AgentInfo, CallSignal, ClientFrame, Consent, ErrorCode, ErrorFrame, Offer, Party, ServerFrame,
    SessionEvent, VisitorInfo,
};
use interact_sdk::relay::{Effect, SessionLog};
use interact_sdk::time::UnixMillis;

use interact_routing::Output;
use interact_store::{EmbedCodeRecord, EncodedEvent, SessionRecord, StoreError};
use interact_workflow::Input;

use crate::auth;
use crate::node::hub::{Conn, LiveSession, SessionHandle, ws_frame};
use crate::node::state::AppState;

fn internal(session: &SessionId) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::Internal,
        "the server could not store this; send it again",
    )
    .in_session(session.clone())
}

/// A session, from memory or, if it is not there (evicted, or ended before a restart),
/// loaded from the store into memory. `None` if it does not exist.
pub async fn get(state: &AppState, id: &SessionId) -> Result<Option<SessionHandle>, StoreError> {
    if let Some(live) = state.hub.session(id) {
        return Ok(Some(live));
    }
    load(state, id).await
}

/// Loads a session (ended ones too) from the store into memory. Distribution is not
/// touched: the distributor keeps open sessions whether they are in memory or not. If another
/// task loaded it meanwhile, that copy is kept and returned.
async fn load(state: &AppState, id: &SessionId) -> Result<Option<SessionHandle>, StoreError> {
    let Some(record) = state.store.session(id).await? else {
        return Ok(None);
    };
    let events = state.store.events(id).await?;
    let modalities = state.tenant.modalities(&record.target);
    let log = SessionLog::restore(id.clone(), modalities, events)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rate = state.config.limits.messages_per_second_per_session;
    Ok(Some(state.hub.cache_session(LiveSession::new(
        log,
        record,
        rate,
        state.instant(),
    ))))
}

/// A visitor connection of `id` closed at `at`: its resume token's lifetime counts from
/// then (see `resume_token_ttl_secs`).
pub async fn visitor_seen(state: &AppState, id: &SessionId, at: UnixMillis) {
    if let Some(live) = state.hub.session(id) {
        live.lock().await.record.visitor_seen_at = Some(at);
    }
    if let Err(e) = state.store.set_visitor_seen(id, at).await {
        tracing::warn!(session = %id, error = %e, "recording the visitor's last connection failed");
    }
}

/// One page of a replay of `id` after `after`, ending with its `replayed` frame (empty
/// if the session cannot be read): what a connection's writer sends for
/// [`Conn::replay`].
pub async fn replay_page(
    state: &AppState,
    id: &SessionId,
    after: Seq,
) -> Vec<axum::extract::ws::Utf8Bytes> {
    match get(state, id).await {
        Ok(Some(live)) => live.lock().await.page(after),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::error!(session = %id, error = %e, "reading a session for a replay failed");
            Vec::new()
        }
    }
}

/// Loads every session that has not ended into the hub (after a start or restart). A
/// session with a stored workflow run gets its run back ([`crate::node::flow::resume`]: it
/// joins the queue when the run says so, or ends as failed if its workflow changed);
/// the others join the queue at once unless an agent has them.
pub async fn restore(state: &AppState) -> Result<usize, StoreError> {
    let open = state.store.open_sessions().await?;
    let n = open.len();
    for record in open {
        let events = state.store.events(&record.id).await?;
        let run = state.store.workflow_run(&record.id).await?;
        let modalities = state.tenant.modalities(&record.target);
        match SessionLog::restore(record.id.clone(), modalities, events) {
            Ok(log) => {
                let rate = state.config.limits.messages_per_second_per_session;
                let live = LiveSession::new(log, record, rate, state.instant());
                let live = state.hub.insert_session_with(live, run.is_none());
                state.metrics.active_sessions.inc();
                if let Some(run) = run {
                    crate::node::flow::resume(state, &live, run).await;
                }
            }
            Err(e) => tracing::error!(session = %record.id, error = %e, "cannot restore session"),
        }
    }
    Ok(n)
}

/// Stores the appended events of `effects`, then carries them out: events to both
/// parties, replies to `reply`, forwards to the other party. On a store failure the log
/// is rolled back and the sender gets `internal`. Each event is encoded once, for the
/// store and for every connection.
pub async fn apply(
    state: &AppState,
    live: &mut LiveSession,
    head_before: Seq,
    effects: Vec<Effect>,
    from: Party,
    reply: Option<&Conn>,
) -> bool {
    let id = &live.record.id.clone();
    let encoded: Vec<EncodedEvent> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Append(ev) => Some(EncodedEvent::new(ev)),
            _ => None,
        })
        .collect();
    if !encoded.is_empty()
        && let Err(e) = state.store.append_events(id, &encoded).await
    {
        tracing::error!(session = %id, error = %e, "storing events failed");
        if let Some(c) = reply {
            c.send(&ServerFrame::Error(internal(id)));
        }
        live.log.truncate(head_before);
        return false;
    }
    live.stored(&encoded, state.instant());
    let mut encoded = encoded.iter();
    let mut ended = false;
    for effect in effects {
        match effect {
            Effect::Append(ev) => {
                match &ev.event {
                    SessionEvent::Message { .. } => {
                        state.metrics.messages_relayed.inc();
                    }
                    // An agent in a call takes no other task (the session's end frees
                    // them through `session_ended`).
                    SessionEvent::Call {
                        signal: CallSignal::Accept { .. },
                        ..
                    } => state.hub.call_started(id, ev.at),
                    SessionEvent::Call {
                        signal: CallSignal::Hangup { .. },
                        ..
                    }
                    | SessionEvent::AgentLeft { .. } => state.hub.call_ended(id, ev.at),
                    SessionEvent::Ended { .. } => ended = true,
                    _ => {}
                }
                // TURN credentials are handed out for a call, to both parties before
                // they see it start.
                if let SessionEvent::Call {
                    signal: CallSignal::Start { .. },
                    ..
                } = &ev.event
                {
                    send_call_ice(state, id, live.log.agent());
                }
                if let Some(e) = encoded.next() {
                    state.hub.broadcast_text(id, ws_frame(e));
                }
            }
            Effect::Reply(f) => {
                if let Some(c) = reply {
                    c.send(&f);
                }
            }
            Effect::Forward(f) => match from {
                Party::Visitor => state.hub.send_to_agent_of(id, &f),
                _ => state.hub.send_to_visitor(id, &f),
            },
        }
    }
    if ended {
        // The workflow run (if any) ends with the session.
        live.run = None;
        if let Some(t) = live.timer.take() {
            t.abort();
        }
        tracing::info!(session = %id, by = ?from, "session ended");
        state.hub.session_ended(id);
        state.metrics.active_sessions.dec();
    }
    true
}

/// Sends both parties of session `id` (its visitor, and `agent`'s connections) the
/// `ice_servers` frame for a call starting, if ICE servers are configured.
fn send_call_ice(state: &AppState, id: &SessionId, agent: Option<&AgentInfo>) {
    let ice = &state.config.ice;
    if let Some(f) = crate::ice::frame(ice, id.as_str(), state.now()) {
        state.hub.send_to_visitor(id, &f);
    }
    if let Some(agent) = agent
        && let Some(f) = crate::ice::frame(ice, agent.id.as_str(), state.now())
    {
        state.hub.send_to_agent(agent.id.as_str(), &f);
    }
}

/// Appends a server event to a session (queue position, agent joined, ...).
pub async fn append_system(state: &AppState, live: &SessionHandle, event: SessionEvent) -> bool {
    let mut live = live.lock().await;
    let head = live.log.head();
    match live.log.append(state.now(), event) {
        Ok(ev) => {
            apply(
                state,
                &mut live,
                head,
                vec![Effect::Append(ev)],
                Party::System,
                None,
            )
            .await
        }
        Err(_) => false,
    }
}

/// What identifies a `start_chat` for idempotency: SHA-256 (hex) of the embed code, the
/// client's start id, the client's address and the form exactly as entered. Client ids
/// need not be unguessable, so the address and the form keep a stranger who reuses an id
/// from getting someone else's session; the same id with another form is another chat.
pub fn start_key(
    code: &interact_sdk::embed::EmbedCode,
    start_id: &interact_sdk::ids::MessageId,
    ip: Option<std::net::IpAddr>,
    form: &interact_sdk::form::PreChatForm,
) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in [
        code.as_str(),
        start_id.as_str(),
        &ip.map(|ip| ip.to_string()).unwrap_or_default(),
        &interact_sdk::protocol::encode(form),
    ] {
        // Length-prefixed, so that no two different tuples hash the same input.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Creates a session from a validated form, stored with `start_key` (see [`start_key`])
/// in the same transaction as its first events; returns its id, resume token and
/// handle. [`StoreError::Conflict`] if a session with that key exists.
pub async fn create(
    state: &AppState,
    code: &EmbedCodeRecord,
    origin: &str,
    start_id: &str,
    start_key: String,
    form: ValidForm,
) -> Result<(SessionId, ResumeToken, SessionHandle), StoreError> {
    let at = state.now();
    let id = SessionId::new(format!("s{}", hex::encode(auth::random_128())))
        .unwrap_or_else(|e| unreachable!("hex ids are valid: {e}"));
    let token = auth::random_token();
    let config = state
        .tenant
        .widget_config(&code.target, interact_sdk::config::Availability::Open)
        .ok_or_else(|| StoreError::NotFound(code.target.to_string()))?;
    let mut log = SessionLog::new(id.clone(), config.modalities);
    let started = SessionEvent::Started {
        visitor: VisitorInfo {
            display_name: form.display_name.clone(),
            email: form.email.clone(),
        },
        consent: Consent {
            policy_version: form.consent_version.clone(),
            at,
        },
        target: config.target.clone(),
    };
    let mut events = vec![
        log.append(at, started)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    ];
    if let Some(text) = form.first_message.clone() {
        let frame = interact_sdk::protocol::ClientFrame::Send {
            session: None,
            id: interact_sdk::ids::MessageId::new(start_id)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            text,
        };
        if let Ok(effects) = log.handle(at, Party::Visitor, &frame) {
            events.extend(effects.into_iter().filter_map(|e| match e {
                Effect::Append(ev) => Some(ev),
                _ => None,
            }));
        }
    }
    let record = SessionRecord {
        id: id.clone(),
        embed_code: code.code.clone(),
        target: code.target.clone(),
        start_id: format!("{start_id} {id}"),
        start_key: Some(start_key),
        visitor_seen_at: None,
        token_hash: auth::token_hash(&token),
        visitor_name: form.display_name,
        visitor_email: form.email,
        consent_version: form.consent_version,
        consent_at: at,
        origin: origin.to_owned(),
        agent_id: None,
        created_at: at,
        ended: None,
    };
    let encoded: Vec<EncodedEvent> = events.iter().map(EncodedEvent::new).collect();
    state.store.create_session(&record, &encoded).await?;
    state.metrics.active_sessions.inc();
    tracing::info!(session = %id, target = %record.target, origin = %record.origin, "session started");
    let rate = state.config.limits.messages_per_second_per_session;
    let mut new = LiveSession::new(log, record, rate, state.instant());
    new.run = crate::node::flow::new_run(state, &new);
    // A session whose service has a workflow waits for its Queue Task.
    let queue = new.run.is_none();
    let live = state.hub.insert_session_with(new, queue);
    if !queue {
        let mut l = live.lock().await;
        crate::node::flow::feed(state, &live, &mut l, interact_workflow::Input::Started).await;
    }
    Ok((id, ResumeToken::new(token), live))
}

/// Announces changed queue positions and offers waiting sessions to available agents.
pub fn dispatch(state: &AppState) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
    Box::pin(dispatch_now(state))
}

async fn dispatch_now(state: &AppState) {
    for work in state.hub.take_work() {
        match work {
            Output::Position { session, position } => {
                announce_position(state, &session, position).await
            }
            Output::Offer {
                session,
                agent,
                expires_at,
            } => offer(state, &session, &agent, expires_at).await,
            Output::Withdraw { session, .. } => {
                // The offer timed out (the agent was told by the hub); the workflow hears of it.
                crate::node::flow::feed_session(
                    state,
                    &session,
                    interact_workflow::Input::OfferTimedOut,
                )
                .await;
            }
            Output::Presence { .. } => {}
        }
    }
}

/// Tells a waiting session (and its workflow) its new queue position.
async fn announce_position(state: &AppState, id: &SessionId, position: u32) {
    let Ok(Some(live)) = get(state, id).await else {
        return;
    };
    append_system(state, &live, SessionEvent::Queued { position }).await;
    let mut l = live.lock().await;
    if l.run.is_some() {
        let input = interact_workflow::Input::QueueUpdate { position };
        crate::node::flow::feed(state, &live, &mut l, input).await;
    }
}

/// Sends the offer of `id` to `agent` and arms its time-out.
async fn offer(state: &AppState, id: &SessionId, agent: &str, expires_at: UnixMillis) {
    let Ok(Some(live)) = get(state, id).await else {
        return;
    };
    let offer = {
        let live = live.lock().await;
        let first_message = live.first_visitor_message();
        let Some(config) = state.tenant.widget_config(
            &live.record.target,
            interact_sdk::config::Availability::Open,
        ) else {
            return;
        };
        Offer {
            session: id.clone(),
            visitor: VisitorInfo {
                display_name: live.record.visitor_name.clone(),
                email: live.record.visitor_email.clone(),
            },
            target: config.target,
            first_message,
            expires_at,
        }
    };
    state.hub.send_to_agent(agent, &ServerFrame::Offer(offer));
    record_offer(state, id);
    let offered = interact_workflow::Input::Offered {
        agent: agent.to_owned(),
    };
    crate::node::flow::feed_session(state, id, offered).await;
}

/// How often [`run_timers`] drops unused sessions from memory.
const EVICT_EVERY: Duration = Duration::from_secs(2);

/// How long an ended session stays in memory once nothing uses it (a reload right after
/// the end reads it back from the store).
pub const ENDED_IN_MEMORY: Duration = Duration::from_secs(5);

/// Drops unused sessions from memory (they stay in the store): ended ones after
/// [`ENDED_IN_MEMORY`], open ones after `session_memory_idle_secs` without anything
/// happening and no visitor connected.
pub fn evict(state: &AppState) {
    let idle = Duration::from_secs(state.config.limits.session_memory_idle_secs);
    let gone = state.hub.evict(ENDED_IN_MEMORY, idle);
    if gone > 0 {
        tracing::debug!(sessions = gone, "sessions dropped from memory");
    }
    state
        .metrics
        .sessions_in_memory
        .set(i64::try_from(state.hub.sessions_in_memory()).unwrap_or(i64::MAX));
}

/// Wakes distribution when it asks to (offers lapse, coalesced queue positions are due):
/// one task per server, for as long as it runs.
///
/// It also sweeps once a second: work the distributor produced where no caller dispatched
/// afterwards (an offer for an agent freed by a session's end, say) waits no longer.
pub async fn run_timers(state: AppState) {
    const SWEEP: Duration = Duration::from_secs(1);
    let mut last_eviction = state.instant();
    loop {
        if state.instant().saturating_duration_since(last_eviction) >= EVICT_EVERY {
            last_eviction = state.instant();
            evict(&state);
        }
        let changed = state.hub.timeout_changed();
        // A little after the deadline: the wall clock and tokio's may differ by a
        // millisecond.
        let wait = state.hub.next_timeout().map_or(SWEEP, |at| {
            Duration::from_millis(at.0.saturating_sub(state.now().0) + 2).min(SWEEP)
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                state.hub.expire_offers(state.now());
                dispatch(&state).await;
            }
            () = changed => {}
        }
    }
}

/// The agent accepts an offered session.
pub async fn accept(state: &AppState, agent: &AgentInfo, id: &SessionId) -> Result<(), ErrorFrame> {
    let user = agent.id.as_str();
    let refuse = |msg: &str| ErrorFrame::new(ErrorCode::NotAllowed, msg).in_session(id.clone());
    let live = get(state, id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| refuse("no such session"))?;
    {
        let mut l = live.lock().await;
        // Taken under the session's lock: the offer cannot lapse between the check and
        // the agent's `agent_joined`.
        state
            .hub
            .accept(id, user, state.now())
            .map_err(|e| refuse(&e.to_string()))?;
        let head = l.log.head();
        let appended = l.log.append(
            state.now(),
            SessionEvent::AgentJoined {
                agent: agent.clone(),
            },
        );
        let ev = match appended {
            Ok(ev) => ev,
            Err(_) => {
                state.hub.requeue(id, state.now());
                return Err(refuse("the session has ended"));
            }
        };
        let encoded = EncodedEvent::new(&ev);
        if let Err(e) = state
            .store
            .append_events(id, std::slice::from_ref(&encoded))
            .await
        {
            tracing::error!(session = %id, error = %e, "storing agent_joined failed");
            l.log.truncate(head);
            state.hub.requeue(id, state.now());
            drop(l);
            dispatch(state).await;
            return Err(internal(id));
        }
        l.stored(std::slice::from_ref(&encoded), state.instant());
        if let Err(e) = state.store.set_session_agent(id, &agent.id).await {
            tracing::error!(session = %id, error = %e, "storing the agent failed");
        }
        l.record.agent_id = Some(agent.id.clone());
        let accepted = interact_workflow::Input::Accepted {
            agent: user.to_owned(),
        };
        crate::node::flow::feed(state, &live, &mut l, accepted).await;
        tracing::info!(session = %id, agent = user, "session accepted");
        // The agent gets the whole transcript, as a replay; the visitor the new event.
        state.hub.replay_to_agent(user, id, Seq::ZERO);
        state.hub.send_text_to_visitor(id, ws_frame(&encoded));
    }
    dispatch(state).await;
    Ok(())
}

/// The agent declines an offered session; it goes to the next agent.
pub async fn decline(state: &AppState, agent: &AgentId, id: &SessionId) {
    if state.hub.decline(id, agent.as_str()) {
        crate::node::flow::feed_session(state, id, interact_workflow::Input::OfferTimedOut).await;
        dispatch(state).await;
    }
}

/// The head of every session the agent handles (for its `welcome`).
pub async fn agent_heads(
    state: &AppState,
    user: &str,
) -> Result<std::collections::BTreeMap<SessionId, Seq>, StoreError> {
    let mut heads = std::collections::BTreeMap::new();
    for id in state.hub.agent_sessions(user) {
        if let Some(live) = get(state, &id).await? {
            heads.insert(id, live.lock().await.log.head());
        }
    }
    Ok(heads)
}

/// Records an offer for reporting (the event log does not hold offers), in the
/// background: the offer is already on its way and a failure only costs the report's
/// `offered_at`.
fn record_offer(state: &AppState, session: &SessionId) {
    let store = state.store.clone();
    let session = session.clone();
    let at = state.now();
    tokio::spawn(async move {
        if let Err(e) = store.record_offer(&session, at).await {
            tracing::warn!(session = %session, error = %e, "recording the offer failed");
        }
    });
}

/// Whether `frame` of `party` would add an event to the session that `live` holds (a
/// resend of a stored message only gets its `ack` again).
fn adds_event(live: &LiveSession, party: Party, frame: &ClientFrame) -> bool {
    match frame {
        ClientFrame::Send { id, .. } => live.log.message_seq(party, id).is_none(),
        ClientFrame::Receipt { .. } | ClientFrame::Call { .. } => true,
        _ => false,
    }
}

/// The one path of a session frame (`send`, `receipt`, `call`, `end`, ...) from the
/// connection it came on: the session's lock, its caps and rates, the SDK's
/// `SessionLog`, the store (first), the sends (after), the workflow's input, then
/// distribution.
pub async fn handle_frame(
    state: &AppState,
    sid: &SessionId,
    party: Party,
    frame: ClientFrame,
    conn: &Conn,
) {
    let live = match get(state, sid).await {
        Ok(Some(live)) => live,
        Ok(None) => {
            let mut e = ErrorFrame::new(ErrorCode::UnknownSession, "no such session");
            e.session = Some(sid.clone());
            conn.send(&ServerFrame::Error(e));
            return;
        }
        Err(e) => {
            tracing::error!(session = %sid, error = %e, "loading a session failed");
            conn.send(&ServerFrame::Error(
                ErrorFrame::new(ErrorCode::Internal, "try again later").in_session(sid.clone()),
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
        let mut e = ErrorFrame::new(code, message).in_session(sid.clone());
        e.id = msg_id.clone();
        conn.send(&ServerFrame::Error(e));
    };
    let mut fed = false;
    {
        let mut l = live.lock().await;
        l.touched = state.instant();
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
            && !l.allow_send(party, id, state.instant())
        {
            state.metrics.reject("message_rate_limited");
            refuse(
                ErrorCode::RateLimited,
                "too many messages in this session; send it again after a while",
            );
            return;
        }
        let head = l.log.head();
        match l.log.handle(state.now(), party, &frame) {
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
                    crate::node::flow::feed(state, &live, &mut l, Input::VisitorLeft).await;
                }
                let stored = apply(state, &mut l, head, effects, party, Some(conn)).await;
                if stored && let Some(input @ Input::VisitorMessage(_)) = input {
                    crate::node::flow::feed(state, &live, &mut l, input).await;
                    fed = true;
                }
            }
        }
    }
    if ends || fed {
        dispatch(state).await;
    }
}
