//! The widget configuration the server returns for an embed code.

use serde::{Deserialize, Serialize};

use crate::json::{json_names, json_struct};
use crate::modality::Modalities;
use crate::time::UnixMillis;

/// Whether the embed code stands for a contact-center service or a single user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A service: chats are queued and routed by the service's workflow to its agents.
    Service,
    /// A user (agent) reached directly, without a queue.
    User,
}

/// The service or user a visitor talks to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Service or user.
    pub kind: TargetKind,
    /// The name the widget shows, for example "Customer Care".
    pub display_name: String,
}

/// The privacy policy a visitor consents to before a chat starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyPolicy {
    /// Where the full policy can be read.
    pub url: String,
    /// The short consent text shown beside the checkbox.
    pub text: String,
    /// The policy's version; the consent a visitor gives is bound to it.
    pub version: String,
}

impl PrivacyPolicy {
    /// The policy URL if it is safe to put in a link: `https:`, or `http:` (for local
    /// testing). Anything else (`javascript:`, `data:`, relative paths) gives `None`.
    pub fn safe_url(&self) -> Option<&str> {
        let lower = self.url.trim_start().to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://")).then_some(self.url.trim())
    }
}

/// Whether anybody can answer right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Open, and at least one agent can take the chat.
    Open,
    /// Outside opening hours.
    Closed,
    /// Open, but no agent is available at the moment.
    NoAgents,
    /// A state this version of the SDK does not know; treat as closed.
    #[serde(other)]
    Unknown,
}

/// Where the launcher sits on the host page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Bottom left corner.
    BottomLeft,
    /// Bottom right corner; also what an unknown position from a newer server means.
    #[default]
    #[serde(other)]
    BottomRight,
}

/// Presentation hints; the host page's snippet attributes may override them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Theme {
    /// Accent colour as `#rrggbb`, or `None` for the widget's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    /// Launcher position.
    pub position: Position,
}

impl Theme {
    /// The accent colour if it is a well-formed `#rrggbb` value (safe to put in CSS).
    pub fn safe_accent_color(&self) -> Option<&str> {
        self.accent_color.as_deref().filter(|c| {
            c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// The text colour to put on the accent colour (the header, the Start button):
    /// white, or for a light accent near-black, whichever contrasts more (WCAG 2
    /// contrast ratio). `None` without a well-formed accent colour (the widget's own
    /// default pair applies).
    pub fn accent_text_color(&self) -> Option<&'static str> {
        let accent = self.safe_accent_color()?;
        let hex = |i: usize| u8::from_str_radix(&accent[i..i + 2], 16).unwrap_or(0);
        let l = relative_luminance([hex(1), hex(3), hex(5)]);
        let (white, dark) = (1.0, relative_luminance(DARK_TEXT_RGB));
        let ratio = |a: f32, b: f32| (a.max(b) + 0.05) / (a.min(b) + 0.05);
        Some(if ratio(white, l) >= ratio(dark, l) {
            "#ffffff"
        } else {
            DARK_TEXT
        })
    }
}

/// The text colour [`Theme::accent_text_color`] picks for a light accent.
const DARK_TEXT: &str = "#1d1d1f";
const DARK_TEXT_RGB: [u8; 3] = [0x1d, 0x1d, 0x1f];

/// WCAG 2's relative luminance of an sRGB colour.
fn relative_luminance(rgb: [u8; 3]) -> f32 {
    let linear = |c: u8| {
        let c = f32::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

/// What the widget needs to know about its target, returned by the config endpoint and in
/// the `welcome` frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetConfig {
    /// The service or user.
    pub target: Target,
    /// Enabled modalities.
    pub modalities: Modalities,
    /// The privacy policy to consent to.
    pub privacy: PrivacyPolicy,
    /// Current availability.
    pub availability: Availability,
    /// Presentation hints.
    #[serde(default)]
    pub theme: Theme,
    /// Languages the target serves, as BCP 47 tags, preferred first (for example `["en", "de"]`).
    pub languages: Vec<String>,
    /// Whether the server can email a visitor the transcript after the chat
    /// (`email_transcript`); false (and left out) where it sends no email.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transcript_email: bool,
    /// Where the target is [`Availability::Closed`] by its opening hours: when they open
    /// next, if within a year (shown as "back Monday 09:00" in the visitor's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<UnixMillis>,
    /// Whether a chat may start while nobody is available ([`Availability::NoAgents`]):
    /// it waits in the queue until an agent takes it (the service's setting; left out
    /// when false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queue_when_unavailable: bool,
    /// The wait a chat started now can expect, in seconds, where the server can tell
    /// (from how long the target's recent chats waited for an agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_wait: Option<u32>,
    /// Whether a visitor who cannot chat now can leave a message that agents answer by
    /// email (`leave_message`); left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline_messages: bool,
    /// The largest file the server takes in this chat, in bytes, where the parties may
    /// send files (docs/protocol.md §2.6); absent where they may not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_max_bytes: Option<u64>,
}

impl WidgetConfig {
    /// Whether a chat can be started now: chat is enabled, and the target is open, or
    /// open with nobody available where it lets chats wait in the queue.
    pub fn can_start_chat(&self) -> bool {
        self.modalities.chat
            && match self.availability {
                Availability::Open => true,
                Availability::NoAgents => self.queue_when_unavailable,
                Availability::Closed | Availability::Unknown => false,
            }
    }

    /// Whether the widget offers to leave a message instead: no chat can start now and
    /// the target takes messages.
    pub fn can_leave_message(&self) -> bool {
        self.offline_messages && !self.can_start_chat()
    }
}

json_names!(TargetKind {
    Service = "service",
    User = "user",
});
json_struct!(Target { kind, display_name });
json_struct!(PrivacyPolicy { url, text, version });
json_names!(Availability {
    Open = "open",
    Closed = "closed",
    NoAgents = "no_agents",
    Unknown = "unknown",
} else Unknown);
json_names!(Position {
    BottomLeft = "bottom_left",
    BottomRight = "bottom_right",
} else BottomRight);
json_struct!(Theme {
    accent_color: optional,
    position: default,
});
json_struct!(WidgetConfig {
    target,
    modalities,
    privacy,
    availability,
    theme: default,
    languages,
    transcript_email: default,
    opens_at: optional,
    queue_when_unavailable: default,
    expected_wait: optional,
    offline_messages: default,
    attachment_max_bytes: optional,
});

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn unsafe_urls_and_colours_are_refused() {
        let mut p = PrivacyPolicy {
            url: "javascript:alert(1)".into(),
            text: String::new(),
            version: "1".into(),
        };
        assert_eq!(p.safe_url(), None);
        p.url = " JavaScript:alert(1)".into();
        assert_eq!(p.safe_url(), None);
        p.url = "https://example.com/privacy".into();
        assert_eq!(p.safe_url(), Some("https://example.com/privacy"));
        let t = Theme {
            accent_color: Some("red;}body{display:none".into()),
            ..Theme::default()
        };
        assert_eq!(t.safe_accent_color(), None);
        let t = Theme {
            accent_color: Some("#0a7cff".into()),
            ..Theme::default()
        };
        assert_eq!(t.safe_accent_color(), Some("#0a7cff"));
    }

    #[test]
    fn a_light_accent_gets_dark_text_and_a_dark_one_white() {
        let text = |c: &str| {
            Theme {
                accent_color: Some(c.into()),
                ..Theme::default()
            }
            .accent_text_color()
        };
        // Dark and saturated accents: white (#0a5bd3 is 6.4:1 with white).
        for dark in ["#0a5bd3", "#000000", "#b3261e", "#5b2a86"] {
            assert_eq!(text(dark), Some("#ffffff"), "{dark}");
        }
        // Light ones, where white would be 1.1:1 to 2.5:1: near-black.
        for light in ["#ffffff", "#ffd700", "#8ab4f8", "#7fff00", "#ffb6c1"] {
            assert_eq!(text(light), Some("#1d1d1f"), "{light}");
        }
        assert_eq!(text("not-a-colour"), None);
        assert_eq!(Theme::default().accent_text_color(), None);
    }

    #[test]
    fn who_can_start_and_who_can_leave_a_message() {
        let mut c: WidgetConfig = serde_json::from_str(
            r#"{"target":{"kind":"service","display_name":"Care"},
                "modalities":["chat"],
                "privacy":{"url":"https://e.example/p","text":"ok","version":"1"},
                "availability":"open","languages":["en"]}"#,
        )
        .expect("a config of an older server");
        assert_eq!(
            (
                c.opens_at,
                c.queue_when_unavailable,
                c.expected_wait,
                c.offline_messages
            ),
            (None, false, None, false)
        );
        let cases = [
            // availability, queue when unavailable, offline messages -> start, leave
            (Availability::Open, false, true, true, false),
            (Availability::NoAgents, false, true, false, true),
            (Availability::NoAgents, true, true, true, false),
            (Availability::NoAgents, false, false, false, false),
            (Availability::Closed, true, true, false, true),
            (Availability::Closed, true, false, false, false),
            (Availability::Unknown, true, true, false, true),
        ];
        for (availability, queue, offline, start, leave) in cases {
            c.availability = availability;
            c.queue_when_unavailable = queue;
            c.offline_messages = offline;
            assert_eq!(
                c.can_start_chat(),
                start,
                "{availability:?} {queue} {offline}"
            );
            assert_eq!(
                c.can_leave_message(),
                leave,
                "{availability:?} {queue} {offline}"
            );
        }
        c.availability = Availability::Open;
        c.modalities.chat = false;
        assert!(!c.can_start_chat());
    }

    #[test]
    fn unknown_availability_is_tolerated() {
        let a: Availability = serde_json::from_str("\"on_holiday\"").expect("tolerant");
        assert_eq!(a, Availability::Unknown);
    }
}
