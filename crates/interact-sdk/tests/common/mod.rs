//! A deterministic world for simulations: a virtual clock, a seeded lossy network, a
//! small server built on the SDK's [`SessionLog`], one visitor and one agent.
//!
//! The network can drop, duplicate and delay (and so reorder) frames, and cut connections;
//! everything is decided by one seed, so a failing run can be replayed exactly.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};

use interact_sdk::config::{Availability, PrivacyPolicy, Target, TargetKind, Theme, WidgetConfig};
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{AgentId, IdGen, MessageId, ResumeToken, Seq, SessionId};
use interact_sdk::modality::Modalities;
use interact_sdk::protocol::{
    AgentInfo, ClientFrame, Consent, ErrorCode, ErrorFrame, EventFrame, Offer, PROTOCOL_VERSION,
    Party, ServerFrame, SessionEvent, SessionInfo, VisitorInfo, decode_client, encode,
};
use interact_sdk::relay::{Effect, SessionLog};
use interact_sdk::time::{Instant, UnixMillis};
use interact_sdk::{Agent, AgentOptions, Event, Input, Output, Visitor, VisitorOptions};

/// How hostile the network is.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    /// Per-mille chance a frame is dropped (within a live connection).
    pub drop_pm: u64,
    /// Per-mille chance a frame is delivered twice.
    pub dup_pm: u64,
    /// Highest one-way delay in ms (delays are uniform in 1..=max, so frames reorder).
    pub max_delay_ms: u64,
    /// Per-mille chance, per simulated 100 ms, that a live connection is cut.
    pub cut_pm: u64,
    /// Whether frames of one connection may overtake each other (a WebSocket keeps
    /// order; the hostile link does not).
    pub reorder: bool,
}

impl NetConfig {
    pub const PERFECT: Self = Self {
        drop_pm: 0,
        dup_pm: 0,
        max_delay_ms: 5,
        cut_pm: 0,
        reorder: false,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    Visitor,
    Agent,
}

#[derive(Debug)]
enum Packet {
    /// Connection `conn` opened (delivered to the client).
    Open,
    ToServer(String),
    ToClient(String),
}

#[derive(Debug)]
struct InFlight {
    at: u64,
    order: u64,
    who: Who,
    conn: u64,
    packet: Packet,
}

/// The server: connection handling and routing around the SDK's session logs.
#[derive(Debug, Default)]
pub struct Server {
    pub config: Option<WidgetConfig>,
    pub logs: BTreeMap<SessionId, SessionLog>,
    tokens: BTreeMap<SessionId, ResumeToken>,
    starts: BTreeMap<MessageId, SessionId>,
    /// Live connection per role: (connection id, session for visitors).
    visitor_conn: Option<(u64, Option<SessionId>)>,
    agent_conn: Option<u64>,
    agent_sessions: Vec<SessionId>,
    offered: Vec<SessionId>,
    pub rejected_resumes: u32,
    next_session: u64,
    /// End-of-chat ratings stored: (session, score, comment).
    pub ratings: Vec<(SessionId, u8, Option<String>)>,
    /// Offline messages stored: (request id, message), once per id as the reference
    /// server does.
    pub left: Vec<(MessageId, String)>,
}

pub const AGENT_TOKEN: &str = "agent-token-1";

pub fn agent_info() -> AgentInfo {
    AgentInfo {
        id: AgentId::new("agent-1").expect("valid"),
        display_name: "Alex Agent".into(),
    }
}

pub fn demo_config() -> WidgetConfig {
    WidgetConfig {
        target: Target {
            kind: TargetKind::Service,
            display_name: "Customer Care".into(),
        },
        modalities: Modalities::ALL,
        privacy: PrivacyPolicy {
            url: "https://example.com/privacy".into(),
            text: "I agree to the privacy policy.".into(),
            version: "2024-05".into(),
        },
        availability: Availability::Open,
        theme: Theme::default(),
        languages: vec!["en".into(), "de".into()],
        transcript_email: false,
        opens_at: None,
        queue_when_unavailable: false,
        expected_wait: None,
        offline_messages: false,
        attachment_max_bytes: None,
    }
}

pub fn demo_form(first: Option<&str>) -> PreChatForm {
    PreChatForm {
        display_name: "Vera Visitor".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: first.map(str::to_owned),
    }
}

/// Frames the server wants to send: (who, connection, frame).
type Outbox = Vec<(Who, u64, ServerFrame)>;

impl Server {
    fn error(code: ErrorCode, msg: &str) -> ServerFrame {
        ServerFrame::error(code, msg)
    }

    /// Refuses resumes of `session` from now on, as when its resume window has passed.
    pub fn expire_resume(&mut self, session: &SessionId) {
        self.tokens.remove(session);
    }

    pub fn disconnected(&mut self, who: Who, conn: u64) {
        match who {
            Who::Visitor if self.visitor_conn.as_ref().is_some_and(|(c, _)| *c == conn) => {
                self.visitor_conn = None;
            }
            Who::Agent if self.agent_conn == Some(conn) => {
                self.agent_conn = None;
                self.offered.clear();
            }
            _ => {}
        }
    }

    fn send_events(&self, out: &mut Outbox, session: &SessionId, frames: &[EventFrame]) {
        if let Some((c, Some(s))) = &self.visitor_conn
            && s == session
        {
            for f in frames {
                out.push((Who::Visitor, *c, ServerFrame::Event(f.clone())));
            }
        }
        if let Some(c) = self.agent_conn
            && self.agent_sessions.contains(session)
        {
            for f in frames {
                out.push((Who::Agent, c, ServerFrame::Event(f.clone())));
            }
        }
    }

    fn offer_waiting(&mut self, now: u64, out: &mut Outbox) {
        let Some(c) = self.agent_conn else { return };
        for (id, log) in &self.logs {
            if log.agent().is_none()
                && !log.is_ended()
                && !self.offered.contains(id)
                && !self.agent_sessions.contains(id)
            {
                self.offered.push(id.clone());
                out.push((
                    Who::Agent,
                    c,
                    ServerFrame::Offer(Offer {
                        session: id.clone(),
                        visitor: VisitorInfo {
                            display_name: "Vera Visitor".into(),
                            email: "vera@example.com".into(),
                            channel: None,
                            phone: None,
                            verified_id: None,
                        },
                        target: demo_config().target,
                        first_message: None,
                        expires_at: UnixMillis(now + 30_000),
                        call: log.call_first(),
                    }),
                ));
            }
        }
    }

    /// One page of `session` after `after`, as a `sync` answers it.
    fn replay(&self, who: Who, conn: u64, session: &SessionId, after: Seq) -> Outbox {
        self.logs[session]
            .replay(after)
            .into_iter()
            .filter_map(|e| match e {
                Effect::Reply(f) => Some((who, conn, f)),
                _ => None,
            })
            .collect()
    }

    pub fn receive(&mut self, now: u64, who: Who, conn: u64, text: &str) -> Outbox {
        let mut out = Vec::new();
        let at = UnixMillis(1_700_000_000_000 + now);
        let frame = match decode_client(text) {
            Ok(f) => f,
            Err(e) => {
                out.push((who, conn, Self::error(e.code(), &e.to_string())));
                return out;
            }
        };
        match (who, frame) {
            (Who::Visitor, ClientFrame::Hello(h)) => {
                assert_eq!(h.protocol, PROTOCOL_VERSION);
                let mut session_info = None;
                let mut session = None;
                if let Some(r) = h.resume {
                    if self.tokens.get(&r.session) != Some(&r.token) {
                        self.rejected_resumes += 1;
                        let mut e = ErrorFrame {
                            code: ErrorCode::InvalidResume,
                            message: "bad token".into(),
                            id: None,
                            session: None,
                            fields: None,
                            fatal: true,
                        };
                        e.session = Some(r.session);
                        out.push((who, conn, ServerFrame::Error(e)));
                        return out;
                    }
                    let log = &self.logs[&r.session];
                    session_info = Some(SessionInfo {
                        session: r.session.clone(),
                        head: log.head(),
                    });
                    session = Some((r.session, r.last_seq));
                }
                self.visitor_conn = Some((conn, session.as_ref().map(|(s, _)| s.clone())));
                out.push((
                    who,
                    conn,
                    ServerFrame::Welcome {
                        protocol: PROTOCOL_VERSION,
                        config: self.config.clone(),
                        session: session_info,
                        agent: None,
                        heads: Default::default(),
                    },
                ));
                if let Some((s, last)) = session {
                    out.extend(self.replay(who, conn, &s, last));
                }
            }
            (Who::Agent, ClientFrame::AgentHello(h)) => {
                assert_eq!(h.token, AGENT_TOKEN);
                self.agent_conn = Some(conn);
                self.offered.clear();
                out.push((
                    who,
                    conn,
                    ServerFrame::Welcome {
                        protocol: PROTOCOL_VERSION,
                        config: None,
                        session: None,
                        agent: Some(agent_info()),
                        heads: self
                            .agent_sessions
                            .iter()
                            .map(|s| (s.clone(), self.logs[s].head()))
                            .collect(),
                    },
                ));
                // As the server: only the sessions the agent names are replayed.
                for s in self.agent_sessions.clone() {
                    if let Some(last) = h.resume.get(&s) {
                        out.extend(self.replay(who, conn, &s, *last));
                    }
                }
            }
            (_, ClientFrame::Ping { nonce }) => {
                let heads = match who {
                    Who::Visitor => self
                        .visitor_conn
                        .as_ref()
                        .and_then(|(_, s)| s.clone())
                        .map(|s| (s.clone(), self.logs[&s].head()))
                        .into_iter()
                        .collect(),
                    Who::Agent => self
                        .agent_sessions
                        .iter()
                        .map(|s| (s.clone(), self.logs[s].head()))
                        .collect(),
                };
                out.push((who, conn, ServerFrame::Pong { nonce, heads }));
            }
            (
                Who::Visitor,
                ClientFrame::StartChat {
                    id,
                    form,
                    call,
                    context,
                },
            ) => {
                if let Some(session) = self.starts.get(&id).cloned() {
                    self.visitor_conn = Some((conn, Some(session.clone())));
                    out.push((
                        who,
                        conn,
                        ServerFrame::SessionStarted {
                            session: session.clone(),
                            start_id: id,
                            resume_token: self.tokens[&session].clone(),
                        },
                    ));
                    return out;
                }
                let config = self.config.clone().expect("config");
                let valid = match form.validate(&config.privacy.version) {
                    Ok(v) => v,
                    Err(fields) => {
                        let mut e = ErrorFrame {
                            code: ErrorCode::InvalidForm,
                            message: "invalid form".into(),
                            id: Some(id),
                            session: None,
                            fields: Some(fields),
                            fatal: false,
                        };
                        e.fatal = false;
                        out.push((who, conn, ServerFrame::Error(e)));
                        return out;
                    }
                };
                self.next_session += 1;
                let session = SessionId::new(format!("s{}", self.next_session)).expect("valid");
                let token = ResumeToken::new(format!("tok-{}-{now}", self.next_session));
                let mut log = SessionLog::new(session.clone(), config.modalities);
                log.append(
                    at,
                    SessionEvent::Started {
                        context: context.map(Box::new),
                        visitor: VisitorInfo {
                            display_name: valid.display_name.clone(),
                            email: valid.email.clone(),
                            channel: None,
                            phone: None,
                            verified_id: None,
                        },
                        consent: Consent {
                            policy_version: valid.consent_version.clone(),
                            at,
                        },
                        target: config.target.clone(),
                        call,
                    },
                )
                .expect("fresh log");
                if let Some(text) = valid.first_message {
                    let first = ClientFrame::Send {
                        session: None,
                        id: id.clone(),
                        text,
                        after: None,
                    };
                    log.handle(at, Party::Visitor, &first)
                        .expect("first message");
                }
                log.append(at, SessionEvent::Queued { position: 1 })
                    .expect("open");
                self.tokens.insert(session.clone(), token.clone());
                self.starts.insert(id.clone(), session.clone());
                self.visitor_conn = Some((conn, Some(session.clone())));
                out.push((
                    who,
                    conn,
                    ServerFrame::SessionStarted {
                        session: session.clone(),
                        start_id: id,
                        resume_token: token,
                    },
                ));
                let frames = log.events_after(Seq::ZERO).to_vec();
                self.logs.insert(session.clone(), log);
                self.send_events(&mut out, &session, &frames);
                self.offer_waiting(now, &mut out);
            }
            (Who::Agent, ClientFrame::SetPresence { presence }) => {
                out.push((who, conn, ServerFrame::Presence { presence }));
                self.offer_waiting(now, &mut out);
            }
            (Who::Agent, ClientFrame::Accept { session }) => {
                self.offered.retain(|s| *s != session);
                let Some(log) = self.logs.get_mut(&session) else {
                    out.push((
                        who,
                        conn,
                        Self::error(ErrorCode::UnknownSession, "no such session"),
                    ));
                    return out;
                };
                if self.agent_sessions.contains(&session) {
                    return out;
                }
                let joined = log
                    .append(
                        at,
                        SessionEvent::AgentJoined {
                            agent: agent_info(),
                        },
                    )
                    .expect("open");
                let _ = joined;
                self.agent_sessions.push(session.clone());
                // The agent sees the whole transcript; the visitor the new event.
                let all = self.logs[&session].events_after(Seq::ZERO).to_vec();
                for f in &all {
                    out.push((Who::Agent, conn, ServerFrame::Event(f.clone())));
                }
                if let Some((c, Some(s))) = &self.visitor_conn
                    && *s == session
                {
                    let last = all.last().expect("joined").clone();
                    out.push((Who::Visitor, *c, ServerFrame::Event(last)));
                }
            }
            (Who::Visitor, ClientFrame::LeaveMessage { id, form, .. }) => {
                let open = self
                    .config
                    .as_ref()
                    .is_some_and(WidgetConfig::can_leave_message);
                let frame = match form.validate_offline("2024-05") {
                    Ok(valid) if open => {
                        if !self.left.iter().any(|(i, _)| *i == id) {
                            let text = valid.first_message.expect("required");
                            self.left.push((id.clone(), text));
                        }
                        ServerFrame::Done { id }
                    }
                    _ => {
                        let mut e = ErrorFrame::new(ErrorCode::NotAllowed, "not now");
                        e.id = Some(id);
                        ServerFrame::Error(e)
                    }
                };
                out.push((who, conn, frame));
            }
            (Who::Visitor, ClientFrame::Rate { id, score, comment }) => {
                // As the reference server: only after the end, once per session.
                let session = self.visitor_conn.as_ref().and_then(|(_, s)| s.clone());
                let ended = session
                    .as_ref()
                    .and_then(|s| self.logs.get(s))
                    .is_some_and(SessionLog::is_ended);
                let again = self
                    .ratings
                    .iter()
                    .any(|(s, ..)| Some(s) == session.as_ref());
                let frame = match session {
                    Some(s) if ended && !again => {
                        self.ratings.push((s, score, comment));
                        ServerFrame::Done { id }
                    }
                    _ => {
                        let mut e = ErrorFrame::new(ErrorCode::NotAllowed, "not now");
                        e.id = Some(id);
                        ServerFrame::Error(e)
                    }
                };
                out.push((who, conn, frame));
            }
            (who, frame) => {
                let (party, session) = match who {
                    Who::Visitor => (
                        Party::Visitor,
                        self.visitor_conn.as_ref().and_then(|(_, s)| s.clone()),
                    ),
                    Who::Agent => (Party::Agent, frame.session().cloned()),
                };
                let Some(session) = session else {
                    out.push((
                        who,
                        conn,
                        Self::error(ErrorCode::UnknownSession, "no session"),
                    ));
                    return out;
                };
                let Some(log) = self.logs.get_mut(&session) else {
                    out.push((
                        who,
                        conn,
                        Self::error(ErrorCode::UnknownSession, "no session"),
                    ));
                    return out;
                };
                match log.handle(at, party, &frame) {
                    Err(e) => out.push((who, conn, ServerFrame::Error(e))),
                    Ok(effects) => {
                        for effect in effects {
                            match effect {
                                Effect::Append(ev) => self.send_events(&mut out, &session, &[ev]),
                                Effect::Reply(f) => out.push((who, conn, f)),
                                Effect::Forward(f) => {
                                    let to = match who {
                                        Who::Visitor => self.agent_conn.map(|c| (Who::Agent, c)),
                                        Who::Agent => self
                                            .visitor_conn
                                            .as_ref()
                                            .map(|(c, _)| (Who::Visitor, *c)),
                                    };
                                    if let Some((w, c)) = to {
                                        out.push((w, c, f));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// What a client saw, for the assertions.
#[derive(Debug, Default)]
pub struct Seen {
    pub timeline: Vec<EventFrame>,
    pub events: Vec<Event>,
}

/// The whole simulated world.
#[derive(Debug)]
pub struct World {
    pub now: u64,
    pub net: NetConfig,
    rng: IdGen,
    flight: Vec<InFlight>,
    order: u64,
    next_conn: u64,
    pub server: Server,
    pub visitor: Visitor,
    pub agent: Agent,
    conns: BTreeMap<Who, Option<u64>>,
    pub seen: BTreeMap<Who, Seen>,
    next_visitor_timeout: u64,
    next_agent_timeout: u64,
    last_cut_check: u64,
    /// Latest delivery time per (who, connection, towards server), to keep order.
    last_at: BTreeMap<(Who, u64, bool), u64>,
    stuck: u32,
    pub cuts: u32,
    pub frames_dropped: u32,
    pub frames_duplicated: u32,
}

impl World {
    pub fn new(seed: u64, net: NetConfig) -> Self {
        let server = Server {
            config: Some(demo_config()),
            ..Server::default()
        };
        let now = Instant::ZERO;
        let mut w = Self {
            now: 0,
            net,
            rng: IdGen::new(seed ^ 0x5EED),
            flight: Vec::new(),
            order: 0,
            next_conn: 0,
            server,
            visitor: Visitor::new(
                now,
                VisitorOptions {
                    seed,
                    resume: None,
                    client: Some("sim".into()),
                },
            ),
            agent: Agent::new(
                now,
                AgentOptions {
                    seed: seed.wrapping_add(1),
                    token: AGENT_TOKEN.into(),
                    client: Some("sim-agent".into()),
                },
            ),
            conns: BTreeMap::new(),
            seen: BTreeMap::new(),
            next_visitor_timeout: 0,
            next_agent_timeout: 0,
            last_cut_check: 0,
            last_at: BTreeMap::new(),
            stuck: 0,
            cuts: 0,
            frames_dropped: 0,
            frames_duplicated: 0,
        };
        w.seen.insert(Who::Visitor, Seen::default());
        w.seen.insert(Who::Agent, Seen::default());
        w.pump();
        w
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        per_mille > 0 && self.rng.next_u64() % 1000 < per_mille
    }

    fn delay(&mut self) -> u64 {
        1 + self.rng.next_u64() % self.net.max_delay_ms.max(1)
    }

    fn schedule(&mut self, who: Who, conn: u64, packet: Packet, lossy: bool) {
        if lossy && self.chance(self.net.drop_pm) {
            self.frames_dropped += 1;
            return;
        }
        let copies = if lossy && self.chance(self.net.dup_pm) {
            self.frames_duplicated += 1;
            2
        } else {
            1
        };
        let up = matches!(packet, Packet::ToServer(_));
        for _ in 0..copies {
            let mut at = self.now + self.delay();
            if !self.net.reorder {
                let last = self.last_at.entry((who, conn, up)).or_default();
                at = at.max(*last);
                *last = at;
            }
            self.order += 1;
            let packet = match &packet {
                Packet::Open => Packet::Open,
                Packet::ToServer(t) => Packet::ToServer(t.clone()),
                Packet::ToClient(t) => Packet::ToClient(t.clone()),
            };
            self.flight.push(InFlight {
                at,
                order: self.order,
                who,
                conn,
                packet,
            });
        }
    }

    /// Drains a client's outputs into the network, recording events.
    fn pump_one(&mut self, who: Who) {
        loop {
            let out = match who {
                Who::Visitor => self.visitor.poll_output(),
                Who::Agent => self.agent.poll_output(),
            };
            match out {
                Output::Connect => {
                    self.next_conn += 1;
                    let conn = self.next_conn;
                    self.conns.insert(who, Some(conn));
                    self.schedule(who, conn, Packet::Open, false);
                }
                Output::Transmit(text) => {
                    if let Some(Some(conn)) = self.conns.get(&who).copied() {
                        self.schedule(who, conn, Packet::ToServer(text), true);
                    }
                }
                Output::Close(_) => {
                    if let Some(Some(conn)) = self.conns.insert(who, None) {
                        self.server.disconnected(who, conn);
                    }
                }
                Output::Event(e) => {
                    let seen = self.seen.get_mut(&who).expect("seen");
                    if let Event::Timeline(f) = &e {
                        seen.timeline.push((**f).clone());
                    }
                    seen.events.push(e);
                }
                Output::Timeout(at) => {
                    match who {
                        Who::Visitor => self.next_visitor_timeout = at.as_millis(),
                        Who::Agent => self.next_agent_timeout = at.as_millis(),
                    }
                    break;
                }
            }
        }
    }

    pub fn pump(&mut self) {
        self.pump_one(Who::Visitor);
        self.pump_one(Who::Agent);
    }

    fn cut(&mut self, who: Who) {
        if let Some(Some(conn)) = self.conns.insert(who, None) {
            self.cuts += 1;
            self.server.disconnected(who, conn);
            self.flight.retain(|f| !(f.who == who && f.conn == conn));
            let now = Instant::from_millis(self.now);
            match who {
                Who::Visitor => self.visitor.handle_input(now, Input::Disconnected(None)),
                Who::Agent => self.agent.handle_input(now, Input::Disconnected(None)),
            }
            .expect("disconnect is never an error");
        }
    }

    /// Replaces the visitor by a new one, as after a page reload, resuming `resume`.
    pub fn reload_visitor(&mut self, resume: Option<interact_sdk::ResumeState>, seed: u64) {
        if let Some(Some(conn)) = self.conns.insert(Who::Visitor, None) {
            self.server.disconnected(Who::Visitor, conn);
        }
        self.visitor = Visitor::new(
            self.at(),
            VisitorOptions {
                seed,
                resume,
                client: Some("sim-reloaded".into()),
            },
        );
        self.seen.insert(Who::Visitor, Seen::default());
        self.pump();
    }

    /// Cuts the visitor's connection now (a network loss, a sleeping laptop).
    pub fn cut_visitor(&mut self) {
        self.cut(Who::Visitor);
        self.pump();
    }

    fn step(&mut self, horizon: u64) -> bool {
        let next_flight = self.flight.iter().map(|f| (f.at, f.order)).min();
        let next = [
            next_flight.map(|f| f.0),
            Some(self.next_visitor_timeout),
            Some(self.next_agent_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("something is always scheduled");
        if next == u64::MAX {
            return false;
        }
        if next > horizon {
            self.now = self.now.max(horizon);
            return true;
        }
        self.now = self.now.max(next);
        let now = Instant::from_millis(self.now);
        // Random connection cuts, checked every 100 simulated ms.
        while self.net.cut_pm > 0 && self.last_cut_check + 100 <= self.now {
            self.last_cut_check += 100;
            for who in [Who::Visitor, Who::Agent] {
                if self.chance(self.net.cut_pm) {
                    self.cut(who);
                }
            }
        }
        if let Some(pos) = self
            .flight
            .iter()
            .enumerate()
            .filter(|(_, f)| f.at <= self.now)
            .min_by_key(|(_, f)| (f.at, f.order))
            .map(|(i, _)| i)
        {
            let f = self.flight.swap_remove(pos);
            let live = self.conns.get(&f.who).copied().flatten() == Some(f.conn);
            if live {
                match f.packet {
                    Packet::Open => match f.who {
                        Who::Visitor => self.visitor.handle_input(now, Input::Connected),
                        Who::Agent => self.agent.handle_input(now, Input::Connected),
                    }
                    .expect("connected is never an error"),
                    Packet::ToServer(text) => {
                        for (to, conn, frame) in self.server.receive(self.now, f.who, f.conn, &text)
                        {
                            self.schedule(to, conn, Packet::ToClient(encode(&frame)), true);
                        }
                    }
                    Packet::ToClient(text) => {
                        let r = match f.who {
                            Who::Visitor => self.visitor.handle_input(now, Input::Received(&text)),
                            Who::Agent => self.agent.handle_input(now, Input::Received(&text)),
                        };
                        r.expect("the server only sends valid frames");
                    }
                }
            }
        }
        if self.now >= self.next_visitor_timeout {
            self.visitor.handle_timeout(now);
        }
        if self.now >= self.next_agent_timeout {
            self.agent.handle_timeout(now);
        }
        self.pump();
        true
    }

    /// Runs the world until `until` (virtual ms).
    pub fn run_until(&mut self, until: u64) {
        while self.now < until {
            let before = self.now;
            if !self.step(until) {
                break;
            }
            // Guard against a stuck loop: a timer that stays in the past.
            if self.now == before {
                self.stuck += 1;
                assert!(
                    self.stuck < 10_000,
                    "time does not advance at {} ms (timers: visitor {}, agent {})",
                    self.now,
                    self.next_visitor_timeout,
                    self.next_agent_timeout
                );
            } else {
                self.stuck = 0;
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until `cond` holds, at most `limit` virtual ms more; panics otherwise.
    pub fn run_until_cond(&mut self, limit: u64, mut cond: impl FnMut(&Self) -> bool) {
        let end = self.now + limit;
        while !cond(self) {
            assert!(self.now < end, "condition not reached by {} ms", self.now);
            let before = self.now;
            let stepped = self.step(end);
            if self.now == before {
                self.stuck += 1;
                assert!(
                    self.stuck < 10_000,
                    "time does not advance at {} ms (timers: visitor {}, agent {}; in flight {})",
                    self.now,
                    self.next_visitor_timeout,
                    self.next_agent_timeout,
                    self.flight.len()
                );
            } else {
                self.stuck = 0;
            }
            if !stepped {
                panic!(
                    "world went quiet at {} ms before the condition held",
                    self.now
                );
            }
        }
    }

    pub fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Heals the network: no more loss or cuts.
    pub fn heal(&mut self) {
        self.net = NetConfig::PERFECT;
    }
}

/// Accepts every offer the agent has; returns how many.
pub fn accept_offers(w: &mut World) -> usize {
    let offers: Vec<SessionId> = w.agent.offers().map(|o| o.session.clone()).collect();
    let now = w.at();
    let mut n = 0;
    for s in &offers {
        match w.agent.accept(now, s) {
            Ok(()) => n += 1,
            Err(e) => panic!("accept {s} failed: {e}"),
        }
    }
    w.pump();
    n
}

/// Checks that a client's timeline for `session` is 1, 2, 3, ... and equals the log.
pub fn assert_exactly_once_in_order(seen: &[EventFrame], log: &SessionLog, from: Seq) {
    let expected: Vec<&EventFrame> = log.events_after(from).iter().collect();
    let got: Vec<&EventFrame> = seen
        .iter()
        .filter(|f| &f.session == log.session())
        .collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "client saw {} events, log has {} after {from}",
        got.len(),
        expected.len()
    );
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(*g, e, "event mismatch");
    }
}

/// Every message id in the log, by party, with how often it occurs.
pub fn message_counts(log: &SessionLog) -> BTreeMap<(String, MessageId), usize> {
    let mut m = BTreeMap::new();
    for e in log.events_after(Seq::ZERO) {
        if let SessionEvent::Message { id, from, .. } = &e.event {
            *m.entry((format!("{from:?}"), id.clone())).or_default() += 1;
        }
    }
    m
}

/// Queue of scripted actions, used by property tests.
pub type Script = VecDeque<(u64, Action)>;

#[derive(Clone, Debug)]
pub enum Action {
    VisitorSays(String),
    AgentSays(String),
    CutVisitor,
}
