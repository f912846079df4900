//! The Twilio error codes the WhatsApp connector meets, from Twilio's Error and Warning
//! Dictionary (<https://www.twilio.com/docs/api/errors>), with what an agent or an
//! administrator should be told. Codes come back synchronously in an API error answer
//! (`code`, [`crate::outbound::ApiError`]) or later in a status callback's `ErrorCode`
//! ([`crate::status::StatusCallback`]).

/// `20003`: the credentials were refused (HTTP 401).
pub const AUTHENTICATE: u32 = 20003;
/// `20404`: no such resource (HTTP 404).
pub const NOT_FOUND: u32 = 20404;
/// `20429`: too many concurrent requests (HTTP 429); never processed, safe to retry.
pub const TOO_MANY_REQUESTS: u32 = 20429;
/// `20500`: internal server error (HTTP 500).
pub const INTERNAL_ERROR: u32 = 20500;
/// `20503`: service unavailable (HTTP 503).
pub const SERVICE_UNAVAILABLE: u32 = 20503;
/// `21211`: the `To` number is not valid.
pub const INVALID_TO: u32 = 21211;
/// `21602`: `Body` (or `MediaUrl`) is required.
pub const BODY_REQUIRED: u32 = 21602;
/// `21603`: `From` (or `MessagingServiceSid`) is required.
pub const FROM_REQUIRED: u32 = 21603;
/// `21604`: `To` is required.
pub const TO_REQUIRED: u32 = 21604;
/// `21610`: the recipient unsubscribed (replied STOP) from this sender.
pub const UNSUBSCRIBED: u32 = 21610;
/// `21617`: the body exceeds 1,600 characters.
pub const BODY_TOO_LONG: u32 = 21617;
/// `63003`: the `To` address is not an active user of the channel (not on WhatsApp).
pub const CHANNEL_TO_NOT_FOUND: u32 = 63003;
/// `63007`: no channel (WhatsApp sender) with this `From` address on the account.
pub const CHANNEL_FROM_NOT_FOUND: u32 = 63007;
/// `63016`: a free-form message outside WhatsApp's 24-hour customer service window.
pub const OUTSIDE_WINDOW: u32 = 63016;

/// What error `code` means for whoever sees it (an agent in the console, an
/// administrator), or `None` for a code this connector does not know (show Twilio's own
/// `message` then).
pub fn describe(code: u32) -> Option<&'static str> {
    Some(match code {
        AUTHENTICATE => {
            "Twilio refused the connector's credentials: check the Account SID and the auth token (or API key and secret)"
        }
        NOT_FOUND => "Twilio does not know this account or resource: check the Account SID",
        TOO_MANY_REQUESTS => {
            "Twilio is busy (too many requests); the message is sent again shortly"
        }
        INTERNAL_ERROR | SERVICE_UNAVAILABLE => {
            "Twilio is unavailable; the message is sent again shortly"
        }
        INVALID_TO => "The customer's number is not a valid phone number",
        BODY_REQUIRED => "An empty message cannot be sent",
        FROM_REQUIRED => "The connector has no WhatsApp sender number",
        TO_REQUIRED => "The message has no recipient",
        UNSUBSCRIBED => "The customer has unsubscribed from this number",
        BODY_TOO_LONG => "The message is longer than 1,600 characters",
        CHANNEL_TO_NOT_FOUND => "The customer's number cannot be reached on WhatsApp",
        CHANNEL_FROM_NOT_FOUND => {
            "The sender number is not a WhatsApp sender of this Twilio account"
        }
        OUTSIDE_WINDOW => {
            "More than 24 hours have passed since the customer's last message: WhatsApp allows only templates, which this connector does not send"
        }
        _ => return None,
    })
}

/// The documentation page of error `code`, as Twilio's `more_info` gives it.
pub fn more_info(code: u32) -> String {
    format!("https://www.twilio.com/docs/errors/{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_described_and_others_are_not() {
        for code in [
            AUTHENTICATE,
            NOT_FOUND,
            TOO_MANY_REQUESTS,
            INTERNAL_ERROR,
            SERVICE_UNAVAILABLE,
            INVALID_TO,
            BODY_REQUIRED,
            FROM_REQUIRED,
            TO_REQUIRED,
            UNSUBSCRIBED,
            BODY_TOO_LONG,
            CHANNEL_TO_NOT_FOUND,
            CHANNEL_FROM_NOT_FOUND,
            OUTSIDE_WINDOW,
        ] {
            assert!(describe(code).is_some_and(|d| !d.is_empty()), "{code}");
        }
        assert_eq!(describe(12345), None);
        assert!(describe(OUTSIDE_WINDOW).is_some_and(|d| d.contains("24 hours")));
        assert_eq!(
            more_info(INVALID_TO),
            "https://www.twilio.com/docs/errors/21211"
        );
    }
}
