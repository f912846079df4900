//! WhatsApp through a Twilio connector: a service's connector configuration, and inbound
//! messages turned into IM sessions that run the service's workflow like widget chats.
//!
//! - **Configuration** (per service, in the database as a configuration item of kind
//!   `whatsapp`): the Twilio Account SID, the auth token as the operator's *secret
//!   reference* (`file:/path` or `env:NAME`; the token itself is never stored, and the
//!   API never shows it), the WhatsApp sender number (United States `+1` only, as the
//!   documents say) and the API's base URL. Only a service with the Contact Center
//!   licence gets one.
//! - **Inbound** (`POST /v1/whatsapp/{service}`, Twilio's incoming-message webhook): the
//!   `X-Twilio-Signature` is checked first, over this server's public URL and the form
//!   (a bad or missing one: 403, nothing stored). The sender's open WhatsApp session with
//!   the service gets the message; without one, a session is created with it as the first
//!   message and runs the service's workflow (greeting, queue, offer) exactly as a widget
//!   chat does. A replayed webhook is stored once: the first message's `MessageSid` is
//!   the session's start key, a later one's is the message's id (`wa-<MessageSid>`),
//!   which the session log takes once.
//!
//! Sessions record `channel = whatsapp` and `origin = whatsapp:+<number>` (the sender).
//! Outbound replies through the Messages resource come next (issue 14).

use std::path::PathBuf;

use interact_model::{Channel, Licence, TargetRef};
use interact_sdk::form::ValidForm;
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{ClientFrame, ErrorCode, Party, ServerFrame};
use interact_store::{ConfigItem, EmbedCodeRecord, StoreError};
use interact_twilio::inbound::Inbound;
use serde::{Deserialize, Serialize};

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
    /// Where the auth token is: `file:/path/to/token` or `env:VARIABLE` (the operator's
    /// secret reference; the token itself is never stored or shown).
    pub auth_token: String,
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
        self.token().map_err(ConnectorError::Invalid)?;
        Ok(())
    }

    /// The auth token, read from its reference now.
    pub fn token(&self) -> Result<String, String> {
        resolve(&self.auth_token)
    }
}

/// Reads a secret reference: `file:/path` (the file's text, trimmed) or `env:NAME`.
fn resolve(reference: &str) -> Result<String, String> {
    let refuse = || {
        "auth_token: give a secret reference, file:/path/to/token or env:VARIABLE (the \
         token itself is never stored)"
            .to_owned()
    };
    let value = if let Some(path) = reference.strip_prefix("file:") {
        std::fs::read_to_string(PathBuf::from(path))
            .map_err(|e| format!("auth_token: cannot read {path}: {e}"))?
    } else if let Some(name) = reference.strip_prefix("env:") {
        std::env::var(name).map_err(|_| format!("auth_token: ${name} is not set"))?
    } else {
        return Err(refuse());
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
        .open_sessions()
        .await?
        .into_iter()
        .find(|s| s.channel == Channel::Whatsapp && s.target == target && s.origin == sender);
    let text = if message.body.trim().is_empty() {
        // Media alone: the text says so (attachments are not supported).
        "(an attachment, which this channel does not take)".to_owned()
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
                    None => return Ok(Received::Joined(session.id)),
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
            let consent_version = state
                .tenant()
                .services
                .get(service)
                .map(|s| s.config.privacy.version.clone())
                .unwrap_or_default();
            let form = ValidForm {
                display_name: message
                    .profile_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| message.from.e164().to_owned()),
                email: String::new(),
                consent_version,
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
                Channel::Whatsapp,
            )
            .await
            {
                Ok((sid, _, _)) => {
                    crate::node::session::dispatch(state).await;
                    Ok(Received::Started(sid))
                }
                Err(StoreError::Conflict) => Ok(Received::Repeated),
                Err(e) => Err(e.into()),
            }
        }
    }
}
