//! The visitor's side: the customer session state machine behind the widget.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::call::{Call, CallState};
use crate::client::{Event, Input, Output};
use crate::config::WidgetConfig;
use crate::context::ChatContext;
use crate::conversation::Conversation;
use crate::error::Error;
use crate::form::{PreChatForm, validate_rating, validate_text};
use crate::ids::{CallId, IdGen, MessageId, ResumeToken, Seq, SessionId};
use crate::limits::ACK_TIMEOUT;
use crate::link::{Link, LinkState};
use crate::protocol::{
    AgentInfo, CallMedia, CallSignal, ClientFrame, CloseCode, DeviceKind, EndReason, ErrorCode,
    ErrorFrame, EventFrame, FrameDecoder, HangupReason, Hello, IceCandidate, IceServer, MediaState,
    PROTOCOL_VERSION, Party, Resume, SerdeJson, ServerFrame, SessionEvent, encode,
};
use crate::quality::{QualityRating, StatsReading};
use crate::time::{Instant, UnixMillis};

/// Most events kept while they wait for `session_started`.
const MAX_EARLY: usize = 256;

/// Where the visitor's session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VisitorState {
    /// Waiting for the configuration (first `welcome`).
    Loading,
    /// Configuration known: show the pre-chat form.
    Form,
    /// The form was sent; waiting for the session.
    Starting,
    /// Waiting for an agent, at `position` in the queue once the server says.
    Queued {
        /// Position in the queue (1 = next), if known.
        position: Option<u32>,
    },
    /// Chatting with an agent.
    Connected {
        /// The agent.
        agent: AgentInfo,
    },
    /// Over.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// What a visitor keeps (after consent) to resume its session after a page reload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The session.
    pub session: SessionId,
    /// Its resume token.
    pub token: ResumeToken,
}

crate::json::json_struct!(ResumeState { session, token });

/// Options for [`Visitor::new`].
#[derive(Clone, Debug, Default)]
pub struct VisitorOptions {
    /// Seed for message and call ids; draw it from a random source.
    pub seed: u64,
    /// A session to resume (after a page reload); its whole transcript is replayed.
    pub resume: Option<ResumeState>,
    /// Client name and version, for the server's logs.
    pub client: Option<String>,
}

/// The visitor state machine. Sans-IO: see the [crate docs](crate) for the driving
/// contract.
///
/// `D` turns received text into frames: [`SerdeJson`] (the default), or a parser of the
/// platform's own (the widget uses the browser's `JSON.parse`), see
/// [`Visitor::with_decoder`].
#[derive(Debug)]
pub struct Visitor<D = SerdeJson> {
    decoder: D,
    link: Link,
    ids: IdGen,
    out: VecDeque<Output>,
    state: VisitorState,
    config: Option<WidgetConfig>,
    client: Option<String>,
    /// The `start_chat` in flight, until `session_started`, and when it was last sent.
    start: Option<(MessageId, PreChatForm)>,
    start_sent_at: Option<Instant>,
    /// Events that overtook `session_started` (possible only on a reordering link).
    early: Vec<EventFrame>,
    token: Option<ResumeToken>,
    conv: Option<Conversation>,
    end_requested: bool,
    /// Set by `invalid_resume`: reconnect without a session after the close.
    fresh_start: bool,
    /// The latest `ice_servers`: the servers and when their credentials expire.
    ice: (Vec<IceServer>, Option<UnixMillis>),
    /// Call-first: the medium asked for in the `start_chat` in flight.
    start_call: Option<CallMedia>,
    /// The context for the next `start_chat` (see [`Self::set_context`]).
    context: Option<ChatContext>,
    /// The context of the `start_chat` in flight.
    start_context: Option<ChatContext>,
    /// Call-first: the medium of the session's `started` event.
    call_first: Option<CallMedia>,
    /// Call-first: a call is owed to the current (or next) agent: until one is placed,
    /// and again after the agent left during a call (a transfer).
    call_owed: bool,
    /// A call was placed and not hung up yet, as the timeline says.
    call_on: bool,
    /// Requests answered by `done` (`rate`, `email_transcript` after the chat, and
    /// `leave_message` before any), sent or to send, until the server answers them; the
    /// link is reopened for the after-chat ones and closed again after.
    after: Vec<(MessageId, ClientFrame)>,
    /// A rating was asked for (and not refused for a reason a retry could fix).
    rated: bool,
    /// The transcript was asked for by email (likewise).
    emailed: bool,
    /// The visitor's `identify` frame (see [`Self::identify`]): sent after every
    /// `welcome`, before a `start_chat`, until the server refuses it.
    identity: Option<ClientFrame>,
}

impl Visitor {
    /// A new visitor; its first output asks the driver to connect.
    pub fn new(now: Instant, options: VisitorOptions) -> Self {
        Self::with_decoder(now, options, SerdeJson)
    }
}

impl<D: FrameDecoder> Visitor<D> {
    /// A new visitor that decodes what it receives with `decoder`.
    pub fn with_decoder(now: Instant, options: VisitorOptions, decoder: D) -> Self {
        let mut v = Self {
            decoder,
            link: Link::new(now),
            ids: IdGen::new(options.seed),
            out: VecDeque::new(),
            state: VisitorState::Loading,
            config: None,
            client: options.client,
            start: None,
            start_sent_at: None,
            early: Vec::new(),
            token: None,
            conv: None,
            end_requested: false,
            fresh_start: false,
            ice: (Vec::new(), None),
            start_call: None,
            context: None,
            start_context: None,
            call_first: None,
            call_owed: true,
            call_on: false,
            after: Vec::new(),
            rated: false,
            emailed: false,
            identity: None,
        };
        if let Some(r) = options.resume {
            v.conv = Some(Conversation::new(Party::Visitor, r.session, Seq::ZERO));
            v.token = Some(r.token);
        }
        v.out.push_back(Output::Connect);
        v.out
            .push_back(Output::Event(Event::Link(LinkState::Connecting)));
        v
    }

    /// The session state.
    pub fn state(&self) -> &VisitorState {
        &self.state
    }

    /// The connection state.
    pub fn link(&self) -> &LinkState {
        &self.link.state
    }

    /// The widget configuration, once received.
    pub fn config(&self) -> Option<&WidgetConfig> {
        self.config.as_ref()
    }

    /// The ICE servers for calls from the latest `ice_servers` frame (empty until one
    /// arrives: host candidates only).
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice.0
    }

    /// When the TURN credentials of [`Self::ice_servers`] expire, server time.
    pub fn ice_expires_at(&self) -> Option<UnixMillis> {
        self.ice.1
    }

    /// The call state.
    pub fn call_state(&self) -> &CallState {
        self.conv
            .as_ref()
            .map_or(&CallState::Idle, |c| &c.call.state)
    }

    /// The highest sequence number processed.
    pub fn last_seq(&self) -> Seq {
        self.conv.as_ref().map_or(Seq::ZERO, |c| c.last)
    }

    /// What to store to resume after a reload (only with the visitor's consent), once the
    /// session exists and until it ends.
    pub fn resume_state(&self) -> Option<ResumeState> {
        match (&self.conv, &self.token) {
            (Some(c), Some(t)) if !c.ended => Some(ResumeState {
                session: c.session.clone(),
                token: t.clone(),
            }),
            _ => None,
        }
    }

    /// The session and its resume token, once the session exists, ended or not: the
    /// credential of the visitor's HTTP requests about the session (files,
    /// docs/protocol.md §2.6). Unlike [`Self::resume_state`] it stays after the end.
    pub fn credentials(&self) -> Option<ResumeState> {
        match (&self.conv, &self.token) {
            (Some(c), Some(t)) => Some(ResumeState {
                session: c.session.clone(),
                token: t.clone(),
            }),
            _ => None,
        }
    }

    /// Whether messages are waiting for the server's acknowledgement.
    pub fn has_unsent(&self) -> bool {
        self.conv.as_ref().is_some_and(Conversation::has_unsent) || self.start.is_some()
    }

    /// Next thing for the driver to do. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        let online = self.link.is_online();
        let conv = self.conv.as_ref().and_then(|c| c.poll_timeout(online));
        let start = self
            .start_sent_at
            .filter(|_| online)
            .map(|t| t + ACK_TIMEOUT);
        let at = [self.link.poll_timeout(), conv, start]
            .into_iter()
            .flatten()
            .min();
        Output::Timeout(at.unwrap_or(Instant::from_millis(u64::MAX)))
    }

    fn transmit(&mut self, now: Instant, frame: &ClientFrame) {
        self.out.push_back(Output::Transmit(encode(frame)));
        self.link.transmitted(now);
    }

    fn send_start(&mut self, now: Instant) {
        if let Some((id, form)) = self.start.clone() {
            let call = self.start_call;
            let context = self.start_context.clone();
            self.transmit(
                now,
                &ClientFrame::StartChat {
                    id,
                    form,
                    call,
                    context,
                },
            );
            self.start_sent_at = Some(now);
        }
    }

    fn set_state(&mut self, state: VisitorState) {
        if self.state != state {
            self.state = state.clone();
            self.out.push_back(Output::Event(Event::State(state)));
        }
    }

    /// Feeds what happened on the transport.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), Error> {
        match input {
            Input::Connected => {
                self.link.connected(now);
                let resume = match (&self.conv, &self.token) {
                    (Some(c), Some(token)) => Some(Resume {
                        session: c.session.clone(),
                        token: token.clone(),
                        last_seq: c.last,
                    }),
                    _ => None,
                };
                let hello = ClientFrame::Hello(Hello {
                    protocol: PROTOCOL_VERSION,
                    client: self.client.clone(),
                    resume,
                });
                self.transmit(now, &hello);
                Ok(())
            }
            Input::Disconnected(code) => {
                // The close after `invalid_resume` is final for the old session only.
                let code = code.filter(|_| !std::mem::take(&mut self.fresh_start));
                if self.link.disconnected(now, code, &mut self.ids) {
                    self.out
                        .push_back(Output::Event(Event::Link(self.link.state.clone())));
                }
                Ok(())
            }
            Input::Received(text) => {
                self.link.received(now);
                let frame = self
                    .decoder
                    .decode_server(text)
                    .map_err(|e| Error::PeerMisbehaved(e.to_string()))?;
                self.handle_frame(now, frame)
            }
        }
    }

    fn handle_frame(&mut self, now: Instant, frame: ServerFrame) -> Result<(), Error> {
        match frame {
            ServerFrame::Welcome {
                protocol,
                config,
                session,
                ..
            } => {
                self.link.welcome(now, protocol, &mut self.out)?;
                if let Some(config) = config {
                    self.config = Some(config.clone());
                    self.out.push_back(Output::Event(Event::Config(config)));
                }
                if self.state == VisitorState::Loading {
                    let next = if self.conv.is_some() {
                        VisitorState::Queued { position: None }
                    } else {
                        VisitorState::Form
                    };
                    self.set_state(next);
                }
                if let Some(identify) = self.identity.clone() {
                    self.transmit(now, &identify);
                }
                self.send_start(now);
                if let Some(conv) = &mut self.conv {
                    if let Some(info) = session.filter(|s| s.session == conv.session) {
                        conv.note_head_at(now, info.head);
                    }
                    conv.resend_all(now, &mut self.out);
                    if self.end_requested && !conv.ended {
                        let end = conv.frame_end();
                        self.transmit(now, &end);
                    }
                }
                for (_, frame) in self.after.clone() {
                    self.transmit(now, &frame);
                }
            }
            ServerFrame::SessionStarted {
                session,
                start_id,
                resume_token,
            } => {
                if self.start.as_ref().is_none_or(|(id, _)| *id != start_id) || self.conv.is_some()
                {
                    return Err(Error::PeerMisbehaved("unexpected session_started".into()));
                }
                self.start = None;
                self.start_sent_at = None;
                self.token = Some(resume_token);
                let mut conv = Conversation::new(Party::Visitor, session.clone(), Seq::ZERO);
                self.out
                    .push_back(Output::Event(Event::SessionStarted(session.clone())));
                self.set_state(VisitorState::Queued { position: None });
                let before = self.out.len();
                for ev in self.early.drain(..).filter(|e| e.session == session) {
                    conv.receive(now, ev, &mut self.out);
                }
                self.conv = Some(conv);
                self.apply_timeline(before);
            }
            ServerFrame::Event(ev) => {
                if self.conv.is_none() && self.start.is_some() {
                    if self.early.len() < MAX_EARLY {
                        self.early.push(ev);
                    }
                    return Ok(());
                }
                let Some(conv) = self.conv.as_mut().filter(|c| c.session == ev.session) else {
                    return Err(Error::PeerMisbehaved("event for an unknown session".into()));
                };
                let before = self.out.len();
                conv.receive(now, ev, &mut self.out);
                self.apply_timeline(before);
            }
            ServerFrame::Ack { session, id, seq } => {
                if let Some(conv) = self.conv.as_mut().filter(|c| c.session == session) {
                    conv.acked(&id, seq, &mut self.out);
                    conv.note_head_at(now, seq);
                }
            }
            ServerFrame::Replayed { session, head, .. } => {
                if let Some(conv) = self.conv.as_mut().filter(|c| c.session == session) {
                    conv.replayed(now, head, &mut self.out);
                }
            }
            ServerFrame::Typing {
                session,
                from,
                active,
            } => {
                let conv = self.conv.as_mut().filter(|c| c.session == session);
                if let Some(conv) = conv.filter(|_| from != Party::Visitor) {
                    conv.peer_typing(now, active, &mut self.out);
                }
            }
            ServerFrame::Pong { heads, .. } => {
                if let Some(conv) = &mut self.conv
                    && let Some(head) = heads.get(&conv.session)
                {
                    conv.note_head_at(now, *head);
                }
            }
            ServerFrame::IceServers {
                servers,
                expires_at,
            } => {
                self.ice = (servers.clone(), expires_at);
                self.out.push_back(Output::Event(Event::IceServers {
                    servers,
                    expires_at,
                }));
            }
            ServerFrame::Done { id } => {
                if let Some(i) = self.after.iter().position(|(a, _)| *a == id) {
                    self.after.remove(i);
                    self.out.push_back(Output::Event(Event::Done(id)));
                    self.close_if_over();
                }
            }
            ServerFrame::History { id, events } if self.identity_id() == Some(&id) => {
                self.out.push_back(Output::Event(Event::History(events)));
            }
            ServerFrame::Error(e) if e.id.is_some() && e.id.as_ref() == self.identity_id() => {
                // Refused (or out of bounds): the visitor stays anonymous; not sent again.
                self.identity = None;
                self.out.push_back(Output::Event(Event::ServerError(e)));
            }
            ServerFrame::Error(e) => {
                let after =
                    e.id.as_ref()
                        .and_then(|id| self.after.iter().position(|(a, _)| a == id));
                if let Some(i) = after {
                    let (_, frame) = self.after.remove(i);
                    // Refused for good (a second request, before the end, not offered):
                    // stays asked; anything else (a rate limit, a server fault) may be tried
                    // again.
                    if e.code != ErrorCode::NotAllowed {
                        match frame {
                            ClientFrame::Rate { .. } => self.rated = false,
                            ClientFrame::EmailTranscript { .. } => self.emailed = false,
                            _ => {}
                        }
                    }
                    if let (ClientFrame::LeaveMessage { .. }, ErrorCode::InvalidForm) =
                        (&frame, e.code)
                    {
                        let fields = e.fields.clone().unwrap_or_default();
                        self.out
                            .push_back(Output::Event(Event::FormRejected(fields)));
                    }
                    self.out.push_back(Output::Event(Event::ServerError(e)));
                    self.close_if_over();
                    return Ok(());
                }
                if e.code == ErrorCode::InvalidForm && self.state == VisitorState::Starting {
                    self.start = None;
                    self.start_sent_at = None;
                    self.set_state(VisitorState::Form);
                    let fields = e.fields.clone().unwrap_or_default();
                    self.out
                        .push_back(Output::Event(Event::FormRejected(fields)));
                }
                if let (Some(conv), Some(id)) = (&mut self.conv, &e.id) {
                    conv.message_error(now, e.code, id, &mut self.out);
                }
                if e.code == ErrorCode::InvalidResume && self.conv.as_ref().is_some_and(|c| c.ended)
                {
                    // Reopened for after-chat requests, too late (the ended session's grace
                    // period is over): they fail; the end screen stays.
                    for (id, _) in std::mem::take(&mut self.after) {
                        let refusal =
                            ErrorFrame::new(ErrorCode::NotAllowed, "the chat ended too long ago")
                                .about(id);
                        self.out
                            .push_back(Output::Event(Event::ServerError(refusal)));
                    }
                    self.out.push_back(Output::Event(Event::ServerError(e)));
                    return Ok(());
                }
                if e.code == ErrorCode::InvalidResume {
                    // The session is gone for this client: start afresh after the close.
                    self.conv = None;
                    self.token = None;
                    self.fresh_start = true;
                    self.set_state(VisitorState::Loading);
                }
                self.out.push_back(Output::Event(Event::ServerError(e)));
            }
            // Agent frames and frames from a newer protocol revision: nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// Updates the session state from timeline events pushed since `before`.
    fn apply_timeline(&mut self, before: usize) {
        let mut next = None;
        let (mut call_first, mut owed, mut on) = (self.call_first, self.call_owed, self.call_on);
        for o in self.out.range(before..) {
            if let Output::Event(Event::Timeline(f)) = o {
                next = match &f.event {
                    SessionEvent::Queued { position } => Some(VisitorState::Queued {
                        position: Some(*position),
                    }),
                    SessionEvent::Started { call, .. } => {
                        call_first = *call;
                        next
                    }
                    SessionEvent::AgentJoined { agent } => Some(VisitorState::Connected {
                        agent: agent.clone(),
                    }),
                    SessionEvent::Call {
                        from: Party::Visitor,
                        signal: CallSignal::Start { .. },
                    } => {
                        (owed, on) = (false, true);
                        next
                    }
                    SessionEvent::Call {
                        signal: CallSignal::Hangup { .. },
                        ..
                    } => {
                        on = false;
                        next
                    }
                    SessionEvent::AgentLeft { .. } => {
                        // A transfer during the call: the visitor calls the next agent.
                        owed |= on;
                        on = false;
                        Some(VisitorState::Queued { position: None })
                    }
                    SessionEvent::Ended { reason } => Some(VisitorState::Ended { reason: *reason }),
                    _ => next,
                };
            }
        }
        (self.call_first, self.call_owed, self.call_on) = (call_first, owed, on);
        if let Some(state) = next {
            let ended = matches!(state, VisitorState::Ended { .. });
            self.set_state(state);
            if ended {
                self.close_if_over();
            }
        }
    }

    /// Closes the link once the session has ended and no after-chat request waits for
    /// an answer.
    fn close_if_over(&mut self) {
        let ended = self.conv.as_ref().is_some_and(|c| c.ended);
        if ended && self.after.is_empty() && !self.link.is_closed() {
            self.link.close(CloseCode::Normal);
            self.out.push_back(Output::Close(CloseCode::Normal));
            self.out
                .push_back(Output::Event(Event::Link(self.link.state.clone())));
        }
    }

    /// Rates the ended chat: `score` 1 to 5 and an optional comment (leave out an empty
    /// one), once per session. Reopens the link for it if the end closed it; the answer
    /// is [`Event::Done`] with the returned id, or [`Event::ServerError`] with it.
    pub fn rate(
        &mut self,
        now: Instant,
        score: u8,
        comment: Option<&str>,
    ) -> Result<MessageId, Error> {
        let rating = validate_rating(score, comment).map_err(Error::InvalidRating)?;
        self.after_chat_allowed(self.rated)?;
        self.rated = true;
        let id = self.ids.message_id();
        let frame = ClientFrame::Rate {
            id: id.clone(),
            score: rating.score,
            comment: rating.comment,
        };
        self.after_chat(now, id, frame)
    }

    /// Asks the server to email the ended chat's transcript to the address of the
    /// pre-chat form, once per session, where it offers that (`WidgetConfig::
    /// transcript_email`). Answered like [`rate`](Self::rate).
    pub fn email_transcript(&mut self, now: Instant) -> Result<MessageId, Error> {
        if !self.config.as_ref().is_some_and(|c| c.transcript_email) {
            return Err(Error::ApiMisuse("the server does not email transcripts"));
        }
        self.after_chat_allowed(self.emailed)?;
        self.emailed = true;
        let id = self.ids.message_id();
        let frame = ClientFrame::EmailTranscript { id: id.clone() };
        self.after_chat(now, id, frame)
    }

    fn after_chat_allowed(&self, asked: bool) -> Result<(), Error> {
        match &self.conv {
            None => Err(Error::ApiMisuse("no session")),
            Some(c) if !c.ended => Err(Error::ApiMisuse("the chat has not ended")),
            Some(_) if asked => Err(Error::ApiMisuse("already asked for this session")),
            Some(_) => Ok(()),
        }
    }

    fn after_chat(
        &mut self,
        now: Instant,
        id: MessageId,
        frame: ClientFrame,
    ) -> Result<MessageId, Error> {
        if self.link.is_online() {
            self.transmit(now, &frame);
        } else {
            self.link.reconnect_now(now, &mut self.out);
        }
        self.after.push((id.clone(), frame));
        Ok(id)
    }

    /// Leaves a message for the target's agents, who answer it by email, where no chat
    /// can start now and the target takes messages ([`WidgetConfig::can_leave_message`]):
    /// outside opening hours, or with nobody available where chats do not wait. The
    /// form's `first_message` is the message (required). Sent now or on the next
    /// connection; the answer is [`Event::Done`] with the returned id, or
    /// [`Event::ServerError`] with it (and [`Event::FormRejected`] for a refused field).
    /// [`Error::InvalidForm`] and nothing sent if the form breaks the rules.
    pub fn leave_message(&mut self, now: Instant, form: PreChatForm) -> Result<MessageId, Error> {
        let config = self
            .config
            .as_ref()
            .ok_or(Error::ApiMisuse("no configuration yet"))?;
        if !config.can_leave_message() {
            return Err(Error::ApiMisuse("the target takes no message now"));
        }
        if self.conv.is_some() || self.start.is_some() {
            return Err(Error::ApiMisuse("a chat is under way"));
        }
        if self
            .after
            .iter()
            .any(|(_, f)| matches!(f, ClientFrame::LeaveMessage { .. }))
        {
            return Err(Error::ApiMisuse("a message is being sent"));
        }
        form.validate_offline(&config.privacy.version)
            .map_err(Error::InvalidForm)?;
        let id = self.ids.message_id();
        let frame = ClientFrame::LeaveMessage {
            id: id.clone(),
            form,
            context: self.context.clone(),
        };
        if self.link.is_online() {
            self.transmit(now, &frame);
        }
        self.after.push((id.clone(), frame));
        Ok(id)
    }

    /// Lets timers fire: reconnects, keep-alives, resends, gap recovery, typing expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.link.fire(now, &mut self.ids, &mut self.out);
        let online = self.link.is_online();
        if online && self.start_sent_at.is_some_and(|t| now >= t + ACK_TIMEOUT) {
            self.send_start(now);
        }
        if let Some(conv) = &mut self.conv {
            conv.handle_timeout(now, online, &mut self.out);
        }
    }

    /// Sets what the host page says about the chat (its address, the website's
    /// attributes), sent with the next `start_chat` and stored in the session's `started`
    /// event. A session already started keeps the context it started with. An empty
    /// context sends none. [`Error::InvalidContext`] if it breaks the protocol's bounds;
    /// the previous context stays then.
    pub fn set_context(&mut self, context: ChatContext) -> Result<(), Error> {
        context.validate().map_err(Error::InvalidContext)?;
        self.context = (!context.is_empty()).then_some(context);
        Ok(())
    }

    /// Identifies the visitor as the website's `visitor` id, vouched for by `hash` (the
    /// hex HMAC-SHA256 of the id under the embed code's identity secret, computed by the
    /// website's server; see [`crate::identity`]). Sent at once when online, and again
    /// after every reconnect, before any `start_chat`: the server answers with
    /// [`Event::History`] (the visitor's earlier conversations) and stores chats started
    /// afterwards under the id, or refuses it ([`Event::ServerError`] with
    /// `identity_refused` and the returned id), after which the visitor stays anonymous.
    /// Nothing is stored by identifying alone. The same identity again is a no-op.
    /// [`Error::InvalidIdentity`] if it breaks the protocol's bounds (nothing sent).
    pub fn identify(
        &mut self,
        now: Instant,
        visitor: &str,
        hash: &str,
    ) -> Result<MessageId, Error> {
        crate::identity::validate(visitor, hash).map_err(Error::InvalidIdentity)?;
        if let Some(ClientFrame::Identify {
            id,
            visitor: v,
            hash: h,
        }) = &self.identity
            && v == visitor
            && h.eq_ignore_ascii_case(hash)
        {
            return Ok(id.clone());
        }
        let id = self.ids.message_id();
        let frame = ClientFrame::Identify {
            id: id.clone(),
            visitor: visitor.to_owned(),
            hash: hash.to_ascii_lowercase(),
        };
        if self.link.is_online() {
            self.transmit(now, &frame);
        }
        self.identity = Some(frame);
        Ok(id)
    }

    fn identity_id(&self) -> Option<&MessageId> {
        match &self.identity {
            Some(ClientFrame::Identify { id, .. }) => Some(id),
            _ => None,
        }
    }

    /// Starts the chat with the pre-chat form, after validating it with the same rules the
    /// server applies. On [`Error::InvalidForm`] nothing is sent.
    pub fn start_chat(&mut self, now: Instant, form: PreChatForm) -> Result<(), Error> {
        self.start_session(now, form, None)
    }

    /// Starts a call-first session: like [`Self::start_chat`], but the session is an
    /// audio or video call from the start, routed by the service's Audio/Video workflow
    /// and rung at the agent's side. Once an agent accepts (the state becomes
    /// [`VisitorState::Connected`]), [`Self::pending_call`] says which call to place with
    /// [`Self::start_call`] (the driver opens the media first). The chat stays available
    /// beside the call.
    pub fn start_with_call(
        &mut self,
        now: Instant,
        form: PreChatForm,
        media: CallMedia,
    ) -> Result<(), Error> {
        if !self.modality_enabled(media) {
            return Err(Error::ApiMisuse("the target does not enable this modality"));
        }
        self.start_session(now, form, Some(media))
    }

    /// Call-first: the call to place now, if the session started with one, an agent has
    /// accepted it and no call was placed with them yet, or another agent took it over
    /// after a transfer made during the call (the call goes on with them). A call-first
    /// session whose call ended goes on as a chat, also after a transfer.
    pub fn pending_call(&self) -> Option<CallMedia> {
        let connected = matches!(self.state, VisitorState::Connected { .. });
        self.call_first.filter(|_| connected && self.call_owed)
    }

    /// The medium of a call-first session (`None` for a chat).
    pub fn call_first(&self) -> Option<CallMedia> {
        self.call_first
    }

    fn modality_enabled(&self, media: CallMedia) -> bool {
        let modalities = self
            .config
            .as_ref()
            .map(|c| c.modalities)
            .unwrap_or_default();
        match media {
            CallMedia::Audio => modalities.audio,
            CallMedia::Video => modalities.video,
        }
    }

    fn start_session(
        &mut self,
        now: Instant,
        form: PreChatForm,
        call: Option<CallMedia>,
    ) -> Result<(), Error> {
        if self.state != VisitorState::Form {
            return Err(Error::ApiMisuse("start_chat needs the form state"));
        }
        let config = self
            .config
            .as_ref()
            .ok_or(Error::ApiMisuse("no configuration yet"))?;
        if !config.can_start_chat() {
            return Err(Error::ApiMisuse("the target cannot take a chat now"));
        }
        form.validate(&config.privacy.version)
            .map_err(Error::InvalidForm)?;
        let id = self.ids.message_id();
        self.start = Some((id, form));
        self.start_call = call;
        self.start_context = self.context.clone();
        if self.link.is_online() {
            self.send_start(now);
        }
        self.set_state(VisitorState::Starting);
        Ok(())
    }

    fn open_conv(&mut self) -> Result<&mut Conversation, Error> {
        open(&mut self.conv)
    }

    /// Sends a chat message; returns its id. It is kept and resent until the server
    /// acknowledges it, across reconnects.
    pub fn send_message(&mut self, now: Instant, text: &str) -> Result<MessageId, Error> {
        let text = validate_text(text).map_err(Error::InvalidText)?;
        let id = self.ids.message_id();
        let online = self.link.is_online();
        let conv = open(&mut self.conv)?;
        conv.queue_message(now, id.clone(), text, online, &mut self.out);
        if online {
            self.link.transmitted(now);
        }
        Ok(id)
    }

    /// Reports whether the visitor is typing (throttled; sends nothing while offline).
    pub fn set_typing(&mut self, now: Instant, active: bool) -> Result<(), Error> {
        let online = self.link.is_online();
        let conv = open(&mut self.conv)?;
        if online {
            conv.local_typing(now, active, &mut self.out);
        }
        Ok(())
    }

    /// The visitor has seen every message so far (sends a read receipt).
    pub fn mark_read(&mut self) -> Result<(), Error> {
        let online = self.link.is_online();
        let conv = open(&mut self.conv)?;
        if online {
            conv.mark_read(&mut self.out);
        }
        Ok(())
    }

    /// Ends the chat. Sent now, or as soon as the link is back.
    pub fn end_chat(&mut self, now: Instant) -> Result<(), Error> {
        let conv = self.open_conv()?;
        let end = conv.frame_end();
        // A call ends with the session: its quality summary goes first.
        let quality = conv.call.quality_signal().map(|q| conv.frame_call(q));
        self.end_requested = true;
        if self.link.is_online() {
            if let Some(quality) = quality {
                self.transmit(now, &quality);
            }
            self.transmit(now, &end);
        }
        Ok(())
    }

    fn signal(&mut self, now: Instant, signal: CallSignal) -> Result<(), Error> {
        if !self.link.is_online() {
            return Err(Error::ApiMisuse("call signalling needs the link online"));
        }
        let frame = self.open_conv()?.frame_call(signal);
        self.transmit(now, &frame);
        Ok(())
    }

    fn call_mut(&mut self) -> Result<&mut Call, Error> {
        Ok(&mut self.open_conv()?.call)
    }

    /// Runs `f` on the call machine and sends the signal it makes, only while online: a
    /// signal refused for want of a link leaves the machine as it was (an offer refused
    /// offline, say an ICE restart's, is not outstanding; the driver offers again once the
    /// link is back).
    fn call_signal(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Call) -> Result<CallSignal, Error>,
    ) -> Result<(), Error> {
        if !self.link.is_online() {
            return Err(Error::ApiMisuse("call signalling needs the link online"));
        }
        let signal = f(self.call_mut()?)?;
        self.signal(now, signal)
    }

    /// Asks the agent for an audio or video call, if the target enables that modality.
    pub fn start_call(&mut self, now: Instant, media: CallMedia) -> Result<CallId, Error> {
        if !self.modality_enabled(media) {
            return Err(Error::ApiMisuse("the target does not enable this modality"));
        }
        if !self.link.is_online() {
            return Err(Error::ApiMisuse("call signalling needs the link online"));
        }
        let id = self.ids.call_id();
        let signal = self.call_mut()?.start(id.clone(), media)?;
        self.signal(now, signal)?;
        self.call_owed = false;
        Ok(id)
    }

    /// Passes the local SDP offer (first negotiation or renegotiation).
    pub fn local_offer(&mut self, now: Instant, sdp: String) -> Result<(), Error> {
        self.call_signal(now, |c| c.local_offer(sdp))
    }

    /// Passes the local SDP answer to a remote offer.
    pub fn local_answer(&mut self, now: Instant, sdp: String) -> Result<(), Error> {
        self.call_signal(now, |c| c.local_answer(sdp))
    }

    /// Passes a local ICE candidate.
    pub fn local_candidate(&mut self, now: Instant, candidate: IceCandidate) -> Result<(), Error> {
        self.call_signal(now, |c| c.local_candidate(candidate))
    }

    /// Reports mute, camera and screen-share state. Enabling the screen needs the
    /// screen-share modality.
    pub fn set_media(&mut self, now: Instant, state: MediaState) -> Result<(), Error> {
        let screen_ok = self
            .config
            .as_ref()
            .is_some_and(|c| c.modalities.screen_share);
        if state.screen && !screen_ok {
            return Err(Error::ApiMisuse(
                "the target does not enable screen sharing",
            ));
        }
        self.call_signal(now, |c| c.set_media(state))
    }

    /// Reports a device switch; the call goes on.
    pub fn device_changed(&mut self, now: Instant, kind: DeviceKind) -> Result<(), Error> {
        self.call_signal(now, |c| c.device_changed(kind))
    }

    /// Hangs up the current call; the chat goes on.
    pub fn hangup(&mut self, now: Instant, reason: HangupReason) -> Result<(), Error> {
        let (signal, event) = self.call_mut()?.hangup(reason)?;
        let session = self.conv.as_ref().map(|c| c.session.clone());
        self.out
            .push_back(Output::Event(Event::Call { session, event }));
        // Best effort: if the link is down the agent learns from the session's end or
        // its own media timeout.
        let _ = self.signal(now, signal);
        if let Some(quality) = self.call_mut()?.take_final_quality() {
            let _ = self.signal(now, quality);
        }
        Ok(())
    }

    /// Takes a quality sample of the answered call from a `getStats()` reading (every
    /// [`SAMPLE_INTERVAL`](crate::quality::SAMPLE_INTERVAL) in the reference widget) and
    /// sends the call's quality summary when one is due (every
    /// [`QUALITY_INTERVAL`](crate::limits::QUALITY_INTERVAL), while online; the final one
    /// goes with the hang-up). Returns the rating of the latest samples.
    pub fn call_stats(
        &mut self,
        now: Instant,
        reading: StatsReading,
    ) -> Result<Option<QualityRating>, Error> {
        let online = self.link.is_online();
        let call = self.call_mut()?;
        let rating = call.stats(now, reading)?;
        if online && let Some(quality) = call.quality_due(now) {
            self.signal(now, quality)?;
        }
        Ok(rating)
    }

    /// The call's current local media state.
    pub fn local_media(&self) -> MediaState {
        self.conv
            .as_ref()
            .map(|c| c.call.local_media)
            .unwrap_or_default()
    }
}

fn open(conv: &mut Option<Conversation>) -> Result<&mut Conversation, Error> {
    match conv.as_mut() {
        Some(c) if !c.ended => Ok(c),
        Some(_) => Err(Error::ApiMisuse("the session has ended")),
        None => Err(Error::ApiMisuse("no session yet")),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn ice_servers_are_kept_and_announced() {
        let now = Instant::from_millis(1);
        let mut v = Visitor::new(
            Instant::ZERO,
            VisitorOptions {
                seed: 1,
                client: None,
                resume: None,
            },
        );
        assert!(v.ice_servers().is_empty());
        v.handle_input(now, Input::Connected).expect("ok");
        let servers = vec![IceServer {
            urls: vec!["stun:stun.example.com".into()],
            username: None,
            credential: None,
        }];
        let frame = encode(&ServerFrame::IceServers {
            servers: servers.clone(),
            expires_at: None,
        });
        v.handle_input(now, Input::Received(&frame)).expect("ok");
        assert_eq!(v.ice_servers(), &servers[..]);
        assert_eq!(v.ice_expires_at(), None);
        let mut events = Vec::new();
        loop {
            match v.poll_output() {
                Output::Timeout(_) => break,
                Output::Event(e) => events.push(e),
                _ => {}
            }
        }
        assert!(events.contains(&Event::IceServers {
            servers,
            expires_at: None
        }));
    }

    /// The frames sent and the events reported since the last call.
    fn drain(v: &mut Visitor) -> (Vec<ClientFrame>, Vec<Event>) {
        let (mut sent, mut events) = (Vec::new(), Vec::new());
        loop {
            match v.poll_output() {
                Output::Timeout(_) => return (sent, events),
                Output::Transmit(t) => {
                    sent.push(serde_json::from_str(&t).expect("a client frame"));
                }
                Output::Event(e) => events.push(e),
                _ => {}
            }
        }
    }

    fn welcome(v: &mut Visitor, now: Instant) {
        v.handle_input(now, Input::Connected).expect("ok");
        let welcome = encode(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            config: None,
            session: None,
            agent: None,
            heads: Default::default(),
        });
        v.handle_input(now, Input::Received(&welcome)).expect("ok");
    }

    #[test]
    fn an_identity_goes_after_each_welcome_until_refused() {
        let now = Instant::from_millis(1);
        let mut v = Visitor::new(Instant::ZERO, VisitorOptions::default());
        let hash = "ab".repeat(32);
        assert!(matches!(
            v.identify(now, "", &hash),
            Err(Error::InvalidIdentity(_))
        ));
        assert!(matches!(
            v.identify(now, "user-42", "xyz"),
            Err(Error::InvalidIdentity(_))
        ));
        // Before the connection: kept, and sent after the welcome.
        let id = v
            .identify(now, "user-42", &hash.to_ascii_uppercase())
            .expect("valid");
        assert_eq!(
            v.identify(now, "user-42", &hash),
            Ok(id.clone()),
            "the same again"
        );
        drain(&mut v);
        welcome(&mut v, now);
        let (sent, _) = drain(&mut v);
        let identify = ClientFrame::Identify {
            id: id.clone(),
            visitor: "user-42".into(),
            hash: hash.clone(),
        };
        assert_eq!(sent.last(), Some(&identify), "{sent:?}");
        // The answer: the history, as an event.
        let history = encode(&ServerFrame::History {
            id: id.clone(),
            events: vec![],
        });
        v.handle_input(now, Input::Received(&history)).expect("ok");
        let (_, events) = drain(&mut v);
        assert!(events.contains(&Event::History(vec![])), "{events:?}");
        // A reconnect sends it again; a refusal ends that.
        v.handle_input(now, Input::Disconnected(None)).expect("ok");
        welcome(&mut v, now);
        let (sent, _) = drain(&mut v);
        assert!(sent.contains(&identify), "{sent:?}");
        let refused = encode(&ServerFrame::Error(
            ErrorFrame::new(ErrorCode::IdentityRefused, "no").about(id.clone()),
        ));
        v.handle_input(now, Input::Received(&refused)).expect("ok");
        let (_, events) = drain(&mut v);
        assert!(
            events.iter().any(
                |e| matches!(e, Event::ServerError(e) if e.code == ErrorCode::IdentityRefused)
            ),
            "{events:?}"
        );
        v.handle_input(now, Input::Disconnected(None)).expect("ok");
        welcome(&mut v, now);
        let (sent, _) = drain(&mut v);
        assert!(
            !sent
                .iter()
                .any(|f| matches!(f, ClientFrame::Identify { .. })),
            "{sent:?}"
        );
        // A new identity while online goes at once.
        let other = v.identify(now, "user-43", &hash).expect("valid");
        let (sent, _) = drain(&mut v);
        assert!(
            matches!(sent.last(), Some(ClientFrame::Identify { id, .. }) if *id == other),
            "{sent:?}"
        );
    }
}
