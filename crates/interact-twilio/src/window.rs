//! WhatsApp's customer service window.
//!
//! A business may send free-form messages to a WhatsApp user only within 24 hours of the
//! user's last message to it; each new message from the user opens the window again for
//! 24 hours. Outside it, only approved templates may be sent (`ContentSid`): Twilio
//! accepts a free-form message, then fails it with error 63016 ("Outside messaging
//! window. For WhatsApp, use a Message Template instead",
//! <https://www.twilio.com/docs/api/errors/63016>). The connector checks the window
//! before sending and refuses a reply outside it with a clear error; templates are out of
//! its scope.

use std::time::Duration;

/// How long the window stays open after the user's last message: 24 hours.
pub const CUSTOMER_SERVICE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// [`CUSTOMER_SERVICE_WINDOW`] in milliseconds.
pub const WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// Whether a free-form message may be sent at `now_ms` to a user whose last inbound
/// message arrived at `last_inbound_ms` (both milliseconds since the Unix epoch, the
/// server's clock): less than 24 hours have passed. A last message "in the future"
/// (clocks a little apart) counts as just now.
pub fn customer_service_window(last_inbound_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(last_inbound_ms) < WINDOW_MS
}

/// When the window opened by a message at `last_inbound_ms` closes (milliseconds since
/// the Unix epoch): from then on [`customer_service_window`] is false.
pub fn window_closes_at(last_inbound_ms: u64) -> u64 {
    last_inbound_ms.saturating_add(WINDOW_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000_000;

    #[test]
    fn the_window_is_24_hours_from_the_last_inbound_message() {
        assert_eq!(CUSTOMER_SERVICE_WINDOW.as_millis(), u128::from(WINDOW_MS));
        assert!(customer_service_window(T, T));
        assert!(customer_service_window(T, T + 60_000));
        assert!(customer_service_window(T, T + WINDOW_MS - 1));
        assert!(!customer_service_window(T, T + WINDOW_MS));
        assert!(!customer_service_window(T, T + 2 * WINDOW_MS));
        assert_eq!(window_closes_at(T), T + WINDOW_MS);
        assert!(!customer_service_window(T, window_closes_at(T)));
    }

    #[test]
    fn a_new_message_opens_it_again() {
        let first = T;
        let second = T + 20 * 60 * 60 * 1000;
        let now = T + 30 * 60 * 60 * 1000;
        assert!(!customer_service_window(first, now));
        assert!(customer_service_window(second, now));
    }

    #[test]
    fn clock_skew_and_extremes_do_not_panic() {
        assert!(customer_service_window(T + 5_000, T));
        assert!(customer_service_window(u64::MAX, 0));
        assert!(!customer_service_window(0, u64::MAX));
        assert_eq!(window_closes_at(u64::MAX), u64::MAX);
    }
}
