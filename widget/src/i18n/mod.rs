//! The widget's words. Every string a visitor reads is in one block per language: one
//! file each ([`en`], [`de`]), a [`Language`] whose fields the compiler checks are all
//! there, listed once in [`LANGUAGES`]. The loader script's few words
//! (`www/widget/loader.js`, which runs before any WebAssembly) are part of the same
//! block: `cargo xtask widget` writes them into the script from [`loader_words_js`].
//!
//! Adding a language: copy `en.rs` to a file named after the language's primary subtag,
//! translate it, add `mod` and one entry in [`LANGUAGES`], then run `cargo xtask widget`.

use interact_sdk::client::DeliveryState;
use interact_sdk::config::Availability;
use interact_sdk::form::FieldError;
use interact_sdk::protocol::{CallMedia, EndReason, HangupReason, MediaState, Party};

use crate::devices::MediaError;

pub mod de;
pub mod en;

/// Every language, the default first.
pub static LANGUAGES: &[&Language] = &[&en::LANGUAGE, &de::LANGUAGE];

/// The call module's words of every language (one for each of [`LANGUAGES`]).
static CALL_LANGUAGES: &[&CallLanguage] = &[&en::CALL, &de::CALL];

/// The words of one language. Texts that depend on a value are functions of it.
#[derive(Debug)]
pub struct Language {
    /// The primary language subtag (`en`, `de`): what `lang` attributes and the
    /// embedding page's `data-interact-lang` are matched against.
    pub tag: &'static str,
    /// The loader script's words.
    pub loader: LoaderWords,
    /// Fixed strings.
    pub strings: Strings,
    /// The availability line under the target's name.
    pub availability: fn(Availability) -> &'static str,
    /// Why a form field was refused.
    pub field_error: fn(&FieldError) -> String,
    /// The visitor's place in the queue.
    pub queue_position: fn(u32) -> String,
    /// An agent (named) joined the chat.
    pub joined: fn(&str) -> String,
    /// An agent (named) left the chat.
    pub left: fn(&str) -> String,
    /// The chat goes to another service or person (named): a transfer.
    pub transferred: fn(&str) -> String,
    /// The other side (named) is typing.
    pub typing: fn(&str) -> String,
    /// The chat ended, and why.
    pub ended: fn(EndReason) -> &'static str,
    /// A call ended (a line in the transcript), hung up by this party.
    pub call_ended: fn(HangupReason, Party) -> &'static str,
    /// Why this side gave up a call, or part of one.
    pub call_failed: fn(CallFailure) -> &'static str,
    /// How far one of the visitor's own messages got.
    pub delivery: fn(DeliveryState) -> &'static str,
    /// The word for a score of the end-of-chat survey, 1 (worst) to 5 (best).
    pub rating: fn(u8) -> &'static str,
}

/// The loader script's words: its button and the note it shows where the code may not
/// be used.
#[derive(Debug)]
#[allow(missing_docs)]
pub struct LoaderWords {
    pub open: &'static str,
    pub close: &'static str,
    pub title: &'static str,
    /// After the number of unread messages, in the button's label.
    pub unread: &'static str,
    pub refused: &'static str,
    /// The host page's title alternates with "(n) " and this while an agent writes and
    /// the widget is closed.
    pub message: &'static str,
    /// The launcher's label where the embed code is refused on this page.
    pub unavailable: &'static str,
}

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

impl CallFailure {
    /// The failure's name in the JavaScript API (`call_problem` events).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Negotiation => "negotiation",
            Self::Screen => "screen",
            Self::Device => "device",
            Self::Unsupported => "unsupported",
        }
    }

    /// The failure named `name` ([`Self::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Connection,
            Self::Negotiation,
            Self::Screen,
            Self::Device,
            Self::Unsupported,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }
}

/// A language the widget speaks: a handle on its [`Language`].
#[derive(Clone, Copy, Debug)]
pub struct Lang(&'static Language);

impl PartialEq for Lang {
    fn eq(&self, other: &Self) -> bool {
        self.0.tag == other.0.tag
    }
}

impl Eq for Lang {}

impl Default for Lang {
    fn default() -> Self {
        Self::EN
    }
}

impl Lang {
    /// English.
    pub const EN: Self = Self(&en::LANGUAGE);
    /// German.
    pub const DE: Self = Self(&de::LANGUAGE);

    /// The language for a BCP 47 tag such as `de-AT` (by its primary subtag); the default
    /// (English) for anything unknown.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        LANGUAGES
            .iter()
            .find(|l| l.tag.eq_ignore_ascii_case(primary))
            .map_or_else(Self::default, |l| Self(l))
    }

    /// The tag for the `lang` attribute.
    pub fn tag(self) -> &'static str {
        self.0.tag
    }

    /// The fixed strings of this language.
    pub fn strings(self) -> &'static Strings {
        &self.0.strings
    }

    /// The availability line under the target's name.
    pub fn availability(self, a: Availability) -> &'static str {
        (self.0.availability)(a)
    }

    /// Why a form field was refused.
    pub fn field_error(self, e: &FieldError) -> String {
        (self.0.field_error)(e)
    }

    /// The visitor's place in the queue.
    pub fn queue_position(self, position: u32) -> String {
        (self.0.queue_position)(position)
    }

    /// An agent joined the chat.
    pub fn joined(self, name: &str) -> String {
        (self.0.joined)(name)
    }

    /// An agent left the chat.
    pub fn left(self, name: &str) -> String {
        (self.0.left)(name)
    }

    /// The chat was transferred to another service or person.
    pub fn transferred(self, name: &str) -> String {
        (self.0.transferred)(name)
    }

    /// The other side is typing.
    pub fn typing(self, name: &str) -> String {
        (self.0.typing)(name)
    }

    /// The chat ended, and why.
    pub fn ended(self, reason: EndReason) -> &'static str {
        (self.0.ended)(reason)
    }

    /// The call module's words of this language.
    pub fn call(self) -> &'static CallLanguage {
        CALL_LANGUAGES
            .iter()
            .find(|c| c.tag == self.0.tag)
            .unwrap_or(&CALL_LANGUAGES[0])
    }

    /// Guidance when the microphone or camera cannot be had.
    pub fn media_error(self, e: MediaError, media: CallMedia) -> &'static str {
        (self.call().media_error)(e, media)
    }

    /// A call ended (a line in the transcript).
    pub fn call_ended(self, reason: HangupReason, by: Party) -> &'static str {
        (self.0.call_ended)(reason, by)
    }

    /// Why this side gave up a call (a line in the transcript; the chat goes on).
    pub fn call_failed(self, why: CallFailure) -> &'static str {
        (self.0.call_failed)(why)
    }

    /// How far one of the visitor's own messages got.
    pub fn delivery(self, state: DeliveryState) -> &'static str {
        (self.0.delivery)(state)
    }

    /// The word for a survey score, 1 to 5.
    pub fn rating(self, score: u8) -> &'static str {
        (self.0.rating)(score)
    }

    /// The agent's microphone, camera or screen changed (the call's status line).
    pub fn remote_media(self, name: &str, state: MediaState) -> String {
        let s = &self.call().strings;
        let mut parts: Vec<&str> = Vec::new();
        if state.muted {
            parts.push(s.remote_muted);
        }
        if state.screen {
            parts.push(s.remote_screen);
        }
        let name = if name.is_empty() {
            String::new()
        } else {
            format!(" \u{b7} {name}")
        };
        if parts.is_empty() {
            format!("{}{name}", s.in_call)
        } else {
            format!("{}{name}: {}", s.in_call, parts.join(", "))
        }
    }
}

/// The loader's words of every language as a JavaScript object literal, keyed by tag
/// (what `cargo xtask widget` writes into `www/widget/loader.js`).
pub fn loader_words_js() -> String {
    let entries: Vec<String> = LANGUAGES
        .iter()
        .map(|l| {
            let w = &l.loader;
            let fields = [
                ("open", w.open),
                ("close", w.close),
                ("title", w.title),
                ("unread", w.unread),
                ("refused", w.refused),
                ("message", w.message),
                ("unavailable", w.unavailable),
            ]
            .map(|(k, v)| format!("{k}: {}", js_string(v)));
            format!("{}: {{ {} }}", l.tag, fields.join(", "))
        })
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

/// A JavaScript string literal of `s` (JSON's escaping, which JavaScript shares).
fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Fixed strings; formatted ones are functions in [`Language`]. Each field is named after
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
    /// Above a verified visitor's earlier conversations.
    pub history: &'static str,
    /// `identify` was refused: the visitor chats anonymously.
    pub identity_refused: &'static str,
    pub audio_call: &'static str,
    /// Before the form's call buttons: "Or start with".
    pub start_with: &'static str,
    /// The form's call-first buttons.
    pub call_first_audio: &'static str,
    pub call_first_video: &'static str,
    pub video_call: &'static str,
    /// The end-of-chat survey: its question, comment box, button, refusal, thanks.
    pub survey_question: &'static str,
    pub survey_comment: &'static str,
    pub survey_send: &'static str,
    pub survey_choose: &'static str,
    pub survey_thanks: &'static str,
    /// The transcript after the chat: its download link, the email button, the note
    /// once the email is on its way, the heading of the file.
    pub transcript_download: &'static str,
    pub transcript_email: &'static str,
    pub transcript_emailed: &'static str,
    pub transcript_title: &'static str,
    /// An after-chat request (rating, email) failed.
    pub after_chat_failed: &'static str,
    /// Closed, with when it opens next (`{}`: a local weekday and time).
    pub closed_until: &'static str,
    /// The form as an offline message: its intro, the message's label, its button, the
    /// button while it is sent, and the thanks (`{}`: the visitor's address).
    pub leave_intro: &'static str,
    pub leave_label: &'static str,
    pub leave_send: &'static str,
    pub sending: &'static str,
    pub left_thanks: &'static str,
    /// Nobody is available, but a chat may start and wait in the queue.
    pub queue_open: &'static str,
    /// The expected reply time: within a minute, or about `{}` minutes.
    pub wait_minute: &'static str,
    pub wait_minutes: &'static str,
    /// The header's menu button.
    pub more: &'static str,
    /// Files in the chat: the attach button's label, the progress bar's, and why a file
    /// was not sent (its type, its size, anything else).
    pub attach: &'static str,
    pub uploading: &'static str,
    pub file_type: &'static str,
    pub file_too_large: &'static str,
    pub file_failed: &'static str,
}

/// The call module's words (device step, call panel): a static of their own, apart from
/// [`Language`], so that the chat path's module links none of them
/// ([`Lang::call`] is only reached from the call code).
#[derive(Debug)]
pub struct CallLanguage {
    /// The language's tag, as [`Language::tag`].
    pub tag: &'static str,
    /// Fixed strings.
    pub strings: CallStrings,
    /// Guidance when the microphone or camera cannot be had for a call of this media.
    pub media_error: fn(MediaError, CallMedia) -> &'static str,
}

/// Fixed strings of the call module. Each field is named after the control or state it
/// labels.
#[derive(Debug)]
#[allow(missing_docs)]
pub struct CallStrings {
    /// A call-first call waiting for an agent.
    pub call_waiting: &'static str,
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
    /// In the call's status line: the media path broke, ICE restarts.
    pub call_reconnecting: &'static str,
    pub remote_video: &'static str,
    pub own_video: &'static str,
    pub mute: &'static str,
    pub camera_on: &'static str,
    pub share_screen: &'static str,
    pub devices: &'static str,
    pub hang_up: &'static str,
    pub call_controls: &'static str,
    /// In the call's status line: the agent's microphone is off.
    pub remote_muted: &'static str,
    /// In the call's status line: the agent shares their screen.
    pub remote_screen: &'static str,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn languages_follow_the_primary_subtag() {
        let de = Lang::from_tag("de");
        assert_eq!(de.tag(), "de");
        assert_eq!(Lang::from_tag("de-AT"), de);
        assert_eq!(Lang::from_tag("DE"), de);
        assert_eq!(Lang::from_tag("en-GB").tag(), "en");
        assert_eq!(Lang::from_tag("fr"), Lang::default());
        assert_eq!(Lang::from_tag(""), Lang::default());
        assert_eq!(Lang::default().tag(), "en");
    }

    #[test]
    fn every_language_has_a_unique_lowercase_tag() {
        let mut tags: Vec<&str> = LANGUAGES.iter().map(|l| l.tag).collect();
        assert!(
            tags.iter()
                .all(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase()))
        );
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), LANGUAGES.len());
    }

    #[test]
    fn every_language_has_its_call_words() {
        for lang in LANGUAGES.iter().map(|l| Lang(l)) {
            assert_eq!(lang.call().tag, lang.tag());
        }
        assert_eq!(CALL_LANGUAGES.len(), LANGUAGES.len());
        assert_ne!(
            Lang::DE.call().strings.hang_up,
            Lang::EN.call().strings.hang_up
        );
    }

    #[test]
    fn formatted_words_carry_their_values() {
        for lang in LANGUAGES.iter().map(|l| Lang(l)) {
            assert!(lang.joined("Zoë").contains("Zoë"), "{}", lang.tag());
            assert!(lang.queue_position(7).contains('7'), "{}", lang.tag());
            let too_long = FieldError::TooLong { max: 120 };
            assert!(
                lang.field_error(&too_long).contains("120"),
                "{}",
                lang.tag()
            );
            let muted = MediaState {
                muted: true,
                ..MediaState::default()
            };
            assert!(
                lang.remote_media("Sam", muted)
                    .contains(lang.call().strings.remote_muted)
            );
        }
    }

    /// The loader script carries what [`loader_words_js`] makes (`cargo xtask widget`
    /// writes it): a word changed here and not rebuilt fails this test.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_loader_script_has_the_current_words() {
        let loader = include_str!("../../../www/widget/loader.js");
        let line = format!("var WORDS = {};", loader_words_js());
        assert!(
            loader.lines().any(|l| l.trim() == line),
            "www/widget/loader.js does not carry the current words; run `cargo xtask widget`\nexpected: {line}"
        );
    }
}
