//! The incoming-message webhook: what Twilio `POST`s (form-encoded) to the connector's
//! URL when a WhatsApp user writes to the service's number ("Twilio's request to your
//! incoming message Webhook URL",
//! <https://www.twilio.com/docs/messaging/guides/webhook-request>).
//!
//! Check the signature first ([`crate::signature::verify`], over every parameter
//! received), then read the message with [`Inbound::from_form`]. Twilio may retry a
//! webhook; the same message keeps its `MessageSid`, so store by it (once).
//!
//! The answer Twilio expects is TwiML; an empty `<Response/>` (or an empty `200`) sends
//! nothing back ([`EMPTY_TWIML`]).

use crate::address::WhatsAppAddress;
use crate::form::single;
use crate::is_sid;

/// The most characters of text accepted in one message's `Body` (WhatsApp's own limit
/// for a text message); more is refused ([`InboundError::BodyTooLong`]).
pub const MAX_BODY_CHARS: usize = 4096;

/// The most characters accepted in the sender's `ProfileName` (WhatsApp's are far
/// shorter); more is refused.
pub const MAX_PROFILE_NAME_CHARS: usize = 256;

/// A TwiML answer that sends nothing back, with its `Content-Type` `text/xml`.
pub const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// An incoming WhatsApp message, as the webhook describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// `MessageSid`: `SM` or `MM` and 32 hex digits; the same on Twilio's retries, so the
    /// key to store the message once.
    pub message_sid: String,
    /// `AccountSid`: the Twilio account (`AC` and 32 hex digits) the message arrived on;
    /// the connector checks it is its own.
    pub account_sid: String,
    /// `From`: the WhatsApp user who wrote.
    pub from: WhatsAppAddress,
    /// `To`: the service's WhatsApp number the user wrote to.
    pub to: WhatsAppAddress,
    /// `Body`: the text, at most [`MAX_BODY_CHARS`] characters; empty when only media
    /// came.
    pub body: String,
    /// `NumMedia`: how many media items came with the message (`MediaUrl0`...).
    pub num_media: u32,
    /// `ProfileName`: the name the user shows in WhatsApp, if Twilio sent one.
    pub profile_name: Option<String>,
    /// `WaId`: the user's WhatsApp ID (their number's digits), if Twilio sent one.
    pub wa_id: Option<String>,
    /// `MessagingServiceSid`, if the number belongs to a Messaging Service.
    pub messaging_service_sid: Option<String>,
    /// `MessageType` (`text`, `image`, `location`, `button`...), if Twilio sent one.
    pub message_type: Option<String>,
}

/// An incoming-message webhook that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// A parameter Twilio always sends is not there.
    #[error("the incoming message has no {0} parameter")]
    Missing(&'static str),
    /// A parameter came more than once.
    #[error("the incoming message gives {0} more than once")]
    Repeated(&'static str),
    /// `MessageSid` or `AccountSid` is not a Twilio SID of its kind.
    #[error("{field} {value:?} is not a Twilio {kind} SID")]
    BadSid {
        /// The parameter.
        field: &'static str,
        /// Which SID it should be (`message`, `account`).
        kind: &'static str,
        /// What was given (at most 64 characters of it).
        value: String,
    },
    /// `From` or `To` is not `whatsapp:+<E.164>`.
    #[error("{field} is not a WhatsApp sender: {source}")]
    NotWhatsApp {
        /// The parameter.
        field: &'static str,
        /// Why.
        source: crate::AddressError,
    },
    /// `Body` is longer than [`MAX_BODY_CHARS`].
    #[error("the message has {chars} characters; at most {max} are accepted")]
    BodyTooLong {
        /// The body's length in characters.
        chars: usize,
        /// [`MAX_BODY_CHARS`].
        max: usize,
    },
    /// `ProfileName` is longer than [`MAX_PROFILE_NAME_CHARS`].
    #[error("ProfileName has {chars} characters; at most {max} are accepted")]
    ProfileNameTooLong {
        /// Its length in characters.
        chars: usize,
        /// [`MAX_PROFILE_NAME_CHARS`].
        max: usize,
    },
    /// `NumMedia` is not a count.
    #[error("NumMedia {0:?} is not a number")]
    BadNumMedia(String),
}

fn bounded(value: &str) -> String {
    value.chars().take(64).collect()
}

impl Inbound {
    /// Reads the webhook's parameters (all of them, as [`crate::form::parse`] gives them).
    /// `MessageSid`, `AccountSid`, `From`, `To`, `Body` and `NumMedia` are required (Twilio
    /// sends them with every message); the others are optional, and parameters this
    /// crate does not know are ignored (Twilio adds some without notice).
    pub fn from_form(params: &[(String, String)]) -> Result<Self, InboundError> {
        let get = |name: &'static str| single(params, name).map_err(InboundError::Repeated);
        let need = |name: &'static str| get(name)?.ok_or(InboundError::Missing(name));

        let message_sid = need("MessageSid")?;
        if !(is_sid(message_sid, "SM") || is_sid(message_sid, "MM")) {
            return Err(InboundError::BadSid {
                field: "MessageSid",
                kind: "message",
                value: bounded(message_sid),
            });
        }
        let account_sid = need("AccountSid")?;
        if !is_sid(account_sid, "AC") {
            return Err(InboundError::BadSid {
                field: "AccountSid",
                kind: "account",
                value: bounded(account_sid),
            });
        }
        let from =
            WhatsAppAddress::parse(need("From")?).map_err(|source| InboundError::NotWhatsApp {
                field: "From",
                source,
            })?;
        let to =
            WhatsAppAddress::parse(need("To")?).map_err(|source| InboundError::NotWhatsApp {
                field: "To",
                source,
            })?;
        let body = need("Body")?;
        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(InboundError::BodyTooLong {
                chars,
                max: MAX_BODY_CHARS,
            });
        }
        let num_media = need("NumMedia")?;
        let num_media = num_media
            .parse()
            .map_err(|_| InboundError::BadNumMedia(bounded(num_media)))?;
        let profile_name = get("ProfileName")?;
        if let Some(name) = profile_name {
            let chars = name.chars().count();
            if chars > MAX_PROFILE_NAME_CHARS {
                return Err(InboundError::ProfileNameTooLong {
                    chars,
                    max: MAX_PROFILE_NAME_CHARS,
                });
            }
        }
        let short = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(bounded);
        Ok(Self {
            message_sid: message_sid.to_owned(),
            account_sid: account_sid.to_owned(),
            from,
            to,
            body: body.to_owned(),
            num_media,
            profile_name: profile_name.filter(|n| !n.is_empty()).map(str::to_owned),
            wa_id: short(get("WaId")?),
            messaging_service_sid: short(get("MessagingServiceSid")?),
            message_type: short(get("MessageType")?),
        })
    }

    /// Whether media (images, documents, audio...) came with the message
    /// (`NumMedia > 0`): the connector is text only and answers those politely.
    pub fn has_media(&self) -> bool {
        self.num_media > 0
    }

    /// Whether the message carries text and nothing else: no media, a non-empty body,
    /// and no `MessageType` other than `text` (a shared location, for example, has
    /// neither text nor media).
    pub fn is_text(&self) -> bool {
        !self.has_media()
            && !self.body.trim().is_empty()
            && self.message_type.as_deref().is_none_or(|t| t == "text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM: &str = "SM0123456789abcdef0123456789abcdef";
    const AC: &str = "AC0123456789abcdef0123456789abcdef";

    fn webhook(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("MessageSid", SM),
            ("SmsSid", SM),
            ("SmsMessageSid", SM),
            ("AccountSid", AC),
            ("From", "whatsapp:+447700900123"),
            ("To", "whatsapp:+12025550123"),
            ("Body", "Hello, I need help with my order"),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("ProfileName", "Robin Example"),
            ("WaId", "447700900123"),
            ("MessageType", "text"),
            ("SmsStatus", "received"),
            ("ApiVersion", "2010-04-01"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (name, value) in changes {
            params.retain(|(k, _)| k != name);
            if let Some(v) = value {
                params.push(((*name).to_owned(), (*v).to_owned()));
            }
        }
        params
    }

    #[test]
    fn a_text_message_is_read() {
        let m = Inbound::from_form(&webhook(&[])).expect("valid");
        assert_eq!(m.message_sid, SM);
        assert_eq!(m.account_sid, AC);
        assert_eq!(m.from.e164(), "+447700900123");
        assert_eq!(m.to.to_string(), "whatsapp:+12025550123");
        assert_eq!(m.body, "Hello, I need help with my order");
        assert_eq!(m.num_media, 0);
        assert_eq!(m.profile_name.as_deref(), Some("Robin Example"));
        assert_eq!(m.wa_id.as_deref(), Some("447700900123"));
        assert_eq!(m.message_type.as_deref(), Some("text"));
        assert!(!m.has_media());
        assert!(m.is_text());
    }

    #[test]
    fn optional_parameters_may_be_absent_and_unknown_ones_are_ignored() {
        let m = Inbound::from_form(&webhook(&[
            ("ProfileName", None),
            ("WaId", None),
            ("MessageType", None),
            ("SomethingNew", Some("x")),
        ]))
        .expect("valid");
        assert!(m.is_text());
        assert_eq!(
            (m.profile_name, m.wa_id, m.message_type),
            (None, None, None)
        );
    }

    #[test]
    fn media_is_seen() {
        let m = Inbound::from_form(&webhook(&[
            ("NumMedia", Some("2")),
            ("Body", Some("")),
            ("MediaUrl0", Some("https://api.twilio.com/x")),
            ("MediaContentType0", Some("image/jpeg")),
            ("MessageType", Some("image")),
        ]))
        .expect("valid");
        assert!(m.has_media());
        assert!(!m.is_text());
        let location = Inbound::from_form(&webhook(&[
            ("Body", Some("")),
            ("MessageType", Some("location")),
            ("Latitude", Some("51.5")),
        ]))
        .expect("valid");
        assert!(!location.has_media() && !location.is_text());
    }

    #[test]
    fn missing_fields_are_named() {
        for name in ["MessageSid", "AccountSid", "From", "To", "Body", "NumMedia"] {
            assert_eq!(
                Inbound::from_form(&webhook(&[(name, None)])),
                Err(InboundError::Missing(name)),
                "{name}"
            );
        }
        let e = Inbound::from_form(&webhook(&[("Body", None)])).expect_err("no body");
        assert_eq!(e.to_string(), "the incoming message has no Body parameter");
    }

    #[test]
    fn a_sender_that_is_not_whatsapp_is_refused() {
        for from in [
            "+447700900123",
            "sms:+447700900123",
            "whatsapp:447700900123",
            "",
        ] {
            let e = Inbound::from_form(&webhook(&[("From", Some(from))])).expect_err(from);
            assert!(
                matches!(&e, InboundError::NotWhatsApp { field: "From", source } if source.value == from),
                "{e:?}"
            );
            assert!(
                e.to_string().starts_with("From is not a WhatsApp sender"),
                "{e}"
            );
        }
        assert!(matches!(
            Inbound::from_form(&webhook(&[("To", Some("+12025550123"))])),
            Err(InboundError::NotWhatsApp { field: "To", .. })
        ));
    }

    #[test]
    fn bodies_are_bounded() {
        let at_limit = "é".repeat(MAX_BODY_CHARS);
        let m = Inbound::from_form(&webhook(&[("Body", Some(&at_limit))])).expect("at limit");
        assert_eq!(m.body.chars().count(), MAX_BODY_CHARS);
        let over = "a".repeat(MAX_BODY_CHARS + 1);
        assert_eq!(
            Inbound::from_form(&webhook(&[("Body", Some(&over))])),
            Err(InboundError::BodyTooLong {
                chars: MAX_BODY_CHARS + 1,
                max: MAX_BODY_CHARS
            })
        );
        let name = "n".repeat(MAX_PROFILE_NAME_CHARS + 1);
        assert!(matches!(
            Inbound::from_form(&webhook(&[("ProfileName", Some(&name))])),
            Err(InboundError::ProfileNameTooLong { .. })
        ));
    }

    #[test]
    fn sids_counts_and_repeats_are_checked() {
        assert!(matches!(
            Inbound::from_form(&webhook(&[("MessageSid", Some("SM123"))])),
            Err(InboundError::BadSid {
                field: "MessageSid",
                ..
            })
        ));
        assert!(matches!(
            Inbound::from_form(&webhook(&[("AccountSid", Some(SM))])),
            Err(InboundError::BadSid {
                field: "AccountSid",
                ..
            })
        ));
        let mms = Inbound::from_form(&webhook(&[(
            "MessageSid",
            Some("MM0123456789abcdef0123456789abcdef"),
        )]));
        assert!(mms.is_ok());
        for n in ["-1", "two", "", "99999999999"] {
            assert!(
                matches!(
                    Inbound::from_form(&webhook(&[("NumMedia", Some(n))])),
                    Err(InboundError::BadNumMedia(_))
                ),
                "{n}"
            );
        }
        let mut twice = webhook(&[]);
        twice.push(("Body".into(), "and again".into()));
        assert_eq!(
            Inbound::from_form(&twice),
            Err(InboundError::Repeated("Body"))
        );
    }
}
