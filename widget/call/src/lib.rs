//! The widget's call module: the device step, the peer connection and the call panel
//! ([`interact_widget::panel`], [`interact_widget::headless`]), as a wasm module of its own
//! that the chat module loads on the first call click (or the JavaScript API's first
//! `startCall` or `listDevices`). Few visitors call, so what every visitor downloads before
//! the first message holds none of this.
//!
//! It reaches the session through the chat module's `CallLink` object ([`JsPort`]), and
//! takes the SDK's call events as JSON text: the two modules share no memory.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::rc::Rc;

use interact_sdk::CallEvent;
use interact_sdk::ids::CallId;
use interact_sdk::protocol::IceServer;
use interact_sdk::protocol::{CallMedia, DeviceKind, HangupReason, IceCandidate, MediaState};
use interact_sdk::quality::StatsReading;
use interact_widget::devices::{DeviceChoice, KINDS};
use interact_widget::headless::{self, HeadlessCall, browser_kind};
use interact_widget::i18n::{CallFailure, Lang};
use interact_widget::panel::CallPanel;
use interact_widget::port::{CallPort, Placed};
use wasm_bindgen::prelude::*;
use web_sys::Element;

#[wasm_bindgen]
extern "C" {
    /// The chat module's `CallLink`: the session, across the module boundary.
    #[derive(Debug)]
    pub type JsPort;
    #[wasm_bindgen(method, catch)]
    fn confirm(this: &JsPort, media: &str) -> Result<String, JsValue>;
    #[wasm_bindgen(method, js_name = pendingCall)]
    fn pending_call(this: &JsPort) -> Option<String>;
    #[wasm_bindgen(method, js_name = endSession)]
    fn end_session(this: &JsPort);
    #[wasm_bindgen(method, js_name = screenShare)]
    fn screen_share(this: &JsPort) -> bool;
    #[wasm_bindgen(method)]
    fn online(this: &JsPort) -> bool;
    #[wasm_bindgen(method, js_name = iceServers)]
    fn ice_servers(this: &JsPort) -> String;
    #[wasm_bindgen(method, js_name = localOffer)]
    fn local_offer(this: &JsPort, sdp: String) -> bool;
    #[wasm_bindgen(method, js_name = localAnswer)]
    fn local_answer(this: &JsPort, sdp: String) -> bool;
    #[wasm_bindgen(method, js_name = localCandidate)]
    fn local_candidate(this: &JsPort, candidate: &str);
    #[wasm_bindgen(method, js_name = localMedia)]
    fn local_media(this: &JsPort) -> String;
    #[wasm_bindgen(method, js_name = setMedia)]
    fn set_media(this: &JsPort, state: &str);
    #[wasm_bindgen(method, js_name = deviceChanged)]
    fn device_changed(this: &JsPort, kind: &str);
    #[wasm_bindgen(method)]
    fn hangup(this: &JsPort, reason: &str);
    #[wasm_bindgen(method, js_name = callStats)]
    fn call_stats(this: &JsPort, reading: &str);
    #[wasm_bindgen(method)]
    fn busy(this: &JsPort, busy: bool);
    #[wasm_bindgen(method)]
    fn problem(this: &JsPort, why: &str);
    #[wasm_bindgen(method)]
    fn cancelled(this: &JsPort);
    #[wasm_bindgen(method)]
    fn emit(this: &JsPort, event: &JsValue);
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str::<serde_json::Value>(text)
        .and_then(T::deserialize)
        .ok()
}

impl CallPort for JsPort {
    fn confirm(&self, media: CallMedia) -> Result<Placed, JsValue> {
        let placed = JsPort::confirm(self, media.as_str())?;
        match placed.strip_prefix("call:") {
            Some(id) => CallId::new(id)
                .map(Placed::Call)
                .map_err(|_| JsValue::from_str("bad call id")),
            None => Ok(Placed::Waiting),
        }
    }
    fn pending_call(&self) -> Option<CallMedia> {
        match JsPort::pending_call(self)?.as_str() {
            "audio" => Some(CallMedia::Audio),
            "video" => Some(CallMedia::Video),
            _ => None,
        }
    }
    fn end_session(&self) {
        JsPort::end_session(self);
    }
    fn screen_share(&self) -> bool {
        JsPort::screen_share(self)
    }
    fn online(&self) -> bool {
        JsPort::online(self)
    }
    fn ice_servers(&self) -> Vec<IceServer> {
        parse(&JsPort::ice_servers(self)).unwrap_or_default()
    }
    fn local_offer(&self, sdp: String) -> bool {
        JsPort::local_offer(self, sdp)
    }
    fn local_answer(&self, sdp: String) -> bool {
        JsPort::local_answer(self, sdp)
    }
    fn local_candidate(&self, candidate: IceCandidate) {
        JsPort::local_candidate(self, &json(&candidate));
    }
    fn local_media(&self) -> MediaState {
        parse(&JsPort::local_media(self)).unwrap_or_default()
    }
    fn set_media(&self, state: MediaState) {
        JsPort::set_media(self, &json(&state));
    }
    fn device_changed(&self, kind: DeviceKind) {
        JsPort::device_changed(self, &json(&kind));
    }
    fn hangup(&self, reason: HangupReason) {
        JsPort::hangup(self, &json(&reason));
    }
    fn call_stats(&self, reading: StatsReading) {
        JsPort::call_stats(self, &json(&reading));
    }
    fn busy(&self, busy: bool) {
        JsPort::busy(self, busy);
    }
    fn problem(&self, why: CallFailure) {
        JsPort::problem(self, why.as_str());
    }
    fn cancelled(&self) {
        JsPort::cancelled(self);
    }
    fn emit(&self, event: &JsValue) {
        JsPort::emit(self, event);
    }
}

fn media(name: &str) -> Result<CallMedia, JsValue> {
    match name {
        "audio" => Ok(CallMedia::Audio),
        "video" => Ok(CallMedia::Video),
        other => Err(JsValue::from_str(&format!("unknown call media {other:?}"))),
    }
}

fn event(text: &str) -> Option<CallEvent> {
    parse(text)
}

/// The widget's call panel (see [`mount_panel`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct PanelHandle {
    panel: CallPanel,
}

/// Builds the (hidden) device step and call panel in `host`; `link` is the chat module's
/// `CallLink`, `lang` a language tag.
#[wasm_bindgen(js_name = mountPanel)]
pub fn mount_panel(host: &Element, link: JsPort, lang: &str) -> PanelHandle {
    let port: Rc<dyn CallPort> = Rc::new(link);
    PanelHandle {
        panel: CallPanel::mount(host, Lang::from_tag(lang), port),
    }
}

#[wasm_bindgen]
impl PanelHandle {
    /// Opens the device step for a call (`"audio"` or `"video"`).
    #[wasm_bindgen(js_name = openStep)]
    pub fn open_step(&self, media_name: &str, remember: bool, first: bool) {
        if let Ok(m) = media(media_name) {
            self.panel.open_step(m, remember, first);
        }
    }

    /// A call event of the SDK, as JSON; `agent` names the agent.
    pub fn handle(&self, event_json: &str, agent: &str) {
        if let Some(e) = event(event_json) {
            self.panel.handle(&e, agent);
        }
    }

    /// Call-first: places the pending call.
    #[wasm_bindgen(js_name = placePending)]
    pub fn place_pending(&self) {
        self.panel.place_pending();
    }

    /// Ends everything the panel holds.
    pub fn end(&self) {
        self.panel.end();
    }

    /// Restarts the call's ICE now (the end-to-end tests' hook).
    #[wasm_bindgen(js_name = forceRestart)]
    pub fn force_restart(&self) -> bool {
        self.panel.force_restart()
    }
}

/// A call placed through the JavaScript API (see [`start_call`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct CallHandle {
    call: HeadlessCall,
}

/// Opens the devices and places a call for the JavaScript API's `startCall`; resolves to
/// a [`CallHandle`]. `devices` may pick `audioinput` and `videoinput` ids.
#[wasm_bindgen(js_name = startCall)]
pub async fn start_call(
    link: JsPort,
    media_name: String,
    devices: JsValue,
) -> Result<CallHandle, JsValue> {
    let m = media(&media_name)?;
    let mut choice = DeviceChoice::default();
    for kind in [DeviceKind::AudioInput, DeviceKind::VideoInput] {
        let id = js_sys::Reflect::get(&devices, &browser_kind(kind).into())
            .ok()
            .and_then(|v| v.as_string());
        choice.set(kind, id);
    }
    let call = HeadlessCall::start(Rc::new(link), m, choice).await?;
    Ok(CallHandle { call })
}

/// The microphones, cameras and speakers (`MediaDevice[]`).
#[wasm_bindgen(js_name = listDevices)]
pub async fn list_devices() -> Result<JsValue, JsValue> {
    headless::list_devices().await
}

#[wasm_bindgen]
impl CallHandle {
    /// The call's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.call.id().as_str().to_owned()
    }

    /// A call event of the SDK, as JSON.
    pub fn handle(&self, event_json: &str) {
        if let Some(e) = event(event_json) {
            self.call.handle(&e);
        }
    }

    /// Ends the call's media.
    pub fn end(&self) {
        self.call.end();
    }

    /// Mutes or unmutes; `false` once the media ended.
    #[wasm_bindgen(js_name = setMuted)]
    pub fn set_muted(&self, muted: bool) -> bool {
        self.call.set_muted(muted)
    }

    /// Camera off or on; `false` once the media ended.
    #[wasm_bindgen(js_name = setCamera)]
    pub fn set_camera(&self, on: bool) -> bool {
        self.call.set_camera(on)
    }

    /// Screen sharing on or off; `false` once the media ended.
    #[wasm_bindgen(js_name = shareScreen)]
    pub fn share_screen(&self, on: bool) -> bool {
        self.call.set_screen(on)
    }

    /// Switches a device (`audioinput`, `videoinput`, `audiooutput`); `false` for an
    /// unknown kind or once the media ended.
    #[wasm_bindgen(js_name = switchDevice)]
    pub fn switch_device(&self, kind: &str, id: String) -> bool {
        KINDS
            .into_iter()
            .find(|k| browser_kind(*k) == kind)
            .is_some_and(|k| self.call.switch(k, id))
    }
}
