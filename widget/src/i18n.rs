//! The widget's words, in English and German. Every string a visitor reads is here.

use interact_sdk::client::DeliveryState;
use interact_sdk::config::Availability;
use interact_sdk::form::FieldError;
use interact_sdk::protocol::{CallMedia, EndReason, HangupReason, MediaState, Party};

use crate::devices::MediaError;

/// Why the widget gave up a call, or part of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// ICE or DTLS failed: no media path to the agent.
    Connection,
    /// An offer or answer could not be made or applied.
    Negotiation,
    /// The screen could not be shared (the call goes on).
    Screen,
    /// A device could not be switched to (the call goes on).
    Device,
    /// No `RTCPeerConnection` here.
    Unsupported,
}

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
    pub audio_call: &'static str,
    pub video_call: &'static str,
    pub devices_intro: &'static str,
    pub asking_permission: &'static str,
    pub microphone: &'static str,
    pub camera: &'static str,
    pub speaker: &'static str,
    pub device: &'static str,
    pub level: &'static str,
    pub preview: &'static str,
    pub start_audio_call: &'static str,
    pub start_video_call: &'static str,
    pub try_again: &'static str,
    pub cancel: &'static str,
    pub done: &'static str,
    pub calling: &'static str,
    pub call_connecting: &'static str,
    pub in_call: &'static str,
    pub remote_video: &'static str,
    pub own_video: &'static str,
    pub mute: &'static str,
    pub camera_on: &'static str,
    pub share_screen: &'static str,
    pub devices: &'static str,
    pub hang_up: &'static str,
    pub call_controls: &'static str,
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
    audio_call: "Audio call",
    video_call: "Video call",
    devices_intro: "Choose your microphone and camera. Nothing is sent until you start the call.",
    asking_permission: "Please allow access to your microphone and camera in your browser.",
    microphone: "Microphone",
    camera: "Camera",
    speaker: "Speaker",
    device: "Device",
    level: "Microphone level",
    preview: "Your camera",
    start_audio_call: "Start audio call",
    start_video_call: "Start video call",
    try_again: "Try again",
    cancel: "Cancel",
    done: "Done",
    calling: "Calling…",
    call_connecting: "Connecting the call…",
    in_call: "In call",
    remote_video: "Agent's video",
    own_video: "Your video",
    mute: "Mute",
    camera_on: "Camera",
    share_screen: "Share screen",
    devices: "Devices",
    hang_up: "Hang up",
    call_controls: "Call controls",
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
    audio_call: "Anruf",
    video_call: "Videoanruf",
    devices_intro: "Wählen Sie Mikrofon und Kamera. Gesendet wird erst, wenn Sie den Anruf starten.",
    asking_permission: "Bitte erlauben Sie Ihrem Browser den Zugriff auf Mikrofon und Kamera.",
    microphone: "Mikrofon",
    camera: "Kamera",
    speaker: "Lautsprecher",
    device: "Gerät",
    level: "Mikrofonpegel",
    preview: "Ihre Kamera",
    start_audio_call: "Anruf starten",
    start_video_call: "Videoanruf starten",
    try_again: "Erneut versuchen",
    cancel: "Abbrechen",
    done: "Fertig",
    calling: "Anruf wird aufgebaut…",
    call_connecting: "Verbindung wird hergestellt…",
    in_call: "Im Gespräch",
    remote_video: "Video des Mitarbeiters",
    own_video: "Ihr Video",
    mute: "Stumm",
    camera_on: "Kamera",
    share_screen: "Bildschirm teilen",
    devices: "Geräte",
    hang_up: "Auflegen",
    call_controls: "Anrufsteuerung",
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

    /// Guidance when the microphone or camera cannot be had.
    pub fn media_error(self, e: MediaError, media: CallMedia) -> &'static str {
        let video = media == CallMedia::Video;
        match (self, e) {
            (Self::En, MediaError::Denied) if video => {
                "Your browser blocked the microphone or camera. Allow access through the camera icon in the address bar or in the site settings, then try again. You can keep chatting meanwhile."
            }
            (Self::En, MediaError::Denied) => {
                "Your browser blocked the microphone. Allow access through the icon in the address bar or in the site settings, then try again. You can keep chatting meanwhile."
            }
            (Self::En, MediaError::NotFound) if video => {
                "No microphone or camera was found. Connect one and try again, or start an audio call or keep chatting."
            }
            (Self::En, MediaError::NotFound) => {
                "No microphone was found. Connect one and try again, or keep chatting."
            }
            (Self::En, MediaError::InUse) => {
                "Your microphone or camera is in use by another application. Close it and try again."
            }
            (Self::En, MediaError::Unsupported) => {
                "This browser cannot make calls here. You can keep chatting."
            }
            (Self::En, MediaError::Other) => {
                "The microphone or camera could not be started. Try again, or keep chatting."
            }
            (Self::De, MediaError::Denied) if video => {
                "Ihr Browser hat Mikrofon oder Kamera blockiert. Erlauben Sie den Zugriff über das Kamera-Symbol in der Adressleiste oder in den Website-Einstellungen und versuchen Sie es erneut. Der Chat geht weiter."
            }
            (Self::De, MediaError::Denied) => {
                "Ihr Browser hat das Mikrofon blockiert. Erlauben Sie den Zugriff über das Symbol in der Adressleiste oder in den Website-Einstellungen und versuchen Sie es erneut. Der Chat geht weiter."
            }
            (Self::De, MediaError::NotFound) if video => {
                "Es wurde kein Mikrofon und keine Kamera gefunden. Schließen Sie eines an und versuchen Sie es erneut, oder starten Sie einen Anruf ohne Video oder chatten Sie weiter."
            }
            (Self::De, MediaError::NotFound) => {
                "Es wurde kein Mikrofon gefunden. Schließen Sie eines an und versuchen Sie es erneut, oder chatten Sie weiter."
            }
            (Self::De, MediaError::InUse) => {
                "Mikrofon oder Kamera werden von einer anderen Anwendung verwendet. Schließen Sie sie und versuchen Sie es erneut."
            }
            (Self::De, MediaError::Unsupported) => {
                "Mit diesem Browser sind hier keine Anrufe möglich. Der Chat geht weiter."
            }
            (Self::De, MediaError::Other) => {
                "Mikrofon oder Kamera konnten nicht gestartet werden. Versuchen Sie es erneut oder chatten Sie weiter."
            }
        }
    }

    /// A call ended (a line in the transcript).
    pub fn call_ended(self, reason: HangupReason, by: Party) -> &'static str {
        let me = by == Party::Visitor;
        match (self, reason) {
            (Self::En, HangupReason::Declined) => "The call was declined. You can keep chatting.",
            (Self::En, HangupReason::NoAnswer) => {
                "Nobody answered the call. You can keep chatting."
            }
            (Self::En, HangupReason::Busy) => {
                "The agent is in another call. You can keep chatting."
            }
            (Self::En, HangupReason::NotAllowed) => {
                "Calls are not available here. You can keep chatting."
            }
            (Self::En, HangupReason::Failed) => "The call failed. You can keep chatting.",
            (Self::En, _) if me => "You ended the call.",
            (Self::En, _) => "The call has ended.",
            (Self::De, HangupReason::Declined) => {
                "Der Anruf wurde abgelehnt. Der Chat geht weiter."
            }
            (Self::De, HangupReason::NoAnswer) => {
                "Niemand hat den Anruf angenommen. Der Chat geht weiter."
            }
            (Self::De, HangupReason::Busy) => {
                "Der Mitarbeiter ist in einem anderen Gespräch. Der Chat geht weiter."
            }
            (Self::De, HangupReason::NotAllowed) => {
                "Anrufe sind hier nicht möglich. Der Chat geht weiter."
            }
            (Self::De, HangupReason::Failed) => {
                "Der Anruf ist fehlgeschlagen. Der Chat geht weiter."
            }
            (Self::De, _) if me => "Sie haben den Anruf beendet.",
            (Self::De, _) => "Der Anruf ist beendet.",
        }
    }

    /// Why this side gave up a call (a line in the transcript; the chat goes on).
    pub fn call_failed(self, why: CallFailure) -> &'static str {
        match (self, why) {
            (Self::En, CallFailure::Connection) => {
                "The call failed: no connection could be made to the agent (a firewall or network may be blocking it). You can keep chatting."
            }
            (Self::En, CallFailure::Negotiation) => {
                "The call failed: the browsers could not agree on the media. You can keep chatting."
            }
            (Self::En, CallFailure::Screen) => {
                "Screen sharing could not be started. The call goes on."
            }
            (Self::En, CallFailure::Device) => {
                "That device could not be opened. The call goes on with the previous one."
            }
            (Self::En, CallFailure::Unsupported) => {
                "The call failed: this browser cannot make calls here. You can keep chatting."
            }
            (Self::De, CallFailure::Connection) => {
                "Der Anruf ist fehlgeschlagen: Es konnte keine Verbindung zum Mitarbeiter hergestellt werden (eine Firewall oder das Netzwerk blockiert sie vielleicht). Der Chat geht weiter."
            }
            (Self::De, CallFailure::Negotiation) => {
                "Der Anruf ist fehlgeschlagen: Die Browser konnten sich nicht auf die Medien einigen. Der Chat geht weiter."
            }
            (Self::De, CallFailure::Screen) => {
                "Die Bildschirmfreigabe konnte nicht gestartet werden. Der Anruf geht weiter."
            }
            (Self::De, CallFailure::Device) => {
                "Das Gerät konnte nicht geöffnet werden. Der Anruf geht mit dem bisherigen weiter."
            }
            (Self::De, CallFailure::Unsupported) => {
                "Der Anruf ist fehlgeschlagen: Mit diesem Browser sind hier keine Anrufe möglich. Der Chat geht weiter."
            }
        }
    }

    /// The agent's microphone, camera or screen changed (the call's status line).
    pub fn remote_media(self, name: &str, state: MediaState) -> String {
        let mut parts: Vec<&str> = Vec::new();
        match self {
            Self::En => {
                if state.muted {
                    parts.push("microphone off");
                }
                if state.screen {
                    parts.push("sharing the screen");
                }
            }
            Self::De => {
                if state.muted {
                    parts.push("Mikrofon aus");
                }
                if state.screen {
                    parts.push("teilt den Bildschirm");
                }
            }
        }
        let head = self.strings().in_call;
        let name = if name.is_empty() {
            String::new()
        } else {
            format!(" \u{b7} {name}")
        };
        if parts.is_empty() {
            format!("{head}{name}")
        } else {
            format!("{head}{name}: {}", parts.join(", "))
        }
    }

    /// How far one of the visitor's own messages got.
    pub fn delivery(self, state: DeliveryState) -> &'static str {
        match (self, state) {
            (Self::En, DeliveryState::Pending) => "Sending…",
            (Self::En, DeliveryState::Sent) => "Sent",
            (Self::En, DeliveryState::Delivered) => "Delivered",
            (Self::En, DeliveryState::Read) => "Read",
            (Self::En, DeliveryState::Failed) => "Not sent",
            (Self::De, DeliveryState::Pending) => "Wird gesendet…",
            (Self::De, DeliveryState::Sent) => "Gesendet",
            (Self::De, DeliveryState::Delivered) => "Zugestellt",
            (Self::De, DeliveryState::Read) => "Gelesen",
            (Self::De, DeliveryState::Failed) => "Nicht gesendet",
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
