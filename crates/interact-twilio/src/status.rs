//! Status callbacks: what Twilio `POST`s (form-encoded, signed like every webhook) to a
//! message's `StatusCallback` URL when the message's status changes ("Outbound Message
//! Status in Status Callbacks",
//! <https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks>;
//! the statuses: the Messages resource, <https://www.twilio.com/docs/messaging/api/message-resource>).
//!
//! A message created through the API starts `queued` (no callback is sent for it), then
//! goes `sending`, `sent`, and `delivered` or `undelivered`, or `failed`; WhatsApp adds
//! `read`. Callbacks can arrive late, twice or out of order: [`Delivery::advances`] keeps
//! what an agent sees moving forward only.

use std::fmt;
use std::str::FromStr;

use crate::form::single;
use crate::is_sid;

/// A Message's `status` (the Messages resource's `message_enum_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// `queued`: accepted by the API, waiting to be sent.
    Queued,
    /// `sending`: being handed to the channel.
    Sending,
    /// `sent`: the channel (WhatsApp) accepted it.
    Sent,
    /// `failed`: it could not be sent (see the error code).
    Failed,
    /// `delivered`: it reached the user's device.
    Delivered,
    /// `undelivered`: the channel could not deliver it (see the error code).
    Undelivered,
    /// `receiving`: an inbound message being received.
    Receiving,
    /// `received`: an inbound message.
    Received,
    /// `accepted`: accepted by a Messaging Service, which picks a sender.
    Accepted,
    /// `scheduled`: to be sent later (Messaging Services).
    Scheduled,
    /// `read`: the user opened it (WhatsApp).
    Read,
    /// `partially_delivered`: group MMS only.
    PartiallyDelivered,
    /// `canceled`: a scheduled message canceled before it was sent.
    Canceled,
}

impl MessageStatus {
    /// Every status, for tests and tables.
    pub const ALL: [Self; 13] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Delivered,
        Self::Undelivered,
        Self::Receiving,
        Self::Received,
        Self::Accepted,
        Self::Scheduled,
        Self::Read,
        Self::PartiallyDelivered,
        Self::Canceled,
    ];

    /// The status as Twilio writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Receiving => "receiving",
            Self::Received => "received",
            Self::Accepted => "accepted",
            Self::Scheduled => "scheduled",
            Self::Read => "read",
            Self::PartiallyDelivered => "partially_delivered",
            Self::Canceled => "canceled",
        }
    }

    /// What an agent sees of this status: `None` for the statuses before the message
    /// left Twilio (`queued`, `sending`, `accepted`, `scheduled`), for inbound ones and
    /// for group MMS's `partially_delivered`.
    pub fn delivery(self) -> Option<Delivery> {
        match self {
            Self::Sent => Some(Delivery::Sent),
            Self::Delivered => Some(Delivery::Delivered),
            Self::Read => Some(Delivery::Read),
            Self::Failed | Self::Undelivered | Self::Canceled => Some(Delivery::Failed),
            Self::Queued
            | Self::Sending
            | Self::Accepted
            | Self::Scheduled
            | Self::Receiving
            | Self::Received
            | Self::PartiallyDelivered => None,
        }
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status Twilio does not document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Twilio message status")]
pub struct UnknownStatus(pub String);

impl FromStr for MessageStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.chars().take(64).collect()))
    }
}

/// The delivery states agents see, in the order a message goes through them:
/// `Sent < Delivered < Read`; `Failed` ends a message that did not reach the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Delivery {
    /// WhatsApp accepted it.
    Sent,
    /// It reached the user's device.
    Delivered,
    /// The user opened it.
    Read,
    /// It did not reach the user (`failed`, `undelivered`, `canceled`).
    Failed,
}

impl Delivery {
    /// Whether a message that is at `from` (`None`: nothing seen yet) moves to `to`:
    /// only forward. `Sent` may become `Delivered`, `Read` or `Failed`; `Delivered` may
    /// become `Read`; `Read` and `Failed` are final. A callback that arrives late (a
    /// `delivered` after the `read`) or twice is ignored this way.
    pub fn advances(from: Option<Self>, to: Self) -> bool {
        match from {
            None => true,
            Some(Self::Sent) => to != Self::Sent,
            Some(Self::Delivered) => to == Self::Read,
            Some(Self::Read | Self::Failed) => false,
        }
    }

    /// The state as the protocol and the console name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// A status callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCallback {
    /// `MessageSid`: the message whose status changed (as the Messages resource answered
    /// when it was created).
    pub message_sid: String,
    /// `MessageStatus`.
    pub status: MessageStatus,
    /// `ErrorCode`, sent with `failed` and `undelivered` (e.g. 63016: outside the
    /// customer service window; [`crate::errors::describe`]).
    pub error_code: Option<u32>,
    /// `AccountSid`, if sent.
    pub account_sid: Option<String>,
    /// `From`, if sent (the service's `whatsapp:` number).
    pub from: Option<String>,
    /// `To`, if sent (the user's `whatsapp:` address).
    pub to: Option<String>,
}

/// A status callback that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// `MessageSid` or `MessageStatus` is not there.
    #[error("the status callback has no {0} parameter")]
    Missing(&'static str),
    /// A parameter came more than once.
    #[error("the status callback gives {0} more than once")]
    Repeated(&'static str),
    /// `MessageSid` is not a message SID.
    #[error("MessageSid {0:?} is not a Twilio message SID")]
    BadSid(String),
    /// `MessageStatus` is not one Twilio documents.
    #[error(transparent)]
    UnknownStatus(#[from] UnknownStatus),
    /// `ErrorCode` is not a number.
    #[error("ErrorCode {0:?} is not a number")]
    BadErrorCode(String),
}

impl StatusCallback {
    /// Reads the callback's parameters (after checking their signature). `MessageSid`
    /// and `MessageStatus` are required; the rest is optional and unknown parameters are
    /// ignored.
    pub fn from_form(params: &[(String, String)]) -> Result<Self, StatusError> {
        let get = |name: &'static str| single(params, name).map_err(StatusError::Repeated);
        let need = |name: &'static str| get(name)?.ok_or(StatusError::Missing(name));
        let message_sid = need("MessageSid")?;
        if !(is_sid(message_sid, "SM") || is_sid(message_sid, "MM")) {
            return Err(StatusError::BadSid(message_sid.chars().take(64).collect()));
        }
        let status = need("MessageStatus")?.parse()?;
        let error_code = match get("ErrorCode")?.filter(|c| !c.is_empty()) {
            None => None,
            Some(code) => Some(
                code.parse()
                    .map_err(|_| StatusError::BadErrorCode(code.chars().take(64).collect()))?,
            ),
        };
        let owned = |v: Option<&str>| v.map(|v| v.chars().take(64).collect());
        Ok(Self {
            message_sid: message_sid.to_owned(),
            status,
            error_code,
            account_sid: owned(get("AccountSid")?),
            from: owned(get("From")?),
            to: owned(get("To")?),
        })
    }

    /// What an agent sees of this callback ([`MessageStatus::delivery`]).
    pub fn delivery(&self) -> Option<Delivery> {
        self.status.delivery()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM: &str = "SM0123456789abcdef0123456789abcdef";

    fn callback(status: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("MessageSid", SM),
            ("SmsSid", SM),
            ("MessageStatus", status),
            ("SmsStatus", status),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "whatsapp:+12025550123"),
            ("To", "whatsapp:+447700900123"),
            ("ApiVersion", "2010-04-01"),
            ("ChannelPrefix", "whatsapp"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        params.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        params
    }

    #[test]
    fn every_documented_status_parses_and_prints_the_same() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            let cb = StatusCallback::from_form(&callback(status.as_str(), &[])).expect("valid");
            assert_eq!(cb.status, status);
        }
        assert_eq!(
            "opened".parse::<MessageStatus>(),
            Err(UnknownStatus("opened".into()))
        );
    }

    #[test]
    fn statuses_map_to_what_agents_see() {
        use Delivery::*;
        let table = [
            ("queued", None),
            ("sending", None),
            ("accepted", None),
            ("scheduled", None),
            ("sent", Some(Sent)),
            ("delivered", Some(Delivered)),
            ("read", Some(Read)),
            ("failed", Some(Failed)),
            ("undelivered", Some(Failed)),
            ("canceled", Some(Failed)),
            ("received", None),
        ];
        for (status, expected) in table {
            let cb = StatusCallback::from_form(&callback(status, &[])).expect(status);
            assert_eq!(cb.delivery(), expected, "{status}");
        }
    }

    #[test]
    fn a_failure_carries_its_error_code() {
        let cb = StatusCallback::from_form(&callback("undelivered", &[("ErrorCode", "63016")]))
            .expect("valid");
        assert_eq!(cb.error_code, Some(63016));
        assert_eq!(cb.from.as_deref(), Some("whatsapp:+12025550123"));
        assert_eq!(cb.to.as_deref(), Some("whatsapp:+447700900123"));
        let empty = StatusCallback::from_form(&callback("sent", &[("ErrorCode", "")]));
        assert_eq!(empty.map(|cb| cb.error_code), Ok(None));
        assert_eq!(
            StatusCallback::from_form(&callback("failed", &[("ErrorCode", "x1")])),
            Err(StatusError::BadErrorCode("x1".into()))
        );
    }

    #[test]
    fn bad_callbacks_are_refused_clearly() {
        let without = |name: &str| {
            let mut p = callback("sent", &[]);
            p.retain(|(k, _)| k != name);
            StatusCallback::from_form(&p)
        };
        assert_eq!(
            without("MessageSid"),
            Err(StatusError::Missing("MessageSid"))
        );
        assert_eq!(
            without("MessageStatus"),
            Err(StatusError::Missing("MessageStatus"))
        );
        assert!(without("AccountSid").is_ok());
        let e = StatusCallback::from_form(&callback("opened", &[])).expect_err("unknown");
        assert_eq!(e.to_string(), "\"opened\" is not a Twilio message status");
        let mut bad_sid = callback("sent", &[]);
        bad_sid[0].1 = "SM1".into();
        assert_eq!(
            StatusCallback::from_form(&bad_sid),
            Err(StatusError::BadSid("SM1".into()))
        );
        assert_eq!(
            StatusCallback::from_form(&callback("sent", &[("MessageStatus", "read")])),
            Err(StatusError::Repeated("MessageStatus"))
        );
    }

    #[test]
    fn delivery_only_moves_forward() {
        use Delivery::*;
        let all = [Sent, Delivered, Read, Failed];
        for to in all {
            assert!(Delivery::advances(None, to), "first {to:?}");
        }
        let allowed = [
            (Sent, Delivered),
            (Sent, Read),
            (Sent, Failed),
            (Delivered, Read),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    Delivery::advances(Some(from), to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn a_run_of_callbacks_out_of_order_ends_at_the_furthest_state() {
        // sent, read (delivered's callback late), delivered, delivered again.
        let mut seen = None;
        for status in ["sent", "read", "delivered", "delivered", "failed"] {
            let d = MessageStatus::from_str(status).expect(status).delivery();
            if let Some(d) = d
                && Delivery::advances(seen, d)
            {
                seen = Some(d);
            }
        }
        assert_eq!(seen, Some(Delivery::Read));
        assert_eq!(Delivery::Read.as_str(), "read");
    }
}
