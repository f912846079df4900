//! Live state of one server node: sessions in memory (their logs), the connections of
//! visitors and agents, agents' presence, the queue, and open offers.
//!
//! This is in-memory and per node. Several nodes would share it through the store and a
//! message bus; only the node that owns a session appends to its log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use interact_sdk::config::Availability;
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, ResumeToken, SessionId};
use interact_sdk::protocol::{AgentInfo, CloseCode, Party, Presence, ServerFrame, encode};
use interact_sdk::relay::SessionLog;
use interact_sdk::time::UnixMillis;
use tokio::sync::mpsc;

use crate::config::LimitsSection;
use crate::routing::{AgentProfile, Output, Router, RouterConfig, TaskKind, Withdrawn};
use crate::state::now;
use crate::store::SessionRecord;
use crate::tenant::{TargetRef, Tenant};
use crate::workflow::Priority;

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

    /// The visitor's first message (from the pre-chat form, or the first they wrote).
    pub fn first_visitor_message(&self) -> Option<String> {
        self.log
            .events_after(interact_sdk::ids::Seq::ZERO)
            .iter()
            .find_map(|e| match &e.event {
                interact_sdk::protocol::SessionEvent::Message {
                    from: Party::Visitor,
                    text,
                    ..
                } => Some(text.clone()),
                _ => None,
            })
    }

    /// When the session was first announced a queue position, if it was.
    pub fn queued_since(&self) -> Option<UnixMillis> {
        self.log
            .events_after(interact_sdk::ids::Seq::ZERO)
            .iter()
            .find(|e| matches!(e.event, interact_sdk::protocol::SessionEvent::Queued { .. }))
            .map(|e| e.at)
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

/// A session started recently: kept so that a repeated `start_chat` (its answer was lost)
/// from the same address, with the same form, gets the same session and token.
#[derive(Debug)]
struct RecentStart {
    session: SessionId,
    token: ResumeToken,
    ip: Option<IpAddr>,
    /// Two visitors behind one address whose clients chose the same start id (ids need
    /// not be unguessable) are told apart by what they entered.
    form: PreChatForm,
    at: std::time::Instant,
}

/// How long a started session can be fetched again by repeating `start_chat`.
const RECENT_START_TTL: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug)]
struct Inner {
    /// By embed code and start id; several when visitors' clients chose the same id.
    recent_starts: HashMap<(EmbedCode, MessageId), Vec<RecentStart>>,
    /// Session starts per address in the last minute.
    starts_by_ip: HashMap<Option<IpAddr>, VecDeque<std::time::Instant>>,
    sessions: HashMap<SessionId, LiveRef>,
    visitors: HashMap<SessionId, Conn>,
    /// Agents' connections (an agent may have several tabs).
    agents: BTreeMap<String, Vec<Conn>>,
    /// Queues, presence, load and offers.
    router: Router,
    /// What the router asked for that needs the sessions' logs or workflows (offers,
    /// queue positions, expired offers): [`Hub::take_work`].
    work: Vec<Output>,
    /// The router's deadline when it was last looked at.
    armed: Option<UnixMillis>,
}

impl Inner {
    fn conns_of(&self, agent: &str) -> &[Conn] {
        self.agents.get(agent).map_or(&[], Vec::as_slice)
    }

    /// Carries out what the router said that is only a frame to agents; keeps the rest
    /// for [`Hub::take_work`].
    fn flush(&mut self) {
        while let Some(out) = self.router.poll_output() {
            match &out {
                Output::Withdraw {
                    session,
                    agent,
                    why,
                } => {
                    for c in self.conns_of(agent) {
                        c.send(&ServerFrame::OfferWithdrawn {
                            session: session.clone(),
                        });
                    }
                    if *why == Withdrawn::Expired {
                        self.work.push(out);
                    }
                }
                Output::Presence { agent, presence } => {
                    tracing::info!(
                        agent,
                        ?presence,
                        "presence set by the router (missed offers)"
                    );
                    for c in self.conns_of(agent) {
                        c.send(&ServerFrame::Presence {
                            presence: *presence,
                        });
                    }
                }
                Output::Offer { .. } | Output::Position { .. } => self.work.push(out),
            }
        }
    }
}

/// Queue positions go out at most once a second (the first change at once): under load
/// one pass over a queue then serves many decisions.
pub const POSITION_INTERVAL_MS: u64 = 1_000;

/// The router for a tenant: every service with the members who can take its chats,
/// every user as the target of direct contacts.
fn router_for(tenant: &Tenant, limits: &LimitsSection) -> Router {
    let config = RouterConfig {
        max_chats: u32::try_from(limits.max_chats_per_agent).unwrap_or(u32::MAX),
        offer_timeout_ms: limits.offer_timeout_secs.saturating_mul(1000),
        missed_offers_before_away: limits.missed_offers_before_away,
        position_interval_ms: POSITION_INTERVAL_MS,
        strategy: crate::routing::Strategy::Indexed,
    };
    let agents = tenant.users.values().map(|u| AgentProfile {
        id: u.config.id.clone(),
        calls: u.modalities.audio || u.modalities.video,
    });
    let targets = tenant
        .services
        .keys()
        .map(|s| TargetRef::Service(s.clone()))
        .chain(tenant.users.keys().map(|u| TargetRef::User(u.clone())))
        .map(|t| {
            let members = tenant.candidates(&t);
            (t, members)
        });
    Router::new(config, agents, targets)
}

/// Live state of the node.
#[derive(Debug)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    /// Woken when the router's next deadline moves earlier ([`Hub::next_timeout`]).
    timer: tokio::sync::Notify,
}

impl Hub {
    /// An empty hub for the tenant's services and users.
    pub fn new(tenant: &Tenant, limits: &LimitsSection) -> Self {
        Self {
            inner: Mutex::new(Inner {
                recent_starts: HashMap::new(),
                starts_by_ip: HashMap::new(),
                sessions: HashMap::new(),
                visitors: HashMap::new(),
                agents: BTreeMap::new(),
                router: router_for(tenant, limits),
                work: Vec::new(),
                armed: None,
            }),
            next_conn: AtomicU64::new(1),
            timer: tokio::sync::Notify::new(),
        }
    }

    /// After the router was driven: carries out what it said and wakes the timer task if
    /// its next deadline moved earlier.
    fn settled(&self, inner: &mut Inner) {
        inner.flush();
        let next = inner.router.poll_timeout();
        if next != inner.armed {
            let earlier = match (next, inner.armed) {
                (Some(n), Some(a)) => n < a,
                (Some(_), None) => true,
                _ => false,
            };
            inner.armed = next;
            if earlier {
                self.timer.notify_one();
            }
        }
    }

    /// When distribution next needs [`Self::expire_offers`] (an offer lapses, coalesced
    /// queue positions are due).
    pub fn next_timeout(&self) -> Option<UnixMillis> {
        self.lock().router.poll_timeout()
    }

    /// Completes when [`Self::next_timeout`] may have moved earlier.
    pub async fn timeout_changed(&self) {
        self.timer.notified().await;
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
        let target = live.record.target.clone();
        let agent = live.record.agent_id.as_ref().map(|a| a.as_str().to_owned());
        let (ended, created) = (live.log.is_ended(), live.record.created_at);
        // A session restored in the middle of an answered call keeps its agent in the call.
        let kind = if live.log.call_answered() {
            TaskKind::Call
        } else {
            TaskKind::Chat
        };
        let live = Arc::new(tokio::sync::Mutex::new(live));
        let mut inner = self.lock();
        if !ended {
            match agent {
                Some(agent) => inner.router.add_assigned(id.clone(), &target, kind, &agent),
                None => {
                    inner.router.add(id.clone(), &target, TaskKind::Chat);
                    if queue {
                        // In the queue since it was created (a restart keeps its place).
                        inner.router.enqueue(&id, Priority::DEFAULT, created);
                    }
                }
            }
            self.settled(&mut inner);
        }
        inner.sessions.insert(id, live.clone());
        live
    }

    /// The session and token of a `start_chat` repeated (same id, same form) from the
    /// same address shortly after the first.
    pub fn recent_start(
        &self,
        code: &EmbedCode,
        id: &MessageId,
        ip: Option<IpAddr>,
        form: &PreChatForm,
    ) -> Option<(SessionId, ResumeToken)> {
        let mut inner = self.lock();
        inner.recent_starts.retain(|_, starts| {
            starts.retain(|r| r.at.elapsed() < RECENT_START_TTL);
            !starts.is_empty()
        });
        inner
            .recent_starts
            .get(&(code.clone(), id.clone()))?
            .iter()
            .find(|r| r.ip == ip && r.form == *form)
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
        form: &PreChatForm,
    ) {
        self.lock()
            .recent_starts
            .entry((code.clone(), id.clone()))
            .or_default()
            .push(RecentStart {
                session: session.clone(),
                token: token.clone(),
                ip,
                form: form.clone(),
                at: std::time::Instant::now(),
            });
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
            .chain(inner.agents.values().flatten())
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
        self.lock().router.len()
    }

    /// The session ended: it leaves the queue (an open offer is withdrawn) or frees its
    /// agent.
    pub fn session_ended(&self, id: &SessionId) {
        let mut inner = self.lock();
        inner.router.remove(id, now());
        self.settled(&mut inner);
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

    /// Attaches an agent's connection (an agent may have several tabs); the first signs
    /// them in (presence stays `offline` until they set it).
    pub fn attach_agent(&self, info: &AgentInfo, conn: Conn, now: UnixMillis) {
        let mut inner = self.lock();
        let user = info.id.as_str();
        inner.agents.entry(user.to_owned()).or_default().push(conn);
        inner.router.set_signed_in(user, true, now);
        self.settled(&mut inner);
    }

    /// Detaches an agent's connection. With no connection left the agent is offline and
    /// open offers to them go back to the queue.
    pub fn detach_agent(&self, user: &str, conn_id: u64) {
        let mut inner = self.lock();
        let Some(conns) = inner.agents.get_mut(user) else {
            return;
        };
        conns.retain(|c| c.id != conn_id);
        if conns.is_empty() {
            inner.agents.remove(user);
            inner.router.set_signed_in(user, false, now());
            self.settled(&mut inner);
        }
    }

    /// Sets an agent's presence.
    pub fn set_presence(&self, user: &str, presence: Presence, now: UnixMillis) {
        let mut inner = self.lock();
        inner.router.set_presence(user, presence, now);
        self.settled(&mut inner);
    }

    /// Sessions held by the agent.
    pub fn agent_sessions(&self, user: &str) -> Vec<SessionId> {
        self.lock().router.held_by(user)
    }

    /// Whether the agent holds `session`.
    pub fn holds(&self, user: &str, session: &SessionId) -> bool {
        self.lock().router.agent_of(session) == Some(user)
    }

    /// Sends a frame to every connection of the session's agent.
    pub fn send_to_agent_of(&self, id: &SessionId, frame: &ServerFrame) {
        let inner = self.lock();
        if let Some(agent) = inner.router.agent_of(id) {
            for c in inner.conns_of(agent) {
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
        for c in self.lock().conns_of(user) {
            c.send(frame);
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
        let agent_conns = inner.router.agent_of(id).map(|a| inner.conns_of(a));
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
    /// available. One at their chat limit or in a call still counts (the visitor waits in
    /// the queue); nobody available, or only busy and away agents, is `NoAgents`.
    pub fn availability(&self, target: &TargetRef) -> Availability {
        if self.lock().router.is_open(target) {
            Availability::Open
        } else {
            Availability::NoAgents
        }
    }

    /// What distribution asked for since the last call: offers to send, queue positions
    /// to announce, offers that expired (for the workflows). See
    /// [`crate::session::dispatch`].
    pub fn take_work(&self) -> Vec<Output> {
        let mut inner = self.lock();
        self.settled(&mut inner);
        std::mem::take(&mut inner.work)
    }

    /// Lets offers due at `now` expire (each goes on to the next agent) and coalesced
    /// queue positions come out.
    pub fn expire_offers(&self, now: UnixMillis) {
        let mut inner = self.lock();
        inner.router.handle_timeout(now);
        self.settled(&mut inner);
    }

    /// The agent declines `session`; returns whether it was offered to them.
    pub fn decline(&self, session: &SessionId, agent: &str) -> bool {
        let mut inner = self.lock();
        let open = inner.router.decline(session, agent, now());
        self.settled(&mut inner);
        open
    }

    /// Whether `session` is currently offered to `agent`.
    pub fn is_offered_to(&self, session: &SessionId, agent: &str) -> bool {
        self.lock().router.is_offered_to(session, agent)
    }

    /// A call was accepted in `session`: its agent is in a call and gets no other task
    /// until [`Self::call_ended`].
    pub fn call_started(&self, session: &SessionId, now: UnixMillis) {
        let mut inner = self.lock();
        inner.router.call_started(session, now);
        self.settled(&mut inner);
    }

    /// The call in `session` ended (hang-up, the agent left); the chat goes on and the
    /// agent may get other tasks again (run [`crate::session::dispatch`] after). Harmless
    /// if no call was on.
    pub fn call_ended(&self, session: &SessionId, now: UnixMillis) {
        let mut inner = self.lock();
        inner.router.call_ended(session, now);
        self.settled(&mut inner);
    }

    /// The agent takes the session offered to them: it leaves the queue.
    pub fn accept(
        &self,
        session: &SessionId,
        agent: &str,
        now: UnixMillis,
    ) -> Result<(), crate::routing::AcceptError> {
        let mut inner = self.lock();
        let accepted = inner.router.accept(session, agent, now);
        self.settled(&mut inner);
        accepted
    }

    /// Puts a session its agent accepted back in the queue (its `agent_joined` could not
    /// be stored).
    pub fn requeue(&self, session: &SessionId, now: UnixMillis) {
        let mut inner = self.lock();
        inner.router.requeue(session, now);
        self.settled(&mut inner);
    }

    /// Puts a waiting session in the queue with `priority` (a workflow's Queue Task), or
    /// changes its priority if it is queued already. Its time in the queue starts now.
    pub fn enqueue(&self, id: &SessionId, priority: u8, now: UnixMillis) {
        let priority = Priority::new(priority).unwrap_or(Priority::DEFAULT);
        let mut inner = self.lock();
        inner.router.enqueue(id, priority, now);
        self.settled(&mut inner);
    }

    /// Changes a queued session's priority (Distribution Priority).
    pub fn set_priority(&self, id: &SessionId, priority: u8) {
        let priority = Priority::new(priority).unwrap_or(Priority::DEFAULT);
        let mut inner = self.lock();
        inner.router.set_priority(id, priority, now());
        self.settled(&mut inner);
    }

    /// Takes a session out of the queue (Cancel Task); an open offer is withdrawn.
    pub fn dequeue(&self, id: &SessionId) {
        let mut inner = self.lock();
        inner.router.dequeue(id, now());
        self.settled(&mut inner);
    }

    /// Hands a waiting session to another target (a workflow's Transfer): its queue
    /// position is recomputed among the new target's sessions.
    pub fn retarget(&self, id: &SessionId, target: TargetRef) {
        let mut inner = self.lock();
        inner.router.retarget(id, &target, now());
        self.settled(&mut inner);
    }

    /// The service's members who could take a chat now, and those signed in who cannot
    /// (busy, away, at their chat limit, in a call): (available, busy).
    pub fn agent_counts(&self, target: &TargetRef) -> (u32, u32) {
        self.lock().router.agent_counts(target)
    }
}
