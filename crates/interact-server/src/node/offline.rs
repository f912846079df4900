//! Offline messages (protocol §6.14): a visitor who cannot chat (outside opening hours,
//! or nobody available where chats do not wait) leaves a message; it is an open task of
//! the target until one of its agents answers it, by email through the mailer's outbox.
//!
//! Bounded like a chat start: the form's rules, the per-address start rate
//! (`limits.sessions_per_minute_per_ip`, shared with chats) and at most
//! [`MAX_OPEN_PER_TARGET`] open messages per target. A repeat of the same request (the
//! answer was lost on a reconnect) is answered again, not stored twice.

use interact_model::TargetRef;
use interact_sdk::context::ChatContext;
use interact_sdk::form::{PreChatForm, validate_text};
use interact_sdk::ids::{AgentId, MessageId};
use interact_sdk::protocol::{ErrorCode, ErrorFrame, ServerFrame};
use interact_store::{EmbedCodeRecord, OfflineAnswer, OfflineMessageRecord, StoreError};

use crate::error::AppError;
use crate::mailer::{Mail, MailError};
use crate::node::state::AppState;

/// Most open (unanswered) messages a target keeps; further ones are refused
/// (`rate_limited`) until agents answer some.
pub const MAX_OPEN_PER_TARGET: u64 = 1000;

/// Most messages one listing returns.
pub const MAX_LISTED: u32 = 200;

/// Where a `leave_message` comes from: the connection's embed code, page origin and
/// address.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The embed code the connection was opened with.
    pub record: &'a EmbedCodeRecord,
    /// The embedding page's origin.
    pub origin: &'a str,
    /// The visitor's address, for the rate.
    pub ip: Option<std::net::IpAddr>,
}

/// `leave_message`: checks and stores the message; the frame to answer with.
pub async fn leave(
    state: &AppState,
    from: Source<'_>,
    id: MessageId,
    form: PreChatForm,
    context: Option<ChatContext>,
) -> ServerFrame {
    let refuse = |code: ErrorCode, message: &str| {
        let mut e = ErrorFrame::new(code, message);
        e.id = Some(id.clone());
        ServerFrame::Error(e)
    };
    let target = &from.record.target;
    let Some(config) = state.visitor_config(target) else {
        return refuse(ErrorCode::NotAllowed, "the target is gone");
    };
    if !config.can_leave_message() {
        state.metrics.reject("offline_message_not_allowed");
        let why = if config.offline_messages {
            "a chat can start now; start one instead"
        } else {
            "this target takes no messages"
        };
        return refuse(ErrorCode::NotAllowed, why);
    }
    let valid = match form.validate_offline(&config.privacy.version) {
        Ok(v) => v,
        Err(fields) => {
            state.metrics.reject("invalid_form");
            let mut e = ErrorFrame::new(ErrorCode::InvalidForm, "the form is invalid");
            e.id = Some(id.clone());
            e.fields = Some(fields);
            return ServerFrame::Error(e);
        }
    };
    if let Some(Err(e)) = context.as_ref().map(ChatContext::validate) {
        state.metrics.reject("invalid_context");
        return refuse(
            ErrorCode::InvalidField,
            &format!("the context is invalid: {e}"),
        );
    }
    let limit = state.config.limits.sessions_per_minute_per_ip;
    if !state.hub.allow_session_start(from.ip, limit) {
        state.metrics.reject("session_rate_limited");
        return refuse(
            ErrorCode::RateLimited,
            "too many chats and messages from this address; wait a minute",
        );
    }
    match state.store.count_open_offline_messages(target).await {
        Ok(n) if n >= MAX_OPEN_PER_TARGET => {
            state.metrics.reject("offline_messages_full");
            tracing::warn!(target = %target, open = n, "offline messages: the target's limit is reached");
            return refuse(
                ErrorCode::RateLimited,
                "too many messages are waiting for an answer; try again later",
            );
        }
        Ok(_) => {}
        Err(e) => return internal(&id, "counting offline messages failed", &e),
    }
    let text = valid.first_message.unwrap_or_default();
    let record = OfflineMessageRecord {
        id: format!("om{}", hex::encode(crate::auth::random_128())),
        request_key: request_key(from.record, &id, &valid.email),
        embed_code: from.record.code.clone(),
        target: target.clone(),
        visitor_name: valid.display_name,
        visitor_email: valid.email,
        text,
        consent_version: valid.consent_version,
        origin: from.origin.to_owned(),
        context: context.filter(|c| !c.is_empty()),
        created_at: state.now(),
        answer: None,
    };
    match state.store.put_offline_message(&record).await {
        Ok(new) => {
            if new {
                tracing::info!(target = %target, message = %record.id, "offline message left");
            }
            ServerFrame::Done { id }
        }
        Err(e) => internal(&id, "storing an offline message failed", &e),
    }
}

fn internal(id: &MessageId, what: &str, e: &StoreError) -> ServerFrame {
    tracing::error!(error = %e, "{what}");
    let mut f = ErrorFrame::new(ErrorCode::Internal, "the server failed; try again");
    f.id = Some(id.clone());
    ServerFrame::Error(f)
}

/// What makes two `leave_message` frames the same message: the embed code, the client's
/// request id and the address (hashed, length-prefixed).
fn request_key(record: &EmbedCodeRecord, id: &MessageId, email: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in [record.code.as_str(), id.as_str(), email] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The targets whose messages `agent` handles: the services they are a member of and
/// themselves (reached directly).
pub fn targets_of(state: &AppState, agent: &str) -> Vec<TargetRef> {
    let tenant = state.tenant();
    let mut targets: Vec<TargetRef> = tenant
        .services
        .iter()
        .filter(|(_, s)| s.config.members.iter().any(|m| m.as_str() == agent))
        .map(|(id, _)| TargetRef::Service(id.clone()))
        .collect();
    if let Some((id, _)) = tenant.users.get_key_value(agent) {
        targets.push(TargetRef::User(id.clone()));
    }
    targets
}

/// The messages `agent` handles, newest first (open ones only if `open_only`).
pub async fn list(
    state: &AppState,
    agent: &str,
    open_only: bool,
) -> Result<Vec<OfflineMessageRecord>, StoreError> {
    let targets = targets_of(state, agent);
    state
        .store
        .offline_messages(&targets, open_only, MAX_LISTED)
        .await
}

/// `agent` answers message `id` with `text`: the answer goes to the visitor by email and
/// the message is answered. 404 for a message that is not theirs to answer, 409 for one
/// answered already or where the server sends no email, 429 when the outbox is full.
pub async fn answer(
    state: &AppState,
    agent: &AgentId,
    id: &str,
    text: &str,
) -> Result<OfflineMessageRecord, AppError> {
    let text = validate_text(text).map_err(|e| AppError::BadRequest(format!("text: {e}")))?;
    let not_found = || AppError::NotFound("no such message".into());
    let mut message = state
        .store
        .offline_message(id)
        .await?
        .ok_or_else(not_found)?;
    if !targets_of(state, agent.as_str()).contains(&message.target) {
        return Err(not_found());
    }
    if let Some(a) = &message.answer {
        return Err(AppError::Conflict(format!(
            "{} answered it already",
            a.agent
        )));
    }
    let Some(mailer) = state.mailer.as_ref() else {
        return Err(AppError::Conflict(format!(
            "this server sends no email ([smtp] is not configured): write to {} yourself",
            message.visitor_email
        )));
    };
    let target_name = state
        .widget_config(&message.target, interact_sdk::config::Availability::Closed)
        .map(|c| c.target.display_name)
        .unwrap_or_default();
    let quoted: String = message.text.lines().map(|l| format!("> {l}\n")).collect();
    let mail = Mail {
        to: message.visitor_email.clone(),
        to_name: Some(message.visitor_name.clone()).filter(|n| !n.is_empty()),
        subject: format!("Re: your message to {target_name}"),
        body: format!("{text}\n\n-- \n{target_name}\n\nYou wrote:\n{quoted}"),
    };
    let prepared = mailer
        .prepare(mail)
        .map_err(|e| AppError::Conflict(e.to_string()))?;
    let permit = match mailer.reserve(state.instant()) {
        Ok(p) => p,
        Err(MailError::Busy) => {
            return Err(AppError::RateLimited(
                "too many emails right now; try again in a minute".into(),
            ));
        }
        Err(e) => return Err(AppError::Conflict(e.to_string())),
    };
    let answer = OfflineAnswer {
        agent: agent.clone(),
        text,
        at: state.now(),
    };
    if !state.store.answer_offline_message(id, &answer).await? {
        return Err(AppError::Conflict("someone answered it already".into()));
    }
    permit.send(prepared);
    tracing::info!(message = id, agent = %agent, "offline message answered");
    message.answer = Some(answer);
    Ok(message)
}
