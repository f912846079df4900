//! The browser driver of the SDK's [`Visitor`] machine: a WebSocket, one timer and the
//! clock, wired to the machine exactly as its driving contract says (see the
//! `interact_sdk` crate docs). This module and `storage.rs` are the only places
//! where the widget does IO.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};

pub use interact_browser::now;
use interact_browser::{Socket, Timer, seed, socket_url};
use interact_sdk::client::{Event, Input, Output};
use interact_sdk::config::WidgetConfig;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{CallId, MessageId};
use interact_sdk::protocol::{
    CallMedia, DeviceKind, HangupReason, IceCandidate, IceServer, MediaState,
};
use interact_sdk::quality::{QualityRating, StatsReading};
use interact_sdk::time::Instant;
use interact_sdk::{Error, LinkState, Visitor, VisitorOptions, VisitorState};

use crate::json::BrowserJson;

use crate::storage::ResumeStore;

/// What a driver tells its application: every [`Event`] of the machine, in order.
pub type Listener = Rc<dyn Fn(&Event)>;

/// How to reach the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverOptions {
    /// The server's base URL, `http(s)://host[:port]`, without a trailing slash.
    pub server: String,
    /// The embed code.
    pub code: String,
    /// Keep the resume token in `sessionStorage` once a session has started (which needs
    /// the visitor's consent), so that a page reload resumes the chat.
    pub persist: bool,
    /// Client name and version for the server's logs.
    pub client: Option<String>,
}

impl DriverOptions {
    /// The visitor WebSocket URL: `ws(s)://host[:port]/v1/ws?code=...`.
    pub fn socket_url(&self) -> Result<String, String> {
        let code: String = js_sys::encode_uri_component(&self.code).into();
        socket_url(&self.server, &format!("/v1/ws?code={code}"))
    }
}

/// Drives one [`Visitor`]. Cheap to clone; all clones drive the same machine.
#[derive(Clone)]
pub struct Driver {
    inner: Rc<RefCell<Inner>>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_borrow() {
            Ok(i) => f
                .debug_struct("Driver")
                .field("state", i.visitor.state())
                .field("link", i.visitor.link())
                .finish_non_exhaustive(),
            Err(_) => f.write_str("Driver(<busy>)"),
        }
    }
}

struct Inner {
    visitor: Visitor<BrowserJson>,
    url: String,
    socket: Option<Socket>,
    /// Bumped with every new socket, so that late callbacks of old ones are ignored.
    generation: u32,
    timer: Option<Timer>,
    listener: Option<Listener>,
    /// Events waiting for the listener; see [`pump`].
    queue: VecDeque<Event>,
    dispatching: bool,
    store: Option<ResumeStore>,
    stopped: bool,
}

impl Driver {
    /// A driver for a new visitor, resuming the session kept in `sessionStorage` if
    /// `persist` is set and one is there. Nothing happens until [`start`](Self::start).
    pub fn new(options: &DriverOptions) -> Result<Self, String> {
        let url = options.socket_url()?;
        let store = options.persist.then(|| ResumeStore::new(&options.code));
        let resume = store.as_ref().and_then(ResumeStore::load);
        let visitor = Visitor::with_decoder(
            now(),
            VisitorOptions {
                seed: seed(),
                resume,
                client: options.client.clone(),
            },
            BrowserJson,
        );
        Ok(Self {
            inner: Rc::new(RefCell::new(Inner {
                visitor,
                url,
                socket: None,
                generation: 0,
                timer: None,
                listener: None,
                queue: VecDeque::new(),
                dispatching: false,
                store,
                stopped: false,
            })),
        })
    }

    /// Sets the listener that receives every event from now on.
    pub fn set_listener(&self, listener: Listener) {
        self.inner.borrow_mut().listener = Some(listener);
    }

    /// Connects (the machine's first output asks for a connection).
    pub fn start(&self) {
        pump(&self.inner);
    }

    /// Closes the socket and stops every timer; the driver does nothing more.
    pub fn stop(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        inner.socket = None;
        inner.timer = None;
        inner.queue.clear();
    }

    /// Whether the visitor has a session that may be resumed after a reload.
    pub fn has_stored_session(&self) -> bool {
        let inner = self.inner.borrow();
        inner.store.as_ref().is_some_and(|s| s.load().is_some())
    }

    /// The session state.
    pub fn state(&self) -> VisitorState {
        self.inner.borrow().visitor.state().clone()
    }

    /// The connection state.
    pub fn link(&self) -> LinkState {
        self.inner.borrow().visitor.link().clone()
    }

    /// The widget configuration, once the server sent it.
    pub fn config(&self) -> Option<WidgetConfig> {
        self.inner.borrow().visitor.config().cloned()
    }

    /// Sets the context of the next chat; see [`Visitor::set_context`].
    pub fn set_context(&self, context: interact_sdk::context::ChatContext) -> Result<(), Error> {
        self.inner.borrow_mut().visitor.set_context(context)
    }

    /// The session and its resume token; see [`Visitor::credentials`].
    pub fn credentials(&self) -> Option<interact_sdk::ResumeState> {
        self.inner.borrow().visitor.credentials()
    }

    /// Identifies the visitor; see [`Visitor::identify`].
    pub fn identify(&self, visitor: &str, hash: &str) -> Result<(), Error> {
        self.act(|v, now| v.identify(now, visitor, hash).map(|_| ()))
    }

    /// Starts the chat; see [`Visitor::start_chat`].
    pub fn start_chat(&self, form: PreChatForm) -> Result<(), Error> {
        self.act(|v, now| v.start_chat(now, form))
    }

    /// Leaves a message while no chat can start; see [`Visitor::leave_message`].
    pub fn leave_message(&self, form: PreChatForm) -> Result<MessageId, Error> {
        self.act(|v, now| v.leave_message(now, form))
    }

    /// Starts a call-first session; see [`Visitor::start_with_call`].
    pub fn start_with_call(&self, form: PreChatForm, media: CallMedia) -> Result<(), Error> {
        self.act(|v, now| v.start_with_call(now, form, media))
    }

    /// The call-first call to place now; see [`Visitor::pending_call`].
    pub fn pending_call(&self) -> Option<CallMedia> {
        self.inner.borrow().visitor.pending_call()
    }

    /// Sends a chat message; see [`Visitor::send_message`].
    pub fn send(&self, text: &str) -> Result<MessageId, Error> {
        self.act(|v, now| v.send_message(now, text))
    }

    /// Reports typing; see [`Visitor::set_typing`].
    pub fn typing(&self, active: bool) -> Result<(), Error> {
        self.act(|v, now| v.set_typing(now, active))
    }

    /// Marks everything so far as read; see [`Visitor::mark_read`].
    pub fn mark_read(&self) -> Result<(), Error> {
        self.act(|v, _| v.mark_read())
    }

    /// Ends the chat; see [`Visitor::end_chat`].
    pub fn end(&self) -> Result<(), Error> {
        self.act(|v, now| v.end_chat(now))
    }

    /// Rates the ended chat; see [`Visitor::rate`].
    pub fn rate(&self, score: u8, comment: Option<&str>) -> Result<MessageId, Error> {
        self.act(|v, now| v.rate(now, score, comment))
    }

    /// Asks for the ended chat's transcript by email; see [`Visitor::email_transcript`].
    pub fn email_transcript(&self) -> Result<MessageId, Error> {
        self.act(|v, now| v.email_transcript(now))
    }

    /// Asks the agent for a call; see [`Visitor::start_call`].
    pub fn start_call(&self, media: CallMedia) -> Result<CallId, Error> {
        self.act(|v, now| v.start_call(now, media))
    }

    /// Passes the local SDP offer; see [`Visitor::local_offer`].
    pub fn local_offer(&self, sdp: String) -> Result<(), Error> {
        self.act(|v, now| v.local_offer(now, sdp))
    }

    /// Passes the local SDP answer; see [`Visitor::local_answer`].
    pub fn local_answer(&self, sdp: String) -> Result<(), Error> {
        self.act(|v, now| v.local_answer(now, sdp))
    }

    /// Passes a local ICE candidate; see [`Visitor::local_candidate`].
    pub fn local_candidate(&self, candidate: IceCandidate) -> Result<(), Error> {
        self.act(|v, now| v.local_candidate(now, candidate))
    }

    /// Reports mute, camera and screen state; see [`Visitor::set_media`].
    pub fn set_media(&self, state: MediaState) -> Result<(), Error> {
        self.act(|v, now| v.set_media(now, state))
    }

    /// Reports a device switch; see [`Visitor::device_changed`].
    pub fn device_changed(&self, kind: DeviceKind) -> Result<(), Error> {
        self.act(|v, now| v.device_changed(now, kind))
    }

    /// Hangs up the call; see [`Visitor::hangup`].
    pub fn hangup(&self, reason: HangupReason) -> Result<(), Error> {
        self.act(|v, now| v.hangup(now, reason))
    }

    /// Takes a quality sample of the call; see [`Visitor::call_stats`].
    pub fn call_stats(&self, reading: StatsReading) -> Result<Option<QualityRating>, Error> {
        self.act(|v, now| v.call_stats(now, reading))
    }

    /// The call's local media state.
    pub fn local_media(&self) -> MediaState {
        self.inner.borrow().visitor.local_media()
    }

    /// The ICE servers the server sent (empty until it did: host candidates only).
    pub fn ice_servers(&self) -> Vec<IceServer> {
        self.inner.borrow().visitor.ice_servers().to_vec()
    }

    /// Drops the signalling link as a network change would: the WebSocket closes and the
    /// machine reconnects as after any loss (the test hook's `dropLink`);
    /// `false` if there was no socket.
    pub fn drop_link(&self) -> bool {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.stopped || inner.socket.is_none() {
                return false;
            }
            // Dropping the socket closes it and takes its listeners along; the machine
            // learns of the loss here, as from a close without a code.
            inner.socket = None;
            inner.generation = inner.generation.wrapping_add(1);
            let _ = inner.visitor.handle_input(now(), Input::Disconnected(None));
        }
        pump(&self.inner);
        true
    }

    /// Runs one intent on the machine, then carries out what it asks for.
    fn act<T>(
        &self,
        f: impl FnOnce(&mut Visitor<BrowserJson>, Instant) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let result = {
            let mut inner = self.inner.borrow_mut();
            if inner.stopped {
                return Err(Error::ApiMisuse("the client was closed"));
            }
            f(&mut inner.visitor, now())
        };
        pump(&self.inner);
        result
    }
}

/// Feeds one transport or timer input to the machine, then pumps.
fn input(weak: &Weak<RefCell<Inner>>, generation: u32, input: Input<'_>) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let mut inner = rc.borrow_mut();
        if inner.stopped || generation != inner.generation {
            return;
        }
        // Errors mean the frame was dropped as invalid; the machine stays usable.
        let _ = inner.visitor.handle_input(now(), input);
    }
    pump(&rc);
}

/// Drains the machine's outputs: carries out the transport and timer requests, queues the
/// events, then hands the queued events to the listener. The listener may call back into
/// the driver (say, to send a message); those calls pump again, and their events join the
/// queue behind the ones being delivered, so the listener always sees them in order.
fn pump(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        if inner.stopped {
            return;
        }
        loop {
            match inner.visitor.poll_output() {
                Output::Connect => inner.connect(rc),
                Output::Transmit(text) => {
                    if let Some(socket) = &inner.socket {
                        socket.send(&text);
                    }
                }
                Output::Close(code) => {
                    if let Some(socket) = inner.socket.take() {
                        socket.close(code.code());
                    }
                }
                Output::Event(event) => {
                    inner.remember(&event);
                    inner.queue.push_back(event);
                }
                Output::Timeout(at) => {
                    inner.schedule(rc, at);
                    break;
                }
            }
        }
        if inner.dispatching {
            return;
        }
        inner.dispatching = true;
    }
    loop {
        let (event, listener) = {
            let mut inner = rc.borrow_mut();
            match inner.queue.pop_front() {
                Some(event) => (event, inner.listener.clone()),
                None => {
                    inner.dispatching = false;
                    return;
                }
            }
        };
        if let Some(listener) = listener {
            listener(&event);
        }
    }
}

impl Inner {
    /// Opens a new socket, dropping the old one.
    fn connect(&mut self, rc: &Rc<RefCell<Inner>>) {
        self.socket = None;
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let weak = Rc::downgrade(rc);
        match Socket::open(&self.url, move |i| input(&weak, generation, i)) {
            Ok(socket) => self.socket = Some(socket),
            // A URL the browser refuses: report it like a failed connection; the machine
            // backs off and tries again.
            Err(_) => {
                let _ = self.visitor.handle_input(now(), Input::Disconnected(None));
            }
        }
    }

    /// Arms the one timer for `at` (replacing the previous one).
    fn schedule(&mut self, rc: &Rc<RefCell<Inner>>, at: Instant) {
        let weak = Rc::downgrade(rc);
        self.timer = Timer::at(at, move || {
            let Some(rc) = weak.upgrade() else { return };
            {
                let mut inner = rc.borrow_mut();
                if inner.stopped {
                    return;
                }
                inner.visitor.handle_timeout(now());
            }
            pump(&rc);
        });
    }

    /// Keeps or forgets the resume token as the session starts and ends.
    fn remember(&mut self, event: &Event) {
        let Some(store) = &self.store else { return };
        match event {
            // A session exists only after the visitor consented in the pre-chat form.
            Event::SessionStarted(_) => {
                if let Some(state) = self.visitor.resume_state() {
                    store.save(&state);
                }
            }
            // Over, or a stored session the server no longer knows: forget it.
            Event::State(VisitorState::Ended { .. } | VisitorState::Form) => store.clear(),
            _ => {}
        }
    }
}
