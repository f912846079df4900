//! The JavaScript API for custom UIs: `InteractClient` (the `sdk` feature; the widget's
//! own frame uses `mountWidget`, in [`crate::widget`]). Events reach JavaScript as plain objects (`InteractEvent` in the generated
//! TypeScript declarations), built from the SDK's types with serde, or member by member
//! where they carry a `MediaStream`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use interact_sdk::CallEvent;
use interact_sdk::client::Event;
use interact_sdk::config::WidgetConfig;
use interact_sdk::form::{FieldProblem, PreChatForm};
use interact_sdk::ids::SessionId;
use interact_sdk::json::{FromJson, JsonError, JsonValue, field, optional};
use interact_sdk::protocol::{
    AgentInfo, CallMedia, EndReason, ErrorCode, EventFrame, HangupReason,
};
use interact_sdk::{Error, LinkState, VisitorState};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::driver::{Driver, DriverOptions};
use crate::headless::{media_event, object};
use crate::link::{self, CallHandle, CallLink, LinkHost};
use crate::port::Placed;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new InteractClient(options)`. */
export interface InteractClientOptions {
  /** The Interact server, `https://host[:port]` (no trailing slash). */
  server: string;
  /** The embed code (`ie1_...`). */
  code: string;
  /** Keep the resume token in sessionStorage once a chat started (needs consent, which
   * the pre-chat form always carries), so a page reload resumes the chat. Default true. */
  persist?: boolean;
}

/** The pre-chat form. `consent` is the privacy policy version the visitor accepted
 * (`config.privacy.version`), or null if they did not. */
export interface PreChatForm {
  displayName: string;
  email: string;
  consent: string | null;
  firstMessage?: string | null;
}

/** The widget configuration (docs/protocol.md §15). */
export interface WidgetConfig {
  target: { kind: "service" | "user"; display_name: string };
  modalities: Array<"chat" | "audio" | "video" | "screen_share">;
  privacy: { url: string; text: string; version: string };
  availability: "open" | "closed" | "no_agents" | "unknown";
  theme: { accent_color?: string; position?: "bottom_right" | "bottom_left" };
  languages: string[];
  /** Whether `emailTranscript()` is offered (the server sends email); absent means false. */
  transcript_email?: boolean;
  /** The largest file `sendFile` may send, in bytes; absent where files cannot be sent. */
  attachment_max_bytes?: number;
}

/** An agent as the visitor sees them. */
export interface AgentInfo { id: string; display_name: string }

/** A sequenced session event (docs/protocol.md §9); names and texts are plain text. */
export type SessionEvent =
  | { kind: "started"; visitor: { display_name: string; email: string }; consent: { policy_version: string; at: number }; target: WidgetConfig["target"] }
  | { kind: "message"; id: string; from: "visitor" | "agent" | "system"; author?: string; text: string }
  | { kind: "queued"; position: number }
  | { kind: "agent_joined"; agent: AgentInfo }
  | { kind: "agent_left"; agent: AgentInfo }
  | { kind: "transferred"; by?: AgentInfo; from: { kind: "service" | "user"; id: string; display_name: string }; to: { kind: "service" | "user"; id: string; display_name: string } }
  | { kind: "receipt"; by: "visitor" | "agent" | "system"; up_to: number; state: "delivered" | "read" }
  | { kind: "undelivered"; message: string; from: "visitor" | "agent" | "system"; reason: string }
  | { kind: "attachment"; id: string; from: "visitor" | "agent" | "system"; author?: string; name: string; mime: string; size: number }
  | { kind: "call"; from: "visitor" | "agent" | "system"; signal: { op: string; [key: string]: unknown } }
  | { kind: "ended"; reason: string }
  | { kind: "unknown" };

/** A field problem, as in docs/protocol.md §14. */
export interface FieldProblem { field: "display_name" | "email" | "consent" | "first_message" | "other"; code: string; max?: number; current?: string }

/** Everything a client reports, in order, to the `onEvent` callback. `event` events carry
 * the session's sequenced events (docs/protocol.md §9): render them to build the
 * transcript; each arrives exactly once, in order, also after reconnects and reloads. */
export type InteractEvent =
  | { type: "link"; state: "connecting" | "online" | "reconnecting" | "closed"; attempt?: number; code?: number }
  | { type: "config"; config: WidgetConfig }
  | { type: "state"; state: "loading" | "form" | "starting" | "queued" | "connected" | "ended"; position?: number; agent?: AgentInfo; reason?: string }
  | { type: "form_rejected"; fields: FieldProblem[] }
  | { type: "session_started"; session: string }
  | { type: "event"; session: string; seq: number; at: number; event: SessionEvent }
  | { type: "message_state"; id: string; state: "pending" | "sent" | "delivered" | "read" | "failed" }
  | { type: "typing"; active: boolean }
  | { type: "error"; code: string; message: string; id?: string }
  /** The after-chat request `id` (`rate`, `emailTranscript`) was carried out; a refusal
   * comes as `error` with the same `id`. */
  | { type: "done"; id: string }
  | CallEventJs;

/** A call's progress (`startCall`): `calling` until the agent accepts, `accepted` while
 * the media connects, `connected` once it flows, `reconnecting` when the media path broke
 * (a network change) and ICE restart number `attempt` is under way (`connected` follows
 * when media flows again), `ended` (with who hung up and why) when either side hangs up or
 * it failed. */
export type CallEventJs =
  | { type: "call"; state: "calling" | "accepted"; call: string; media: "audio" | "video" }
  | { type: "call"; state: "connected"; call: string }
  | { type: "call"; state: "reconnecting"; call: string; attempt: number }
  | { type: "call"; state: "ended"; call: string; reason: "normal" | "declined" | "no_answer" | "failed" | "busy" | "not_allowed" | "other"; by: "visitor" | "agent" | "system" }
  /** The agent muted, turned their camera off or shares their screen. */
  | { type: "call_media"; muted: boolean; camera: boolean; screen: boolean }
  /** The visitor's own media state after `setMuted`, `setCamera`, `shareScreen`. */
  | { type: "local_media"; muted: boolean; camera: boolean; screen: boolean }
  /** Show these: the visitor's own camera (mute it), and the agent's audio and video. */
  | { type: "local_stream"; stream: MediaStream | null }
  | { type: "remote_stream"; stream: MediaStream | null }
  /** Play the agent's audio on this output (`HTMLMediaElement.setSinkId`). */
  | { type: "speaker"; id: string }
  /** `connection`, `negotiation` and `unsupported` end the call (`ended` follows);
   * `screen` and `device` only mean that share or switch did not happen. */
  | { type: "call_problem"; problem: "connection" | "negotiation" | "screen" | "device" | "unsupported" };

/** A microphone, camera or speaker (labels only after the visitor allowed access). */
export interface MediaDevice { kind: "audioinput" | "videoinput" | "audiooutput"; id: string; label: string }
"#;

/// The JavaScript shape of an [`Event`].
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsEvent<'a> {
    Link {
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        attempt: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u16>,
    },
    Config {
        config: &'a WidgetConfig,
    },
    State {
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<&'a AgentInfo>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<EndReason>,
    },
    FormRejected {
        fields: &'a [FieldProblem],
    },
    SessionStarted {
        session: &'a SessionId,
    },
    Event(&'a EventFrame),
    MessageState {
        id: &'a interact_sdk::ids::MessageId,
        state: &'static str,
    },
    Typing {
        active: bool,
    },
    Error {
        code: &'a ErrorCode,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a interact_sdk::ids::MessageId>,
    },
    Done {
        id: &'a interact_sdk::ids::MessageId,
    },
}

impl<'a> JsEvent<'a> {
    fn from_event(event: &'a Event) -> Option<Self> {
        Some(match event {
            Event::Link(l) => match l {
                LinkState::Connecting => Self::Link {
                    state: "connecting",
                    attempt: None,
                    code: None,
                },
                LinkState::Online => Self::Link {
                    state: "online",
                    attempt: None,
                    code: None,
                },
                LinkState::Reconnecting { attempt, .. } => Self::Link {
                    state: "reconnecting",
                    attempt: Some(*attempt),
                    code: None,
                },
                LinkState::Closed { code } => Self::Link {
                    state: "closed",
                    attempt: None,
                    code: *code,
                },
                _ => return None,
            },
            Event::Config(config) => Self::Config { config },
            Event::State(s) => {
                let (state, position, agent, reason) = match s {
                    VisitorState::Loading => ("loading", None, None, None),
                    VisitorState::Form => ("form", None, None, None),
                    VisitorState::Starting => ("starting", None, None, None),
                    VisitorState::Queued { position } => ("queued", *position, None, None),
                    VisitorState::Connected { agent } => ("connected", None, Some(agent), None),
                    VisitorState::Ended { reason } => ("ended", None, None, Some(*reason)),
                    _ => return None,
                };
                Self::State {
                    state,
                    position,
                    agent,
                    reason,
                }
            }
            Event::FormRejected(errors) => Self::FormRejected {
                fields: &errors.fields,
            },
            Event::SessionStarted(session) => Self::SessionStarted { session },
            Event::Timeline(frame) => Self::Event(frame),
            Event::MessageState { id, state, .. } => Self::MessageState {
                id,
                state: state.as_str(),
            },
            Event::Typing { active, .. } => Self::Typing { active: *active },
            Event::ServerError(e) => Self::Error {
                code: &e.code,
                message: &e.message,
                id: e.id.as_ref(),
            },
            Event::Done(id) => Self::Done { id },
            _ => return None,
        })
    }
}

/// Serialises through JSON (serde_json is in the module anyway; no second serializer).
fn to_js<T: Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .unwrap_or(JsValue::NULL)
}

/// An SDK error as a JavaScript `Error` whose `name` says who is at fault
/// (`InvalidForm`, `InvalidText`, `ApiMisuse`) and, for forms, with a `fields` property.
fn js_error(e: Error) -> JsValue {
    let (name, fields) = match &e {
        Error::InvalidForm(f) => ("InvalidForm", Some(to_js(&f.fields))),
        Error::InvalidText(_) => ("InvalidText", None),
        Error::ApiMisuse(_) => ("ApiMisuse", None),
        Error::InvalidContext(_) => ("InvalidContext", None),
        _ => ("InteractError", None),
    };
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(name);
    if let Some(fields) = fields {
        let _ = js_sys::Reflect::set(&error, &"fields".into(), &fields);
    }
    error.into()
}

struct ClientOptions {
    server: String,
    code: String,
    persist: Option<bool>,
}

impl FromJson for ClientOptions {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        Ok(Self {
            server: field(json, "server")?,
            code: field(json, "code")?,
            persist: optional(json, "persist")?,
        })
    }
}

struct JsForm {
    display_name: String,
    email: String,
    consent: Option<String>,
    first_message: Option<String>,
}

impl FromJson for JsForm {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        Ok(Self {
            display_name: field(json, "displayName")?,
            email: field(json, "email")?,
            consent: optional(json, "consent")?,
            first_message: optional(json, "firstMessage")?,
        })
    }
}

/// A visitor's connection to an Interact service or user, for building your own UI.
///
/// ```js
/// import init, { InteractClient } from "https://chat.example.com/widget/pkg/interact_widget.js";
/// await init();
/// const client = new InteractClient({ server: "https://chat.example.com", code: "ie1_..." });
/// client.onEvent((e) => console.log(e));
/// await client.checkConfig();   // throws with a reason if this page may not use the code
/// client.connect();
/// ```
#[wasm_bindgen]
pub struct InteractClient {
    shared: Rc<Shared>,
    options: DriverOptions,
}

impl std::fmt::Debug for InteractClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What the client and the driver's listener share. The listener holds it weakly (the
/// driver holds the listener), so dropping the client frees all of it.
struct Shared {
    driver: Driver,
    callback: RefCell<Option<js_sys::Function>>,
    /// The call this page placed, in the call module (loaded by the first `startCall`).
    call: RefCell<Option<CallHandle>>,
    /// Where the call module comes from.
    server: String,
}

impl Shared {
    fn emit(&self, event: &JsValue) {
        let callback = self.callback.borrow().clone();
        if let Some(f) = callback {
            let _ = f.call1(&JsValue::NULL, event);
        }
    }

    /// The driver's event: to JavaScript, and a call's to its media.
    fn on_event(&self, event: &Event) {
        if let Some(e) = JsEvent::from_event(event) {
            self.emit(&to_js(&e));
        }
        match event {
            Event::Call { event, .. } => {
                let call = self.call.borrow().clone();
                match call {
                    Some(call) => call.handle(event),
                    // No media here for the call (placed before a reload): hang it up,
                    // so that a new one can be placed.
                    None if !matches!(event, CallEvent::Ended { .. }) => {
                        let _ = self.driver.hangup(HangupReason::Failed);
                    }
                    None => {}
                }
                if matches!(event, CallEvent::Ended { .. }) {
                    self.end_call();
                }
                if let Some(e) = call_event(event) {
                    self.emit(&e);
                }
            }
            Event::State(VisitorState::Ended { .. }) => self.end_call(),
            _ => {}
        }
    }

    /// Ends the media of the call this page placed, if any.
    fn end_call(&self) {
        let call = self.call.borrow_mut().take();
        if let Some(call) = call {
            call.call_end();
        }
    }
}

/// The JavaScript client behind the call module's [`CallLink`].
struct ClientHost(Weak<Shared>);

impl LinkHost for ClientHost {
    fn driver(&self) -> Option<Driver> {
        Some(self.0.upgrade()?.driver.clone())
    }

    fn confirm(&self, driver: &Driver, media: CallMedia) -> Result<Placed, JsValue> {
        let call = driver.start_call(media).map_err(js_error)?;
        // The call before this one ends first: its streams going away afterwards would
        // clear the new call's.
        if let Some(shared) = self.0.upgrade() {
            shared.end_call();
        }
        Ok(Placed::Call(call))
    }

    fn emit(&self, event: &JsValue) {
        if let Some(shared) = self.0.upgrade() {
            shared.emit(event);
        }
    }
}

/// The JavaScript event of an SDK call event, for those a custom UI shows.
fn call_event(event: &CallEvent) -> Option<JsValue> {
    Some(match event {
        CallEvent::Accepted { call, media } => object(&[
            ("type", "call".into()),
            ("state", "accepted".into()),
            ("call", call.as_str().into()),
            ("media", media.as_str().into()),
        ]),
        CallEvent::Ended { call, reason, by } => object(&[
            ("type", "call".into()),
            ("state", "ended".into()),
            ("call", call.as_str().into()),
            ("reason", to_js(reason)),
            ("by", to_js(by)),
        ]),
        CallEvent::RemoteMedia { state, .. } => media_event("call_media", *state),
        _ => return None,
    })
}

/// `Ok` if the call's media took the change.
fn done(taken: bool) -> Result<(), JsValue> {
    if taken {
        Ok(())
    } else {
        Err(api_misuse("no call in progress"))
    }
}

fn api_misuse(message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("ApiMisuse");
    e.into()
}

#[wasm_bindgen]
impl InteractClient {
    /// A client for one embed code; nothing happens until `connect()`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "InteractClientOptions")] options: JsValue,
    ) -> Result<InteractClient, JsError> {
        let o: ClientOptions = crate::json::from_js(&options, "options")?;
        let options = DriverOptions {
            server: o.server,
            code: o.code,
            persist: o.persist.unwrap_or(true),
            client: Some(concat!("interact-js/", env!("CARGO_PKG_VERSION")).to_owned()),
        };
        let driver = Driver::new(&options).map_err(|e| JsError::new(&e))?;
        let shared = Rc::new(Shared {
            driver,
            callback: RefCell::default(),
            call: RefCell::default(),
            server: options.server.trim_end_matches('/').to_owned(),
        });
        let weak = Rc::downgrade(&shared);
        shared.driver.set_listener(Rc::new(move |event| {
            if let Some(s) = weak.upgrade() {
                s.on_event(event);
            }
        }));
        Ok(Self { shared, options })
    }

    /// Calls `callback` with every event from now on (replacing an earlier callback).
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: InteractEvent) => void")]
        callback: js_sys::Function,
    ) {
        *self.shared.callback.borrow_mut() = Some(callback);
    }

    /// Asks the server for the widget configuration over HTTP, which says plainly what a
    /// WebSocket refusal cannot: rejects with `name` `UnknownCode` (unknown or revoked
    /// code, 404) or `OriginNotAllowed` (this page's origin is not in the code's Domain
    /// Template, 403).
    #[wasm_bindgen(js_name = checkConfig, unchecked_return_type = "WidgetConfig")]
    pub async fn check_config(&self) -> Result<JsValue, JsValue> {
        let code: String = js_sys::encode_uri_component(&self.options.code).into();
        let url = format!(
            "{}/v1/config?code={code}",
            self.options.server.trim_end_matches('/')
        );
        let fail = |name: &str, message: String| {
            let e = js_sys::Error::new(&message);
            e.set_name(name);
            JsValue::from(e)
        };
        let response = gloo_net::http::Request::get(&url)
            .send()
            .await
            .map_err(|e| fail("NetworkError", e.to_string()))?;
        let body = response.text().await.unwrap_or_default();
        match response.status() {
            200 => js_sys::JSON::parse(&body).map_err(|_| fail("InteractError", body)),
            404 => Err(fail(
                "UnknownCode",
                "this embed code is unknown or was revoked".into(),
            )),
            // A 403 comes without CORS headers, so the browser reports status 0 or a
            // network error; both mean the same here.
            403 | 0 => Err(fail(
                "OriginNotAllowed",
                "this website is not allowed to use this embed code (Domain Template)".into(),
            )),
            status => Err(fail(
                "InteractError",
                format!("the server answered {status}"),
            )),
        }
    }

    /// Opens the connection; events follow.
    pub fn connect(&self) {
        self.shared.driver.start();
    }

    /// The session state (`"loading"`, `"form"`, `"starting"`, `"queued"`, `"connected"`,
    /// `"ended"`).
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        match self.shared.driver.state() {
            VisitorState::Loading => "loading",
            VisitorState::Form => "form",
            VisitorState::Starting => "starting",
            VisitorState::Queued { .. } => "queued",
            VisitorState::Connected { .. } => "connected",
            VisitorState::Ended { .. } => "ended",
            _ => "unknown",
        }
        .to_owned()
    }

    /// The widget configuration once the server sent it, else `null`.
    #[wasm_bindgen(getter, unchecked_return_type = "WidgetConfig | null")]
    pub fn config(&self) -> JsValue {
        self.shared
            .driver
            .config()
            .map(|c| to_js(&c))
            .unwrap_or(JsValue::NULL)
    }

    /// Starts the chat with the pre-chat form; throws `InvalidForm` (with `fields`) if the
    /// SDK's checks fail, and nothing is sent then. With `{ call: "audio" | "video" }` the
    /// session starts as a call instead (call-first): it is routed as a call and rings at
    /// the agent's side; once `state` is `connected`, `pendingCall()` names the call to
    /// place with `startCall` (the chat stays available beside it).
    #[wasm_bindgen(js_name = startChat)]
    pub fn start_chat(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PreChatForm")] form: JsValue,
        // `| void`: TypeScript lets a caller leave out a trailing parameter whose type
        // takes `void` (wasm-bindgen writes no `?` for a type given here).
        #[wasm_bindgen(
            unchecked_param_type = "{ call?: \"audio\" | \"video\" } | undefined | void"
        )]
        options: JsValue,
    ) -> Result<(), JsValue> {
        let call = js_sys::Reflect::get(&options, &"call".into())
            .ok()
            .and_then(|v| v.as_string());
        let call = match call.as_deref() {
            None => None,
            Some("audio") => Some(CallMedia::Audio),
            Some("video") => Some(CallMedia::Video),
            Some(other) => return Err(api_misuse(&format!("unknown call media {other:?}"))),
        };
        let f: JsForm = crate::json::from_js(&form, "form").map_err(JsValue::from)?;
        let form = PreChatForm {
            display_name: f.display_name,
            email: f.email,
            consent: f.consent,
            first_message: f.first_message.filter(|m| !interact_sdk::form::is_blank(m)),
        };
        match call {
            Some(media) => self.shared.driver.start_with_call(form, media),
            None => self.shared.driver.start_chat(form),
        }
        .map_err(js_error)
    }

    /// Sets what the page says about the next chat, `{ page_url?, attributes? }`, sent
    /// with `startChat` and shown to the agent (see `WidgetHandle.setContext` for the
    /// bounds; an `InvalidContext` error if they are broken).
    #[wasm_bindgen(js_name = setContext)]
    pub fn set_context(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ page_url?: string; attributes?: Record<string, string> }"
        )]
        context: JsValue,
    ) -> Result<(), JsValue> {
        let context: interact_sdk::context::ChatContext =
            crate::json::from_js(&context, "context").map_err(JsValue::from)?;
        self.shared.driver.set_context(context).map_err(js_error)
    }

    /// Call-first: the call to place now with `startCall` (`"audio"` or `"video"`), once
    /// an agent accepted the session (or took it over after a transfer) and no call was
    /// placed with them yet; otherwise `null`.
    #[wasm_bindgen(js_name = pendingCall, unchecked_return_type = "\"audio\" | \"video\" | null")]
    pub fn pending_call(&self) -> JsValue {
        self.shared
            .driver
            .pending_call()
            .map_or(JsValue::NULL, |m| m.as_str().into())
    }

    /// Sends a chat message and returns its id (`message_state` events follow it).
    pub fn send(&self, text: &str) -> Result<String, JsValue> {
        self.shared
            .driver
            .send(text)
            .map(|id| id.as_str().to_owned())
            .map_err(js_error)
    }

    /// Tells the agent whether the visitor is typing.
    #[wasm_bindgen(js_name = setTyping)]
    pub fn set_typing(&self, active: bool) -> Result<(), JsValue> {
        self.shared.driver.typing(active).map_err(js_error)
    }

    /// Marks every message so far as read by the visitor.
    #[wasm_bindgen(js_name = markRead)]
    pub fn mark_read(&self) -> Result<(), JsValue> {
        self.shared.driver.mark_read().map_err(js_error)
    }

    /// Ends the chat.
    pub fn end(&self) -> Result<(), JsValue> {
        self.shared.driver.end().map_err(js_error)
    }

    /// After the chat ended: rates it, `score` 1 (bad) to 5 (very good) with an optional
    /// comment (at most 1000 characters, something visible), once per session. Returns
    /// the request's id; a `done` event with it follows, or an `error` with it. Throws if
    /// the chat has not ended, was rated already or the rating is invalid.
    pub fn rate(&self, score: u8, comment: Option<String>) -> Result<String, JsValue> {
        let comment = comment.filter(|c| !c.trim().is_empty());
        self.shared
            .driver
            .rate(score, comment.as_deref())
            .map(|id| id.as_str().to_owned())
            .map_err(js_error)
    }

    /// After the chat ended: has the server email the transcript to the address of the
    /// pre-chat form, once per session, where `config.transcript_email` is true. Returns
    /// the request's id, answered like `rate`'s.
    #[wasm_bindgen(js_name = emailTranscript)]
    pub fn email_transcript(&self) -> Result<String, JsValue> {
        self.shared
            .driver
            .email_transcript()
            .map(|id| id.as_str().to_owned())
            .map_err(js_error)
    }

    /// Sends a file (an image or a PDF of at most `config.attachment_max_bytes`) into the
    /// session; `onProgress(fraction)` hears how far the upload is. Resolves with the
    /// server's `{id, name, mime, size, seq}` (the `attachment` event follows on the
    /// timeline); rejects with an `Error` whose `name` is `FileRefused` and whose
    /// `status` is the HTTP status (`415` a type other than PNG, JPEG, GIF, WebP or PDF,
    /// `413` too large, `429` too many; `0` no answer), or `NoSession` before the chat
    /// started. docs/protocol.md §2.6.
    #[wasm_bindgen(js_name = sendFile, unchecked_return_type = "Promise<{ id: string; name: string; mime: string; size: number; seq: number }>")]
    pub fn send_file(
        &self,
        file: web_sys::File,
        // `| void`: optional in TypeScript (see `startChat`).
        #[wasm_bindgen(unchecked_param_type = "((fraction: number) => void) | undefined | void")]
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let creds = self.shared.driver.credentials();
        let server = self.shared.server.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            let Some(creds) = &creds else {
                let e = js_sys::Error::new("the chat has not started");
                e.set_name("NoSession");
                let _ = reject.call1(&JsValue::NULL, &e);
                return;
            };
            let name: String = js_sys::encode_uri_component(&file.name()).into();
            let url = crate::files::url(&server, creds, &format!("?name={name}"));
            let progress = on_progress.clone().map(|f| -> Box<dyn Fn(f64)> {
                Box::new(move |x| {
                    let _ = f.call1(&JsValue::NULL, &x.into());
                })
            });
            let (ok, fail) = (resolve.clone(), reject.clone());
            let sent = crate::files::request(
                &url,
                creds,
                Some(&file),
                progress,
                Box::new(move |status, body| match status {
                    201 => {
                        let value = body
                            .and_then(|b| js_sys::JSON::parse(&b).ok())
                            .unwrap_or(JsValue::NULL);
                        let _ = ok.call1(&JsValue::NULL, &value);
                    }
                    _ => {
                        let e =
                            js_sys::Error::new(&format!("the server refused the file ({status})"));
                        e.set_name("FileRefused");
                        let _ = js_sys::Reflect::set(&e, &"status".into(), &status.into());
                        let _ = fail.call1(&JsValue::NULL, &e);
                    }
                }),
            );
            if let Err(e) = sent {
                let _ = reject.call1(&JsValue::NULL, &e);
            }
        })
    }

    /// Fetches file `id` of the session (from an `attachment` event) with the visitor's
    /// credentials and resolves with a `blob:` URL for an `<img src>` or an
    /// `<a href download>` (revoke it with `URL.revokeObjectURL` when done). Rejects
    /// with a `FileRefused` error (its `status`) or `NoSession`.
    #[wasm_bindgen(js_name = fileUrl, unchecked_return_type = "Promise<string>")]
    pub fn file_url(&self, id: String) -> js_sys::Promise {
        let creds = self.shared.driver.credentials();
        let server = self.shared.server.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            let Some(creds) = &creds else {
                let e = js_sys::Error::new("the chat has not started");
                e.set_name("NoSession");
                let _ = reject.call1(&JsValue::NULL, &e);
                return;
            };
            let url = crate::files::url(
                &server,
                creds,
                &format!("/{}", js_sys::encode_uri_component(&id)),
            );
            let (ok, fail) = (resolve.clone(), reject.clone());
            let sent = crate::files::request(
                &url,
                creds,
                None,
                None,
                Box::new(move |status, blob| match blob {
                    Some(u) => {
                        let _ = ok.call1(&JsValue::NULL, &u.into());
                    }
                    None => {
                        let e = js_sys::Error::new(&format!(
                            "the file could not be fetched ({status})"
                        ));
                        e.set_name("FileRefused");
                        let _ = js_sys::Reflect::set(&e, &"status".into(), &status.into());
                        let _ = fail.call1(&JsValue::NULL, &e);
                    }
                }),
            );
            if let Err(e) = sent {
                let _ = reject.call1(&JsValue::NULL, &e);
            }
        })
    }

    /// Lists microphones, cameras and speakers. Browsers name them only once the visitor
    /// allowed access (after a first call, or `startCall`).
    #[wasm_bindgen(js_name = listDevices, unchecked_return_type = "MediaDevice[]")]
    pub async fn list_devices(&self) -> Result<JsValue, JsValue> {
        let module = link::call_module(&self.shared.server).await?;
        JsFuture::from(module.list_devices()).await
    }

    /// Calls the agent of the chat: opens the microphone (and, for `"video"`, the camera;
    /// the browser asks the visitor first), then places the call and returns its id.
    /// `call` events follow, and the streams to show come as `local_stream` and
    /// `remote_stream`. `devices` picks `audioinput` and `videoinput` ids from
    /// `listDevices()` (a gone one falls back to the default). Rejects with
    /// `NotAllowed`, `NotFound`, `InUse` or `Unsupported` when the devices cannot be
    /// opened, and with `ApiMisuse` without an agent in the chat or for a modality the
    /// target does not enable.
    #[wasm_bindgen(js_name = startCall)]
    pub async fn start_call(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"audio\" | \"video\"")] media: String,
        #[wasm_bindgen(
            // `| void`: optional in TypeScript (see `startChat`).
            unchecked_param_type = "{ audioinput?: string; videoinput?: string } | undefined | void"
        )]
        devices: JsValue,
    ) -> Result<String, JsValue> {
        let media = match media.as_str() {
            "audio" => CallMedia::Audio,
            "video" => CallMedia::Video,
            other => return Err(api_misuse(&format!("unknown call media {other:?}"))),
        };
        // Before the permission prompt: a call without an agent would only be refused.
        if !matches!(self.shared.driver.state(), VisitorState::Connected { .. }) {
            return Err(api_misuse("a call needs an agent in the chat"));
        }
        let module = link::call_module(&self.shared.server).await?;
        let link = CallLink::new(Rc::new(ClientHost(Rc::downgrade(&self.shared))));
        let call: CallHandle = JsFuture::from(module.start_call(link, media.as_str(), &devices))
            .await?
            .unchecked_into();
        let id = call.call_id();
        *self.shared.call.borrow_mut() = Some(call);
        Ok(id)
    }

    /// Hangs up the call.
    pub fn hangup(&self) -> Result<(), JsValue> {
        self.shared.end_call();
        self.shared
            .driver
            .hangup(HangupReason::Normal)
            .map_err(js_error)
    }

    /// Mutes or unmutes the visitor's microphone in the call.
    #[wasm_bindgen(js_name = setMuted)]
    pub fn set_muted(&self, muted: bool) -> Result<(), JsValue> {
        done(self.call()?.set_muted(muted))
    }

    /// Turns the visitor's camera off or on in a video call.
    #[wasm_bindgen(js_name = setCamera)]
    pub fn set_camera(&self, on: bool) -> Result<(), JsValue> {
        done(self.call()?.set_camera(on))
    }

    /// Starts sharing the screen (the browser asks which) or stops.
    #[wasm_bindgen(js_name = shareScreen)]
    pub fn share_screen(&self, on: bool) -> Result<(), JsValue> {
        done(self.call()?.share_screen(on))
    }

    /// Switches the call to another microphone, camera or speaker (an id from
    /// `listDevices()`) without dropping it.
    #[wasm_bindgen(js_name = switchDevice)]
    pub fn switch_device(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"audioinput\" | \"videoinput\" | \"audiooutput\"")]
        kind: String,
        id: String,
    ) -> Result<(), JsValue> {
        if !matches!(kind.as_str(), "audioinput" | "videoinput" | "audiooutput") {
            return Err(api_misuse(&format!("unknown device kind {kind:?}")));
        }
        done(self.call()?.switch_device(&kind, &id))
    }

    fn call(&self) -> Result<CallHandle, JsValue> {
        self.shared
            .call
            .borrow()
            .clone()
            .ok_or_else(|| api_misuse("no call in progress"))
    }

    /// Closes the connection for good (the session goes on on the server; a new client
    /// with `persist` resumes it). A call in progress ends.
    pub fn close(&self) {
        if self.shared.call.borrow().is_some() {
            let _ = self.shared.driver.hangup(HangupReason::Normal);
        }
        self.shared.end_call();
        self.shared.driver.stop();
    }
}
