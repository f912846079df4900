//! The WhatsApp sender number a service is configured with: the product documents limit
//! the connector to the United States region, so only `+1` numbers are accepted.

use crate::address::WhatsAppAddress;

/// A sender number that is not a United States (`+1`) number in E.164 format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} cannot be the WhatsApp sender: United States numbers (+1) only, written +1 and 10 digits (e.g. +12025550123); {reason}"
)]
pub struct NumberError {
    /// What was given (at most 64 characters of it).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The WhatsApp address of `number`, if it is a United States sender number in E.164
/// format: `+1`, then a 3-digit area code and a 7-digit local number under the North
/// American Numbering Plan (NPA-NXX-XXXX), where neither the area code nor the exchange
/// starts with 0 or 1 and the area code is not an N11 service code (211...911).
/// Anything else is refused: another country code, missing `+`, spaces or dashes,
/// another length, the `whatsapp:` prefix.
///
/// `+1` is the whole North American Numbering Plan: Canadian and Caribbean numbers have
/// the same form and cannot be told apart without the plan's area code list.
pub fn us_whatsapp_sender(number: &str) -> Result<WhatsAppAddress, NumberError> {
    let refuse = |reason| NumberError {
        value: number.chars().take(64).collect(),
        reason,
    };
    let national = number
        .strip_prefix("+1")
        .ok_or_else(|| refuse("it does not start with +1"))?;
    let digits = national.as_bytes();
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(refuse("only digits may follow +1"));
    }
    let [a, b, c, exchange, _, _, _, _, _, _] = *digits else {
        return Err(refuse("10 digits must follow +1"));
    };
    if matches!(a, b'0' | b'1') {
        return Err(refuse("an area code does not start with 0 or 1"));
    }
    if b == b'1' && c == b'1' {
        return Err(refuse("N11 codes (211...911) are not area codes"));
    }
    if matches!(exchange, b'0' | b'1') {
        return Err(refuse("an exchange does not start with 0 or 1"));
    }
    WhatsAppAddress::from_e164(number).map_err(|_| refuse("it is not an E.164 number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn united_states_numbers_are_accepted() {
        for n in [
            "+12025550123",
            "+12125550123",
            "+19995550100",
            "+13105552368",
        ] {
            let a = us_whatsapp_sender(n).expect(n);
            assert_eq!(a.e164(), n);
            assert_eq!(a.to_string(), format!("whatsapp:{n}"));
        }
    }

    #[test]
    fn anything_else_is_refused_saying_us_only() {
        let cases = [
            ("+447700900123", "it does not start with +1"),
            ("+4915112345678", "it does not start with +1"),
            ("12025550123", "it does not start with +1"),
            ("whatsapp:+12025550123", "it does not start with +1"),
            ("", "it does not start with +1"),
            ("+1555123456", "10 digits must follow +1"),
            ("+120255501238", "10 digits must follow +1"),
            ("+1", "10 digits must follow +1"),
            ("+1 555 123 4567", "only digits may follow +1"),
            ("+1-555-123-4567", "only digits may follow +1"),
            ("+1555123456a", "only digits may follow +1"),
            ("+10551234567", "an area code does not start with 0 or 1"),
            ("+11551234567", "an area code does not start with 0 or 1"),
            ("+19115551234", "N11 codes (211...911) are not area codes"),
            ("+15550234567", "an exchange does not start with 0 or 1"),
            // The placeholder everyone writes: 123 is not an exchange under the plan.
            ("+15551234567", "an exchange does not start with 0 or 1"),
            ("+12025550123 ", "only digits may follow +1"),
        ];
        for (n, reason) in cases {
            let e = us_whatsapp_sender(n).expect_err(n);
            assert_eq!(e.reason, reason, "{n}");
            assert!(
                e.to_string().contains("United States numbers (+1) only"),
                "{e}"
            );
        }
    }
}
