//! The widget's DOM: header, pre-chat form, chat and end screen. Rendering only: the view
//! shows the SDK's [`Event`]s and reports what the visitor asks for as [`Intent`]s; it
//! never talks to the server itself (see [`crate::widget`] for the glue). So it can be
//! tested in a browser without a server, by feeding it events.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};

use gloo_events::{EventListener, EventListenerOptions};
use interact_sdk::client::{DeliveryState, Event};
use interact_sdk::config::{Availability, WidgetConfig};
use interact_sdk::form::{Field, FieldError, FormErrors, PreChatForm, is_blank};
use interact_sdk::ids::{AttachmentId, MessageId, SessionId};
use interact_sdk::protocol::{CallMedia, ErrorCode, EventFrame, Party, SessionEvent};
use interact_sdk::{CallEvent, LinkState, VisitorState};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Element, HtmlAnchorElement, HtmlButtonElement, HtmlElement, HtmlFormElement, HtmlInputElement,
    HtmlTextAreaElement, KeyboardEvent,
};

use crate::after::AfterChat;
use crate::dom::{attr, child, show, text_child, typed};
use crate::i18n::{CallFailure, Lang};

/// What the visitor asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Submit the pre-chat form (already checked with the SDK's rules).
    StartChat(PreChatForm),
    /// Leave a message (the form, its message required) while no chat can start.
    LeaveMessage(PreChatForm),
    /// Send a chat message.
    Send(String),
    /// The visitor started or stopped typing.
    Typing(bool),
    /// End the chat.
    End,
    /// Start over after a chat ended.
    NewChat,
    /// Rate the ended chat (checked with the SDK's rules): 1 to 5, a comment or none.
    Rate {
        /// 1 to 5.
        score: u8,
        /// The comment, trimmed; `None` when the box was left empty.
        comment: Option<String>,
    },
    /// Email the ended chat's transcript to the visitor.
    EmailTranscript,
    /// Hide the widget (the minimise button, or Escape).
    Minimize,
    /// Send a file (chosen with the attach button; its size checked against the
    /// configuration's limit, its type left to the server).
    Attach(web_sys::File),
    /// A file is in the transcript: fetch it with the visitor's credentials and hand its
    /// `blob:` URL to [`View::file_loaded`].
    LoadFile(AttachmentId),
    /// Open the device step for a call: a call button in the chat, or (call-first, with
    /// the checked form) one under the form. The call module, loaded on the first one,
    /// takes it from there ([`crate::panel`]); the chat's call area is
    /// [`View::call_host`].
    Call {
        /// Audio or video.
        media: CallMedia,
        /// Call-first: the form, valid; the session starts with the call.
        first: Option<PreChatForm>,
        /// The visitor consented, so the device choice may be kept.
        remember: bool,
    },
}

/// How the view reports intents.
pub type IntentHandler = Rc<dyn Fn(Intent)>;

/// Options of [`View::mount`].
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// The language of the widget's strings.
    pub lang: Lang,
    /// Show a minimise button (when the widget lives in a frame the host page can hide).
    pub minimizable: bool,
    /// Keep the visitor's device choice in `sessionStorage`, once the visitor consented
    /// (a session exists).
    pub remember: bool,
}

/// The mounted widget DOM. Dropping it removes its listeners (not its elements).
#[derive(Clone)]
pub struct View {
    inner: Rc<Inner>,
}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("lang", &self.inner.lang)
            .finish_non_exhaustive()
    }
}

/// One field of the pre-chat form: its control and its error line.
struct FormField {
    control: Element,
    error: Element,
}

struct Inner {
    lang: Lang,
    root: HtmlElement,
    /// The header's initials: the target's, then the agent's.
    avatar: Element,
    title: Element,
    subtitle: Element,
    status: Element,
    notice: Element,
    /// A verified visitor's earlier conversations (empty and hidden for others).
    history: Element,
    form: HtmlFormElement,
    /// The form's first line, and the label of its message: they change when the form
    /// is an offline message.
    intro: Element,
    first_label: Element,
    name: HtmlInputElement,
    email: HtmlInputElement,
    consent: HtmlInputElement,
    consent_text: Element,
    policy: HtmlAnchorElement,
    first: HtmlTextAreaElement,
    start: HtmlButtonElement,
    /// Call-first: "Or start with" and the call buttons under Start.
    first_calls: Element,
    first_audio: HtmlButtonElement,
    first_video: HtmlButtonElement,
    fields: Vec<(Field, FormField)>,
    chat: Element,
    queue: Element,
    log: Element,
    typing: Element,
    compose: HtmlFormElement,
    text: HtmlTextAreaElement,
    text_error: Element,
    /// Files: the attach button, its hidden file input, the upload's progress bar.
    attach: HtmlButtonElement,
    file: HtmlInputElement,
    progress: Element,
    end: HtmlButtonElement,
    /// The header's menu (End chat) and its button.
    more: HtmlButtonElement,
    menu: Element,
    calls: Element,
    audio_call: HtmlButtonElement,
    video_call: HtmlButtonElement,
    /// Where the call module puts the device step and the call panel.
    call_host: Element,
    remember: bool,
    ended: Element,
    ended_text: Element,
    after: AfterChat,
    new_chat: HtmlButtonElement,
    state: RefCell<State>,
    on_intent: IntentHandler,
    listeners: RefCell<Vec<EventListener>>,
}

#[derive(Default)]
struct State {
    config: Option<WidgetConfig>,
    visitor: Option<VisitorState>,
    agent: Option<String>,
    /// The status line of each of the visitor's own messages.
    own: Vec<(MessageId, Element)>,
    /// A session exists, so the visitor consented: the device choice may be kept.
    consented: bool,
    /// A call was placed from this page (its end gets a line in the transcript).
    in_call: bool,
    /// The call module shows its device step or call panel: no call buttons meanwhile.
    call_busy: bool,
    /// A failure line for the current call was shown already.
    explained: bool,
    /// No chat can start but a message can be left: the form is an offline message.
    leaving: bool,
    /// The offline message being sent, until the server answers.
    leave_id: Option<MessageId>,
    /// The transcript's files, by id: their item (its link and thumbnail get the file's
    /// `blob:` URL once it is fetched).
    files: Vec<(AttachmentId, Element)>,
    /// The `blob:` URLs made for them, revoked on a new chat.
    urls: Vec<String>,
}

/// What the file input offers (the server decides by the content).
const ACCEPT: &str = "image/png,image/jpeg,image/gif,image/webp,application/pdf";

/// Ids must be unique in the document, and tests mount several widgets in one.
static MOUNTS: AtomicU32 = AtomicU32::new(0);

impl View {
    /// Builds the widget inside `parent` (which it fills) and starts in the "connecting"
    /// state.
    pub fn mount(parent: &Element, options: ViewOptions, on_intent: IntentHandler) -> Self {
        let lang = options.lang;
        let s = lang.strings();
        let n = MOUNTS.fetch_add(1, Ordering::Relaxed) + 1;
        let id = |name: &str| format!("iw{n}-{name}");

        let root: HtmlElement = typed(parent, "section", "iw");
        attr(&root, "lang", lang.tag());
        attr(&root, "aria-labelledby", &id("title"));

        let head = child(&root, "header", "iw-head");
        let avatar = child(&head, "span", "iw-avatar");
        attr(&avatar, "aria-hidden", "true");
        let titles = child(&head, "div", "iw-titles");
        let title = child(&titles, "h1", "iw-title");
        attr(&title, "id", &id("title"));
        let subtitle = child(&titles, "p", "iw-sub");
        // Calls: icon buttons in the header, shown while an agent is there.
        let calls = child(&head, "div", "iw-calls");
        show(&calls, false);
        let icon = |class: &str, label: &str| -> HtmlButtonElement {
            let b: HtmlButtonElement = typed(&calls, "button", class);
            attr(&b, "type", "button");
            attr(&b, "aria-label", label);
            attr(&b, "title", label);
            b
        };
        let audio_call = icon("iw-icon iw-call-audio", s.audio_call);
        let video_call = icon("iw-icon iw-call-video", s.video_call);
        // The chat's menu: End chat.
        let more: HtmlButtonElement = typed(&head, "button", "iw-icon iw-more");
        attr(&more, "type", "button");
        attr(&more, "aria-label", s.more);
        attr(&more, "title", s.more);
        attr(&more, "aria-haspopup", "menu");
        attr(&more, "aria-expanded", "false");
        attr(&more, "aria-controls", &id("menu"));
        show(&more, false);
        let menu = child(&head, "div", "iw-menu");
        attr(&menu, "id", &id("menu"));
        attr(&menu, "role", "menu");
        show(&menu, false);
        let end: HtmlButtonElement = typed(&menu, "button", "iw-end");
        attr(&end, "type", "button");
        attr(&end, "role", "menuitem");
        end.set_text_content(Some(s.end));
        if options.minimizable {
            let min = text_child(&head, "button", "iw-min", "\u{2013}");
            attr(&min, "type", "button");
            attr(&min, "aria-label", s.minimize);
            attr(&min, "title", s.minimize);
        }
        let status = text_child(&root, "p", "iw-status", s.connecting);
        attr(&status, "role", "status");
        let notice = child(&root, "p", "iw-notice");
        attr(&notice, "role", "alert");
        show(&notice, false);
        let history = child(&root, "section", "iw-history");
        attr(&history, "aria-label", s.history);
        show(&history, false);

        // The pre-chat form.
        let form: HtmlFormElement = typed(&root, "form", "iw-form");
        attr(&form, "novalidate", "");
        show(&form, false);
        let intro = text_child(&form, "p", "iw-intro", s.intro);
        // Lists rather than maps: a few entries each, and every map type would cost the
        // module its own B-tree code.
        let mut fields = Vec::new();
        let mut field = |field: Field, key: &str, label: &str, tag: &str| -> Element {
            let row = child(&form, "div", "iw-field");
            let l = text_child(&row, "label", "", label);
            attr(&l, "for", &id(key));
            let control = child(&row, tag, "");
            attr(&control, "id", &id(key));
            let error = child(&row, "p", "iw-error");
            attr(&error, "id", &id(&format!("{key}-error")));
            show(&error, false);
            fields.push((
                field,
                FormField {
                    control: control.clone(),
                    error,
                },
            ));
            control
        };
        let name: HtmlInputElement =
            field(Field::DisplayName, "name", s.name, "input").unchecked_into();
        attr(&name, "autocomplete", "name");
        attr(&name, "required", "");
        let email: HtmlInputElement =
            field(Field::Email, "email", s.email, "input").unchecked_into();
        attr(&email, "type", "email");
        attr(&email, "autocomplete", "email");
        attr(&email, "required", "");

        let row = child(&form, "div", "iw-field iw-consent");
        let consent: HtmlInputElement = typed(&row, "input", "");
        attr(&consent, "type", "checkbox");
        attr(&consent, "id", &id("consent"));
        attr(&consent, "required", "");
        // The consent's text and the policy's link together, in one paragraph.
        let texts = child(&row, "div", "iw-consent-text");
        let consent_text = child(&texts, "label", "");
        attr(&consent_text, "for", &id("consent"));
        let policy: HtmlAnchorElement = typed(&texts, "a", "iw-policy");
        policy.set_text_content(Some(s.policy_link));
        policy.set_target("_blank");
        policy.set_rel("noopener noreferrer");
        let consent_error = child(&row, "p", "iw-error");
        attr(&consent_error, "id", &id("consent-error"));
        show(&consent_error, false);
        let consent_field = FormField {
            control: consent.clone().into(),
            error: consent_error,
        };

        let label = format!("{} {}", s.first_message, s.optional);
        let first: HtmlTextAreaElement =
            field(Field::FirstMessage, "first", &label, "textarea").unchecked_into();
        attr(&first, "rows", "3");
        let first_label = first
            .previous_element_sibling()
            .unwrap_or_else(|| first.clone().into());
        // In the form's order: between the e-mail address and the first message.
        fields.insert(2, (Field::Consent, consent_field));
        let start: HtmlButtonElement = typed(&form, "button", "iw-start");
        attr(&start, "type", "submit");
        start.set_text_content(Some(s.start));
        // Call-first: start with a call instead of a chat (after the device step).
        let first_calls = child(&form, "div", "iw-first");
        attr(&first_calls, "role", "group");
        attr(&first_calls, "aria-labelledby", &id("first-with"));
        let with = text_child(&first_calls, "span", "iw-first-with", s.start_with);
        attr(&with, "id", &id("first-with"));
        let first_button = |class: &str, text: &str| -> HtmlButtonElement {
            let b: HtmlButtonElement = typed(&first_calls, "button", class);
            attr(&b, "type", "button");
            b.set_text_content(Some(text));
            b
        };
        let first_audio = first_button("iw-first-audio", s.call_first_audio);
        let first_video = first_button("iw-first-video", s.call_first_video);
        show(&first_calls, false);

        // The chat.
        let chat = child(&root, "div", "iw-chat");
        show(&chat, false);
        let queue = child(&chat, "p", "iw-queue");
        attr(&queue, "role", "status");

        // The call module's device step and panel.
        let call_host = child(&chat, "div", "iw-callhost");
        // The live region is a box around the list: with `role=log` on the `<ol>` itself
        // its items would lose their list.
        let logbox = child(&chat, "div", "iw-logbox");
        attr(&logbox, "role", "log");
        attr(&logbox, "aria-live", "polite");
        attr(&logbox, "aria-label", s.messages);
        let log = child(&logbox, "ol", "iw-log");
        attr(&log, "aria-label", s.messages);
        attr(&log, "tabindex", "0");
        let typing = child(&chat, "p", "iw-typing");
        attr(&typing, "aria-live", "polite");
        let compose: HtmlFormElement = typed(&chat, "form", "iw-compose");
        let l = text_child(&compose, "label", "iw-sr", s.message);
        attr(&l, "for", &id("text"));
        let text: HtmlTextAreaElement = typed(&compose, "textarea", "");
        attr(&text, "id", &id("text"));
        attr(&text, "rows", "2");
        attr(&text, "aria-describedby", &id("text-error"));
        let file: HtmlInputElement = typed(&compose, "input", "iw-file");
        attr(&file, "type", "file");
        attr(&file, "accept", ACCEPT);
        // Hidden (so out of the tab order and the accessibility tree): the attach button
        // opens it.
        show(&file, false);
        let attach: HtmlButtonElement = typed(&compose, "button", "iw-attach");
        attr(&attach, "type", "button");
        attr(&attach, "aria-label", s.attach);
        attr(&attach, "title", s.attach);
        // A paperclip drawn by CSS (`.iw-attach::before`); the label above is what
        // assistive technology reads.
        show(&attach, false);
        let send = text_child(&compose, "button", "iw-send", s.send);
        attr(&send, "type", "submit");
        let text_error = child(&compose, "p", "iw-error");
        attr(&text_error, "id", &id("text-error"));
        attr(&text_error, "role", "alert");
        show(&text_error, false);
        let progress = child(&compose, "progress", "iw-progress");
        attr(&progress, "max", "1000");
        attr(&progress, "aria-label", s.uploading);
        show(&progress, false);

        let ended = child(&root, "div", "iw-ended");
        show(&ended, false);
        let ended_text = child(&ended, "p", "");
        attr(&ended_text, "role", "status");
        let after = AfterChat::mount(&ended, lang, &id);
        let new_chat: HtmlButtonElement = typed(&ended, "button", "iw-new");
        attr(&new_chat, "type", "button");
        new_chat.set_text_content(Some(s.new_chat));

        let view = Self {
            inner: Rc::new(Inner {
                lang,
                root,
                avatar,
                title,
                subtitle,
                status,
                notice,
                history,
                form,
                intro,
                first_label,
                name,
                email,
                consent,
                consent_text,
                policy,
                first,
                start,
                first_calls,
                first_audio,
                first_video,
                fields,
                chat,
                queue,
                log,
                typing,
                compose,
                text,
                text_error,
                attach,
                file,
                progress,
                end,
                more,
                menu,
                calls,
                audio_call,
                video_call,
                call_host,
                remember: options.remember,
                ended,
                ended_text,
                after,
                new_chat,
                state: RefCell::default(),
                on_intent,
                listeners: RefCell::default(),
            }),
        };
        view.listen();
        view
    }

    /// The widget's root element.
    pub fn root(&self) -> &HtmlElement {
        &self.inner.root
    }

    fn listen(&self) {
        let i = &self.inner;
        let weak = Rc::downgrade(i);
        let on = |target: &web_sys::EventTarget,
                  kind: &'static str,
                  f: fn(&Inner, &web_sys::Event)|
         -> EventListener {
            let weak: Weak<Inner> = weak.clone();
            EventListener::new_with_options(
                target,
                kind,
                EventListenerOptions::enable_prevent_default(),
                move |e| {
                    if let Some(i) = weak.upgrade() {
                        f(&i, e);
                    }
                },
            )
        };
        let mut listeners = vec![
            on(&i.form, "submit", |i, e| {
                e.prevent_default();
                i.submit_form();
            }),
            on(&i.compose, "submit", |i, e| {
                e.prevent_default();
                i.submit_message();
            }),
            on(&i.text, "keydown", |i, e| {
                let Some(k) = e.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                // Enter sends; Shift+Enter is a new line; not while an IME composes.
                if k.key() == "Enter" && !k.shift_key() && !k.is_composing() {
                    e.prevent_default();
                    i.submit_message();
                }
            }),
            on(&i.text, "input", |i, _| {
                let active = !is_blank(&i.text.value());
                (i.on_intent)(Intent::Typing(active));
                // The refusal was about the text as it was.
                if !i.text_error.has_attribute("hidden") {
                    show(&i.text_error, false);
                    let _ = i.text.remove_attribute("aria-invalid");
                }
            }),
            // A field's error was about its value as it was: editing clears it.
            on(&i.form, "input", |i, e| {
                let target = e.target().and_then(|t| t.dyn_into::<Element>().ok());
                if let Some(target) = target {
                    i.clear_field_error(&target);
                }
            }),
            on(&i.end, "click", |i, _| {
                i.set_menu(false);
                (i.on_intent)(Intent::End);
            }),
            on(&i.more, "click", |i, _| {
                i.set_menu(i.menu.has_attribute("hidden"))
            }),
            on(&i.attach, "click", |i, _| i.file.click()),
            on(&i.file, "change", |i, _| i.file_chosen()),
            // One listener for every call button (each listener costs wasm).
            on(&i.calls, "click", |i, e| {
                if let Some(b) = clicked_button(e) {
                    i.call_button(&b.class_name());
                }
            }),
            on(&i.new_chat, "click", |i, _| (i.on_intent)(Intent::NewChat)),
            on(&i.after.survey, "submit", |i, e| {
                e.prevent_default();
                if let Some(intent) = i.after.submit() {
                    (i.on_intent)(intent);
                }
            }),
            on(&i.after.email, "click", |i, _| {
                (i.on_intent)(i.after.email_clicked());
            }),
            on(&i.first_calls, "click", |i, e| {
                match clicked_button(e).map(|b| b.class_name()).as_deref() {
                    Some("iw-first-audio") => i.submit_call(CallMedia::Audio),
                    Some("iw-first-video") => i.submit_call(CallMedia::Video),
                    _ => {}
                }
            }),
            on(&i.root, "keydown", |i, e| {
                let Some(k) = e.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                if k.key() == "Escape" {
                    if i.menu.has_attribute("hidden") {
                        (i.on_intent)(Intent::Minimize);
                    } else {
                        i.set_menu(false);
                        let _ = i.more.focus();
                    }
                }
            }),
        ];
        if let Some(min) = i.root.query_selector(".iw-min").ok().flatten() {
            listeners.push(on(&min, "click", |i, _| (i.on_intent)(Intent::Minimize)));
        }
        *i.listeners.borrow_mut() = listeners;
    }

    /// Shows one event of the SDK.
    pub fn handle(&self, event: &Event) {
        let i = &self.inner;
        let s = i.lang.strings();
        match event {
            Event::Link(link) => {
                let (text, key) = match link {
                    LinkState::Connecting => (s.connecting, "connecting"),
                    LinkState::Online => (s.online, "online"),
                    LinkState::Reconnecting { .. } => (s.reconnecting, "reconnecting"),
                    _ => (s.offline, "closed"),
                };
                i.status.set_text_content(Some(text));
                attr(&i.root, "data-link", key);
            }
            Event::Config(config) => i.show_config(config),
            Event::State(state) => i.show_state(state),
            Event::FormRejected(errors) => {
                i.show_form_errors(errors);
                i.start.set_disabled(false);
                i.start.set_text_content(Some(i.start_label()));
            }
            Event::Timeline(frame) => {
                i.after.timeline(frame);
                i.show_timeline(frame);
            }
            Event::Done(id) if i.state.borrow().leave_id.as_ref() == Some(id) => i.message_left(),
            Event::Done(id) => {
                i.after.done(id);
            }
            Event::ServerError(error)
                if error.id.is_some() && error.id == i.state.borrow().leave_id =>
            {
                i.state.borrow_mut().leave_id = None;
                i.start.set_disabled(false);
                i.start.set_text_content(Some(s.leave_send));
                i.set_notice(Some(&format!("{}: {}", s.server_error, error.message)));
            }
            Event::ServerError(error) if i.after.failed(error) => {}
            Event::MessageState { id, state, .. } => i.show_delivery(id, *state),
            Event::Typing { active, .. } => {
                let name = i.state.borrow().agent.clone().unwrap_or_default();
                let text = if *active {
                    i.lang.typing(&name)
                } else {
                    String::new()
                };
                i.typing.set_text_content(Some(&text));
            }
            Event::History(events) => i.show_history(events),
            Event::ServerError(error) if error.code == ErrorCode::IdentityRefused => {
                i.set_notice(Some(s.identity_refused));
            }
            Event::ServerError(error) => {
                i.set_notice(Some(&format!("{}: {}", s.server_error, error.message)));
            }
            Event::SessionStarted(_) => i.state.borrow_mut().consented = true,
            Event::Call { event, .. } => i.show_call(event),
            _ => {}
        }
    }

    /// Fills the form's name and email from the website's `identify` where the visitor
    /// has not typed them.
    pub fn prefill(&self, name: Option<&str>, email: Option<&str>) {
        for (input, value) in [(&self.inner.name, name), (&self.inner.email, email)] {
            if let Some(v) = value.filter(|_| input.value().is_empty()) {
                input.set_value(v);
            }
        }
    }

    /// Where the call module mounts its device step and call panel.
    pub fn call_host(&self) -> &Element {
        &self.inner.call_host
    }

    /// The call module shows (`true`) or hid its device step or call panel.
    pub fn set_call_busy(&self, busy: bool) {
        self.inner.state.borrow_mut().call_busy = busy;
        self.inner.update_calls();
    }

    /// A call was placed (or, call-first, waits for an agent): its end gets a line in the
    /// transcript.
    pub fn call_started(&self) {
        let mut st = self.inner.state.borrow_mut();
        st.in_call = true;
        st.explained = false;
    }

    /// Call-first: the device step was cancelled or the start failed; the form shows
    /// again.
    pub fn back_to_form(&self) {
        self.inner.show_state(&VisitorState::Form);
    }

    /// Says in the transcript why the call, or a part of it, failed.
    pub fn call_problem(&self, why: CallFailure) {
        let i = &self.inner;
        if !matches!(why, CallFailure::Screen | CallFailure::Device) {
            i.state.borrow_mut().explained = true;
        }
        i.system_line(i.lang.call_failed(why));
    }

    /// The offline message `id` is on its way (the SDK took it).
    pub fn message_sending(&self, id: MessageId) {
        let i = &self.inner;
        i.state.borrow_mut().leave_id = Some(id);
        i.start.set_disabled(true);
        i.start.set_text_content(Some(i.lang.strings().sending));
    }

    /// Shows a message the visitor just sent, before the server stored it.
    pub fn add_own_message(&self, id: &MessageId, text: &str) {
        self.inner.append_own(id, text, js_sys::Date::now());
    }

    /// Shows why a chat message could not be sent (empty, too long, ...).
    pub fn show_text_error(&self, error: Option<&FieldError>) {
        let i = &self.inner;
        match error {
            Some(e) => {
                i.text_error.set_text_content(Some(&i.lang.field_error(e)));
                show(&i.text_error, true);
                attr(&i.text, "aria-invalid", "true");
            }
            None => {
                show(&i.text_error, false);
                let _ = i.text.remove_attribute("aria-invalid");
            }
        }
    }

    /// Shows an upload's progress (0 to 1), or, with `None`, hides the bar: the upload is
    /// over.
    pub fn upload_progress(&self, fraction: Option<f64>) {
        let i = &self.inner;
        if let Some(f) = fraction {
            // In thousandths: integer formatting.
            let permille = (f.clamp(0.0, 1.0) * 1000.0) as u32;
            attr(&i.progress, "value", &permille.to_string());
        }
        show(&i.progress, fraction.is_some());
        i.attach.set_disabled(fraction.is_some());
    }

    /// The server refused an upload with HTTP `status` (0: no answer): says why under
    /// the message box.
    pub fn upload_failed(&self, status: u16) {
        let i = &self.inner;
        let s = i.lang.strings();
        let text = match status {
            413 => i.too_large(),
            415 => s.file_type.to_owned(),
            _ => s.file_failed.to_owned(),
        };
        i.file_error(&text);
    }

    /// File `id` was fetched: its link and thumbnail show `url` (a `blob:` URL, revoked
    /// on a new chat).
    pub fn file_loaded(&self, id: &AttachmentId, url: &str) {
        let mut st = self.inner.state.borrow_mut();
        st.urls.push(url.to_owned());
        let Some((_, li)) = st.files.iter().find(|(f, _)| f == id) else {
            return;
        };
        if let Ok(Some(a)) = li.query_selector("a") {
            attr(&a, "href", url);
        }
        if let Ok(Some(img)) = li.query_selector("img") {
            attr(&img, "src", url);
        }
    }

    /// Shows (or, with `None`, hides) a notice above everything, such as a refusal.
    pub fn set_notice(&self, text: Option<&str>) {
        self.inner.set_notice(text);
    }

    /// Moves the focus to where the visitor will act next: the name field while the form
    /// shows, the message box during a chat, "new chat" after one.
    pub fn focus_primary(&self) {
        let i = &self.inner;
        let target: &HtmlElement = match i.state.borrow().visitor {
            Some(VisitorState::Form | VisitorState::Starting) => &i.name,
            Some(VisitorState::Queued { .. } | VisitorState::Connected { .. }) => &i.text,
            Some(VisitorState::Ended { .. }) => &i.new_chat,
            _ => return,
        };
        let _ = target.focus();
    }

    /// The transcript Blob behind the end screen's download link, once the chat ended.
    pub fn transcript_blob(&self) -> Option<web_sys::Blob> {
        self.inner.after.blob()
    }

    /// The rating went out as request `id` (its answer comes as an event).
    pub fn rating_sent(&self, id: MessageId) {
        self.inner.after.rating_sent(id);
    }

    /// The transcript email went out as request `id`.
    pub fn email_sent(&self, id: MessageId) {
        self.inner.after.email_sent(id);
    }

    /// The SDK refused the rating (`rating`) or the email request; `why` says why.
    pub fn after_refused(&self, rating: bool, why: &str) {
        self.inner.after.refused(rating, why);
    }

    /// Clears the transcript and the form for a new chat.
    pub fn reset(&self) {
        self.inner.after.reset();
        let i = &self.inner;
        i.log.set_text_content(None);
        i.typing.set_text_content(None);
        i.set_notice(None);
        i.first.set_value("");
        i.consent.set_checked(false);
        show(&i.progress, false);
        i.attach.set_disabled(false);
        let mut st = i.state.borrow_mut();
        for url in st.urls.drain(..) {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        st.files.clear();
        st.own.clear();
        st.agent = None;
        st.visitor = None;
        st.consented = false;
        st.in_call = false;
        st.call_busy = false;
    }
}

impl Inner {
    /// Shows the call buttons the target's configuration allows, while an agent is
    /// there and no call or device step is under way.
    fn update_calls(&self) {
        let st = self.state.borrow();
        let (audio, video) = st
            .config
            .as_ref()
            .map_or((false, false), |c| (c.modalities.audio, c.modalities.video));
        let idle = matches!(st.visitor, Some(VisitorState::Connected { .. }))
            && !st.in_call
            && !st.call_busy;
        show(&self.audio_call, audio);
        show(&self.video_call, video);
        show(&self.calls, idle && (audio || video));
    }

    fn call_button(&self, class: &str) {
        let media = match class {
            "iw-icon iw-call-audio" => CallMedia::Audio,
            "iw-icon iw-call-video" => CallMedia::Video,
            _ => return,
        };
        let remember = self.remember && self.state.borrow().consented;
        (self.on_intent)(Intent::Call {
            media,
            first: None,
            remember,
        });
    }

    fn show_call(&self, event: &CallEvent) {
        if let CallEvent::Ended { reason, by, .. } = event {
            let explained = {
                let mut st = self.state.borrow_mut();
                if !std::mem::take(&mut st.in_call) {
                    return;
                }
                std::mem::take(&mut st.explained)
            };
            if !explained {
                self.system_line(self.lang.call_ended(*reason, *by));
            }
            self.update_calls();
        }
    }

    /// A problem to fix or a refusal (styled and announced as an alert).
    fn set_notice(&self, text: Option<&str>) {
        attr(&self.notice, "role", "alert");
        attr(&self.notice, "data-kind", "problem");
        self.notice.set_text_content(text);
        show(&self.notice, text.is_some());
    }

    /// Information (closed until, nobody there yet, thanks): styled apart from problems
    /// and announced politely.
    fn set_info(&self, text: &str) {
        self.set_notice(Some(text));
        attr(&self.notice, "role", "status");
        attr(&self.notice, "data-kind", "info");
    }

    fn show_config(&self, config: &WidgetConfig) {
        let s = self.lang.strings();
        self.title
            .set_text_content(Some(&config.target.display_name));
        if self.state.borrow().agent.is_none() {
            self.avatar
                .set_text_content(Some(&initials(&config.target.display_name)));
        }
        let m = &config.modalities;
        // Who answers and when: the availability, and the usual wait where known.
        let mut sub = self.lang.availability(config.availability).to_owned();
        if let Some(secs) = config.expected_wait {
            let minutes = secs.div_ceil(60);
            let wait = match minutes {
                0 | 1 => s.wait_minute.to_owned(),
                n => s.wait_minutes.replace("{}", &n.to_string()),
            };
            sub = format!("{sub} \u{b7} {wait}");
        }
        self.subtitle.set_text_content(Some(&sub));
        attr(
            &self.root,
            "data-availability",
            match config.availability {
                Availability::Open => "open",
                Availability::NoAgents => "no-agents",
                Availability::Closed => "closed",
                _ => "unknown",
            },
        );
        if let (Some(color), Some(text)) = (
            config.theme.safe_accent_color(),
            config.theme.accent_text_color(),
        ) {
            let style = self.root.style();
            let _ = style.set_property("--iw-accent", color);
            // A light colour gets dark text (contrast).
            let _ = style.set_property("--iw-accent-text", text);
        }
        self.consent_text
            .set_text_content(Some(&config.privacy.text));
        match config.privacy.safe_url() {
            Some(url) => {
                self.policy.set_href(url);
                show(&self.policy, true);
            }
            None => show(&self.policy, false),
        }
        show(&self.attach, config.attachment_max_bytes.is_some());
        let can_start = config.can_start_chat();
        let leave = config.can_leave_message();
        show(&self.first_audio, m.audio);
        show(&self.first_video, m.video);
        show(&self.first_calls, can_start && (m.audio || m.video));
        {
            let mut st = self.state.borrow_mut();
            st.config = Some(config.clone());
            st.leaving = leave;
        }
        self.update_calls();
        let waiting_for_form = matches!(
            self.state.borrow().visitor,
            None | Some(VisitorState::Form) | Some(VisitorState::Loading)
        );
        if waiting_for_form && self.state.borrow().leave_id.is_none() {
            self.start.set_disabled(!can_start && !leave);
            self.start.set_text_content(Some(self.start_label()));
            self.intro
                .set_text_content(Some(if leave { s.leave_intro } else { s.intro }));
            let label = if leave {
                s.leave_label.to_owned()
            } else {
                format!("{} {}", s.first_message, s.optional)
            };
            self.first_label.set_text_content(Some(&label));
            let closed = config.availability == Availability::Closed;
            let info = match config.opens_at {
                Some(at) if closed => Some(
                    s.closed_until
                        .replace("{}", &local_when(at, self.lang.tag())),
                ),
                _ if leave => Some(self.lang.availability(config.availability).to_owned()),
                _ if can_start && config.availability == Availability::NoAgents => {
                    Some(s.queue_open.to_owned())
                }
                _ => None,
            };
            match info {
                Some(text) => self.set_info(&text),
                None => self.set_notice((!can_start).then_some(s.cannot_start)),
            }
        }
    }

    /// The form's button: Start chat, or Send message for an offline message.
    fn start_label(&self) -> &'static str {
        let s = self.lang.strings();
        if self.state.borrow().leaving {
            s.leave_send
        } else {
            s.start
        }
    }

    /// The offline message was stored: the form gives way to the thanks.
    fn message_left(&self) {
        let email = self.email.value();
        self.state.borrow_mut().leave_id = None;
        show(&self.form, false);
        let s = self.lang.strings();
        self.set_info(&s.left_thanks.replace("{}", email.trim()));
    }

    fn show_state(&self, state: &VisitorState) {
        let s = self.lang.strings();
        let before = self.state.borrow_mut().visitor.replace(state.clone());
        let in_form = matches!(state, VisitorState::Form | VisitorState::Starting);
        let in_chat = matches!(
            state,
            VisitorState::Queued { .. }
                | VisitorState::Connected { .. }
                | VisitorState::Ended { .. }
        );
        show(&self.form, in_form);
        show(&self.chat, in_chat);
        match state {
            VisitorState::Form => {
                self.start.set_text_content(Some(self.start_label()));
                let can_submit = self
                    .state
                    .borrow()
                    .config
                    .as_ref()
                    .is_some_and(|c| c.can_start_chat() || c.can_leave_message());
                self.start.set_disabled(!can_submit);
                if !matches!(before, Some(VisitorState::Form | VisitorState::Starting)) {
                    let _ = self.name.focus();
                    // For performance tools (and the widget benchmark): the form is usable.
                    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
                        let _ = p.mark("interact:form-ready");
                    }
                }
            }
            VisitorState::Starting => {
                self.start.set_disabled(true);
                self.start.set_text_content(Some(s.starting));
            }
            VisitorState::Queued { position } => {
                let text = match position {
                    Some(p) => self.lang.queue_position(*p),
                    None => s.waiting.to_owned(),
                };
                self.queue.set_text_content(Some(&text));
                show(&self.queue, true);
            }
            VisitorState::Connected { agent } => {
                show(&self.queue, false);
                self.state.borrow_mut().agent = Some(agent.display_name.clone());
            }
            VisitorState::Ended { reason } => {
                show(&self.queue, false);
                self.typing.set_text_content(None);
                self.ended_text
                    .set_text_content(Some(self.lang.ended(*reason)));
                self.after.ended(self.state.borrow().config.as_ref());
            }
            _ => {}
        }
        let ended = matches!(state, VisitorState::Ended { .. });
        if ended {
            self.state.borrow_mut().in_call = false;
        }
        self.update_calls();
        show(&self.compose, in_chat && !ended);
        show(&self.more, in_chat && !ended);
        if ended {
            self.set_menu(false);
        }
        show(&self.ended, ended);
        if in_chat
            && !ended
            && !matches!(
                before,
                Some(VisitorState::Queued { .. } | VisitorState::Connected { .. })
            )
        {
            self.set_notice(None);
            let _ = self.text.focus();
        }
        if ended && !matches!(before, Some(VisitorState::Ended { .. })) {
            let _ = self.new_chat.focus();
        }
    }

    /// Hides the error of the form field whose control is `control`, if it shows one.
    fn clear_field_error(&self, control: &Element) {
        if let Some((_, f)) = self.fields.iter().find(|(_, f)| f.control == *control) {
            show(&f.error, false);
            let _ = f.control.remove_attribute("aria-invalid");
        }
    }

    fn show_form_errors(&self, errors: &FormErrors) {
        let mut first_bad = None;
        for (field, f) in &self.fields {
            match errors.get(*field) {
                Some(e) => {
                    f.error.set_text_content(Some(&self.lang.field_error(e)));
                    show(&f.error, true);
                    attr(&f.control, "aria-invalid", "true");
                    attr(&f.control, "aria-describedby", &f.error.id());
                    first_bad.get_or_insert(f.control.clone());
                }
                None => {
                    show(&f.error, false);
                    let _ = f.control.remove_attribute("aria-invalid");
                }
            }
        }
        if let Some(control) = first_bad.and_then(|c| c.dyn_into::<HtmlElement>().ok()) {
            let _ = control.focus();
        }
    }

    /// Call-first: checks the form as Start does, then opens the device step for the call.
    fn submit_call(&self, media: CallMedia) {
        let Some(form) = self.checked_form() else {
            return;
        };
        show(&self.form, false);
        show(&self.chat, true);
        show(&self.compose, false);
        show(&self.end, false);
        show(&self.queue, false);
        (self.on_intent)(Intent::Call {
            media,
            first: Some(form),
            remember: false,
        });
    }

    /// The form as entered if it passes the SDK's checks, else `None` with the errors
    /// shown next to the fields.
    fn checked_form(&self) -> Option<PreChatForm> {
        let version = self
            .state
            .borrow()
            .config
            .as_ref()
            .map(|c| c.privacy.version.clone())?;
        let first = self.first.value();
        let form = PreChatForm {
            display_name: self.name.value(),
            email: self.email.value(),
            consent: self.consent.checked().then(|| version.clone()),
            first_message: (!is_blank(&first)).then_some(first),
        };
        let checked = if self.state.borrow().leaving {
            form.validate_offline(&version)
        } else {
            form.validate(&version)
        };
        match checked {
            Ok(_) => {
                self.show_form_errors(&FormErrors::default());
                Some(form)
            }
            Err(errors) => {
                self.show_form_errors(&errors);
                None
            }
        }
    }

    fn submit_form(&self) {
        if let Some(form) = self.checked_form() {
            let leaving = self.state.borrow().leaving;
            (self.on_intent)(if leaving {
                Intent::LeaveMessage(form)
            } else {
                Intent::StartChat(form)
            });
        }
    }

    fn submit_message(&self) {
        let text = self.text.value();
        if is_blank(&text) {
            return;
        }
        if let Err(e) = interact_sdk::form::validate_text(&text) {
            show(&self.text_error, true);
            self.text_error
                .set_text_content(Some(&self.lang.field_error(&e)));
            return;
        }
        show(&self.text_error, false);
        self.text.set_value("");
        (self.on_intent)(Intent::Typing(false));
        (self.on_intent)(Intent::Send(text));
    }

    /// The visitor chose a file: too large for the configuration's limit is refused
    /// here; anything else goes to the server, which decides.
    fn file_chosen(&self) {
        let Some(file) = self.file.files().and_then(|l| l.get(0)) else {
            return;
        };
        self.file.set_value("");
        let max = self
            .state
            .borrow()
            .config
            .as_ref()
            .and_then(|c| c.attachment_max_bytes);
        let Some(max) = max else { return };
        if file.size() > max as f64 {
            self.file_error(&self.too_large());
            return;
        }
        show(&self.text_error, false);
        (self.on_intent)(Intent::Attach(file));
    }

    /// "Too large" with the configuration's limit.
    fn too_large(&self) -> String {
        let max = self
            .state
            .borrow()
            .config
            .as_ref()
            .and_then(|c| c.attachment_max_bytes)
            .unwrap_or(0);
        format!(
            "{} {}.",
            self.lang.strings().file_too_large,
            interact_sdk::transcript::file_size(max)
        )
    }

    /// Shows why a file was not sent, under the message box.
    fn file_error(&self, text: &str) {
        self.text_error.set_text_content(Some(text));
        show(&self.text_error, true);
        let _ = self.attach.focus();
    }

    /// A file in the transcript: a thumbnail for an image, else a link with its name and
    /// size; both filled in once the file is fetched ([`View::file_loaded`]).
    fn show_file(
        &self,
        id: &AttachmentId,
        from: Party,
        author: Option<&str>,
        name: &str,
        mime: &str,
        size: u64,
    ) {
        let own = from == Party::Visitor;
        let li = child(
            &self.log,
            "li",
            if own {
                "iw-msg iw-own iw-filemsg"
            } else {
                "iw-msg iw-agent iw-filemsg"
            },
        );
        if !own {
            let name = author
                .map(str::to_owned)
                .or_else(|| self.state.borrow().agent.clone())
                .unwrap_or_default();
            text_child(&li, "span", "iw-author", &name);
        }
        let link: HtmlAnchorElement = typed(&li, "a", "iw-filelink");
        link.set_download(name);
        let label = format!("{name} ({})", interact_sdk::transcript::file_size(size));
        if mime.starts_with("image/") {
            let img = child(&link, "img", "iw-thumb");
            attr(&img, "alt", &label);
        } else {
            text_child(&link, "span", "", &label);
        }
        put(&mut self.state.borrow_mut().files, id, li);
        self.scroll();
        (self.on_intent)(Intent::LoadFile(id.clone()));
    }

    fn show_timeline(&self, frame: &interact_sdk::protocol::EventFrame) {
        let at = frame.at.0 as f64;
        match &frame.event {
            SessionEvent::Attachment {
                id,
                from,
                author,
                name,
                mime,
                size,
            } => self.show_file(id, *from, author.as_deref(), name, mime, *size),
            SessionEvent::Message {
                id,
                from,
                author,
                text,
            } => {
                if *from == Party::Visitor {
                    if self.state.borrow().own.iter().any(|(m, _)| m == id) {
                        return;
                    }
                    self.append_own(id, text, at);
                    self.show_delivery(id, DeliveryState::Sent);
                    return;
                }
                let name = match (from, author) {
                    (_, Some(a)) => a.clone(),
                    (Party::Agent, None) => self.state.borrow().agent.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                let kind = if *from == Party::Agent {
                    "iw-msg iw-agent"
                } else {
                    "iw-msg iw-system"
                };
                let li = child(&self.log, "li", kind);
                if !name.is_empty() {
                    text_child(&li, "span", "iw-author", &name);
                }
                text_child(&li, "p", "iw-text", text);
                let meta = child(&li, "span", "iw-meta");
                time_child(&meta, at, self.lang.tag());
                self.typing.set_text_content(None);
                self.scroll();
            }
            SessionEvent::AgentJoined { agent } => {
                self.state.borrow_mut().agent = Some(agent.display_name.clone());
                self.avatar
                    .set_text_content(Some(&initials(&agent.display_name)));
                self.system_line(&self.lang.joined(&agent.display_name));
            }
            SessionEvent::AgentLeft { agent } => {
                self.system_line(&self.lang.left(&agent.display_name));
            }
            SessionEvent::Transferred { to, .. } => {
                self.system_line(&self.lang.transferred(&to.display_name));
            }
            SessionEvent::Ended { reason } => self.system_line(self.lang.ended(*reason)),
            _ => {}
        }
    }

    /// A verified visitor's earlier conversations (the `history` frame's messages, the
    /// newest conversation first), each a `<details>` (the newest open) with its date and
    /// messages, as text.
    fn show_history(&self, events: &[EventFrame]) {
        let h = &self.history;
        h.set_text_content(None);
        show(h, !events.is_empty());
        if events.is_empty() {
            return;
        }
        text_child(h, "h2", "iw-history-title", self.lang.strings().history);
        let mut list: Option<(&SessionId, Element)> = None;
        for e in events {
            let SessionEvent::Message {
                from, author, text, ..
            } = &e.event
            else {
                continue;
            };
            if list.as_ref().is_none_or(|(s, _)| *s != &e.session) {
                let past = child(h, "details", "iw-past");
                if list.is_none() {
                    attr(&past, "open", "");
                }
                // Milliseconds since 1970 are exact in an f64 for 285,000 years.
                let date = js_sys::Date::new(&JsValue::from_f64(e.at.0 as f64));
                let when: String = date
                    .to_locale_string(self.lang.tag(), &JsValue::UNDEFINED)
                    .into();
                text_child(&past, "summary", "", &when);
                list = Some((&e.session, child(&past, "ol", "iw-log")));
            }
            let Some((_, ol)) = &list else { continue };
            let class = match from {
                Party::Visitor => "iw-msg iw-own",
                Party::Agent => "iw-msg iw-agent",
                _ => "iw-msg iw-system",
            };
            let li = child(ol, "li", class);
            if let Some(author) = author.as_deref().filter(|a| !a.is_empty()) {
                text_child(&li, "span", "iw-author", author);
            }
            text_child(&li, "p", "iw-text", text);
        }
    }

    fn system_line(&self, text: &str) {
        text_child(&self.log, "li", "iw-event", text);
        self.scroll();
    }

    /// One of the visitor's own messages: no name on the bubble (only for screen
    /// readers), its time and a tick for how far it got (the state's word for screen
    /// readers).
    fn append_own(&self, id: &MessageId, text: &str, at: f64) {
        let s = self.lang.strings();
        let li = child(&self.log, "li", "iw-msg iw-own");
        text_child(&li, "span", "iw-sr", s.you);
        text_child(&li, "p", "iw-text", text);
        let meta = child(&li, "span", "iw-meta");
        time_child(&meta, at, self.lang.tag());
        let tick = child(&meta, "span", "iw-tick");
        attr(&tick, "aria-hidden", "true");
        let state = text_child(
            &meta,
            "span",
            "iw-state iw-sr",
            self.lang.delivery(DeliveryState::Pending),
        );
        attr(&li, "data-state", "pending");
        put(&mut self.state.borrow_mut().own, id, state);
        self.scroll();
    }

    /// Opens or closes the header's menu.
    fn set_menu(&self, open: bool) {
        show(&self.menu, open);
        attr(
            &self.more,
            "aria-expanded",
            if open { "true" } else { "false" },
        );
        if open {
            let _ = self.end.focus();
        }
    }

    fn show_delivery(&self, id: &MessageId, state: DeliveryState) {
        let st = self.state.borrow();
        let Some((_, meta)) = st.own.iter().find(|(m, _)| m == id) else {
            return;
        };
        meta.set_text_content(Some(self.lang.delivery(state)));
        if let Some(li) = meta.parent_element().and_then(|m| m.parent_element()) {
            attr(&li, "data-state", state.as_str());
        }
    }

    fn scroll(&self) {
        self.log.set_scroll_top(self.log.scroll_height());
    }
}

/// The button a click landed on (or inside), for listeners that serve several buttons.
fn clicked_button(e: &web_sys::Event) -> Option<Element> {
    e.target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|t| t.closest("button").ok().flatten())
}

/// `at` in the visitor's time zone and language: the time alone if it is today, else the
/// weekday and time ("Monday 09:00"), with the date when it is more than six days away.
fn local_when(at: interact_sdk::time::UnixMillis, lang: &str) -> String {
    #[allow(clippy::cast_precision_loss)] // Milliseconds until the year 287396 are exact.
    let ms = at.0 as f64;
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let now = js_sys::Date::new_0();
    let options = js_sys::Object::new();
    let set = |k: &str, v: &str| {
        let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
    };
    if now.to_date_string() != date.to_date_string() {
        set("weekday", "long");
        if ms - now.get_time() > 6.0 * 86_400_000.0 {
            set("day", "numeric");
            set("month", "long");
        }
    }
    set("hour", "2-digit");
    set("minute", "2-digit");
    date.to_locale_string(lang, &options).into()
}

/// A `<time>` of `at` (milliseconds) in `parent`: the local hour and minute, with the full
/// date and time as its `datetime`.
fn time_child(parent: &Element, at: f64, lang: &str) {
    let date = js_sys::Date::new(&JsValue::from_f64(at));
    let options = js_sys::Object::new();
    for k in ["hour", "minute"] {
        let _ = js_sys::Reflect::set(&options, &k.into(), &"2-digit".into());
    }
    let text: String = date
        .to_locale_time_string_with_options(lang, &options)
        .into();
    let t = text_child(parent, "time", "", &text);
    attr(&t, "datetime", &String::from(date.to_iso_string()));
}

/// Up to two initials of a name, for the header ("Customer Care" gives "CC"): of each
/// word, its first letter or digit, upper-cased.
///
/// With the page's Unicode tables (a regular expression and `toUpperCase`): Rust's
/// tables for `char::is_alphanumeric` and `char::to_uppercase` would add about 18 KB to
/// the module every visitor loads.
fn initials(name: &str) -> String {
    let word = js_sys::RegExp::new(r"(?:^|\s)\S*?([\p{Alphabetic}\p{N}])", "gu");
    let mut out = String::new();
    for _ in 0..2 {
        let Some(found) = word.exec(name) else {
            break;
        };
        out.push_str(&String::from(found.get(1).to_upper_case()));
    }
    out
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn initials_are_the_first_letter_or_digit_of_the_first_two_words() {
        for (name, expected) in [
            ("Customer Care", "CC"),
            ("alex", "A"),
            ("élodie  (ops) team", "ÉO"),
            ("🙂 ana 2nd", "A2"),
            ("straße x", "SX"),
            ("ßa b", "SSB"),
            ("李 小龙", "李小"),
            ("-- ..", ""),
            ("", ""),
        ] {
            assert_eq!(super::initials(name), expected, "{name:?}");
        }
    }
}

/// Sets `key`'s entry of a list used as a small map.
fn put<K: PartialEq + Clone>(list: &mut Vec<(K, Element)>, key: &K, value: Element) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => list.push((key.clone(), value)),
    }
}
