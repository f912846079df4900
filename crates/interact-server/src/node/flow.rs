//! Drives a service's Instant Messaging workflow ([`interact_workflow::WorkflowRun`]) for
//! its live chat sessions: feeds it what happens in the session and carries out the
//! actions it asks for, under the session's lock.
//!
//! - One run per live session, kept beside the session's log in [`LiveSession::run`], with at
//!   most one tokio timer ([`LiveSession::timer`]).
//! - Messages and questions are appended as `message` events `from: system` with the
//!   service's display name as `author`, stored and then sent like every other event.
//! - A session whose service has a workflow joins the queue only when the workflow says
//!   so (Queue Task), with its priority; sessions of services without one are queued at
//!   once.
//! - Every step the run takes is recorded as the session's workflow path, and an end the
//!   workflow decides (Disconnect, Transfer) is recorded as the reporting outcome.
//! - Every answer a Collect Information step saves is stored for the agents
//!   ([`interact_store::Store::put_session_answer`]: the parameter, the question as asked,
//!   the value and the `seq` of the visitor's message that gave it), where it outlives the
//!   run; agents read it with `GET /v1/agent/sessions/{id}/answers`.
//! - Runs survive a restart: after every input that changed it, the run's state
//!   ([`interact_workflow::RunSnapshot`], deadlines as wall-clock instants) is stored with
//!   the workflow's name and fingerprint ([`interact_store::Store::put_workflow_run`]); it
//!   is forgotten when the run or the session ends. At a start (or a claim by another
//!   node), [`resume`] gives each restored session its run back, on the workflow version
//!   it started with (the current one or a stored older one:
//!   [`crate::node::workflows::version`]): a queued task is queued again with its
//!   priority, a timer is re-armed for the same instant (at once if it is past), a Web
//!   Request in flight counts as failed. If that version is nowhere to be found, the
//!   session ends as `failed` (the reporting outcome too) after a system message to the
//!   visitor ([`CANNOT_CONTINUE`]). A session whose run was over (or never stored) is
//!   restored as a plain session.
//! - Web Request makes an HTTP/1 request (`http://` or `https://`, TLS by rustls against
//!   Mozilla's roots and `[web_requests] ca_file`) with the server's one client, off the
//!   session's lock, within the step's timeout, reading at most [`MAX_WEB_BODY`](super::web::MAX_WEB_BODY) of the
//!   answer; anything else counts as `WebFailed`.
//! - Transfer hands the waiting session to the other service's queue (its members get
//!   the offer); that service's own workflow does not run for it, and the report
//!   records the outcome `transferred`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use interact_sdk::ids::MessageId;
use interact_sdk::protocol::{EndReason, Party, SessionEvent};
use interact_sdk::relay::Effect;

use crate::node::hub::{LiveSession, SessionHandle};
use crate::node::state::AppState;
use interact_model::TargetRef;
use interact_sdk::time::UnixMillis;
use interact_store::{AnswerRecord, SessionRecord, WorkflowRunRecord};
use interact_workflow::{
    Action, HttpRequest, Input, Outcome, Params, RunSnapshot, Workflow, WorkflowRun,
};

/// The workflow the service of `target` names now for a session of this kind: its
/// Audio/Video workflow (`av_workflow`) for a call-first session, its IM workflow
/// (`workflow`) for a chat.
fn service_workflow(
    state: &AppState,
    target: &TargetRef,
    call_first: bool,
) -> Option<Arc<Workflow>> {
    let TargetRef::Service(service) = target else {
        return None;
    };
    let tenant = state.tenant();
    let config = &tenant.services.get(service)?.config;
    let name = if call_first {
        config.av_workflow.as_ref()?
    } else {
        config.workflow.as_ref()?
    };
    state.workflows.get(name)
}

/// Creates the run of the session's workflow, if its service has one.
pub fn new_run(state: &AppState, live: &LiveSession) -> Option<WorkflowRun> {
    let call_first = live.log.call_first().is_some();
    let workflow = service_workflow(state, &live.record.target, call_first)?;
    let first_message = live.first_visitor_message();
    let params = run_params(&live.record, first_message.as_deref())?;
    Some(WorkflowRun::new(workflow, params))
}

/// What a run of the session's workflow knows from the start: the visitor's name and
/// e-mail, the service, the session and the visitor's first message.
fn run_params(record: &SessionRecord, first_message: Option<&str>) -> Option<Params> {
    let TargetRef::Service(service) = &record.target else {
        return None;
    };
    let mut params = Params::from([
        ("visitor_name".to_owned(), record.visitor_name.clone()),
        ("service".to_owned(), service.to_string()),
        ("session".to_owned(), record.id.to_string()),
        ("visitor_email".to_owned(), record.visitor_email.clone()),
    ]);
    if let Some(text) = first_message {
        params.insert("first_message".to_owned(), text.to_owned());
    }
    Some(params)
}

/// The messages a new session's workflow sends before it does anything else (its
/// greeting), as the `message` events its run makes of them, ids included.
///
/// [`crate::node::session::create`] stores them with the session, before the visitor's
/// first message, so the greeting is read first. The run that starts right after sends
/// the same messages under the same ids and finds them stored already (`system_message`).
pub fn greeting(
    state: &AppState,
    record: &SessionRecord,
    call_first: bool,
    first_message: Option<&str>,
    at: UnixMillis,
) -> Vec<SessionEvent> {
    let Some(workflow) = service_workflow(state, &record.target, call_first) else {
        return Vec::new();
    };
    let Some(params) = run_params(record, first_message) else {
        return Vec::new();
    };
    let mut run = WorkflowRun::new(workflow, params);
    run.handle(at, Input::Started);
    let author = system_author(state, &record.target);
    let mut messages = Vec::new();
    while let Some(Action::SendMessage { text }) = run.poll_action() {
        let Ok(id) = MessageId::new(format!("wf-a{}", run.action_number())) else {
            break;
        };
        messages.push(SessionEvent::Message {
            id,
            from: Party::System,
            author: author.clone(),
            text,
        });
    }
    messages
}

/// Who the workflow's messages are from: the service's display name.
fn system_author(state: &AppState, target: &TargetRef) -> Option<String> {
    match target {
        TargetRef::Service(s) => state
            .tenant()
            .services
            .get(s)
            .map(|s| s.config.display_name.clone()),
        TargetRef::User(_) => None,
    }
}

/// Feeds `input` to the session's run (if it has one) and carries out its actions.
/// The caller holds the session's lock and runs [`crate::node::session::dispatch`] afterwards
/// (the queue may have changed).
pub async fn feed(state: &AppState, handle: &SessionHandle, live: &mut LiveSession, input: Input) {
    let Some(mut run) = live.run.take() else {
        return;
    };
    let before = run.snapshot();
    run.handle(state.now(), input);
    // A message the run heard is the log's last visitor message.
    let seq = last_visitor_message(live);
    record_answers(state, live, &run, seq).await;
    carry_out(state, handle, live, run, Some(before)).await;
}

/// Carries out the run's actions, then keeps the run or, once it is done or the session
/// ended, drops it and its stored state.
///
/// The run's state is stored (when it differs from `saved`, what is stored already)
/// before its actions are carried out, with the actions, and again after them: a crash
/// in between resumes the run with the actions still to do, which are carried out again.
/// Repeats are harmless: a message's id is its action's number, so it is stored once;
/// queueing, a priority, leaving the queue and a transfer are the same when done twice.
async fn carry_out(
    state: &AppState,
    handle: &SessionHandle,
    live: &mut LiveSession,
    mut run: WorkflowRun,
    mut saved: Option<RunSnapshot>,
) {
    let mut keep = true;
    save_changes(state, live, &run, &mut saved).await;
    while let Some(action) = run.poll_action() {
        record_steps(state, live, &run).await;
        let number = Some(run.action_number());
        match action {
            Action::SendMessage { text } => system_message(state, live, number, text).await,
            Action::AskVisitor { question } => {
                system_message(state, live, number, question).await;
            }
            Action::StartTimer { at } => start_timer(state, handle, live, at),
            Action::QueryAgents => {
                let (available, busy) = state.hub.agent_counts(&live.record.target);
                run.handle(state.now(), Input::AgentsAvailable { available, busy });
                save_changes(state, live, &run, &mut saved).await;
            }
            Action::Queue { priority } => {
                // A run resumed after a restart queues again: in the queue since it first
                // was, so the restart costs no visitor their place.
                let since = live.queued_since().unwrap_or_else(|| state.now());
                state.hub.enqueue(&live.record.id, priority.get(), since);
            }
            Action::SetPriority { priority } => {
                state.hub.set_priority(&live.record.id, priority.get());
            }
            Action::CancelQueue => state.hub.dequeue(&live.record.id),
            Action::HttpRequest(req) => {
                let task = web_request(state.clone(), Arc::clone(handle), req);
                tokio::spawn(task);
            }
            Action::Transfer { service } => transfer(state, live, service).await,
            Action::Disconnect { outcome } => {
                let reason = match outcome {
                    Outcome::NoAgent => EndReason::NoAgent,
                    Outcome::Failed => EndReason::Failed,
                    _ => EndReason::Workflow,
                };
                record_outcome(state, live, outcome).await;
                append(state, live, SessionEvent::Ended { reason }).await;
            }
            Action::Accept => {
                // The chat stays with the queue: the run ends when an agent accepts.
            }
            Action::Done { end } => {
                tracing::info!(session = %live.record.id, outcome = end.outcome().as_str(), "workflow run done");
                keep = false;
            }
        }
    }
    record_steps(state, live, &run).await;
    if keep && !live.log.is_ended() {
        save_changes(state, live, &run, &mut saved).await;
        live.run = Some(run);
    } else {
        if let Some(t) = live.timer.take() {
            t.abort();
        }
        // Already gone if the session ended (the store forgets the run with the end).
        if let Err(e) = state.store.delete_workflow_run(&live.record.id).await {
            tracing::warn!(session = %live.record.id, error = %e, "forgetting the workflow run failed");
        }
    }
}

/// Stores the run's state if it differs from `saved` (and then remembers it there).
async fn save_changes(
    state: &AppState,
    live: &LiveSession,
    run: &WorkflowRun,
    saved: &mut Option<RunSnapshot>,
) {
    let snapshot = run.snapshot();
    if saved.as_ref() != Some(&snapshot) {
        save(state, live, run, &snapshot).await;
        *saved = Some(snapshot);
    }
}

/// A run's state as stored: the run's snapshot and how much of the session's log it has
/// heard (every visitor message up to that `seq`).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRun {
    #[serde(flatten)]
    run: RunSnapshot,
    /// Absent in states stored before it was: such a run counts as having heard all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heard_through: Option<u64>,
}

/// Stores the run's state, so that it resumes after a restart. A failure is logged: the
/// session goes on, and after a restart resumes from the state stored before.
///
/// The run has heard every visitor message in the log by now: each is fed to the run
/// under the session's lock right after it is stored, and this runs under that lock.
async fn save(state: &AppState, live: &LiveSession, run: &WorkflowRun, snapshot: &RunSnapshot) {
    let stored = StoredRun {
        run: snapshot.clone(),
        heard_through: Some(live.log.head().0),
    };
    let json = match serde_json::to_string(&stored) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(session = %live.record.id, error = %e, "encoding the workflow run failed");
            return;
        }
    };
    let record = WorkflowRunRecord {
        session: live.record.id.clone(),
        workflow: run.workflow().name().to_owned(),
        fingerprint: run.workflow().fingerprint().to_owned(),
        state: json,
        updated_at: state.now(),
    };
    if let Err(e) = state.store.put_workflow_run(&record).await {
        tracing::warn!(session = %live.record.id, error = %e, "storing the workflow run failed");
    }
}

/// What the visitor reads when their session's workflow cannot go on after a restart.
pub const CANNOT_CONTINUE: &str =
    "Sorry, this conversation cannot continue. Please start a new chat.";

/// Resumes the stored run of a session restored after a restart (the caller inserted it
/// in the hub without queueing it, and does not hold its lock). If its service still has
/// the workflow of the same name and fingerprint, the run goes on where it was: queued
/// again with its priority if it was, its timer re-armed, a Web Request in flight counted
/// as failed. If the workflow is gone or changed, the session ends as `failed` (the
/// reporting outcome too) after a message to the visitor.
pub async fn resume(state: &AppState, handle: &SessionHandle, stored: WorkflowRunRecord) {
    let mut live = handle.lock().await;
    let id = live.record.id.clone();
    if live.log.is_ended() || live.record.agent_id.is_some() {
        // The run was over (an agent took the chat) but its state was not forgotten.
        if let Err(e) = state.store.delete_workflow_run(&id).await {
            tracing::warn!(session = %id, error = %e, "forgetting the workflow run failed");
        }
        return;
    }
    // The version the run started with, current or not.
    let workflow =
        crate::node::workflows::version(state, &stored.workflow, &stored.fingerprint).await;
    let Some(workflow) = workflow else {
        tracing::warn!(session = %id, workflow = %stored.workflow, "the session's workflow version is nowhere to be found: the session ends as failed");
        cannot_continue(state, &mut live).await;
        return;
    };
    let run = serde_json::from_str::<StoredRun>(&stored.state)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            let heard = s.heard_through;
            WorkflowRun::resume(workflow, s.run, state.now())
                .map(|run| (run, heard))
                .map_err(|e| e.to_string())
        });
    match run {
        Ok((mut run, heard)) => {
            tracing::info!(session = %id, workflow = %stored.workflow, "workflow run resumed");
            live.steps_recorded = run.path().len();
            // Each answer in the stored state was stored before it (`feed`).
            live.answers_recorded = run.answers().len();
            // What the visitor wrote after the state was stored (a crash came before the
            // run heard it), in order.
            let heard = heard.map_or(live.log.head(), interact_sdk::ids::Seq);
            let unheard: Vec<(u64, String)> = live
                .log
                .events_after(heard)
                .iter()
                .filter_map(|ev| match &ev.event {
                    SessionEvent::Message {
                        from: Party::Visitor,
                        text,
                        ..
                    } => Some((ev.seq.0, text.clone())),
                    _ => None,
                })
                .collect();
            for (seq, text) in unheard {
                run.handle(state.now(), Input::VisitorMessage(text));
                record_answers(state, &mut live, &run, Some(seq)).await;
            }
            carry_out(state, handle, &mut live, run, None).await;
        }
        Err(e) => {
            tracing::error!(session = %id, error = %e, "cannot resume the workflow run: the session ends as failed");
            cannot_continue(state, &mut live).await;
        }
    }
}

/// Ends a session whose workflow cannot go on: a message to the visitor, the outcome
/// `failed`, an `ended` event with the reason `failed`.
async fn cannot_continue(state: &AppState, live: &mut LiveSession) {
    system_message(state, live, None, CANNOT_CONTINUE.to_owned()).await;
    end_failed(state, live).await;
}

/// Ends the session as failed: the reporting outcome and the `ended` event.
async fn end_failed(state: &AppState, live: &mut LiveSession) {
    record_outcome(state, live, Outcome::Failed).await;
    append(
        state,
        live,
        SessionEvent::Ended {
            reason: EndReason::Failed,
        },
    )
    .await;
}

/// Feeds `input` to the run of session `id`, if it is live and has one. The caller runs
/// [`crate::node::session::dispatch`] afterwards, and holds no session lock.
pub async fn feed_session(state: &AppState, id: &interact_sdk::ids::SessionId, input: Input) {
    let Some(handle) = state.hub.session(id) else {
        return;
    };
    let mut live = handle.lock().await;
    if live.run.is_some() {
        feed(state, &handle, &mut live, input).await;
    }
}

/// Records the steps of the path not recorded yet.
async fn record_steps(state: &AppState, live: &mut LiveSession, run: &WorkflowRun) {
    let path = run.path();
    for visit in path.iter().skip(live.steps_recorded) {
        let label = run.workflow().step_name(visit.step);
        if let Err(e) = state
            .store
            .record_workflow_step(&live.record.id, visit.at, &label)
            .await
        {
            tracing::warn!(session = %live.record.id, error = %e, "recording a workflow step failed");
        }
    }
    live.steps_recorded = path.len();
}

/// The `seq` of the last message the visitor wrote in the session, if any.
fn last_visitor_message(live: &LiveSession) -> Option<u64> {
    live.log
        .events_after(interact_sdk::ids::Seq::ZERO)
        .iter()
        .rev()
        .find(|ev| {
            matches!(
                ev.event,
                SessionEvent::Message {
                    from: Party::Visitor,
                    ..
                }
            )
        })
        .map(|ev| ev.seq.0)
}

/// Stores the run's Collect Information answers not stored yet, for the agents; `seq` is
/// the visitor's message they came with, if known. A failure is logged: the chat goes
/// on, the agent just does not see that answer apart.
async fn record_answers(
    state: &AppState,
    live: &mut LiveSession,
    run: &WorkflowRun,
    seq: Option<u64>,
) {
    let answers = run.answers();
    for a in answers.iter().skip(live.answers_recorded) {
        let record = AnswerRecord {
            session: live.record.id.clone(),
            name: a.name.clone(),
            question: a.question.clone(),
            value: a.value.clone(),
            seq,
            at: a.at,
        };
        if let Err(e) = state.store.put_session_answer(&record).await {
            tracing::warn!(session = %live.record.id, error = %e, "storing an answer failed");
        }
    }
    live.answers_recorded = answers.len();
}

async fn record_outcome(state: &AppState, live: &mut LiveSession, outcome: Outcome) {
    live.outcome = Some(outcome);
    if let Err(e) = state.store.record_outcome(&live.record.id, outcome).await {
        tracing::warn!(session = %live.record.id, error = %e, "recording the outcome failed");
    }
}

/// Appends a server event: stored, then sent to both parties.
async fn append(state: &AppState, live: &mut LiveSession, event: SessionEvent) -> bool {
    let head = live.log.head();
    match live.log.append(state.now(), event) {
        Ok(ev) => {
            crate::node::session::apply(
                state,
                live,
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

/// A message of the service to the visitor: the message of the run's action `number`
/// (stored once: a resumed run that carries the action out again finds it), or one of
/// its own.
async fn system_message(
    state: &AppState,
    live: &mut LiveSession,
    number: Option<u64>,
    text: String,
) {
    let author = system_author(state, &live.record.target);
    let id = match number {
        // A run started after an agent's transfer numbers its actions from 1 again: its
        // messages' ids say after which transfer (runs never span one).
        Some(n) => match agent_transfers(live) {
            0 => format!("wf-a{n}"),
            k => format!("wf-t{k}-a{n}"),
        },
        None => format!("wf-{}", live.log.head().next().0),
    };
    let Ok(id) = MessageId::new(id) else {
        return;
    };
    if live.log.message_seq(Party::System, &id).is_some() {
        tracing::debug!(session = %live.record.id, %id, "the workflow's message is stored already");
        return;
    }
    let stored = append(
        state,
        live,
        SessionEvent::Message {
            id,
            from: Party::System,
            author,
            text,
        },
    )
    .await;
    if stored && number.is_some() {
        crate::crash::point("workflow.message_stored");
    }
}

/// How many times agents transferred the session (each starts a new run).
fn agent_transfers(live: &LiveSession) -> usize {
    live.log
        .events_after(interact_sdk::ids::Seq::ZERO)
        .iter()
        .filter(|e| matches!(&e.event, SessionEvent::Transferred { by: Some(_), .. }))
        .count()
}

/// Hands the waiting session to another service's queue: a `transferred` event without
/// `by`, and the session's new target stored (a restart keeps it).
async fn transfer(state: &AppState, live: &mut LiveSession, service: String) {
    let target = TargetRef::Service(service.into());
    let (Some(from), Some(to)) = (
        crate::node::session::from_info(state, &live.record.target),
        crate::node::session::target_info(state, &target),
    ) else {
        end_failed(state, live).await;
        return;
    };
    tracing::info!(session = %live.record.id, to = %target, "workflow transfer");
    record_outcome(state, live, Outcome::Transferred).await;
    // Carried out again after a restart (the run's actions are): told once.
    let told = live
        .log
        .events_after(interact_sdk::ids::Seq::ZERO)
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::Transferred { to: t, .. } if t.id == to.id));
    if !told {
        let by = None;
        append(state, live, SessionEvent::Transferred { by, from, to }).await;
    }
    if let Err(e) = state.store.transfer_session(&live.record.id, &target).await {
        tracing::warn!(session = %live.record.id, error = %e, "storing the session's new target failed");
    }
    state.hub.retarget(&live.record.id, target.clone());
    live.record.target = target;
    let priority = interact_workflow::Priority::DEFAULT.get();
    state.hub.enqueue(&live.record.id, priority, state.now());
}

/// Replaces the run's timer with one that feeds `TimerFired` at `at`.
fn start_timer(
    state: &AppState,
    handle: &SessionHandle,
    live: &mut LiveSession,
    at: interact_sdk::time::UnixMillis,
) {
    if let Some(t) = live.timer.take() {
        t.abort();
    }
    let wait = std::time::Duration::from_millis(at.0.saturating_sub(state.now().0));
    let state = state.clone();
    let handle = Arc::clone(handle);
    let task = tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        timer_fired(state, handle).await;
    });
    live.timer = Some(task.abort_handle());
}

fn timer_fired(state: AppState, handle: SessionHandle) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        {
            let mut live = handle.lock().await;
            if state.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            live.timer = None;
            feed(&state, &handle, &mut live, Input::TimerFired).await;
        }
        crate::node::session::dispatch(&state).await;
    })
}

/// Makes a Web Request step's request off the session's lock and feeds the answer.
fn web_request(
    state: AppState,
    handle: SessionHandle,
    req: HttpRequest,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let allow_private = state.config.web_requests.allow_private_addresses;
        let request = super::web::http(&state.web, &req, allow_private);
        let input = match tokio::time::timeout(req.timeout, request).await {
            Ok(Ok((status, body))) => Input::WebResponse { status, body },
            Ok(Err(e)) => {
                tracing::info!(url = %req.url, error = %e, "web request failed");
                Input::WebFailed
            }
            Err(_) => {
                tracing::info!(url = %req.url, "web request timed out");
                Input::WebFailed
            }
        };
        {
            let mut live = handle.lock().await;
            if state.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            feed(&state, &handle, &mut live, input).await;
        }
        crate::node::session::dispatch(&state).await;
    })
}
