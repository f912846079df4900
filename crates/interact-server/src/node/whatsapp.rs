//! WhatsApp through a Twilio connector: a service's connector configuration, and inbound
//! messages turned into IM sessions that run the service's workflow like widget chats.
//!
//! - **Configuration** (per service, in the database as a configuration item of kind
//!   `whatsapp`): the Twilio Account SID, the auth token (or an API key) as a *secret
//!   reference* to what the operator put in the server's secrets (`file:NAME` in
//!   `[secrets] dir`, `env:NAME` with `[secrets] env_prefix`; nothing else can be named,
//!   the token itself is never stored, and the API never shows it), the WhatsApp sender
//!   number (United States `+1` only, as the documents say) and the API's base URL. Only
//!   a service with the Contact Center licence gets one.
//! - **Inbound** (`POST /v1/whatsapp/{service}`, Twilio's incoming-message webhook): the
//!   `X-Twilio-Signature` is checked first, over this server's public URL and the form
//!   (a bad or missing one: 403, nothing stored). The sender's open WhatsApp session with
//!   the service gets the message; without one, a session is created with it as the first
//!   message and runs the service's workflow (greeting, queue, offer) exactly as a widget
//!   chat does. A replayed webhook is stored once: the first message's `MessageSid` is
//!   the session's start key, a later one's is the message's id (`wa-<MessageSid>`),
//!   which the session log takes once.
//!
//!   A message with media gets one polite answer from the service ([`MEDIA_REPLY`]),
//!   which the agent sees in the chat: this channel is text only, as documented.
//! - **Outbound** ([`enqueue`], [`run`]): the agent's and the workflow's messages in a
//!   WhatsApp session are stored, in the same step that stores the message, as pieces
//!   of a durable outbox (`outbound_messages`; a text over 1,600 characters is cut).
//!   Every node sends due pieces through Twilio's Messages resource (`From`, `To`,
//!   `Body` as text, `StatusCallback` naming the session and piece), claiming them
//!   first; only each session's earliest unfinished piece can be claimed, so a
//!   session's messages arrive in order. A `429` or a connection never made is tried
//!   again after a backoff (or Twilio's `Retry-After`); a `5xx` or a lost answer may have
//!   created the message, and Twilio's Messages resource has no idempotency key, so the
//!   next attempt first lists the messages to the customer and takes a matching one as
//!   sent rather than sending twice. Other `4xx`, [`MAX_ATTEMPTS`] attempts, or a closed
//!   window give up: the session gets an `undelivered` event with the reason.
//! - **Status callbacks** ([`status`]): signed like the inbound webhook; a message only
//!   moves forward (sent → delivered → read, or failed); delivered and read are stored as
//!   the customer's receipts up to the message, so the agent's console shows them as for
//!   a widget visitor; failed becomes an `undelivered` event.
//! - **The 24-hour customer service window** ([`may_reply`]): an agent's free-form reply
//!   more than 24 hours after the customer's last message is refused with the reason
//!   (`not_allowed`), and nothing is stored; WhatsApp's message templates, the only way
//!   to write after that, are out of scope.
//!
//! Sessions record `channel = whatsapp` and `origin = whatsapp:+<number>` (the sender);
//! agents see the channel and the number in the session's `visitor`.

use std::time::Duration;

use interact_model::{Channel, Licence, TargetRef};
use interact_sdk::form::{ValidForm, is_blank, validate_display_name};
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::protocol::{
    ClientFrame, ErrorCode, EventFrame, Party, ReceiptState, ServerFrame, SessionEvent,
};
use interact_sdk::time::UnixMillis;
use interact_store::{
    ConfigItem, EmbedCodeRecord, NewOutbound, OutboundRecord, OutboundState, OutboundUpdate,
    SessionRecord, StoreError,
};
use interact_twilio::inbound::Inbound;
use interact_workflow::HttpRequest;
use interact_workflow::activity::Method;
use serde::{Deserialize, Serialize};

use crate::config::SecretsSection;
use crate::node::hub::LiveSession;
use crate::node::state::AppState;

/// The configuration item kind of a connector (named by its service's id).
pub const KIND: &str = "whatsapp";

/// Twilio's API, where a connector sends unless told otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// A service's WhatsApp connector, as stored and as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// The Twilio Account SID (`AC` and 32 hex digits).
    pub account_sid: String,
    /// Where the auth token is: `file:NAME` (a file in `[secrets] dir`) or `env:NAME` (a
    /// variable with `[secrets] env_prefix`), a secret the operator put there (the operator's
    /// secret reference; the token itself is never stored or shown).
    pub auth_token: String,
    /// An API key's SID (`SK` and 32 hex digits), to send with instead of the auth token
    /// (Twilio's recommendation for production). The auth token is still needed: Twilio
    /// signs its webhooks with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_sid: Option<String>,
    /// Where the API key's secret is, as for `auth_token` (never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// The WhatsApp Business sender number, `+1` and ten digits (United States only).
    pub sender: String,
    /// The Twilio API's base URL (`https://api.twilio.com` unless testing).
    #[serde(default = "default_base")]
    pub api_base: String,
}

fn default_base() -> String {
    DEFAULT_API_BASE.to_owned()
}

/// Why a connector configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Something in it is wrong (the message says what).
    #[error("{0}")]
    Invalid(String),
    /// No such service.
    #[error("no service {0:?}")]
    UnknownService(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Connector {
    /// Checks the configuration for `service` against the tenant: a Twilio Account SID,
    /// a United States sender, a secret reference that resolves now, an http(s) base,
    /// and a service with the Contact Center licence.
    pub fn check(&self, state: &AppState, service: &str) -> Result<(), ConnectorError> {
        let tenant = state.tenant();
        let s = tenant
            .services
            .get(service)
            .ok_or_else(|| ConnectorError::UnknownService(service.to_owned()))?;
        if !s.config.licences.contains(&Licence::ContactCenter) {
            return Err(ConnectorError::Invalid(format!(
                "service {service:?} needs the Contact Center licence for the WhatsApp channel"
            )));
        }
        if !interact_twilio::is_sid(&self.account_sid, "AC") {
            return Err(ConnectorError::Invalid(
                "account_sid: a Twilio Account SID is AC and 32 hex digits".into(),
            ));
        }
        interact_twilio::number::us_whatsapp_sender(&self.sender)
            .map_err(|e| ConnectorError::Invalid(format!("sender: {e}")))?;
        let base = self.api_base.to_ascii_lowercase();
        if !(base.starts_with("https://") || base.starts_with("http://"))
            || self.api_base.len() > 512
        {
            return Err(ConnectorError::Invalid(
                "api_base: an http(s) URL of at most 512 bytes".into(),
            ));
        }
        let secrets = &state.config.secrets;
        self.token(secrets).map_err(ConnectorError::Invalid)?;
        match (&self.api_key_sid, &self.api_key_secret) {
            (None, None) => {}
            (Some(sid), Some(secret)) => {
                if !interact_twilio::is_sid(sid, "SK") {
                    return Err(ConnectorError::Invalid(
                        "api_key_sid: a Twilio API key SID is SK and 32 hex digits".into(),
                    ));
                }
                resolve(secret, secrets).map_err(|e| {
                    ConnectorError::Invalid(e.replace("auth_token", "api_key_secret"))
                })?;
            }
            _ => {
                return Err(ConnectorError::Invalid(
                    "api_key_sid and api_key_secret go together".into(),
                ));
            }
        }
        Ok(())
    }

    /// What the REST API calls authenticate with: the API key if there is one, else the
    /// auth token (read from their references now).
    pub fn credentials(
        &self,
        secrets: &SecretsSection,
    ) -> Result<interact_twilio::outbound::Credentials, String> {
        use interact_twilio::outbound::Credentials;
        Ok(match (&self.api_key_sid, &self.api_key_secret) {
            (Some(key_sid), Some(secret)) => Credentials::ApiKey {
                account_sid: self.account_sid.clone(),
                key_sid: key_sid.clone(),
                secret: resolve(secret, secrets)
                    .map_err(|e| e.replace("auth_token", "api_key_secret"))?,
            },
            _ => Credentials::AuthToken {
                account_sid: self.account_sid.clone(),
                auth_token: self.token(secrets)?,
            },
        })
    }

    /// The auth token, read from its reference now.
    pub fn token(&self, secrets: &SecretsSection) -> Result<String, String> {
        resolve(&self.auth_token, secrets)
    }
}

/// Reads a secret reference: `file:NAME` (the text, trimmed, of a file in `[secrets]
/// dir`) or `env:NAME` (an environment variable with `[secrets] env_prefix`). Anything
/// else is refused without looking: a reference cannot make the server read another file
/// or variable, nor say whether one exists.
fn resolve(reference: &str, secrets: &SecretsSection) -> Result<String, String> {
    let value = if let Some(name) = reference.strip_prefix("file:") {
        let Some(dir) = &secrets.dir else {
            return Err(
                "auth_token: file references need a secrets folder ([secrets] dir in the \
                 server's configuration)"
                    .into(),
            );
        };
        let outside = || {
            format!(
                "auth_token: a file reference names a file in the secrets folder {} \
                 ([secrets] dir)",
                dir.display()
            )
        };
        let dir = std::fs::canonicalize(dir).map_err(|_| outside())?;
        let path = std::fs::canonicalize(dir.join(name)).map_err(|_| outside())?;
        if !path.starts_with(&dir) || !path.is_file() {
            return Err(outside());
        }
        std::fs::read_to_string(&path)
            .map_err(|e| format!("auth_token: cannot read {name}: {e}"))?
    } else if let Some(name) = reference.strip_prefix("env:") {
        if !name.starts_with(&secrets.env_prefix) || name.len() == secrets.env_prefix.len() {
            return Err(format!(
                "auth_token: an env reference names a variable starting with {} ([secrets] \
                 env_prefix)",
                secrets.env_prefix
            ));
        }
        std::env::var(name).map_err(|_| format!("auth_token: ${name} is not set"))?
    } else {
        return Err(
            "auth_token: give a secret reference, file:NAME (a file in the server's secrets \
             folder) or env:NAME (the token itself is never stored)"
                .into(),
        );
    };
    let token = value.trim().to_owned();
    if token.is_empty() || token.len() > 256 {
        return Err("auth_token: the referenced secret is empty or longer than 256 bytes".into());
    }
    Ok(token)
}

/// The connector of `service`, if it has one.
pub async fn connector(state: &AppState, service: &str) -> Result<Option<Connector>, StoreError> {
    Ok(state
        .store
        .config_items(KIND)
        .await?
        .into_iter()
        .find(|i| i.name == service)
        .and_then(|i| serde_json::from_str(&i.body).ok()))
}

/// Stores `service`'s connector (checked first); the connector before, if any.
pub async fn put(
    state: &AppState,
    service: &str,
    connector: &Connector,
) -> Result<Option<Connector>, ConnectorError> {
    connector.check(state, service)?;
    let before = self::connector(state, service).await?;
    let body =
        serde_json::to_string(connector).map_err(|e| ConnectorError::Invalid(e.to_string()))?;
    state
        .store
        .put_config_item(&ConfigItem {
            kind: KIND.into(),
            name: service.into(),
            body,
            updated_at: state.now(),
        })
        .await?;
    Ok(before)
}

/// The path of `service`'s inbound webhook (Twilio's "A message comes in" URL).
pub fn webhook_path(service: &str) -> String {
    format!("/v1/whatsapp/{service}")
}

/// How often a message the session refuses for its rate is tried again, and the pause
/// between tries (about three seconds in all).
const RATE_RETRIES: u32 = 12;
const RATE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// What became of an inbound message.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// It started session `.0`.
    Started(SessionId),
    /// It joined open session `.0`.
    Joined(SessionId),
    /// It was stored before (a replayed webhook): nothing new.
    Repeated,
}

/// Why an inbound message was not taken.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// The session refused it for now (rate, order); Twilio may send it again.
    #[error("{0}")]
    Busy(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The code every session of `service`'s connector carries (sessions need one; it is
/// no embed code a website could use: none is stored with it).
fn connector_code(service: &str) -> interact_sdk::embed::EmbedCode {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("whatsapp connector {service}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    interact_sdk::embed::EmbedCode::from_random(bytes)
}

/// Takes an inbound message (its signature already checked) for `service`.
pub async fn receive(
    state: &AppState,
    service: &str,
    message: &Inbound,
) -> Result<Received, InboundError> {
    let sender = message.from.to_string();
    let target = TargetRef::Service(service.into());
    let open = state
        .store
        .open_session_from(Channel::Whatsapp, &target, &sender)
        .await?;
    // Nothing visible (empty, or only zero-width characters and the like: the rule of the
    // chat's own messages, which would refuse it) is no text.
    let text = if is_blank(&message.body) {
        // Media alone: the text says so (attachments are not supported; the service
        // answers it: `answer_media`).
        "(sent an attachment, which was not received)".to_owned()
    } else {
        message.body.clone()
    };
    let id = MessageId::new(format!("wa-{}", message.message_sid))
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    match open {
        Some(session) => {
            let frame = ClientFrame::Send {
                session: Some(session.id.clone()),
                id,
                text,
                after: None,
            };
            // WhatsApp has no client to send again: a message the session refuses for
            // its rate is tried again here for a while (Twilio does not retry webhooks).
            for attempt in 0..RATE_RETRIES {
                let (conn, mut ends) = crate::node::conn::Conn::new(0);
                crate::node::session::handle_frame(
                    state,
                    &session.id,
                    Party::Visitor,
                    frame.clone(),
                    &conn,
                )
                .await;
                // The session answers on the connection: an ack (stored, or stored
                // before) or an error.
                let mut refused = None;
                while let Ok(out) = ends.rx.try_recv() {
                    if let crate::node::conn::Outgoing::Frame(text) = out
                        && let Ok(ServerFrame::Error(e)) =
                            interact_sdk::protocol::decode_server(text.as_str())
                    {
                        refused = Some(e);
                    }
                }
                match refused {
                    None => {
                        answer_media(state, &session.id, message).await;
                        return Ok(Received::Joined(session.id));
                    }
                    Some(e) if e.code == ErrorCode::RateLimited && attempt + 1 < RATE_RETRIES => {
                        tokio::time::sleep(RATE_RETRY_PAUSE).await;
                    }
                    Some(e) => return Err(InboundError::Busy(e.message)),
                }
            }
            Err(InboundError::Busy("the session is busy".into()))
        }
        None => {
            let code = EmbedCodeRecord {
                code: connector_code(service),
                target,
                template: String::new(),
                created_at: state.now(),
                revoked_at: None,
            };
            // The profile name if it is one the widget's form would take (something
            // visible, no control characters, at most 80 characters), else the number.
            let form = ValidForm {
                display_name: message
                    .profile_name
                    .as_deref()
                    .and_then(|n| validate_display_name(n).ok())
                    .unwrap_or_else(|| message.from.e164().to_owned()),
                email: String::new(),
                // The customer saw no privacy policy here: none is recorded as agreed.
                consent_version: String::new(),
                first_message: Some(text),
            };
            let key = format!("whatsapp {service} {}", message.message_sid);
            match crate::node::session::create(
                state,
                &code,
                &sender,
                id.as_str(),
                key,
                form,
                crate::node::session::Via::chat(Channel::Whatsapp),
            )
            .await
            {
                Ok((sid, _, _)) => {
                    answer_media(state, &sid, message).await;
                    crate::node::session::dispatch(state).await;
                    Ok(Received::Started(sid))
                }
                Err(StoreError::Conflict) => Ok(Received::Repeated),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// The service's answer to a message that came with media (text only, as documented).
pub const MEDIA_REPLY: &str = "Sorry, we can't receive photos, files or voice messages \
    here, so we didn't get what you attached. Please write your message as text.";

/// Answers an inbound message that came with media, once per message (a replayed webhook
/// finds the answer stored): the customer is told, and the agent sees it in the chat.
async fn answer_media(state: &AppState, session: &SessionId, message: &Inbound) {
    if !message.has_media() {
        return;
    }
    state.metrics.reject("whatsapp_media");
    let Ok(id) = MessageId::new(format!("wa-media-{}", message.message_sid)) else {
        return;
    };
    let Ok(Some(handle)) = crate::node::session::get(state, session).await else {
        return;
    };
    let author = {
        let l = handle.lock().await;
        if l.log.message_seq(Party::System, &id).is_some() || l.log.is_ended() {
            return;
        }
        match &l.record.target {
            TargetRef::Service(s) => state
                .tenant()
                .services
                .get(s)
                .map(|s| s.config.display_name.clone()),
            TargetRef::User(_) => None,
        }
    };
    let event = SessionEvent::Message {
        id,
        from: Party::System,
        author,
        text: MEDIA_REPLY.to_owned(),
    };
    crate::node::session::append_system(state, &handle, event).await;
}

/// When the customer last wrote in the session (what opens WhatsApp's 24-hour customer
/// service window), if ever.
fn last_inbound<'a>(events: impl DoubleEndedIterator<Item = &'a EventFrame>) -> Option<UnixMillis> {
    events.rev().find_map(|e| match &e.event {
        SessionEvent::Message {
            from: Party::Visitor,
            ..
        } => Some(e.at),
        _ => None,
    })
}

/// Why a free-form message cannot be sent now in a WhatsApp session whose customer last
/// wrote at `last` (`None`: it can).
fn outside_window(last: Option<UnixMillis>, now: UnixMillis) -> Option<String> {
    let open = last.is_some_and(|l| interact_twilio::window::customer_service_window(l.0, now.0));
    if open {
        return None;
    }
    let closed = last.map_or_else(String::new, |l| {
        let at = interact_twilio::window::window_closes_at(l.0);
        i64::try_from(at)
            .ok()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| format!(" (it closed {})", t.strftime("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    });
    Some(format!(
        "WhatsApp allows replies only within 24 hours of the customer's last message{closed}; \
         this reply was not sent. Message templates, WhatsApp's way to write after that, \
         are not supported: the customer must write first."
    ))
}

/// Whether an agent may send a free-form reply in WhatsApp session `live` now: `Err`
/// says why not (outside the 24-hour customer service window).
pub fn may_reply(live: &LiveSession, now: UnixMillis) -> Result<(), String> {
    if live.record.channel != Channel::Whatsapp {
        return Ok(());
    }
    let last = last_inbound(live.log.events_after(Seq::ZERO).iter());
    outside_window(last, now).map_or(Ok(()), Err)
}

/// The outbound pieces of the agent's and the service's messages among `events` (just
/// stored in WhatsApp session `record`).
fn pieces<'a>(
    record: &SessionRecord,
    events: impl Iterator<Item = &'a EventFrame>,
) -> Vec<NewOutbound> {
    let TargetRef::Service(service) = &record.target else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ev in events {
        let SessionEvent::Message { id, from, text, .. } = &ev.event else {
            continue;
        };
        if *from == Party::Visitor {
            continue;
        }
        // Sent as it is: markup is not interpreted, it is text.
        for (part, body) in interact_twilio::outbound::split_body(text)
            .into_iter()
            .enumerate()
        {
            out.push(NewOutbound {
                session: record.id.clone(),
                message: id.as_str().to_owned(),
                part: u32::try_from(part).unwrap_or(u32::MAX),
                seq: ev.seq,
                connector: service.to_string(),
                to: record.origin.clone(),
                body,
                at: ev.at,
            });
        }
    }
    out
}

/// Stores, to be sent, the agent's and the service's messages among `events` just stored
/// in session `live` (nothing unless it is a WhatsApp session), and wakes the sender. A
/// failure is logged; the sender's sweep at start stores what was missed.
pub async fn enqueue(state: &AppState, live: &LiveSession, events: &[EventFrame]) {
    if live.record.channel != Channel::Whatsapp {
        return;
    }
    let new = pieces(&live.record, events.iter());
    if new.is_empty() {
        return;
    }
    // The message is stored, its outbound piece not yet.
    crate::crash::point("whatsapp.reply_stored");
    match state.store.enqueue_outbound(&new).await {
        Ok(_) => state.outbox.notify_one(),
        Err(e) => {
            tracing::warn!(session = %live.record.id, error = %e, "storing WhatsApp messages to send failed");
        }
    }
}

/// Stores what the open WhatsApp sessions wrote and the outbox lacks (a node that
/// stopped between storing a message and its outbound piece); pieces stored already are
/// left as they are.
async fn sweep(state: &AppState) {
    let open = match state.store.open_sessions().await {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!(error = %e, "reading open sessions for the WhatsApp outbox failed");
            return;
        }
    };
    for record in open.iter().filter(|s| s.channel == Channel::Whatsapp) {
        let Ok(events) = state.store.events(&record.id).await else {
            continue;
        };
        let new = pieces(record, events.iter());
        match state.store.enqueue_outbound(&new).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(session = %record.id, pieces = n, "WhatsApp messages stored to send after a restart");
            }
            Err(e) => {
                tracing::warn!(session = %record.id, error = %e, "WhatsApp outbox sweep failed")
            }
        }
    }
}

/// Attempts at one piece before it is given up.
pub const MAX_ATTEMPTS: u32 = 10;
/// How long one request to Twilio may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim keeps a piece from other nodes (longer than an attempt and a look
/// for an earlier one).
const CLAIM_FOR: Duration = Duration::from_secs(60);
/// Pieces claimed at once.
const CLAIM_BATCH: u32 = 16;
/// How soon a node looks for due pieces again after finding some (or being woken).
const FIRST_POLL: Duration = Duration::from_millis(500);
/// The longest a node goes without looking: while it finds nothing it looks half as
/// often each time, up to this (a piece another node claimed and never sent is due again
/// after [`CLAIM_FOR`]; this node's own retries wake it when due).
const LONGEST_POLL: Duration = Duration::from_secs(8);

/// Sends due outbound pieces until the server stops (every node runs it; claims keep
/// two nodes from sending the same piece). A node with nothing to send costs one claim
/// query every 8 s: it is woken when a message is stored here, and when a
/// retry it scheduled comes due.
pub async fn run(state: AppState) {
    sweep(&state).await;
    let mut idle = FIRST_POLL;
    // The earliest retry this node scheduled and has not looked for since.
    let mut retry_at: Option<UnixMillis> = None;
    loop {
        let now = state.now();
        if retry_at.is_some_and(|at| at <= now) {
            retry_at = None;
        }
        let until = UnixMillis(now.0 + CLAIM_FOR.as_millis() as u64);
        let due = match state.store.claim_outbound(now, until, CLAIM_BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "claiming WhatsApp messages to send failed");
                Vec::new()
            }
        };
        let full = due.len() == CLAIM_BATCH as usize;
        idle = if due.is_empty() {
            (idle * 2).min(LONGEST_POLL)
        } else {
            FIRST_POLL
        };
        // One piece per session at most (claims take each session's earliest only), so
        // sending them at once keeps every session's order.
        let retries =
            futures_util::future::join_all(due.into_iter().map(|p| send(&state, p))).await;
        retry_at = retries.into_iter().flatten().chain(retry_at).min();
        if full {
            continue;
        }
        let now = state.now();
        let wait = retry_at.map_or(idle, |at| {
            idle.min(Duration::from_millis(at.0.saturating_sub(now.0)))
        });
        if tokio::time::timeout(wait, state.outbox.notified())
            .await
            .is_ok()
        {
            idle = FIRST_POLL;
        }
    }
}

/// What became of one attempt at a piece.
enum Sent {
    /// Twilio has it, as `sid`.
    Accepted(String),
    /// Try again after `delay`; `uncertain` if Twilio may have created it.
    Again {
        delay: Duration,
        uncertain: bool,
        error: String,
    },
    /// Given up.
    Failed(String),
}

/// One attempt at piece `p`, recorded; a piece given up is reported in its session.
/// Returns when it is due again, if it is to be tried again.
async fn send(state: &AppState, p: OutboundRecord) -> Option<UnixMillis> {
    let outcome = attempt(state, &p).await;
    let at = state.now();
    let attempts = p.attempts + 1;
    let failed = |reason: String| {
        state
            .metrics
            .whatsapp_sent
            .get_or_create(&crate::metrics::OutcomeLabel { outcome: "failed" })
            .inc();
        OutboundUpdate {
            at,
            attempted: true,
            state: OutboundState::Failed,
            sid: None,
            next_at: None,
            uncertain: false,
            error: Some(reason),
        }
    };
    let update = match outcome {
        Sent::Accepted(sid) => {
            state
                .metrics
                .whatsapp_sent
                .get_or_create(&crate::metrics::OutcomeLabel {
                    outcome: "accepted",
                })
                .inc();
            // A status callback may have come before Twilio's answer did (it names the
            // piece): what it said stands.
            let reported = match state.store.outbound_by_sid(&sid).await {
                Ok(Some(known)) if known.id == p.id && known.state != OutboundState::Pending => {
                    Some(known.state)
                }
                _ => None,
            };
            OutboundUpdate {
                at,
                attempted: true,
                state: reported.unwrap_or(OutboundState::Sent),
                sid: Some(sid),
                next_at: None,
                uncertain: false,
                error: None,
            }
        }
        Sent::Again {
            delay,
            uncertain,
            error,
        } if attempts < MAX_ATTEMPTS => {
            tracing::info!(session = %p.session, piece = p.id, attempts, error = %error, "WhatsApp message not sent yet; trying again");
            OutboundUpdate {
                at,
                attempted: true,
                state: OutboundState::Pending,
                sid: None,
                next_at: Some(UnixMillis(at.0 + delay.as_millis() as u64)),
                uncertain,
                error: Some(error),
            }
        }
        Sent::Again { error, .. } => failed(format!(
            "Twilio did not take the message after {attempts} attempts ({error})"
        )),
        Sent::Failed(reason) => failed(reason),
    };
    let again = update.next_at;
    match state.store.update_outbound(p.id, &update).await {
        Ok(Some(now)) if now.state == OutboundState::Failed => {
            tracing::warn!(session = %p.session, piece = p.id, error = now.error.as_deref().unwrap_or_default(), "WhatsApp message given up");
            undelivered(state, &now).await;
        }
        Ok(_) => {}
        // Another piece has this sid: a status callback tied it there first.
        Err(StoreError::Conflict) => {
            tracing::warn!(session = %p.session, piece = p.id, "Twilio's message id is another piece's");
        }
        Err(e) => {
            tracing::warn!(session = %p.session, piece = p.id, error = %e, "recording a WhatsApp attempt failed")
        }
    }
    again
}

/// One attempt at piece `p`: look for it at Twilio first if an earlier attempt may have
/// created it, else create it.
async fn attempt(state: &AppState, p: &OutboundRecord) -> Sent {
    use interact_twilio::outbound::{self as tw, Disposition};
    let again = |uncertain: bool, error: String| Sent::Again {
        delay: tw::backoff(p.attempts, Some(rand::random())),
        uncertain,
        error,
    };
    let Ok(Some(connector)) = connector(state, &p.connector).await else {
        return Sent::Failed("the service's WhatsApp connector was removed".into());
    };
    let credentials = match connector.credentials(&state.config.secrets) {
        Ok(c) => c,
        Err(e) => return again(p.uncertain, e),
    };
    // Twilio would refuse a free-form message outside the window (63016): say so here.
    match state.store.events(&p.session).await {
        Ok(events) => {
            if let Some(why) = outside_window(last_inbound(events.iter()), state.now()) {
                return Sent::Failed(why);
            }
        }
        Err(e) => return again(p.uncertain, e.to_string()),
    }
    let (Ok(from), Ok(to)) = (
        interact_twilio::WhatsAppAddress::parse(&format!("whatsapp:{}", connector.sender)),
        interact_twilio::WhatsAppAddress::parse(&p.to),
    ) else {
        return Sent::Failed(format!("{} is not a WhatsApp address", p.to));
    };
    let callback = format!(
        "{}/v1/whatsapp/{}/status?session={}&piece={}",
        state.config.server.public_url, p.connector, p.session, p.id
    );
    let request = match tw::MessageRequest::new(from, to, p.body.clone(), Some(callback)) {
        Ok(r) => r,
        Err(e) => return Sent::Failed(e.to_string()),
    };
    let auth = credentials.authorization();
    let allow_private = state.config.web_requests.allow_private_addresses;
    if p.uncertain {
        // An earlier attempt may have created it: look before sending again.
        let url = tw::list_url(&connector.api_base, &connector.account_sid, &request);
        let list = HttpRequest {
            method: Method::Get,
            url,
            headers: vec![
                ("Authorization".into(), auth.clone()),
                ("Accept".into(), "application/json".into()),
            ],
            body: None,
            timeout: ATTEMPT_TIMEOUT,
        };
        let answer = tokio::time::timeout(
            ATTEMPT_TIMEOUT,
            crate::node::web::request(&state.web, &list, allow_private),
        )
        .await;
        let page = match answer {
            Ok(Ok(a)) if a.status == 200 => match tw::parse_page(&a.body) {
                Ok(page) => page,
                Err(e) => return again(true, e.to_string()),
            },
            Ok(Ok(a)) => {
                return again(
                    true,
                    format!("listing messages: Twilio answered {}", a.status),
                );
            }
            Ok(Err(e)) => return again(true, e.to_string()),
            Err(_) => return again(true, "listing messages: no answer within 10 s".into()),
        };
        let known: Vec<String> = state
            .store
            .session_outbound(&p.session)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.id != p.id)
            .filter_map(|o| o.sid)
            .collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        if let Some(found) = tw::find_sent(&page, &request, &known) {
            tracing::info!(session = %p.session, piece = p.id, sid = %found.sid, "an earlier attempt had sent the WhatsApp message");
            return Sent::Accepted(found.sid.clone());
        }
    }
    let create = HttpRequest {
        method: Method::Post,
        url: tw::messages_url(&connector.api_base, &connector.account_sid),
        headers: vec![
            ("Authorization".into(), auth),
            ("Content-Type".into(), tw::CONTENT_TYPE.into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(request.form_body()),
        timeout: ATTEMPT_TIMEOUT,
    };
    let answer = tokio::time::timeout(
        ATTEMPT_TIMEOUT,
        crate::node::web::request(&state.web, &create, allow_private),
    )
    .await;
    let (disposition, error) = match answer {
        Ok(Ok(a)) => match tw::read_answer(a.status, a.retry_after.as_deref(), &a.body) {
            Ok(message) => return Sent::Accepted(message.sid),
            Err(d) => (d, format!("Twilio answered {}", a.status)),
        },
        Ok(Err(crate::node::web::Failure::NotSent(e))) => {
            (tw::transport(tw::TransportFailure::Connect), e)
        }
        Ok(Err(crate::node::web::Failure::Lost(e))) => {
            (tw::transport(tw::TransportFailure::Lost), e)
        }
        Err(_) => (
            tw::transport(tw::TransportFailure::Lost),
            "no answer within 10 s".to_owned(),
        ),
    };
    let delay = disposition
        .delay(p.attempts, Some(rand::random()))
        .unwrap_or_default();
    match disposition {
        Disposition::Retry { .. } => Sent::Again {
            delay,
            uncertain: false,
            error,
        },
        Disposition::Reconcile { .. } => Sent::Again {
            delay,
            uncertain: true,
            error,
        },
        Disposition::Fail { message, .. } => Sent::Failed(message),
    }
}

/// Tells piece `p`'s session that its message never reached the customer (once per
/// message): the agent sees it, and the message fails in the console.
async fn undelivered(state: &AppState, p: &OutboundRecord) {
    let Ok(Some(handle)) = crate::node::session::get(state, &p.session).await else {
        return;
    };
    let event = {
        let l = handle.lock().await;
        if l.log.is_ended() {
            return;
        }
        let events = l.log.events_after(Seq::ZERO);
        let told = events.iter().any(|e| {
            matches!(&e.event, SessionEvent::Undelivered { message, .. } if message.as_str() == p.message)
        });
        let from = events.iter().find_map(|e| match &e.event {
            SessionEvent::Message { id, from, .. }
                if id.as_str() == p.message && *from != Party::Visitor =>
            {
                Some(*from)
            }
            _ => None,
        });
        let (Some(from), false) = (from, told) else {
            return;
        };
        let Ok(message) = MessageId::new(p.message.clone()) else {
            return;
        };
        SessionEvent::Undelivered {
            message,
            from,
            reason: p
                .error
                .clone()
                .unwrap_or_else(|| "WhatsApp did not deliver it".into()),
        }
    };
    crate::node::session::append_system(state, &handle, event).await;
}

/// A status callback for piece `piece` of `session` (as the callback URL names them):
/// the piece moves forward, never back (a replayed or late callback changes nothing),
/// and the session hears of it: delivered and read as the customer's receipts, a failure
/// as an undelivered message.
pub async fn status(
    state: &AppState,
    service: &str,
    session: Option<&SessionId>,
    piece: Option<i64>,
    callback: &interact_twilio::status::StatusCallback,
) -> Result<(), StoreError> {
    use interact_twilio::status::Delivery;
    let Some(delivery) = callback.delivery() else {
        // queued, sending, accepted...: nothing an agent sees.
        return Ok(());
    };
    let mut found = state.store.outbound_by_sid(&callback.message_sid).await?;
    if found.is_none()
        && let (Some(session), Some(piece)) = (session, piece)
    {
        // The answer to its creation was lost: the callback ties Twilio's id to it.
        found = state
            .store
            .session_outbound(session)
            .await?
            .into_iter()
            .find(|o| o.id == piece && o.sid.is_none());
    }
    let Some(p) = found.filter(|p| p.connector == service) else {
        tracing::debug!(sid = %callback.message_sid, "a status callback for no message of ours");
        return Ok(());
    };
    let current = match p.state {
        OutboundState::Pending => None,
        OutboundState::Sent => Some(Delivery::Sent),
        OutboundState::Delivered => Some(Delivery::Delivered),
        OutboundState::Read => Some(Delivery::Read),
        OutboundState::Failed => Some(Delivery::Failed),
    };
    if !Delivery::advances(current, delivery) {
        return Ok(());
    }
    let (new_state, error) = match delivery {
        Delivery::Sent => (OutboundState::Sent, None),
        Delivery::Delivered => (OutboundState::Delivered, None),
        Delivery::Read => (OutboundState::Read, None),
        Delivery::Failed => (
            OutboundState::Failed,
            Some(
                callback
                    .error_code
                    .and_then(interact_twilio::errors::describe)
                    .map_or_else(
                        || format!("WhatsApp did not deliver it ({})", callback.status),
                        str::to_owned,
                    ),
            ),
        ),
    };
    let update = OutboundUpdate {
        at: state.now(),
        attempted: false,
        state: new_state,
        sid: Some(callback.message_sid.clone()),
        next_at: None,
        uncertain: false,
        error,
    };
    let Some(p) = state.store.update_outbound(p.id, &update).await? else {
        return Ok(());
    };
    let receipt = match delivery {
        Delivery::Delivered => Some(ReceiptState::Delivered),
        Delivery::Read => Some(ReceiptState::Read),
        Delivery::Failed => {
            undelivered(state, &p).await;
            None
        }
        Delivery::Sent => None,
    };
    if let Some(receipt) = receipt {
        // The customer's receipt, as a widget visitor's client would send it.
        let (conn, _ends) = crate::node::conn::Conn::new(0);
        let frame = ClientFrame::Receipt {
            session: Some(p.session.clone()),
            up_to: p.seq,
            state: receipt,
        };
        crate::node::session::handle_frame(state, &p.session, Party::Visitor, frame, &conn).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    #[test]
    fn the_window_is_24_hours_from_the_customers_last_message() {
        let last = UnixMillis(1_772_445_600_000);
        assert_eq!(outside_window(Some(last), last), None);
        assert_eq!(
            outside_window(Some(last), UnixMillis(last.0 + 24 * HOUR - 1)),
            None
        );
        let closed =
            outside_window(Some(last), UnixMillis(last.0 + 24 * HOUR)).expect("closed at 24 hours");
        assert!(
            closed.contains("it closed 2026-03-03 10:00 UTC"),
            "{closed}"
        );
        assert!(closed.contains("templates"), "{closed}");
        assert!(
            outside_window(None, last).is_some(),
            "no message from the customer, no window"
        );
    }

    #[test]
    fn references_name_only_the_operators_secrets() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("secrets");
        std::fs::create_dir(&dir).expect("secrets folder");
        std::fs::write(dir.join("token"), "  the-token\n").expect("token");
        std::fs::write(root.path().join("other"), "not a secret").expect("other");
        let secrets = SecretsSection {
            dir: Some(dir.clone()),
            env_prefix: "INTERACT_SECRET_".into(),
        };
        assert_eq!(resolve("file:token", &secrets).as_deref(), Ok("the-token"));
        let absolute = format!("file:{}", dir.join("token").display());
        assert_eq!(resolve(&absolute, &secrets).as_deref(), Ok("the-token"));
        for outside in [
            "file:../other".to_owned(),
            format!("file:{}", root.path().join("other").display()),
            "file:/etc/hostname".to_owned(),
            "file:missing".to_owned(),
            "file:.".to_owned(),
        ] {
            let e = resolve(&outside, &secrets).expect_err(&outside);
            assert!(
                e.contains("names a file in the secrets folder"),
                "{outside}: {e}"
            );
            assert!(
                !e.contains("No such file"),
                "says nothing of what exists: {e}"
            );
        }
        for name in ["env:HOME", "env:INTERACT_SECRET_", "env:PATH"] {
            let e = resolve(name, &secrets).expect_err(name);
            assert!(e.contains("starting with INTERACT_SECRET_"), "{name}: {e}");
        }
        assert!(
            resolve("env:INTERACT_SECRET_NOT_SET_ANYWHERE", &secrets)
                .is_err_and(|e| e.contains("is not set"))
        );
        assert!(resolve("the-token", &secrets).is_err_and(|e| e.contains("secret reference")));
        let none = SecretsSection::default();
        assert!(resolve("file:token", &none).is_err_and(|e| e.contains("[secrets] dir")));
    }

    fn message(seq: u64, at: u64, from: Party, text: &str) -> EventFrame {
        EventFrame {
            session: SessionId::new("s1").expect("id"),
            seq: Seq(seq),
            at: UnixMillis(at),
            event: SessionEvent::Message {
                id: MessageId::new(format!("m{seq}")).expect("id"),
                from,
                author: None,
                text: text.into(),
            },
        }
    }

    #[test]
    fn agent_and_service_messages_become_pieces_visitor_ones_do_not() {
        let record = SessionRecord {
            channel: Channel::Whatsapp,
            visitor_id: None,
            id: SessionId::new("s1").expect("id"),
            embed_code: connector_code("support"),
            target: TargetRef::Service("support".into()),
            start_id: String::new(),
            start_key: None,
            visitor_seen_at: None,
            token_hash: String::new(),
            visitor_name: "Wanda".into(),
            visitor_email: String::new(),
            consent_version: String::new(),
            consent_at: UnixMillis(0),
            origin: "whatsapp:+12025550188".into(),
            agent_id: None,
            created_at: UnixMillis(0),
            ended: None,
        };
        let long = "word ".repeat(400);
        let events = [
            message(2, 10, Party::Visitor, "Hi"),
            message(3, 11, Party::System, "Welcome!"),
            message(4, 12, Party::Agent, "<b>Hello</b> &amp;"),
            message(5, 13, Party::Agent, &long),
        ];
        let pieces = pieces(&record, events.iter());
        let got: Vec<(&str, u32, u64, &str)> = pieces
            .iter()
            .map(|p| (p.message.as_str(), p.part, p.seq.0, p.to.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("m3", 0, 3, "whatsapp:+12025550188"),
                ("m4", 0, 4, "whatsapp:+12025550188"),
                ("m5", 0, 5, "whatsapp:+12025550188"),
                ("m5", 1, 5, "whatsapp:+12025550188"),
            ]
        );
        assert_eq!(
            pieces[1].body, "<b>Hello</b> &amp;",
            "markup is sent as text"
        );
        assert!(pieces.iter().all(|p| p.connector == "support"));
        assert!(pieces[2].body.chars().count() <= 1600);
        assert_eq!(
            format!("{} {}", pieces[2].body, pieces[3].body),
            long.trim(),
            "the pieces make the text"
        );
    }
}
