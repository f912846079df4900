//! The chat module's side of the seam to the call module ([`crate::port`]): loading it on
//! the first call (a dynamic `import()` of `/widget/pkg/interact_widget_call.js`, once per
//! page), its exports as seen from here, and [`CallLink`], the session as the call module
//! reaches it.

use std::rc::Rc;

use interact_sdk::protocol::{CallMedia, DeviceKind, HangupReason, IceCandidate, MediaState};
use interact_sdk::quality::StatsReading;
use interact_sdk::{CallEvent, LinkState};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::driver::Driver;
use crate::i18n::CallFailure;
use crate::port::Placed;

// One promise per page: a second caller waits for the same module (instantiating it twice
// would give two wasm instances).
#[wasm_bindgen(
    inline_js = "let p;export function loadCallModule(u){return p??=import(u).then(async m=>{await m.default();return m})}"
)]
extern "C" {
    #[wasm_bindgen(js_name = loadCallModule)]
    fn load_call_module(url: &str) -> js_sys::Promise;

    /// The call module's exports (`interact_widget_call.js`).
    #[derive(Clone)]
    pub(crate) type CallModule;
}

/// The widget's side of the call module.
#[cfg(feature = "frame")]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(method, js_name = mountPanel)]
    pub(crate) fn mount_panel(
        this: &CallModule,
        host: &web_sys::Element,
        link: CallLink,
        lang: &str,
    ) -> PanelHandle;

    /// The widget's call panel in the call module.
    #[derive(Clone)]
    pub(crate) type PanelHandle;
    #[wasm_bindgen(method, js_name = openStep)]
    pub(crate) fn open_step(this: &PanelHandle, media: &str, remember: bool, first: bool);
    #[wasm_bindgen(method, js_name = handle)]
    fn panel_handle(this: &PanelHandle, event: &str, agent: &str);
    #[wasm_bindgen(method, js_name = placePending)]
    pub(crate) fn place_pending(this: &PanelHandle);
    #[wasm_bindgen(method, js_name = end)]
    pub(crate) fn panel_end(this: &PanelHandle);
    #[wasm_bindgen(method, js_name = forceRestart)]
    pub(crate) fn force_restart(this: &PanelHandle) -> bool;
}

/// The JavaScript SDK's side of the call module.
#[cfg(feature = "sdk")]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(method, js_name = startCall)]
    pub(crate) fn start_call(
        this: &CallModule,
        link: CallLink,
        media: &str,
        devices: &JsValue,
    ) -> js_sys::Promise;
    #[wasm_bindgen(method, js_name = listDevices)]
    pub(crate) fn list_devices(this: &CallModule) -> js_sys::Promise;

    /// A call placed through the JavaScript API, in the call module.
    #[derive(Clone)]
    pub(crate) type CallHandle;
    #[wasm_bindgen(method, getter, js_name = id)]
    pub(crate) fn call_id(this: &CallHandle) -> String;
    #[wasm_bindgen(method, js_name = handle)]
    fn call_handle(this: &CallHandle, event: &str);
    #[wasm_bindgen(method, js_name = end)]
    pub(crate) fn call_end(this: &CallHandle);
    #[wasm_bindgen(method, js_name = setMuted)]
    pub(crate) fn set_muted(this: &CallHandle, muted: bool) -> bool;
    #[wasm_bindgen(method, js_name = setCamera)]
    pub(crate) fn set_camera(this: &CallHandle, on: bool) -> bool;
    #[wasm_bindgen(method, js_name = shareScreen)]
    pub(crate) fn share_screen(this: &CallHandle, on: bool) -> bool;
    #[wasm_bindgen(method, js_name = switchDevice)]
    pub(crate) fn switch_device(this: &CallHandle, kind: &str, id: &str) -> bool;
}

/// The call module, loaded from `server` the first time (the same module afterwards).
/// A failure is a JavaScript `Error` named `CallModuleUnavailable`, saying from where.
pub(crate) async fn call_module(server: &str) -> Result<CallModule, JsValue> {
    let url = format!("{server}/widget/pkg/interact_widget_call.js");
    match JsFuture::from(load_call_module(&url)).await {
        Ok(module) => Ok(module.unchecked_into()),
        Err(_) => {
            let e = js_sys::Error::new(&format!("the call module could not be loaded from {url}"));
            e.set_name("CallModuleUnavailable");
            Err(e.into())
        }
    }
}

#[cfg(feature = "frame")]
impl PanelHandle {
    /// Passes a call event on to the panel.
    pub(crate) fn handle(&self, event: &CallEvent, agent: &str) {
        if let Ok(json) = serde_json::to_string(event) {
            self.panel_handle(&json, agent);
        }
    }
}

#[cfg(feature = "sdk")]
impl CallHandle {
    /// Passes a call event on to the call.
    pub(crate) fn handle(&self, event: &CallEvent) {
        if let Ok(json) = serde_json::to_string(event) {
            self.call_handle(&json);
        }
    }
}

/// What differs between the widget and the JavaScript API behind a [`CallLink`].
pub(crate) trait LinkHost {
    /// The current driver (the widget makes a new one for a new chat).
    fn driver(&self) -> Option<Driver>;
    /// See [`crate::port::CallPort::confirm`].
    fn confirm(&self, driver: &Driver, media: CallMedia) -> Result<Placed, JsValue>;
    /// See [`crate::port::CallPort::busy`].
    fn busy(&self, _busy: bool) {}
    /// See [`crate::port::CallPort::problem`].
    fn problem(&self, _why: CallFailure) {}
    /// See [`crate::port::CallPort::cancelled`].
    fn cancelled(&self) {}
    /// See [`crate::port::CallPort::emit`].
    fn emit(&self, _event: &JsValue) {}
}

/// The session as the call module reaches it: the chat module's end of
/// [`CallPort`](crate::port::CallPort). Values the SDK types are passed as JSON text.
#[wasm_bindgen]
pub struct CallLink {
    host: Rc<dyn LinkHost>,
}

impl std::fmt::Debug for CallLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLink").finish_non_exhaustive()
    }
}

impl CallLink {
    pub(crate) fn new(host: Rc<dyn LinkHost>) -> Self {
        Self { host }
    }

    fn with<T: Default>(&self, f: impl FnOnce(&Driver) -> T) -> T {
        self.host.driver().map(|d| f(&d)).unwrap_or_default()
    }
}

fn parse<T: interact_sdk::json::FromJson>(json: &str) -> Option<T> {
    crate::json::from_json(json)
}

#[wasm_bindgen]
impl CallLink {
    /// `"call:<id>"` once placed, `"waiting"` for a call-first start.
    pub fn confirm(&self, media: &str) -> Result<String, JsValue> {
        let media = parse_media(media).ok_or_else(|| JsValue::from_str("unknown media"))?;
        let driver = self
            .host
            .driver()
            .ok_or_else(|| JsValue::from_str("no session"))?;
        match self.host.confirm(&driver, media)? {
            Placed::Call(call) => Ok(format!("call:{}", call.as_str())),
            Placed::Waiting => Ok("waiting".to_owned()),
        }
    }
    #[wasm_bindgen(js_name = pendingCall)]
    pub fn pending_call(&self) -> Option<String> {
        self.with(|d| d.pending_call().map(|m| m.as_str().to_owned()))
    }
    #[wasm_bindgen(js_name = endSession)]
    pub fn end_session(&self) {
        self.with(|d| {
            let _ = d.end();
        });
    }
    #[wasm_bindgen(js_name = screenShare)]
    pub fn screen_share(&self) -> bool {
        self.with(|d| d.config().is_some_and(|c| c.modalities.screen_share))
    }
    pub fn online(&self) -> bool {
        self.with(|d| d.link() == LinkState::Online)
    }
    #[wasm_bindgen(js_name = iceServers)]
    pub fn ice_servers(&self) -> String {
        self.with(|d| serde_json::to_string(&d.ice_servers()).unwrap_or_default())
    }
    #[wasm_bindgen(js_name = localOffer)]
    pub fn local_offer(&self, sdp: String) -> bool {
        self.with(|d| d.local_offer(sdp).is_ok())
    }
    #[wasm_bindgen(js_name = localAnswer)]
    pub fn local_answer(&self, sdp: String) -> bool {
        self.with(|d| d.local_answer(sdp).is_ok())
    }
    #[wasm_bindgen(js_name = localCandidate)]
    pub fn local_candidate(&self, candidate: &str) {
        if let Some(c) = parse::<IceCandidate>(candidate) {
            self.with(|d| {
                let _ = d.local_candidate(c);
            });
        }
    }
    #[wasm_bindgen(js_name = localMedia)]
    pub fn local_media(&self) -> String {
        self.with(|d| serde_json::to_string(&d.local_media()).unwrap_or_default())
    }
    #[wasm_bindgen(js_name = setMedia)]
    pub fn set_media(&self, state: &str) {
        if let Some(s) = parse::<MediaState>(state) {
            self.with(|d| {
                let _ = d.set_media(s);
            });
        }
    }
    #[wasm_bindgen(js_name = deviceChanged)]
    pub fn device_changed(&self, kind: &str) {
        if let Some(k) = parse::<DeviceKind>(kind) {
            self.with(|d| {
                let _ = d.device_changed(k);
            });
        }
    }
    pub fn hangup(&self, reason: &str) {
        if let Some(r) = parse::<HangupReason>(reason) {
            self.with(|d| {
                let _ = d.hangup(r);
            });
        }
    }
    #[wasm_bindgen(js_name = callStats)]
    pub fn call_stats(&self, reading: &str) {
        if let Some(r) = parse::<StatsReading>(reading) {
            self.with(|d| {
                let _ = d.call_stats(r);
            });
        }
    }
    pub fn busy(&self, busy: bool) {
        self.host.busy(busy);
    }
    pub fn problem(&self, why: &str) {
        if let Some(why) = CallFailure::from_name(why) {
            self.host.problem(why);
        }
    }
    pub fn cancelled(&self) {
        self.host.cancelled();
    }
    pub fn emit(&self, event: &JsValue) {
        self.host.emit(event);
    }
}

/// `"audio"` or `"video"`.
pub(crate) fn parse_media(media: &str) -> Option<CallMedia> {
    match media {
        "audio" => Some(CallMedia::Audio),
        "video" => Some(CallMedia::Video),
        _ => None,
    }
}
