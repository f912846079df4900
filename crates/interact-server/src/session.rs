//! Session operations that join the SDK's session log, the store and the hub. Every
//! change to a session follows one rule: lock the session, append to its log, store the
//! new events durably, and only then send anything.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use interact_sdk::form::ValidForm;
use interact_sdk::ids::{AgentId, ResumeToken, Seq, SessionId};
use interact_sdk::protocol::{
    AgentInfo, CallSignal, Consent, ErrorCode, ErrorFrame, Offer, Party, ServerFrame, SessionEvent,
    VisitorInfo,
};
use interact_sdk::relay::{Effect, SessionLog};
use interact_sdk::time::UnixMillis;

use crate::auth;
use crate::hub::{Conn, Live, LiveRef};
use crate::routing::Output;
use crate::state::{AppState, now};
use crate::store::{EmbedCodeRecord, EncodedEvent, SessionRecord, StoreError};

fn internal(session: &SessionId) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::Internal,
        "the server could not store this; send it again",
    )
    .in_session(session.clone())
}

/// Loads a session (ended ones too) from the store into the hub, for a resume.
pub async fn load(state: &AppState, id: &SessionId) -> Result<Option<LiveRef>, StoreError> {
    let Some(record) = state.store.session(id).await? else {
        return Ok(None);
    };
    let events = state.store.events(id).await?;
    let modalities = state.tenant.modalities(&record.target);
    let log = SessionLog::restore(id.clone(), modalities, events)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rate = state.config.limits.messages_per_second_per_session;
    Ok(Some(state.hub.insert_session(Live::new(log, record, rate))))
}

/// Loads every session that has not ended into the hub (after a start or restart). A
/// session with a stored workflow run gets its run back ([`crate::drive::resume`]: it
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
                let live = Live::new(log, record, rate);
                let live = state.hub.insert_session_with(live, run.is_none());
                state.metrics.active_sessions.inc();
                if let Some(run) = run {
                    crate::drive::resume(state, &live, run).await;
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
    live: &mut Live,
    head_before: Seq,
    effects: Vec<Effect>,
    from: Party,
    reply: Option<&Conn>,
) -> bool {
    let id = &live.record.id;
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
                if let Some(e) = encoded.next() {
                    state.hub.broadcast_text(id, e.frame());
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

/// Appends a server event to a session (queue position, agent joined, ...).
pub async fn append_system(state: &AppState, live: &LiveRef, event: SessionEvent) -> bool {
    let mut live = live.lock().await;
    let head = live.log.head();
    match live.log.append(now(), event) {
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

/// Creates a session from a validated form; returns its id, resume token and events.
pub async fn create(
    state: &AppState,
    code: &EmbedCodeRecord,
    origin: &str,
    start_id: &str,
    form: ValidForm,
) -> Result<(SessionId, ResumeToken, LiveRef), StoreError> {
    let at = now();
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
    let mut new = Live::new(log, record, rate);
    new.run = crate::drive::new_run(state, &new);
    // A session whose service has a workflow waits for its Queue Task.
    let queue = new.run.is_none();
    let live = state.hub.insert_session_with(new, queue);
    if !queue {
        let mut l = live.lock().await;
        crate::drive::feed(state, &live, &mut l, crate::workflow::Input::Started).await;
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
                crate::drive::feed_session(state, &session, crate::workflow::Input::OfferTimedOut)
                    .await;
            }
            Output::Presence { .. } => {}
        }
    }
}

/// Tells a waiting session (and its workflow) its new queue position.
async fn announce_position(state: &AppState, id: &SessionId, position: u32) {
    let Some(live) = state.hub.session(id) else {
        return;
    };
    append_system(state, &live, SessionEvent::Queued { position }).await;
    let mut l = live.lock().await;
    if l.run.is_some() {
        let input = crate::workflow::Input::QueueUpdate { position };
        crate::drive::feed(state, &live, &mut l, input).await;
    }
}

/// Sends the offer of `id` to `agent` and arms its time-out.
async fn offer(state: &AppState, id: &SessionId, agent: &str, expires_at: UnixMillis) {
    let Some(live) = state.hub.session(id) else {
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
    let offered = crate::workflow::Input::Offered {
        agent: agent.to_owned(),
    };
    crate::drive::feed_session(state, id, offered).await;
}

/// Wakes distribution when it asks to (offers lapse, coalesced queue positions are due):
/// one task per server, for as long as it runs.
///
/// It also sweeps once a second: work the router produced where no caller dispatched
/// afterwards (an offer for an agent freed by a session's end, say) waits no longer.
pub async fn run_timers(state: AppState) {
    const SWEEP: Duration = Duration::from_secs(1);
    loop {
        let changed = state.hub.timeout_changed();
        // A little after the deadline: the wall clock and tokio's may differ by a
        // millisecond.
        let wait = state.hub.next_timeout().map_or(SWEEP, |at| {
            Duration::from_millis(at.0.saturating_sub(now().0) + 2).min(SWEEP)
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                state.hub.expire_offers(now());
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
    let live = state
        .hub
        .session(id)
        .ok_or_else(|| refuse("no such session"))?;
    {
        let mut l = live.lock().await;
        // Taken under the session's lock: the offer cannot lapse between the check and
        // the agent's `agent_joined`.
        state
            .hub
            .accept(id, user, now())
            .map_err(|e| refuse(&e.to_string()))?;
        let head = l.log.head();
        let appended = l.log.append(
            now(),
            SessionEvent::AgentJoined {
                agent: agent.clone(),
            },
        );
        let ev = match appended {
            Ok(ev) => ev,
            Err(_) => {
                state.hub.requeue(id, now());
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
            state.hub.requeue(id, now());
            drop(l);
            dispatch(state).await;
            return Err(internal(id));
        }
        if let Err(e) = state.store.set_session_agent(id, &agent.id).await {
            tracing::error!(session = %id, error = %e, "storing the agent failed");
        }
        l.record.agent_id = Some(agent.id.clone());
        let accepted = crate::workflow::Input::Accepted {
            agent: user.to_owned(),
        };
        crate::drive::feed(state, &live, &mut l, accepted).await;
        tracing::info!(session = %id, agent = user, "session accepted");
        // The agent gets the whole transcript; the visitor the new event.
        for e in l.log.events_after(Seq::ZERO) {
            state
                .hub
                .send_to_agent(user, &ServerFrame::Event(e.clone()));
        }
        state.hub.send_text_to_visitor(id, encoded.frame());
    }
    dispatch(state).await;
    Ok(())
}

/// The agent declines an offered session; it goes to the next agent.
pub async fn decline(state: &AppState, agent: &AgentId, id: &SessionId) {
    if state.hub.decline(id, agent.as_str()) {
        crate::drive::feed_session(state, id, crate::workflow::Input::OfferTimedOut).await;
        dispatch(state).await;
    }
}

/// Replays what an agent missed in the sessions they hold.
pub async fn replay_for_agent(
    state: &AppState,
    user: &str,
    resume: &std::collections::BTreeMap<SessionId, Seq>,
) {
    for id in state.hub.agent_sessions(user) {
        if let Some(live) = state.hub.session(&id) {
            let live = live.lock().await;
            let after = resume.get(&id).copied().unwrap_or(Seq::ZERO);
            for e in live.log.events_after(after) {
                state
                    .hub
                    .send_to_agent(user, &ServerFrame::Event(e.clone()));
            }
        }
    }
}

/// Records an offer for reporting (the event log does not hold offers), in the
/// background: the offer is already on its way and a failure only costs the report's
/// `offered_at`.
fn record_offer(state: &AppState, session: &SessionId) {
    let store = state.store.clone();
    let session = session.clone();
    let at = now();
    tokio::spawn(async move {
        if let Err(e) = store.record_offer(&session, at).await {
            tracing::warn!(session = %session, error = %e, "recording the offer failed");
        }
    });
}
