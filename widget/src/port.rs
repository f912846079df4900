//! The seam between the chat path and the call module. The widget ships as two wasm
//! modules: the chat (the SDK's machine, its WebSocket, the form and the transcript), which
//! every visitor loads, and the call code (device step, peer connection, call panel),
//! loaded on the first call click. The call code reaches the session only through a
//! [`CallPort`]: in the page, the chat module's exported `CallLink` object, called across
//! the module boundary (the call module's `JsPort`); in tests, any implementation.

use interact_sdk::ids::CallId;
use interact_sdk::protocol::IceServer;
use interact_sdk::protocol::{CallMedia, DeviceKind, HangupReason, IceCandidate, MediaState};
use interact_sdk::quality::StatsReading;

use wasm_bindgen::JsValue;

use crate::i18n::CallFailure;

/// What a confirmed device step led to (see [`CallPort::confirm`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// The call is placed (it rings at the agent's side).
    Call(CallId),
    /// Call-first: the session started with the call and waits for an agent; the call is
    /// placed once one accepted ([`CallPort::pending_call`]).
    Waiting,
}

/// The session, as the call code sees it. Every method is cheap and never blocks.
pub trait CallPort {
    /// The visitor confirmed the device step for a call of `media`: starts the call-first
    /// session (if the step came from the form) or places the call. `Err` carries the
    /// refusal as a JavaScript `Error`; the widget's chat side has shown it already.
    fn confirm(&self, media: CallMedia) -> Result<Placed, JsValue>;
    /// Call-first: the call to place now (an agent accepted), if any.
    fn pending_call(&self) -> Option<CallMedia>;
    /// Call-first, nobody answered yet: hanging up ends the session.
    fn end_session(&self);
    /// The target allows screen sharing.
    fn screen_share(&self) -> bool;
    /// The signalling link is up (an ICE restart's offer waits for it).
    fn online(&self) -> bool;
    /// STUN and TURN servers for the peer connection.
    fn ice_servers(&self) -> Vec<IceServer>;
    /// The local SDP offer; `false` if the machine refused it.
    fn local_offer(&self, sdp: String) -> bool;
    /// The local SDP answer; `false` if the machine refused it.
    fn local_answer(&self, sdp: String) -> bool;
    /// A local ICE candidate.
    fn local_candidate(&self, candidate: IceCandidate);
    /// The visitor's mute, camera and screen state as the machine holds it.
    fn local_media(&self) -> MediaState;
    /// The visitor muted, turned the camera off or on, or shares the screen.
    fn set_media(&self, state: MediaState);
    /// The visitor switched a device.
    fn device_changed(&self, kind: DeviceKind);
    /// Hangs up the call.
    fn hangup(&self, reason: HangupReason);
    /// One `getStats()` reading for the call's quality summary.
    fn call_stats(&self, reading: StatsReading);
    /// The call UI shows (device step or call panel) or is gone: the chat hides its call
    /// buttons meanwhile.
    fn busy(&self, busy: bool);
    /// The call, or a part of it, failed: the transcript says why.
    fn problem(&self, why: CallFailure);
    /// The device step closed without a call (cancelled): a call-first start goes back to
    /// the form.
    fn cancelled(&self);
    /// An event for the JavaScript API's `onEvent` callback (a custom UI's call).
    fn emit(&self, event: &JsValue);
}
