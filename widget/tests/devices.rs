//! The device step before a call and the call panel (the call module's UI, mounted in the
//! chat view's call area as the widget does), in headless Chromium with fake devices
//! (`--use-fake-device-for-media-stream --use-fake-ui-for-media-stream` in
//! `webdriver.json`): devices listed by label (as text), the camera preview, guidance when
//! access is denied or no device exists, the choice remembered only after consent, and the
//! call's controls. The session behind the panel is a recording [`CallPort`].
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use interact_sdk::client::Event;
use interact_sdk::config::{Availability, PrivacyPolicy, Target, TargetKind, Theme, WidgetConfig};
use interact_sdk::ids::{AgentId, CallId, SessionId};
use interact_sdk::modality::{Modalities, Modality};
use interact_sdk::protocol::{
    AgentInfo, CallMedia, DeviceKind, HangupReason, IceCandidate, IceServer, MediaState, Party,
};
use interact_sdk::quality::StatsReading;
use interact_sdk::{CallEvent, VisitorState};
use interact_widget::devices::track_device;
use interact_widget::i18n::{CallFailure, Lang};
use interact_widget::panel::CallPanel;
use interact_widget::port::{CallPort, Placed};
use interact_widget::view::{Intent, View, ViewOptions};
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlButtonElement, HtmlElement, HtmlVideoElement};

wasm_bindgen_test_configure!(run_in_browser);

const HOSTILE: &str = "<img src=x onerror=\"document.body.dataset.pwned=1\">Mic";
const DEVICES_KEY: &str = "interact:devices";

/// What the panel asked of the session.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Asked {
    Confirm(CallMedia),
    Media(MediaState),
    Hangup(HangupReason),
    Cancelled,
}

/// The session behind the panel: records what it is asked, places every call, and tells
/// the view what the widget's own port would.
struct Port {
    view: View,
    asked: RefCell<Vec<Asked>>,
    media: RefCell<MediaState>,
}

impl CallPort for Port {
    fn confirm(&self, media: CallMedia) -> Result<Placed, JsValue> {
        self.asked.borrow_mut().push(Asked::Confirm(media));
        self.view.call_started();
        Ok(Placed::Call(CallId::new("c1").unwrap()))
    }
    fn pending_call(&self) -> Option<CallMedia> {
        None
    }
    fn end_session(&self) {}
    fn screen_share(&self) -> bool {
        true
    }
    fn online(&self) -> bool {
        true
    }
    fn ice_servers(&self) -> Vec<IceServer> {
        Vec::new()
    }
    fn local_offer(&self, _: String) -> bool {
        true
    }
    fn local_answer(&self, _: String) -> bool {
        true
    }
    fn local_candidate(&self, _: IceCandidate) {}
    fn local_media(&self) -> MediaState {
        *self.media.borrow()
    }
    fn set_media(&self, state: MediaState) {
        *self.media.borrow_mut() = state;
        self.asked.borrow_mut().push(Asked::Media(state));
    }
    fn device_changed(&self, _: DeviceKind) {}
    fn hangup(&self, reason: HangupReason) {
        self.asked.borrow_mut().push(Asked::Hangup(reason));
    }
    fn call_stats(&self, _: StatsReading) {}
    fn busy(&self, busy: bool) {
        self.view.set_call_busy(busy);
    }
    fn problem(&self, why: CallFailure) {
        self.view.call_problem(why);
    }
    fn cancelled(&self) {
        self.asked.borrow_mut().push(Asked::Cancelled);
    }
    fn emit(&self, _: &JsValue) {}
}

struct Harness {
    view: View,
    panel: CallPanel,
    port: Rc<Port>,
    host: Element,
    intents: Rc<RefCell<Vec<Intent>>>,
}

impl Harness {
    /// A view with an agent connected, for a target with `modalities`.
    fn connected(lang: Lang, modalities: &[Modality]) -> Self {
        Self::with_remember(lang, modalities, true)
    }

    /// Like [`Self::connected`]; `remember`: the widget may keep the device choice.
    fn with_remember(lang: Lang, modalities: &[Modality], remember: bool) -> Self {
        let document = web_sys::window().unwrap().document().unwrap();
        let host = document.create_element("div").unwrap();
        document.body().unwrap().append_child(&host).unwrap();
        let intents = Rc::new(RefCell::new(Vec::new()));
        let sink = intents.clone();
        let panel_slot: Rc<RefCell<Option<CallPanel>>> = Rc::default();
        let panel_for_intents = panel_slot.clone();
        let view = View::mount(
            &host,
            ViewOptions {
                lang,
                minimizable: false,
                remember,
            },
            Rc::new(move |i| {
                // As the widget does: a call button opens the panel's device step.
                if let (
                    Intent::Call {
                        media,
                        first,
                        remember,
                    },
                    Some(panel),
                ) = (&i, &*panel_for_intents.borrow())
                {
                    panel.open_step(*media, *remember, first.is_some());
                }
                sink.borrow_mut().push(i);
            }),
        );
        let port = Rc::new(Port {
            view: view.clone(),
            asked: RefCell::default(),
            media: RefCell::default(),
        });
        let panel = CallPanel::mount(view.call_host(), lang, port.clone());
        *panel_slot.borrow_mut() = Some(panel.clone());
        view.handle(&Event::Config(config(modalities)));
        view.handle(&Event::State(VisitorState::Form));
        let agent = AgentInfo {
            id: AgentId::new("a1").unwrap(),
            display_name: "Alex".into(),
        };
        view.handle(&Event::State(VisitorState::Connected { agent }));
        Self {
            view,
            panel,
            port,
            host,
            intents,
        }
    }

    /// A call event, to the view and the panel (as the widget passes it on).
    fn call_event(&self, event: CallEvent) {
        self.panel.handle(&event, "Alex");
        self.view.handle(&Event::Call {
            session: None,
            event,
        });
    }

    fn asked(&self) -> Vec<Asked> {
        std::mem::take(&mut *self.port.asked.borrow_mut())
    }

    /// The stream the call carries (the visitor's own video element shows it).
    fn own_stream(&self) -> Option<web_sys::MediaStream> {
        self.find(".iw-self")
            .dyn_into::<HtmlVideoElement>()
            .unwrap()
            .src_object()
            .map(|s| s.unchecked_into())
    }

    fn find(&self, selector: &str) -> Element {
        self.host
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("{selector} is not in the widget"))
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

    fn step(&self) -> String {
        self.find(".iw-devices")
            .get_attribute("data-step")
            .unwrap_or_default()
    }

    /// Waits (up to 5 s) until the device step is no longer asking.
    async fn settled(&self) -> String {
        for _ in 0..250 {
            let step = self.step();
            if !step.is_empty() && step != "asking" {
                return step;
            }
            TimeoutFuture::new(20).await;
        }
        panic!("the device step never settled");
    }

    fn options(&self, selector: &str) -> Vec<(String, String)> {
        let list = self.find(selector).query_selector_all("option").unwrap();
        (0..list.length())
            .map(|i| {
                let o: Element = list.item(i).unwrap().dyn_into().unwrap();
                (
                    o.get_attribute("value").unwrap_or_default(),
                    o.text_content().unwrap_or_default(),
                )
            })
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Stops every track the panel holds.
        self.panel.end();
        self.host.remove();
    }
}

fn config(modalities: &[Modality]) -> WidgetConfig {
    WidgetConfig {
        target: Target {
            kind: TargetKind::Service,
            display_name: "Support".into(),
        },
        modalities: Modalities::new(modalities.iter().copied()),
        privacy: PrivacyPolicy {
            url: "https://example.com/privacy".into(),
            text: "I agree.".into(),
            version: "v1".into(),
        },
        availability: Availability::Open,
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

const AV: &[Modality] = &[
    Modality::Chat,
    Modality::Audio,
    Modality::Video,
    Modality::ScreenShare,
];

/// Replaces one method of `navigator.mediaDevices` until dropped.
struct Fake {
    name: &'static str,
}

impl Fake {
    fn new(name: &'static str, body: &str) -> Self {
        let devices = media_devices();
        let f = Function::new_no_args(body);
        Reflect::set(&devices, &name.into(), &f).unwrap();
        Self { name }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        Reflect::delete_property(
            &media_devices().unchecked_into::<js_sys::Object>(),
            &self.name.into(),
        )
        .unwrap();
    }
}

fn media_devices() -> JsValue {
    let navigator = web_sys::window().unwrap().navigator();
    Reflect::get(&navigator, &"mediaDevices".into()).unwrap()
}

fn rejecting(name: &str) -> String {
    format!("return Promise.reject(new DOMException('refused', '{name}'));")
}

fn session_storage() -> web_sys::Storage {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
}

#[wasm_bindgen_test]
fn call_buttons_follow_the_targets_modalities() {
    let h = Harness::connected(Lang::EN, &[Modality::Chat, Modality::Audio]);
    assert!(h.visible(".iw-call-audio"));
    assert!(!h.visible(".iw-call-video"), "video is not enabled");
    let chat_only = Harness::connected(Lang::EN, &[Modality::Chat]);
    assert!(!chat_only.visible(".iw-calls"));
    // Before an agent is there, no call can be placed.
    h.view
        .handle(&Event::State(VisitorState::Queued { position: Some(1) }));
    assert!(!h.visible(".iw-calls"));
}

#[wasm_bindgen_test]
async fn the_video_step_lists_devices_by_label_and_previews_the_camera() {
    let h = Harness::connected(Lang::EN, AV);
    h.click(".iw-call-video");
    assert!(h.visible(".iw-devices"));
    assert!(!h.visible(".iw-calls"), "no second call while choosing");
    assert_eq!(h.settled().await, "ready");
    for select in [".iw-mic", ".iw-cam"] {
        let options = h.options(select);
        assert!(!options.is_empty(), "{select} lists the fake devices");
        assert!(
            options
                .iter()
                .all(|(id, label)| !id.is_empty() && !label.is_empty()),
            "{select} lists by label after permission: {options:?}"
        );
    }
    let preview: HtmlVideoElement = h.find(".iw-preview").dyn_into().unwrap();
    assert!(h.visible(".iw-preview"));
    assert!(preview.src_object().is_some(), "the camera is previewed");
    assert!(
        preview.muted(),
        "the preview never plays the visitor's own voice"
    );
    assert!(h.find(".iw-level").has_attribute("value"), "a level meter");
    assert!(
        !h.find(".iw-call-go")
            .dyn_into::<HtmlButtonElement>()
            .unwrap()
            .disabled()
    );

    h.click(".iw-call-go");
    assert_eq!(h.asked(), vec![Asked::Confirm(CallMedia::Video)]);
    assert!(!h.visible(".iw-devices"));
    assert!(h.visible(".iw-call"), "the call rings");
    let stream = h.own_stream().expect("the stream goes to the call");
    assert_eq!(stream.get_audio_tracks().length(), 1);
    assert_eq!(stream.get_video_tracks().length(), 1);
    let [intent] = h.take_intents().try_into().unwrap();
    assert_eq!(
        intent,
        Intent::Call {
            media: CallMedia::Video,
            first: None,
            remember: false,
        },
        "no session yet, so no consent to keep the choice"
    );
}

#[wasm_bindgen_test]
async fn hostile_device_labels_are_shown_as_text() {
    let _list = Fake::new(
        "enumerateDevices",
        &format!(
            "return Promise.resolve([
               {{kind: 'audioinput', deviceId: 'm1', label: {h:?}}},
               {{kind: 'audioinput', deviceId: 'm2', label: ''}},
               {{kind: 'audiooutput', deviceId: 's1', label: '</option><b>Speaker</b>'}},
               {{kind: 'videoinput', deviceId: 'c1', label: 'Cam'}}
             ]);",
            h = HOSTILE
        ),
    );
    let h = Harness::connected(Lang::EN, AV);
    h.click(".iw-call-audio");
    assert_eq!(h.settled().await, "ready");
    assert_eq!(
        h.options(".iw-mic"),
        vec![
            ("m1".to_owned(), HOSTILE.to_owned()),
            ("m2".to_owned(), "Device 2".to_owned()),
        ]
    );
    assert_eq!(
        h.options(".iw-spk"),
        vec![("s1".to_owned(), "</option><b>Speaker</b>".to_owned())]
    );
    assert!(!h.visible(".iw-cam"), "an audio call needs no camera");
    assert!(!h.visible(".iw-preview"));
    assert_eq!(
        h.view.root().query_selector_all("img, b").unwrap().length(),
        0,
        "no markup from a label became an element"
    );
    let body = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap();
    assert!(body.get_attribute("data-pwned").is_none());
}

/// Waits (up to 5 s) until `selector` lists a device with id `id`.
async fn wait_for_option(h: &Harness, selector: &str, id: &str) {
    for _ in 0..250 {
        if h.options(selector).iter().any(|(i, _)| i == id) {
            return;
        }
        TimeoutFuture::new(20).await;
    }
    panic!("{selector} never listed {id}: {:?}", h.options(selector));
}

#[wasm_bindgen_test]
async fn a_device_plugged_in_shows_up_in_the_lists() {
    const BEFORE: &str = "return Promise.resolve([
       {kind: 'audioinput', deviceId: 'm1', label: 'Built-in microphone'},
       {kind: 'audiooutput', deviceId: 's1', label: 'Built-in speaker'}
     ]);";
    const AFTER: &str = "return Promise.resolve([
       {kind: 'audioinput', deviceId: 'm1', label: 'Built-in microphone'},
       {kind: 'audioinput', deviceId: 'm2', label: 'Headset microphone'},
       {kind: 'audiooutput', deviceId: 's1', label: 'Built-in speaker'},
       {kind: 'audiooutput', deviceId: 's2', label: 'Headset'}
     ]);";
    const IN_CALL: &str = "return Promise.resolve([
       {kind: 'audioinput', deviceId: 'm1', label: 'Built-in microphone'},
       {kind: 'audioinput', deviceId: 'm3', label: 'USB microphone'}
     ]);";
    let device_change = || {
        let changed = web_sys::Event::new("devicechange").unwrap();
        media_devices()
            .unchecked_into::<web_sys::EventTarget>()
            .dispatch_event(&changed)
            .unwrap();
    };
    let before = Fake::new("enumerateDevices", BEFORE);
    let h = Harness::connected(Lang::EN, AV);
    h.click(".iw-call-audio");
    assert_eq!(h.settled().await, "ready");
    assert_eq!(h.options(".iw-spk").len(), 1);

    // The headset comes: the browser says `devicechange`, the lists follow.
    drop(before);
    let after = Fake::new("enumerateDevices", AFTER);
    device_change();
    wait_for_option(&h, ".iw-mic", "m2").await;
    wait_for_option(&h, ".iw-spk", "s2").await;
    assert_eq!(h.settled().await, "ready", "still ready to call");

    // During the call, in the lists of its device button, too.
    h.click(".iw-call-go");
    assert!(h.visible(".iw-call"));
    h.click(".iw-devices-btn");
    wait_for_option(&h, ".iw-mic", "m2").await;
    drop(after);
    let _in_call = Fake::new("enumerateDevices", IN_CALL);
    device_change();
    wait_for_option(&h, ".iw-mic", "m3").await;
    assert!(
        !h.options(".iw-mic").iter().any(|(id, _)| id == "m2"),
        "the unplugged one is gone"
    );
    assert!(
        h.asked().iter().all(|a| !matches!(a, Asked::Hangup(_))),
        "switching lists never hangs up"
    );
}

#[wasm_bindgen_test]
async fn a_denied_permission_says_how_to_allow_it() {
    let _gum = Fake::new("getUserMedia", &rejecting("NotAllowedError"));
    let h = Harness::connected(Lang::EN, AV);
    h.click(".iw-call-video");
    assert_eq!(h.settled().await, "denied");
    assert!(h.visible(".iw-dev-guide"));
    assert_eq!(
        h.find(".iw-dev-guide").get_attribute("role").as_deref(),
        Some("alert")
    );
    assert!(
        h.text(".iw-dev-guide")
            .contains("blocked the microphone or camera")
    );
    assert!(h.text(".iw-dev-guide").contains("keep chatting"));
    assert!(h.visible(".iw-dev-retry"), "the visitor can try again");
    assert!(
        h.find(".iw-call-go")
            .dyn_into::<HtmlButtonElement>()
            .unwrap()
            .disabled()
    );
    assert!(!h.visible(".iw-mic"));
    assert!(h.asked().is_empty());
    assert!(h.visible(".iw-compose"), "the chat stays usable");
    // Cancel: back to the call buttons.
    h.click(".iw-dev-close");
    assert!(!h.visible(".iw-devices"));
    assert!(h.visible(".iw-call-video"));
}

#[wasm_bindgen_test]
async fn no_device_says_so_in_german_too() {
    let _gum = Fake::new("getUserMedia", &rejecting("NotFoundError"));
    let h = Harness::connected(Lang::EN, AV);
    h.click(".iw-call-audio");
    assert_eq!(h.settled().await, "no-device");
    assert_eq!(
        h.text(".iw-dev-guide"),
        "No microphone was found. Connect one and try again, or keep chatting."
    );
    let de = Harness::connected(Lang::DE, AV);
    de.click(".iw-call-video");
    assert_eq!(de.settled().await, "no-device");
    assert!(
        de.text(".iw-dev-guide")
            .starts_with("Es wurde kein Mikrofon und keine Kamera gefunden."),
        "{}",
        de.text(".iw-dev-guide")
    );
}

#[wasm_bindgen_test]
async fn the_choice_is_remembered_only_after_consent() {
    let storage = session_storage();
    storage.remove_item(DEVICES_KEY).unwrap();
    let h = Harness::connected(Lang::EN, AV);
    // No session yet, so no consent: nothing is stored.
    h.click(".iw-call-audio");
    assert_eq!(h.settled().await, "ready");
    h.click(".iw-call-go");
    assert_eq!(h.asked(), vec![Asked::Confirm(CallMedia::Audio)]);
    assert_eq!(storage.get_item(DEVICES_KEY).unwrap(), None);
    // That call ends; the next one comes after consent.
    h.panel.end();
    h.view.set_call_busy(false);

    // A session exists only after the visitor consented in the pre-chat form.
    h.view
        .handle(&Event::SessionStarted(SessionId::new("s1").unwrap()));
    h.click(".iw-call-audio");
    assert_eq!(h.settled().await, "ready");
    let mic = h.options(".iw-mic").last().unwrap().0.clone();
    let select: web_sys::HtmlSelectElement = h.find(".iw-mic").dyn_into().unwrap();
    select.set_value(&mic);
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    assert_eq!(h.settled().await, "ready");
    h.click(".iw-call-go");
    let stored = storage.get_item(DEVICES_KEY).unwrap().expect("remembered");
    assert!(stored.starts_with(&format!("{mic}\n")), "{stored}");
    assert_eq!(h.asked(), vec![Asked::Confirm(CallMedia::Audio)]);
    let stream = h.own_stream().expect("the call holds the stream");
    let track = stream.get_audio_tracks().get(0).unchecked_into();
    assert_eq!(track_device(&track).as_deref(), Some(mic.as_str()));

    // Without `remember` (the driver keeps nothing), consent or not, nothing is stored.
    storage.remove_item(DEVICES_KEY).unwrap();
    let other = Harness::with_remember(Lang::EN, AV, false);
    other
        .view
        .handle(&Event::SessionStarted(SessionId::new("s2").unwrap()));
    other.click(".iw-call-audio");
    assert_eq!(other.settled().await, "ready");
    other.click(".iw-call-go");
    assert_eq!(storage.get_item(DEVICES_KEY).unwrap(), None);
}

#[wasm_bindgen_test]
async fn the_call_panel_has_its_controls_and_falls_back_to_chat() {
    let h = Harness::connected(Lang::EN, AV);
    h.click(".iw-call-audio");
    assert_eq!(h.settled().await, "ready");
    h.click(".iw-call-go");
    assert!(h.visible(".iw-call"));
    assert_eq!(h.text(".iw-call-status"), "Calling…");
    assert!(!h.visible(".iw-calls"), "one call at a time");
    assert!(!h.visible(".iw-camera"), "no camera in an audio call");
    assert!(h.visible(".iw-screen"), "screen sharing is enabled");
    assert!(h.visible(".iw-compose"), "the chat goes on during a call");
    assert_eq!(h.asked(), vec![Asked::Confirm(CallMedia::Audio)]);
    h.click(".iw-mute");
    assert_eq!(
        h.asked(),
        vec![Asked::Media(MediaState {
            muted: true,
            ..MediaState::default()
        })]
    );
    assert_eq!(
        h.find(".iw-mute").get_attribute("aria-pressed").as_deref(),
        Some("true")
    );
    let call = CallId::new("c1").unwrap();
    h.call_event(CallEvent::RemoteMedia {
        call: call.clone(),
        state: MediaState {
            muted: true,
            camera: false,
            screen: false,
        },
    });
    assert_eq!(h.text(".iw-call-status"), "In call · Alex: microphone off");
    h.click(".iw-hangup");
    assert_eq!(h.asked(), vec![Asked::Hangup(HangupReason::Normal)]);
    // The machine says the call ended (here: the agent declined before).
    h.call_event(CallEvent::Ended {
        call,
        reason: HangupReason::Declined,
        by: Party::Agent,
    });
    assert!(!h.visible(".iw-call"));
    assert!(h.visible(".iw-calls"), "another call may be placed");
    let lines = h.view.root().query_selector_all(".iw-event").unwrap();
    let last = lines.item(lines.length() - 1).unwrap();
    assert_eq!(
        last.text_content().unwrap(),
        "The call was declined. You can keep chatting."
    );
}
