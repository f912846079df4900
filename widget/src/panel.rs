//! The call panel: the device step before a call, then the call itself (status line, the
//! agent's and the visitor's video, mute, camera, screen, devices, hang-up), carried out on
//! one `RTCPeerConnection` (the private `rtc` module). Part of the call module, which the
//! chat loads on the first call click; it reaches the session only through its
//! [`CallPort`].

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};

use gloo_events::EventListener;
use interact_sdk::CallEvent;
use interact_sdk::protocol::{CallMedia, HangupReason, MediaState};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlVideoElement, MediaStream};

use crate::devices::{self, DeviceStep, StepAction};
use crate::dom::{attr, child, show, typed};
use crate::i18n::{CallFailure, Lang};
use crate::port::{CallPort, Placed};
use crate::rtc::{CallSlot, CallSurface, Rtc};

/// The mounted call panel. Cheap to clone; dropping the last clone ends its call.
#[derive(Clone)]
pub struct CallPanel {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for CallPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallPanel").finish_non_exhaustive()
    }
}

struct Inner {
    lang: Lang,
    port: Rc<dyn CallPort>,
    step: DeviceStep,
    call: Element,
    status: Element,
    remote: HtmlVideoElement,
    own: HtmlVideoElement,
    mute: HtmlButtonElement,
    camera: HtmlButtonElement,
    screen: HtmlButtonElement,
    hangup: HtmlButtonElement,
    rtc: CallSlot,
    state: RefCell<State>,
    listeners: RefCell<Vec<EventListener>>,
}

#[derive(Default)]
struct State {
    /// The call shown (placed, or call-first waiting for an agent).
    call: Option<CallMedia>,
    /// The call's local media state as last reported.
    media: MediaState,
    /// The device choice may be kept (the visitor consented).
    remember: bool,
    /// The step was opened from the form (call-first): cancelling it goes back there.
    first: bool,
    /// Call-first: the media the visitor confirmed, until an agent answers and the call
    /// is placed.
    first_stream: Option<MediaStream>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.rtc.end();
        if let Some(stream) = self.state.get_mut().first_stream.take() {
            devices::stop(&stream);
        }
    }
}

/// Ids must be unique in the document, and tests mount several panels in one.
static MOUNTS: AtomicU32 = AtomicU32::new(0);

impl CallPanel {
    /// Builds the (hidden) device step and call panel in `host`.
    pub fn mount(host: &Element, lang: Lang, port: Rc<dyn CallPort>) -> Self {
        let s = &lang.call().strings;
        let n = MOUNTS.fetch_add(1, Ordering::Relaxed) + 1;
        let id = |name: &str| format!("ic{n}-{name}");
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            let step = DeviceStep::mount(
                host,
                lang,
                &id,
                Rc::new(move |action| {
                    if let Some(i) = weak.upgrade() {
                        i.step_action(action);
                    }
                }),
            );
            let call = child(host, "div", "iw-call");
            show(&call, false);
            let status = child(&call, "p", "iw-call-status");
            attr(&status, "role", "status");
            let stage = child(&call, "div", "iw-stage");
            let remote: HtmlVideoElement = typed(&stage, "video", "iw-remote");
            remote.set_autoplay(true);
            attr(&remote, "playsinline", "");
            attr(&remote, "aria-label", s.remote_video);
            let own: HtmlVideoElement = typed(&stage, "video", "iw-self");
            own.set_autoplay(true);
            own.set_muted(true);
            attr(&own, "playsinline", "");
            attr(&own, "aria-label", s.own_video);
            let controls = child(&call, "div", "iw-call-ctl");
            attr(&controls, "role", "toolbar");
            attr(&controls, "aria-label", s.call_controls);
            let button = |class: &str, text: &str| -> HtmlButtonElement {
                let b: HtmlButtonElement = typed(&controls, "button", class);
                attr(&b, "type", "button");
                b.set_text_content(Some(text));
                b
            };
            let mute = button("iw-mute", s.mute);
            let camera = button("iw-camera", s.camera_on);
            let screen = button("iw-screen", s.share_screen);
            button("iw-devices-btn", s.devices);
            let hangup = button("iw-hangup", s.hang_up);
            Inner {
                lang,
                port,
                step,
                call,
                status,
                remote,
                own,
                mute,
                camera,
                screen,
                hangup,
                rtc: CallSlot::default(),
                state: RefCell::default(),
                listeners: RefCell::default(),
            }
        });
        let weak = Rc::downgrade(&inner);
        inner.step.on_close(Rc::new(move || {
            if let Some(i) = weak.upgrade() {
                i.step_closed();
            }
        }));
        let weak = Rc::downgrade(&inner);
        let click = EventListener::new(&inner.call, "click", move |e| {
            let Some(i) = weak.upgrade() else { return };
            let button = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|t| t.closest("button").ok().flatten());
            if let Some(b) = button {
                i.control(&b.class_name());
            }
        });
        inner.listeners.borrow_mut().push(click);
        Self { inner }
    }

    /// Opens the device step for a call of `media`. `remember`: the visitor consented, so
    /// the device choice may be kept; `first`: the step comes from the form (call-first).
    pub fn open_step(&self, media: CallMedia, remember: bool, first: bool) {
        let i = &self.inner;
        {
            let mut st = i.state.borrow_mut();
            st.remember = remember;
            st.first = first;
        }
        i.step.open(media, remember);
        i.port.busy(true);
    }

    /// Carries out a call event of the SDK; `agent` names the agent for the status line.
    /// The other side going on with a call this page has no media for (placed before a
    /// reload) is hung up, so that a new one can be placed.
    pub fn handle(&self, event: &CallEvent, agent: &str) {
        let i = &self.inner;
        i.rtc.handle(&*i.port, event);
        if i.state.borrow().call.is_none() {
            return;
        }
        let s = &i.lang.call().strings;
        match event {
            CallEvent::Accepted { .. } => i.status.set_text_content(Some(s.call_connecting)),
            CallEvent::RemoteMedia { state, .. } => {
                i.status
                    .set_text_content(Some(&i.lang.remote_media(agent, *state)));
                let video = if state.camera || state.screen {
                    "on"
                } else {
                    "off"
                };
                attr(&i.remote, "data-video", video);
            }
            CallEvent::Ended { .. } => i.close(),
            _ => {}
        }
    }

    /// Call-first: an agent accepted (or took over after a transfer), so the visitor calls
    /// them, with the media confirmed in the device step, or (after a transfer or a
    /// reload) with the devices chosen then, opened again.
    pub fn place_pending(&self) {
        let i = &self.inner;
        let Some(media) = i.port.pending_call() else {
            return;
        };
        let kept = i.state.borrow_mut().first_stream.take();
        if let Some(stream) = kept {
            i.place(media, stream);
            return;
        }
        let weak = Rc::downgrade(i);
        wasm_bindgen_futures::spawn_local(async move {
            let choice = crate::storage::load_devices().unwrap_or_default();
            let opened = devices::open(media, &choice).await;
            let Some(i) = weak.upgrade() else {
                if let Ok(stream) = opened {
                    devices::stop(&stream);
                }
                return;
            };
            match opened {
                // Still to place (not ended or placed meanwhile).
                Ok(stream) if i.port.pending_call() == Some(media) => i.place(media, stream),
                Ok(stream) => devices::stop(&stream),
                Err(_) => i.port.problem(CallFailure::Unsupported),
            }
        });
    }

    /// The session ended or starts over: the call, the step and a waiting call-first
    /// stream go.
    pub fn end(&self) {
        let i = &self.inner;
        i.drop_first_stream();
        i.rtc.end();
        i.state.borrow_mut().first = false;
        i.step.hide();
        i.close();
    }

    /// Restarts the call's ICE now, as when its connection fails (the test hook's
    /// `restartIce`); `false` without a call.
    pub fn force_restart(&self) -> bool {
        self.inner.rtc.force_restart()
    }
}

impl Inner {
    fn step_action(self: Rc<Self>, action: StepAction) {
        match action {
            StepAction::Confirm(media) => {
                let Some(stream) = self.step.take_stream() else {
                    return;
                };
                match self.port.confirm(media) {
                    Ok(Placed::Call(_)) => self.place_on(media, stream),
                    Ok(Placed::Waiting) => {
                        self.drop_first_stream();
                        self.show_call(media);
                        self.status
                            .set_text_content(Some(self.lang.call().strings.call_waiting));
                        // The visitor sees their own camera while it rings.
                        self.own.set_src_object(Some(&stream));
                        self.state.borrow_mut().first_stream = Some(stream);
                    }
                    // The chat side showed why.
                    Err(_) => {
                        devices::stop(&stream);
                        self.port.busy(false);
                    }
                }
            }
            StepAction::Switch(kind, id) => {
                if let Some(rtc) = self.rtc.get() {
                    rtc.switch(kind, id);
                }
            }
        }
    }

    fn step_closed(&self) {
        let cancelled_first = {
            let mut st = self.state.borrow_mut();
            !self.step.has_stream() && std::mem::take(&mut st.first)
        };
        if cancelled_first {
            self.port.cancelled();
        }
        self.port.busy(self.state.borrow().call.is_some());
    }

    /// Places the pending call-first call on `stream`.
    fn place(self: &Rc<Self>, media: CallMedia, stream: MediaStream) {
        match self.port.confirm(media) {
            Ok(_) => Rc::clone(self).place_on(media, stream),
            Err(_) => devices::stop(&stream),
        }
    }

    /// The call of `media` is placed: shows it ringing, and this page's media carries it.
    fn place_on(self: Rc<Self>, media: CallMedia, stream: MediaStream) {
        self.rtc.end();
        self.show_call(media);
        let surface = Rc::new(Surface(Rc::downgrade(&self)));
        self.rtc
            .set(Rtc::new(Rc::clone(&self.port), surface, media, stream));
    }

    /// Shows the call panel for a call of `media`, ringing, with its controls.
    fn show_call(&self, media: CallMedia) {
        let s = &self.lang.call().strings;
        let state = MediaState {
            muted: false,
            camera: media == CallMedia::Video,
            screen: false,
        };
        {
            let mut st = self.state.borrow_mut();
            st.call = Some(media);
            st.first = false;
        }
        self.status.set_text_content(Some(s.calling));
        attr(&self.call, "data-media", media.as_str());
        show(&self.camera, media == CallMedia::Video);
        show(&self.screen, self.port.screen_share());
        show(&self.own, media == CallMedia::Video);
        show(&self.call, true);
        self.set_media(state);
        self.port.busy(true);
        let _ = self.hangup.focus();
    }

    /// Hides the call (it ended).
    fn close(&self) {
        let was = self.state.borrow_mut().call.take();
        show(&self.call, false);
        self.step.hide();
        if was.is_some() {
            self.port.busy(false);
        }
    }

    fn drop_first_stream(&self) {
        let stream = self.state.borrow_mut().first_stream.take();
        if let Some(stream) = stream {
            devices::stop(&stream);
            self.own.set_src_object(None);
        }
    }

    fn control(&self, class: &str) {
        let media = self.state.borrow().media;
        let rtc = self.rtc.get();
        match (class, rtc) {
            ("iw-mute", Some(rtc)) => rtc.set_muted(!media.muted),
            ("iw-camera", Some(rtc)) => rtc.set_camera(!media.camera),
            ("iw-screen", Some(rtc)) => rtc.set_screen(!media.screen),
            ("iw-devices-btn", _) => {
                let (call, remember) = {
                    let st = self.state.borrow();
                    (st.call, st.remember)
                };
                if let Some(call) = call {
                    if self.step.is_open() {
                        self.step.hide();
                    } else {
                        self.step.open_in_call(call, remember);
                    }
                }
            }
            ("iw-hangup", _) if self.state.borrow().first_stream.is_some() => {
                // Call-first, nobody answered yet: hanging up ends the session.
                self.drop_first_stream();
                self.port.end_session();
            }
            ("iw-hangup", _) => {
                self.rtc.end();
                self.port.hangup(HangupReason::Normal);
            }
            _ => {}
        }
    }

    fn set_media(&self, state: MediaState) {
        self.state.borrow_mut().media = state;
        let pressed = |b: &HtmlButtonElement, on: bool| {
            attr(b, "aria-pressed", if on { "true" } else { "false" });
        };
        pressed(&self.mute, state.muted);
        pressed(&self.camera, state.camera);
        pressed(&self.screen, state.screen);
    }
}

/// The panel as its call's [`CallSurface`] (held weakly: the panel holds the call).
struct Surface(Weak<Inner>);

impl CallSurface for Surface {
    fn own_stream(&self, stream: Option<&MediaStream>) {
        if let Some(i) = self.0.upgrade() {
            i.own.set_src_object(stream);
        }
    }
    fn remote_stream(&self, stream: Option<&MediaStream>) {
        if let Some(i) = self.0.upgrade() {
            i.remote.set_src_object(stream);
            if stream.is_some() {
                // Autoplay may need the gesture that started the call; it has just happened.
                crate::dom::play(&i.remote);
            }
        }
    }
    fn connected(&self) {
        if let Some(i) = self.0.upgrade() {
            i.status
                .set_text_content(Some(i.lang.call().strings.in_call));
        }
    }
    fn media(&self, state: MediaState) {
        if let Some(i) = self.0.upgrade() {
            i.set_media(state);
        }
    }
    fn speaker(&self, id: &str) {
        if let Some(i) = self.0.upgrade() {
            devices::set_sink(&i.remote, id);
        }
    }
    fn problem(&self, why: CallFailure) {
        if let Some(i) = self.0.upgrade() {
            i.port.problem(why);
        }
    }
    fn reconnecting(&self, attempt: u32) {
        if let Some(i) = self.0.upgrade() {
            i.status
                .set_text_content(Some(i.lang.call().strings.call_reconnecting));
            attr(&i.call, "data-ice-restarts", &attempt.to_string());
        }
    }
}
