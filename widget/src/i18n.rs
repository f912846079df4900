//! The widget's words, in English and German. Every string a visitor reads is here.

use interact_sdk::client::DeliveryState;
use interact_sdk::config::Availability;
use interact_sdk::form::FieldError;
use interact_sdk::protocol::EndReason;

/// A supported language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// German.
    De,
}

impl Lang {
    /// The language for a BCP 47 tag such as `de-AT`; English for anything unknown.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("de") {
            Self::De
        } else {
            Self::En
        }
    }

    /// The tag for the `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
        }
    }

    /// The fixed strings of this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::De => &DE,
        }
    }
}

/// Fixed strings; formatted ones are methods of [`Lang`] below. Each field is named after
/// the control or state it labels.
#[derive(Debug)]
#[allow(missing_docs)]
pub struct Strings {
    pub minimize: &'static str,
    pub connecting: &'static str,
    pub online: &'static str,
    pub reconnecting: &'static str,
    pub offline: &'static str,
    pub intro: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub policy_link: &'static str,
    pub first_message: &'static str,
    pub optional: &'static str,
    pub start: &'static str,
    pub starting: &'static str,
    pub message: &'static str,
    pub send: &'static str,
    pub end: &'static str,
    pub new_chat: &'static str,
    pub messages: &'static str,
    pub you: &'static str,
    pub waiting: &'static str,
    pub chat: &'static str,
    pub audio: &'static str,
    pub video: &'static str,
    pub screen_share: &'static str,
    pub cannot_start: &'static str,
    pub server_error: &'static str,
}

static EN: Strings = Strings {
    minimize: "Minimise chat",
    connecting: "Connecting…",
    online: "Connected",
    reconnecting: "Connection lost. Reconnecting…",
    offline: "Disconnected",
    intro: "Tell us who you are, and we will connect you.",
    name: "Your name",
    email: "Email address",
    policy_link: "Privacy policy",
    first_message: "Your question",
    optional: "(optional)",
    start: "Start chat",
    starting: "Starting…",
    message: "Message",
    send: "Send",
    end: "End chat",
    new_chat: "Start a new chat",
    messages: "Messages",
    you: "You",
    waiting: "Waiting for an agent…",
    chat: "Chat",
    audio: "Audio",
    video: "Video",
    screen_share: "Screen sharing",
    cannot_start: "A chat cannot be started right now.",
    server_error: "Something went wrong",
};

static DE: Strings = Strings {
    minimize: "Chat minimieren",
    connecting: "Verbindung wird aufgebaut…",
    online: "Verbunden",
    reconnecting: "Verbindung unterbrochen. Neuer Versuch…",
    offline: "Getrennt",
    intro: "Sagen Sie uns, wer Sie sind, dann verbinden wir Sie.",
    name: "Ihr Name",
    email: "E-Mail-Adresse",
    policy_link: "Datenschutzerklärung",
    first_message: "Ihre Frage",
    optional: "(optional)",
    start: "Chat starten",
    starting: "Wird gestartet…",
    message: "Nachricht",
    send: "Senden",
    end: "Chat beenden",
    new_chat: "Neuen Chat starten",
    messages: "Nachrichten",
    you: "Sie",
    waiting: "Warten auf einen Mitarbeiter…",
    chat: "Chat",
    audio: "Audio",
    video: "Video",
    screen_share: "Bildschirmfreigabe",
    cannot_start: "Ein Chat kann gerade nicht gestartet werden.",
    server_error: "Etwas ist schiefgegangen",
};

impl Lang {
    /// The availability line under the target's name.
    pub fn availability(self, a: Availability) -> &'static str {
        match (self, a) {
            (Self::En, Availability::Open) => "Available",
            (Self::En, Availability::NoAgents) => "No one is available right now",
            (Self::En, Availability::Closed) => "Closed",
            (Self::En, _) => "Unavailable",
            (Self::De, Availability::Open) => "Erreichbar",
            (Self::De, Availability::NoAgents) => "Gerade ist niemand erreichbar",
            (Self::De, Availability::Closed) => "Geschlossen",
            (Self::De, _) => "Nicht erreichbar",
        }
    }

    /// Why a form field was refused.
    pub fn field_error(self, e: &FieldError) -> String {
        match (self, e) {
            (Self::En, FieldError::Required) => "Please fill this in.".into(),
            (Self::En, FieldError::TooLong { max }) => format!("At most {max} characters."),
            (Self::En, FieldError::ControlCharacters) => "Please remove control characters.".into(),
            (Self::En, FieldError::InvalidEmail) => "Please enter a valid email address.".into(),
            (Self::En, FieldError::ConsentRequired) => {
                "Please accept the privacy policy to start a chat.".into()
            }
            (Self::En, FieldError::ConsentOutdated { current }) => {
                format!("The privacy policy has changed. Please read and accept version {current}.")
            }
            (Self::En, _) => "Please check this field.".into(),
            (Self::De, FieldError::Required) => "Bitte ausfüllen.".into(),
            (Self::De, FieldError::TooLong { max }) => format!("Höchstens {max} Zeichen."),
            (Self::De, FieldError::ControlCharacters) => {
                "Bitte entfernen Sie Steuerzeichen.".into()
            }
            (Self::De, FieldError::InvalidEmail) => {
                "Bitte geben Sie eine gültige E-Mail-Adresse ein.".into()
            }
            (Self::De, FieldError::ConsentRequired) => {
                "Bitte stimmen Sie der Datenschutzerklärung zu, um einen Chat zu starten.".into()
            }
            (Self::De, FieldError::ConsentOutdated { current }) => format!(
                "Die Datenschutzerklärung hat sich geändert. Bitte lesen und akzeptieren Sie Version {current}."
            ),
            (Self::De, _) => "Bitte prüfen Sie dieses Feld.".into(),
        }
    }

    /// The visitor's place in the queue.
    pub fn queue_position(self, position: u32) -> String {
        match (self, position) {
            (Self::En, 1) => "You are next in the queue.".into(),
            (Self::En, n) => format!("You are number {n} in the queue."),
            (Self::De, 1) => "Sie sind als Nächstes dran.".into(),
            (Self::De, n) => format!("Sie sind Nummer {n} in der Warteschlange."),
        }
    }

    /// An agent joined the chat.
    pub fn joined(self, name: &str) -> String {
        match self {
            Self::En => format!("{name} joined the chat."),
            Self::De => format!("{name} ist dem Chat beigetreten."),
        }
    }

    /// An agent left the chat.
    pub fn left(self, name: &str) -> String {
        match self {
            Self::En => format!("{name} left the chat."),
            Self::De => format!("{name} hat den Chat verlassen."),
        }
    }

    /// The other side is typing.
    pub fn typing(self, name: &str) -> String {
        match self {
            Self::En => format!("{name} is typing…"),
            Self::De => format!("{name} schreibt…"),
        }
    }

    /// The chat ended, and why.
    pub fn ended(self, reason: EndReason) -> &'static str {
        match (self, reason) {
            (Self::En, EndReason::VisitorEnded) => "You ended the chat.",
            (Self::En, EndReason::AgentEnded) => "The agent ended the chat.",
            (Self::En, EndReason::NoAgent) => "No agent could take the chat. Please try later.",
            (Self::En, EndReason::Closed) => "We are closed at the moment. Please try later.",
            (Self::En, EndReason::IdleTimeout) => "The chat ended after a long silence.",
            (Self::En, _) => "The chat has ended.",
            (Self::De, EndReason::VisitorEnded) => "Sie haben den Chat beendet.",
            (Self::De, EndReason::AgentEnded) => "Der Mitarbeiter hat den Chat beendet.",
            (Self::De, EndReason::NoAgent) => {
                "Niemand konnte den Chat annehmen. Bitte versuchen Sie es später."
            }
            (Self::De, EndReason::Closed) => {
                "Wir haben gerade geschlossen. Bitte versuchen Sie es später."
            }
            (Self::De, EndReason::IdleTimeout) => "Der Chat endete nach langer Stille.",
            (Self::De, _) => "Der Chat ist beendet.",
        }
    }

    /// How far one of the visitor's own messages got.
    pub fn delivery(self, state: DeliveryState) -> &'static str {
        match (self, state) {
            (Self::En, DeliveryState::Pending) => "Sending…",
            (Self::En, DeliveryState::Sent) => "Sent",
            (Self::En, DeliveryState::Delivered) => "Delivered",
            (Self::En, DeliveryState::Read) => "Read",
            (Self::De, DeliveryState::Pending) => "Wird gesendet…",
            (Self::De, DeliveryState::Sent) => "Gesendet",
            (Self::De, DeliveryState::Delivered) => "Zugestellt",
            (Self::De, DeliveryState::Read) => "Gelesen",
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn languages_follow_the_primary_subtag() {
        assert_eq!(Lang::from_tag("de-AT"), Lang::De);
        assert_eq!(Lang::from_tag("DE"), Lang::De);
        assert_eq!(Lang::from_tag("en-GB"), Lang::En);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
    }
}
