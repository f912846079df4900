//! The JavaScript API of the console's package: `AgentConsole`, the SDK's agent machine
//! behind a browser WebSocket. Intents are methods; everything the machine says reaches
//! JavaScript as plain objects (`ConsoleEvent` in the generated TypeScript declarations),
//! built from the SDK's types with serde. No protocol frame crosses into JavaScript.

use std::cell::RefCell;
use std::rc::Rc;

use interact_sdk::call::CallEvent;
use interact_sdk::client::Event;
use interact_sdk::form::FieldError;
use interact_sdk::ids::{CallId, MessageId, SessionId};
use interact_sdk::protocol::{
    AgentInfo, CallMedia, DeviceKind, ErrorCode, EventFrame, HangupReason, IceCandidate, IceServer,
    MediaState, Offer, Party, Presence,
};
use interact_sdk::quality::{QualityRating, QualitySample, StatsReading};
use interact_sdk::time::UnixMillis;
use interact_sdk::{CallState, Error, LinkState};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::driver::{Driver, Report};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new AgentConsole(options)`. */
export interface AgentConsoleOptions {
  /** The bearer token from `POST /v1/agent/login`. */
  token: string;
  /** The presence the agent chose (sent after every welcome). Default "available". */
  presence?: Presence;
  /** The server, `http(s)://host[:port]`. Default: this page's origin. */
  server?: string;
}

export type Presence = "available" | "busy" | "away" | "offline";
export type Party = "visitor" | "agent" | "system";
export interface AgentInfo { id: string; display_name: string }
/**
 * The visitor. `email` is empty on channels without one; `channel` ("whatsapp") and
 * `phone` (E.164) are there for visitors who did not come through the widget;
 * `verified_id` is the website's id of a visitor it vouched for (identified visitors).
 */
export interface VisitorInfo { display_name: string; email: string; channel?: "whatsapp" | string; phone?: string; verified_id?: string }
export interface Target { kind: "service" | "user"; display_name: string }
/** A service or user by id, as `transferred` events name them. */
export interface TargetInfo { kind: "service" | "user"; id: string; display_name: string }

/** The connection: `at` (on the `performance.now()` clock) is when a reconnect starts. */
export interface Link {
  state: "connecting" | "online" | "reconnecting" | "closed";
  attempt?: number;
  at?: number;
  code?: number;
}

/** A sequenced session event (docs/protocol.md §9); names and texts are plain text. */
export type SessionEvent =
  | { kind: "started"; visitor: VisitorInfo; consent: { policy_version: string; at: number }; target: Target; call?: "audio" | "video" }
  | { kind: "message"; id: string; from: Party; author?: string; text: string }
  | { kind: "queued"; position: number }
  | { kind: "agent_joined"; agent: AgentInfo }
  | { kind: "agent_left"; agent: AgentInfo }
  | { kind: "transferred"; by?: AgentInfo; from: TargetInfo; to: TargetInfo }
  | { kind: "receipt"; by: Party; up_to: number; state: "delivered" | "read" }
  | { kind: "undelivered"; message: string; from: Party; reason: string }
  | { kind: "call"; from: Party; signal: { op: string; call: string; media?: "audio" | "video"; reason?: string } }
  | { kind: "ended"; reason: string }
  | { kind: "unknown" };

/** What the visitor's side of a call asks of the agent's `RTCPeerConnection`. */
export type CallEventJs =
  | { event: "incoming"; media: "audio" | "video" }
  | { event: "accepted"; media: "audio" | "video" }
  | { event: "remote_offer"; sdp: string; rollback: boolean }
  | { event: "remote_answer"; sdp: string }
  | { event: "remote_candidate"; candidate: RTCIceCandidateInit }
  | { event: "remote_media"; state: { muted: boolean; camera: boolean; screen: boolean } }
  | { event: "remote_device_changed"; kind: "audioinput" | "videoinput" | "audiooutput" }
  | { event: "ended"; reason: string; by: Party };

/** Everything the console reports, in order, to the `onEvent` callback. */
export type ConsoleEvent =
  | ({ type: "link" } & Link)
  | { type: "signed_in"; agent: AgentInfo }
  | { type: "offer"; session: string; visitor: VisitorInfo; target: Target; first_message?: string; call?: "audio" | "video"; expires_at: number }
  | { type: "offer_withdrawn"; session: string }
  | { type: "presence"; presence: Presence }
  | { type: "timeline"; session: string; seq: number; at: number; event: SessionEvent }
  | { type: "message_state"; session: string; id: string; state: "pending" | "sent" | "delivered" | "read" | "failed" }
  | { type: "typing"; session: string; active: boolean }
  | ({ type: "call"; session: string; call: string } & CallEventJs)
  | { type: "ice_servers"; servers: RTCIceServer[]; expires_at?: number }
  | { type: "error"; code: string; message: string; session?: string; id?: string; fatal: boolean }
  | { type: "accept_refused"; session: string; code: string }
  | { type: "sessions"; sessions: Array<{ session: string; ended: boolean }> };

/**
 * One reading of `RTCPeerConnection.getStats()` (integers; leave out what is missing):
 * `currentRoundTripTime` of the selected candidate pair and the largest inbound `jitter`
 * in ms, the inbound-rtp streams' `packetsReceived`, `packetsLost` and `bytesReceived`
 * summed (cumulative), the inbound video's `frameWidth` and `frameHeight`.
 */
export interface CallStatsReading {
  rtt_ms?: number;
  jitter_ms?: number;
  packets_received?: number;
  packets_lost?: number;
  bytes_received?: number;
  width_px?: number;
  height_px?: number;
}

/**
 * The call's quality now: the median of each figure over the last samples (null where
 * none had it) and their rating (null without round-trip time, loss or jitter).
 */
export interface CallQuality {
  rating: "good" | "fair" | "poor" | null;
  rtt_ms: number | null;
  jitter_ms: number | null;
  loss_permille: number | null;
  bitrate_kbps: number | null;
  width_px: number | null;
  height_px: number | null;
}

/** A session's call as the machine has it. */
export type CallStateJs =
  | { state: "idle" }
  | { state: "ringing"; call: string; media: "audio" | "video" }
  | { state: "negotiating" | "active"; call: string; media: "audio" | "video" };
"#;

/// The JavaScript shape of a [`Report`].
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsEvent<'a> {
    Link(JsLink),
    SignedIn {
        agent: &'a AgentInfo,
    },
    Offer(&'a Offer),
    OfferWithdrawn {
        session: &'a SessionId,
    },
    Presence {
        presence: Presence,
    },
    Timeline(&'a EventFrame),
    MessageState {
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<&'a SessionId>,
        id: &'a MessageId,
        state: &'static str,
    },
    Typing {
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<&'a SessionId>,
        active: bool,
    },
    Call(JsCall<'a>),
    IceServers {
        servers: &'a [IceServer],
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<UnixMillis>,
    },
    Error {
        code: ErrorCode,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<&'a SessionId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a MessageId>,
        fatal: bool,
    },
    AcceptRefused {
        session: &'a SessionId,
        code: ErrorCode,
    },
    Sessions {
        sessions: Vec<JsSession<'a>>,
    },
}

/// The link, as the `link` event and the `link` getter give it.
#[derive(Serialize)]
struct JsLink {
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    /// When the reconnect starts, on the `performance.now()` clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

impl JsLink {
    fn new(link: &LinkState) -> Self {
        let (state, attempt, at, code) = match link {
            LinkState::Connecting => ("connecting", None, None, None),
            LinkState::Online => ("online", None, None, None),
            LinkState::Reconnecting { attempt, at } => {
                ("reconnecting", Some(*attempt), Some(at.as_millis()), None)
            }
            LinkState::Closed { code } => ("closed", None, None, *code),
            _ => ("unknown", None, None, None),
        };
        Self {
            state,
            attempt,
            at,
            code,
        }
    }
}

#[derive(Serialize)]
struct JsSession<'a> {
    session: &'a SessionId,
    ended: bool,
}

/// A call event of one session: `event` says what, the other members carry its data.
#[derive(Serialize)]
struct JsCall<'a> {
    session: Option<&'a SessionId>,
    call: &'a CallId,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<CallMedia>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollback: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<JsCandidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<MediaState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<HangupReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<Party>,
}

/// An ICE candidate as `RTCIceCandidateInit` spells it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsCandidate {
    candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdp_m_line_index: Option<u16>,
}

impl<'a> JsCall<'a> {
    fn new(session: Option<&'a SessionId>, event: &'a CallEvent) -> Option<Self> {
        let c = |call: &'a CallId, name: &'static str| Self {
            session,
            call,
            event: name,
            media: None,
            sdp: None,
            rollback: None,
            candidate: None,
            state: None,
            kind: None,
            reason: None,
            by: None,
        };
        Some(match event {
            CallEvent::Incoming { call, media } => Self {
                media: Some(*media),
                ..c(call, "incoming")
            },
            CallEvent::Accepted { call, media } => Self {
                media: Some(*media),
                ..c(call, "accepted")
            },
            CallEvent::RemoteOffer {
                call,
                sdp,
                rollback,
            } => Self {
                sdp: Some(sdp),
                rollback: Some(*rollback),
                ..c(call, "remote_offer")
            },
            CallEvent::RemoteAnswer { call, sdp } => Self {
                sdp: Some(sdp),
                ..c(call, "remote_answer")
            },
            CallEvent::RemoteCandidate { call, candidate } => Self {
                candidate: Some(JsCandidate {
                    candidate: candidate.candidate.clone(),
                    sdp_mid: candidate.sdp_mid.clone(),
                    sdp_m_line_index: candidate.sdp_m_line_index,
                }),
                ..c(call, "remote_candidate")
            },
            CallEvent::RemoteMedia { call, state } => Self {
                state: Some(*state),
                ..c(call, "remote_media")
            },
            CallEvent::RemoteDeviceChanged { call, kind } => Self {
                kind: Some(browser_kind(*kind)),
                ..c(call, "remote_device_changed")
            },
            CallEvent::Ended { call, reason, by } => Self {
                reason: Some(*reason),
                by: Some(*by),
                ..c(call, "ended")
            },
            _ => return None,
        })
    }
}

impl<'a> JsEvent<'a> {
    fn from_report(report: &'a Report) -> Option<Self> {
        let event = match report {
            Report::Event(event) => event,
            Report::Sessions(sessions) => {
                return Some(Self::Sessions {
                    sessions: sessions
                        .iter()
                        .map(|(session, ended)| JsSession {
                            session,
                            ended: *ended,
                        })
                        .collect(),
                });
            }
            Report::AcceptRefused { session, code } => {
                return Some(Self::AcceptRefused {
                    session,
                    code: *code,
                });
            }
        };
        Some(match event {
            Event::Link(link) => Self::Link(JsLink::new(link)),
            Event::SignedIn(agent) => Self::SignedIn { agent },
            Event::Offered(offer) => Self::Offer(offer),
            Event::OfferWithdrawn(session) => Self::OfferWithdrawn { session },
            Event::Presence(presence) => Self::Presence {
                presence: *presence,
            },
            Event::Timeline(frame) => Self::Timeline(frame),
            Event::MessageState { session, id, state } => Self::MessageState {
                session: session.as_ref(),
                id,
                state: state.as_str(),
            },
            Event::Typing { session, active } => Self::Typing {
                session: session.as_ref(),
                active: *active,
            },
            Event::Call { session, event } => Self::Call(JsCall::new(session.as_ref(), event)?),
            Event::IceServers {
                servers,
                expires_at,
            } => Self::IceServers {
                servers,
                expires_at: *expires_at,
            },
            Event::ServerError(e) => Self::Error {
                code: e.code,
                message: &e.message,
                session: e.session.as_ref(),
                id: e.id.as_ref(),
                fatal: e.fatal,
            },
            // Visitor events never come from the agent machine.
            _ => return None,
        })
    }
}

/// A report as the plain JavaScript object the `onEvent` callback gets, or `None` for
/// what the console does not show.
pub fn report_to_js(report: &Report) -> Option<JsValue> {
    JsEvent::from_report(report).map(|e| to_js(&e))
}

/// Serialises through JSON (serde_json is in the module anyway; no second serializer).
fn to_js<T: Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .unwrap_or(JsValue::NULL)
}

fn from_js<T: for<'de> Deserialize<'de>>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    let text: String = js_sys::JSON::stringify(value)
        .map_err(|_| misuse(&format!("{what}: not serialisable")))?
        .into();
    serde_json::from_str(&text).map_err(|e| misuse(&format!("{what}: {e}")))
}

/// A JavaScript `Error` named `ApiMisuse`: the call made no sense now.
fn misuse(message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("ApiMisuse");
    e.into()
}

/// An SDK error as a JavaScript `Error` whose `name` says who is at fault: `InvalidText`
/// (with `code` `required`, `too_long` (and `max`) or `control_characters`) or
/// `ApiMisuse`.
fn js_error(e: Error) -> JsValue {
    let Error::InvalidText(problem) = &e else {
        return misuse(&e.to_string());
    };
    let error = js_sys::Error::new(&e.to_string());
    error.set_name("InvalidText");
    let (code, max) = match problem {
        FieldError::Required => ("required", None),
        FieldError::TooLong { max } => ("too_long", Some(*max)),
        FieldError::ControlCharacters => ("control_characters", None),
        _ => ("invalid", None),
    };
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    if let Some(max) = max {
        let _ = js_sys::Reflect::set(&error, &"max".into(), &(max as f64).into());
    }
    error.into()
}

fn session_id(session: &str) -> Result<SessionId, JsValue> {
    SessionId::new(session).map_err(|_| misuse("not a session id"))
}

fn presence(name: &str) -> Option<Presence> {
    Some(match name {
        "available" => Presence::Available,
        "busy" => Presence::Busy,
        "away" => Presence::Away,
        "offline" => Presence::Offline,
        _ => return None,
    })
}

/// A device kind as the browser names it.
fn browser_kind(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::AudioInput => "audioinput",
        DeviceKind::VideoInput => "videoinput",
        DeviceKind::AudioOutput => "audiooutput",
    }
}

#[derive(Deserialize)]
struct Options {
    token: String,
    #[serde(default)]
    presence: Option<String>,
    #[serde(default)]
    server: Option<String>,
}

#[derive(Deserialize)]
struct JsMedia {
    muted: bool,
    camera: bool,
    screen: bool,
}

/// The JavaScript shape of the call's quality (`CallQuality`).
#[derive(Serialize)]
struct JsQuality {
    rating: Option<&'static str>,
    #[serde(flatten)]
    recent: QualitySample,
}

/// The agent console's connection to the server: the SDK's `Agent` machine on a browser
/// WebSocket, with one timer on the `performance.now()` clock.
///
/// ```js
/// import init, { AgentConsole } from "/console/pkg/interact_console.js";
/// await init();
/// const agent = new AgentConsole({ token, presence: "available" });
/// agent.onEvent((e) => render(e));
/// agent.connect();
/// agent.accept(sessionId);               // after an `offer` event
/// agent.send(sessionId, "Hello!");       // `message_state` events follow
/// ```
#[wasm_bindgen]
pub struct AgentConsole {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for AgentConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConsole")
            .field("driver", &self.shared.driver)
            .finish_non_exhaustive()
    }
}

/// What the console object and the driver's listener share. The listener holds it
/// weakly (the driver holds the listener), so dropping the console frees all of it.
struct Shared {
    driver: Driver,
    callback: RefCell<Option<js_sys::Function>>,
}

impl Shared {
    fn on_report(&self, report: &Report) {
        let Some(event) = report_to_js(report) else {
            return;
        };
        let callback = self.callback.borrow().clone();
        if let Some(f) = callback {
            // An exception in the callback is the page's; the machine goes on.
            let _ = f.call1(&JsValue::NULL, &event);
        }
    }
}

#[wasm_bindgen]
impl AgentConsole {
    /// A console for the agent signed in with `token`; nothing happens until
    /// `connect()`. Throws `ApiMisuse` for options it cannot use.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "AgentConsoleOptions")] options: JsValue,
    ) -> Result<AgentConsole, JsValue> {
        let o: Options = from_js(&options, "options")?;
        if o.token.is_empty() {
            return Err(misuse("options: an empty token"));
        }
        let chosen = match o.presence.as_deref() {
            None => Presence::Available,
            Some(p) => presence(p).ok_or_else(|| misuse(&format!("unknown presence {p:?}")))?,
        };
        let server = match o.server {
            Some(s) => s,
            None => web_sys::window()
                .and_then(|w| w.location().origin().ok())
                .ok_or_else(|| misuse("options: no server and no page origin"))?,
        };
        let driver = Driver::new(&server, o.token, chosen).map_err(|e| misuse(&e))?;
        let shared = Rc::new(Shared {
            driver,
            callback: RefCell::default(),
        });
        let weak = Rc::downgrade(&shared);
        shared.driver.set_listener(Rc::new(move |report| {
            if let Some(s) = weak.upgrade() {
                s.on_report(report);
            }
        }));
        Ok(Self { shared })
    }

    /// Calls `callback` with every event from now on (replacing an earlier callback).
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: ConsoleEvent) => void")]
        callback: js_sys::Function,
    ) {
        *self.shared.callback.borrow_mut() = Some(callback);
    }

    /// Opens the connection; events follow.
    pub fn connect(&self) {
        self.shared.driver.start();
    }

    /// Closes the connection for good (signing out) and stops every timer.
    pub fn close(&self) {
        self.shared.driver.stop();
    }

    fn act<T>(
        &self,
        f: impl FnOnce(&mut interact_sdk::Agent, interact_sdk::time::Instant) -> Result<T, Error>,
    ) -> Result<T, JsValue> {
        self.shared.driver.act(f).map_err(js_error)
    }

    /// The connection state (`at` on the `performance.now()` clock).
    #[wasm_bindgen(getter, unchecked_return_type = "Link")]
    pub fn link(&self) -> JsValue {
        self.shared.driver.with(|a| to_js(&JsLink::new(a.link())))
    }

    /// Whether the connection is online (intents that send need it).
    #[wasm_bindgen(getter)]
    pub fn online(&self) -> bool {
        self.shared
            .driver
            .with(|a| matches!(a.link(), LinkState::Online))
    }

    /// Who signed in, once the server said; else `null`.
    #[wasm_bindgen(getter, unchecked_return_type = "AgentInfo | null")]
    pub fn me(&self) -> JsValue {
        self.shared
            .driver
            .with(|a| a.me().map(to_js).unwrap_or(JsValue::NULL))
    }

    /// The presence last chosen here or set by the server.
    #[wasm_bindgen(getter, unchecked_return_type = "Presence")]
    pub fn presence(&self) -> String {
        self.shared
            .driver
            .with(|a| to_js(&a.presence()).as_string().unwrap_or_default())
    }

    /// The ICE servers for the next call (`RTCIceServer` objects; empty until the server
    /// sent some).
    #[wasm_bindgen(getter, js_name = iceServers, unchecked_return_type = "RTCIceServer[]")]
    pub fn ice_servers(&self) -> JsValue {
        self.shared.driver.with(|a| to_js(&a.ice_servers()))
    }

    /// The sessions the agent handles, each with whether it has ended.
    #[wasm_bindgen(unchecked_return_type = "Array<{ session: string; ended: boolean }>")]
    pub fn sessions(&self) -> JsValue {
        self.shared.driver.with(|a| {
            let list: Vec<JsSession<'_>> = a
                .sessions()
                .map(|(session, ended)| JsSession { session, ended })
                .collect();
            to_js(&list)
        })
    }

    /// The call in `session` as the machine has it.
    #[wasm_bindgen(js_name = callState, unchecked_return_type = "CallStateJs")]
    pub fn call_state(&self, session: &str) -> Result<JsValue, JsValue> {
        let session = session_id(session)?;
        Ok(self.shared.driver.with(|a| {
            let (state, call, media) = match a.call_state(&session) {
                Some(CallState::Ringing { call, media, .. }) => {
                    ("ringing", Some(call), Some(media))
                }
                Some(CallState::Negotiating { call, media }) => {
                    ("negotiating", Some(call), Some(media))
                }
                Some(CallState::Active { call, media }) => ("active", Some(call), Some(media)),
                _ => ("idle", None, None),
            };
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"state".into(), &state.into());
            if let (Some(call), Some(media)) = (call, media) {
                let _ = js_sys::Reflect::set(&o, &"call".into(), &call.as_str().into());
                let _ = js_sys::Reflect::set(&o, &"media".into(), &media.as_str().into());
            }
            o.into()
        }))
    }

    /// Whether messages are waiting for the server's acknowledgement (a page about to
    /// unload would lose them).
    #[wasm_bindgen(js_name = hasUnsent)]
    pub fn has_unsent(&self) -> bool {
        self.shared.driver.with(interact_sdk::Agent::has_unsent)
    }

    /// Reconnects at once: while waiting to reconnect, or after a close.
    #[wasm_bindgen(js_name = reconnectNow)]
    pub fn reconnect_now(&self) -> Result<(), JsValue> {
        self.act(|a, now| a.reconnect_now(now))
    }

    /// Sets the agent's presence (sent now if online, and after every reconnect).
    #[wasm_bindgen(js_name = setPresence)]
    pub fn set_presence(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Presence")] value: &str,
    ) -> Result<(), JsValue> {
        let p = presence(value).ok_or_else(|| misuse(&format!("unknown presence {value:?}")))?;
        self.act(|a, now| {
            a.set_presence(now, p);
            Ok(())
        })
    }

    /// Accepts an offered session; its transcript follows as `timeline` events.
    pub fn accept(&self, session: &str) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.accept(now, &s))
    }

    /// Declines an offered session; it goes to another agent.
    pub fn decline(&self, session: &str) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.decline(now, &s))
    }

    /// Sends a chat message and returns its id (`message_state` events follow it). Throws
    /// `InvalidText` (with `code`) for text the server would refuse, `ApiMisuse` for an
    /// ended session or one the agent does not handle.
    pub fn send(&self, session: &str, text: &str) -> Result<String, JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.send_message(now, &s, text))
            .map(|id| id.as_str().to_owned())
    }

    /// Tells the visitor whether the agent is typing (throttled by the machine).
    #[wasm_bindgen(js_name = setTyping)]
    pub fn set_typing(&self, session: &str, active: bool) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.set_typing(now, &s, active))
    }

    /// The agent has seen everything in `session` so far (a `read` receipt if new).
    #[wasm_bindgen(js_name = markRead)]
    pub fn mark_read(&self, session: &str) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, _| a.mark_read(&s))
    }

    /// Ends the chat in `session`.
    pub fn end(&self, session: &str) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.end(now, &s))
    }

    /// Transfers `session` to the service or user `id` (`kind` `"service"` or `"user"`;
    /// `GET /v1/agent/transfer-targets` lists them). The session's `transferred` and
    /// `agent_left` timeline events follow, after which it is over for this agent (ended
    /// in `sessions`); or an `error` (`not_allowed`, `invalid_field`) and it stays.
    /// Throws `ApiMisuse` for an unknown kind, an ended session or one the agent does not
    /// handle.
    pub fn transfer(
        &self,
        session: &str,
        #[wasm_bindgen(unchecked_param_type = "\"service\" | \"user\"")] kind: &str,
        id: &str,
    ) -> Result<(), JsValue> {
        let s = session_id(session)?;
        let kind = match kind {
            "service" => interact_sdk::config::TargetKind::Service,
            "user" => interact_sdk::config::TargetKind::User,
            _ => return Err(misuse(&format!("unknown target kind {kind:?}"))),
        };
        let id = interact_sdk::ids::TargetId::new(id).map_err(|_| misuse("not a target id"))?;
        let to = interact_sdk::protocol::TransferTarget { kind, id };
        self.act(|a, now| a.transfer(now, &s, to))
    }

    /// Drops an ended session (its tab was closed).
    pub fn forget(&self, session: &str) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, _| {
            a.forget(&s);
            Ok(())
        })
    }

    /// Accepts the call ringing in `session` (open the devices first, so that the
    /// answer carries them); the visitor's offer follows as a `remote_offer` call event.
    #[wasm_bindgen(js_name = acceptCall)]
    pub fn accept_call(&self, session: &str) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.accept_call(now, &s))
    }

    /// Passes the local SDP offer (renegotiation).
    #[wasm_bindgen(js_name = localOffer)]
    pub fn local_offer(&self, session: &str, sdp: String) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.local_offer(now, &s, sdp))
    }

    /// Passes the local SDP answer to a `remote_offer`.
    #[wasm_bindgen(js_name = localAnswer)]
    pub fn local_answer(&self, session: &str, sdp: String) -> Result<(), JsValue> {
        let s = session_id(session)?;
        self.act(|a, now| a.local_answer(now, &s, sdp))
    }

    /// Passes a local ICE candidate (`RTCIceCandidate.toJSON()`), or `null` at the end
    /// of gathering.
    #[wasm_bindgen(js_name = localCandidate)]
    pub fn local_candidate(
        &self,
        session: &str,
        #[wasm_bindgen(unchecked_param_type = "RTCIceCandidateInit | null")] candidate: JsValue,
    ) -> Result<(), JsValue> {
        let s = session_id(session)?;
        let candidate = if candidate.is_null() || candidate.is_undefined() {
            IceCandidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_m_line_index: None,
            }
        } else {
            let c: JsCandidate = from_js(&candidate, "candidate")?;
            IceCandidate {
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_m_line_index: c.sdp_m_line_index,
            }
        };
        self.act(|a, now| a.local_candidate(now, &s, candidate))
    }

    /// Reports the agent's mute, camera and screen-share state.
    #[wasm_bindgen(js_name = setMedia)]
    pub fn set_media(
        &self,
        session: &str,
        #[wasm_bindgen(
            unchecked_param_type = "{ muted: boolean; camera: boolean; screen: boolean }"
        )]
        state: JsValue,
    ) -> Result<(), JsValue> {
        let s = session_id(session)?;
        let m: JsMedia = from_js(&state, "state")?;
        let state = MediaState {
            muted: m.muted,
            camera: m.camera,
            screen: m.screen,
        };
        self.act(|a, now| a.set_media(now, &s, state))
    }

    /// Reports that the agent switched a device (`audioinput`, `videoinput`,
    /// `audiooutput`).
    #[wasm_bindgen(js_name = deviceChanged)]
    pub fn device_changed(
        &self,
        session: &str,
        #[wasm_bindgen(unchecked_param_type = "\"audioinput\" | \"videoinput\" | \"audiooutput\"")]
        kind: &str,
    ) -> Result<(), JsValue> {
        let s = session_id(session)?;
        let kind = [
            DeviceKind::AudioInput,
            DeviceKind::VideoInput,
            DeviceKind::AudioOutput,
        ]
        .into_iter()
        .find(|k| browser_kind(*k) == kind)
        .ok_or_else(|| misuse(&format!("unknown device kind {kind:?}")))?;
        self.act(|a, now| a.device_changed(now, &s, kind))
    }

    /// Takes a quality sample of the answered call in `session` from a `getStats()`
    /// reading (every 2 s): the machine sends the call's quality summary every 30 s and
    /// when the call ends. Returns the call's quality now, for the indicator.
    #[wasm_bindgen(js_name = callStats, unchecked_return_type = "CallQuality")]
    pub fn call_stats(
        &self,
        session: &str,
        #[wasm_bindgen(unchecked_param_type = "CallStatsReading")] reading: JsValue,
    ) -> Result<JsValue, JsValue> {
        let s = session_id(session)?;
        let reading: StatsReading = from_js(&reading, "reading")?;
        let rating = self.act(|a, now| a.call_stats(now, &s, reading))?;
        let recent = self
            .shared
            .driver
            .with(|a| a.call_quality(&s))
            .unwrap_or_default();
        Ok(to_js(&JsQuality {
            rating: rating.map(QualityRating::as_str),
            recent,
        }))
    }

    /// Hangs up the call in `session`: `normal`, `declined` (a ringing call the agent
    /// does not take) or `failed` (the media could not be set up).
    pub fn hangup(
        &self,
        session: &str,
        #[wasm_bindgen(unchecked_param_type = "\"normal\" | \"declined\" | \"failed\"")]
        reason: &str,
    ) -> Result<(), JsValue> {
        let s = session_id(session)?;
        let reason = match reason {
            "normal" => HangupReason::Normal,
            "declined" => HangupReason::Declined,
            "failed" => HangupReason::Failed,
            "busy" => HangupReason::Busy,
            "no_answer" => HangupReason::NoAnswer,
            other => return Err(misuse(&format!("unknown hang-up reason {other:?}"))),
        };
        self.act(|a, now| a.hangup(now, &s, reason))
    }
}
