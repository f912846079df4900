//! The end screen's after-chat part: the satisfaction survey ("How was this chat?", 1 to
//! 5 as a native radio group in a fieldset, so arrow keys and screen readers work as
//! everywhere, and an optional comment), the transcript for download (plain text made
//! here from the timeline, a `Blob` behind an `a[download]`, no request) and, where the
//! server offers it, the transcript by email. Rendering only, like [`crate::view`]: the
//! survey and the email button report [`Intent`]s, and the answers come back as the
//! SDK's `Done` and `ServerError` events.

use std::cell::RefCell;

use interact_sdk::config::WidgetConfig;
use interact_sdk::form::{RatingError, validate_rating};
use interact_sdk::ids::MessageId;
use interact_sdk::limits::{MAX_RATING_COMMENT_CHARS, MAX_RATING_SCORE, MIN_RATING_SCORE};
use interact_sdk::protocol::{ErrorCode, ErrorFrame, EventFrame, SessionEvent};
use wasm_bindgen::JsValue;
use web_sys::{
    Blob, BlobPropertyBag, Element, HtmlAnchorElement, HtmlButtonElement, HtmlFormElement,
    HtmlInputElement, HtmlTextAreaElement, Url,
};

use crate::dom::{attr, child, show, text_child, typed};
use crate::i18n::Lang;
use crate::view::Intent;

/// The file name the transcript downloads as.
pub(crate) const TRANSCRIPT_FILE: &str = "chat-transcript.txt";

/// Most timeline events kept for the transcript (messages and the names): a chat longer
/// than this downloads its latest part.
const MAX_KEPT: usize = 5000;

/// The after-chat elements and what they wait for.
pub(crate) struct AfterChat {
    lang: Lang,
    /// The survey form (hidden once the rating is stored).
    pub(crate) survey: HtmlFormElement,
    scores: Vec<HtmlInputElement>,
    comment: HtmlTextAreaElement,
    survey_error: Element,
    survey_send: HtmlButtonElement,
    survey_done: Element,
    download: HtmlAnchorElement,
    /// The "email me the transcript" button.
    pub(crate) email: HtmlButtonElement,
    email_status: Element,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// The timeline events a transcript needs (`started`, `agent_joined`, messages).
    frames: Vec<EventFrame>,
    /// The object URL of the transcript's Blob, revoked when replaced, and the Blob.
    url: Option<String>,
    blob: Option<Blob>,
    rate_id: Option<MessageId>,
    email_id: Option<MessageId>,
}

impl AfterChat {
    /// Builds the survey and the transcript controls inside `parent`; `id` makes
    /// document-unique ids.
    pub(crate) fn mount(parent: &Element, lang: Lang, id: &dyn Fn(&str) -> String) -> Self {
        let s = lang.strings();
        let survey: HtmlFormElement = typed(parent, "form", "iw-survey");
        attr(&survey, "novalidate", "");
        let set = child(&survey, "fieldset", "iw-scores");
        text_child(&set, "legend", "", s.survey_question);
        let mut scores = Vec::new();
        for score in MIN_RATING_SCORE..=MAX_RATING_SCORE {
            let label = child(&set, "label", "iw-score");
            let input: HtmlInputElement = typed(&label, "input", "");
            attr(&input, "type", "radio");
            attr(&input, "name", &id("score"));
            attr(&input, "value", &score.to_string());
            let word = lang.rating(score);
            attr(&input, "aria-label", &format!("{score}: {word}"));
            let shown = text_child(&label, "span", "", &score.to_string());
            attr(&shown, "aria-hidden", "true");
            attr(&label, "title", word);
            scores.push(input);
        }
        let row = child(&survey, "div", "iw-field");
        let l = text_child(
            &row,
            "label",
            "",
            &format!("{} {}", s.survey_comment, s.optional),
        );
        attr(&l, "for", &id("comment"));
        let comment: HtmlTextAreaElement = typed(&row, "textarea", "");
        attr(&comment, "id", &id("comment"));
        attr(&comment, "rows", "2");
        attr(&comment, "maxlength", &MAX_RATING_COMMENT_CHARS.to_string());
        attr(&comment, "aria-describedby", &id("survey-error"));
        let survey_error = child(&survey, "p", "iw-error");
        attr(&survey_error, "id", &id("survey-error"));
        attr(&survey_error, "role", "alert");
        show(&survey_error, false);
        let survey_send: HtmlButtonElement = typed(&survey, "button", "iw-rate");
        attr(&survey_send, "type", "submit");
        survey_send.set_text_content(Some(s.survey_send));
        let survey_done = text_child(parent, "p", "iw-survey-done", s.survey_thanks);
        attr(&survey_done, "role", "status");
        show(&survey_done, false);

        let transcript = child(parent, "div", "iw-transcript");
        let download: HtmlAnchorElement = typed(&transcript, "a", "iw-download");
        download.set_text_content(Some(s.transcript_download));
        download.set_download(TRANSCRIPT_FILE);
        let email: HtmlButtonElement = typed(&transcript, "button", "iw-email");
        attr(&email, "type", "button");
        email.set_text_content(Some(s.transcript_email));
        show(&email, false);
        let email_status = child(&transcript, "p", "iw-email-status");
        attr(&email_status, "role", "status");
        Self {
            lang,
            survey,
            scores,
            comment,
            survey_error,
            survey_send,
            survey_done,
            download,
            email,
            email_status,
            state: RefCell::default(),
        }
    }

    /// Keeps what the transcript needs of a timeline event.
    pub(crate) fn timeline(&self, frame: &EventFrame) {
        if matches!(
            frame.event,
            SessionEvent::Started { .. }
                | SessionEvent::AgentJoined { .. }
                | SessionEvent::Message { .. }
        ) {
            let mut st = self.state.borrow_mut();
            if st.frames.len() == MAX_KEPT {
                // Keep `started` (the visitor's name); drop the oldest after it.
                st.frames.remove(1);
            }
            st.frames.push(frame.clone());
        }
    }

    /// The chat ended: the transcript's file is made, the email button offered if the
    /// server sends email.
    pub(crate) fn ended(&self, config: Option<&WidgetConfig>) {
        let s = self.lang.strings();
        let title = match config {
            Some(c) => format!("{}: {}", s.transcript_title, c.target.display_name),
            None => s.transcript_title.to_owned(),
        };
        let text = interact_sdk::transcript::plain_text(&title, self.state.borrow().frames.iter());
        if let Some((blob, url)) = text_blob(&text) {
            let mut st = self.state.borrow_mut();
            if let Some(old) = st.url.replace(url.clone()) {
                let _ = Url::revoke_object_url(&old);
            }
            st.blob = Some(blob);
            self.download.set_href(&url);
        }
        let pending = self.state.borrow().email_id.is_some();
        let offered = config.is_some_and(|c| c.transcript_email);
        show(&self.email, offered && !pending);
    }

    /// The transcript's Blob, once made.
    pub(crate) fn blob(&self) -> Option<Blob> {
        self.state.borrow().blob.clone()
    }

    /// The survey as filled in, checked with the SDK's rules: an intent, or the problem
    /// shown beside it.
    pub(crate) fn submit(&self) -> Option<Intent> {
        let s = self.lang.strings();
        let Some(score) = self
            .scores
            .iter()
            .position(HtmlInputElement::checked)
            .and_then(|i| u8::try_from(i).ok())
            .map(|i| i + MIN_RATING_SCORE)
        else {
            self.survey_problem(Some(s.survey_choose));
            if let Some(first) = self.scores.first() {
                let _ = first.focus();
            }
            return None;
        };
        let text = self.comment.value();
        let comment = (!text.trim().is_empty()).then_some(text);
        match validate_rating(score, comment.as_deref()) {
            Ok(r) => {
                self.survey_problem(None);
                self.survey_send.set_disabled(true);
                Some(Intent::Rate {
                    score: r.score,
                    comment: r.comment,
                })
            }
            Err(RatingError::Comment(e)) => {
                self.survey_problem(Some(&self.lang.field_error(&e)));
                attr(&self.comment, "aria-invalid", "true");
                let _ = self.comment.focus();
                None
            }
            Err(_) => {
                self.survey_problem(Some(s.survey_choose));
                None
            }
        }
    }

    /// The email button was clicked: the intent, the button off until the answer.
    pub(crate) fn email_clicked(&self) -> Intent {
        self.email.set_disabled(true);
        Intent::EmailTranscript
    }

    /// The rating went out as request `id`.
    pub(crate) fn rating_sent(&self, id: MessageId) {
        self.state.borrow_mut().rate_id = Some(id);
    }

    /// The email request went out as `id`.
    pub(crate) fn email_sent(&self, id: MessageId) {
        self.state.borrow_mut().email_id = Some(id);
    }

    /// A request failed before it went out (the SDK refused it).
    pub(crate) fn refused(&self, rating: bool, why: &str) {
        if rating {
            self.survey_send.set_disabled(false);
            self.survey_problem(Some(why));
        } else {
            self.email.set_disabled(false);
            self.email_status.set_text_content(Some(why));
        }
    }

    /// The server carried out request `id`; whether it was one of these.
    pub(crate) fn done(&self, id: &MessageId) -> bool {
        let mut st = self.state.borrow_mut();
        if st.rate_id.as_ref() == Some(id) {
            st.rate_id = None;
            show(&self.survey, false);
            show(&self.survey_done, true);
            true
        } else if st.email_id.as_ref() == Some(id) {
            st.email_id = None;
            show(&self.email, false);
            self.email_status
                .set_text_content(Some(self.lang.strings().transcript_emailed));
            true
        } else {
            false
        }
    }

    /// The server refused a request; whether it was one of these. A refusal for good
    /// (`not_allowed`: rated already, too late) leaves the control off.
    pub(crate) fn failed(&self, e: &ErrorFrame) -> bool {
        let Some(id) = e.id.as_ref() else {
            return false;
        };
        let again = e.code != ErrorCode::NotAllowed;
        let s = self.lang.strings();
        let mut st = self.state.borrow_mut();
        if st.rate_id.as_ref() == Some(id) {
            st.rate_id = None;
            self.survey_send.set_disabled(!again);
            self.survey_problem(Some(s.after_chat_failed));
            true
        } else if st.email_id.as_ref() == Some(id) {
            st.email_id = None;
            self.email.set_disabled(!again);
            self.email_status
                .set_text_content(Some(s.after_chat_failed));
            true
        } else {
            false
        }
    }

    /// Back to the start for a new chat.
    pub(crate) fn reset(&self) {
        let mut st = self.state.borrow_mut();
        if let Some(url) = st.url.take() {
            let _ = Url::revoke_object_url(&url);
        }
        *st = State::default();
        let _ = self.download.remove_attribute("href");
        for s in &self.scores {
            s.set_checked(false);
        }
        self.comment.set_value("");
        let _ = self.comment.remove_attribute("aria-invalid");
        self.survey_problem(None);
        self.survey_send.set_disabled(false);
        show(&self.survey, true);
        show(&self.survey_done, false);
        self.email.set_disabled(false);
        show(&self.email, false);
        self.email_status.set_text_content(None);
    }

    fn survey_problem(&self, text: Option<&str>) {
        self.survey_error.set_text_content(text);
        show(&self.survey_error, text.is_some());
        if text.is_none() {
            let _ = self.comment.remove_attribute("aria-invalid");
        }
    }
}

/// `text` as a UTF-8 plain-text Blob, and an object URL of it.
fn text_blob(text: &str) -> Option<(Blob, String)> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type("text/plain;charset=utf-8");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let url = Url::create_object_url_with_blob(&blob).ok()?;
    Some((blob, url))
}
