//! After the chat (protocol §6.13): a visitor's `rate` and `email_transcript`, accepted
//! once per session and only after it ended. Neither is a session event: the rating and
//! the transcript's claim are report facts in the store (`ReportStore`), which keeps
//! them once per session whichever node asks; the transcript goes to the mailer's
//! outbox and never holds up the connection.

use interact_report::Satisfaction;
use interact_sdk::form::{RatingError, validate_rating};
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{ErrorCode, ServerFrame, SessionEvent};

use super::error;
use crate::mailer::{Mail, MailError};
use crate::node::session;
use crate::node::state::AppState;

/// A refusal of request `id`.
fn refuse(id: MessageId, code: ErrorCode, message: &str) -> ServerFrame {
    let mut e = error(code, message);
    e.id = Some(id);
    ServerFrame::Error(e)
}

fn internal(id: MessageId, what: &str, e: &dyn std::fmt::Display) -> ServerFrame {
    tracing::error!(error = %e, "{what}");
    refuse(id, ErrorCode::Internal, "the server failed; try again")
}

/// The visitor's email address and the session's target name, if the session has ended;
/// otherwise the refusal.
async fn ended(
    state: &AppState,
    session: Option<&SessionId>,
    id: &MessageId,
) -> Result<(String, String), ServerFrame> {
    let Some(s) = session else {
        return Err(refuse(
            id.clone(),
            ErrorCode::NotAllowed,
            "no session on this connection yet",
        ));
    };
    let live = match session::get(state, s).await {
        Ok(Some(live)) => live,
        Ok(None) => {
            return Err(refuse(
                id.clone(),
                ErrorCode::UnknownSession,
                "no such session",
            ));
        }
        Err(e) => return Err(internal(id.clone(), "loading a session failed", &e)),
    };
    let live = live.lock().await;
    if !live.log.is_ended() {
        return Err(refuse(
            id.clone(),
            ErrorCode::NotAllowed,
            "the chat has not ended yet",
        ));
    }
    Ok((
        live.record.visitor_email.clone(),
        live.record.visitor_name.clone(),
    ))
}

/// `rate`: stores the visitor's rating, the first one only.
pub(super) async fn rate(
    state: &AppState,
    session: Option<&SessionId>,
    id: MessageId,
    score: u8,
    comment: Option<String>,
) -> ServerFrame {
    let rating = match validate_rating(score, comment.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            let message = match e {
                RatingError::Comment(f) => format!("comment: {f}"),
                e => e.to_string(),
            };
            return refuse(id, ErrorCode::InvalidField, &message);
        }
    };
    if let Err(refusal) = ended(state, session, &id).await {
        return refusal;
    }
    let Some(s) = session else {
        return refuse(id, ErrorCode::NotAllowed, "no session");
    };
    let rating = Satisfaction {
        score: rating.score,
        comment: rating.comment,
    };
    match state
        .store
        .record_satisfaction(s, state.now(), &rating)
        .await
    {
        Ok(true) => ServerFrame::Done { id },
        Ok(false) => refuse(
            id,
            ErrorCode::NotAllowed,
            "this chat has been rated already",
        ),
        Err(e) => internal(id, "storing a rating failed", &e),
    }
}

/// `email_transcript`: queues the transcript for the visitor's address, once.
pub(super) async fn email_transcript(
    state: &AppState,
    session: Option<&SessionId>,
    id: MessageId,
) -> ServerFrame {
    let Some(mailer) = state.mailer.as_ref() else {
        return refuse(id, ErrorCode::NotAllowed, "this server sends no email");
    };
    let (email, name) = match ended(state, session, &id).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let Some(s) = session else {
        return refuse(id, ErrorCode::NotAllowed, "no session");
    };
    if email.is_empty() {
        return refuse(id, ErrorCode::NotAllowed, "the chat has no email address");
    }
    let events = match state.store.events(s).await {
        Ok(events) => events,
        Err(e) => return internal(id, "reading a transcript failed", &e),
    };
    let target = events
        .iter()
        .find_map(|f| match &f.event {
            SessionEvent::Started { target, .. } => Some(target.display_name.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let transcript =
        interact_sdk::transcript::plain_text(&format!("Chat with {target}"), events.iter());
    let mail = Mail {
        to: email,
        to_name: Some(name).filter(|n| !n.is_empty()),
        subject: format!("Your chat with {target}"),
        body: format!(
            "Hello,\n\nhere is the transcript of your chat, as you asked.\n\n{transcript}"
        ),
    };
    let message = match mailer.prepare(mail) {
        Ok(m) => m,
        Err(e) => return refuse(id, ErrorCode::NotAllowed, &e.to_string()),
    };
    // A place in the outbox first, so that a transcript claimed is one that goes out.
    let permit = match mailer.reserve(state.instant()) {
        Ok(p) => p,
        Err(MailError::Busy) => {
            return refuse(
                id,
                ErrorCode::RateLimited,
                "too many emails right now; try again in a minute",
            );
        }
        Err(e) => return refuse(id, ErrorCode::NotAllowed, &e.to_string()),
    };
    match state.store.claim_transcript_email(s, state.now()).await {
        Ok(true) => {
            permit.send(message);
            ServerFrame::Done { id }
        }
        Ok(false) => refuse(
            id,
            ErrorCode::NotAllowed,
            "the transcript of this chat has been emailed already",
        ),
        Err(e) => internal(id, "claiming a transcript email failed", &e),
    }
}
