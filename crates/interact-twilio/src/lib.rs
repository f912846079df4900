//! Twilio's WhatsApp messaging for Interact, as Twilio's documentation describes it, and
//! nothing else: this crate does no IO (no sockets, no clock, no randomness, no async
//! runtime). The server's connector feeds it the bytes and times it has and carries out
//! what it returns; the test kit's stand-in Twilio (`interact_testkit::twilio`) uses the
//! same types from the other side.
//!
//! - [`signature`]: `X-Twilio-Signature`, HMAC-SHA1 over the full URL and the sorted POST
//!   parameters, Base64 ([`signature::compute`], [`signature::verify`], constant time).
//! - [`form`]: `application/x-www-form-urlencoded` bodies into pairs and back.
//! - [`inbound`]: the incoming-message webhook ([`inbound::Inbound::from_form`]): who
//!   wrote (`whatsapp:+<E.164>`), what (a bounded text), and whether media came with it.
//! - [`status`]: status callbacks ([`status::StatusCallback::from_form`]) and the
//!   delivery states agents see ([`status::Delivery`]), which only move forward.
//! - [`outbound`]: the Messages resource: the request ([`outbound::MessageRequest`], its
//!   URL and Basic credentials), Twilio's answers, and what to do after a failure
//!   ([`outbound::classify`]: retry, reconcile first, or give up) with a backoff.
//! - [`number`]: the sender number, United States (`+1`) only
//!   ([`number::us_whatsapp_sender`]).
//! - [`window`]: WhatsApp's 24-hour customer service window
//!   ([`window::customer_service_window`]).
//! - [`errors`]: the Twilio error codes this connector meets, in words for an agent.
//!
//! ```
//! use interact_twilio::{inbound::Inbound, signature};
//!
//! let url = "https://interact.example/twilio/whatsapp/support";
//! let params: Vec<(String, String)> = [
//!     ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
//!     ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
//!     ("From", "whatsapp:+447700900123"),
//!     ("To", "whatsapp:+12025550123"),
//!     ("Body", "Hello!"),
//!     ("NumMedia", "0"),
//!     ("ProfileName", "Robin"),
//!     ("WaId", "447700900123"),
//! ]
//! .map(|(k, v)| (k.to_owned(), v.to_owned()))
//! .into();
//! let header = signature::compute("the auth token", url, &params);
//! // The connector checks the signature before anything else...
//! assert!(signature::verify("the auth token", url, &params, &header));
//! // ...then reads the message.
//! let message = Inbound::from_form(&params)?;
//! assert_eq!(message.from.e164(), "+447700900123");
//! assert!(!message.has_media());
//! # Ok::<(), interact_twilio::inbound::InboundError>(())
//! ```
//!
//! Templates (WhatsApp's only way to write outside the customer service window) are out
//! of scope: the connector sends free-form text only, within the window.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod address;
pub mod errors;
pub mod form;
pub mod inbound;
pub mod number;
pub mod outbound;
pub mod signature;
pub mod status;
pub mod window;

pub use address::{AddressError, PREFIX as WHATSAPP_PREFIX, WhatsAppAddress};

/// Whether `s` is a Twilio SID: the two-letter `prefix` and 32 hexadecimal digits, as the
/// Messages resource documents them (`^SM[0-9a-fA-F]{32}$`, `^AC[0-9a-fA-F]{32}$`).
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34
        && s.starts_with(prefix)
        && s.get(2..)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_a_prefix_and_32_hex_digits() {
        assert!(is_sid("SM0123456789abcdef0123456789ABCDEF", "SM"));
        assert!(!is_sid("SM0123456789abcdef0123456789ABCDEF", "AC"));
        assert!(
            !is_sid("SM0123456789abcdef0123456789ABCDE", "SM"),
            "31 digits"
        );
        assert!(
            !is_sid("SM0123456789abcdef0123456789ABCDEg", "SM"),
            "not hex"
        );
        assert!(!is_sid("", "SM"));
        assert!(
            !is_sid("SMé123456789abcdef0123456789ABCD", "SM"),
            "multibyte"
        );
    }
}
