//! LiveSession state of one server node: sessions in memory (their logs), the connections of
//! visitors and agents, agents' presence, the queue, and open offers.
//!
//! This is in-memory and per node. Several nodes would share it through the store and a
//! message bus; only the node that owns a session appends to its log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::extract::ws::Utf8Bytes;
use interact_sdk::config::Availability;
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::protocol::{AgentInfo, CloseCode, Party, Presence, ServerFrame, encode};
use interact_sdk::relay::SessionLog;
use interact_sdk::time::UnixMillis;

use interact_model::{Clock, TargetRef, Tenant};
use interact_routing::{AgentProfile, Distributor, DistributorConfig, Output, TaskKind, Withdrawn};
use interact_store::{EncodedEvent, SessionRecord};

use crate::config::LimitsSection;
use crate::node::cluster::{Cluster, Deliver, RouterInput, To};
pub use crate::node::conn::Conn;
use crate::node::conn::ConnEnds;
use interact_workflow::Priority;

/// A token bucket: `rate` per second, bursts up to twice that.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    /// A bucket of `rate` per second, full at `now`.
    pub fn new(rate: u32, now: std::time::Instant) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            tokens: rate * 2.0,
            at: now,
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

/// How long after a refused (rate-limited) message the party's new messages are refused
/// too unless the refused one comes again: so that no later message overtakes it, and a
/// client that never sends it again does not block its party for good.
pub const HOLD_AFTER_REFUSAL: std::time::Duration = std::time::Duration::from_secs(10);

/// A party's message rate: a token bucket, and the message it was last refused, which
/// later messages may not overtake.
#[derive(Debug)]
struct SendRate {
    bucket: Bucket,
    held: Option<(MessageId, std::time::Instant)>,
}

impl SendRate {
    fn new(per_second: u32, now: std::time::Instant) -> Self {
        Self {
            bucket: Bucket::new(per_second, now),
            held: None,
        }
    }

    /// Counts message `id` at `now`; `false` if it is refused: over the rate, or a new
    /// message while an earlier refused one has not come again.
    fn allow(&mut self, id: &MessageId, now: std::time::Instant) -> bool {
        if let Some((held, since)) = &self.held
            && held != id
            && now.saturating_duration_since(*since) < HOLD_AFTER_REFUSAL
        {
            return false;
        }
        if self.bucket.take(now) {
            self.held = None;
            true
        } else {
            self.held = Some((id.clone(), now));
            false
        }
    }
}

/// A session held in memory: its log, the stored record and its events as sent. Locked
/// while a frame of the session is handled, so that its events are stored and sent in
/// order.
#[derive(Debug)]
pub struct LiveSession {
    /// The event log.
    pub log: SessionLog,
    /// The stored record.
    pub record: SessionRecord,
    /// The `event` frame of every stored event, in order (`frames[n]` is `seq` n + 1):
    /// what replays send, encoded once.
    frames: Vec<Utf8Bytes>,
    /// Bytes of `frames`.
    bytes: usize,
    /// When the session last had an event or a frame (for eviction from memory).
    pub touched: std::time::Instant,
    /// `send` frames of the visitor, over all their connections.
    visitor_sends: SendRate,
    /// `send` frames of the agent, over all their connections.
    agent_sends: SendRate,
    /// The session's workflow run, while it lasts (its state is also stored, to resume
    /// after a restart). See [`crate::node::flow`].
    pub run: Option<interact_workflow::WorkflowRun>,
    /// The run's one timer.
    pub timer: Option<tokio::task::AbortHandle>,
    /// How many steps of the run's path were recorded for reporting.
    pub steps_recorded: usize,
    /// How many of the run's Collect Information answers were stored for the agents.
    pub answers_recorded: usize,
    /// The epoch of this node's lease on the session, in a cluster: every append carries
    /// it, and is refused once another node has claimed the session.
    pub epoch: Option<interact_store::Epoch>,
    /// Set when an append was refused because another node claimed the session: this
    /// copy is stale and was dropped from the hub.
    pub fenced: bool,
    /// The reporting outcome the session's workflow recorded, if it did (for the
    /// `session.ended` webhook).
    pub outcome: Option<interact_model::Outcome>,
}

/// An event's frame as a WebSocket text message, sharing the stored bytes.
pub fn ws_frame(e: &EncodedEvent) -> Utf8Bytes {
    // The frame is JSON the store built from a `String`: always UTF-8, so the check
    // only runs over bytes that pass it.
    Utf8Bytes::try_from(e.frame()).unwrap_or_else(|_| Utf8Bytes::from(e.frame_str()))
}

impl LiveSession {
    /// A live session whose parties may each send `per_second` messages a second (bursts
    /// up to twice that), however many connections they use.
    ///
    /// Every event of `log` must be stored: their frames are what replays send. `now` is
    /// the node's monotonic time.
    pub fn new(
        log: SessionLog,
        record: SessionRecord,
        per_second: u32,
        now: std::time::Instant,
    ) -> Self {
        let frames: Vec<Utf8Bytes> = log
            .events_after(Seq::ZERO)
            .iter()
            .map(|e| ws_frame(&EncodedEvent::new(e)))
            .collect();
        let bytes = frames.iter().map(|f| f.as_str().len()).sum();
        Self {
            log,
            record,
            frames,
            bytes,
            touched: now,
            visitor_sends: SendRate::new(per_second, now),
            agent_sends: SendRate::new(per_second, now),
            run: None,
            timer: None,
            steps_recorded: 0,
            answers_recorded: 0,
            epoch: None,
            fenced: false,
            outcome: None,
        }
    }

    /// Takes the frames of events that are now stored (in order, right after the ones
    /// before), at the node's monotonic time `now`.
    pub fn stored(&mut self, events: &[EncodedEvent], now: std::time::Instant) {
        for e in events {
            debug_assert_eq!(e.seq.0, self.frames.len() as u64 + 1);
            let frame = ws_frame(e);
            self.bytes += frame.len();
            self.frames.push(frame);
        }
        self.touched = now;
    }

    /// When the session's last event was stored.
    pub fn last_event_at(&self) -> UnixMillis {
        let last = Seq(self.log.head().0.saturating_sub(1));
        self.log
            .events_after(last)
            .first()
            .map_or(self.record.created_at, |e| e.at)
    }

    /// How many events and bytes of events the session holds.
    pub fn size(&self) -> (usize, usize) {
        (self.frames.len(), self.bytes)
    }

    /// One page of the stored events after `after` (see
    /// [`interact_sdk::relay::page_len`]), then the `replayed` frame that ends it.
    pub fn page(&self, after: Seq) -> Vec<Utf8Bytes> {
        let head = self.frames.len();
        let start = usize::try_from(after.0).unwrap_or(usize::MAX).min(head);
        let rest = &self.frames[start..];
        let n = interact_sdk::relay::page_len(rest.iter().map(|f| f.as_str().len()));
        let through = if n > 0 {
            Seq((start + n) as u64)
        } else {
            Seq(after.0.min(head as u64))
        };
        let mut page = rest[..n].to_vec();
        page.push(Utf8Bytes::from(encode(&ServerFrame::Replayed {
            session: self.record.id.clone(),
            through,
            head: Seq(head as u64),
        })));
        page
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

    /// Refuses message `id` of `from` at `now` as [`allow_send`](Self::allow_send) does
    /// over the rate: later new messages of the party are refused until it comes again
    /// (for at most [`HOLD_AFTER_REFUSAL`]), so that none overtakes it.
    /// The first refused message is the one the others wait for: a hold in force is
    /// kept.
    pub fn hold_send(&mut self, from: Party, id: &MessageId, now: std::time::Instant) {
        let rate = match from {
            Party::Visitor => &mut self.visitor_sends,
            Party::Agent => &mut self.agent_sends,
            _ => return,
        };
        let in_force = rate
            .held
            .as_ref()
            .is_some_and(|(_, since)| now.saturating_duration_since(*since) < HOLD_AFTER_REFUSAL);
        if !in_force {
            rate.held = Some((id.clone(), now));
        }
    }

    /// The agent's message that later ones wait for, if any (to carry it over to a
    /// fresh copy of the session).
    pub fn agent_hold(&self) -> Option<(MessageId, std::time::Instant)> {
        self.agent_sends.held.clone()
    }

    /// Puts back a hold taken from an earlier copy ([`agent_hold`](Self::agent_hold)).
    pub fn set_agent_hold(&mut self, held: Option<(MessageId, std::time::Instant)>) {
        if held.is_some() {
            self.agent_sends.held = held;
        }
    }

    /// Counts message `id` of `from` at `now`; `false` if it is refused: the party is
    /// over its rate, or an earlier message of it was refused and has not come again
    /// (for at most [`HOLD_AFTER_REFUSAL`]), so that it is not overtaken.
    pub fn allow_send(&mut self, from: Party, id: &MessageId, now: std::time::Instant) -> bool {
        match from {
            Party::Visitor => self.visitor_sends.allow(id, now),
            Party::Agent => self.agent_sends.allow(id, now),
            _ => true,
        }
    }
}

/// A session in memory, shared by whoever works on it: frames, timers, Web Requests. The
/// hub hands handles out only under its own lock (so eviction can tell a session in use).
pub type SessionHandle = Arc<tokio::sync::Mutex<LiveSession>>;

/// An agent's connection and the sign-in token (its hash) it was opened with.
#[derive(Debug)]
struct AgentConn {
    conn: Conn,
    token_hash: String,
}

/// Addresses tracked for the session-start limit before the empty ones are swept.
const SWEEP_STARTS_ABOVE: usize = 4096;

#[derive(Debug)]
struct Inner {
    /// Session starts per address in the last minute.
    starts_by_ip: HashMap<Option<IpAddr>, VecDeque<std::time::Instant>>,
    sessions: HashMap<SessionId, SessionHandle>,
    visitors: HashMap<SessionId, Conn>,
    /// Agents' connections (an agent may have several tabs).
    agents: BTreeMap<String, Vec<AgentConn>>,
    /// Queues, presence, load and offers.
    distributor: Distributor,
    /// What the distributor asked for that needs the sessions' logs or workflows (offers,
    /// queue positions, expired offers): [`Hub::take_work`].
    work: Vec<Output>,
    /// The distributor's deadline when it was last looked at.
    armed: Option<UnixMillis>,
    /// The agents signed in on this node and their presence, if one was set or told on
    /// this node (what it reports to the router leader in a cluster).
    local_agents: crate::node::cluster::AgentsReport,
    /// How long chats of each target waited in the queue for an agent lately, in ms (an
    /// exponentially weighted average of the waits agents ended on this node):
    /// [`Hub::expected_wait`].
    waits: HashMap<TargetRef, u64>,
}

impl Inner {
    /// Adds a session to the distributor: assigned to `agent` (a `kind` task), or
    /// waiting, in the queue since `created` (a restart or a new router keeps its place)
    /// if `queue`.
    fn route(
        &mut self,
        id: SessionId,
        target: &TargetRef,
        agent: Option<&str>,
        kind: TaskKind,
        queue: bool,
        created: UnixMillis,
    ) {
        match agent {
            Some(agent) => self.distributor.add_assigned(id, target, kind, agent),
            None => {
                self.distributor.add(id.clone(), target, kind);
                if queue {
                    self.distributor.enqueue(&id, Priority::DEFAULT, created);
                }
            }
        }
    }

    /// The session starts from `ip` within the last minute before `now` (older ones
    /// dropped).
    fn recent_starts(
        &mut self,
        ip: Option<IpAddr>,
        now: std::time::Instant,
    ) -> &mut VecDeque<std::time::Instant> {
        let minute = std::time::Duration::from_secs(60);
        let starts = self.starts_by_ip.entry(ip).or_default();
        while starts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            starts.pop_front();
        }
        starts
    }

    fn conns_of(&self, agent: &str) -> impl Iterator<Item = &Conn> {
        self.agents
            .get(agent)
            .into_iter()
            .flatten()
            .map(|a| &a.conn)
    }

    /// Carries out what the distributor said that is only a frame to agents (wherever
    /// they are connected, in a cluster); keeps the rest for [`Hub::take_work`].
    fn flush(&mut self, cluster: Option<&Cluster>) {
        while let Some(out) = self.distributor.poll_output() {
            match &out {
                Output::Withdraw {
                    session,
                    agent,
                    why,
                } => {
                    let frame = ServerFrame::OfferWithdrawn {
                        session: session.clone(),
                    };
                    self.to_agent(cluster, agent, Utf8Bytes::from(encode(&frame)));
                    if *why == Withdrawn::Expired {
                        self.work.push(out);
                    }
                }
                Output::Presence { agent, presence } => {
                    tracing::info!(
                        %agent,
                        ?presence,
                        "presence set by distribution (missed offers)"
                    );
                    if let Some(p) = self.local_agents.get_mut(agent.as_str()) {
                        *p = Some(*presence);
                    }
                    let frame = ServerFrame::Presence {
                        presence: *presence,
                    };
                    self.to_agent(cluster, agent, Utf8Bytes::from(encode(&frame)));
                }
                Output::Offer { .. } | Output::Position { .. } => self.work.push(out),
            }
        }
    }

    /// Sends an encoded frame to every connection of an agent: here, and through the bus
    /// to the other nodes in a cluster.
    fn to_agent(&self, cluster: Option<&Cluster>, agent: &str, text: Utf8Bytes) {
        if let Some(c) = cluster {
            c.publish(
                crate::node::cluster::DELIVER,
                &Deliver {
                    from: c.node.clone(),
                    to: To::Agent {
                        user: agent.to_owned(),
                        text: text.as_str().to_owned(),
                    },
                },
            );
        }
        for c in self.conns_of(agent) {
            c.send_text(text.clone());
        }
    }

    /// Sends an encoded frame to the visitor of a session: on this node if they are
    /// connected here, else through the bus in a cluster.
    fn to_visitor(&self, cluster: Option<&Cluster>, id: &SessionId, text: Utf8Bytes) {
        if let Some(c) = self.visitors.get(id) {
            c.send_text(text);
        } else if let Some(c) = cluster {
            c.publish(
                crate::node::cluster::DELIVER,
                &Deliver {
                    from: c.node.clone(),
                    to: To::Visitor {
                        session: id.clone(),
                        text: text.as_str().to_owned(),
                    },
                },
            );
        }
    }
}

/// Queue positions go out at most once a second (the first change at once): under load
/// one pass over a queue then serves many decisions.
pub const POSITION_INTERVAL_MS: u64 = 1_000;

/// The distributor for a tenant: every service with the members who can take its chats,
/// every user as the target of direct contacts.
fn distributor_for(tenant: &Tenant, limits: &LimitsSection) -> Distributor {
    let config = DistributorConfig {
        max_chats: u32::try_from(limits.max_chats_per_agent).unwrap_or(u32::MAX),
        offer_timeout_ms: limits.offer_timeout_secs.saturating_mul(1000),
        missed_offers_before_away: limits.missed_offers_before_away,
        position_interval_ms: POSITION_INTERVAL_MS,
        strategy: interact_routing::Strategy::Indexed,
    };
    let (agents, targets) = directory(tenant);
    Distributor::new(config, agents, targets)
}

/// The tenant as routing sees it: every user as an agent, and every service and user as
/// a target with the members who can take its chats.
fn directory(
    tenant: &Tenant,
) -> (
    Vec<AgentProfile>,
    Vec<(TargetRef, Vec<interact_model::UserId>)>,
) {
    let agents = tenant
        .users
        .values()
        .map(|u| AgentProfile {
            id: u.config.id.clone(),
            calls: u.modalities.audio || u.modalities.video,
        })
        .collect();
    let targets = tenant
        .services
        .keys()
        .map(|s| TargetRef::Service(s.clone()))
        .chain(tenant.users.keys().map(|u| TargetRef::User(u.clone())))
        .map(|t| {
            let members = tenant.candidates(&t);
            (t, members)
        })
        .collect();
    (agents, targets)
}

/// LiveSession state of the node.
#[derive(Debug)]
pub struct Hub {
    inner: Mutex<Inner>,
    /// The node's time (the state's clock).
    clock: Arc<dyn Clock>,
    next_conn: AtomicU64,
    /// Woken when the distributor's next deadline moves earlier ([`Hub::next_timeout`]).
    timer: tokio::sync::Notify,
    /// The cluster this node is part of, if any (set once, at start).
    cluster: OnceLock<Arc<Cluster>>,
    /// What a fresh distributor is made of ([`Hub::reset_routing`]); replaced by
    /// [`Hub::set_tenant`].
    tenant: Mutex<Tenant>,
    limits: LimitsSection,
    /// Held while a session is loaded (and claimed, in a cluster), so that one node
    /// claims a session once however many tasks want it.
    pub loading: tokio::sync::Mutex<()>,
}

impl Hub {
    /// An empty hub for the tenant's services and users.
    pub fn new(tenant: &Tenant, limits: &LimitsSection, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner {
                starts_by_ip: HashMap::new(),
                sessions: HashMap::new(),
                visitors: HashMap::new(),
                agents: BTreeMap::new(),
                distributor: distributor_for(tenant, limits),
                work: Vec::new(),
                armed: None,
                local_agents: BTreeMap::new(),
                waits: HashMap::new(),
            }),
            next_conn: AtomicU64::new(1),
            timer: tokio::sync::Notify::new(),
            cluster: OnceLock::new(),
            tenant: Mutex::new(tenant.clone()),
            limits: limits.clone(),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// Makes this hub a node of `cluster`.
    pub fn join_cluster(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The cluster, if this node is part of one.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// In a cluster whose router is another node: sends it `input` and returns `true`
    /// (the caller does nothing more); else `false` (the caller routes here).
    fn forward(&self, input: impl FnOnce() -> RouterInput) -> bool {
        match self.cluster.get() {
            Some(c) if !c.is_leading() => {
                c.publish(crate::node::cluster::ROUTER, &input());
                true
            }
            _ => false,
        }
    }

    /// Tells the router leader (in a cluster) which agents this node holds, now.
    fn report_agents(&self, inner: &Inner) {
        if let Some(c) = self.cluster.get() {
            c.publish(
                crate::node::cluster::ROUTER,
                &RouterInput::Agents {
                    node: c.node.clone(),
                    agents: inner.local_agents.clone(),
                },
            );
        }
    }

    /// The agents signed in on this node, with their presence.
    pub fn local_agents(&self) -> crate::node::cluster::AgentsReport {
        self.lock().local_agents.clone()
    }

    /// Passes a delivery from another node to the connections it names here.
    pub fn deliver_here(&self, to: To) {
        let mut inner = self.lock();
        match to {
            To::Agent { user, text } => {
                // The leader may have set the agent's presence (missed offers).
                if let Ok(ServerFrame::Presence { presence }) =
                    interact_sdk::protocol::decode_server(&text)
                    && let Some(p) = inner.local_agents.get_mut(&user)
                {
                    *p = Some(presence);
                }
                let text = Utf8Bytes::from(text);
                for c in inner.conns_of(&user) {
                    c.send_text(text.clone());
                }
            }
            To::Visitor { session, text } => {
                if let Some(c) = inner.visitors.get(&session) {
                    c.send_text(Utf8Bytes::from(text));
                }
            }
            To::AgentReplay {
                user,
                session,
                after,
            } => {
                for c in inner.conns_of(&user) {
                    c.replay(&session, after);
                }
            }
        }
    }

    /// Drops this node's copy of a session that another node claimed with `epoch` (its
    /// timers stop; the new owner rebuilt the session from the database).
    pub fn forget_before(&self, id: &SessionId, epoch: u64) {
        let mut inner = self.lock();
        let Some(live) = inner.sessions.get(id).cloned() else {
            return;
        };
        if let Ok(l) = live.try_lock()
            && l.epoch.is_some_and(|e| e.0 >= epoch)
        {
            return;
        }
        inner.sessions.remove(id);
        drop(inner);
        tracing::info!(session = %id, epoch, "another node claimed a session: dropping this copy");
        tokio::spawn(async move {
            let mut l = live.lock().await;
            l.run = None;
            if let Some(t) = l.timer.take() {
                t.abort();
            }
        });
    }

    /// Drops a stale copy of a session (its append was fenced); the caller holds its
    /// lock and stops its timer.
    pub fn forget(&self, id: &SessionId) {
        self.lock().sessions.remove(id);
    }

    /// The administration changed the tenant: routing takes the new users, members and
    /// licences at once, keeping its queues, offers and held sessions.
    pub fn set_tenant(&self, tenant: &Tenant) {
        *self.tenant.lock().unwrap_or_else(|p| p.into_inner()) = tenant.clone();
        let (agents, targets) = directory(tenant);
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.distributor.set_directory(agents, targets, now);
        self.settled(&mut inner);
    }

    /// Routing, fresh: an empty distributor (a node that stops leading, or starts to).
    pub fn reset_routing(&self) {
        let mut inner = self.lock();
        let tenant = self
            .tenant
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        inner.distributor = distributor_for(&tenant, &self.limits);
        inner.work.clear();
        inner.armed = None;
    }

    /// Adds a session to routing here (the router): assigned to `agent`, or waiting, in
    /// the queue since `created` if `queue`.
    pub fn route_session(
        &self,
        id: SessionId,
        target: &TargetRef,
        agent: Option<&str>,
        call: bool,
        queue: bool,
        created: UnixMillis,
    ) {
        let mut inner = self.lock();
        let kind = if call { TaskKind::Call } else { TaskKind::Chat };
        inner.route(id, target, agent, kind, queue, created);
        self.settled(&mut inner);
    }

    /// Signs an agent in or out of routing here (the router).
    pub fn route_signed_in(&self, user: &str, on: bool, now: UnixMillis) {
        let mut inner = self.lock();
        inner.distributor.set_signed_in(user, on, now);
        self.settled(&mut inner);
    }

    /// Sets an agent's presence in routing here (the router).
    pub fn route_presence(&self, user: &str, presence: Presence, now: UnixMillis) {
        let mut inner = self.lock();
        inner.distributor.set_presence(user, presence, now);
        self.settled(&mut inner);
    }

    /// Whether this node's distributor routes `session`.
    pub fn is_routed(&self, session: &SessionId) -> bool {
        self.lock().distributor.contains(session)
    }

    /// Whether a chat for `target` would reach someone, by this node's distributor.
    pub fn is_open_here(&self, target: &TargetRef) -> bool {
        self.lock().distributor.is_open(target)
    }

    /// (available, busy) for `target`, by this node's distributor.
    pub fn counts_here(&self, target: &TargetRef) -> (u32, u32) {
        self.lock().distributor.agent_counts(target)
    }

    /// After the distributor was driven: carries out what it said and wakes the timer task if
    /// its next deadline moved earlier.
    fn settled(&self, inner: &mut Inner) {
        inner.flush(self.cluster.get().map(|c| &**c));
        let next = inner.distributor.poll_timeout();
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
        self.lock().distributor.poll_timeout()
    }

    /// Completes when [`Self::next_timeout`] may have moved earlier.
    pub async fn timeout_changed(&self) {
        self.timer.notified().await;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection handle and the ends its tasks use.
    pub fn new_conn(&self) -> (Conn, ConnEnds) {
        Conn::new(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds a session (new, or restored after a restart). Sessions without an agent
    /// join the queue.
    pub fn insert_session(&self, live: LiveSession) -> SessionHandle {
        self.insert_session_with(live, true)
    }

    /// Adds a session; one without an agent joins the queue only if `queue` (a session
    /// whose workflow runs joins it when the workflow says so: [`Self::enqueue`]).
    pub fn insert_session_with(&self, live: LiveSession, queue: bool) -> SessionHandle {
        let id = live.record.id.clone();
        let target = live.record.target.clone();
        let agent = live.record.agent_id.as_ref().map(|a| a.as_str().to_owned());
        let (ended, created) = (live.log.is_ended(), live.record.created_at);
        // A session restored in the middle of an answered call keeps its agent in the call;
        // a call-first session is a call task from the start.
        let kind = if live.log.call_task() {
            TaskKind::Call
        } else {
            TaskKind::Chat
        };
        let live = Arc::new(tokio::sync::Mutex::new(live));
        let routed_elsewhere = !ended
            && self.forward(|| RouterInput::Add {
                session: id.clone(),
                target: target.clone(),
                agent: agent.clone(),
                call: kind == TaskKind::Call,
                queue,
                created,
            });
        let mut inner = self.lock();
        if !ended && !routed_elsewhere {
            inner.route(id.clone(), &target, agent.as_deref(), kind, queue, created);
            self.settled(&mut inner);
        }
        inner.sessions.insert(id, live.clone());
        live
    }

    /// Counts a session start from `ip`; `false` if it exceeds `per_minute`.
    pub fn allow_session_start(&self, ip: Option<IpAddr>, per_minute: u32) -> bool {
        let mut inner = self.lock();
        let now = self.clock.instant();
        let minute = std::time::Duration::from_secs(60);
        if inner.starts_by_ip.len() > SWEEP_STARTS_ABOVE {
            inner
                .starts_by_ip
                .retain(|_, s| s.back().is_some_and(|t| now.duration_since(*t) < minute));
        }
        let starts = inner.recent_starts(ip, now);
        if starts.len() >= per_minute as usize {
            return false;
        }
        starts.push_back(now);
        if let Some(c) = self.cluster.get() {
            // The other nodes count it too: the limit is per address, not per node.
            c.publish(
                crate::node::cluster::STARTS,
                &crate::node::cluster::Started {
                    node: c.node.clone(),
                    ip,
                },
            );
        }
        true
    }

    /// Counts a session start from `ip` that another node of the cluster let through.
    pub fn count_start(&self, ip: Option<IpAddr>) {
        let now = self.clock.instant();
        self.lock().recent_starts(ip, now).push_back(now);
    }

    /// Closes every visitor and agent connection with `code`.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        let inner = self.lock();
        for c in inner
            .visitors
            .values()
            .chain(inner.agents.values().flatten().map(|a| &a.conn))
        {
            c.close(code, reason);
        }
    }

    /// A session held in memory (see [`crate::node::session::get`], which loads it from the
    /// store if it was evicted).
    pub fn session(&self, id: &SessionId) -> Option<SessionHandle> {
        self.lock().sessions.get(id).cloned()
    }

    /// Keeps a session loaded from the store in memory, unless another task loaded it
    /// first: the one in memory is returned either way. Distribution is not touched (the
    /// distributor kept the session while it was out of memory).
    pub fn cache_session(&self, live: LiveSession) -> SessionHandle {
        let id = live.record.id.clone();
        self.lock()
            .sessions
            .entry(id)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(live)))
            .clone()
    }

    /// Sessions in memory.
    pub fn sessions_in_memory(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Drops from memory (they stay in the store) the sessions that nobody is using and
    /// that ended more than `ended_for` ago or had nothing happen for `idle_for`, and
    /// have no workflow run; returns how many went. A session is in use while any task
    /// holds a handle of it (a frame being handled, a timer, a web request): handles are
    /// only handed out under the hub's lock, which this holds.
    pub fn evict(&self, ended_for: std::time::Duration, idle_for: std::time::Duration) -> usize {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now = self.clock.instant();
        let before = inner.sessions.len();
        let visitors = &inner.visitors;
        inner.sessions.retain(|id, live| {
            if Arc::strong_count(live) > 1 {
                return true;
            }
            let Ok(l) = live.try_lock() else {
                return true;
            };
            let quiet = now.saturating_duration_since(l.touched);
            let evict = l.run.is_none()
                && if l.log.is_ended() {
                    quiet >= ended_for
                } else {
                    quiet >= idle_for && !visitors.contains_key(id)
                };
            !evict
        });
        before - inner.sessions.len()
    }

    /// Number of sessions in memory that have not ended.
    pub fn open_sessions(&self) -> usize {
        self.lock().distributor.len()
    }

    /// The session ended: it leaves the queue (an open offer is withdrawn) or frees its
    /// agent.
    pub fn session_ended(&self, id: &SessionId) {
        if self.forward(|| RouterInput::Remove {
            session: id.clone(),
        }) {
            return;
        }
        let mut inner = self.lock();
        inner.distributor.remove(id, self.clock.now());
        self.settled(&mut inner);
    }

    /// Attaches the visitor's connection to a session; returns the connection to close,
    /// if any: the one replaced, or (see below) `conn` itself. `None` when `conn` is
    /// attached already or none was.
    ///
    /// A connection accepted before the one attached (ids grow with every accept) does not
    /// replace it: it is a client's earlier attempt whose resume or repeated start was
    /// handled late, after the client had moved on to a newer connection. The newer one
    /// stays and `conn` is returned, to be closed.
    pub fn attach_visitor(&self, id: &SessionId, conn: Conn) -> Option<Conn> {
        let mut inner = self.lock();
        match inner.visitors.get(id) {
            Some(current) if current.id == conn.id => None,
            Some(current) if current.id > conn.id => Some(conn),
            _ => inner.visitors.insert(id.clone(), conn),
        }
    }

    /// Detaches the visitor's connection `conn_id` if it is still the session's; returns
    /// whether it was.
    pub fn detach_visitor(&self, id: &SessionId, conn_id: u64) -> bool {
        let mut inner = self.lock();
        if inner.visitors.get(id).is_some_and(|c| c.id == conn_id) {
            inner.visitors.remove(id);
            true
        } else {
            false
        }
    }

    /// Attaches an agent's connection, opened with the sign-in token whose hash is
    /// `token_hash` (an agent may have several tabs); the first signs them in (presence
    /// stays `offline` until they set it).
    pub fn attach_agent(&self, info: &AgentInfo, conn: Conn, token_hash: &str, now: UnixMillis) {
        let mut inner = self.lock();
        let user = info.id.as_str();
        inner
            .agents
            .entry(user.to_owned())
            .or_default()
            .push(AgentConn {
                conn,
                token_hash: token_hash.to_owned(),
            });
        inner.local_agents.entry(user.to_owned()).or_insert(None);
        if self.cluster.get().is_some() {
            self.report_agents(&inner);
            return;
        }
        inner.distributor.set_signed_in(user, true, now);
        self.settled(&mut inner);
    }

    /// An agent's new connection got its `welcome`: in a cluster, the offers made to
    /// the agent are made again, so that this connection has them too (one that was cut
    /// may have taken an `accept` with it). On one node offers stay with the agent.
    pub fn agent_welcomed(&self, user: &str) {
        if let Some(c) = self.cluster.get() {
            c.publish(
                crate::node::cluster::ROUTER,
                &RouterInput::Reconnected {
                    user: user.to_owned(),
                },
            );
        }
    }

    /// Closes at once, with the fatal `unauthorized` and 4001, every agent connection
    /// opened with the token whose hash is `token_hash` (sign-out), or every one of
    /// `user` if `token_hash` is `None` (an administrator signed them out); returns how
    /// many. Their tasks detach them.
    pub fn close_agent_conns(
        &self,
        user: Option<&str>,
        token_hash: Option<&str>,
        why: &str,
    ) -> usize {
        let inner = self.lock();
        let mut closed = 0;
        for (u, conns) in &inner.agents {
            if user.is_some_and(|x| x != u) {
                continue;
            }
            for a in conns {
                if token_hash.is_none_or(|h| h == a.token_hash) {
                    let fatal = interact_sdk::protocol::ErrorFrame::new(
                        interact_sdk::protocol::ErrorCode::Unauthorized,
                        why,
                    )
                    .into_fatal();
                    a.conn
                        .end(&ServerFrame::Error(fatal), CloseCode::Unauthorized, why);
                    closed += 1;
                }
            }
        }
        closed
    }

    /// Detaches an agent's connection. With no connection left the agent is offline and
    /// open offers to them go back to the queue.
    pub fn detach_agent(&self, user: &str, conn_id: u64) {
        let mut inner = self.lock();
        let Some(conns) = inner.agents.get_mut(user) else {
            return;
        };
        conns.retain(|c| c.conn.id != conn_id);
        if conns.is_empty() {
            inner.agents.remove(user);
            inner.local_agents.remove(user);
            if self.cluster.get().is_some() {
                self.report_agents(&inner);
                return;
            }
            inner
                .distributor
                .set_signed_in(user, false, self.clock.now());
            self.settled(&mut inner);
        }
    }

    /// Sets an agent's presence.
    pub fn set_presence(&self, user: &str, presence: Presence, now: UnixMillis) {
        let mut inner = self.lock();
        if let Some(p) = inner.local_agents.get_mut(user) {
            *p = Some(presence);
        }
        if self.cluster.get().is_some() {
            self.report_agents(&inner);
            return;
        }
        inner.distributor.set_presence(user, presence, now);
        self.settled(&mut inner);
    }

    /// Sessions held by the agent.
    pub fn agent_sessions(&self, user: &str) -> Vec<SessionId> {
        self.lock().distributor.held_by(user)
    }

    /// Whether the agent holds `session`.
    pub fn holds(&self, user: &str, session: &SessionId) -> bool {
        self.lock().distributor.agent_of(session) == Some(user)
    }

    /// Sends a frame to the session's visitor connection (wherever it is, in a cluster).
    pub fn send_to_visitor(&self, id: &SessionId, frame: &ServerFrame) {
        self.send_text_to_visitor(id, Utf8Bytes::from(encode(frame)));
    }

    /// Sends a frame to every connection of an agent (on every node, in a cluster).
    pub fn send_to_agent(&self, user: &str, frame: &ServerFrame) {
        self.lock().to_agent(
            self.cluster.get().map(|c| &**c),
            user,
            Utf8Bytes::from(encode(frame)),
        );
    }

    /// Replays `session` after `after` to every connection of an agent (on every node,
    /// in a cluster).
    pub fn replay_to_agent(&self, user: &str, session: &SessionId, after: Seq) {
        if let Some(c) = self.cluster.get() {
            c.publish(
                crate::node::cluster::DELIVER,
                &Deliver {
                    from: c.node.clone(),
                    to: To::AgentReplay {
                        user: user.to_owned(),
                        session: session.clone(),
                        after,
                    },
                },
            );
        }
        for c in self.lock().conns_of(user) {
            c.replay(session, after);
        }
    }

    /// Whether the session's visitor has a connection on this node.
    pub fn visitor_connected(&self, id: &SessionId) -> bool {
        self.lock().visitors.contains_key(id)
    }

    /// Sends an encoded frame to the session's visitor connection.
    pub fn send_text_to_visitor(&self, id: &SessionId, text: Utf8Bytes) {
        self.lock()
            .to_visitor(self.cluster.get().map(|c| &**c), id, text);
    }

    /// Sends an encoded frame to both parties of a session: its visitor and the
    /// connections of `agent` (its agent, from its log), wherever they are in a cluster.
    pub fn broadcast_text(&self, id: &SessionId, agent: Option<&str>, text: Utf8Bytes) {
        let inner = self.lock();
        let cluster = self.cluster.get().map(|c| &**c);
        if let Some(agent) = agent {
            inner.to_agent(cluster, agent, text.clone());
        }
        inner.to_visitor(cluster, id, text);
    }

    /// Whether a chat for `target` would reach someone: a candidate is signed in and
    /// available. One at their chat limit or in a call still counts (the visitor waits in
    /// the queue); nobody available, or only busy and away agents, is `NoAgents`.
    pub fn availability(&self, target: &TargetRef) -> Availability {
        let open = match self.cluster.get() {
            // Before the leader was heard (a node just started), a chat may be tried:
            // it waits in the queue if nobody can take it.
            Some(c) if !c.is_leading() => c.availability(target).is_none_or(|a| a.0),
            _ => self.lock().distributor.is_open(target),
        };
        if open {
            Availability::Open
        } else {
            Availability::NoAgents
        }
    }

    /// Records that a chat for `target` waited `waited_ms` in the queue before an agent
    /// took it; [`expected_wait`](Self::expected_wait) follows the recent ones (each
    /// new wait weighs a quarter).
    pub fn note_wait(&self, target: &TargetRef, waited_ms: u64) {
        let mut inner = self.lock();
        let w = inner.waits.entry(target.clone()).or_insert(waited_ms);
        *w = (*w * 3 + waited_ms) / 4;
    }

    /// The wait a chat for `target` started now can expect, in whole seconds (at least
    /// one), from the waits [`note_wait`](Self::note_wait) saw on this node; `None`
    /// before any.
    pub fn expected_wait(&self, target: &TargetRef) -> Option<u32> {
        let ms = *self.lock().waits.get(target)?;
        Some(u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX).max(1))
    }

    /// What distribution asked for since the last call: offers to send, queue positions
    /// to announce, offers that expired (for the workflows). See
    /// [`crate::node::session::dispatch`].
    pub fn take_work(&self) -> Vec<Output> {
        let mut inner = self.lock();
        self.settled(&mut inner);
        std::mem::take(&mut inner.work)
    }

    /// Lets offers due at `now` expire (each goes on to the next agent) and coalesced
    /// queue positions come out.
    pub fn expire_offers(&self, now: UnixMillis) {
        let mut inner = self.lock();
        inner.distributor.handle_timeout(now);
        self.settled(&mut inner);
    }

    /// The agent declines `session`; returns whether it was offered to them.
    pub fn decline(&self, session: &SessionId, agent: &str) -> bool {
        if self.forward(|| RouterInput::Decline {
            session: session.clone(),
            agent: agent.to_owned(),
        }) {
            return false;
        }
        let mut inner = self.lock();
        let open = inner.distributor.decline(session, agent, self.clock.now());
        self.settled(&mut inner);
        open
    }

    /// The open offers to `agent` (session, when the offer lapses).
    pub fn offers_to(&self, agent: &str) -> Vec<(SessionId, UnixMillis)> {
        self.lock().distributor.offers_to(agent)
    }

    /// Every open offer: session, agent, when it lapses.
    pub fn open_offers(&self) -> Vec<(SessionId, String, UnixMillis)> {
        self.lock()
            .distributor
            .open_offers()
            .into_iter()
            .map(|(s, a, at)| (s, a.to_string(), at))
            .collect()
    }

    /// Whether `session` is currently offered to `agent`.
    pub fn is_offered_to(&self, session: &SessionId, agent: &str) -> bool {
        self.lock().distributor.is_offered_to(session, agent)
    }

    /// A call was accepted in `session`: its agent is in a call and gets no other task
    /// until [`Self::call_ended`].
    pub fn call_started(&self, session: &SessionId, now: UnixMillis) {
        if self.forward(|| RouterInput::CallStarted {
            session: session.clone(),
            at: now,
        }) {
            return;
        }
        let mut inner = self.lock();
        inner.distributor.call_started(session, now);
        self.settled(&mut inner);
    }

    /// The call in `session` ended (hang-up, the agent left); the chat goes on and the
    /// agent may get other tasks again (run [`crate::node::session::dispatch`] after). Harmless
    /// if no call was on.
    pub fn call_ended(&self, session: &SessionId, now: UnixMillis) {
        if self.forward(|| RouterInput::CallEnded {
            session: session.clone(),
            at: now,
        }) {
            return;
        }
        let mut inner = self.lock();
        inner.distributor.call_ended(session, now);
        self.settled(&mut inner);
    }

    /// The agent takes the session offered to them: it leaves the queue.
    pub fn accept(
        &self,
        session: &SessionId,
        agent: &str,
        now: UnixMillis,
    ) -> Result<(), interact_routing::AcceptError> {
        let mut inner = self.lock();
        let accepted = inner.distributor.accept(session, agent, now);
        self.settled(&mut inner);
        accepted
    }

    /// Puts a session its agent accepted back in the queue (its `agent_joined` could not
    /// be stored).
    pub fn requeue(&self, session: &SessionId, now: UnixMillis) {
        if self.forward(|| RouterInput::Requeue {
            session: session.clone(),
        }) {
            return;
        }
        let mut inner = self.lock();
        inner.distributor.requeue(session, now);
        self.settled(&mut inner);
    }

    /// Puts a waiting session in the queue with `priority` (a workflow's Queue Task), or
    /// changes its priority if it is queued already. Its time in the queue starts now.
    pub fn enqueue(&self, id: &SessionId, priority: u8, now: UnixMillis) {
        if self.forward(|| RouterInput::Enqueue {
            session: id.clone(),
            priority,
            at: now,
        }) {
            return;
        }
        let priority = Priority::new(priority).unwrap_or(Priority::DEFAULT);
        let mut inner = self.lock();
        inner.distributor.enqueue(id, priority, now);
        self.settled(&mut inner);
    }

    /// Changes a queued session's priority (Distribution Priority).
    pub fn set_priority(&self, id: &SessionId, priority: u8) {
        if self.forward(|| RouterInput::SetPriority {
            session: id.clone(),
            priority,
        }) {
            return;
        }
        let priority = Priority::new(priority).unwrap_or(Priority::DEFAULT);
        let mut inner = self.lock();
        inner
            .distributor
            .set_priority(id, priority, self.clock.now());
        self.settled(&mut inner);
    }

    /// Takes a session out of the queue (Cancel Task); an open offer is withdrawn.
    pub fn dequeue(&self, id: &SessionId) {
        if self.forward(|| RouterInput::Dequeue {
            session: id.clone(),
        }) {
            return;
        }
        let mut inner = self.lock();
        inner.distributor.dequeue(id, self.clock.now());
        self.settled(&mut inner);
    }

    /// Hands a waiting session to another target (a workflow's Transfer): its queue
    /// position is recomputed among the new target's sessions.
    pub fn retarget(&self, id: &SessionId, target: TargetRef) {
        if self.forward(|| RouterInput::Retarget {
            session: id.clone(),
            target: target.clone(),
        }) {
            return;
        }
        let mut inner = self.lock();
        inner.distributor.retarget(id, &target, self.clock.now());
        self.settled(&mut inner);
    }

    /// The service's members who could take a chat now, and those signed in who cannot
    /// (busy, away, at their chat limit, in a call): (available, busy).
    pub fn agent_counts(&self, target: &TargetRef) -> (u32, u32) {
        if let Some(c) = self.cluster.get()
            && !c.is_leading()
        {
            let (_, available, busy) = c.availability(target).unwrap_or_default();
            return (available, busy);
        }
        self.lock().distributor.agent_counts(target)
    }
}
