//! Live state of one server node: sessions in memory (their logs), the connections of
//! visitors and agents, agents' presence, the queue, and open offers.
//!
//! This is in-memory and per node. Several nodes would share it through the store and a
//! message bus; only the node that owns a session appends to its log.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use interact_sdk::config::Availability;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{MessageId, ResumeToken, SessionId};
use interact_sdk::protocol::{AgentInfo, CloseCode, Party, Presence, ServerFrame, encode};
use interact_sdk::relay::SessionLog;
use interact_sdk::time::UnixMillis;
use tokio::sync::mpsc;

use crate::config::LimitsSection;
use crate::store::SessionRecord;
use crate::tenant::{TargetRef, Tenant};

/// What a connection's writer task sends.
#[derive(Debug)]
pub enum Outgoing {
    /// A text frame.
    Frame(Utf8Bytes),
    /// Close with this code and reason, then stop.
    Close(CloseCode, String),
}

/// Frames queued per connection before it counts as too slow and is closed.
pub const CONN_QUEUE: usize = 512;

/// The sending half of one WebSocket connection.
#[derive(Clone, Debug)]
pub struct Conn {
    /// Unique per node.
    pub id: u64,
    tx: mpsc::Sender<Outgoing>,
}

impl Conn {
    /// Queues a frame; a connection whose queue is full is closed (it is not reading).
    pub fn send(&self, frame: &ServerFrame) {
        self.send_text(Utf8Bytes::from(encode(frame)));
    }

    /// Queues an already encoded frame (shared, not copied, between connections).
    pub fn send_text(&self, text: Utf8Bytes) {
        if self.tx.try_send(Outgoing::Frame(text)).is_err() {
            self.close(CloseCode::Policy, "too slow");
        }
    }

    /// Asks the writer to close the connection.
    pub fn close(&self, code: CloseCode, reason: &str) {
        // If the queue is full the writer ends anyway once the socket fails.
        let _ = self.tx.try_send(Outgoing::Close(code, reason.to_owned()));
    }
}

/// A token bucket: `rate` per second, bursts up to twice that.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    /// A full bucket of `rate` per second.
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            tokens: rate * 2.0,
            at: std::time::Instant::now(),
        }
    }

    /// Takes a token at `now`; `false` if there is none.
    pub fn take(&mut self, now: std::time::Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate * 2.0);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A session held in memory: its log and stored record. Locked while a frame of the
/// session is handled, so that its events are stored and sent in order.
#[derive(Debug)]
pub struct Live {
    /// The event log.
    pub log: SessionLog,
    /// The stored record.
    pub record: SessionRecord,
    /// `send` frames of the visitor, over all their connections.
    visitor_sends: Bucket,
    /// `send` frames of the agent, over all their connections.
    agent_sends: Bucket,
    /// The session's workflow run, while it lasts (its state is also stored, to resume
    /// after a restart). See [`crate::drive`].
    pub run: Option<crate::workflow::WorkflowRun>,
    /// The run's one timer.
    pub timer: Option<tokio::task::AbortHandle>,
    /// How many steps of the run's path were recorded for reporting.
    pub steps_recorded: usize,
}

impl Live {
    /// A live session whose parties may each send `per_second` messages a second (bursts
    /// up to twice that), however many connections they use.
    pub fn new(log: SessionLog, record: SessionRecord, per_second: u32) -> Self {
        Self {
            log,
            record,
            visitor_sends: Bucket::new(per_second),
            agent_sends: Bucket::new(per_second),
            run: None,
            timer: None,
            steps_recorded: 0,
        }
    }

    /// Counts a `send` frame of `from` at `now`; `false` if the party is over its rate.
    pub fn allow_send(&mut self, from: Party, now: std::time::Instant) -> bool {
        match from {
            Party::Visitor => self.visitor_sends.take(now),
            Party::Agent => self.agent_sends.take(now),
            _ => true,
        }
    }
}

/// A live session handle.
pub type LiveRef = Arc<tokio::sync::Mutex<Live>>;

#[derive(Debug)]
struct Routing {
    target: TargetRef,
    agent: Option<String>,
    offered_to: Option<String>,
    declined_by: BTreeSet<String>,
    position: Option<u32>,
    queued_at: UnixMillis,
    /// Distribution priority, 1 to 9 (higher first); 5 unless a workflow set it.
    priority: u8,
}

#[derive(Debug)]
struct AgentLive {
    conns: Vec<Conn>,
    presence: Presence,
    sessions: BTreeSet<SessionId>,
    /// When the agent last got a task or went available (longest idle first).
    idle_since: UnixMillis,
}

/// A session started recently: kept so that a repeated `start_chat` (its answer was lost)
/// from the same address gets the same session and token.
#[derive(Debug)]
struct RecentStart {
    session: SessionId,
    token: ResumeToken,
    ip: Option<IpAddr>,
    at: std::time::Instant,
}

/// How long a started session can be fetched again by repeating `start_chat`.
const RECENT_START_TTL: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug, Default)]
struct Inner {
    recent_starts: HashMap<(EmbedCode, MessageId), RecentStart>,
    /// Session starts per address in the last minute.
    starts_by_ip: HashMap<Option<IpAddr>, VecDeque<std::time::Instant>>,
    sessions: HashMap<SessionId, LiveRef>,
    routing: HashMap<SessionId, Routing>,
    visitors: HashMap<SessionId, Conn>,
    agents: BTreeMap<String, AgentLive>,
    /// Waiting sessions in distribution order: highest priority first, then longest in
    /// the queue.
    queue: Vec<SessionId>,
}

/// An offer to make: send `session` to `agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPlan {
    /// The session.
    pub session: SessionId,
    /// The agent (user id).
    pub agent: String,
}

/// Live state of the node.
#[derive(Debug)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    limits: LimitsSection,
}

impl Hub {
    /// An empty hub.
    pub fn new(limits: LimitsSection) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            next_conn: AtomicU64::new(1),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection handle and the receiver its writer task drains.
    pub fn new_conn(&self) -> (Conn, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(CONN_QUEUE);
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        (Conn { id, tx }, rx)
    }

    /// Adds a session (new, or restored after a restart). Sessions without an agent
    /// join the queue.
    pub fn insert_session(&self, live: Live) -> LiveRef {
        self.insert_session_with(live, true)
    }

    /// Adds a session; one without an agent joins the queue only if `queue` (a session
    /// whose workflow runs joins it when the workflow says so: [`Self::enqueue`]).
    pub fn insert_session_with(&self, live: Live, queue: bool) -> LiveRef {
        let id = live.record.id.clone();
        let routing = Routing {
            target: live.record.target.clone(),
            agent: live.record.agent_id.as_ref().map(|a| a.as_str().to_owned()),
            offered_to: None,
            declined_by: BTreeSet::new(),
            position: None,
            queued_at: live.record.created_at,
            priority: crate::workflow::Priority::DEFAULT.get(),
        };
        let ended = live.log.is_ended();
        let live = Arc::new(tokio::sync::Mutex::new(live));
        let mut inner = self.lock();
        if !ended {
            if let Some(agent) = &routing.agent {
                if let Some(a) = inner.agents.get_mut(agent) {
                    a.sessions.insert(id.clone());
                }
            } else if queue {
                let key = (std::cmp::Reverse(routing.priority), routing.queued_at);
                Self::insert_ordered(&mut inner, id.clone(), key);
            }
            inner.routing.insert(id.clone(), routing);
        }
        inner.sessions.insert(id, live.clone());
        live
    }

    /// The session and token of a `start_chat` repeated from the same address shortly
    /// after the first.
    pub fn recent_start(
        &self,
        code: &EmbedCode,
        id: &MessageId,
        ip: Option<IpAddr>,
    ) -> Option<(SessionId, ResumeToken)> {
        let mut inner = self.lock();
        inner
            .recent_starts
            .retain(|_, r| r.at.elapsed() < RECENT_START_TTL);
        inner
            .recent_starts
            .get(&(code.clone(), id.clone()))
            .filter(|r| r.ip == ip)
            .map(|r| (r.session.clone(), r.token.clone()))
    }

    /// Remembers a started session for [`Self::recent_start`].
    pub fn remember_start(
        &self,
        code: &EmbedCode,
        id: &MessageId,
        ip: Option<IpAddr>,
        session: &SessionId,
        token: &ResumeToken,
    ) {
        self.lock().recent_starts.insert(
            (code.clone(), id.clone()),
            RecentStart {
                session: session.clone(),
                token: token.clone(),
                ip,
                at: std::time::Instant::now(),
            },
        );
    }

    /// Counts a session start from `ip`; `false` if it exceeds `per_minute`.
    pub fn allow_session_start(&self, ip: Option<IpAddr>, per_minute: u32) -> bool {
        let mut inner = self.lock();
        let now = std::time::Instant::now();
        let starts = inner.starts_by_ip.entry(ip).or_default();
        while starts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= std::time::Duration::from_secs(60))
        {
            starts.pop_front();
        }
        if starts.len() >= per_minute as usize {
            return false;
        }
        starts.push_back(now);
        true
    }

    /// Closes every visitor and agent connection with `code`.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        let inner = self.lock();
        for c in inner
            .visitors
            .values()
            .chain(inner.agents.values().flat_map(|a| a.conns.iter()))
        {
            c.close(code, reason);
        }
    }

    /// A live session.
    pub fn session(&self, id: &SessionId) -> Option<LiveRef> {
        self.lock().sessions.get(id).cloned()
    }

    /// Number of sessions in memory that have not ended.
    pub fn open_sessions(&self) -> usize {
        self.lock().routing.len()
    }

    /// The session ended: it leaves the queue and the agent's load.
    pub fn session_ended(&self, id: &SessionId) {
        let mut inner = self.lock();
        inner.queue.retain(|s| s != id);
        if let Some(r) = inner.routing.remove(id) {
            for agent in r.agent.iter().chain(r.offered_to.iter()) {
                if let Some(a) = inner.agents.get_mut(agent) {
                    a.sessions.remove(id);
                    for c in &a.conns {
                        c.send(&ServerFrame::OfferWithdrawn {
                            session: id.clone(),
                        });
                    }
                }
            }
        }
    }

    /// Attaches the visitor's connection to a session; returns the one it replaces.
    pub fn attach_visitor(&self, id: &SessionId, conn: Conn) -> Option<Conn> {
        self.lock().visitors.insert(id.clone(), conn)
    }

    /// Detaches the visitor's connection `conn_id` if it is still the session's.
    pub fn detach_visitor(&self, id: &SessionId, conn_id: u64) {
        let mut inner = self.lock();
        if inner.visitors.get(id).is_some_and(|c| c.id == conn_id) {
            inner.visitors.remove(id);
        }
    }

    /// Attaches an agent's connection (an agent may have several tabs).
    pub fn attach_agent(&self, info: &AgentInfo, conn: Conn, now: UnixMillis) {
        let mut inner = self.lock();
        let user = info.id.as_str().to_owned();
        let held: BTreeSet<SessionId> = inner
            .routing
            .iter()
            .filter(|(_, r)| r.agent.as_deref() == Some(user.as_str()))
            .map(|(s, _)| s.clone())
            .collect();
        let a = inner.agents.entry(user).or_insert_with(|| AgentLive {
            conns: Vec::new(),
            presence: Presence::Offline,
            sessions: BTreeSet::new(),
            idle_since: now,
        });
        a.sessions.extend(held);
        a.conns.push(conn);
    }

    /// Detaches an agent's connection. With no connection left the agent is offline and
    /// open offers to them go back to the queue.
    pub fn detach_agent(&self, user: &str, conn_id: u64) {
        let mut inner = self.lock();
        let gone = match inner.agents.get_mut(user) {
            Some(a) => {
                a.conns.retain(|c| c.id != conn_id);
                if a.conns.is_empty() {
                    a.presence = Presence::Offline;
                    true
                } else {
                    false
                }
            }
            None => false,
        };
        if gone {
            for r in inner.routing.values_mut() {
                if r.offered_to.as_deref() == Some(user) {
                    r.offered_to = None;
                }
            }
        }
    }

    /// Sets an agent's presence; returns whether they are now available.
    pub fn set_presence(&self, user: &str, presence: Presence, now: UnixMillis) -> bool {
        let mut inner = self.lock();
        if let Some(a) = inner.agents.get_mut(user) {
            if presence == Presence::Available && a.presence != Presence::Available {
                a.idle_since = now;
            }
            a.presence = presence;
        }
        presence == Presence::Available
    }

    /// Sessions held by the agent.
    pub fn agent_sessions(&self, user: &str) -> Vec<SessionId> {
        self.lock()
            .agents
            .get(user)
            .map(|a| a.sessions.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends a frame to every connection of the session's agent.
    pub fn send_to_agent_of(&self, id: &SessionId, frame: &ServerFrame) {
        let inner = self.lock();
        let agent = inner.routing.get(id).and_then(|r| r.agent.clone());
        if let Some(a) = agent.and_then(|a| inner.agents.get(&a)) {
            for c in &a.conns {
                c.send(frame);
            }
        }
    }

    /// Sends a frame to the session's visitor connection.
    pub fn send_to_visitor(&self, id: &SessionId, frame: &ServerFrame) {
        if let Some(c) = self.lock().visitors.get(id) {
            c.send(frame);
        }
    }

    /// Sends a frame to every connection of an agent.
    pub fn send_to_agent(&self, user: &str, frame: &ServerFrame) {
        if let Some(a) = self.lock().agents.get(user) {
            for c in &a.conns {
                c.send(frame);
            }
        }
    }

    /// Sends an encoded frame to the session's visitor connection.
    pub fn send_text_to_visitor(&self, id: &SessionId, text: Utf8Bytes) {
        if let Some(c) = self.lock().visitors.get(id) {
            c.send_text(text);
        }
    }

    /// Sends a frame to both parties of a session.
    pub fn broadcast(&self, id: &SessionId, frame: &ServerFrame) {
        // Encoded once for every connection of the session.
        self.broadcast_text(id, Utf8Bytes::from(encode(frame)));
    }

    /// Sends an encoded frame to both parties of a session.
    pub fn broadcast_text(&self, id: &SessionId, text: Utf8Bytes) {
        let inner = self.lock();
        let agent = inner.routing.get(id).and_then(|r| r.agent.as_ref());
        let agent_conns = agent
            .and_then(|a| inner.agents.get(a))
            .map(|a| a.conns.as_slice());
        for c in inner
            .visitors
            .get(id)
            .into_iter()
            .chain(agent_conns.unwrap_or_default())
        {
            c.send_text(text.clone());
        }
    }

    /// Whether a chat for `target` would reach someone: a candidate is signed in and
    /// available. One at their chat limit still counts (the visitor waits in the queue
    /// until a chat ends); nobody available, or only busy and away agents, is `NoAgents`.
    pub fn availability(&self, tenant: &Tenant, target: &TargetRef) -> Availability {
        let inner = self.lock();
        let open = tenant.candidates(target).iter().any(|u| {
            inner
                .agents
                .get(u)
                .is_some_and(|a| a.presence == Presence::Available && !a.conns.is_empty())
        });
        if open {
            Availability::Open
        } else {
            Availability::NoAgents
        }
    }

    /// Plans offers for waiting sessions: for each, in queue order, the available
    /// candidate agent with spare capacity who has been idle longest and has not
    /// declined it. Marks the sessions as offered.
    pub fn plan_offers(&self, tenant: &Tenant) -> Vec<OfferPlan> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut plans = Vec::new();
        let mut load: BTreeMap<String, usize> = inner
            .agents
            .iter()
            .map(|(u, a)| {
                let offered = inner
                    .routing
                    .values()
                    .filter(|r| r.offered_to.as_deref() == Some(u.as_str()))
                    .count();
                (u.clone(), a.sessions.len() + offered)
            })
            .collect();
        for id in &inner.queue {
            let Some(r) = inner.routing.get_mut(id) else {
                continue;
            };
            if r.offered_to.is_some() || r.agent.is_some() {
                continue;
            }
            let best = tenant
                .candidates(&r.target)
                .into_iter()
                .filter(|u| !r.declined_by.contains(u))
                .filter_map(|u| inner.agents.get(&u).map(|a| (u, a)))
                .filter(|(u, a)| {
                    a.presence == Presence::Available
                        && !a.conns.is_empty()
                        && load.get(u).copied().unwrap_or(0) < self.limits.max_chats_per_agent
                })
                .min_by_key(|(u, a)| (a.idle_since, u.clone()))
                .map(|(u, _)| u);
            if let Some(agent) = best {
                *load.entry(agent.clone()).or_default() += 1;
                r.offered_to = Some(agent.clone());
                plans.push(OfferPlan {
                    session: id.clone(),
                    agent,
                });
            }
        }
        plans
    }

    /// The offer of `session` to `agent` ended without acceptance (declined or timed
    /// out); the session goes to someone else. Returns whether the offer was open.
    pub fn offer_failed(&self, session: &SessionId, agent: &str) -> bool {
        let mut inner = self.lock();
        match inner.routing.get_mut(session) {
            Some(r) if r.offered_to.as_deref() == Some(agent) => {
                r.offered_to = None;
                r.declined_by.insert(agent.to_owned());
                // Everyone declined: start a new round rather than leave it stranded.
                true
            }
            _ => false,
        }
    }

    /// Whether `session` is currently offered to `agent`.
    pub fn is_offered_to(&self, session: &SessionId, agent: &str) -> bool {
        self.lock()
            .routing
            .get(session)
            .is_some_and(|r| r.offered_to.as_deref() == Some(agent))
    }

    /// The agent took the session: it leaves the queue.
    pub fn assigned(&self, session: &SessionId, agent: &str, now: UnixMillis) {
        let mut inner = self.lock();
        inner.queue.retain(|s| s != session);
        if let Some(r) = inner.routing.get_mut(session) {
            r.agent = Some(agent.to_owned());
            r.offered_to = None;
        }
        if let Some(a) = inner.agents.get_mut(agent) {
            a.sessions.insert(session.clone());
            a.idle_since = now;
        }
    }

    /// Queue positions that changed since they were last announced: (session, position).
    pub fn position_changes(&self) -> Vec<(SessionId, u32)> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut changes = Vec::new();
        let mut per_target: BTreeMap<TargetRef, u32> = BTreeMap::new();
        // The queue is kept in distribution order (priority, then time in queue).
        let queue = inner.queue.clone();
        for id in queue {
            let Some(r) = inner.routing.get_mut(&id) else {
                continue;
            };
            let n = per_target.entry(r.target.clone()).or_default();
            *n += 1;
            if r.position != Some(*n) {
                r.position = Some(*n);
                changes.push((id, *n));
            }
        }
        changes
    }

    /// Puts a waiting session in the queue with `priority` (a workflow's Queue Task), or
    /// changes its priority if it is queued already. Its time in the queue starts now.
    pub fn enqueue(&self, id: &SessionId, priority: u8, now: UnixMillis) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(r) = inner.routing.get_mut(id) else {
            return;
        };
        if r.agent.is_some() {
            return;
        }
        r.priority = priority;
        if !inner.queue.contains(id) {
            r.queued_at = now;
        }
        let key = (std::cmp::Reverse(r.priority), r.queued_at);
        inner.queue.retain(|s| s != id);
        Self::insert_ordered(inner, id.clone(), key);
    }

    /// Changes a queued session's priority (Distribution Priority).
    pub fn set_priority(&self, id: &SessionId, priority: u8) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(r) = inner.routing.get_mut(id) else {
            return;
        };
        r.priority = priority;
        let key = (std::cmp::Reverse(r.priority), r.queued_at);
        if inner.queue.contains(id) {
            inner.queue.retain(|s| s != id);
            Self::insert_ordered(inner, id.clone(), key);
        }
    }

    /// Takes a session out of the queue (Cancel Task); an open offer is withdrawn.
    pub fn dequeue(&self, id: &SessionId) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.queue.retain(|s| s != id);
        if let Some(r) = inner.routing.get_mut(id) {
            r.position = None;
            if let Some(agent) = r.offered_to.take()
                && let Some(a) = inner.agents.get(&agent)
            {
                for c in &a.conns {
                    c.send(&ServerFrame::OfferWithdrawn {
                        session: id.clone(),
                    });
                }
            }
        }
    }

    /// Hands a waiting session to another target (a workflow's Transfer): its queue
    /// position is recomputed among the new target's sessions.
    pub fn retarget(&self, id: &SessionId, target: TargetRef) {
        let mut inner = self.lock();
        if let Some(r) = inner.routing.get_mut(id) {
            r.target = target;
            r.declined_by.clear();
            r.position = None;
        }
    }

    /// The service's members who could take a chat now, and those signed in who cannot
    /// (busy, away, at their chat limit): (available, busy).
    pub fn agent_counts(&self, tenant: &Tenant, target: &TargetRef) -> (u32, u32) {
        let inner = self.lock();
        let (mut available, mut busy) = (0, 0);
        for u in tenant.candidates(target) {
            let Some(a) = inner.agents.get(&u).filter(|a| !a.conns.is_empty()) else {
                continue;
            };
            if a.presence == Presence::Available
                && a.sessions.len() < self.limits.max_chats_per_agent
            {
                available += 1;
            } else if a.presence != Presence::Offline {
                busy += 1;
            }
        }
        (available, busy)
    }

    /// Inserts a session into the queue at its place: highest priority first, then
    /// longest waiting (after those with the same key).
    fn insert_ordered(inner: &mut Inner, id: SessionId, key: (std::cmp::Reverse<u8>, UnixMillis)) {
        let routing = &inner.routing;
        let at = inner.queue.partition_point(|s| {
            routing
                .get(s)
                .is_none_or(|r| (std::cmp::Reverse(r.priority), r.queued_at) <= key)
        });
        inner.queue.insert(at, id);
    }

    /// Sessions whose every candidate declined: clear the declines for a new round.
    pub fn recycle_declined(&self, tenant: &Tenant) {
        let mut inner = self.lock();
        for id in inner.queue.clone() {
            if let Some(r) = inner.routing.get_mut(&id) {
                let candidates = tenant.candidates(&r.target);
                if r.offered_to.is_none()
                    && !candidates.is_empty()
                    && candidates.iter().all(|c| r.declined_by.contains(c))
                {
                    r.declined_by.clear();
                }
            }
        }
    }
}
