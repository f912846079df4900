//! The browser driver of the SDK's [`Agent`] machine: a WebSocket, one timer and the
//! clock, wired to the machine exactly as its driving contract says (see the
//! `interact_sdk` crate docs). This module is the only place where the console's wasm
//! does IO.
//!
//! The socket, the timer and the clock are `interact-browser`'s, as in the widget's
//! `driver.rs`; the loop around the machine is this module's (it reports sessions and
//! refused accepts, the widget's keeps a resume token), so there is no trait over the two
//! machines.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};

pub use interact_browser::now;
use interact_browser::{Socket, Timer, seed};
use interact_sdk::client::{Event, Input, Output};
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::{CloseCode, ErrorCode, ErrorFrame, Presence};
use interact_sdk::time::Instant;
use interact_sdk::{Agent, AgentOptions, Error, LinkState};

/// What the driver tells its application, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// An event of the machine.
    Event(Event),
    /// The sessions the machine holds, each with whether it has ended, in the machine's
    /// order. Reported when they change, and after every `welcome` (which says which
    /// sessions the server counts as the agent's: after a page reload, those are fetched).
    Sessions(Vec<(SessionId, bool)>),
    /// The server refused an `accept` (another agent took the session, or the visitor
    /// left): the session is gone again. Reported instead of the [`Event::ServerError`].
    AcceptRefused {
        /// The session.
        session: SessionId,
        /// Why (`unknown_session` or `not_allowed`).
        code: ErrorCode,
    },
}

/// What a driver tells its application: every [`Report`], in order.
pub type Listener = Rc<dyn Fn(&Report)>;

/// The agent WebSocket URL for a server's base URL: `ws(s)://host[:port]/v1/agent/ws`.
pub fn socket_url(server: &str) -> Result<String, String> {
    interact_browser::socket_url(server, "/v1/agent/ws")
}

/// Drives one [`Agent`]. Cheap to clone; all clones drive the same machine.
#[derive(Clone)]
pub struct Driver {
    inner: Rc<RefCell<Inner>>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_borrow() {
            Ok(i) => f
                .debug_struct("Driver")
                .field("link", i.agent.link())
                .field("url", &i.url)
                .finish_non_exhaustive(),
            Err(_) => f.write_str("Driver(<busy>)"),
        }
    }
}

struct Inner {
    agent: Agent,
    url: String,
    socket: Option<Socket>,
    /// Bumped with every new socket, so that late callbacks of old ones are ignored.
    generation: u32,
    timer: Option<Timer>,
    listener: Option<Listener>,
    /// Reports waiting for the listener; see [`pump`].
    queue: VecDeque<Report>,
    dispatching: bool,
    /// The sessions last reported with [`Report::Sessions`].
    reported: Vec<(SessionId, bool)>,
    stopped: bool,
}

impl Driver {
    /// A driver for an agent signed in with `token`, talking to the server at `server`
    /// (`http(s)://host[:port]`), with the presence the agent chose (sent after every
    /// `welcome`). Nothing happens until [`start`](Self::start).
    pub fn new(server: &str, token: String, presence: Presence) -> Result<Self, String> {
        let url = socket_url(server)?;
        let now = now();
        let mut agent = Agent::new(
            now,
            AgentOptions {
                seed: seed(),
                token,
                client: Some(concat!("interact-console/", env!("CARGO_PKG_VERSION")).to_owned()),
            },
        );
        // Offline: only kept, and sent with the first welcome.
        agent.set_presence(now, presence);
        Ok(Self {
            inner: Rc::new(RefCell::new(Inner {
                agent,
                url,
                socket: None,
                generation: 0,
                timer: None,
                listener: None,
                queue: VecDeque::new(),
                dispatching: false,
                reported: Vec::new(),
                stopped: false,
            })),
        })
    }

    /// Sets the listener that receives every report from now on.
    pub fn set_listener(&self, listener: Listener) {
        self.inner.borrow_mut().listener = Some(listener);
    }

    /// Connects (the machine's first output asks for a connection).
    pub fn start(&self) {
        pump(&self.inner);
    }

    /// Closes the socket (with 1000: the agent left on purpose) and stops every timer;
    /// the driver does nothing more.
    pub fn stop(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        if let Some(socket) = inner.socket.take() {
            socket.close(CloseCode::Normal.code());
        }
        inner.timer = None;
        inner.queue.clear();
    }

    /// Reads the machine (accessors only; intents go through [`act`](Self::act)).
    pub fn with<T>(&self, f: impl FnOnce(&Agent) -> T) -> T {
        f(&self.inner.borrow().agent)
    }

    /// Runs one intent on the machine with the current time, then carries out what it
    /// asks for.
    pub fn act<T>(
        &self,
        f: impl FnOnce(&mut Agent, Instant) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let result = {
            let mut inner = self.inner.borrow_mut();
            if inner.stopped {
                return Err(Error::ApiMisuse("the console was closed"));
            }
            f(&mut inner.agent, now())
        };
        pump(&self.inner);
        result
    }
}

/// Feeds one transport input to the machine, then pumps.
fn input(weak: &Weak<RefCell<Inner>>, generation: u32, input: Input<'_>) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let mut inner = rc.borrow_mut();
        if inner.stopped || generation != inner.generation {
            return;
        }
        // Errors mean the frame was dropped as invalid; the machine stays usable.
        let _ = inner.agent.handle_input(now(), input);
    }
    pump(&rc);
}

/// Drains the machine's outputs: carries out the transport and timer requests, queues the
/// reports, then hands the queued reports to the listener. The listener may call back
/// into the driver (say, to mark a session read); those calls pump again, and their
/// reports join the queue behind the ones being delivered, so the listener always sees
/// them in order.
fn pump(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        if inner.stopped {
            return;
        }
        let mut welcomed = false;
        loop {
            match inner.agent.poll_output() {
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
                    welcomed |= event == Event::Link(LinkState::Online);
                    let report = inner.refused_accept(&event).unwrap_or(Report::Event(event));
                    inner.queue.push_back(report);
                }
                Output::Timeout(at) => {
                    inner.schedule(rc, at);
                    break;
                }
            }
        }
        let sessions: Vec<(SessionId, bool)> = inner
            .agent
            .sessions()
            .map(|(id, ended)| (id.clone(), ended))
            .collect();
        if welcomed || sessions != inner.reported {
            inner.reported.clone_from(&sessions);
            inner.queue.push_back(Report::Sessions(sessions));
        }
        if inner.dispatching {
            return;
        }
        inner.dispatching = true;
    }
    loop {
        let (report, listener) = {
            let mut inner = rc.borrow_mut();
            match inner.queue.pop_front() {
                Some(report) => (report, inner.listener.clone()),
                None => {
                    inner.dispatching = false;
                    return;
                }
            }
        };
        if let Some(listener) = listener {
            listener(&report);
        }
    }
}

impl Inner {
    /// The report for a server error that undid an accept: the machine dropped a
    /// session it had reported, which it does only for a refused `accept`.
    fn refused_accept(&self, event: &Event) -> Option<Report> {
        let Event::ServerError(ErrorFrame {
            code: code @ (ErrorCode::UnknownSession | ErrorCode::NotAllowed),
            session: Some(session),
            id: None,
            ..
        }) = event
        else {
            return None;
        };
        let was = self.reported.iter().any(|(s, _)| s == session);
        let is = self.agent.sessions().any(|(s, _)| s == session);
        (was && !is).then(|| Report::AcceptRefused {
            session: session.clone(),
            code: *code,
        })
    }

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
                let _ = self.agent.handle_input(now(), Input::Disconnected(None));
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
                inner.agent.handle_timeout(now());
            }
            pump(&rc);
        });
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn socket_urls_follow_the_scheme() {
        assert_eq!(
            socket_url("https://chat.example.com/").as_deref(),
            Ok("wss://chat.example.com/v1/agent/ws")
        );
        assert_eq!(
            socket_url("http://127.0.0.1:8080").as_deref(),
            Ok("ws://127.0.0.1:8080/v1/agent/ws")
        );
        assert!(socket_url("ftp://example.com").is_err());
    }
}
