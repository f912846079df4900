//! Session operations that join the SDK's session log, the store and the hub. Every
//! change to a session follows one rule: lock the session, append to its log, store the
//! new events durably, and only then send anything.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use interact_sdk::config::TargetKind;
use interact_sdk::form::ValidForm;
use interact_sdk::ids::{AgentId, ResumeToken, Seq, SessionId, TargetId};
use interact_sdk::protocol::{
    AgentInfo, CallSignal, ClientFrame, Consent, ErrorCode, ErrorFrame, EventFrame, Offer, Party,
    ServerFrame, SessionEvent, TargetInfo, TransferTarget, VisitorInfo,
};
use interact_sdk::relay::{Effect, SessionLog};
use interact_sdk::time::UnixMillis;

use interact_model::TargetRef;
use interact_routing::Output;
use interact_store::{EmbedCodeRecord, EncodedEvent, SessionRecord, StoreError};
use interact_workflow::Input;

use crate::auth;
use crate::node::cluster::{OwnerReply, ToOwner};
use crate::node::conn::Outgoing;
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
///
/// In a cluster this node claims the session first (it owns it from now on; the former
/// owner's late writes are refused), tells the other nodes, and resumes the session's
/// workflow run if it has one.
async fn load(state: &AppState, id: &SessionId) -> Result<Option<SessionHandle>, StoreError> {
    let Some(cluster) = state.hub.cluster().cloned() else {
        return Ok(read(state, id)
            .await?
            .map(|live| state.hub.cache_session(live)));
    };
    let _one_at_a_time = state.hub.loading.lock().await;
    if let Some(live) = state.hub.session(id) {
        return Ok(Some(live));
    }
    let epoch = match state
        .store
        .claim_session(id, &cluster.node, state.now())
        .await
    {
        Ok(epoch) => epoch,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(mut live) = read(state, id).await? else {
        return Ok(None);
    };
    live.epoch = Some(epoch);
    cluster.publish(
        crate::node::cluster::CLAIMED,
        &crate::node::cluster::Claimed {
            session: id.clone(),
            node: cluster.node.clone(),
            epoch: epoch.0,
        },
    );
    tracing::debug!(session = %id, epoch = epoch.0, "claimed a session");
    let open = !live.log.is_ended();
    let handle = state.hub.cache_session(live);
    drop(_one_at_a_time);
    if open && let Some(run) = state.store.workflow_run(id).await? {
        crate::node::flow::resume(state, &handle, run).await;
    }
    Ok(Some(handle))
}

/// A session as stored, rebuilt in memory (not kept: see [`load`]).
async fn read(state: &AppState, id: &SessionId) -> Result<Option<LiveSession>, StoreError> {
    let Some(record) = state.store.session(id).await? else {
        return Ok(None);
    };
    let events = state.store.events(id).await?;
    let (log, record) = rebuild(state, record, events).await?;
    let rate = state.config.limits.messages_per_second_per_session;
    Ok(Some(LiveSession::new(log, record, rate, state.instant())))
}

/// A stored session's log and record, as they go back into memory. A transfer whose events
/// were stored but not its new target (the process stopped in between) is finished: the
/// log's last `transferred` says where the session went, and the record is mended (in the
/// store too, unless an agent has joined since).
async fn rebuild(
    state: &AppState,
    mut record: SessionRecord,
    events: Vec<EventFrame>,
) -> Result<(SessionLog, SessionRecord), StoreError> {
    let moved = events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            SessionEvent::Transferred { to, .. } => Some(target_ref(to.kind, &to.id)),
            _ => None,
        })
        .filter(|t| *t != record.target);
    if let Some(target) = &moved {
        record.target = target.clone();
    }
    let modalities = state.tenant().modalities(&record.target);
    let log = SessionLog::restore(record.id.clone(), modalities, events)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if let Some(target) = &moved
        && log.agent().is_none()
    {
        tracing::warn!(session = %record.id, to = %target, "mending a transfer the store had not finished");
        state.store.transfer_session(&record.id, target).await?;
        record.agent_id = None;
    }
    Ok((log, record))
}

/// Whether this node must leave session `id` to its owner: it is part of a cluster and
/// does not hold the session.
fn elsewhere(state: &AppState, id: &SessionId) -> bool {
    state.hub.cluster().is_some() && state.hub.session(id).is_none()
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
    if elsewhere(state, id) {
        // Read-only: a replay does not move the session here.
        return match read(state, id).await {
            Ok(Some(live)) => live.page(after),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::error!(session = %id, error = %e, "reading a session for a replay failed");
                Vec::new()
            }
        };
    }
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
    if state.hub.cluster().is_some() {
        // In a cluster, sessions come into memory when a node needs them (it claims
        // them), and the router leader rebuilds the queues from the database.
        return Ok(0);
    }
    let open = state.store.open_sessions().await?;
    let n = open.len();
    for record in open {
        let events = state.store.events(&record.id).await?;
        let run = state.store.workflow_run(&record.id).await?;
        let id = record.id.clone();
        match rebuild(state, record, events).await {
            Ok((log, record)) => {
                let rate = state.config.limits.messages_per_second_per_session;
                let live = LiveSession::new(log, record, rate, state.instant());
                let live = state.hub.insert_session_with(live, run.is_none());
                state.metrics.active_sessions.inc();
                if let Some(run) = run {
                    crate::node::flow::resume(state, &live, run).await;
                }
            }
            Err(e) => tracing::error!(session = %id, error = %e, "cannot restore session"),
        }
    }
    Ok(n)
}

/// Counts a stored event in the metrics by channel and modality (messages by sender,
/// calls by media).
fn count(state: &AppState, channel: interact_model::Channel, event: &SessionEvent) {
    use crate::metrics::{MessageLabel, ModalityLabel};
    match event {
        SessionEvent::Message { from, .. } => {
            let from = match from {
                Party::Visitor => "visitor",
                Party::Agent => "agent",
                Party::System => "system",
            };
            state
                .metrics
                .messages
                .get_or_create(&MessageLabel {
                    channel: channel.as_str(),
                    from,
                })
                .inc();
        }
        SessionEvent::Call {
            signal: CallSignal::Start { media, .. },
            ..
        } => {
            let modality = media.as_str();
            state
                .metrics
                .calls_started
                .get_or_create(&ModalityLabel { modality })
                .inc();
        }
        _ => {}
    }
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
    let relay_started = std::time::Instant::now();
    let encoded: Vec<EncodedEvent> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Append(ev) => Some(EncodedEvent::new(ev)),
            _ => None,
        })
        .collect();
    let relayed = !encoded.is_empty();
    if relayed && let Err(e) = append(state, live, &encoded).await {
        live.log.truncate(head_before);
        if live.fenced {
            // The caller tries again where the session is now.
            return false;
        }
        tracing::error!(session = %id, error = %e, "storing events failed");
        if let Some(c) = reply {
            c.send(&ServerFrame::Error(internal(id)));
        }
        return false;
    }
    live.stored(&encoded, state.instant());
    // For the webhooks, told once the frames are on their way.
    let appended: Vec<EventFrame> =
        if state.webhooks.is_empty() && live.record.channel != interact_model::Channel::Whatsapp {
            Vec::new()
        } else {
            effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Append(ev) => Some(ev.clone()),
                    _ => None,
                })
                .collect()
        };
    let agent = live.log.agent().map(|a| a.id.as_str().to_owned());
    let mut encoded = encoded.iter();
    let mut ended = false;
    for effect in effects {
        match effect {
            Effect::Append(ev) => {
                count(state, live.record.channel, &ev.event);
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
                    } => state.hub.call_ended(id, ev.at),
                    // A call-first session's agent leaving during the call (a transfer)
                    // keeps it a call task for the next agent.
                    SessionEvent::AgentLeft { .. } if !live.log.call_task() => {
                        state.hub.call_ended(id, ev.at);
                    }
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
                    // The agent a transfer takes the session from is told of it too.
                    let to_agent = match &ev.event {
                        SessionEvent::Transferred { by: Some(a), .. }
                        | SessionEvent::AgentLeft { agent: a } => Some(a.id.as_str()),
                        _ => agent.as_deref(),
                    };
                    state.hub.broadcast_text(id, to_agent, ws_frame(e));
                }
            }
            Effect::Reply(f) => {
                if let Some(c) = reply {
                    c.send(&f);
                }
            }
            Effect::Forward(f) => match (from, &agent) {
                (Party::Visitor, Some(agent)) => state.hub.send_to_agent(agent, &f),
                (Party::Visitor, None) => {}
                _ => state.hub.send_to_visitor(id, &f),
            },
        }
    }
    if relayed {
        state
            .metrics
            .relay_seconds
            .observe(relay_started.elapsed().as_secs_f64());
    }
    tell_webhooks(state, live, appended.iter()).await;
    crate::node::whatsapp::enqueue(state, live, &appended).await;
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

/// Tells the webhooks of `events` just stored in `live`'s session: its messages, and
/// its end with the reporting outcome.
async fn tell_webhooks<'a>(
    state: &AppState,
    live: &LiveSession,
    events: impl Iterator<Item = &'a EventFrame>,
) {
    use crate::node::webhooks::{MESSAGE, SESSION_ENDED, notify};
    for ev in events {
        match &ev.event {
            SessionEvent::Message {
                id,
                from,
                author,
                text,
            } => {
                let data = serde_json::json!({
                    "session": ev.session,
                    "seq": ev.seq.0,
                    "at": ev.at.0,
                    "message": {"id": id, "from": from, "author": author, "text": text},
                });
                notify(state, MESSAGE, data).await;
            }
            SessionEvent::Ended { reason } => {
                let lifecycle = interact_report::Lifecycle::from_events(
                    live.log
                        .events_after(Seq::ZERO)
                        .iter()
                        .map(|e| (e.at, &e.event)),
                );
                let outcome = interact_report::outcome(&lifecycle, live.outcome);
                let data = serde_json::json!({
                    "session": ev.session,
                    "seq": ev.seq.0,
                    "at": ev.at.0,
                    "reason": reason,
                    "outcome": outcome.map(|o| o.as_str()),
                    "agent": live.record.agent_id,
                });
                notify(state, SESSION_ENDED, data).await;
            }
            _ => {}
        }
    }
}

/// Stores events of the session `live` holds: fenced by its lease in a cluster. A
/// fenced append marks the copy stale and drops it from the hub (its timer stops).
async fn append(
    state: &AppState,
    live: &mut LiveSession,
    events: &[EncodedEvent],
) -> Result<(), StoreError> {
    let id = &live.record.id;
    let started = std::time::Instant::now();
    // The commit's span (traces only, see `crate::telemetry`): a child of the frame's
    // that caused it.
    let span = tracing::debug_span!("store.commit", session = %id, events = events.len());
    let stored = tracing::Instrument::instrument(
        async {
            match live.epoch {
                Some(epoch) => state.store.append_events_fenced(id, epoch, events).await,
                None => state.store.append_events(id, events).await,
            }
        },
        span,
    )
    .await;
    state
        .metrics
        .store_commit_seconds
        .observe(started.elapsed().as_secs_f64());
    if let Err(StoreError::Fenced) = &stored {
        tracing::info!(session = %id, "another node owns this session now: dropping this copy");
        live.fenced = true;
        live.run = None;
        if let Some(t) = live.timer.take() {
            t.abort();
        }
        state.hub.forget(id);
    }
    stored
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

/// Why a file could not go into a session (`http/attachments.rs` answers each with its
/// own status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachRefusal {
    /// No such session.
    Unknown,
    /// The session has ended.
    Ended,
    /// The agent does not hold the session (any more).
    NotHeld,
    /// The session holds as many files, or as much, as the server keeps for one.
    Full,
    /// The store failed.
    Internal,
}

/// The session `id`, if `party` (with `agent`, the agent's user id) may add a file to it
/// now: open, held by that agent, and below its caps for files (`per_session`) and
/// events. Checked before the upload is stored, and again by [`append_attachment`].
pub async fn attachment_room(
    state: &AppState,
    id: &SessionId,
    party: Party,
    agent: Option<&str>,
    per_session: usize,
) -> Result<SessionHandle, AttachRefusal> {
    let live = match get(state, id).await {
        Ok(Some(live)) => live,
        Ok(None) => return Err(AttachRefusal::Unknown),
        Err(e) => {
            tracing::error!(session = %id, error = %e, "loading a session failed");
            return Err(AttachRefusal::Internal);
        }
    };
    room(state, &*live.lock().await, party, agent, per_session)?;
    Ok(live)
}

/// [`attachment_room`]'s checks on a locked session.
fn room(
    state: &AppState,
    l: &LiveSession,
    party: Party,
    agent: Option<&str>,
    per_session: usize,
) -> Result<(), AttachRefusal> {
    if l.log.is_ended() {
        return Err(AttachRefusal::Ended);
    }
    if party == Party::Agent && l.record.agent_id.as_ref().map(AgentId::as_str) != agent {
        return Err(AttachRefusal::NotHeld);
    }
    let files = l
        .log
        .events_after(Seq::ZERO)
        .iter()
        .filter(|e| matches!(e.event, SessionEvent::Attachment { .. }))
        .count();
    let limits = &state.config.limits;
    let (events, bytes) = l.size();
    if files >= per_session
        || events >= limits.max_events_per_session
        || bytes >= limits.max_bytes_per_session
    {
        return Err(AttachRefusal::Full);
    }
    Ok(())
}

/// Appends the `attachment` event of a stored file, as `party`'s, under the session's
/// lock after checking again what [`attachment_room`] checked; both parties' connections
/// get it. Returns its sequence number.
pub async fn append_attachment(
    state: &AppState,
    live: &SessionHandle,
    party: Party,
    agent: Option<&str>,
    per_session: usize,
    event: SessionEvent,
) -> Result<Seq, AttachRefusal> {
    let mut l = live.lock().await;
    room(state, &l, party, agent, per_session)?;
    let head = l.log.head();
    let ev = l
        .log
        .append(state.now(), event)
        .map_err(|_| AttachRefusal::Ended)?;
    let seq = ev.seq;
    if apply(state, &mut l, head, vec![Effect::Append(ev)], party, None).await {
        Ok(seq)
    } else {
        Err(AttachRefusal::Internal)
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
    call: Option<interact_sdk::protocol::CallMedia>,
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
    // A call-first start is another start than the same form for a chat (and a chat's
    // key is what it was before call-first starts existed).
    if let Some(media) = call {
        let part = format!("call:{}", media.as_str());
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// How a new session comes: its channel, for a call-first session the call's medium, and
/// what the host page said about it.
#[derive(Clone, Debug)]
pub struct Via {
    /// The widget, WhatsApp, ...
    pub channel: interact_model::Channel,
    /// Call-first: the visitor starts with a call of this medium.
    pub call: Option<interact_sdk::protocol::CallMedia>,
    /// The page address and attributes from `start_chat`, already validated.
    pub context: Option<interact_sdk::context::ChatContext>,
    /// The verified visitor's id (`identify` with a valid hash on the connection).
    pub visitor_id: Option<String>,
}

impl Via {
    /// A chat through `channel`.
    pub fn chat(channel: interact_model::Channel) -> Self {
        Self {
            channel,
            call: None,
            context: None,
            visitor_id: None,
        }
    }
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
    via: Via,
) -> Result<(SessionId, ResumeToken, SessionHandle), StoreError> {
    let Via {
        channel,
        call,
        context,
        visitor_id,
    } = via;
    let at = state.now();
    let id = SessionId::new(format!("s{}", hex::encode(auth::random_128())))
        .unwrap_or_else(|e| unreachable!("hex ids are valid: {e}"));
    let token = auth::random_token();
    let config = state
        .tenant()
        .widget_config(&code.target, interact_sdk::config::Availability::Open)
        .ok_or_else(|| StoreError::NotFound(code.target.to_string()))?;
    let mut log = SessionLog::new(id.clone(), config.modalities);
    let started = SessionEvent::Started {
        context: context.map(Box::new),
        visitor: visitor_info(
            &form.display_name,
            &form.email,
            channel,
            origin,
            visitor_id.as_deref(),
        ),
        consent: Consent {
            policy_version: form.consent_version.clone(),
            at,
        },
        target: config.target.clone(),
        call,
    };
    let record = SessionRecord {
        channel,
        visitor_id,
        id: id.clone(),
        embed_code: code.code.clone(),
        target: code.target.clone(),
        start_id: format!("{start_id} {id}"),
        start_key: Some(start_key),
        visitor_seen_at: None,
        token_hash: auth::token_hash(&token),
        visitor_name: form.display_name.clone(),
        visitor_email: form.email.clone(),
        consent_version: form.consent_version.clone(),
        consent_at: at,
        origin: origin.to_owned(),
        agent_id: None,
        created_at: at,
        ended: None,
    };
    let mut events = vec![
        log.append(at, started)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    ];
    // In the widget, the workflow's greeting comes before the first message the form
    // sent with the start. (On WhatsApp the customer's message came first: the greeting
    // answers it, sent as the run starts.)
    let greeting = if channel == interact_model::Channel::Widget {
        crate::node::flow::greeting(
            state,
            &record,
            call.is_some(),
            form.first_message.as_deref(),
            at,
        )
    } else {
        Vec::new()
    };
    for event in greeting {
        events.push(
            log.append(at, event)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
    }
    if let Some(text) = form.first_message.clone() {
        let frame = interact_sdk::protocol::ClientFrame::Send {
            session: None,
            id: interact_sdk::ids::MessageId::new(start_id)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            text,
            after: None,
        };
        if let Ok(effects) = log.handle(at, Party::Visitor, &frame) {
            events.extend(effects.into_iter().filter_map(|e| match e {
                Effect::Append(ev) => Some(ev),
                _ => None,
            }));
        }
    }
    let encoded: Vec<EncodedEvent> = events.iter().map(EncodedEvent::new).collect();
    state.store.create_session(&record, &encoded).await?;
    crate::node::webhooks::notify(
        state,
        crate::node::webhooks::SESSION_STARTED,
        serde_json::json!({
            "session": record.id,
            "target": record.target.to_string(),
            "visitor": {"name": record.visitor_name, "email": record.visitor_email},
            "origin": record.origin,
            "created_at": record.created_at.0,
        }),
    )
    .await;
    let epoch = match state.hub.cluster() {
        Some(c) => Some(state.store.claim_session(&id, &c.node, at).await?),
        None => None,
    };
    state.metrics.active_sessions.inc();
    for e in &events {
        count(state, record.channel, &e.event);
    }
    state
        .metrics
        .sessions_started
        .get_or_create(&crate::metrics::ChannelLabel {
            channel: record.channel.as_str(),
        })
        .inc();
    tracing::info!(session = %id, target = %record.target, origin = %record.origin, channel = %record.channel, call = ?call, "session started");
    let rate = state.config.limits.messages_per_second_per_session;
    let mut new = LiveSession::new(log, record, rate, state.instant());
    new.epoch = epoch;
    tell_webhooks(state, &new, events.iter()).await;
    let live = state.hub.insert_session_with(new, false);
    {
        let mut l = live.lock().await;
        start_work(state, &live, &mut l).await;
    }
    Ok((id, ResumeToken::new(token), live))
}

/// Starts the work of the session's target, for a new session or one just transferred:
/// the run of its service's workflow ([`crate::node::flow::new_run`]), fed `Started`
/// (a session whose service has a workflow waits for its Queue Task), or without one
/// the target's queue at the default priority. The caller holds the session's lock (the
/// hub routes the session already) and runs [`dispatch`] afterwards.
pub async fn start_work(state: &AppState, handle: &SessionHandle, live: &mut LiveSession) {
    live.run = crate::node::flow::new_run(state, live);
    // A new run's path and answers start from nothing (after a transfer, the old run's
    // are recorded already).
    live.steps_recorded = 0;
    live.answers_recorded = 0;
    if live.run.is_some() {
        crate::node::flow::feed(state, handle, live, Input::Started).await;
    } else {
        let priority = interact_workflow::Priority::DEFAULT.get();
        state.hub.enqueue(&live.record.id, priority, state.now());
    }
}

/// The visitor as agents see them: for a channel other than the widget, the channel and
/// the phone number it came from (a WhatsApp session's origin is `whatsapp:+<number>`);
/// for a verified visitor, the website's id for them.
fn visitor_info(
    name: &str,
    email: &str,
    channel: interact_model::Channel,
    origin: &str,
    verified_id: Option<&str>,
) -> VisitorInfo {
    let other = channel != interact_model::Channel::Widget;
    VisitorInfo {
        display_name: name.to_owned(),
        email: email.to_owned(),
        channel: other.then(|| channel.as_str().to_owned()),
        phone: other
            .then(|| origin.split_once(':').map(|(_, number)| number.to_owned()))
            .flatten(),
        verified_id: verified_id.map(str::to_owned),
    }
}

/// Announces changed queue positions and offers waiting sessions to available agents.
pub fn dispatch(state: &AppState) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
    Box::pin(dispatch_now(state))
}

async fn dispatch_now(state: &AppState) {
    if state.hub.cluster().is_some() {
        // The router's work goes to each session's owner, wherever it is.
        for work in state.hub.take_work() {
            let work = match work {
                Output::Position { session, position } => ToOwner::Position { session, position },
                Output::Offer {
                    session,
                    agent,
                    expires_at,
                } => ToOwner::Offer {
                    session,
                    agent: agent.to_string(),
                    expires_at,
                    again: false,
                },
                Output::Withdraw { session, .. } => ToOwner::OfferLapsed { session },
                Output::Presence { .. } => continue,
            };
            tracing::debug!(?work, "routing work for a session's owner");
            let state = state.clone();
            tokio::spawn(async move {
                at_owner(&state, work).await;
            });
        }
        return;
    }
    for work in state.hub.take_work() {
        match work {
            Output::Position { session, position } => {
                announce_position(state, &session, position).await
            }
            Output::Offer {
                session,
                agent,
                expires_at,
            } => offer(state, &session, &agent, expires_at, false).await,
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

/// Sends the offer of `id` to `agent` and arms its time-out; `again` when it was sent
/// before (the workflow and the report heard of it then).
async fn offer(state: &AppState, id: &SessionId, agent: &str, expires_at: UnixMillis, again: bool) {
    let Ok(Some(live)) = get(state, id).await else {
        return;
    };
    let offer = {
        let live = live.lock().await;
        let first_message = live.first_visitor_message();
        let Some(config) = state.tenant().widget_config(
            &live.record.target,
            interact_sdk::config::Availability::Open,
        ) else {
            return;
        };
        Offer {
            session: id.clone(),
            visitor: visitor_info(
                &live.record.visitor_name,
                &live.record.visitor_email,
                live.record.channel,
                &live.record.origin,
                live.record.visitor_id.as_deref(),
            ),
            target: config.target,
            first_message,
            call: live.log.call_first(),
            expires_at,
        }
    };
    state.hub.send_to_agent(agent, &ServerFrame::Offer(offer));
    if again {
        return;
    }
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
        if l.record.agent_id.as_ref() == Some(&agent.id) && !l.log.is_ended() {
            // Accepted already (a repeat, or a node that asked twice): the same answer.
            state.hub.replay_to_agent(user, id, Seq::ZERO);
            return Ok(());
        }
        // Taken under the session's lock: the offer cannot lapse between the check and
        // the agent's `agent_joined`.
        match state.hub.cluster() {
            Some(c) if !c.is_leading() => c.ask_accept(id, user).await,
            _ => state
                .hub
                .accept(id, user, state.now())
                .map_err(|e| e.to_string()),
        }
        .map_err(|e| refuse(&e))?;
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
        if let Err(e) = append(state, &mut l, std::slice::from_ref(&encoded)).await {
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
        // How long the visitor waited for an agent (from the queue, or from the start
        // where an agent was offered it at once): what the widget tells the next ones.
        let since = l.queued_since().unwrap_or(l.record.created_at);
        let waited = state.now().0.saturating_sub(since.0);
        state.hub.note_wait(&l.record.target, waited);
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

/// Why `by` may not transfer the session `live` holds to `to`, if they may not: the rules
/// of an agent's transfer, in one place (docs/protocol.md §6.12).
///
/// - the session has ended: `session_ended`;
/// - `by` is not the session's agent: `not_allowed`;
/// - the tenant has no such service or user: `invalid_field`;
/// - the session is for that target already, or `by` transfers it to themselves, or to a
///   user who takes no chats (no Instant Messaging licence, or chat not enabled):
///   `not_allowed`;
/// - to a user while a call is in progress (ringing or answered): `not_allowed` (calls are
///   transferred to services only, as documented for calls from the widget).
pub fn transfer_refusal(
    state: &AppState,
    live: &LiveSession,
    by: &AgentInfo,
    to: &TransferTarget,
) -> Option<ErrorFrame> {
    let refuse = |code, message: &str| {
        Some(ErrorFrame::new(code, message).in_session(live.record.id.clone()))
    };
    if live.log.is_ended() {
        return refuse(ErrorCode::SessionEnded, "the session has ended");
    }
    if live.log.agent().map(|a| &a.id) != Some(&by.id) {
        return refuse(
            ErrorCode::NotAllowed,
            "only the session's agent may transfer it",
        );
    }
    let Some((target, _)) = transfer_target(state, to) else {
        return refuse(
            ErrorCode::InvalidField,
            match to.kind {
                TargetKind::Service => "no such service",
                TargetKind::User => "no such user",
            },
        );
    };
    if target == live.record.target {
        return refuse(ErrorCode::NotAllowed, "the session is there already");
    }
    if to.kind == TargetKind::User && to.id.as_str() == by.id.as_str() {
        return refuse(ErrorCode::NotAllowed, "not to yourself");
    }
    if let TargetRef::User(user) = &target
        && !state
            .tenant()
            .users
            .get(user)
            .is_some_and(interact_model::User::can_take_service_chats)
    {
        return refuse(ErrorCode::NotAllowed, "that person takes no chats");
    }
    // A call on, or a call-first session whose call is still owed (the documented limit of
    // calls from the widget: Transfer targets services only).
    if to.kind == TargetKind::User && (live.log.in_call() || live.log.call_task()) {
        return refuse(
            ErrorCode::NotAllowed,
            "calls are transferred to services only",
        );
    }
    None
}

/// The service or user a protocol target (`kind` and `id`) names.
fn target_ref(kind: TargetKind, id: &TargetId) -> TargetRef {
    match kind {
        TargetKind::Service => TargetRef::Service(id.as_str().into()),
        TargetKind::User => TargetRef::User(id.as_str().into()),
    }
}

/// The service or user `to` names: as routing knows it, and as `transferred` shows it.
fn transfer_target(state: &AppState, to: &TransferTarget) -> Option<(TargetRef, TargetInfo)> {
    let target = target_ref(to.kind, &to.id);
    let info = target_info(state, &target)?;
    Some((target, info))
}

/// A service or user of the tenant as `transferred` events show it; `None` if the
/// tenant has no such target.
pub fn target_info(state: &AppState, target: &TargetRef) -> Option<TargetInfo> {
    let tenant = state.tenant();
    let (kind, id, display_name) = match target {
        TargetRef::Service(id) => (
            TargetKind::Service,
            id.as_str(),
            tenant.services.get(id)?.config.display_name.clone(),
        ),
        TargetRef::User(id) => (
            TargetKind::User,
            id.as_str(),
            tenant.users.get(id)?.config.display_name.clone(),
        ),
    };
    Some(TargetInfo {
        kind,
        id: TargetId::new(id).ok()?,
        display_name,
    })
}

/// The session's target as `transferred` shows where it came from: by its id if the
/// tenant no longer has it.
pub fn from_info(state: &AppState, target: &TargetRef) -> Option<TargetInfo> {
    target_info(state, target).or_else(|| {
        let (kind, id) = match target {
            TargetRef::Service(id) => (TargetKind::Service, id.as_str()),
            TargetRef::User(id) => (TargetKind::User, id.as_str()),
        };
        Some(TargetInfo {
            kind,
            id: TargetId::new(id).ok()?,
            display_name: id.to_owned(),
        })
    })
}

/// The agent `by` transfers session `id` (which they hold; the caller checked) to `to`.
/// Refused on `conn` as [`transfer_refusal`] says; else, under the session's lock and
/// in one append, `transferred` and `by`'s `agent_left` (any call ends, `by` is told and
/// hears nothing more of the session), then the session is the new target's: stored so
/// (a restart keeps it), handed to routing for that target, and its work started there
/// ([`start_work`]: the target's workflow, or its queue).
pub async fn transfer(
    state: &AppState,
    by: &AgentInfo,
    id: &SessionId,
    to: &TransferTarget,
    conn: &Conn,
) {
    let handle = match get(state, id).await {
        Ok(Some(handle)) => handle,
        Ok(None) => {
            conn.send(&ServerFrame::Error(
                ErrorFrame::new(ErrorCode::UnknownSession, "no such session")
                    .in_session(id.clone()),
            ));
            return;
        }
        Err(e) => {
            tracing::error!(session = %id, error = %e, "loading a session failed");
            conn.send(&ServerFrame::Error(internal(id)));
            return;
        }
    };
    {
        let mut l = handle.lock().await;
        l.touched = state.instant();
        if let Some(e) = transfer_refusal(state, &l, by, to) {
            state.metrics.reject("transfer_refused");
            conn.send(&ServerFrame::Error(e));
            return;
        }
        let (Some((target, to_info)), Some(from), Some(agent)) = (
            transfer_target(state, to),
            from_info(state, &l.record.target),
            l.log.agent().cloned(),
        ) else {
            return;
        };
        let at = state.now();
        let head = l.log.head();
        let transferred = SessionEvent::Transferred {
            by: Some(by.clone()),
            from,
            to: to_info,
        };
        let events: Result<Vec<Effect>, _> = [transferred, SessionEvent::AgentLeft { agent }]
            .into_iter()
            .map(|e| l.log.append(at, e).map(Effect::Append))
            .collect();
        let Ok(events) = events else {
            l.log.truncate(head);
            conn.send(&ServerFrame::Error(internal(id)));
            return;
        };
        if !apply(state, &mut l, head, events, Party::Agent, Some(conn)).await {
            return;
        }
        crate::crash::point("transfer.events_stored");
        if let Err(e) = state.store.transfer_session(id, &target).await {
            tracing::error!(session = %id, error = %e, "storing the session's new target failed");
        }
        tracing::info!(session = %id, agent = %by.id, to = %target, "session transferred");
        state.hub.retarget(id, target.clone());
        l.record.target = target;
        l.record.agent_id = None;
        if let Some(t) = l.timer.take() {
            t.abort();
        }
        start_work(state, &handle, &mut l).await;
    }
    dispatch(state).await;
}

/// The agent declines an offered session; it goes to the next agent.
pub async fn decline(state: &AppState, agent: &AgentId, id: &SessionId) {
    if state.hub.decline(id, agent.as_str()) {
        if state.hub.cluster().is_some() {
            at_owner(
                state,
                ToOwner::OfferLapsed {
                    session: id.clone(),
                },
            )
            .await;
        } else {
            crate::node::flow::feed_session(state, id, interact_workflow::Input::OfferTimedOut)
                .await;
        }
        dispatch(state).await;
    }
}

/// The head of every session the agent handles (for its `welcome`).
pub async fn agent_heads(
    state: &AppState,
    user: &str,
) -> Result<std::collections::BTreeMap<SessionId, Seq>, StoreError> {
    let mut heads = std::collections::BTreeMap::new();
    for id in agent_sessions(state, user).await? {
        if let Some((head, _)) = peek(state, &id).await? {
            heads.insert(id, head);
        }
    }
    Ok(heads)
}

/// The open sessions the agent handles: from the router, or, on a node of a cluster
/// (whose router may be elsewhere), from the database.
pub async fn agent_sessions(state: &AppState, user: &str) -> Result<Vec<SessionId>, StoreError> {
    if state.hub.cluster().is_none() {
        return Ok(state.hub.agent_sessions(user));
    }
    Ok(state
        .store
        .open_sessions()
        .await?
        .into_iter()
        .filter(|r| r.agent_id.as_ref().is_some_and(|a| a.as_str() == user))
        .map(|r| r.id)
        .collect())
}

/// A session's head and whether a call is on in it, without moving it to this node.
pub async fn peek(state: &AppState, id: &SessionId) -> Result<Option<(Seq, bool)>, StoreError> {
    if elsewhere(state, id) {
        return Ok(read(state, id)
            .await?
            .map(|l| (l.log.head(), l.log.in_call())));
    }
    Ok(match get(state, id).await? {
        Some(live) => {
            let l = live.lock().await;
            Some((l.log.head(), l.log.in_call()))
        }
        None => None,
    })
}

/// Has the owner of session `work.session()` do `work`: this node if it holds the
/// session; else, in a cluster, the node its lease names; if that node does not answer
/// for it, this node claims the session and does the work itself. Returns the encoded
/// frames for the connection the work came from.
pub async fn at_owner(state: &AppState, work: ToOwner) -> Vec<String> {
    let id = work.session().clone();
    if let Some(c) = state.hub.cluster().cloned()
        && state.hub.session(&id).is_none()
    {
        match state.store.session_owner(&id).await {
            Ok(Some((node, _))) if node != c.node => {
                if let Some(OwnerReply::Done { frames }) = c.ask_owner(&node, &work).await {
                    return frames;
                }
                tracing::info!(session = %id, owner = %node, "the session's owner does not answer for it: claiming it");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(session = %id, error = %e, "looking up a session's owner failed");
                return vec![interact_sdk::protocol::encode(&ServerFrame::Error(
                    internal(&id),
                ))];
            }
        }
    }
    owner_work(state, work).await
}

/// Does `work` in a session as its owner (loading and claiming it if needed); the
/// encoded frames for the connection the work came from.
pub async fn owner_work(state: &AppState, work: ToOwner) -> Vec<String> {
    let mut frames = Vec::new();
    match work {
        ToOwner::Frame {
            session,
            agent,
            frame,
        } => {
            let (conn, mut ends) = state.hub.new_conn();
            agent_frame_here(state, &agent, &session, frame, &conn).await;
            while let Ok(out) = ends.rx.try_recv() {
                if let Outgoing::Frame(text) = out {
                    frames.push(text.as_str().to_owned());
                }
            }
        }
        ToOwner::Position { session, position } => {
            announce_position(state, &session, position).await;
        }
        ToOwner::Offer {
            session,
            agent,
            expires_at,
            again,
        } => offer(state, &session, &agent, expires_at, again).await,
        ToOwner::OfferLapsed { session } => {
            if let Ok(Some(_)) = get(state, &session).await {
                crate::node::flow::feed_session(
                    state,
                    &session,
                    interact_workflow::Input::OfferTimedOut,
                )
                .await;
            }
        }
        ToOwner::Accept { session, agent } => {
            if let Err(e) = accept(state, &agent, &session).await {
                frames.push(interact_sdk::protocol::encode(&ServerFrame::Error(e)));
            }
        }
    }
    dispatch(state).await;
    frames
}

/// A session frame of `agent` in session `id`, handled here: refused unless the agent
/// is the session's.
async fn agent_frame_here(
    state: &AppState,
    agent: &AgentInfo,
    id: &SessionId,
    frame: ClientFrame,
    conn: &Conn,
) {
    let held_by = |live: &LiveSession| live.record.agent_id.as_ref() == Some(&agent.id);
    let copy = get(state, id).await.ok().flatten();
    let mut holds = match &copy {
        Some(live) => held_by(&*live.lock().await),
        None => false,
    };
    if !holds
        && state.hub.cluster().is_some()
        && let Ok(Some(record)) = state.store.session(id).await
        && record.agent_id.as_ref() == Some(&agent.id)
    {
        // This copy predates the agent's `accept` on another node: read it again (a
        // message of the agent that later ones wait for still waits).
        let hold = match &copy {
            Some(live) => live.lock().await.agent_hold(),
            None => None,
        };
        state.hub.forget(id);
        holds = match get(state, id).await {
            Ok(Some(live)) => {
                let mut l = live.lock().await;
                l.set_agent_hold(hold);
                held_by(&l)
            }
            _ => false,
        };
    }
    if holds {
        held_frame(state, agent, id, frame, conn).await;
        return;
    }
    let waiting = match state.store.session(id).await {
        Ok(Some(r)) => r.agent_id.is_none() && r.ended.is_none(),
        _ => false,
    };
    let mut e = match &frame {
        // A message in a session still waiting for an agent: this agent's `accept` may be
        // on its way (the connection it came on was cut while a node carried it out, and
        // the client sends its messages again on a new one). Refused for now, as over a
        // rate: the client holds it and sends it again a little later.
        ClientFrame::Send { id: message, .. } if waiting && state.hub.cluster().is_some() => {
            // Later messages of the agent wait for this one (the order of a party's
            // messages is kept across refusals: docs/protocol.md).
            if let Some(live) = &copy {
                live.lock()
                    .await
                    .hold_send(Party::Agent, message, state.instant());
            }
            let mut e = ErrorFrame::new(
                ErrorCode::RateLimited,
                "this session is not yours yet (your accept may be on its way); send it again in a moment",
            );
            e.id = Some(message.clone());
            e
        }
        _ => not_held(id, &frame),
    };
    e.session = Some(id.clone());
    conn.send(&ServerFrame::Error(e));
}

/// A session frame of `agent` in session `id`, which they hold: a transfer, or the
/// frames of the session's log.
async fn held_frame(
    state: &AppState,
    agent: &AgentInfo,
    id: &SessionId,
    frame: ClientFrame,
    conn: &Conn,
) {
    match frame {
        ClientFrame::Transfer { to, .. } => transfer(state, agent, id, &to, conn).await,
        frame => handle_frame(state, id, Party::Agent, frame, conn).await,
    }
}

/// The answer to an agent's frame in a session they do not hold: `unknown_session`; for
/// a transfer `not_allowed` (only the session's agent may transfer it), naming the
/// session. (On one node `unknown_session` names none, as it always did: the agent's
/// machine then keeps its messages and sends them again, which a session it is about to
/// hold again after a restart needs.)
fn not_held(id: &SessionId, frame: &ClientFrame) -> ErrorFrame {
    match frame {
        ClientFrame::Transfer { .. } => ErrorFrame::new(
            ErrorCode::NotAllowed,
            "only the session's agent may transfer it",
        )
        .in_session(id.clone()),
        _ => ErrorFrame::new(ErrorCode::UnknownSession, "name a session you handle"),
    }
}

/// An agent's session frame (not `sync`), on the node the agent is connected to: handled
/// here on one node; in a cluster, by the session's owner, whose answer goes to `conn`.
pub async fn agent_frame(
    state: &AppState,
    agent: &AgentInfo,
    id: &SessionId,
    frame: ClientFrame,
    conn: &Conn,
) {
    if state.hub.cluster().is_none() {
        if state.hub.holds(agent.id.as_str(), id) {
            held_frame(state, agent, id, frame, conn).await;
        } else {
            conn.send(&ServerFrame::Error(not_held(id, &frame)));
        }
        return;
    }
    let work = ToOwner::Frame {
        session: id.clone(),
        agent: agent.clone(),
        frame,
    };
    for text in at_owner(state, work).await {
        conn.send_text(axum::extract::ws::Utf8Bytes::from(text));
    }
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
    // A copy fenced by another node's claim is dropped: the second try reloads (and
    // claims) the session.
    for _ in 0..2 {
        if !handle_frame_once(state, sid, party, frame.clone(), conn).await {
            return;
        }
    }
    conn.send(&ServerFrame::Error(internal(sid)));
}

/// [`handle_frame`] once; `true` if this node's copy of the session turned out stale.
async fn handle_frame_once(
    state: &AppState,
    sid: &SessionId,
    party: Party,
    frame: ClientFrame,
    conn: &Conn,
) -> bool {
    let live = match get(state, sid).await {
        Ok(Some(live)) => live,
        Ok(None) => {
            let mut e = ErrorFrame::new(ErrorCode::UnknownSession, "no such session");
            e.session = Some(sid.clone());
            conn.send(&ServerFrame::Error(e));
            return false;
        }
        Err(e) => {
            tracing::error!(session = %sid, error = %e, "loading a session failed");
            conn.send(&ServerFrame::Error(
                ErrorFrame::new(ErrorCode::Internal, "try again later").in_session(sid.clone()),
            ));
            return false;
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
            return false;
        }
        // A message whose predecessor has not arrived waits for it (and costs no rate).
        if !l.log.is_ended()
            && let Some(e) = l.log.out_of_order(party, &frame)
        {
            state.metrics.reject("message_out_of_order");
            conn.send(&ServerFrame::Error(e));
            return false;
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
            return false;
        }
        // A WhatsApp reply outside the 24-hour customer service window would be refused
        // by WhatsApp: it is refused here, with the reason, and not stored.
        if party == Party::Agent
            && let Some(id) = &msg_id
            && l.log.message_seq(party, id).is_none()
            && let Err(why) = crate::node::whatsapp::may_reply(&l, state.now())
        {
            state.metrics.reject("whatsapp_window_closed");
            refuse(ErrorCode::NotAllowed, &why);
            return false;
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
                if l.fenced {
                    return true;
                }
                if stored && let Some(input @ Input::VisitorMessage(_)) = input {
                    crate::crash::point("session.visitor_message_stored");
                    crate::node::flow::feed(state, &live, &mut l, input).await;
                    fed = true;
                }
            }
        }
    }
    if ends || fed {
        dispatch(state).await;
    }
    false
}
