//! The widget: a [`View`] wired to a [`Driver`]. The view's intents become driver calls;
//! the driver's events are shown by the view and, where the host page cares (a session
//! exists, unread messages, minimise), reported to the host through `notify`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use interact_sdk::client::Event;
use interact_sdk::context::ChatContext;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::AttachmentId;
use interact_sdk::json::{FromJson, JsonError, JsonValue, field, optional};
use interact_sdk::protocol::{CallMedia, HangupReason, Party, SessionEvent};
use interact_sdk::{CallEvent, Error, VisitorState};
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::driver::{Driver, DriverOptions};
use crate::i18n::{CallFailure, Lang};
use crate::link::{self, CallLink, LinkHost, PanelHandle};
use crate::port::Placed;
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
    /// The call module's panel, loaded on the first call.
    panel: RefCell<Panel>,
    /// Call-first: the form, valid, while the visitor goes through the device step.
    first_form: RefCell<Option<PreChatForm>>,
    options: WidgetOptions,
    visible: Cell<bool>,
    unread: Cell<u32>,
    /// What the host page said about the chat (page address, attributes): given to every
    /// driver, so a new chat after an ended one has it too.
    context: RefCell<Option<ChatContext>>,
    /// Who the website says the visitor is (`identify`): given to every driver.
    identity: RefCell<Option<Identity>>,
}

/// The website's `Interact.identify({id, name, email, hash})`, as the loader passes it.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The website's id of the visitor.
    pub id: String,
    /// The HMAC-SHA256 of `id` under the embed code's identity secret (hex).
    pub hash: String,
    /// The visitor's name, for the form.
    pub name: Option<String>,
    /// The visitor's email address, for the form.
    pub email: Option<String>,
}

impl Identity {
    /// Reads `{ id, hash, name?, email? }` from a JavaScript object (members that are not
    /// strings count as absent; the bounds are checked by [`Widget::identify`]). Read
    /// member by member rather than through serde: no deserializer is compiled for it.
    pub fn from_js(value: &JsValue) -> Self {
        let text = |name: &str| {
            js_sys::Reflect::get(value, &name.into())
                .ok()
                .and_then(|v| v.as_string())
        };
        Self {
            id: text("id").unwrap_or_default(),
            hash: text("hash").unwrap_or_default(),
            name: text("name"),
            email: text("email"),
        }
    }
}

/// What the panel waits for, while the call module loads.
type PanelJob = Box<dyn FnOnce(&PanelHandle)>;

/// The call module's panel: not loaded (no call yet), loading (with what to do once it
/// is), or there.
#[derive(Default)]
enum Panel {
    #[default]
    None,
    Loading(Vec<PanelJob>),
    Ready(PanelHandle),
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Panel::Ready(panel) = self.panel.get_mut() {
            panel.panel_end();
        }
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
            panel: RefCell::default(),
            first_form: RefCell::default(),
            visible: Cell::new(true),
            unread: Cell::new(0),
            context: RefCell::default(),
            identity: RefCell::default(),
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

    /// Sets the page address and attributes sent with the next `start_chat` (a session
    /// already started keeps the ones it started with). Refused, and nothing changed, if
    /// they break the protocol's bounds.
    pub fn set_context(&self, context: ChatContext) -> Result<(), Error> {
        if let Some(d) = self.inner.driver() {
            d.set_context(context.clone())?;
        } else {
            context.validate().map_err(Error::InvalidContext)?;
        }
        *self.inner.context.borrow_mut() = Some(context);
        Ok(())
    }

    /// Identifies the visitor (see [`interact_sdk::Visitor::identify`]) and fills the
    /// form's name and email from it. Refused, and nothing changed, if the id or hash
    /// break the protocol's bounds.
    pub fn identify(&self, identity: Identity) -> Result<(), Error> {
        if let Some(d) = self.inner.driver() {
            d.identify(&identity.id, &identity.hash)?;
        } else {
            interact_sdk::identity::validate(&identity.id, &identity.hash)
                .map_err(Error::InvalidIdentity)?;
        }
        if let Some(v) = self.inner.view() {
            v.prefill(identity.name.as_deref(), identity.email.as_deref());
        }
        *self.inner.identity.borrow_mut() = Some(identity);
        Ok(())
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
/// widget does by itself when the network changes. `"transcript"` reads back the text of
/// the end screen's transcript Blob (the frame's CSP keeps `fetch` from `blob:` URLs)
/// into the same place. The frame is of the server's origin,
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
            // The end screen's transcript Blob, read back: its text lands in
            // `__interactTestResult` (`null` until then, `false` if there is none).
            (Some("transcript"), Some(i)) => match i.view().and_then(|v| v.transcript_blob()) {
                Some(blob) => {
                    let _ = js_sys::Reflect::set(
                        &target,
                        &"__interactTestResult".into(),
                        &JsValue::NULL,
                    );
                    let target = target.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let text = wasm_bindgen_futures::JsFuture::from(blob.text()).await;
                        let text = text.unwrap_or(JsValue::FALSE);
                        let _ =
                            js_sys::Reflect::set(&target, &"__interactTestResult".into(), &text);
                    });
                    return;
                }
                None => false,
            },
            (Some("dropLink"), Some(i)) => i.driver().is_some_and(|d| d.drop_link()),
            (Some("restartIce"), Some(i)) => i.ready_panel().is_some_and(|p| p.force_restart()),
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
        if let Some(context) = this.context.borrow().clone() {
            // Validated when it was set.
            let _ = driver.set_context(context);
        }
        if let Some(identity) = this.identity.borrow().clone() {
            // Validated when it was set.
            let _ = driver.identify(&identity.id, &identity.hash);
        }
        *this.driver.borrow_mut() = Some(driver.clone());
        driver.start();
    }

    fn event(&self, event: &Event) {
        if let Some(v) = self.view() {
            v.handle(event);
        }
        match event {
            Event::Call { event, .. } => self.call_event(event),
            Event::State(VisitorState::Ended { .. }) => {
                self.first_form.take();
                if let Some(panel) = self.ready_panel() {
                    panel.panel_end();
                }
                self.notify("session", JsValue::FALSE);
            }
            Event::SessionStarted(_) => self.notify("session", JsValue::TRUE),
            Event::Timeline(frame) => {
                if let SessionEvent::Message {
                    from: Party::Agent | Party::System,
                    ..
                }
                | SessionEvent::Attachment {
                    from: Party::Agent, ..
                } = frame.event
                {
                    self.agent_message();
                }
            }
            _ => {}
        }
    }

    /// A call event: to the call module's panel, which carries it out. Without the panel
    /// this page has no media for the call (placed before a reload): it is hung up, so
    /// that a new one can be placed.
    fn call_event(&self, event: &CallEvent) {
        let Some(driver) = self.driver() else { return };
        match self.ready_panel() {
            Some(panel) => {
                let agent = match driver.state() {
                    VisitorState::Connected { agent } => agent.display_name,
                    _ => String::new(),
                };
                panel.handle(event, &agent);
            }
            None if !matches!(event, CallEvent::Ended { .. }) => {
                let _ = driver.hangup(HangupReason::Failed);
            }
            None => {}
        }
    }

    fn ready_panel(&self) -> Option<PanelHandle> {
        match &*self.panel.borrow() {
            Panel::Ready(panel) => Some(panel.clone()),
            _ => None,
        }
    }

    /// Call-first: an agent accepted (or took over after a transfer), so the visitor
    /// calls them (the panel places the call).
    fn place_first_call(this: &Rc<Self>) {
        if this.driver().and_then(|d| d.pending_call()).is_some() {
            Inner::with_panel(this, |panel| panel.place_pending());
        }
    }

    /// Runs `job` on the call module's panel, loading the module first if this is the
    /// page's first call.
    fn with_panel(this: &Rc<Self>, job: impl FnOnce(&PanelHandle) + 'static) {
        let mut slot = this.panel.borrow_mut();
        match &mut *slot {
            Panel::Ready(panel) => {
                let panel = panel.clone();
                drop(slot);
                job(&panel);
                return;
            }
            Panel::Loading(jobs) => {
                jobs.push(Box::new(job));
                return;
            }
            Panel::None => *slot = Panel::Loading(vec![Box::new(job)]),
        }
        drop(slot);
        let weak = Rc::downgrade(this);
        let server = this.options.driver.server.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let loaded = link::call_module(&server).await;
            let Some(this) = weak.upgrade() else { return };
            let Some(view) = this.view() else { return };
            let module = match loaded {
                Ok(module) => module,
                Err(_) => {
                    // Not loaded (offline, blocked): the chat goes on; the next call
                    // click tries again.
                    *this.panel.borrow_mut() = Panel::None;
                    if this.first_form.take().is_some() {
                        view.back_to_form();
                    }
                    view.set_call_busy(false);
                    view.call_problem(CallFailure::Unsupported);
                    return;
                }
            };
            let host = Rc::new(WidgetHost(Rc::downgrade(&this)));
            let panel = module.mount_panel(
                view.call_host(),
                CallLink::new(host),
                this.options.lang.tag(),
            );
            let before =
                std::mem::replace(&mut *this.panel.borrow_mut(), Panel::Ready(panel.clone()));
            if let Panel::Loading(jobs) = before {
                for job in jobs {
                    job(&panel);
                }
            }
        });
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
            Intent::LeaveMessage(form) => match driver.leave_message(form) {
                Ok(id) => view.message_sending(id),
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
            Intent::Call {
                media,
                first,
                remember,
            } => {
                let is_first = first.is_some();
                *self.first_form.borrow_mut() = first;
                view.set_call_busy(true);
                Inner::with_panel(&self, move |panel| {
                    panel.open_step(media.as_str(), remember, is_first);
                });
            }
            Intent::NewChat => {
                self.first_form.take();
                if let Some(panel) = self.ready_panel() {
                    panel.panel_end();
                }
                driver.stop();
                view.reset();
                match Driver::new(&self.options.driver) {
                    Ok(d) => Inner::attach(&self, d),
                    Err(e) => view.set_notice(Some(&e)),
                }
            }
            Intent::Rate { score, comment } => match driver.rate(score, comment.as_deref()) {
                Ok(id) => view.rating_sent(id),
                Err(e) => view.after_refused(true, &e.to_string()),
            },
            Intent::EmailTranscript => match driver.email_transcript() {
                Ok(id) => view.email_sent(id),
                Err(e) => view.after_refused(false, &e.to_string()),
            },
            Intent::Minimize => self.notify("close", JsValue::NULL),
            Intent::Attach(file) => self.upload(&view, &driver, &file),
            Intent::LoadFile(id) => self.load_file(&view, &driver, id),
        }
    }

    /// Uploads `file` into the session, with the progress bar; the server's refusal is
    /// shown under the message box. The file reaches the transcript as its event.
    fn upload(&self, view: &View, driver: &Driver, file: &web_sys::File) {
        let Some(creds) = driver.credentials() else {
            return;
        };
        let name: String = js_sys::encode_uri_component(&file.name()).into();
        let url = crate::files::url(
            &self.options.driver.server,
            &creds,
            &format!("?name={name}"),
        );
        view.upload_progress(Some(0.0));
        let (bar, end) = (view.clone(), view.clone());
        let sent = crate::files::request(
            &url,
            &creds,
            Some(file),
            Some(Box::new(move |f| bar.upload_progress(Some(f)))),
            Box::new(move |status, _| {
                end.upload_progress(None);
                if status != 201 {
                    end.upload_failed(status);
                }
            }),
        );
        if sent.is_err() {
            view.upload_progress(None);
            view.upload_failed(0);
        }
    }

    /// Fetches file `id` of the session for the transcript (thumbnail or link).
    fn load_file(&self, view: &View, driver: &Driver, id: AttachmentId) {
        let Some(creds) = driver.credentials() else {
            return;
        };
        let url = crate::files::url(&self.options.driver.server, &creds, &format!("/{id}"));
        let view = view.clone();
        let _ = crate::files::request(
            &url,
            &creds,
            None,
            None,
            Box::new(move |_, blob| {
                if let Some(blob) = blob {
                    view.file_loaded(&id, &blob);
                }
            }),
        );
    }
}

/// The widget behind the call module's [`CallLink`] (held weakly: the widget holds the
/// panel, which holds the link).
struct WidgetHost(Weak<Inner>);

impl LinkHost for WidgetHost {
    fn driver(&self) -> Option<Driver> {
        self.0.upgrade()?.driver()
    }

    fn confirm(&self, driver: &Driver, media: CallMedia) -> Result<Placed, JsValue> {
        let inner = self.0.upgrade().ok_or(JsValue::NULL)?;
        let view = inner.view().ok_or(JsValue::NULL)?;
        let first = inner.first_form.borrow_mut().take();
        let was_first = first.is_some();
        let placed = match first {
            // Call-first: the session starts now and waits for an agent.
            Some(form) => driver
                .start_with_call(form, media)
                .map(|()| Placed::Waiting),
            None => driver.start_call(media).map(Placed::Call),
        };
        match placed {
            Ok(placed) => {
                view.call_started();
                Ok(placed)
            }
            Err(e) => {
                let message = e.to_string();
                match e {
                    Error::InvalidForm(errors) => {
                        view.back_to_form();
                        view.handle(&Event::FormRejected(errors));
                    }
                    _ if was_first => {
                        view.back_to_form();
                        view.set_notice(Some(&message));
                    }
                    _ => {
                        view.call_problem(CallFailure::Unsupported);
                        view.set_notice(Some(&message));
                    }
                }
                Err(JsValue::from_str(&message))
            }
        }
    }

    fn busy(&self, busy: bool) {
        if let Some(view) = self.0.upgrade().and_then(|i| i.view()) {
            view.set_call_busy(busy);
        }
    }

    fn problem(&self, why: CallFailure) {
        if let Some(view) = self.0.upgrade().and_then(|i| i.view()) {
            view.call_problem(why);
        }
    }

    fn cancelled(&self) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let first = inner.first_form.borrow_mut().take();
        if let (Some(_), Some(view)) = (first, inner.view()) {
            view.back_to_form();
        }
    }
}

/// The widget mounted by the frame page (see `www/widget/frame.js`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WidgetHandle {
    widget: Widget,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// The host page showed (`true`) or hid the widget.
    #[wasm_bindgen(js_name = setVisible)]
    pub fn set_visible(&self, visible: bool) {
        self.widget.set_visible(visible);
    }

    /// Sets what the host page says about the next chat: `{ page_url?, attributes? }`
    /// (attributes: string keys and values). Sent with `start_chat`; a running session
    /// keeps the context it started with. Throws `InvalidContext` if it breaks the
    /// protocol's bounds (at most 20 attributes, keys of 1 to 40 characters, values of at
    /// most 200, an http(s) page address of at most 2048).
    #[wasm_bindgen(js_name = setContext)]
    pub fn set_context(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ page_url?: string; attributes?: Record<string, string> }"
        )]
        context: JsValue,
    ) -> Result<(), JsValue> {
        let context: ChatContext =
            crate::json::from_js(&context, "context").map_err(JsValue::from)?;
        self.widget.set_context(context).map_err(|e| {
            let error = js_sys::Error::new(&e.to_string());
            error.set_name(match e {
                Error::InvalidContext(_) => "InvalidContext",
                _ => "InteractError",
            });
            error.into()
        })
    }

    /// Identifies the visitor as the website knows them: `{ id, hash, name?, email? }`
    /// (`hash`: hex HMAC-SHA256 of `id` under the embed code's identity secret). The
    /// server checks it; verified, the widget shows the visitor's earlier conversations
    /// and the next chat is theirs. Name and email fill the form. Throws
    /// `InvalidIdentity` if `id` (1 to 128 characters) or `hash` (64 hex digits) is out
    /// of bounds.
    pub fn identify(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ id: string; hash: string; name?: string; email?: string }"
        )]
        identity: JsValue,
    ) -> Result<(), JsValue> {
        self.widget
            .identify(Identity::from_js(&identity))
            .map_err(|e| {
                let error = js_sys::Error::new(&e.to_string());
                error.set_name("InvalidIdentity");
                error.into()
            })
    }

    /// Whether a chat session is running (resumed after a reload).
    #[wasm_bindgen(js_name = hasSession)]
    pub fn has_session(&self) -> bool {
        self.widget.has_session()
    }
}

struct MountOptions {
    server: String,
    code: String,
    lang: Option<String>,
}

impl FromJson for MountOptions {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        Ok(Self {
            server: field(json, "server")?,
            code: field(json, "code")?,
            lang: optional(json, "lang")?,
        })
    }
}

/// Builds Interact's own widget UI in `root` and connects. `notify(kind, value)` receives
/// `("session", boolean)`, `("unread", number)` and `("close", null)` for the host page.
#[wasm_bindgen(js_name = mountWidget)]
pub fn mount_widget(
    root: Element,
    #[wasm_bindgen(unchecked_param_type = "{ server: string; code: string; lang?: string }")]
    options: JsValue,
    #[wasm_bindgen(unchecked_param_type = "((kind: string, value: any) => void) | undefined")]
    notify: Option<js_sys::Function>,
) -> Result<WidgetHandle, JsValue> {
    let o: MountOptions = crate::json::from_js(&options, "options").map_err(JsValue::from)?;
    let lang = o
        .lang
        .or_else(|| web_sys::window().and_then(|w| w.navigator().language()))
        .map(|t| Lang::from_tag(&t))
        .unwrap_or_default();
    let notify = notify.map(|f| -> Notify {
        Rc::new(move |kind, value| {
            let _ = f.call2(&JsValue::NULL, &JsValue::from_str(kind), &value);
        })
    });
    let widget = Widget::mount(
        &root,
        WidgetOptions {
            driver: DriverOptions {
                server: o.server,
                code: o.code,
                persist: true,
                client: Some(concat!("interact-widget/", env!("CARGO_PKG_VERSION")).to_owned()),
            },
            lang,
            notify,
        },
    )
    .map_err(|e| JsValue::from(JsError::new(&e)))?;
    Ok(WidgetHandle { widget })
}
