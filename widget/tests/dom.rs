//! The widget's DOM in headless Chromium, without a server: the view is mounted into a
//! fresh element, fed the SDK's events, clicked and typed into, and checked for what a
//! visitor would see and what it asks the driver to do.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use interact_sdk::client::{DeliveryState, Event};
use interact_sdk::config::{Availability, PrivacyPolicy, Target, TargetKind, Theme, WidgetConfig};
use interact_sdk::form::{Field, FieldError, FieldProblem, FormErrors, PreChatForm};
use interact_sdk::ids::{AgentId, AttachmentId, MessageId, Seq, SessionId};
use interact_sdk::modality::{Modalities, Modality};
use interact_sdk::protocol::{AgentInfo, EndReason, EventFrame, Party, SessionEvent};
use interact_sdk::time::UnixMillis;
use interact_sdk::{LinkState, VisitorState};
use interact_widget::i18n::Lang;
use interact_widget::view::{Intent, View, ViewOptions};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    Element, HtmlButtonElement, HtmlElement, HtmlInputElement, HtmlTextAreaElement, KeyboardEvent,
    KeyboardEventInit,
};

wasm_bindgen_test_configure!(run_in_browser);

const HOSTILE_NAME: &str = "<img src=x onerror=\"document.body.dataset.pwned=1\">Eve";
const HOSTILE_TEXT: &str = "<script>document.body.dataset.pwned=2</script><b>bold?</b> & </li>";

/// A mounted view and the intents it reported.
struct Harness {
    view: View,
    host: Element,
    intents: Rc<RefCell<Vec<Intent>>>,
}

impl Harness {
    fn mount(lang: Lang) -> Self {
        let document = web_sys::window().unwrap().document().unwrap();
        let host = document.create_element("div").unwrap();
        document.body().unwrap().append_child(&host).unwrap();
        let intents = Rc::new(RefCell::new(Vec::new()));
        let sink = intents.clone();
        let view = View::mount(
            &host,
            ViewOptions {
                lang,
                minimizable: true,
                remember: true,
            },
            Rc::new(move |i| sink.borrow_mut().push(i)),
        );
        Self {
            view,
            host,
            intents,
        }
    }

    /// Mounted with a configuration and the form showing.
    fn with_form() -> Self {
        let h = Self::mount(Lang::EN);
        h.view.handle(&Event::Link(LinkState::Online));
        h.view.handle(&Event::Config(config(Availability::Open)));
        h.view.handle(&Event::State(VisitorState::Form));
        h
    }

    fn find(&self, selector: &str) -> Element {
        self.host
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("{selector} is not in the widget"))
    }

    fn input(&self, selector: &str) -> HtmlInputElement {
        self.find(selector).dyn_into().unwrap()
    }

    fn text(&self, selector: &str) -> String {
        self.find(selector).text_content().unwrap_or_default()
    }

    fn visible(&self, selector: &str) -> bool {
        let e = self.find(selector);
        !e.has_attribute("hidden")
            && e.dyn_ref::<HtmlElement>()
                .unwrap()
                .offset_parent()
                .is_some()
    }

    fn click(&self, selector: &str) {
        self.find(selector)
            .dyn_into::<HtmlElement>()
            .unwrap()
            .click();
    }

    fn take_intents(&self) -> Vec<Intent> {
        std::mem::take(&mut *self.intents.borrow_mut())
    }

    fn key(&self, selector: &str, key: &str, shift: bool) {
        let init = KeyboardEventInit::new();
        init.set_key(key);
        init.set_shift_key(shift);
        init.set_bubbles(true);
        init.set_cancelable(true);
        let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        self.find(selector).dispatch_event(&event).unwrap();
    }

    fn focused_id(&self) -> String {
        web_sys::window()
            .unwrap()
            .document()
            .unwrap()
            .active_element()
            .map(|e| e.id())
            .unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.host.remove();
    }
}

fn config(availability: Availability) -> WidgetConfig {
    WidgetConfig {
        target: Target {
            kind: TargetKind::Service,
            display_name: "Customer <Care>".into(),
        },
        modalities: Modalities::CHAT_ONLY,
        privacy: PrivacyPolicy {
            url: "https://example.com/privacy".into(),
            text: "I agree to <the> policy.".into(),
            version: "v7".into(),
        },
        availability,
        theme: Theme::default(),
        languages: vec!["en".into()],
        transcript_email: false,
        opens_at: None,
        queue_when_unavailable: false,
        expected_wait: None,
        offline_messages: false,
        attachment_max_bytes: None,
    }
}

fn timeline(seq: u64, event: SessionEvent) -> Event {
    Event::Timeline(Box::new(EventFrame {
        session: SessionId::new("s1").unwrap(),
        seq: Seq(seq),
        at: UnixMillis(1_700_000_000_000),
        event,
    }))
}

fn agent(name: &str) -> AgentInfo {
    AgentInfo {
        id: AgentId::new("a1").unwrap(),
        display_name: name.into(),
    }
}

fn connected(h: &Harness, name: &str) {
    h.view
        .handle(&Event::State(VisitorState::Queued { position: Some(2) }));
    h.view.handle(&timeline(
        2,
        SessionEvent::AgentJoined { agent: agent(name) },
    ));
    h.view.handle(&Event::State(VisitorState::Connected {
        agent: agent(name),
    }));
}

#[wasm_bindgen_test]
fn the_header_shows_target_and_availability_as_text() {
    let h = Harness::with_form();
    assert_eq!(h.text(".iw-title"), "Customer <Care>");
    assert_eq!(h.text(".iw-sub"), "Available");
    assert_eq!(
        h.find(".iw-consent label").text_content().unwrap(),
        "I agree to <the> policy."
    );
    assert_eq!(
        h.find(".iw-policy").get_attribute("href").as_deref(),
        Some("https://example.com/privacy")
    );
    assert!(h.visible(".iw-form"));
    assert!(!h.visible(".iw-chat"));
}

#[wasm_bindgen_test]
fn an_empty_form_shows_every_error_next_to_its_field_and_sends_nothing() {
    let h = Harness::with_form();
    h.click(".iw-start");
    assert!(h.take_intents().is_empty(), "nothing may be sent");
    for (field, text) in [
        ("name", "Please fill this in."),
        ("email", "Please fill this in."),
        (
            "consent",
            "Please accept the privacy policy to start a chat.",
        ),
    ] {
        let control = h.find(&format!("[id$='-{field}']"));
        assert_eq!(
            control.get_attribute("aria-invalid").as_deref(),
            Some("true"),
            "{field}"
        );
        let error_id = control.get_attribute("aria-describedby").unwrap();
        let error = h.find(&format!("#{error_id}"));
        assert!(!error.has_attribute("hidden"), "{field} error shown");
        assert_eq!(error.text_content().unwrap(), text);
    }
    assert!(
        h.focused_id().ends_with("-name"),
        "focus moves to the first bad field"
    );
}

#[wasm_bindgen_test]
fn a_bad_email_is_refused_then_a_valid_form_is_sent_with_the_policy_version() {
    let h = Harness::with_form();
    h.input("[id$='-name']").set_value("  Ann  ");
    h.input("[id$='-email']").set_value("ann@");
    h.input("[id$='-consent']").set_checked(true);
    h.click(".iw-start");
    assert!(h.take_intents().is_empty());
    assert_eq!(
        h.find("[id$='-email']")
            .get_attribute("aria-invalid")
            .as_deref(),
        Some("true")
    );
    assert!(
        h.find("[id$='-name']")
            .get_attribute("aria-invalid")
            .is_none()
    );

    h.input("[id$='-email']").set_value("ann@example.com");
    h.find("[id$='-first']")
        .dyn_into::<HtmlTextAreaElement>()
        .unwrap()
        .set_value("Hello");
    h.click(".iw-start");
    assert_eq!(
        h.take_intents(),
        vec![Intent::StartChat(PreChatForm {
            display_name: "  Ann  ".into(),
            email: "ann@example.com".into(),
            consent: Some("v7".into()),
            first_message: Some("Hello".into()),
        })]
    );
    assert!(
        h.find("[id$='-email']")
            .get_attribute("aria-invalid")
            .is_none()
    );
}

/// Types `value` into the control at `selector` as a visitor would (an `input` event
/// that bubbles).
fn type_value(h: &Harness, selector: &str, value: &str) {
    let e = h.find(selector);
    js_sys::Reflect::set(&e, &"value".into(), &value.into()).unwrap();
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    let input = web_sys::Event::new_with_event_init_dict("input", &init).unwrap();
    e.dispatch_event(&input).unwrap();
}

#[wasm_bindgen_test]
fn invisible_names_and_quoted_emails_are_refused_and_stale_errors_clear() {
    let h = Harness::with_form();
    // Only a zero-width space and a word joiner: nothing an agent could read.
    h.input("[id$='-name']").set_value("\u{200b}\u{2060}");
    // The HTML standard's e-mail rule has no quoted local parts (nor has Chromium's).
    h.input("[id$='-email']")
        .set_value("\"quoted\"@example.com");
    h.input("[id$='-consent']").set_checked(true);
    h.click(".iw-start");
    assert!(h.take_intents().is_empty());
    assert!(h.visible("[id$='-name-error']"));
    assert!(h.visible("[id$='-email-error']"));
    // Editing the name clears its error (about the old value), not the e-mail's.
    type_value(&h, "[id$='-name']", "Ann");
    assert!(!h.visible("[id$='-name-error']"));
    assert!(
        h.find("[id$='-name']")
            .get_attribute("aria-invalid")
            .is_none()
    );
    assert!(h.visible("[id$='-email-error']"));
    type_value(&h, "[id$='-email']", "ann@example.com");
    assert!(!h.visible("[id$='-email-error']"));
    h.click(".iw-start");
    assert_eq!(h.take_intents().len(), 1);

    // In the chat: a refused long message's error goes once the box changes.
    h.view
        .handle(&Event::State(VisitorState::Queued { position: None }));
    type_value(&h, "[id$='-text']", &"x".repeat(4001));
    h.click(".iw-send");
    assert!(h.visible("[id$='-text-error']"));
    type_value(&h, "[id$='-text']", "");
    assert!(!h.visible("[id$='-text-error']"), "no stale error");
    // A message of invisible characters is not sent (as an empty one).
    type_value(&h, "[id$='-text']", "\u{200b}\u{feff}");
    h.click(".iw-send");
    assert!(
        h.take_intents()
            .iter()
            .all(|i| !matches!(i, Intent::Send(_))),
        "nothing sent"
    );
    assert!(!h.visible("[id$='-text-error']"));
}

#[wasm_bindgen_test]
fn the_servers_verdict_is_shown_the_same_way() {
    let h = Harness::with_form();
    h.view.handle(&Event::State(VisitorState::Starting));
    let start = h.find(".iw-start").dyn_into::<HtmlButtonElement>().unwrap();
    assert!(start.disabled(), "no double submit while starting");
    h.view.handle(&Event::FormRejected(FormErrors {
        fields: vec![FieldProblem {
            field: Field::Consent,
            error: FieldError::ConsentOutdated {
                current: "v8".into(),
            },
        }],
    }));
    let consent = h.find("[id$='-consent']");
    assert_eq!(
        consent.get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    assert_eq!(
        h.text("[id$='-consent-error']"),
        "The privacy policy has changed. Please read and accept version v8."
    );
    assert!(!start.disabled(), "the visitor can try again");
}

#[wasm_bindgen_test]
fn a_closed_target_says_so_and_cannot_be_started() {
    let h = Harness::mount(Lang::EN);
    h.view
        .handle(&Event::Config(config(Availability::NoAgents)));
    h.view.handle(&Event::State(VisitorState::Form));
    assert!(
        h.find(".iw-start")
            .dyn_into::<HtmlButtonElement>()
            .unwrap()
            .disabled()
    );
    assert_eq!(h.text(".iw-notice"), "A chat cannot be started right now.");
    assert_eq!(
        h.find(".iw-notice").get_attribute("role").as_deref(),
        Some("alert")
    );
    assert!(
        h.text(".iw-sub")
            .starts_with("No one is available right now")
    );
}

#[wasm_bindgen_test]
fn closed_shows_the_next_opening_and_takes_a_message_instead() {
    let h = Harness::mount(Lang::EN);
    h.view.handle(&Event::Link(LinkState::Online));
    let mut c = config(Availability::Closed);
    c.offline_messages = true;
    // Tomorrow at this hour, and so another day than today.
    let now = js_sys::Date::now() as u64;
    c.opens_at = Some(UnixMillis(now + 86_400_000));
    h.view.handle(&Event::Config(c));
    h.view.handle(&Event::State(VisitorState::Form));
    let notice = h.text(".iw-notice");
    let tomorrow = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64((now + 86_400_000) as f64));
    let weekday = String::from(tomorrow.to_locale_date_string("en", &{
        let o = js_sys::Object::new();
        js_sys::Reflect::set(&o, &"weekday".into(), &"long".into()).unwrap();
        o.into()
    }));
    assert!(notice.starts_with("We are closed. Back "), "{notice}");
    // Information, not a problem: told politely and styled apart.
    let n = h.find(".iw-notice");
    assert_eq!(n.get_attribute("role").as_deref(), Some("status"));
    assert_eq!(n.get_attribute("data-kind").as_deref(), Some("info"));
    assert!(notice.contains(&weekday), "{notice} names {weekday}");
    assert_eq!(
        h.text(".iw-intro"),
        "Leave us a message and we will answer by email."
    );
    assert_eq!(h.text("label[for$='-first']"), "Your message");
    let start: HtmlButtonElement = h.find(".iw-start").dyn_into().unwrap();
    assert!(!start.disabled());
    assert_eq!(start.text_content().as_deref(), Some("Send message"));
    assert!(
        !h.visible(".iw-first"),
        "no call-first buttons while closed"
    );

    // The message is required here.
    h.input("[id$='-name']").set_value("Vera");
    h.input("[id$='-email']").set_value("vera@example.com");
    h.input("[id$='-consent']").set_checked(true);
    h.click(".iw-start");
    assert!(h.take_intents().is_empty());
    assert_eq!(h.text("[id$='-first-error']"), "Please fill this in.");
    h.find("[id$='-first']")
        .dyn_into::<HtmlTextAreaElement>()
        .unwrap()
        .set_value("Please call me back");
    h.click(".iw-start");
    let form = PreChatForm {
        display_name: "Vera".into(),
        email: "vera@example.com".into(),
        consent: Some("v7".into()),
        first_message: Some("Please call me back".into()),
    };
    assert_eq!(h.take_intents(), vec![Intent::LeaveMessage(form)]);

    // On its way, then stored: the thanks replace the form.
    let id = MessageId::new("m-left").unwrap();
    h.view.message_sending(id.clone());
    assert!(start.disabled());
    assert_eq!(start.text_content().as_deref(), Some("Sending…"));
    h.view.handle(&Event::Done(id));
    assert!(!h.visible(".iw-form"));
    assert_eq!(
        h.text(".iw-notice"),
        "Thank you! We will answer by email at vera@example.com."
    );
}

#[wasm_bindgen_test]
fn nobody_available_lets_the_visitor_queue_and_says_the_usual_wait() {
    let h = Harness::mount(Lang::DE);
    let mut c = config(Availability::NoAgents);
    c.queue_when_unavailable = true;
    c.offline_messages = true;
    c.expected_wait = Some(150);
    h.view.handle(&Event::Config(c));
    h.view.handle(&Event::State(VisitorState::Form));
    let start: HtmlButtonElement = h.find(".iw-start").dyn_into().unwrap();
    assert!(!start.disabled(), "a chat can start and wait");
    assert_eq!(start.text_content().as_deref(), Some("Chat starten"));
    assert_eq!(
        h.text(".iw-sub"),
        "Gerade ist niemand erreichbar \u{b7} Antwortet meist in etwa 3 Minuten"
    );
    assert!(
        h.text(".iw-notice")
            .starts_with("Gerade ist niemand erreichbar. Starten Sie")
    );
}

#[wasm_bindgen_test]
fn the_header_has_initials_icon_calls_and_a_menu_with_end_chat() {
    let h = Harness::mount(Lang::EN);
    let mut c = config(Availability::Open);
    c.modalities = Modalities::new([Modality::Chat, Modality::Audio, Modality::Video]);
    h.view.handle(&Event::Config(c));
    h.view.handle(&Event::State(VisitorState::Form));
    assert_eq!(h.text(".iw-avatar"), "CC", "the target's initials");
    assert!(!h.visible(".iw-more"), "no menu before the chat");
    connected(&h, "alex agent");
    assert_eq!(h.text(".iw-avatar"), "AA", "the agent's initials");
    // The call buttons are icons in the header, named for screen readers.
    for (sel, name) in [
        (".iw-call-audio", "Audio call"),
        (".iw-call-video", "Video call"),
    ] {
        let b = h.find(&format!(".iw-head {sel}"));
        assert_eq!(b.get_attribute("aria-label").as_deref(), Some(name));
        assert_eq!(b.text_content().as_deref(), Some(""));
        assert!(h.visible(sel));
    }
    // End chat is in the menu: closed, opened, chosen.
    assert!(h.visible(".iw-more"));
    assert!(!h.visible(".iw-end"));
    h.click(".iw-more");
    assert!(h.visible(".iw-end"));
    assert_eq!(
        h.find(".iw-more").get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    h.key(".iw-end", "Escape", false);
    assert!(!h.visible(".iw-end"), "Escape closes the menu");
    assert!(h.take_intents().is_empty(), "and does not minimise");
    h.click(".iw-more");
    h.click(".iw-end");
    assert_eq!(h.take_intents(), vec![Intent::End]);
    assert!(!h.visible(".iw-end"));
    // Bubbles: no "You" to see, a time each.
    let id = MessageId::new("v-9").unwrap();
    h.view.add_own_message(&id, "Hello");
    let own = h.find(".iw-own");
    assert_eq!(
        own.query_selector(".iw-sr")
            .unwrap()
            .unwrap()
            .text_content()
            .as_deref(),
        Some("You")
    );
    let shown = own
        .query_selector("time")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(
        shown.contains(':') && shown.len() <= 8,
        "a local time: {shown}"
    );
    h.view.handle(&timeline(
        3,
        SessionEvent::Message {
            id: MessageId::new("a-1").unwrap(),
            from: Party::Agent,
            author: Some("Alex".into()),
            text: "Hi".into(),
        },
    ));
    let time = h.find(".iw-agent time");
    assert_eq!(
        time.get_attribute("datetime").as_deref(),
        Some("2023-11-14T22:13:20.000Z")
    );
}

#[wasm_bindgen_test]
fn hostile_names_and_messages_are_shown_as_text() {
    let h = Harness::with_form();
    connected(&h, HOSTILE_NAME);
    h.view.handle(&timeline(
        3,
        SessionEvent::Message {
            id: MessageId::new("m1").unwrap(),
            from: Party::Agent,
            author: Some(HOSTILE_NAME.into()),
            text: HOSTILE_TEXT.into(),
        },
    ));
    h.view.handle(&Event::Typing {
        session: None,
        active: true,
    });
    let root = h.view.root();
    assert_eq!(
        root.query_selector_all("img, script, b").unwrap().length(),
        0,
        "no markup from the agent's name or text became elements"
    );
    let body = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap();
    assert!(body.get_attribute("data-pwned").is_none(), "no script ran");
    let agent_msg = h.find(".iw-agent");
    assert_eq!(h.text(".iw-agent .iw-author"), HOSTILE_NAME);
    assert_eq!(h.text(".iw-agent .iw-text"), HOSTILE_TEXT);
    // Author, text, and the time: nothing else.
    assert_eq!(agent_msg.child_element_count(), 3);
    assert!(
        agent_msg
            .query_selector(".iw-meta > time")
            .unwrap()
            .is_some()
    );
    assert_eq!(h.text(".iw-typing"), format!("{HOSTILE_NAME} is typing…"));
    let joined = h.find(".iw-event");
    assert_eq!(
        joined.text_content().unwrap(),
        format!("{HOSTILE_NAME} joined the chat.")
    );
    assert_eq!(joined.child_element_count(), 0);
}

#[wasm_bindgen_test]
fn own_messages_show_their_delivery_state_and_appear_once() {
    let h = Harness::with_form();
    connected(&h, "Alex");
    let id = MessageId::new("v-1").unwrap();
    h.view.add_own_message(&id, "Hi <there>");
    let own = h.find(".iw-own");
    assert_eq!(own.get_attribute("data-state").as_deref(), Some("pending"));
    assert_eq!(h.text(".iw-own .iw-state"), "Sending…");
    // The server's copy of the same message arrives in the timeline: not shown twice.
    h.view.handle(&timeline(
        4,
        SessionEvent::Message {
            id: id.clone(),
            from: Party::Visitor,
            author: None,
            text: "Hi <there>".into(),
        },
    ));
    h.view.handle(&Event::MessageState {
        session: None,
        id: id.clone(),
        state: DeliveryState::Read,
    });
    assert_eq!(
        h.view
            .root()
            .query_selector_all(".iw-own")
            .unwrap()
            .length(),
        1
    );
    assert_eq!(own.get_attribute("data-state").as_deref(), Some("read"));
    assert_eq!(h.text(".iw-own .iw-state"), "Read");
    assert_eq!(h.text(".iw-own .iw-text"), "Hi <there>");
}

#[wasm_bindgen_test]
fn a_replayed_transcript_shows_every_message_once() {
    // After a reload the driver replays the session from seq 1: own messages arrive
    // only from the timeline.
    let h = Harness::with_form();
    connected(&h, "Alex");
    for (seq, id, from, text) in [
        (3, "v-1", Party::Visitor, "first"),
        (4, "a-1", Party::Agent, "answer"),
        (5, "v-2", Party::Visitor, "second"),
    ] {
        h.view.handle(&timeline(
            seq,
            SessionEvent::Message {
                id: MessageId::new(id).unwrap(),
                from,
                author: None,
                text: text.into(),
            },
        ));
    }
    let texts: Vec<String> = {
        let list = h
            .view
            .root()
            .query_selector_all(".iw-msg .iw-text")
            .unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().text_content().unwrap())
            .collect()
    };
    assert_eq!(texts, ["first", "answer", "second"]);
    assert_eq!(h.text(".iw-agent .iw-author"), "Alex");
}

#[wasm_bindgen_test]
fn the_keyboard_drives_the_chat() {
    let h = Harness::with_form();
    connected(&h, "Alex");
    assert!(
        h.focused_id().ends_with("-text"),
        "the message box has the focus"
    );
    let text = h
        .find("[id$='-text']")
        .dyn_into::<HtmlTextAreaElement>()
        .unwrap();

    text.set_value("line one");
    h.key("[id$='-text']", "Enter", true);
    assert!(
        !h.take_intents()
            .iter()
            .any(|i| matches!(i, Intent::Send(_))),
        "Shift+Enter is a new line"
    );
    h.key("[id$='-text']", "Enter", false);
    let intents = h.take_intents();
    assert!(
        intents.contains(&Intent::Send("line one".into())),
        "{intents:?}"
    );
    assert_eq!(text.value(), "", "the box is emptied");

    h.key("[id$='-text']", "Escape", false);
    assert_eq!(h.take_intents(), vec![Intent::Minimize]);

    // Every control is reachable with Tab: native controls, none taken out of the order.
    let controls = h
        .view
        .root()
        .query_selector_all("button, input, textarea, a[href], [tabindex]")
        .unwrap();
    for i in 0..controls.length() {
        let e: Element = controls.item(i).unwrap().dyn_into().unwrap();
        assert_ne!(
            e.get_attribute("tabindex").as_deref(),
            Some("-1"),
            "{}",
            e.outer_html()
        );
    }
    let log = h.find(".iw-logbox");
    assert_eq!(log.get_attribute("role").as_deref(), Some("log"));
    assert_eq!(log.get_attribute("aria-live").as_deref(), Some("polite"));
    // The list inside keeps its role, so its items are list items.
    let list = h.find(".iw-logbox > ol.iw-log");
    assert_eq!(list.get_attribute("role"), None);
    assert_eq!(
        list.get_attribute("tabindex").as_deref(),
        Some("0"),
        "scrollable by keyboard"
    );
}

#[wasm_bindgen_test]
fn queue_position_and_the_end_are_announced() {
    let h = Harness::with_form();
    h.view
        .handle(&Event::State(VisitorState::Queued { position: Some(3) }));
    assert_eq!(h.text(".iw-queue"), "You are number 3 in the queue.");
    h.view
        .handle(&Event::State(VisitorState::Queued { position: Some(1) }));
    assert_eq!(h.text(".iw-queue"), "You are next in the queue.");
    h.view.handle(&Event::State(VisitorState::Ended {
        reason: EndReason::AgentEnded,
    }));
    assert!(h.visible(".iw-ended"));
    assert!(!h.visible(".iw-compose"));
    assert_eq!(h.text(".iw-ended p"), "The agent ended the chat.");
    assert!(h.focused_id().is_empty() || !h.focused_id().ends_with("-text"));
    h.click(".iw-new");
    assert_eq!(h.take_intents(), vec![Intent::NewChat]);
}

#[wasm_bindgen_test]
fn german_strings() {
    let h = Harness::mount(Lang::DE);
    h.view.handle(&Event::Config(config(Availability::Open)));
    h.view.handle(&Event::State(VisitorState::Form));
    assert_eq!(h.text(".iw-start"), "Chat starten");
    assert_eq!(h.view.root().get_attribute("lang").as_deref(), Some("de"));
    h.click(".iw-start");
    assert_eq!(h.text("[id$='-name-error']"), "Bitte ausfüllen.");
}

#[wasm_bindgen_test]
fn the_end_screen_asks_for_a_rating_and_offers_the_transcript() {
    let h = Harness::with_form();
    connected(&h, "Alex");
    h.view.handle(&timeline(
        3,
        SessionEvent::Message {
            id: MessageId::new("a-1").unwrap(),
            from: Party::Agent,
            author: None,
            text: "Hello <b>there</b>".into(),
        },
    ));
    h.view.handle(&Event::State(VisitorState::Ended {
        reason: EndReason::AgentEnded,
    }));
    assert!(h.visible(".iw-survey"));
    assert_eq!(h.text(".iw-scores legend"), "How was this chat?");
    let radios = h
        .host
        .query_selector_all(".iw-score input[type=radio]")
        .unwrap();
    assert_eq!(radios.length(), 5);
    assert_eq!(
        h.input(".iw-score input[value='5']")
            .get_attribute("aria-label")
            .as_deref(),
        Some("5: Excellent")
    );
    // No email without the server's offer; the download link holds a Blob.
    assert!(!h.visible(".iw-email"));
    let href = h.find(".iw-download").get_attribute("href").unwrap();
    assert!(href.starts_with("blob:"), "{href}");
    assert_eq!(
        h.find(".iw-download").get_attribute("download").as_deref(),
        Some("chat-transcript.txt")
    );
    assert!(h.view.transcript_blob().is_some());

    // No score: asked for one, nothing sent.
    h.click(".iw-rate");
    assert_eq!(h.text("[id$='-survey-error']"), "Please choose a rating.");
    assert!(h.take_intents().is_empty());
    // An invisible comment is refused like an empty message; one with something visible
    // goes out.
    h.input(".iw-score input[value='4']").set_checked(true);
    let comment = h
        .find("[id$='-comment']")
        .dyn_into::<HtmlTextAreaElement>()
        .unwrap();
    comment.set_value("\u{200b}\u{2060}");
    h.click(".iw-rate");
    assert_eq!(h.text("[id$='-survey-error']"), "Please fill this in.");
    assert_eq!(
        comment.get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    assert!(h.take_intents().is_empty());
    h.find("[id$='-comment']")
        .dyn_into::<HtmlTextAreaElement>()
        .unwrap()
        .set_value("\u{200b}x\u{200b}");
    h.click(".iw-rate");
    assert_eq!(
        h.take_intents(),
        vec![Intent::Rate {
            score: 4,
            comment: Some("\u{200b}x\u{200b}".into())
        }]
    );
    assert!(
        h.find(".iw-rate")
            .dyn_into::<HtmlButtonElement>()
            .unwrap()
            .disabled()
    );
    // The answer: thanks, the survey gone.
    let id = MessageId::new("r-1").unwrap();
    h.view.rating_sent(id.clone());
    h.view.handle(&Event::Done(id));
    assert!(!h.visible(".iw-survey"));
    assert_eq!(h.text(".iw-survey-done"), "Thank you for your feedback!");

    // A new chat starts the survey over.
    h.view.reset();
    assert!(h.find(".iw-download").get_attribute("href").is_none());
    assert!(!h.input(".iw-score input[value='4']").checked());
}

#[wasm_bindgen_test]
fn the_transcript_email_is_offered_where_the_server_sends_email() {
    let h = Harness::mount(Lang::DE);
    let mut c = config(Availability::Open);
    c.transcript_email = true;
    h.view.handle(&Event::Config(c));
    h.view.handle(&Event::State(VisitorState::Ended {
        reason: EndReason::VisitorEnded,
    }));
    assert_eq!(h.text(".iw-scores legend"), "Wie war dieser Chat?");
    assert!(h.visible(".iw-email"));
    h.click(".iw-email");
    assert_eq!(h.take_intents(), vec![Intent::EmailTranscript]);
    let id = MessageId::new("e-1").unwrap();
    h.view.email_sent(id.clone());
    h.view.handle(&Event::ServerError(
        interact_sdk::protocol::ErrorFrame::new(
            interact_sdk::protocol::ErrorCode::RateLimited,
            "too many",
        )
        .about(id.clone()),
    ));
    assert_eq!(
        h.text(".iw-email-status"),
        "Das hat nicht geklappt. Bitte versuchen Sie es später noch einmal."
    );
    assert!(
        !h.find(".iw-email")
            .dyn_into::<HtmlButtonElement>()
            .unwrap()
            .disabled()
    );
    h.view.email_sent(id.clone());
    h.view.handle(&Event::Done(id));
    assert!(!h.visible(".iw-email"));
    assert_eq!(
        h.text(".iw-email-status"),
        "Der Verlauf ist auf dem Weg in Ihr Postfach."
    );
}

fn file_event(id: &str, from: Party, author: Option<&str>, name: &str, mime: &str) -> SessionEvent {
    SessionEvent::Attachment {
        id: AttachmentId::new(id).unwrap(),
        from,
        author: author.map(str::to_owned),
        name: name.into(),
        mime: mime.into(),
        size: 2048,
    }
}

#[wasm_bindgen_test]
fn files_show_as_thumbnails_or_links_once_fetched_and_refusals_are_said() {
    let h = Harness::mount(Lang::EN);
    h.view.handle(&Event::Link(LinkState::Online));
    let mut with_files = config(Availability::Open);
    with_files.attachment_max_bytes = Some(10 * 1024 * 1024);
    h.view.handle(&Event::Config(with_files));
    h.view.handle(&Event::State(VisitorState::Form));
    connected(&h, "Alex");
    assert!(
        h.visible(".iw-attach"),
        "files are allowed: the button shows"
    );
    assert_eq!(
        h.find(".iw-attach").get_attribute("aria-label").as_deref(),
        Some("Attach a file")
    );
    assert_eq!(
        h.find(".iw-file").get_attribute("accept").as_deref(),
        Some("image/png,image/jpeg,image/gif,image/webp,application/pdf")
    );
    h.take_intents();

    // The visitor's image: a thumbnail, asked for at once, shown once fetched.
    h.view.handle(&timeline(
        3,
        file_event("a1", Party::Visitor, None, "parcel.png", "image/png"),
    ));
    // The agent's file, its hostile name as text: a link with name and size.
    h.view.handle(&timeline(
        4,
        file_event(
            "a2",
            Party::Agent,
            Some("Alex"),
            HOSTILE_NAME,
            "application/pdf",
        ),
    ));
    assert_eq!(
        h.take_intents(),
        [
            Intent::LoadFile(AttachmentId::new("a1").unwrap()),
            Intent::LoadFile(AttachmentId::new("a2").unwrap())
        ]
    );
    let thumb = h.find(".iw-own .iw-thumb");
    assert_eq!(
        thumb.get_attribute("alt").as_deref(),
        Some("parcel.png (2 KB)")
    );
    assert!(
        thumb.get_attribute("src").is_none(),
        "nothing to show before the fetch"
    );
    h.view
        .file_loaded(&AttachmentId::new("a1").unwrap(), "blob:http://x/1");
    assert_eq!(
        thumb.get_attribute("src").as_deref(),
        Some("blob:http://x/1")
    );
    let link = h.find(".iw-agent .iw-filelink");
    assert_eq!(
        link.text_content().unwrap(),
        format!("{HOSTILE_NAME} (2 KB)")
    );
    assert_eq!(
        link.get_attribute("download").as_deref(),
        Some(HOSTILE_NAME)
    );
    assert_eq!(h.text(".iw-agent .iw-author"), "Alex");
    assert_eq!(
        h.view
            .root()
            .query_selector_all(".iw-agent img")
            .unwrap()
            .length(),
        0,
        "the hostile name became no element"
    );
    h.view
        .file_loaded(&AttachmentId::new("a2").unwrap(), "blob:http://x/2");
    assert_eq!(
        link.get_attribute("href").as_deref(),
        Some("blob:http://x/2")
    );

    // The upload's progress and the server's refusals.
    h.view.upload_progress(Some(0.5));
    assert!(h.visible(".iw-progress"));
    assert_eq!(
        h.find(".iw-progress").get_attribute("value").as_deref(),
        Some("500")
    );
    assert!(
        h.find(".iw-attach")
            .dyn_into::<HtmlButtonElement>()
            .unwrap()
            .disabled()
    );
    h.view.upload_progress(None);
    assert!(!h.visible(".iw-progress"));
    h.view.upload_failed(415);
    assert_eq!(
        h.text("[id$='-text-error']"),
        "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent."
    );
    h.view.upload_failed(413);
    assert_eq!(
        h.text("[id$='-text-error']"),
        "This file is too large. The limit is 10.0 MB."
    );

    // A new chat forgets the files.
    h.view.reset();
    assert_eq!(
        h.view
            .root()
            .query_selector_all(".iw-filemsg")
            .unwrap()
            .length(),
        0
    );
}

#[wasm_bindgen_test]
fn without_files_in_the_configuration_there_is_no_attach_button() {
    let h = Harness::with_form();
    connected(&h, "Alex");
    assert!(!h.visible(".iw-attach"));
}

#[wasm_bindgen_test]
fn earlier_conversations_show_newest_first_as_text_and_identify_fills_the_form() {
    use interact_sdk::protocol::{ErrorCode, ErrorFrame};
    let h = Harness::with_form();
    assert!(!h.visible(".iw-history"), "nothing for anonymous visitors");
    let chat = |id: &str, at: u64, text: &str| {
        let frame = |seq: u64, event: SessionEvent| EventFrame {
            session: SessionId::new(id).unwrap(),
            seq: Seq(seq),
            at: UnixMillis(at + seq),
            event,
        };
        vec![
            frame(
                2,
                SessionEvent::Message {
                    id: MessageId::new("v1").unwrap(),
                    from: Party::Visitor,
                    author: Some(HOSTILE_NAME.into()),
                    text: text.into(),
                },
            ),
            frame(
                3,
                SessionEvent::Message {
                    id: MessageId::new("a1").unwrap(),
                    from: Party::Agent,
                    author: Some("Sam".into()),
                    text: HOSTILE_TEXT.into(),
                },
            ),
        ]
    };
    let mut history = chat("s2", 1_767_312_000_000, "the newer one");
    history.extend(chat("s1", 1_767_225_600_000, "the older one"));
    h.view.handle(&Event::History(history));
    assert!(h.visible(".iw-history"));
    assert_eq!(h.text(".iw-history h2"), "Earlier conversations");
    let root = h.view.root();
    let past = root.query_selector_all(".iw-past").unwrap();
    assert_eq!(past.length(), 2);
    let first: Element = past.item(0).unwrap().dyn_into().unwrap();
    assert!(first.has_attribute("open"), "the newest is open");
    assert!(first.text_content().unwrap().contains("the newer one"));
    assert_eq!(
        root.query_selector_all(".iw-history img, .iw-history script, .iw-history b")
            .unwrap()
            .length(),
        0,
        "names and texts are text"
    );
    assert_eq!(h.text(".iw-history .iw-agent .iw-text"), HOSTILE_TEXT);
    // identify() fills what the visitor has not typed.
    h.input("[id$='-email']").set_value("typed@example.com");
    h.view
        .prefill(Some("Vera Verified"), Some("vera@example.com"));
    assert_eq!(h.input("[id$='-name']").value(), "Vera Verified");
    assert_eq!(h.input("[id$='-email']").value(), "typed@example.com");
    // No earlier chats: the section goes; a refusal is said plainly.
    h.view.handle(&Event::History(vec![]));
    assert!(!h.visible(".iw-history"));
    h.view.handle(&Event::ServerError(ErrorFrame::new(
        ErrorCode::IdentityRefused,
        "the identity could not be verified",
    )));
    assert_eq!(
        h.text(".iw-notice"),
        "We could not confirm your account, so you chat as a guest."
    );
}
