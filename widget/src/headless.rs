//! The JavaScript API's calls (`InteractClient.startCall` and the rest), for a custom UI:
//! the same peer connection code as the widget's panel, reported as plain JavaScript
//! events through the port instead of shown. Part of the call module, loaded on the first
//! `startCall` or `listDevices`.

use std::rc::Rc;

use interact_sdk::CallEvent;
use interact_sdk::ids::CallId;
use interact_sdk::protocol::{CallMedia, DeviceKind, MediaState};
use wasm_bindgen::JsValue;
use web_sys::MediaStream;

use crate::devices::{self, DeviceChoice, MediaError};
use crate::i18n::CallFailure;
use crate::port::{CallPort, Placed};
use crate::rtc::{CallSlot, CallSurface, Rtc};

/// A call placed through the JavaScript API. Dropping it ends the call's media.
pub struct HeadlessCall {
    port: Rc<dyn CallPort>,
    call: CallId,
    rtc: CallSlot,
}

impl std::fmt::Debug for HeadlessCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessCall")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl Drop for HeadlessCall {
    fn drop(&mut self) {
        self.rtc.end();
    }
}

impl HeadlessCall {
    /// Opens the devices of `choice` for a call of `media` (the browser may ask the
    /// visitor), then places the call. The error is a JavaScript `Error` named after the
    /// media problem (`NotAllowed`, ...) or the refusal.
    pub async fn start(
        port: Rc<dyn CallPort>,
        media: CallMedia,
        choice: DeviceChoice,
    ) -> Result<Self, JsValue> {
        let stream = devices::open(media, &choice).await.map_err(media_error)?;
        let call = match port.confirm(media) {
            Ok(Placed::Call(call)) => call,
            Ok(Placed::Waiting) => {
                devices::stop(&stream);
                return Err(js_sys::Error::new("no call to place").into());
            }
            Err(refusal) => {
                devices::stop(&stream);
                return Err(refusal);
            }
        };
        port.emit(&object(&[
            ("type", "call".into()),
            ("state", "calling".into()),
            ("call", call.as_str().into()),
            ("media", media.as_str().into()),
        ]));
        let surface = Rc::new(Events {
            port: Rc::clone(&port),
            call: call.clone(),
        });
        let rtc = CallSlot::default();
        rtc.set(Rtc::new(Rc::clone(&port), surface, media, stream));
        Ok(Self { port, call, rtc })
    }

    /// The call's id.
    pub fn id(&self) -> &CallId {
        &self.call
    }

    /// Carries out a call event of the SDK.
    pub fn handle(&self, event: &CallEvent) {
        self.rtc.handle(&*self.port, event);
    }

    /// Ends the call's media (the caller hangs up or the session ended).
    pub fn end(&self) {
        self.rtc.end();
    }

    /// Mutes or unmutes the microphone; `false` once the call's media ended.
    pub fn set_muted(&self, muted: bool) -> bool {
        self.rtc.get().map(|r| r.set_muted(muted)).is_some()
    }

    /// Turns the camera off or on; `false` once the call's media ended.
    pub fn set_camera(&self, on: bool) -> bool {
        self.rtc.get().map(|r| r.set_camera(on)).is_some()
    }

    /// Starts or stops sharing the screen; `false` once the call's media ended.
    pub fn set_screen(&self, on: bool) -> bool {
        self.rtc.get().map(|r| r.set_screen(on)).is_some()
    }

    /// Switches a device; `false` once the call's media ended.
    pub fn switch(&self, kind: DeviceKind, id: String) -> bool {
        self.rtc.get().map(|r| r.switch(kind, id)).is_some()
    }
}

/// The microphones, cameras and speakers as JavaScript objects
/// (`{ kind, id, label }`, `MediaDevice` in the declarations).
pub async fn list_devices() -> Result<JsValue, JsValue> {
    let devices = devices::list().await.map_err(media_error)?;
    let list = js_sys::Array::new();
    for d in devices {
        list.push(&object(&[
            ("kind", browser_kind(d.kind).into()),
            ("id", d.id.as_str().into()),
            ("label", d.label.as_str().into()),
        ]));
    }
    Ok(list.into())
}

/// A device kind as the browser names it.
pub fn browser_kind(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::AudioInput => "audioinput",
        DeviceKind::VideoInput => "videoinput",
        DeviceKind::AudioOutput => "audiooutput",
    }
}

/// `MediaError` as a JavaScript `Error` named after it (`NotAllowed`, `NotFound`, ...).
fn media_error(e: MediaError) -> JsValue {
    let (name, message) = match e {
        MediaError::Denied => ("NotAllowed", "the visitor or the browser denied access"),
        MediaError::NotFound => ("NotFound", "no microphone or camera"),
        MediaError::InUse => ("InUse", "the device is in use by another program"),
        MediaError::Unsupported => ("Unsupported", "no media devices here (not HTTPS?)"),
        MediaError::Other => ("MediaError", "the devices could not be opened"),
    };
    let error = js_sys::Error::new(message);
    error.set_name(name);
    error.into()
}

/// A plain object with these members (events with values JSON cannot carry, such as
/// streams; cheaper in wasm than a serde type per event).
pub fn object(members: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (key, value) in members {
        let _ = js_sys::Reflect::set(&o, &(*key).into(), value);
    }
    o.into()
}

/// A media state event (`local_media`, `call_media`).
pub fn media_event(kind: &'static str, state: MediaState) -> JsValue {
    object(&[
        ("type", kind.into()),
        ("muted", state.muted.into()),
        ("camera", state.camera.into()),
        ("screen", state.screen.into()),
    ])
}

/// The call's surface: its streams and progress as events.
struct Events {
    port: Rc<dyn CallPort>,
    call: CallId,
}

impl CallSurface for Events {
    fn own_stream(&self, stream: Option<&MediaStream>) {
        let stream = stream.map_or(JsValue::NULL, JsValue::from);
        self.port.emit(&object(&[
            ("type", "local_stream".into()),
            ("stream", stream),
        ]));
    }
    fn remote_stream(&self, stream: Option<&MediaStream>) {
        let stream = stream.map_or(JsValue::NULL, JsValue::from);
        self.port.emit(&object(&[
            ("type", "remote_stream".into()),
            ("stream", stream),
        ]));
    }
    fn connected(&self) {
        self.port.emit(&object(&[
            ("type", "call".into()),
            ("state", "connected".into()),
            ("call", self.call.as_str().into()),
        ]));
    }
    fn media(&self, state: MediaState) {
        self.port.emit(&media_event("local_media", state));
    }
    fn speaker(&self, id: &str) {
        self.port
            .emit(&object(&[("type", "speaker".into()), ("id", id.into())]));
    }
    fn reconnecting(&self, attempt: u32) {
        self.port.emit(&object(&[
            ("type", "call".into()),
            ("state", "reconnecting".into()),
            ("call", self.call.as_str().into()),
            ("attempt", attempt.into()),
        ]));
    }
    fn problem(&self, why: CallFailure) {
        self.port.emit(&object(&[
            ("type", "call_problem".into()),
            ("problem", why.as_str().into()),
        ]));
    }
}
