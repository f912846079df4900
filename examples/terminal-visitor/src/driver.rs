//! The driver: owns the [`Visitor`] machine, the WebSocket and the timer, and carries out
//! the SDK's driving contract; reads the visitor's lines and prints what happens.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_sdk::config::{Availability, WidgetConfig};
use interact_sdk::form::{Field, FormErrors, PreChatForm};
use interact_sdk::ids::MessageId;
use interact_sdk::protocol::{CloseCode, EndReason, Party, SessionEvent};
use interact_sdk::time::Instant;
use interact_sdk::{
    DeliveryState, Event, Input, LinkState, Output, Visitor, VisitorOptions, VisitorState,
};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, Lines};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::screen::{Screen, plain_line, plain_text};
use crate::{Error, Options, Outcome};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Ws, tungstenite::Error>> + Send>>;

/// The pre-chat form fields, in the order they are asked.
const FIELDS: [Field; 4] = [
    Field::DisplayName,
    Field::Email,
    Field::Consent,
    Field::FirstMessage,
];

/// A terminal visitor client: drives a [`Visitor`] over a real WebSocket, reading the
/// visitor's lines from `R` and printing the chat to `W`.
///
/// Create it with [`Driver::new`] and call [`Driver::run`]; see the [crate docs](crate).
pub struct Driver<R, W> {
    visitor: Visitor,
    options: Options,
    /// The monotonic origin of the machine's [`Instant`]s.
    origin: tokio::time::Instant,
    /// The open WebSocket, after `Connect` succeeded and until it closes.
    ws: Option<Ws>,
    /// The connection attempt asked for by `Connect`, while it is under way.
    connecting: Option<Connecting>,
    /// A send failed during a drain: report the transport as lost after it.
    lost: bool,
    input: Lines<R>,
    input_done: bool,
    /// Lines typed that cannot be handled yet (during the handshake or while the chat
    /// starts), in order.
    typed: VecDeque<String>,
    screen: Screen<W>,
    /// The form as entered so far, and the fields still to ask, once the form is shown.
    form: Option<(PreChatForm, VecDeque<Field>)>,
    /// Own messages, numbered from 1 in the order they are first seen.
    numbers: BTreeMap<MessageId, u32>,
    /// Delivery states reported during the current drain, printed together after it.
    states: Vec<(u32, DeliveryState)>,
    peer_typing: bool,
    /// `/end` was typed: the session's end is on its way.
    ending: bool,
    quit: bool,
}

impl<R, W> fmt::Debug for Driver<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("visitor", &self.visitor)
            .field("url", &self.options.url)
            .field("connected", &self.ws.is_some())
            .field("connecting", &self.connecting.is_some())
            .field("typed", &self.typed.len())
            .finish_non_exhaustive()
    }
}

/// What woke the loop.
enum Wake {
    Line(Option<String>),
    Frame(Option<Result<Message, tungstenite::Error>>),
    /// Boxed: a WebSocket is large.
    Opened(Box<Result<Ws, tungstenite::Error>>),
    Timer,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> Driver<R, W> {
    /// A driver that will connect to `options.url`, reading lines from `input` and printing
    /// to `output`.
    pub fn new(options: Options, input: R, output: W) -> Self {
        let origin = tokio::time::Instant::now();
        let visitor = Visitor::new(
            Instant::ZERO,
            VisitorOptions {
                seed: options.seed,
                resume: None,
                client: Some(
                    concat!("interact-terminal-visitor/", env!("CARGO_PKG_VERSION")).into(),
                ),
            },
        );
        Self {
            visitor,
            options,
            origin,
            ws: None,
            connecting: None,
            lost: false,
            input: input.lines(),
            input_done: false,
            typed: VecDeque::new(),
            screen: Screen::new(output),
            form: None,
            numbers: BTreeMap::new(),
            states: Vec::new(),
            peer_typing: false,
            ending: false,
            quit: false,
        }
    }

    fn now(&self) -> Instant {
        let ms = self.origin.elapsed().as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// Runs the chat until it ends, the visitor quits, or the server refuses for good.
    pub async fn run(mut self) -> Result<Outcome, Error> {
        loop {
            let deadline = self.drain().await?;
            if let Some(outcome) = self.finished().await? {
                return Ok(outcome);
            }
            if self.handle_typed().await? {
                // A line became an intent: drain its outputs first.
                continue;
            }
            // `u64::MAX` means no timer; so does an instant too far away to represent.
            let sleep_for = (deadline != Instant::from_millis(u64::MAX))
                .then(|| {
                    self.origin
                        .checked_add(Duration::from_millis(deadline.as_millis()))
                })
                .flatten();
            let wake = tokio::select! {
                line = self.input.next_line(), if !self.input_done => Wake::Line(line?),
                frame = next_frame(self.ws.as_mut()), if self.ws.is_some() => Wake::Frame(frame),
                opened = open(self.connecting.as_mut()), if self.connecting.is_some() => {
                    Wake::Opened(Box::new(opened))
                }
                () = sleep_until(sleep_for), if sleep_for.is_some() => Wake::Timer,
            };
            self.wake(wake).await?;
        }
    }

    async fn wake(&mut self, wake: Wake) -> Result<(), Error> {
        let now = self.now();
        let result = match wake {
            Wake::Line(Some(line)) => {
                self.screen.answered();
                if line.trim() == "/quit" {
                    self.quit = true;
                } else {
                    self.typed.push_back(line);
                }
                Ok(())
            }
            Wake::Line(None) => {
                self.input_done = true;
                Ok(())
            }
            Wake::Frame(Some(Ok(Message::Text(text)))) => self
                .visitor
                .handle_input(now, Input::Received(text.as_str())),
            Wake::Frame(Some(Ok(Message::Close(frame)))) => {
                // Sends tungstenite's queued answer to the server's close.
                if let Some(ws) = self.ws.take() {
                    close(ws, None).await;
                }
                let code = frame.map(|f| u16::from(f.code));
                self.visitor.handle_input(now, Input::Disconnected(code))
            }
            // Pings are answered by tungstenite; binary frames are not part of protocol v1.
            Wake::Frame(Some(Ok(_))) => Ok(()),
            Wake::Frame(Some(Err(_)) | None) => {
                self.ws = None;
                self.visitor.handle_input(now, Input::Disconnected(None))
            }
            Wake::Opened(opened) => match *opened {
                Ok(ws) => {
                    self.connecting = None;
                    self.ws = Some(ws);
                    self.visitor.handle_input(now, Input::Connected)
                }
                Err(e) => {
                    self.connecting = None;
                    match e {
                        // The embed code or the Origin was refused: retrying cannot help
                        // (protocol §2.1: native clients stop on 403 and 404).
                        tungstenite::Error::Http(resp)
                            if matches!(resp.status().as_u16(), 403 | 404) =>
                        {
                            return Err(Error::Refused {
                                status: resp.status().as_u16(),
                            });
                        }
                        // A malformed URL, or wss:// without TLS support: permanent too.
                        e @ tungstenite::Error::Url(_) => return Err(Error::Connect(e)),
                        _ => self.visitor.handle_input(now, Input::Disconnected(None)),
                    }
                }
            },
            Wake::Timer => {
                self.visitor.handle_timeout(now);
                Ok(())
            }
        };
        self.report(result).await
    }

    /// Shows an error of the machine; none of them stops the chat.
    async fn report<T>(&mut self, result: Result<T, interact_sdk::Error>) -> Result<(), Error> {
        if let Err(e) = result {
            let text = match e {
                interact_sdk::Error::PeerMisbehaved(why) => {
                    format!(
                        "(ignored an invalid frame from the server: {})",
                        plain_line(&why)
                    )
                }
                e => format!("({e})"),
            };
            self.screen.line(&text).await?;
        }
        Ok(())
    }

    /// Drains the machine's outputs until it asks for a timeout, and returns that instant.
    async fn drain(&mut self) -> Result<Instant, Error> {
        loop {
            match self.visitor.poll_output() {
                Output::Connect => {
                    self.ws = None;
                    self.connecting = Some(connect(&self.options));
                }
                Output::Transmit(text) => {
                    if let Some(ws) = &mut self.ws
                        && ws.send(Message::Text(text.into())).await.is_err()
                    {
                        self.ws = None;
                        self.lost = true;
                    }
                }
                Output::Close(code) => {
                    self.connecting = None;
                    if let Some(ws) = self.ws.take() {
                        close(ws, Some(code.code())).await;
                    }
                }
                Output::Event(event) => self.show(event).await?,
                Output::Timeout(at) => {
                    self.flush_states().await?;
                    if std::mem::take(&mut self.lost) {
                        let now = self.now();
                        let result = self.visitor.handle_input(now, Input::Disconnected(None));
                        self.report(result).await?;
                        continue;
                    }
                    return Ok(at);
                }
            }
        }
    }

    /// Whether the run is over, and how.
    async fn finished(&mut self) -> Result<Option<Outcome>, Error> {
        if let VisitorState::Ended { reason } = self.visitor.state() {
            return Ok(Some(Outcome::Ended(*reason)));
        }
        if let LinkState::Closed { code } = self.visitor.link() {
            return Err(Error::Closed { code: *code });
        }
        if self.quit || (self.input_done && self.typed.is_empty() && !self.busy()) {
            if let Some(ws) = self.ws.take() {
                close(ws, Some(CloseCode::GoingAway.code())).await;
            }
            if self.visitor.resume_state().is_some() {
                self.screen.line("Quit without ending the chat.").await?;
            }
            return Ok(Some(Outcome::Quit));
        }
        if self.visitor.state() == &VisitorState::Form
            && let Some(config) = self.visitor.config()
            && !config.can_start_chat()
        {
            let availability = config.availability;
            self.screen
                .line("No chat can start now; try again later.")
                .await?;
            return Ok(Some(Outcome::Unavailable(availability)));
        }
        Ok(None)
    }

    /// Whether something the visitor did is still on its way to the server.
    fn busy(&self) -> bool {
        self.ending || self.visitor.has_unsent() || self.visitor.state() == &VisitorState::Starting
    }

    /// Handles the oldest typed line if the chat is ready for it. Returns whether it took
    /// one (then the machine may have outputs, and the next line may be ready too).
    async fn handle_typed(&mut self) -> Result<bool, Error> {
        let now = self.now();
        if let Some((form, ask)) = &mut self.form
            && let Some(&field) = ask.front()
        {
            let Some(line) = self.typed.pop_front() else {
                return Ok(false);
            };
            ask.pop_front();
            let version = self.visitor.config().map(|c| c.privacy.version.clone());
            match field {
                Field::DisplayName => form.display_name = line,
                Field::Email => form.email = line,
                Field::Consent => {
                    let yes = matches!(line.trim().to_lowercase().as_str(), "y" | "yes");
                    form.consent = version.filter(|_| yes);
                }
                _ => form.first_message = Some(line).filter(|l| !l.trim().is_empty()),
            }
            if !ask.is_empty() {
                self.ask().await?;
                return Ok(true);
            }
            let form = form.clone();
            match self.visitor.start_chat(now, form) {
                Ok(()) => self.screen.line("Starting the chat...").await?,
                Err(interact_sdk::Error::InvalidForm(errors)) => self.reask(&errors).await?,
                Err(e) => self.report(Err::<(), _>(e)).await?,
            }
            return Ok(true);
        }
        let live = matches!(
            self.visitor.state(),
            VisitorState::Queued { .. } | VisitorState::Connected { .. }
        ) && self.visitor.resume_state().is_some();
        if !live {
            return Ok(false);
        }
        let Some(line) = self.typed.pop_front() else {
            return Ok(false);
        };
        match line.trim() {
            "" => {}
            "/end" => {
                let result = self.visitor.end_chat(now);
                self.ending |= result.is_ok();
                self.report(result).await?;
            }
            cmd if cmd.starts_with('/') => {
                self.screen
                    .line("Commands: /end ends the chat, /quit quits.")
                    .await?;
            }
            _ => match self.visitor.send_message(now, &line) {
                Ok(id) => {
                    self.number(&id);
                    self.mark_read();
                }
                Err(interact_sdk::Error::InvalidText(e)) => {
                    self.screen.line(&format!("(not sent: {e})")).await?;
                }
                Err(e) => self.report(Err::<(), _>(e)).await?,
            },
        }
        Ok(true)
    }

    /// Prompts for the next field of the form.
    async fn ask(&mut self) -> Result<(), Error> {
        let Some(field) = self.form.as_ref().and_then(|(_, ask)| ask.front().copied()) else {
            return Ok(());
        };
        let prompt = match field {
            Field::DisplayName => "Your name:",
            Field::Email => "Your email:",
            Field::Consent => {
                if let Some(config) = self.visitor.config().cloned() {
                    self.privacy(&config).await?;
                }
                "Do you agree? [y/N]:"
            }
            _ => "Your first message (optional, Enter to skip):",
        };
        self.screen.prompt(prompt).await?;
        Ok(())
    }

    /// Shows the problems of a refused form by field, then asks those fields again.
    async fn reask(&mut self, errors: &FormErrors) -> Result<(), Error> {
        for problem in &errors.fields {
            let text = format!("  {}: {}", field_name(problem.field), problem.error);
            self.screen.line(&text).await?;
        }
        let again: VecDeque<Field> = FIELDS
            .into_iter()
            .filter(|f| errors.get(*f).is_some())
            .collect();
        if let Some((_, ask)) = &mut self.form {
            // A field this client does not know cannot be asked again; ask them all.
            *ask = if again.is_empty() {
                FIELDS.into()
            } else {
                again
            };
        }
        self.ask().await
    }

    async fn privacy(&mut self, config: &WidgetConfig) -> Result<(), Error> {
        let policy = &config.privacy;
        let url = policy
            .safe_url()
            .map_or_else(|| "(no valid link)".to_owned(), plain_line);
        let text = format!(
            "Privacy: {}\n{} (version {})",
            plain_text(&policy.text),
            url,
            plain_line(&policy.version)
        );
        self.screen.line(&text).await?;
        Ok(())
    }

    /// The number of one of the visitor's own messages.
    fn number(&mut self, id: &MessageId) -> u32 {
        let next = u32::try_from(self.numbers.len() + 1).unwrap_or(u32::MAX);
        *self.numbers.entry(id.clone()).or_insert(next)
    }

    /// The terminal shows every message as it arrives: the visitor has seen it.
    fn mark_read(&mut self) {
        // Only fails without a session; there is one whenever messages arrive.
        let _ = self.visitor.mark_read();
    }

    async fn show(&mut self, event: Event) -> Result<(), Error> {
        match event {
            Event::Link(LinkState::Connecting) => {
                let text = format!("Connecting to {}...", self.options.url);
                self.screen.line(&text).await?;
            }
            Event::Link(LinkState::Online) => self.screen.line("Connected.").await?,
            Event::Link(LinkState::Reconnecting { attempt, at }) => {
                let wait = at.saturating_duration_since(self.now());
                let text = format!(
                    "Connection lost; reconnecting in {:.1} s (attempt {attempt})...",
                    wait.as_secs_f32()
                );
                self.screen.line(&text).await?;
            }
            Event::Link(LinkState::Closed { .. }) => {}
            Event::State(VisitorState::Form) if self.form.is_none() => {
                if let Some(config) = self.visitor.config().cloned() {
                    let text = format!(
                        "{}: {}",
                        plain_line(&config.target.display_name),
                        availability_text(config.availability)
                    );
                    self.screen.line(&text).await?;
                    if config.can_start_chat() {
                        self.form = Some((PreChatForm::default(), FIELDS.into()));
                        self.ask().await?;
                    }
                }
            }
            Event::FormRejected(errors) => {
                self.screen.line("The server refused the form:").await?;
                self.reask(&errors).await?;
            }
            Event::SessionStarted(_) => self.form = None,
            Event::Timeline(frame) => self.timeline(frame.event).await?,
            Event::MessageState { id, state, .. } => {
                let n = self.number(&id);
                if state != DeliveryState::Pending {
                    self.states.push((n, state));
                }
            }
            Event::Typing { active, .. } => {
                if active && !self.peer_typing {
                    let text = format!("{} is typing...", self.agent_name());
                    self.screen.line(&text).await?;
                }
                self.peer_typing = active;
            }
            Event::ServerError(e) => {
                let text = format!("(server: {})", plain_line(&e.message));
                self.screen.line(&text).await?;
            }
            // Configuration updates, other state changes (shown through the timeline) and
            // call signalling (this client offers no calls).
            _ => {}
        }
        Ok(())
    }

    async fn timeline(&mut self, event: SessionEvent) -> Result<(), Error> {
        let text = match event {
            SessionEvent::Started { target, .. } => {
                format!("Chat started with {}.", plain_line(&target.display_name))
            }
            SessionEvent::Message {
                id,
                from,
                author,
                text,
                ..
            } => match from {
                Party::Visitor => format!("you #{}: {}", self.number(&id), plain_text(&text)),
                Party::Agent => {
                    self.peer_typing = false;
                    self.mark_read();
                    let name = author.map_or_else(|| self.agent_name(), |a| plain_line(&a));
                    format!("{name}: {}", plain_text(&text))
                }
                _ => format!("* {}", plain_text(&text)),
            },
            SessionEvent::Queued { position } => {
                format!("Waiting for an agent: number {position} in the queue.")
            }
            SessionEvent::AgentJoined { agent } => {
                format!("{} joined the chat.", plain_line(&agent.display_name))
            }
            SessionEvent::AgentLeft { agent } => {
                format!("{} left the chat.", plain_line(&agent.display_name))
            }
            SessionEvent::Ended { reason } => format!("The chat ended: {}.", end_text(reason)),
            _ => return Ok(()),
        };
        self.screen.line(&text).await?;
        Ok(())
    }

    /// Prints the delivery states gathered in one drain on one line per state:
    /// `[#1 #2 delivered]`.
    async fn flush_states(&mut self) -> Result<(), Error> {
        let mut by_state: BTreeMap<DeliveryState, Vec<u32>> = BTreeMap::new();
        for (n, state) in self.states.drain(..) {
            by_state.entry(state).or_default().push(n);
        }
        for (state, ns) in by_state {
            let ns: Vec<String> = ns.iter().map(|n| format!("#{n}")).collect();
            let word = state.as_str();
            self.screen
                .line(&format!("  [{} {word}]", ns.join(" ")))
                .await?;
        }
        Ok(())
    }

    fn agent_name(&self) -> String {
        match self.visitor.state() {
            VisitorState::Connected { agent } => plain_line(&agent.display_name),
            _ => "The agent".into(),
        }
    }
}

/// Starts opening the visitor WebSocket with the `Origin` header.
fn connect(options: &Options) -> Connecting {
    let url = options.url.clone();
    let origin = options.origin.clone();
    Box::pin(async move {
        let mut request = url.into_client_request()?;
        let origin =
            HeaderValue::from_str(&origin).map_err(|e| tungstenite::Error::HttpFormat(e.into()))?;
        request.headers_mut().insert("origin", origin);
        let (ws, _response) = tokio_tungstenite::connect_async(request).await?;
        Ok(ws)
    })
}

/// Sends a close frame with `code` (or flushes the answer to the server's close), for at
/// most a second; the connection is dropped after it either way.
async fn close(mut ws: Ws, code: Option<u16>) {
    let frame = code.map(|code| CloseFrame {
        code: code.into(),
        reason: "".into(),
    });
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(frame)).await;
}

async fn next_frame(ws: Option<&mut Ws>) -> Option<Result<Message, tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

async fn open(connecting: Option<&mut Connecting>) -> Result<Ws, tungstenite::Error> {
    match connecting {
        Some(c) => c.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn field_name(field: Field) -> &'static str {
    match field {
        Field::DisplayName => "name",
        Field::Email => "email",
        Field::Consent => "consent",
        Field::FirstMessage => "first message",
        _ => "form",
    }
}

fn availability_text(a: Availability) -> &'static str {
    match a {
        Availability::Open => "open, an agent can take your chat",
        Availability::Closed => "closed (outside opening hours)",
        Availability::NoAgents => "no agent is available at the moment",
        _ => "not available",
    }
}

fn end_text(reason: EndReason) -> &'static str {
    match reason {
        EndReason::VisitorEnded => "you ended it",
        EndReason::AgentEnded => "the agent ended it",
        EndReason::NoAgent => "no agent could take it",
        EndReason::Closed => "outside opening hours",
        EndReason::IdleTimeout => "nothing happened for too long",
        EndReason::Workflow => "ended by the service",
        EndReason::Failed => "the session failed",
        _ => "ended by the server",
    }
}
