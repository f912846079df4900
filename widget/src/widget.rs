//! The widget: a [`View`] wired to a [`Driver`]. The view's intents become driver calls;
//! the driver's events are shown by the view and, where the host page cares (a session
//! exists, unread messages, minimise), reported to the host through `notify`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use interact_sdk::client::Event;
use interact_sdk::protocol::{CallMedia, HangupReason, Party, SessionEvent};
use interact_sdk::{Error, VisitorState};
use wasm_bindgen::JsValue;
use web_sys::{Element, MediaStream};

use crate::driver::{Driver, DriverOptions};
use crate::i18n::{CallFailure, Lang};
use crate::rtc::{CallSlot, Rtc};
use crate::view::{Intent, View, ViewOptions};

/// What the widget tells the page around it (the loader on the host page, through the
/// frame's script): `("session", true|false)`, `("unread", count)`, `("close", null)`.
pub type Notify = Rc<dyn Fn(&str, JsValue)>;

/// Options of [`Widget::mount`].
#[derive(Clone)]
pub struct WidgetOptions {
    /// Where and what to connect to.
    pub driver: DriverOptions,
    /// The language of the strings.
    pub lang: Lang,
    /// Reports to the host page; `None` when the widget is not in a frame (no minimise
    /// button then).
    pub notify: Option<Notify>,
}

impl fmt::Debug for WidgetOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WidgetOptions")
            .field("driver", &self.driver)
            .field("lang", &self.lang)
            .field("notify", &self.notify.is_some())
            .finish()
    }
}

/// The running widget. Dropping it disconnects.
#[derive(Clone)]
pub struct Widget {
    inner: Rc<Inner>,
}

impl fmt::Debug for Widget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Widget").finish_non_exhaustive()
    }
}

struct Inner {
    view: RefCell<Option<View>>,
    driver: RefCell<Option<Driver>>,
    /// The call in progress.
    rtc: CallSlot,
    /// Call-first: the media the visitor confirmed, until an agent answers and the call
    /// is placed.
    first_stream: RefCell<Option<MediaStream>>,
    options: WidgetOptions,
    visible: Cell<bool>,
    unread: Cell<u32>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.rtc.end();
        if let Some(d) = self.driver.get_mut() {
            d.stop();
        }
    }
}

impl Widget {
    /// Builds the widget in `parent` and connects.
    pub fn mount(parent: &Element, options: WidgetOptions) -> Result<Self, String> {
        let driver = Driver::new(&options.driver)?;
        let inner = Rc::new(Inner {
            view: RefCell::new(None),
            driver: RefCell::new(None),
            rtc: CallSlot::default(),
            first_stream: RefCell::default(),
            visible: Cell::new(true),
            unread: Cell::new(0),
            options,
        });
        let weak = Rc::downgrade(&inner);
        let view = View::mount(
            parent,
            ViewOptions {
                lang: inner.options.lang,
                minimizable: inner.options.notify.is_some(),
                remember: inner.options.driver.persist,
            },
            Rc::new(move |intent| {
                if let Some(inner) = weak.upgrade() {
                    inner.intent(intent);
                }
            }),
        );
        *inner.view.borrow_mut() = Some(view);
        Inner::attach(&inner, driver);
        install_test_hook(&inner);
        Ok(Self { inner })
    }

    /// The host page showed or hid the widget. While hidden, agent messages count as
    /// unread; shown, they are marked read.
    pub fn set_visible(&self, visible: bool) {
        self.inner.visible.set(visible);
        if visible {
            if let Some(v) = self.inner.view() {
                v.focus_primary();
            }
            self.inner.unread.set(0);
            self.inner.notify("unread", JsValue::from(0));
            if let Some(d) = self.inner.driver() {
                let _ = d.mark_read();
            }
        }
    }

    /// Whether a session is running (so the host should show the widget after a reload).
    pub fn has_session(&self) -> bool {
        self.inner.driver().is_some_and(|d| d.has_stored_session())
    }

    /// The view, for tests.
    pub fn view(&self) -> Option<View> {
        self.inner.view.borrow().clone()
    }
}

/// A test hook in the widget's frame, for the end-to-end tests of a network change
/// mid-call: an `interact-test` event on `window` whose `detail` is `"dropLink"` closes the
/// signalling WebSocket as a network loss would (the widget reconnects and resumes), and
/// `"restartIce"` restarts the call's ICE as when its connection fails; whether there was
/// something to act on lands in `window.__interactTestResult`. Both only do what the
/// widget does by itself when the network changes. The frame is of the server's origin,
/// so a host page cannot reach it. (An event listener rather than functions on `window`:
/// it needs no closure type of its own in the wasm.)
fn install_test_hook(inner: &Rc<Inner>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let weak = Rc::downgrade(inner);
    let target = window.clone();
    gloo_events::EventListener::new(&window, "interact-test", move |event| {
        let what = js_sys::Reflect::get(event, &"detail".into())
            .ok()
            .and_then(|d| d.as_string());
        let inner = weak.upgrade();
        let done = match (what.as_deref(), inner) {
            (Some("dropLink"), Some(i)) => i.driver().is_some_and(|d| d.drop_link()),
            (Some("restartIce"), Some(i)) => i.rtc.force_restart(),
            _ => false,
        };
        let _ = js_sys::Reflect::set(&target, &"__interactTestResult".into(), &done.into());
    })
    // One widget per frame: the hook lives as long as the page.
    .forget();
}

impl Inner {
    fn driver(&self) -> Option<Driver> {
        self.driver.borrow().clone()
    }

    fn view(&self) -> Option<View> {
        self.view.borrow().clone()
    }

    fn notify(&self, kind: &str, value: JsValue) {
        if let Some(n) = &self.options.notify {
            n(kind, value);
        }
    }

    /// Makes `driver` the current one and starts it.
    fn attach(this: &Rc<Self>, driver: Driver) {
        let weak: Weak<Self> = Rc::downgrade(this);
        driver.set_listener(Rc::new(move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.event(event);
                if matches!(event, Event::State(VisitorState::Connected { .. })) {
                    Inner::place_first_call(&inner);
                }
            }
        }));
        *this.driver.borrow_mut() = Some(driver.clone());
        driver.start();
    }

    fn event(&self, event: &Event) {
        if let Some(v) = self.view() {
            v.handle(event);
        }
        match event {
            Event::Call { event, .. } => {
                if let Some(driver) = self.driver() {
                    self.rtc.handle(&driver, event);
                }
            }
            Event::State(VisitorState::Ended { .. }) => {
                self.drop_first_stream();
                self.rtc.end();
                self.notify("session", JsValue::FALSE);
            }
            Event::SessionStarted(_) => self.notify("session", JsValue::TRUE),
            Event::Timeline(frame) => {
                if let SessionEvent::Message {
                    from: Party::Agent | Party::System,
                    ..
                } = frame.event
                {
                    self.agent_message();
                }
            }
            _ => {}
        }
    }

    /// Call-first: an agent accepted (or took over after a transfer), so the visitor
    /// calls them, with the media confirmed in the device step, or after a transfer with
    /// the devices chosen then, opened again.
    fn place_first_call(this: &Rc<Self>) {
        let (Some(driver), Some(_)) = (this.driver(), this.view()) else {
            return;
        };
        let Some(media) = driver.pending_call() else {
            return;
        };
        let place = {
            let weak = Rc::downgrade(this);
            move |stream: MediaStream| {
                let Some(this) = weak.upgrade() else {
                    crate::devices::stop(&stream);
                    return;
                };
                let (Some(view), Some(driver)) = (this.view(), this.driver()) else {
                    crate::devices::stop(&stream);
                    return;
                };
                // Still to place (not ended or placed meanwhile).
                if driver.pending_call() != Some(media) {
                    crate::devices::stop(&stream);
                    return;
                }
                if let Err(e) = this.place_call(&driver, &view, media, stream) {
                    view.set_notice(Some(&e.to_string()));
                }
            }
        };
        let kept = this.first_stream.borrow_mut().take();
        if let Some(stream) = kept {
            place(stream);
            return;
        }
        let weak = Rc::downgrade(this);
        wasm_bindgen_futures::spawn_local(async move {
            let choice = crate::storage::load_devices().unwrap_or_default();
            match crate::devices::open(media, &choice).await {
                Ok(stream) => place(stream),
                Err(_) => {
                    if let Some(view) = weak.upgrade().and_then(|t| t.view()) {
                        view.call_problem(CallFailure::Unsupported);
                    }
                }
            }
        });
    }

    /// Places a call of `media` on `stream` (the visitor's confirmed devices): the
    /// view shows it and this page's media carries it. On a refusal the stream is
    /// stopped and the error returned for the caller to show.
    fn place_call(
        &self,
        driver: &Driver,
        view: &View,
        media: CallMedia,
        stream: MediaStream,
    ) -> Result<(), Error> {
        if let Err(e) = driver.start_call(media) {
            crate::devices::stop(&stream);
            return Err(e);
        }
        self.rtc.end();
        view.call_placed(media);
        self.rtc.set(Rtc::new(
            driver.clone(),
            Rc::new(view.clone()),
            media,
            stream,
        ));
        Ok(())
    }

    fn drop_first_stream(&self) {
        if let Some(stream) = self.first_stream.borrow_mut().take() {
            crate::devices::stop(&stream);
        }
    }

    fn agent_message(&self) {
        let focused = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.has_focus().ok())
            .unwrap_or(false);
        if self.visible.get() && focused {
            if let Some(d) = self.driver() {
                let _ = d.mark_read();
            }
        } else {
            self.unread.set(self.unread.get() + 1);
            self.notify("unread", JsValue::from(self.unread.get()));
        }
    }

    fn intent(self: Rc<Self>, intent: Intent) {
        let (Some(view), Some(driver)) = (self.view(), self.driver()) else {
            return;
        };
        match intent {
            Intent::StartChat(form) => match driver.start_chat(form) {
                Ok(()) => {}
                Err(Error::InvalidForm(errors)) => view.handle(&Event::FormRejected(errors)),
                Err(e) => view.set_notice(Some(&e.to_string())),
            },
            Intent::Send(text) => match driver.send(&text) {
                Ok(id) => {
                    view.show_text_error(None);
                    view.add_own_message(&id, &text);
                }
                Err(Error::InvalidText(e)) => view.show_text_error(Some(&e)),
                Err(e) => view.set_notice(Some(&e.to_string())),
            },
            Intent::Typing(active) => {
                let _ = driver.typing(active);
            }
            Intent::End => {
                let _ = driver.end();
            }
            Intent::StartCall { media, .. } => {
                let Some(stream) = view.take_call_stream() else {
                    return;
                };
                if let Some(form) = view.take_first_call() {
                    // Call-first: the session starts now and waits for an agent.
                    match driver.start_with_call(form, media) {
                        Ok(()) => {
                            self.drop_first_stream();
                            view.call_waiting(media);
                            // The visitor sees their own camera while it rings.
                            view.set_own_stream(Some(&stream));
                            *self.first_stream.borrow_mut() = Some(stream);
                        }
                        Err(e) => {
                            crate::devices::stop(&stream);
                            view.back_to_form();
                            match e {
                                Error::InvalidForm(errors) => {
                                    view.handle(&Event::FormRejected(errors));
                                }
                                e => view.set_notice(Some(&e.to_string())),
                            }
                        }
                    }
                    return;
                }
                if let Err(e) = self.place_call(&driver, &view, media, stream) {
                    view.call_problem(CallFailure::Unsupported);
                    view.set_notice(Some(&e.to_string()));
                }
            }
            Intent::Mute(on) => {
                if let Some(rtc) = self.rtc.get() {
                    rtc.set_muted(on);
                }
            }
            Intent::Camera(on) => {
                if let Some(rtc) = self.rtc.get() {
                    rtc.set_camera(on);
                }
            }
            Intent::Screen(on) => {
                if let Some(rtc) = self.rtc.get() {
                    rtc.set_screen(on);
                }
            }
            Intent::SwitchDevice { kind, id } => {
                if let Some(rtc) = self.rtc.get() {
                    rtc.switch(kind, id);
                }
            }
            Intent::Hangup if self.first_stream.borrow().is_some() => {
                // Call-first, nobody answered yet: hanging up ends the session.
                self.drop_first_stream();
                let _ = driver.end();
            }
            Intent::Hangup => {
                self.rtc.end();
                let _ = driver.hangup(HangupReason::Normal);
            }
            Intent::NewChat => {
                self.drop_first_stream();
                self.rtc.end();
                driver.stop();
                view.reset();
                match Driver::new(&self.options.driver) {
                    Ok(d) => Inner::attach(&self, d),
                    Err(e) => view.set_notice(Some(&e)),
                }
            }
            Intent::Minimize => self.notify("close", JsValue::NULL),
        }
    }
}
