//! The agent's side: sign-in, presence, offers, and several sessions at once. Used by the
//! agent console and by native agent clients.

use std::collections::{BTreeMap, VecDeque};

use crate::call::{Call, CallState};
use crate::client::{Event, Input, Output};
use crate::conversation::Conversation;
use crate::error::Error;
use crate::form::validate_text;
use crate::ids::{IdGen, MessageId, Seq, SessionId};
use crate::link::{Link, LinkState};
use crate::protocol::{
    AgentHello, AgentInfo, CallSignal, ClientFrame, DeviceKind, ErrorCode, HangupReason,
    IceCandidate, IceServer, MediaState, Offer, PROTOCOL_VERSION, Party, Presence, ServerFrame,
    TransferTarget, decode_server, encode,
};
use crate::quality::{QualityRating, QualitySample, StatsReading};
use crate::time::{Instant, UnixMillis};

/// Options for [`Agent::new`].
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// Seed for message ids; draw it from a random source.
    pub seed: u64,
    /// The bearer token from signing in.
    pub token: String,
    /// Client name and version, for the server's logs.
    pub client: Option<String>,
}

/// The agent state machine. Sans-IO, driven like [`Visitor`](crate::Visitor).
#[derive(Debug)]
pub struct Agent {
    link: Link,
    ids: IdGen,
    out: VecDeque<Output>,
    token: String,
    client: Option<String>,
    me: Option<AgentInfo>,
    presence: Presence,
    offers: BTreeMap<SessionId, Offer>,
    sessions: BTreeMap<SessionId, Conversation>,
    /// The latest `ice_servers`: the servers and when their credentials expire.
    ice: (Vec<IceServer>, Option<UnixMillis>),
}

impl Agent {
    /// A new agent client; its first output asks the driver to connect.
    pub fn new(now: Instant, options: AgentOptions) -> Self {
        let mut out = VecDeque::new();
        out.push_back(Output::Connect);
        out.push_back(Output::Event(Event::Link(LinkState::Connecting)));
        Self {
            link: Link::new(now),
            ids: IdGen::new(options.seed),
            out,
            token: options.token,
            client: options.client,
            me: None,
            presence: Presence::Available,
            offers: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ice: (Vec::new(), None),
        }
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

    /// Who signed in, once the server said.
    pub fn me(&self) -> Option<&AgentInfo> {
        self.me.as_ref()
    }

    /// The connection state.
    pub fn link(&self) -> &LinkState {
        &self.link.state
    }

    /// The presence last set here or confirmed by the server.
    pub fn presence(&self) -> Presence {
        self.presence
    }

    /// Sessions offered and not yet accepted, declined or withdrawn.
    pub fn offers(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values()
    }

    /// Sessions the agent handles, with whether each has ended (or was transferred by
    /// this agent: over for them).
    pub fn sessions(&self) -> impl Iterator<Item = (&SessionId, bool)> {
        self.sessions.iter().map(|(id, c)| (id, c.ended))
    }

    /// The highest sequence number processed in `session`.
    pub fn last_seq(&self, session: &SessionId) -> Option<Seq> {
        self.sessions.get(session).map(|c| c.last)
    }

    /// Whether messages are waiting for the server's acknowledgement.
    pub fn has_unsent(&self) -> bool {
        self.sessions.values().any(Conversation::has_unsent)
    }

    /// The call state in `session`.
    pub fn call_state(&self, session: &SessionId) -> Option<&CallState> {
        self.sessions.get(session).map(|c| &c.call.state)
    }

    /// Next thing for the driver to do. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        let online = self.link.is_online();
        let convs = self
            .sessions
            .values()
            .filter_map(|c| c.poll_timeout(online));
        let at = self.link.poll_timeout().into_iter().chain(convs).min();
        Output::Timeout(at.unwrap_or(Instant::from_millis(u64::MAX)))
    }

    fn transmit(&mut self, now: Instant, frame: &ClientFrame) {
        self.out.push_back(Output::Transmit(encode(frame)));
        self.link.transmitted(now);
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    /// Feeds what happened on the transport.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), Error> {
        match input {
            Input::Connected => {
                self.link.connected(now);
                let resume = self
                    .sessions
                    .iter()
                    .filter(|(_, c)| !c.ended)
                    .map(|(id, c)| (id.clone(), c.last))
                    .collect();
                let hello = ClientFrame::AgentHello(AgentHello {
                    protocol: PROTOCOL_VERSION,
                    token: self.token.clone(),
                    client: self.client.clone(),
                    resume,
                });
                self.transmit(now, &hello);
            }
            Input::Disconnected(code) => {
                if self.link.disconnected(now, code, &mut self.ids) {
                    self.emit(Event::Link(self.link.state.clone()));
                }
                // Offers are made again by the server after a reconnect.
                self.offers.clear();
            }
            Input::Received(text) => {
                self.link.received(now);
                let frame =
                    decode_server(text).map_err(|e| Error::PeerMisbehaved(e.to_string()))?;
                self.handle_frame(now, frame)?;
            }
        }
        Ok(())
    }

    fn handle_frame(&mut self, now: Instant, frame: ServerFrame) -> Result<(), Error> {
        match frame {
            ServerFrame::Welcome {
                protocol,
                agent,
                heads,
                ..
            } => {
                self.link.welcome(now, protocol, &mut self.out)?;
                if let Some(agent) = agent {
                    self.me = Some(agent.clone());
                    self.emit(Event::SignedIn(agent));
                }
                // The server replays only the sessions named in `agent_hello.resume`;
                // the others it says we handle (after a page reload, say) are fetched.
                for (session, head) in heads {
                    match self.sessions.get_mut(&session) {
                        Some(conv) => conv.note_head(head),
                        None => {
                            let mut conv = self.new_conv(&session);
                            conv.replayed(now, head, &mut self.out);
                            self.sessions.insert(session, conv);
                        }
                    }
                }
                let presence = ClientFrame::SetPresence {
                    presence: self.presence,
                };
                self.transmit(now, &presence);
                for conv in self.sessions.values_mut() {
                    conv.resend_all(now, &mut self.out);
                }
            }
            ServerFrame::Offer(offer) => {
                // Offered again a session we accepted but whose accept was lost: accept again.
                if self
                    .sessions
                    .get(&offer.session)
                    .is_some_and(|c| c.last == Seq::ZERO)
                {
                    let accept = ClientFrame::Accept {
                        session: offer.session,
                    };
                    self.transmit(now, &accept);
                    return Ok(());
                }
                // A repeat of an open offer (a server sends one again when it may have
                // been lost) is the same offer: told once.
                if self
                    .offers
                    .insert(offer.session.clone(), offer.clone())
                    .is_none_or(|before| before != offer)
                {
                    self.emit(Event::Offered(offer));
                }
            }
            ServerFrame::OfferWithdrawn { session } if self.offers.remove(&session).is_some() => {
                self.emit(Event::OfferWithdrawn(session));
            }
            ServerFrame::Event(ev) => {
                if !self.sessions.contains_key(&ev.session) {
                    let conv = self.new_conv(&ev.session);
                    self.sessions.insert(ev.session.clone(), conv);
                }
                if let Some(conv) = self.sessions.get_mut(&ev.session) {
                    conv.receive(now, ev, &mut self.out);
                }
            }
            ServerFrame::Ack { session, id, seq } => {
                if let Some(conv) = self.sessions.get_mut(&session) {
                    conv.acked(&id, seq, &mut self.out);
                    conv.note_head_at(now, seq);
                }
            }
            ServerFrame::Replayed { session, head, .. } => {
                if let Some(conv) = self.sessions.get_mut(&session) {
                    conv.replayed(now, head, &mut self.out);
                }
            }
            ServerFrame::Typing {
                session,
                from,
                active,
            } => {
                if let Some(conv) = self
                    .sessions
                    .get_mut(&session)
                    .filter(|_| from != Party::Agent)
                {
                    conv.peer_typing(now, active, &mut self.out);
                }
            }
            ServerFrame::Pong { heads, .. } => {
                for (session, head) in heads {
                    if let Some(conv) = self.sessions.get_mut(&session) {
                        conv.note_head_at(now, head);
                    }
                }
            }
            ServerFrame::Presence { presence } => {
                // The server may set it too (away after missed offers): a reconnect then
                // keeps what the server said rather than the last choice.
                self.presence = presence;
                self.emit(Event::Presence(presence));
            }
            ServerFrame::IceServers {
                servers,
                expires_at,
            } => {
                self.ice = (servers.clone(), expires_at);
                self.emit(Event::IceServers {
                    servers,
                    expires_at,
                });
            }
            ServerFrame::Error(e) => {
                if let (Some(session), Some(id)) = (&e.session, &e.id)
                    && let Some(conv) = self.sessions.get_mut(session)
                {
                    conv.message_error(now, e.code, id, &mut self.out);
                }
                // A refused `accept` leaves no session behind.
                if let Some(session) = &e.session
                    && matches!(e.code, ErrorCode::UnknownSession | ErrorCode::NotAllowed)
                    && self
                        .sessions
                        .get(session)
                        .is_some_and(|c| c.last == Seq::ZERO)
                {
                    self.sessions.remove(session);
                }
                self.emit(Event::ServerError(e));
            }
            _ => {}
        }
        Ok(())
    }

    /// Lets timers fire: reconnects, keep-alives, resends, gap recovery, typing expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.link.fire(now, &mut self.ids, &mut self.out) {
            // Offers are made again by the server after a reconnect.
            self.offers.clear();
        }
        let online = self.link.is_online();
        for conv in self.sessions.values_mut() {
            conv.handle_timeout(now, online, &mut self.out);
        }
    }

    /// Reconnects at once instead of waiting for the backoff (a "Retry now" button), or
    /// after a close that is not retried by itself (a "Reconnect" button). An
    /// [`Error::ApiMisuse`] while connecting or online.
    pub fn reconnect_now(&mut self, now: Instant) -> Result<(), Error> {
        if self.link.reconnect_now(now, &mut self.out) {
            Ok(())
        } else {
            Err(Error::ApiMisuse("the link is connecting or online"))
        }
    }

    fn require_online(&self) -> Result<(), Error> {
        if self.link.is_online() {
            Ok(())
        } else {
            Err(Error::ApiMisuse("the link is not online"))
        }
    }

    /// Sets presence (sent now, and again after each reconnect).
    pub fn set_presence(&mut self, now: Instant, presence: Presence) {
        self.presence = presence;
        if self.link.is_online() {
            self.transmit(now, &ClientFrame::SetPresence { presence });
        }
    }

    /// Accepts an offered session.
    pub fn accept(&mut self, now: Instant, session: &SessionId) -> Result<(), Error> {
        self.require_online()?;
        if self.offers.remove(session).is_none() {
            return Err(Error::ApiMisuse("no such offer"));
        }
        if !self.sessions.contains_key(session) {
            let conv = self.new_conv(session);
            self.sessions.insert(session.clone(), conv);
        }
        self.transmit(
            now,
            &ClientFrame::Accept {
                session: session.clone(),
            },
        );
        Ok(())
    }

    /// Declines an offered session; it goes back to the queue.
    pub fn decline(&mut self, now: Instant, session: &SessionId) -> Result<(), Error> {
        self.require_online()?;
        if self.offers.remove(session).is_none() {
            return Err(Error::ApiMisuse("no such offer"));
        }
        self.transmit(
            now,
            &ClientFrame::Decline {
                session: session.clone(),
            },
        );
        Ok(())
    }

    fn conv(&mut self, session: &SessionId) -> Result<&mut Conversation, Error> {
        open(&mut self.sessions, session)
    }

    /// A new conversation of this agent (its own `agent_left` closes it).
    fn new_conv(&self, session: &SessionId) -> Conversation {
        let mut conv = Conversation::new(Party::Agent, session.clone(), Seq::ZERO);
        conv.agent = self.me.as_ref().map(|me| me.id.clone());
        conv
    }

    /// Transfers `session` to another service or user. The server answers with the
    /// session's `transferred` and `agent_left` events, after which the session is over
    /// for this agent (as if it had ended: read-only, not resumed); or with an `error`
    /// (`not_allowed`, `invalid_field`) and the session stays.
    pub fn transfer(
        &mut self,
        now: Instant,
        session: &SessionId,
        to: TransferTarget,
    ) -> Result<(), Error> {
        self.require_online()?;
        self.conv(session)?;
        self.transmit(
            now,
            &ClientFrame::Transfer {
                session: session.clone(),
                to,
            },
        );
        Ok(())
    }

    /// Sends a chat message in `session`; kept and resent until acknowledged.
    pub fn send_message(
        &mut self,
        now: Instant,
        session: &SessionId,
        text: &str,
    ) -> Result<MessageId, Error> {
        let text = validate_text(text).map_err(Error::InvalidText)?;
        let id = self.ids.message_id();
        let online = self.link.is_online();
        let conv = open(&mut self.sessions, session)?;
        conv.queue_message(now, id.clone(), text, online, &mut self.out);
        if online {
            self.link.transmitted(now);
        }
        Ok(id)
    }

    /// Reports typing in `session` (throttled).
    pub fn set_typing(
        &mut self,
        now: Instant,
        session: &SessionId,
        active: bool,
    ) -> Result<(), Error> {
        let online = self.link.is_online();
        let conv = open(&mut self.sessions, session)?;
        if online {
            conv.local_typing(now, active, &mut self.out);
        }
        Ok(())
    }

    /// The agent has seen everything in `session` so far.
    pub fn mark_read(&mut self, session: &SessionId) -> Result<(), Error> {
        let online = self.link.is_online();
        let conv = open(&mut self.sessions, session)?;
        if online {
            conv.mark_read(&mut self.out);
        }
        Ok(())
    }

    /// Ends `session`.
    pub fn end(&mut self, now: Instant, session: &SessionId) -> Result<(), Error> {
        self.require_online()?;
        let conv = self.conv(session)?;
        let frame = conv.frame_end();
        // A call ends with the session: its quality summary goes first.
        if let Some(quality) = conv.call.quality_signal().map(|q| conv.frame_call(q)) {
            self.transmit(now, &quality);
        }
        self.transmit(now, &frame);
        Ok(())
    }

    /// Drops an ended session from memory (the console closed its tab).
    pub fn forget(&mut self, session: &SessionId) {
        if self.sessions.get(session).is_some_and(|c| c.ended) {
            self.sessions.remove(session);
        }
    }

    fn signal(
        &mut self,
        now: Instant,
        session: &SessionId,
        f: impl FnOnce(&mut Call) -> Result<CallSignal, Error>,
    ) -> Result<(), Error> {
        self.require_online()?;
        let conv = self.conv(session)?;
        let signal = f(&mut conv.call)?;
        let frame = conv.frame_call(signal);
        self.transmit(now, &frame);
        Ok(())
    }

    /// Accepts the call ringing in `session`.
    pub fn accept_call(&mut self, now: Instant, session: &SessionId) -> Result<(), Error> {
        self.signal(now, session, Call::accept)
    }

    /// Passes the local SDP offer (renegotiation).
    pub fn local_offer(
        &mut self,
        now: Instant,
        session: &SessionId,
        sdp: String,
    ) -> Result<(), Error> {
        self.signal(now, session, |c| c.local_offer(sdp))
    }

    /// Passes the local SDP answer.
    pub fn local_answer(
        &mut self,
        now: Instant,
        session: &SessionId,
        sdp: String,
    ) -> Result<(), Error> {
        self.signal(now, session, |c| c.local_answer(sdp))
    }

    /// Passes a local ICE candidate.
    pub fn local_candidate(
        &mut self,
        now: Instant,
        session: &SessionId,
        candidate: IceCandidate,
    ) -> Result<(), Error> {
        self.signal(now, session, |c| c.local_candidate(candidate))
    }

    /// Reports mute, camera and screen-share state.
    pub fn set_media(
        &mut self,
        now: Instant,
        session: &SessionId,
        state: MediaState,
    ) -> Result<(), Error> {
        self.signal(now, session, |c| c.set_media(state))
    }

    /// Reports a device switch.
    pub fn device_changed(
        &mut self,
        now: Instant,
        session: &SessionId,
        kind: DeviceKind,
    ) -> Result<(), Error> {
        self.signal(now, session, |c| c.device_changed(kind))
    }

    /// Hangs up (or declines, with [`HangupReason::Declined`]) the call in `session`.
    pub fn hangup(
        &mut self,
        now: Instant,
        session: &SessionId,
        reason: HangupReason,
    ) -> Result<(), Error> {
        self.require_online()?;
        let conv = open(&mut self.sessions, session)?;
        let (signal, event) = conv.call.hangup(reason)?;
        conv.emit_call(event, &mut self.out);
        let frame = conv.frame_call(signal);
        let quality = conv.call.take_final_quality().map(|q| conv.frame_call(q));
        self.transmit(now, &frame);
        if let Some(quality) = quality {
            self.transmit(now, &quality);
        }
        Ok(())
    }

    /// Takes a quality sample of the answered call in `session` from a `getStats()`
    /// reading and sends the call's quality summary when one is due (as
    /// [`Visitor::call_stats`](crate::Visitor::call_stats)). Returns the rating of the
    /// latest samples.
    pub fn call_stats(
        &mut self,
        now: Instant,
        session: &SessionId,
        reading: StatsReading,
    ) -> Result<Option<QualityRating>, Error> {
        let online = self.link.is_online();
        let conv = self.conv(session)?;
        let rating = conv.call.stats(now, reading)?;
        if online && let Some(quality) = conv.call.quality_due(now) {
            let frame = conv.frame_call(quality);
            self.transmit(now, &frame);
        }
        Ok(rating)
    }

    /// The median figures of the last few quality samples of the call in `session`
    /// ([`QualityMeter::latest`](crate::quality::QualityMeter::latest)).
    pub fn call_quality(&self, session: &SessionId) -> Option<QualitySample> {
        self.sessions.get(session)?.call.quality_recent()
    }
}

fn open<'a>(
    sessions: &'a mut BTreeMap<SessionId, Conversation>,
    session: &SessionId,
) -> Result<&'a mut Conversation, Error> {
    match sessions.get_mut(session) {
        Some(c) if !c.ended => Ok(c),
        Some(_) => Err(Error::ApiMisuse("the session has ended")),
        None => Err(Error::ApiMisuse("not a session of this agent")),
    }
}
