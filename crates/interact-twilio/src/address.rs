//! A WhatsApp channel address: `whatsapp:` and a phone number in E.164 format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The channel prefix of WhatsApp addresses in Twilio's `From` and `To`
/// (`whatsapp:+15554449999`).
pub const PREFIX: &str = "whatsapp:";

/// A WhatsApp address as Twilio writes it in `From` and `To`: `whatsapp:` and an E.164
/// number (`+`, a country code that does not start with 0, at most 15 digits in all).
/// Shown (and serialized) with the prefix; [`WhatsAppAddress::e164`] is the number alone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WhatsAppAddress {
    /// `+` and 7 to 15 digits.
    e164: String,
}

/// A `From` or `To` that is not `whatsapp:+<E.164>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a WhatsApp address: expected whatsapp:+<country code and number>, 7 to 15 digits (E.164)"
)]
pub struct AddressError {
    /// What was given (at most 64 characters of it).
    pub value: String,
}

impl AddressError {
    fn new(value: &str) -> Self {
        Self {
            value: value.chars().take(64).collect(),
        }
    }
}

impl WhatsAppAddress {
    /// Parses `whatsapp:+<E.164>`, the form of Twilio's `From` and `To`.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let number = s.strip_prefix(PREFIX).ok_or_else(|| AddressError::new(s))?;
        Self::from_e164(number).map_err(|_| AddressError::new(s))
    }

    /// The address of an E.164 number given without the prefix (`+12025550123`).
    pub fn from_e164(number: &str) -> Result<Self, AddressError> {
        let digits = number
            .strip_prefix('+')
            .ok_or_else(|| AddressError::new(number))?;
        let valid = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self {
                e164: number.to_owned(),
            })
        } else {
            Err(AddressError::new(number))
        }
    }

    /// The number alone, E.164 (`+12025550123`).
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The number's digits without the `+`: what WhatsApp calls the user's WhatsApp ID
    /// (`WaId`) for a user's address.
    pub fn digits(&self) -> &str {
        self.e164.get(1..).unwrap_or_default()
    }
}

impl fmt::Display for WhatsAppAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.e164)
    }
}

impl FromStr for WhatsAppAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        Self::parse(s)
    }
}

impl Serialize for WhatsAppAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WhatsAppAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_addresses_parse_and_print_the_same() {
        for s in [
            "whatsapp:+12025550123",
            "whatsapp:+447700900123",
            "whatsapp:+2901234",
        ] {
            let a = WhatsAppAddress::parse(s).expect(s);
            assert_eq!(a.to_string(), s);
            assert_eq!(a.e164(), &s[PREFIX.len()..]);
            assert_eq!(s.parse::<WhatsAppAddress>(), Ok(a));
        }
        let a = WhatsAppAddress::from_e164("+12025550123").expect("E.164");
        assert_eq!(a.digits(), "12025550123");
        assert_eq!(
            serde_json::to_string(&a).expect("json"),
            "\"whatsapp:+12025550123\""
        );
        assert_eq!(
            serde_json::from_str::<WhatsAppAddress>("\"whatsapp:+12025550123\"").expect("json"),
            a
        );
    }

    #[test]
    fn anything_else_is_refused_with_what_was_given() {
        for bad in [
            "+12025550123",               // no channel prefix
            "sms:+12025550123",           // another channel
            "whatsapp:12025550123",       // no +
            "whatsapp:+0551234567",       // country code 0
            "whatsapp:+123456",           // 6 digits
            "whatsapp:+1234567890123456", // 16 digits
            "whatsapp:+1 555 123 4567",
            "whatsapp:+1555123456x",
            "whatsapp:",
            "",
        ] {
            let e = WhatsAppAddress::parse(bad).expect_err(bad);
            assert_eq!(e.value, bad);
            assert!(e.to_string().contains("whatsapp:+"), "{e}");
        }
        let long = "x".repeat(1000);
        assert_eq!(
            WhatsAppAddress::parse(&long).expect_err("long").value.len(),
            64
        );
        assert!(serde_json::from_str::<WhatsAppAddress>("\"+12025550123\"").is_err());
    }
}
