//! Microphones, cameras and speakers: asking for them (`getUserMedia`), listing them
//! (`enumerateDevices`, which only names them after permission), the screen
//! (`getDisplayMedia`), a microphone level meter (Web Audio), and the device step the
//! visitor goes through before a call (`DeviceStep`): permission, device choice by label,
//! a live camera preview and the level, with guidance when access is denied or no device
//! exists. The choice is kept in `sessionStorage` only once the visitor consented.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use interact_sdk::protocol::{CallMedia, DeviceKind};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, Element, HtmlButtonElement, HtmlSelectElement, HtmlVideoElement,
    MediaDeviceInfo, MediaDevices, MediaStream, MediaStreamConstraints, MediaStreamTrack,
};

use crate::dom::{attr, child, show, text_child, typed};
use crate::i18n::Lang;
use crate::storage;

/// What the visitor did in the device step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepAction {
    /// Confirmed the devices for a call of this media; the stream waits in
    /// [`DeviceStep::take_stream`].
    Confirm(CallMedia),
    /// Switched a device during the call.
    Switch(DeviceKind, String),
}

/// How the device step reports what the visitor did.
pub type ActionHandler = Rc<dyn Fn(StepAction)>;

/// The devices a visitor chose; `None` is the browser's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceChoice {
    /// Microphone.
    pub audioinput: Option<String>,
    /// Camera.
    pub videoinput: Option<String>,
    /// Speaker or headset.
    pub audiooutput: Option<String>,
}

impl DeviceChoice {
    /// The chosen device of one kind.
    pub fn get(&self, kind: DeviceKind) -> Option<&str> {
        match kind {
            DeviceKind::AudioInput => self.audioinput.as_deref(),
            DeviceKind::VideoInput => self.videoinput.as_deref(),
            DeviceKind::AudioOutput => self.audiooutput.as_deref(),
        }
    }

    /// The stored form: the three ids on three lines, empty for the default. (Not JSON:
    /// serde code for one small struct costs more wasm than these two functions.)
    pub fn to_text(&self) -> String {
        KINDS.map(|k| self.get(k).unwrap_or_default()).join("\n")
    }

    /// Reads [`Self::to_text`]; anything else (an id never holds a line break) is ignored.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut choice = Self::default();
        let mut lines = text.split('\n');
        for kind in KINDS {
            choice.set(kind, Some(lines.next()?.to_owned()));
        }
        lines.next().is_none().then_some(choice)
    }

    /// Chooses a device of one kind (`None` or empty: the default).
    pub fn set(&mut self, kind: DeviceKind, id: Option<String>) {
        let id = id.filter(|i| !i.is_empty());
        match kind {
            DeviceKind::AudioInput => self.audioinput = id,
            DeviceKind::VideoInput => self.videoinput = id,
            DeviceKind::AudioOutput => self.audiooutput = id,
        }
    }
}

/// Why the microphone, camera or screen could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaError {
    /// The visitor or the browser refused (`NotAllowedError`, `SecurityError`).
    Denied,
    /// No such device (`NotFoundError`).
    NotFound,
    /// The device exists but cannot be opened, often because another application holds
    /// it (`NotReadableError`, `AbortError`).
    InUse,
    /// No media devices here (an insecure page, or an old browser).
    Unsupported,
    /// Anything else.
    Other,
}

impl MediaError {
    /// The error a rejected media promise carries, by its `name`.
    pub fn from_js(e: &JsValue) -> Self {
        let name = Reflect::get(e, &"name".into())
            .ok()
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        match name.as_str() {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => Self::Denied,
            "NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError" => Self::NotFound,
            "NotReadableError" | "TrackStartError" | "AbortError" => Self::InUse,
            "TypeError" | "NotSupportedError" => Self::Unsupported,
            _ => Self::Other,
        }
    }
}

/// One device, as `enumerateDevices` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Microphone, camera or speaker.
    pub kind: DeviceKind,
    /// Its id for constraints and `setSinkId`.
    pub id: String,
    /// What the browser calls it (empty before permission).
    pub label: String,
}

/// The three kinds, in the order the step shows them.
pub const KINDS: [DeviceKind; 3] = [
    DeviceKind::AudioInput,
    DeviceKind::VideoInput,
    DeviceKind::AudioOutput,
];

fn media_devices() -> Result<MediaDevices, MediaError> {
    let navigator = web_sys::window()
        .ok_or(MediaError::Unsupported)?
        .navigator();
    // Undefined outside secure contexts, which web-sys does not model.
    let devices = Reflect::get(&navigator, &"mediaDevices".into()).unwrap_or_default();
    if devices.is_undefined() || devices.is_null() {
        return Err(MediaError::Unsupported);
    }
    Ok(devices.unchecked_into())
}

async fn promise(p: Result<js_sys::Promise, JsValue>) -> Result<JsValue, MediaError> {
    let p = p.map_err(|e| MediaError::from_js(&e))?;
    JsFuture::from(p).await.map_err(|e| MediaError::from_js(&e))
}

/// `true`, or `{deviceId: {exact: id}}` for a chosen device.
fn constraint(id: Option<&str>) -> JsValue {
    match id {
        None => JsValue::TRUE,
        Some(id) => {
            let exact = Object::new();
            let _ = Reflect::set(&exact, &"exact".into(), &id.into());
            let c = Object::new();
            let _ = Reflect::set(&c, &"deviceId".into(), &exact);
            c.into()
        }
    }
}

async fn user_media(audio: JsValue, video: JsValue) -> Result<MediaStream, MediaError> {
    let devices = media_devices()?;
    let c = MediaStreamConstraints::new();
    c.set_audio(&audio);
    c.set_video(&video);
    let stream = promise(devices.get_user_media_with_constraints(&c)).await?;
    Ok(stream.unchecked_into())
}

/// Opens the microphone (and, for video, the camera) as chosen. A remembered device that
/// is gone falls back to the default.
pub async fn open(media: CallMedia, choice: &DeviceChoice) -> Result<MediaStream, MediaError> {
    let video = |id| match media {
        CallMedia::Video => constraint(id),
        CallMedia::Audio => JsValue::FALSE,
    };
    let first = user_media(
        constraint(choice.audioinput.as_deref()),
        video(choice.videoinput.as_deref()),
    )
    .await;
    match first {
        Err(MediaError::NotFound) if choice.audioinput.is_some() || choice.videoinput.is_some() => {
            user_media(JsValue::TRUE, video(None)).await
        }
        other => other,
    }
}

/// Opens one microphone or camera track (to switch devices during a call).
pub async fn open_track(kind: DeviceKind, id: &str) -> Result<MediaStreamTrack, MediaError> {
    let (audio, video) = match kind {
        DeviceKind::AudioInput => (constraint(Some(id)), JsValue::FALSE),
        DeviceKind::VideoInput => (JsValue::FALSE, constraint(Some(id))),
        DeviceKind::AudioOutput => return Err(MediaError::Other),
    };
    let stream = user_media(audio, video).await?;
    stream
        .get_tracks()
        .get(0)
        .dyn_into()
        .map_err(|_| MediaError::NotFound)
}

/// Asks for a screen, window or tab to share.
pub async fn screen() -> Result<MediaStream, MediaError> {
    let devices = media_devices()?;
    let stream = promise(devices.get_display_media()).await?;
    Ok(stream.unchecked_into())
}

/// The devices the browser lists (labels only after a permission was granted).
pub async fn list() -> Result<Vec<Device>, MediaError> {
    let devices = media_devices()?;
    let list: Array = promise(devices.enumerate_devices()).await?.unchecked_into();
    Ok(list
        .iter()
        .filter_map(|d| {
            let d: MediaDeviceInfo = d.unchecked_into();
            let kind = match d.kind() {
                web_sys::MediaDeviceKind::Audioinput => DeviceKind::AudioInput,
                web_sys::MediaDeviceKind::Videoinput => DeviceKind::VideoInput,
                web_sys::MediaDeviceKind::Audiooutput => DeviceKind::AudioOutput,
                _ => return None,
            };
            Some(Device {
                kind,
                id: d.device_id(),
                label: d.label(),
            })
        })
        .collect())
}

/// Stops every track of `stream` (the camera light goes off).
pub fn stop(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        t.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// The device id a track was opened on (`getSettings().deviceId`).
pub fn track_device(track: &MediaStreamTrack) -> Option<String> {
    let f: js_sys::Function = Reflect::get(track, &"getSettings".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let settings = f.call0(track).ok()?;
    Reflect::get(&settings, &"deviceId".into())
        .ok()?
        .as_string()
}

/// Plays a media element's sound on the speaker `id` (`setSinkId`, where supported).
pub fn set_sink(element: &web_sys::HtmlMediaElement, id: &str) {
    let set = Reflect::get(element, &"setSinkId".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let Some(p) = set.and_then(|f| f.call1(element, &id.into()).ok()) {
        // A refusal leaves the sound where it was.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(js_sys::Promise::resolve(&p)).await;
        });
    }
}

/// Shows the loudness of a microphone on a `<meter>`, ten times a second, until dropped.
pub(crate) struct LevelMeter {
    context: AudioContext,
    _tick: Interval,
}

impl LevelMeter {
    pub(crate) fn new(stream: &MediaStream, meter: &Element) -> Option<Self> {
        let context = AudioContext::new().ok()?;
        let source = context.create_media_stream_source(stream).ok()?;
        let analyser: AnalyserNode = context.create_analyser().ok()?;
        analyser.set_fft_size(512);
        source.connect_with_audio_node(&analyser).ok()?;
        let meter = meter.clone();
        let mut samples = vec![0u8; 512];
        let tick = Interval::new(100, move || {
            analyser.get_byte_time_domain_data(&mut samples);
            // Root mean square around the 128 midpoint, scaled so speech fills the bar.
            let sum: f64 = samples
                .iter()
                .map(|&s| {
                    let v = (f64::from(s) - 128.0) / 128.0;
                    v * v
                })
                .sum();
            // Whole percent: float formatting would cost the wasm several kilobytes.
            let level = ((sum / samples.len() as f64).sqrt() * 400.0).min(100.0) as u32;
            attr(&meter, "value", &level.to_string());
        });
        Some(Self {
            context,
            _tick: tick,
        })
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}

type StepHandler = Rc<dyn Fn(&Rc<StepInner>)>;

/// Whether the step prepares a call or switches devices during one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Setup,
    InCall,
}

/// The device step: shown in the chat after the visitor chose an audio or video call, and
/// again during a call to switch devices.
#[derive(Clone)]
pub struct DeviceStep {
    inner: Rc<StepInner>,
}

impl std::fmt::Debug for DeviceStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStep").finish_non_exhaustive()
    }
}

struct StepInner {
    lang: Lang,
    root: Element,
    guide: Element,
    preview: HtmlVideoElement,
    meter: Element,
    rows: [Element; 3],
    selects: [HtmlSelectElement; 3],
    go: HtmlButtonElement,
    retry: HtmlButtonElement,
    close: HtmlButtonElement,
    state: RefCell<StepState>,
    /// Bumped by every acquisition and by closing, so late results are dropped.
    generation: Cell<u32>,
    on_intent: ActionHandler,
    /// Told whenever the step hides.
    on_close: RefCell<Option<Rc<dyn Fn()>>>,
    listeners: RefCell<Vec<EventListener>>,
}

struct StepState {
    mode: Mode,
    media: CallMedia,
    remember: bool,
    choice: DeviceChoice,
    stream: Option<MediaStream>,
    level: Option<LevelMeter>,
}

impl DeviceStep {
    /// Builds the (hidden) step in `parent`; `id` makes element ids unique.
    pub fn mount(
        parent: &Element,
        lang: Lang,
        id: &dyn Fn(&str) -> String,
        on_intent: ActionHandler,
    ) -> Self {
        let s = &lang.call().strings;
        let root = child(parent, "div", "iw-devices");
        attr(&root, "role", "group");
        attr(&root, "aria-labelledby", &id("dev-intro"));
        show(&root, false);
        let intro = text_child(&root, "p", "iw-dev-intro", s.devices_intro);
        attr(&intro, "id", &id("dev-intro"));
        let guide = child(&root, "p", "iw-dev-guide");
        attr(&guide, "role", "alert");
        show(&guide, false);
        let preview: HtmlVideoElement = typed(&root, "video", "iw-preview");
        preview.set_muted(true);
        preview.set_autoplay(true);
        attr(&preview, "playsinline", "");
        attr(&preview, "aria-label", s.preview);
        show(&preview, false);
        let mut rows = Vec::new();
        let mut selects = Vec::new();
        for (kind, (key, label)) in
            KINDS
                .into_iter()
                .zip([("mic", s.microphone), ("cam", s.camera), ("spk", s.speaker)])
        {
            let row = child(&root, "div", "iw-field");
            let l = text_child(&row, "label", "", label);
            attr(&l, "for", &id(key));
            let select: HtmlSelectElement = typed(&row, "select", &format!("iw-{key}"));
            attr(&select, "id", &id(key));
            if kind == DeviceKind::AudioInput {
                let meter = child(&row, "meter", "iw-level");
                attr(&meter, "min", "0");
                attr(&meter, "max", "100");
                attr(&meter, "value", "0");
                attr(&meter, "aria-label", s.level);
            }
            show(&row, false);
            rows.push(row);
            selects.push(select);
        }
        let meter = rows[0]
            .query_selector(".iw-level")
            .ok()
            .flatten()
            .expect("just built");
        let buttons = child(&root, "div", "iw-dev-actions");
        let go: HtmlButtonElement = typed(&buttons, "button", "iw-call-go");
        attr(&go, "type", "button");
        let retry: HtmlButtonElement = typed(&buttons, "button", "iw-dev-retry");
        attr(&retry, "type", "button");
        retry.set_text_content(Some(s.try_again));
        show(&retry, false);
        let close: HtmlButtonElement = typed(&buttons, "button", "iw-dev-close");
        attr(&close, "type", "button");
        let step = Self {
            inner: Rc::new(StepInner {
                lang,
                root,
                guide,
                preview,
                meter,
                rows: rows.try_into().unwrap_or_else(|_| unreachable!()),
                selects: selects.try_into().unwrap_or_else(|_| unreachable!()),
                go,
                retry,
                close,
                state: RefCell::new(StepState {
                    mode: Mode::Setup,
                    media: CallMedia::Audio,
                    remember: false,
                    choice: DeviceChoice::default(),
                    stream: None,
                    level: None,
                }),
                generation: Cell::new(0),
                on_intent,
                on_close: RefCell::default(),
                listeners: RefCell::default(),
            }),
        };
        step.listen();
        step
    }

    fn listen(&self) {
        let i = &self.inner;
        let weak = Rc::downgrade(i);
        let on = |target: &web_sys::EventTarget, kind: &'static str, f: StepHandler| {
            let weak: Weak<StepInner> = weak.clone();
            EventListener::new(target, kind, move |_| {
                if let Some(i) = weak.upgrade() {
                    f(&i);
                }
            })
        };
        let mut listeners = vec![
            on(&i.go, "click", Rc::new(|i| i.confirm())),
            on(&i.retry, "click", Rc::new(StepInner::acquire)),
            on(&i.close, "click", Rc::new(|i| i.hide())),
        ];
        for (n, kind) in KINDS.into_iter().enumerate() {
            listeners.push(on(
                &i.selects[n],
                "change",
                Rc::new(move |i| StepInner::changed(i, kind)),
            ));
        }
        if let Ok(devices) = media_devices() {
            listeners.push(on(&devices, "devicechange", Rc::new(StepInner::relist)));
        }
        *i.listeners.borrow_mut() = listeners;
    }

    /// Starts the step for a call: asks for the devices, then shows them. `remember`:
    /// the visitor consented, so the choice may be kept in `sessionStorage`.
    pub fn open(&self, media: CallMedia, remember: bool) {
        let i = &self.inner;
        let s = &i.lang.call().strings;
        i.release();
        {
            let mut st = i.state.borrow_mut();
            st.mode = Mode::Setup;
            st.media = media;
            st.remember = remember;
            st.choice = storage::load_devices().unwrap_or_default();
        }
        i.go.set_text_content(Some(match media {
            CallMedia::Audio => s.start_audio_call,
            CallMedia::Video => s.start_video_call,
        }));
        i.close.set_text_content(Some(s.cancel));
        show(&i.go, true);
        show(&i.root, true);
        StepInner::acquire(i);
    }

    /// Shows the device lists during a call; a change asks to switch at once.
    pub fn open_in_call(&self, media: CallMedia, remember: bool) {
        let i = &self.inner;
        {
            let mut st = i.state.borrow_mut();
            st.mode = Mode::InCall;
            st.media = media;
            st.remember = remember;
        }
        i.close.set_text_content(Some(i.lang.call().strings.done));
        show(&i.go, false);
        show(&i.retry, false);
        show(&i.guide, false);
        show(&i.preview, false);
        show(&i.root, true);
        let generation = i.bump();
        StepInner::list_then(i, generation, |i, listed| match listed {
            Ok(devices) => i.fill(&devices),
            Err(e) => i.guide(e),
        });
    }

    /// Sets what to call whenever the step hides.
    pub fn on_close(&self, f: Rc<dyn Fn()>) {
        *self.inner.on_close.borrow_mut() = Some(f);
    }

    /// Hides the step, stopping any preview it still holds.
    pub fn hide(&self) {
        self.inner.hide();
    }

    /// Whether the step shows.
    pub fn is_open(&self) -> bool {
        !self.inner.root.has_attribute("hidden")
    }

    /// Whether the step holds a stream: confirmed (it waits for the call) or previewing.
    pub fn has_stream(&self) -> bool {
        self.inner.state.borrow().stream.is_some()
    }

    /// The stream the visitor confirmed, for the call (the step no longer stops it).
    pub fn take_stream(&self) -> Option<MediaStream> {
        self.inner.state.borrow_mut().stream.take()
    }
}

impl StepInner {
    fn bump(&self) -> u32 {
        let g = self.generation.get().wrapping_add(1);
        self.generation.set(g);
        g
    }

    /// Stops the preview and the meter.
    fn release(&self) {
        let (stream, level) = {
            let mut st = self.state.borrow_mut();
            (st.stream.take(), st.level.take())
        };
        drop(level);
        if let Some(stream) = stream {
            stop(&stream);
        }
        self.preview.set_src_object(None);
        attr(&self.meter, "value", "0");
    }

    fn hide(&self) {
        self.bump();
        self.release();
        show(&self.root, false);
        self.closed();
    }

    fn closed(&self) {
        let f = self.on_close.borrow().clone();
        if let Some(f) = f {
            f();
        }
    }

    /// Asks for the chosen devices (the permission prompt on the first time), then
    /// lists every device by label and starts the preview and the level meter.
    fn acquire(this: &Rc<Self>) {
        let s = &this.lang.call().strings;
        this.release();
        let generation = this.bump();
        show(&this.guide, false);
        show(&this.retry, false);
        this.go.set_disabled(true);
        attr(&this.root, "data-step", "asking");
        this.guide.set_text_content(Some(s.asking_permission));
        let (media, choice) = {
            let st = this.state.borrow();
            (st.media, st.choice.clone())
        };
        let weak = Rc::downgrade(this);
        wasm_bindgen_futures::spawn_local(async move {
            let opened = open(media, &choice).await;
            let listed = match &opened {
                Ok(_) => Some(list().await),
                Err(_) => None,
            };
            let Some(i) = weak.upgrade() else {
                if let Ok(stream) = &opened {
                    stop(stream);
                }
                return;
            };
            if i.generation.get() != generation {
                if let Ok(stream) = &opened {
                    stop(stream);
                }
                return;
            }
            match (opened, listed) {
                (Ok(stream), Some(Ok(devices))) => i.ready(stream, &devices),
                (Ok(stream), _) => {
                    stop(&stream);
                    i.guide(MediaError::Other);
                }
                (Err(e), _) => i.guide(e),
            }
        });
    }

    fn ready(&self, stream: MediaStream, devices: &[Device]) {
        {
            let mut st = self.state.borrow_mut();
            // What was actually opened is the choice (a remembered device may be gone).
            for t in stream.get_tracks().iter() {
                let t: MediaStreamTrack = t.unchecked_into();
                let kind = if t.kind() == "video" {
                    DeviceKind::VideoInput
                } else {
                    DeviceKind::AudioInput
                };
                if let Some(id) = track_device(&t) {
                    st.choice.set(kind, Some(id));
                }
            }
            st.level = LevelMeter::new(&stream, &self.meter);
            st.stream = Some(stream.clone());
        }
        let video = self.state.borrow().media == CallMedia::Video;
        if video {
            self.preview.set_src_object(Some(&stream));
            crate::dom::play(&self.preview);
        }
        show(&self.preview, video);
        self.fill(devices);
        show(&self.guide, false);
        attr(&self.root, "data-step", "ready");
        self.go.set_disabled(false);
        let _ = self.go.focus();
    }

    /// Fills the three lists; a kind without devices keeps its row hidden.
    fn fill(&self, devices: &[Device]) {
        let s = &self.lang.call().strings;
        let st = self.state.borrow();
        for (n, kind) in KINDS.into_iter().enumerate() {
            let select = &self.selects[n];
            select.set_text_content(None);
            let mut count = 0;
            for d in devices.iter().filter(|d| d.kind == kind) {
                count += 1;
                let label = if d.label.is_empty() {
                    format!("{} {count}", s.device)
                } else {
                    d.label.clone()
                };
                let option = text_child(select, "option", "", &label);
                attr(&option, "value", &d.id);
            }
            if let Some(id) = st.choice.get(kind) {
                select.set_value(id);
            }
            let wanted = match kind {
                DeviceKind::VideoInput => st.media == CallMedia::Video,
                // Chromium lists speakers; others may not let a page choose them.
                _ => true,
            };
            show(&self.rows[n], wanted && count > 0);
        }
    }

    fn guide(&self, e: MediaError) {
        let media = self.state.borrow().media;
        self.guide
            .set_text_content(Some(self.lang.media_error(e, media)));
        show(&self.guide, true);
        show(&self.preview, false);
        for row in &self.rows {
            show(row, false);
        }
        attr(
            &self.root,
            "data-step",
            match e {
                MediaError::Denied => "denied",
                MediaError::NotFound => "no-device",
                MediaError::InUse => "in-use",
                MediaError::Unsupported => "unsupported",
                MediaError::Other => "failed",
            },
        );
        let in_call = self.state.borrow().mode == Mode::InCall;
        show(&self.retry, !in_call && e != MediaError::Unsupported);
        self.go.set_disabled(true);
    }

    /// A device came or went (a headset plugged in): lists them again while the lists
    /// show. Before a call, a microphone or camera in use that is gone is replaced by
    /// opening the default one.
    fn relist(this: &Rc<Self>) {
        {
            let st = this.state.borrow();
            let lists_shown = match st.mode {
                Mode::InCall => true,
                // Not while asking for permission or guiding after a failure.
                Mode::Setup => st.stream.is_some(),
            };
            if this.root.has_attribute("hidden") || !lists_shown {
                return;
            }
        }
        Self::list_then(this, this.generation.get(), |i, listed| {
            let Ok(devices) = listed else { return };
            let gone = {
                let st = i.state.borrow();
                let used = match st.media {
                    CallMedia::Audio => &KINDS[..1],
                    CallMedia::Video => &KINDS[..2],
                };
                st.mode == Mode::Setup
                    && used.iter().any(|&kind| {
                        st.choice
                            .get(kind)
                            .is_some_and(|id| !devices.iter().any(|d| d.kind == kind && d.id == id))
                    })
            };
            if gone {
                Self::acquire(i);
            } else {
                i.fill(&devices);
            }
        });
    }

    /// Lists the devices, then hands them to `then`, unless the step was dropped or moved
    /// on meanwhile (closed or asked again: `generation` changed).
    fn list_then(
        this: &Rc<Self>,
        generation: u32,
        then: impl FnOnce(&Rc<Self>, Result<Vec<Device>, MediaError>) + 'static,
    ) {
        let weak = Rc::downgrade(this);
        wasm_bindgen_futures::spawn_local(async move {
            let listed = list().await;
            let Some(i) = weak.upgrade() else { return };
            if i.generation.get() == generation {
                then(&i, listed);
            }
        });
    }

    fn changed(this: &Rc<Self>, kind: DeviceKind) {
        let n = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        let id = this.selects[n].value();
        let (mode, remember, choice) = {
            let mut st = this.state.borrow_mut();
            st.choice.set(kind, Some(id.clone()));
            (st.mode, st.remember, st.choice.clone())
        };
        match mode {
            Mode::InCall => {
                if remember {
                    storage::save_devices(&choice);
                }
                (this.on_intent)(StepAction::Switch(kind, id));
            }
            // A new microphone or camera: open it for the preview and the meter.
            Mode::Setup if kind != DeviceKind::AudioOutput => Self::acquire(this),
            Mode::Setup => {}
        }
    }

    fn confirm(&self) {
        let (media, remember, choice) = {
            let st = self.state.borrow();
            if st.stream.is_none() {
                return;
            }
            (st.media, st.remember, st.choice.clone())
        };
        if remember {
            storage::save_devices(&choice);
        }
        // The stream goes to the call: stop only the meter.
        self.bump();
        drop(self.state.borrow_mut().level.take());
        self.preview.set_src_object(None);
        show(&self.root, false);
        self.closed();
        (self.on_intent)(StepAction::Confirm(media));
    }
}
