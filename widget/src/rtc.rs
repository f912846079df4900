//! The visitor's side of a call: one `RTCPeerConnection`, driven by the SDK's
//! [`CallEvent`]s (the machine decides; this module only carries out). The agent accepts,
//! we offer; the agent's answer and candidates are applied in order; screen sharing adds a
//! video track and renegotiates; device switches replace tracks without renegotiating.
//! Every asynchronous step runs from one queue, so they never interleave.
//!
//! A network change mid-call (Wi-Fi to mobile) breaks the media path: when the connection
//! goes `failed` (at once) or stays `disconnected` for [`DISCONNECT_GRACE_MS`], the visitor,
//! who makes the offers (protocol §10.2), restarts ICE: `restartIce()` and a new offer
//! through the usual renegotiation. While the signalling link is down the offer waits for
//! it. At most [`MAX_RESTARTS`] restarts per call, each given longer to work; then the call
//! ends with `failed`.
//!
//! Once the agent accepted, `getStats()` is read every
//! [`SAMPLE_INTERVAL`](interact_sdk::quality::SAMPLE_INTERVAL) and passed to the machine,
//! which sends the call's quality summaries (protocol §10.4, `quality`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use interact_sdk::CallEvent;
use interact_sdk::protocol::{CallMedia, DeviceKind, HangupReason, IceCandidate, MediaState};
use interact_sdk::quality::{SAMPLE_INTERVAL, StatsReading};
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcRtpSender, RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState,
    RtcTrackEvent,
};

use crate::devices::{self, MediaError};
use crate::i18n::CallFailure;
use crate::port::CallPort;

/// What shows a call: the widget's [`View`], or a custom UI behind the JavaScript API.
pub(crate) trait CallSurface {
    /// The visitor's own camera and microphone (or none, after the call).
    fn own_stream(&self, stream: Option<&MediaStream>);
    /// The agent's audio and video (or none, after the call).
    fn remote_stream(&self, stream: Option<&MediaStream>);
    /// Media flows.
    fn connected(&self);
    /// The visitor's own media state changed (mute, camera, screen).
    fn media(&self, state: MediaState);
    /// Play the agent's audio on this output device.
    fn speaker(&self, id: &str);
    /// Something went wrong; for `Screen` and `Device` the call goes on.
    fn problem(&self, why: CallFailure);
    /// The media path broke; ICE restart number `attempt` (from 1) is under way, or waits
    /// for the signalling link. [`Self::connected`] says when media flows again.
    fn reconnecting(&self, attempt: u32);
}

/// The call a page placed, if any, as the widget and the JavaScript SDK both hold it.
#[derive(Default)]
pub(crate) struct CallSlot(RefCell<Option<Rtc>>);

impl CallSlot {
    /// The call in progress.
    pub(crate) fn get(&self) -> Option<Rtc> {
        self.0.borrow().clone()
    }

    /// Holds a newly placed call. [`Self::end`] the one before first: closing it after the
    /// new one showed its streams would clear them.
    pub(crate) fn set(&self, rtc: Rtc) {
        *self.0.borrow_mut() = Some(rtc);
    }

    /// Restarts the call's ICE now, as if its connection had failed (the test hook's
    /// `restartIce`); `false` without a call.
    pub(crate) fn force_restart(&self) -> bool {
        match self.get() {
            Some(rtc) => {
                rtc.force_restart();
                true
            }
            None => false,
        }
    }

    /// Closes the call's media, if there is a call.
    pub(crate) fn end(&self) {
        let rtc = self.0.borrow_mut().take();
        if let Some(rtc) = rtc {
            rtc.close();
        }
    }

    /// Carries out a call event of the SDK on this page's media. The other side going on
    /// with a call this page has no media for (it was placed before a reload) is hung up,
    /// so that a new one can be placed; `Ended` closes the media.
    pub(crate) fn handle(&self, port: &dyn CallPort, event: &CallEvent) {
        match self.get() {
            Some(rtc) => rtc.handle(event),
            None if !matches!(event, CallEvent::Ended { .. }) => {
                port.hangup(HangupReason::Failed);
            }
            None => {}
        }
        if matches!(event, CallEvent::Ended { .. }) {
            self.end();
        }
    }
}

/// One call in progress. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Rtc {
    inner: Rc<Inner>,
}

enum Job {
    Event(CallEvent),
    Screen(bool),
    Switch(DeviceKind, String),
    /// An ICE restart: `restartIce()` and a new offer.
    Restart,
}

/// How long a `disconnected` connection may take to come back by itself before ICE
/// restarts.
pub(crate) const DISCONNECT_GRACE_MS: u32 = 2_500;
/// ICE restarts per call at most; a connection still down after the last ends the call.
pub(crate) const MAX_RESTARTS: u32 = 3;
/// How long restart number `n` (from 1) gets to bring the connection back: `n` times this.
const RESTART_WAIT_MS: u32 = 5_000;
/// How often a restart waiting for the signalling link looks again.
const LINK_POLL_MS: u32 = 500;

struct Inner {
    port: Rc<dyn CallPort>,
    view: Rc<dyn CallSurface>,
    media: CallMedia,
    local: MediaStream,
    remote: MediaStream,
    pc: RefCell<Option<RtcPeerConnection>>,
    /// The shared screen and the sender carrying it.
    screen: RefCell<Option<(MediaStream, RtcRtpSender, EventListener)>>,
    queue: RefCell<VecDeque<Job>>,
    busy: Cell<bool>,
    closed: Cell<bool>,
    listeners: RefCell<Vec<EventListener>>,
    /// ICE restarts made in this call.
    restarts: Cell<u32>,
    /// A restart is under way (made, or waiting for the link): the view says so.
    restarting: Cell<bool>,
    /// The next restart is due even if the connection looks fine (the test hook).
    forced: Cell<bool>,
    /// The pending look at the connection (grace, backoff, link wait).
    watch: RefCell<Option<Timeout>>,
    /// Reads `getStats()` for the call's quality while the connection exists.
    sampler: RefCell<Option<Interval>>,
}

type Step = Result<(), CallFailure>;

async fn wait(p: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

impl Rtc {
    /// A call placed with the microphone (and camera) stream the device step opened.
    pub(crate) fn new(
        port: Rc<dyn CallPort>,
        view: Rc<dyn CallSurface>,
        media: CallMedia,
        local: MediaStream,
    ) -> Self {
        let remote = MediaStream::new().expect("MediaStream exists where getUserMedia does");
        view.own_stream(Some(&local));
        view.remote_stream(Some(&remote));
        Self {
            inner: Rc::new(Inner {
                port,
                view,
                media,
                local,
                remote,
                pc: RefCell::new(None),
                screen: RefCell::new(None),
                queue: RefCell::default(),
                busy: Cell::new(false),
                closed: Cell::new(false),
                listeners: RefCell::default(),
                restarts: Cell::new(0),
                restarting: Cell::new(false),
                forced: Cell::new(false),
                watch: RefCell::default(),
                sampler: RefCell::default(),
            }),
        }
    }

    /// Carries out a call event of the SDK. `Ended` closes at once.
    pub(crate) fn handle(&self, event: &CallEvent) {
        match event {
            CallEvent::Ended { .. } => self.close(),
            CallEvent::Accepted { .. }
            | CallEvent::RemoteOffer { .. }
            | CallEvent::RemoteAnswer { .. }
            | CallEvent::RemoteCandidate { .. } => self.push(Job::Event(event.clone())),
            _ => {}
        }
    }

    /// Mutes or unmutes the microphone.
    pub(crate) fn set_muted(&self, muted: bool) {
        for t in self.inner.local.get_audio_tracks().iter() {
            t.unchecked_into::<MediaStreamTrack>().set_enabled(!muted);
        }
        let state = MediaState {
            muted,
            ..self.inner.port.local_media()
        };
        self.inner.report(state);
    }

    /// Turns the camera off or on (video calls).
    pub(crate) fn set_camera(&self, on: bool) {
        if self.inner.media != CallMedia::Video {
            return;
        }
        for t in self.inner.local.get_video_tracks().iter() {
            t.unchecked_into::<MediaStreamTrack>().set_enabled(on);
        }
        let state = MediaState {
            camera: on,
            ..self.inner.port.local_media()
        };
        self.inner.report(state);
    }

    /// Starts or stops sharing the screen.
    pub(crate) fn set_screen(&self, on: bool) {
        self.push(Job::Screen(on));
    }

    /// Switches to another microphone, camera or speaker; the call goes on.
    pub(crate) fn switch(&self, kind: DeviceKind, id: String) {
        self.push(Job::Switch(kind, id));
    }

    /// Closes the connection and stops every local track. Idempotent.
    pub(crate) fn close(&self) {
        let i = &self.inner;
        if i.closed.replace(true) {
            return;
        }
        i.queue.borrow_mut().clear();
        i.listeners.borrow_mut().clear();
        let watch = i.watch.borrow_mut().take();
        drop(watch);
        let sampler = i.sampler.borrow_mut().take();
        drop(sampler);
        if let Some(pc) = i.pc.borrow_mut().take() {
            pc.close();
        }
        if let Some((screen, _, _)) = i.screen.borrow_mut().take() {
            devices::stop(&screen);
        }
        devices::stop(&i.local);
        i.view.own_stream(None);
        i.view.remote_stream(None);
    }

    fn push(&self, job: Job) {
        let i = &self.inner;
        if i.closed.get() {
            return;
        }
        i.queue.borrow_mut().push_back(job);
        if i.busy.replace(true) {
            return;
        }
        let this = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let job = this.inner.queue.borrow_mut().pop_front();
                let Some(job) = job else { break };
                if this.inner.closed.get() {
                    break;
                }
                let result = this.run(job).await;
                if let Err(why) = result {
                    this.fail(why);
                }
            }
            this.inner.busy.set(false);
        });
    }

    /// Gives up: says why in the chat, closes, hangs up with `failed`. Screen and device
    /// problems only say so; the call goes on.
    fn fail(&self, why: CallFailure) {
        let i = &self.inner;
        if i.closed.get() {
            return;
        }
        i.view.problem(why);
        if matches!(why, CallFailure::Screen | CallFailure::Device) {
            return;
        }
        self.close();
        i.port.hangup(HangupReason::Failed);
    }

    async fn run(&self, job: Job) -> Step {
        match job {
            Job::Event(CallEvent::Accepted { .. }) => {
                self.connect()?;
                self.offer().await
            }
            Job::Event(CallEvent::RemoteOffer { sdp, .. }) => self.answer(sdp).await,
            Job::Event(CallEvent::RemoteAnswer { sdp, .. }) => {
                // An answer to an offer a restart replaced finds nothing to answer.
                if self.pc()?.signaling_state() != RtcSignalingState::HaveLocalOffer {
                    return Ok(());
                }
                self.remote_description(RtcSdpType::Answer, &sdp).await?;
                self.settled();
                Ok(())
            }
            Job::Event(CallEvent::RemoteCandidate { candidate, .. }) => {
                let pc = self.pc()?;
                let init = web_sys::RtcIceCandidateInit::new(&candidate.candidate);
                init.set_sdp_mid(candidate.sdp_mid.as_deref());
                init.set_sdp_m_line_index(candidate.sdp_m_line_index);
                let p = if candidate.candidate.is_empty() {
                    pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(None)
                } else {
                    pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))
                };
                // A candidate that does not apply (say, for a stopped transceiver) is not
                // worth the call.
                let _ = wait(p).await;
                Ok(())
            }
            Job::Event(_) => Ok(()),
            Job::Screen(on) => self.screen(on).await,
            Job::Switch(kind, id) => self.switch_now(kind, id).await,
            Job::Restart => {
                let pc = self.pc()?;
                pc.unchecked_ref::<Pc>().restart_ice();
                let sdp = self.describe().await?;
                // Refused only if the link dropped meanwhile: the machine is unchanged and
                // the next look at the connection offers again.
                self.inner.port.local_offer(sdp);
                Ok(())
            }
        }
    }

    /// The connection's state changed: media flows, or the path broke (restart ICE at
    /// once when `failed`, after a grace when `disconnected`).
    /// `ice`: ICE's own event, which says nothing new of a connection that works unless a
    /// restart is under way.
    fn on_connection_state(&self, ice: bool) {
        let i = &self.inner;
        let Ok(pc) = self.pc() else { return };
        match pc.connection_state() {
            RtcPeerConnectionState::Connected if ice && !i.restarting.get() => {}
            RtcPeerConnectionState::Connected => {
                if !i.forced.get() {
                    let watch = i.watch.borrow_mut().take();
                    drop(watch);
                }
                i.restarting.set(false);
                i.view.connected();
            }
            RtcPeerConnectionState::Failed if !i.restarting.get() => self.look_in(0),
            RtcPeerConnectionState::Disconnected if i.watch.borrow().is_none() => {
                self.look_in(DISCONNECT_GRACE_MS);
            }
            _ => {}
        }
    }

    /// Restarts ICE now, as if the connection had failed.
    fn force_restart(&self) {
        self.inner.forced.set(true);
        self.look_in(0);
    }

    /// Looks at the connection in `ms` (replacing the pending look).
    fn look_in(&self, ms: u32) {
        let weak = Rc::downgrade(&self.inner);
        let timeout = Timeout::new(ms, move || {
            if let Some(inner) = weak.upgrade() {
                Rtc { inner }.look();
            }
        });
        let old = self.inner.watch.borrow_mut().replace(timeout);
        drop(old);
    }

    /// Restarts ICE if the connection is still down (or a restart was forced), once the
    /// signalling link is online; gives the call up after [`MAX_RESTARTS`].
    fn look(&self) {
        let i = &self.inner;
        if i.closed.get() {
            return;
        }
        let Ok(pc) = self.pc() else { return };
        if pc.connection_state() == RtcPeerConnectionState::Connected && !i.forced.get() {
            let watch = i.watch.borrow_mut().take();
            drop(watch);
            if i.restarting.replace(false) {
                i.view.connected();
            }
            return;
        }
        if i.restarts.get() >= MAX_RESTARTS {
            self.fail(CallFailure::Connection);
            return;
        }
        i.restarting.set(true);
        if !i.port.online() {
            // The offer goes out once the link is back.
            i.view.reconnecting(i.restarts.get() + 1);
            self.look_in(LINK_POLL_MS);
            return;
        }
        i.forced.set(false);
        let n = i.restarts.get() + 1;
        i.restarts.set(n);
        i.view.reconnecting(n);
        self.push(Job::Restart);
        self.look_in(RESTART_WAIT_MS * n);
    }

    /// A renegotiation finished: if it was a restart and media flows, say so.
    fn settled(&self) {
        let i = &self.inner;
        let connected = self
            .pc()
            .is_ok_and(|pc| pc.connection_state() == RtcPeerConnectionState::Connected);
        if connected && !i.forced.get() && i.restarting.replace(false) {
            i.view.connected();
        }
    }

    fn pc(&self) -> Result<RtcPeerConnection, CallFailure> {
        self.inner
            .pc
            .borrow()
            .clone()
            .ok_or(CallFailure::Negotiation)
    }

    /// Creates the peer connection with the server's ICE servers and the local tracks.
    fn connect(&self) -> Step {
        let i = &self.inner;
        let config = RtcConfiguration::new();
        // `RTCIceServer` dictionaries, built by hand (cheaper in wasm than serde_json).
        let servers = Array::new();
        for server in i.port.ice_servers() {
            let s = js_sys::Object::new();
            let urls: Array = server
                .urls
                .iter()
                .map(|u| JsValue::from(u.as_str()))
                .collect();
            let _ = Reflect::set(&s, &"urls".into(), &urls);
            for (key, value) in [
                ("username", &server.username),
                ("credential", &server.credential),
            ] {
                if let Some(v) = value {
                    let _ = Reflect::set(&s, &key.into(), &v.into());
                }
            }
            servers.push(&s);
        }
        config.set_ice_servers(&servers);
        let pc = RtcPeerConnection::new_with_configuration(&config)
            .map_err(|_| CallFailure::Unsupported)?;
        let weak = Rc::downgrade(i);
        let on_candidate = {
            let weak = weak.clone();
            EventListener::new(&pc, "icecandidate", move |e| {
                let (Some(i), Some(e)) = (weak.upgrade(), e.dyn_ref::<RtcPeerConnectionIceEvent>())
                else {
                    return;
                };
                let candidate = match e.candidate() {
                    Some(c) => IceCandidate {
                        candidate: c.candidate(),
                        sdp_mid: c.sdp_mid(),
                        sdp_m_line_index: c.sdp_m_line_index(),
                    },
                    None => IceCandidate {
                        candidate: String::new(),
                        sdp_mid: None,
                        sdp_m_line_index: None,
                    },
                };
                i.port.local_candidate(candidate);
            })
        };
        let on_track = {
            let weak = weak.clone();
            EventListener::new(&pc, "track", move |e| {
                let (Some(i), Some(e)) = (weak.upgrade(), e.dyn_ref::<RtcTrackEvent>()) else {
                    return;
                };
                let track = e.track();
                // One remote picture: a newer video track (say, the agent's screen)
                // replaces the older one.
                if track.kind() == "video" {
                    for old in i.remote.get_video_tracks().iter() {
                        i.remote.remove_track(&old.unchecked_into());
                    }
                }
                i.remote.add_track(&track);
                i.view.remote_stream(Some(&i.remote));
            })
        };
        // `connectionState` sums up ICE and DTLS; ICE's own event can come first.
        let on_state = ["connectionstatechange", "iceconnectionstatechange"].map(|name| {
            let weak = weak.clone();
            EventListener::new(&pc, name, move |_| {
                if let Some(inner) = weak.upgrade() {
                    Rtc { inner }.on_connection_state(name == "iceconnectionstatechange");
                }
            })
        });
        let [on_state, on_ice_state] = on_state;
        *i.listeners.borrow_mut() = vec![on_candidate, on_track, on_state, on_ice_state];
        for t in i.local.get_tracks().iter() {
            pc.add_track_0(&t.unchecked_into(), &i.local);
        }
        *i.pc.borrow_mut() = Some(pc);
        let ms = u32::try_from(SAMPLE_INTERVAL.as_millis()).unwrap_or(u32::MAX);
        let sampler = Interval::new(ms, move || {
            if let Some(inner) = weak.upgrade() {
                wasm_bindgen_futures::spawn_local(Rtc { inner }.sample());
            }
        });
        *i.sampler.borrow_mut() = Some(sampler);
        Ok(())
    }

    /// Reads `getStats()` and passes the figures to the machine (see
    /// [`StatsReading`] for which statistics count).
    async fn sample(self) {
        let Ok(pc) = self.pc() else { return };
        let Ok(report) = wait(pc.get_stats()).await else {
            return;
        };
        if self.inner.closed.get() {
            return;
        }
        let mut r = StatsReading::default();
        let sum = |field: &mut Option<u64>, v: Option<f64>| {
            if let Some(v) = v {
                // A negative `packetsLost` counts as none.
                *field = Some(field.unwrap_or(0) + v.max(0.0) as u64);
            }
        };
        let max = |field: &mut Option<u32>, v: Option<f64>| {
            if let Some(v) = v {
                *field = Some(field.unwrap_or(0).max(v.max(0.0) as u32));
            }
        };
        // Iterated as an array: cheaper in wasm than a `forEach` callback.
        let stats = Array::from(&report.unchecked_ref::<js_sys::Map>().values());
        for stat in stats.iter() {
            let num = |key: &str| Reflect::get(&stat, &key.into()).ok()?.as_f64();
            let text = |key: &str| Reflect::get(&stat, &key.into()).ok()?.as_string();
            match text("type").as_deref() {
                Some("candidate-pair")
                    if Reflect::get(&stat, &"nominated".into()).ok() == Some(JsValue::TRUE)
                        && text("state").as_deref() == Some("succeeded") =>
                {
                    max(
                        &mut r.rtt_ms,
                        num("currentRoundTripTime").map(|s| s * 1000.0),
                    );
                }
                Some("inbound-rtp") => {
                    sum(&mut r.packets_received, num("packetsReceived"));
                    sum(&mut r.packets_lost, num("packetsLost"));
                    sum(&mut r.bytes_received, num("bytesReceived"));
                    max(&mut r.jitter_ms, num("jitter").map(|s| s * 1000.0));
                    max(&mut r.width_px, num("frameWidth"));
                    max(&mut r.height_px, num("frameHeight"));
                }
                _ => {}
            }
        }
        // Refused only once the call is over.
        self.inner.port.call_stats(r);
    }

    /// Lets the browser make the offer or answer the state calls for
    /// (`setLocalDescription()` without arguments), and returns its SDP.
    async fn describe(&self) -> Result<String, CallFailure> {
        let pc = self.pc()?;
        wait(pc.unchecked_ref::<Pc>().set_local_description())
            .await
            .map_err(|_| CallFailure::Negotiation)?;
        pc.local_description()
            .map(|d| d.sdp())
            .ok_or(CallFailure::Negotiation)
    }

    async fn offer(&self) -> Step {
        let sdp = self.describe().await?;
        if self.inner.port.local_offer(sdp) {
            Ok(())
        } else {
            Err(CallFailure::Negotiation)
        }
    }

    async fn answer(&self, sdp: String) -> Step {
        self.remote_description(RtcSdpType::Offer, &sdp).await?;
        let sdp = self.describe().await?;
        if self.inner.port.local_answer(sdp) {
            Ok(())
        } else {
            Err(CallFailure::Negotiation)
        }
    }

    async fn remote_description(&self, kind: RtcSdpType, sdp: &str) -> Step {
        let pc = self.pc()?;
        let d = RtcSessionDescriptionInit::new(kind);
        d.set_sdp(sdp);
        wait(pc.set_remote_description(&d))
            .await
            .map_err(|_| CallFailure::Negotiation)?;
        Ok(())
    }

    async fn screen(&self, on: bool) -> Step {
        let i = &self.inner;
        let pc = self.pc()?;
        let sharing = i.screen.borrow().is_some();
        if on == sharing {
            return Ok(());
        }
        if on {
            let stream = match devices::screen().await {
                Ok(s) => s,
                // The visitor closed the picker: nothing to say.
                Err(MediaError::Denied) => {
                    i.view.media(i.port.local_media());
                    return Ok(());
                }
                Err(_) => {
                    i.view.media(i.port.local_media());
                    return Err(CallFailure::Screen);
                }
            };
            if i.closed.get() {
                devices::stop(&stream);
                return Ok(());
            }
            let track: MediaStreamTrack = stream.get_video_tracks().get(0).unchecked_into();
            let sender = pc.add_track_0(&track, &stream);
            // The browser's own "stop sharing" button ends the track.
            let weak = Rc::downgrade(i);
            let ended = EventListener::new(&track, "ended", move |_| {
                if let Some(inner) = weak.upgrade() {
                    Rtc { inner }.set_screen(false);
                }
            });
            *i.screen.borrow_mut() = Some((stream, sender, ended));
        } else {
            let Some((stream, sender, _)) = i.screen.borrow_mut().take() else {
                return Ok(());
            };
            pc.remove_track(&sender);
            devices::stop(&stream);
        }
        self.offer().await?;
        let state = MediaState {
            screen: on,
            ..i.port.local_media()
        };
        i.report(state);
        Ok(())
    }

    async fn switch_now(&self, kind: DeviceKind, id: String) -> Step {
        let i = &self.inner;
        if kind == DeviceKind::AudioOutput {
            i.view.speaker(&id);
            i.port.device_changed(kind);
            return Ok(());
        }
        if kind == DeviceKind::VideoInput && i.media != CallMedia::Video {
            return Ok(());
        }
        let track = devices::open_track(kind, &id)
            .await
            .map_err(|_| CallFailure::Device)?;
        if i.closed.get() {
            track.stop();
            return Ok(());
        }
        let media = i.port.local_media();
        track.set_enabled(match kind {
            DeviceKind::AudioInput => !media.muted,
            _ => media.camera,
        });
        let pc = self.pc().ok();
        let senders: Array = pc.map(|pc| pc.get_senders()).unwrap_or_default();
        for s in senders.iter() {
            let s: RtcRtpSender = s.unchecked_into();
            if s.track().is_some_and(|t| t.kind() == track.kind()) {
                wait(s.replace_track(Some(&track)))
                    .await
                    .map_err(|_| CallFailure::Device)?;
            }
        }
        let old: Array = if track.kind() == "audio" {
            i.local.get_audio_tracks()
        } else {
            i.local.get_video_tracks()
        };
        for t in old.iter() {
            let t: MediaStreamTrack = t.unchecked_into();
            t.stop();
            i.local.remove_track(&t);
        }
        i.local.add_track(&track);
        i.view.own_stream(Some(&i.local));
        i.port.device_changed(kind);
        Ok(())
    }
}

impl Inner {
    /// Tells the agent (and the view) the new media state.
    fn report(&self, state: MediaState) {
        // Refused only without a call or link; the view shows the state either way.
        self.port.set_media(state);
        self.view.media(state);
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// An `RTCPeerConnection`, for the one method web-sys only has in its old form.
    type Pc;
    /// `setLocalDescription()` without a description: the browser makes the offer or
    /// answer the signalling state calls for.
    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description(this: &Pc) -> js_sys::Promise;
    /// `restartIce()`: the next offer carries new ICE credentials (web-sys lacks it).
    #[wasm_bindgen(method, js_name = restartIce)]
    fn restart_ice(this: &Pc);
}
