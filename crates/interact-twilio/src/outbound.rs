//! Sending: the Messages resource ("Messages resource",
//! <https://www.twilio.com/docs/messaging/api/message-resource>; its OpenAPI description:
//! github.com/twilio/twilio-oai, `spec/json/twilio_api_v2010.json`).
//!
//! A message is created with `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`
//! ([`messages_url`]), HTTP Basic authentication ([`Credentials::authorization`]) and a
//! form-encoded body ([`MessageRequest::form_body`]: `From=whatsapp:+1...`,
//! `To=whatsapp:+...`, `Body`, `StatusCallback`). Twilio answers `201 Created` with the
//! Message as JSON ([`read_answer`] gives a [`Message`]: its `sid`, `status` `queued`...),
//! or an error status with a JSON error ([`ApiError`]: `code`, `message`, `more_info`,
//! `status`). The status callbacks that follow are [`crate::status`]'s.
//!
//! # Failures, retries, and never sending twice
//!
//! [`classify`] says what a failed attempt means ([`Disposition`]):
//!
//! - **[`Disposition::Retry`]**: Twilio certainly created nothing, send again after the
//!   delay: `429 Too Many Requests` (Twilio error 20429: "An API Request that receives
//!   an error 429 response is never processed and is always safe to retry"; its
//!   `Retry-After` is honoured when it gives seconds), or a connection that was never
//!   made ([`TransportFailure::Connect`]).
//! - **[`Disposition::Reconcile`]**: Twilio may have created the message: a `5xx`, a
//!   `2xx` that cannot be read, or a request sent whose answer was lost
//!   ([`TransportFailure::Lost`]). Look for it before sending again (below).
//! - **[`Disposition::Fail`]**: any other `4xx`: sending again will not help (the error's
//!   `code` and `message` say why; [`crate::errors::describe`] puts it in words).
//!
//! Between attempts wait [`Disposition::delay`]: `Retry-After` when Twilio gave one,
//! else [`backoff`] (1 s, doubling, at most 5 minutes; jitter from a random number the
//! caller draws).
//!
//! **Idempotency.** The Messages resource documents no idempotency key: its `POST` takes
//! the path's `AccountSid` and form fields, nothing else (the 2010 API's only
//! `IdempotencyKey` belongs to the Payments resource of calls), and
//! `I-Twilio-Idempotency-Token` is a header Twilio puts on the webhooks *it* sends, not
//! one its REST API documents for requests. So Twilio will create a second message for
//! a second `POST`, and the caller keeps a retry from sending twice:
//!
//! 1. one outbound record per message to send, with the Twilio `sid` once known;
//! 2. after [`Disposition::Retry`], send again;
//! 3. after [`Disposition::Reconcile`], first list the messages from the sender to the
//!    user ([`list_url`], `GET`, same credentials; [`parse_page`]) and look for this
//!    one ([`find_sent`]: same `From`, `To` and `Body`, a `sid` not already known for
//!    another record); if it is there, the attempt succeeded: record its `sid` and do
//!    not send;
//! 4. give the `StatusCallback` URL the record's own id (e.g. a query parameter): the
//!    callbacks Twilio signs and sends carry the `MessageSid`, so even a message whose
//!    `201` was lost is tied back to its record.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use crate::address::WhatsAppAddress;
use crate::errors;
use crate::form;
use crate::is_sid;
use crate::status::MessageStatus;

/// Twilio's REST API, the default base URL (tests point the connector at a stand-in).
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The API version in the Messages resource's path.
pub const API_VERSION: &str = "2010-04-01";

/// The most characters `Body` may have (Twilio error 21617 beyond).
pub const MAX_BODY_CHARS: usize = 1600;

/// The `Content-Type` of the request body.
pub const CONTENT_TYPE: &str = form::CONTENT_TYPE;

/// The first wait before a retry.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(5 * 60);

/// How the connector authenticates to Twilio's REST API: HTTP Basic with the Account SID
/// and its auth token, or with an API key's SID (`SK...`) and secret. `Debug` shows no
/// secret.
///
/// Webhooks are signed with the account's auth token whichever credentials the API
/// calls use: a connector configured with an API key still needs the auth token to
/// verify `X-Twilio-Signature`.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The Account SID and its auth token.
    AuthToken {
        /// `AC...`.
        account_sid: String,
        /// The auth token.
        auth_token: String,
    },
    /// An API key of the account.
    ApiKey {
        /// `AC...`: the account the key belongs to (it is in the URL).
        account_sid: String,
        /// `SK...`: the key's SID, the Basic user name.
        key_sid: String,
        /// The key's secret, the Basic password.
        secret: String,
    },
}

impl Credentials {
    /// The account the requests are for (in the URL's path).
    pub fn account_sid(&self) -> &str {
        match self {
            Self::AuthToken { account_sid, .. } | Self::ApiKey { account_sid, .. } => account_sid,
        }
    }

    /// The `Authorization` header's value: `Basic` and Base64 of `user:password`.
    pub fn authorization(&self) -> String {
        let (user, password) = match self {
            Self::AuthToken {
                account_sid,
                auth_token,
            } => (account_sid, auth_token),
            Self::ApiKey {
                key_sid, secret, ..
            } => (key_sid, secret),
        };
        format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthToken { account_sid, .. } => f
                .debug_struct("AuthToken")
                .field("account_sid", account_sid)
                .finish_non_exhaustive(),
            Self::ApiKey {
                account_sid,
                key_sid,
                ..
            } => f
                .debug_struct("ApiKey")
                .field("account_sid", account_sid)
                .field("key_sid", key_sid)
                .finish_non_exhaustive(),
        }
    }
}

/// The URL messages are created at (and listed from):
/// `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`.
pub fn messages_url(base_url: &str, account_sid: &str) -> String {
    format!(
        "{}/{API_VERSION}/Accounts/{account_sid}/Messages.json",
        base_url.trim_end_matches('/')
    )
}

/// A WhatsApp text message to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRequest {
    /// `From`: the service's WhatsApp sender ([`crate::number::us_whatsapp_sender`]).
    pub from: WhatsAppAddress,
    /// `To`: the user.
    pub to: WhatsAppAddress,
    /// `Body`: plain text, sent as it is (markup is not interpreted), 1 to
    /// [`MAX_BODY_CHARS`] characters.
    pub body: String,
    /// `StatusCallback`: where Twilio reports the message's status changes.
    pub status_callback: Option<String>,
}

/// A message that cannot be sent as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Nothing but whitespace.
    #[error("an empty message cannot be sent")]
    EmptyBody,
    /// Longer than [`MAX_BODY_CHARS`] ([`split_body`] cuts it).
    #[error("the message has {chars} characters; Twilio accepts at most {max}")]
    BodyTooLong {
        /// Its length in characters.
        chars: usize,
        /// [`MAX_BODY_CHARS`].
        max: usize,
    },
    /// Not an absolute `http(s)` URL with a host.
    #[error("the status callback {0:?} is not an absolute http(s) URL")]
    BadStatusCallback(String),
}

impl MessageRequest {
    /// A request, checked: a body Twilio accepts and an absolute status callback URL.
    pub fn new(
        from: WhatsAppAddress,
        to: WhatsAppAddress,
        body: impl Into<String>,
        status_callback: Option<String>,
    ) -> Result<Self, RequestError> {
        let body = body.into();
        if body.trim().is_empty() {
            return Err(RequestError::EmptyBody);
        }
        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(RequestError::BodyTooLong {
                chars,
                max: MAX_BODY_CHARS,
            });
        }
        if let Some(url) = &status_callback {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
            if host.is_none_or(str::is_empty) || url.chars().any(char::is_whitespace) {
                return Err(RequestError::BadStatusCallback(
                    url.chars().take(200).collect(),
                ));
            }
        }
        Ok(Self {
            from,
            to,
            body,
            status_callback,
        })
    }

    /// The form's parameters, in the order sent.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("From".to_owned(), self.from.to_string()),
            ("To".to_owned(), self.to.to_string()),
            ("Body".to_owned(), self.body.clone()),
        ];
        if let Some(url) = &self.status_callback {
            params.push(("StatusCallback".to_owned(), url.clone()));
        }
        params
    }

    /// The request body, form-encoded
    /// (`From=whatsapp%3A%2B1...&To=whatsapp%3A%2B...&Body=...&StatusCallback=...`).
    pub fn form_body(&self) -> String {
        form::encode(&self.params())
    }
}

/// `text` cut into bodies of at most [`MAX_BODY_CHARS`] characters, at whitespace where
/// there is some in the last quarter of a piece, else anywhere; pieces are trimmed and
/// empty ones dropped.
pub fn split_body(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let mut end = rest.len();
        if let Some((limit, _)) = rest.char_indices().nth(MAX_BODY_CHARS) {
            end = limit;
            let window_start = rest
                .char_indices()
                .nth(MAX_BODY_CHARS * 3 / 4)
                .map_or(0, |(i, _)| i);
            if let Some((i, _)) = rest[window_start..limit]
                .char_indices()
                .rev()
                .find(|(_, c)| c.is_whitespace())
            {
                end = window_start + i;
            }
        }
        let (piece, tail) = rest.split_at(end);
        let piece = piece.trim();
        if !piece.is_empty() {
            pieces.push(piece.to_owned());
        }
        rest = tail.trim_start();
    }
    pieces
}

/// A Message resource as Twilio answers it (the fields the connector uses; others are
/// ignored).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// `SM...`: the message, as status callbacks name it.
    pub sid: String,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// `queued` for a message just created ([`Message::status`]).
    pub status: String,
    /// The sender (`whatsapp:+1...`).
    #[serde(default)]
    pub from: Option<String>,
    /// The recipient.
    #[serde(default)]
    pub to: Option<String>,
    /// The text.
    #[serde(default)]
    pub body: Option<String>,
    /// `outbound-api` for messages created through the API.
    #[serde(default)]
    pub direction: Option<String>,
    /// When it was created (RFC 2822, GMT).
    #[serde(default)]
    pub date_created: Option<String>,
    /// The error code of a failed or undelivered message.
    #[serde(default)]
    pub error_code: Option<u32>,
    /// Its description.
    #[serde(default)]
    pub error_message: Option<String>,
}

impl Message {
    /// The status, if it is one Twilio documents.
    pub fn status(&self) -> Option<MessageStatus> {
        self.status.parse().ok()
    }
}

/// A page of the Messages list (`GET` [`list_url`]), newest first.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MessagePage {
    /// The messages.
    pub messages: Vec<Message>,
    /// The next page's URI (relative to the base URL), if there is one.
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

/// Twilio's error answer: `{"code": 21211, "message": "...", "more_info": "...",
/// "status": 400}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// Twilio's error code ([`crate::errors`]).
    #[serde(default)]
    pub code: Option<u32>,
    /// Twilio's message.
    #[serde(default)]
    pub message: String,
    /// The error's documentation page.
    #[serde(default)]
    pub more_info: Option<String>,
    /// The HTTP status, repeated.
    #[serde(default)]
    pub status: Option<u16>,
}

/// An answer that is not what the documentation describes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Not the expected JSON.
    #[error("Twilio's answer is not the documented JSON: {0}")]
    Json(String),
    /// The `sid` is not a message SID.
    #[error("Twilio's answer has no message SID ({0:?})")]
    BadSid(String),
}

/// Reads a `201 Created` answer's body.
pub fn parse_message(body: &[u8]) -> Result<Message, AnswerError> {
    let message: Message =
        serde_json::from_slice(body).map_err(|e| AnswerError::Json(e.to_string()))?;
    if !(is_sid(&message.sid, "SM") || is_sid(&message.sid, "MM")) {
        return Err(AnswerError::BadSid(message.sid.chars().take(64).collect()));
    }
    Ok(message)
}

/// Reads a list answer's body (`200`).
pub fn parse_page(body: &[u8]) -> Result<MessagePage, AnswerError> {
    serde_json::from_slice(body).map_err(|e| AnswerError::Json(e.to_string()))
}

/// Reads an error answer's body, if it is Twilio's error JSON.
pub fn parse_error(body: &[u8]) -> Option<ApiError> {
    serde_json::from_slice(body).ok()
}

/// The URL that lists the messages sent from `request.from` to `request.to`, newest
/// first, one page of 50: where to look for a message an uncertain attempt may have
/// created ([`find_sent`]).
pub fn list_url(base_url: &str, account_sid: &str, request: &MessageRequest) -> String {
    let query = form::encode(&[
        ("To", request.to.to_string()),
        ("From", request.from.to_string()),
        ("PageSize", "50".to_owned()),
    ]);
    format!("{}?{query}", messages_url(base_url, account_sid))
}

/// The message of `page` that an earlier attempt of `request` created: the newest with
/// the same `From`, `To` and `Body` whose `sid` is not among `known_sids` (the sids
/// already recorded for other messages, so that the same text sent twice on purpose is
/// not taken for this one).
pub fn find_sent<'a>(
    page: &'a MessagePage,
    request: &MessageRequest,
    known_sids: &[&str],
) -> Option<&'a Message> {
    let from = request.from.to_string();
    let to = request.to.to_string();
    page.messages.iter().find(|m| {
        m.from.as_deref() == Some(from.as_str())
            && m.to.as_deref() == Some(to.as_str())
            && m.body.as_deref() == Some(request.body.as_str())
            && !known_sids.contains(&m.sid.as_str())
    })
}

/// What a failed attempt means, and what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing was created: send again after the delay ([`Disposition::delay`]).
    Retry {
        /// How long Twilio asked to wait (`Retry-After`), if it did.
        after: Option<Duration>,
    },
    /// Twilio may have created the message: look for it ([`find_sent`]) before sending
    /// again, after the delay.
    Reconcile {
        /// How long Twilio asked to wait (`Retry-After`), if it did.
        after: Option<Duration>,
    },
    /// Sending again will not help.
    Fail {
        /// The HTTP status.
        status: u16,
        /// Twilio's error code, if its answer had one.
        code: Option<u32>,
        /// Why, for people: [`crate::errors::describe`] of the code, else Twilio's
        /// message, else the HTTP status.
        message: String,
    },
}

impl Disposition {
    /// How long to wait before the next attempt, the `attempt`th retry (0 for the first):
    /// Twilio's `Retry-After` if it gave one, else [`backoff`]; `None` after
    /// [`Disposition::Fail`].
    pub fn delay(&self, attempt: u32, random: Option<u64>) -> Option<Duration> {
        match self {
            Self::Retry { after } | Self::Reconcile { after } => {
                Some(after.unwrap_or_else(|| backoff(attempt, random)))
            }
            Self::Fail { .. } => None,
        }
    }
}

/// How an attempt failed before Twilio answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// No connection was made (refused, unreachable, DNS, TLS handshake): the request
    /// never reached Twilio.
    Connect,
    /// The request was (or may have been) sent, and no answer came (timeout, reset).
    Lost,
}

/// What an attempt that failed before any answer means.
pub fn transport(failure: TransportFailure) -> Disposition {
    match failure {
        TransportFailure::Connect => Disposition::Retry { after: None },
        TransportFailure::Lost => Disposition::Reconcile { after: None },
    }
}

/// The created message of a `POST` answered with `status`, `retry_after` (the
/// `Retry-After` header, if any) and `body`, or what to do instead ([`classify`]).
pub fn read_answer(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Message, Disposition> {
    if (200..300).contains(&status)
        && let Ok(message) = parse_message(body)
    {
        return Ok(message);
    }
    Err(classify(status, retry_after, body))
}

/// What an answer other than a readable `2xx` means: `429` → [`Disposition::Retry`];
/// `5xx`, `408` and unreadable `2xx` → [`Disposition::Reconcile`]; anything else →
/// [`Disposition::Fail`] with Twilio's error code and message.
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> Disposition {
    let after = retry_after.and_then(parse_retry_after);
    match status {
        429 => Disposition::Retry { after },
        200..=299 | 408 | 500..=599 => Disposition::Reconcile { after },
        _ => {
            let error = parse_error(body);
            let code = error.as_ref().and_then(|e| e.code);
            let message = code
                .and_then(errors::describe)
                .map(str::to_owned)
                .or_else(|| error.map(|e| e.message).filter(|m| !m.trim().is_empty()))
                .unwrap_or_else(|| format!("Twilio answered HTTP {status}"));
            Disposition::Fail {
                status,
                code,
                message,
            }
        }
    }
}

/// `Retry-After` in seconds (the form Twilio's rate limits use), at most [`MAX_RETRY`];
/// `None` for the HTTP-date form (which needs a clock) or anything unreadable.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY))
}

/// The wait before the `attempt`th retry (0 for the first): [`FIRST_RETRY`] doubled
/// `attempt` times, at most [`MAX_RETRY`]. With `random` (any number the caller drew),
/// a point between half that and all of it, so that many senders do not retry in step.
pub fn backoff(attempt: u32, random: Option<u64>) -> Duration {
    let max_ms = u64::try_from(MAX_RETRY.as_millis()).unwrap_or(u64::MAX);
    let first_ms = u64::try_from(FIRST_RETRY.as_millis()).unwrap_or(1);
    // 2^20 seconds is far beyond the cap; no shift overflows below it.
    let ms = if attempt >= 20 {
        max_ms
    } else {
        (first_ms << attempt).min(max_ms)
    };
    let ms = match random {
        None => ms,
        Some(r) => {
            let half = ms / 2;
            half + r % (ms - half + 1)
        }
    };
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const SM: &str = "SM0123456789abcdef0123456789abcdef";

    fn request(body: &str) -> MessageRequest {
        MessageRequest::new(
            WhatsAppAddress::parse("whatsapp:+12025550123").expect("from"),
            WhatsAppAddress::parse("whatsapp:+447700900123").expect("to"),
            body,
            Some("https://interact.example/twilio/status?m=42".into()),
        )
        .expect("valid")
    }

    #[test]
    fn the_request_is_the_documented_form() {
        let r = request("Hello & welcome!");
        assert_eq!(
            r.form_body(),
            "From=whatsapp%3A%2B12025550123&To=whatsapp%3A%2B447700900123\
             &Body=Hello+%26+welcome%21\
             &StatusCallback=https%3A%2F%2Finteract.example%2Ftwilio%2Fstatus%3Fm%3D42"
        );
        let back = form::parse(r.form_body().as_bytes());
        assert_eq!(back, r.params());
        assert_eq!(
            messages_url(DEFAULT_BASE_URL, AC),
            format!("https://api.twilio.com/2010-04-01/Accounts/{AC}/Messages.json")
        );
        assert_eq!(
            messages_url("http://127.0.0.1:4000/", AC),
            format!("http://127.0.0.1:4000/2010-04-01/Accounts/{AC}/Messages.json")
        );
        let no_callback = MessageRequest {
            status_callback: None,
            ..r
        };
        assert!(!no_callback.form_body().contains("StatusCallback"));
    }

    #[test]
    fn bodies_and_callbacks_are_checked_before_sending() {
        let from = WhatsAppAddress::parse("whatsapp:+12025550123").expect("from");
        let to = WhatsAppAddress::parse("whatsapp:+447700900123").expect("to");
        let new = |body: &str, cb: Option<&str>| {
            MessageRequest::new(from.clone(), to.clone(), body, cb.map(str::to_owned))
        };
        assert_eq!(new(" \n", None), Err(RequestError::EmptyBody));
        assert!(new(&"é".repeat(MAX_BODY_CHARS), None).is_ok());
        assert_eq!(
            new(&"a".repeat(MAX_BODY_CHARS + 1), None),
            Err(RequestError::BodyTooLong {
                chars: MAX_BODY_CHARS + 1,
                max: MAX_BODY_CHARS
            })
        );
        assert!(new("<b>hi</b>", Some("http://127.0.0.1:8080/cb")).is_ok());
        for bad in [
            "/relative",
            "ftp://x/y",
            "https://",
            "https:///path",
            "https://a b/",
        ] {
            assert!(
                matches!(
                    new("hi", Some(bad)),
                    Err(RequestError::BadStatusCallback(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn long_text_is_split_into_bodies_twilio_accepts() {
        assert!(split_body("  ").is_empty());
        assert_eq!(split_body(" short "), vec!["short"]);
        let words = "word ".repeat(1000); // 5000 characters
        let pieces = split_body(&words);
        assert!(pieces.len() >= 4);
        for p in &pieces {
            assert!(p.chars().count() <= MAX_BODY_CHARS);
            assert!(
                p.starts_with("word") && p.ends_with("word"),
                "cut at a space"
            );
        }
        assert_eq!(pieces.join(" "), words.trim());
        let solid = "é".repeat(MAX_BODY_CHARS * 2 + 10);
        let pieces = split_body(&solid);
        assert_eq!(
            pieces.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            vec![MAX_BODY_CHARS, MAX_BODY_CHARS, 10]
        );
    }

    #[test]
    fn credentials_make_basic_authorization_and_hide_secrets() {
        let token = Credentials::AuthToken {
            account_sid: AC.into(),
            auth_token: "secret-token".into(),
        };
        assert_eq!(
            token.authorization(),
            format!("Basic {}", BASE64.encode(format!("{AC}:secret-token")))
        );
        let key = Credentials::ApiKey {
            account_sid: AC.into(),
            key_sid: "SK0123456789abcdef0123456789abcdef".into(),
            secret: "key-secret".into(),
        };
        assert_eq!(
            key.authorization(),
            format!(
                "Basic {}",
                BASE64.encode("SK0123456789abcdef0123456789abcdef:key-secret")
            )
        );
        assert_eq!(key.account_sid(), AC);
        for c in [&token, &key] {
            let shown = format!("{c:?}");
            assert!(
                !shown.contains("secret-token") && !shown.contains("key-secret"),
                "{shown}"
            );
            assert!(shown.contains(AC));
        }
    }

    /// The `create` example of the Messages resource's OpenAPI description.
    const CREATED: &str = r#"{
      "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "api_version": "2010-04-01",
      "body": "Hello! 👍",
      "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
      "date_sent": "Thu, 24 Aug 2023 05:01:45 +0000",
      "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
      "direction": "outbound-api",
      "error_code": null,
      "error_message": null,
      "from": "+14155552345",
      "num_media": "0",
      "num_segments": "1",
      "price": null,
      "price_unit": null,
      "messaging_service_sid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "sid": "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "status": "queued",
      "subresource_uris": {
        "media": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json"
      },
      "to": "+14155552345",
      "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"
    }"#;

    #[test]
    fn the_documented_created_answer_is_read() {
        let m = read_answer(201, None, CREATED.as_bytes()).expect("created");
        assert_eq!(m.sid, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(m.status(), Some(MessageStatus::Queued));
        assert_eq!(m.body.as_deref(), Some("Hello! 👍"));
        assert_eq!(m.direction.as_deref(), Some("outbound-api"));
        assert_eq!(m.error_code, None);
        assert!(matches!(
            parse_message(br#"{"sid": "XX1", "status": "queued"}"#),
            Err(AnswerError::BadSid(_))
        ));
        assert!(matches!(
            parse_message(b"<xml/>"),
            Err(AnswerError::Json(_))
        ));
    }

    #[test]
    fn errors_are_read_and_classified() {
        // Twilio's documented error shape.
        let invalid_to = br#"{"code": 21211, "message": "The 'To' number 5551234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            parse_error(invalid_to),
            Some(ApiError {
                code: Some(21211),
                message: "The 'To' number 5551234567 is not a valid phone number.".into(),
                more_info: Some("https://www.twilio.com/docs/errors/21211".into()),
                status: Some(400),
            })
        );
        assert_eq!(
            classify(400, None, invalid_to),
            Disposition::Fail {
                status: 400,
                code: Some(21211),
                message: "The customer's number is not a valid phone number".into(),
            }
        );
        let auth = br#"{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#;
        assert!(matches!(
            classify(401, None, auth),
            Disposition::Fail {
                status: 401,
                code: Some(20003),
                ..
            }
        ));
        // An unknown code keeps Twilio's message; no JSON at all says the status.
        let odd = br#"{"code": 99999, "message": "Something odd", "status": 400}"#;
        assert!(matches!(
            classify(400, None, odd),
            Disposition::Fail { message, .. } if message == "Something odd"
        ));
        assert!(matches!(
            classify(403, None, b"<html>Forbidden</html>"),
            Disposition::Fail { code: None, message, .. } if message == "Twilio answered HTTP 403"
        ));
        assert_eq!(read_answer(400, None, invalid_to).map(|m| m.sid).ok(), None);
    }

    #[test]
    fn what_is_retried_and_what_is_looked_up_first() {
        let busy = br#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#;
        assert_eq!(
            classify(429, Some("1"), busy),
            Disposition::Retry {
                after: Some(Duration::from_secs(1))
            }
        );
        assert_eq!(classify(429, None, b""), Disposition::Retry { after: None });
        assert_eq!(
            classify(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), b""),
            Disposition::Retry { after: None }
        );
        for status in [500, 502, 503, 504, 408] {
            assert_eq!(
                classify(status, None, b"oops"),
                Disposition::Reconcile { after: None },
                "{status}"
            );
        }
        assert_eq!(
            classify(503, Some("7"), b""),
            Disposition::Reconcile {
                after: Some(Duration::from_secs(7))
            }
        );
        // A 201 that cannot be read: the message probably exists.
        assert_eq!(
            read_answer(201, None, b"{truncated"),
            Err(Disposition::Reconcile { after: None })
        );
        assert_eq!(
            transport(TransportFailure::Connect),
            Disposition::Retry { after: None }
        );
        assert_eq!(
            transport(TransportFailure::Lost),
            Disposition::Reconcile { after: None }
        );
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY));
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let secs: Vec<u64> = (0..12).map(|a| backoff(a, None).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, None), MAX_RETRY);
        assert_eq!(backoff(63, None), MAX_RETRY);
        for attempt in [0, 3, 20] {
            let full = backoff(attempt, None);
            for r in [0, 1, 999, u64::MAX] {
                let d = backoff(attempt, Some(r));
                assert!(d >= full / 2 && d <= full, "{attempt} {r} {d:?}");
            }
        }
        assert_eq!(backoff(0, Some(0)), Duration::from_millis(500));
        let retry = Disposition::Retry {
            after: Some(Duration::from_secs(1)),
        };
        assert_eq!(retry.delay(5, None), Some(Duration::from_secs(1)));
        let reconcile = Disposition::Reconcile { after: None };
        assert_eq!(reconcile.delay(2, None), Some(Duration::from_secs(4)));
        let fail = classify(400, None, b"");
        assert_eq!(fail.delay(0, None), None);
    }

    #[test]
    fn an_uncertain_attempt_is_found_in_the_list() {
        let r = request("Your order has shipped");
        let url = list_url(DEFAULT_BASE_URL, AC, &r);
        assert_eq!(
            url,
            format!(
                "https://api.twilio.com/2010-04-01/Accounts/{AC}/Messages.json\
                 ?To=whatsapp%3A%2B447700900123&From=whatsapp%3A%2B12025550123&PageSize=50"
            )
        );
        let entry = |sid: &str, body: &str| {
            format!(
                r#"{{"sid": "{sid}", "status": "sent", "from": "whatsapp:+12025550123",
                    "to": "whatsapp:+447700900123", "body": "{body}", "direction": "outbound-api"}}"#
            )
        };
        let older = "SM00000000000000000000000000000001";
        let newer = "SM00000000000000000000000000000002";
        let page = format!(
            r#"{{"messages": [{}, {}, {}], "next_page_uri": null, "page": 0, "page_size": 50}}"#,
            entry(newer, "Your order has shipped"),
            entry(SM, "Something else"),
            entry(older, "Your order has shipped"),
        );
        let page = parse_page(page.as_bytes()).expect("page");
        assert_eq!(page.messages.len(), 3);
        assert_eq!(
            find_sent(&page, &r, &[]).map(|m| m.sid.as_str()),
            Some(newer)
        );
        // The newer one is already another record's: the older one is this attempt's.
        assert_eq!(
            find_sent(&page, &r, &[newer]).map(|m| m.sid.as_str()),
            Some(older)
        );
        assert_eq!(find_sent(&page, &r, &[newer, older]), None);
        assert_eq!(find_sent(&page, &request("Not sent"), &[]), None);
    }
}
