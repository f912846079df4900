//! Task distribution, sans IO: the queue of every target (service or user), agents'
//! presence and load, offers and their time-outs. [`crate::hub::Hub`] drives it for the
//! live server; simulations and the routing benchmark drive it on a virtual clock.
//!
//! Like the SDK's machines it reads no clock and does no IO: every input carries the
//! time, [`Router::poll_timeout`] says when the next offer expires, and what the server
//! must do comes out of [`Router::poll_output`].
//!
//! # Rules
//!
//! - A task waits in its target's queue in distribution order: highest priority first
//!   (Distribution Priority, 1 to 9), then longest in the queue.
//! - It is offered to an *eligible* member of its target: signed in, presence
//!   `available`, not in a call, not among those who declined or missed it, and for a
//!   chat below the chat limit (held chats and open offers count), for a call licensed
//!   for audio/video. Chat does not block an agent; a call does (nothing is offered to
//!   an agent in a call, whatever their chats).
//! - Among eligible members the one idle longest goes first: idle since their last offer
//!   or since they became available, whichever is later; ties by sign-in order.
//! - Decisions are taken best task first across all targets: the waiting task with the
//!   best key that has an eligible agent gets the best of its eligible agents, and so
//!   on until no task can be offered.
//! - An offer not accepted within the offer time-out goes back to the queue at its old
//!   place and on to the next agent; an agent who misses `missed_offers_before_away`
//!   offers in a row is set `away` (they left the console open and walked off). A
//!   decline sends the task on at once without that penalty. When every member has
//!   declined or missed a task, a new round starts.
//! - Queue positions count per target, offered tasks included (an offered task is
//!   still waiting); a change is announced once, and announcements are coalesced to at
//!   most one per `position_interval_ms` (the first at once).
//!
//! [`Strategy::Scan`] takes the same decisions by brute force (every waiting task
//! against every agent). It is the specification the indexed strategy is tested
//! against, and the benchmark's baseline.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use interact_sdk::ids::SessionId;
use interact_sdk::protocol::Presence;
use interact_sdk::time::UnixMillis;

use crate::tenant::TargetRef;
use crate::workflow::Priority;

/// What kind of task a session is for distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Instant Messaging: does not block the agent.
    Chat,
    /// Audio/video: blocks the agent while it lasts.
    Call,
}

/// How [`Router`] finds the next decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Ordered indexes per target: cost per decision grows with the number of targets
    /// that have waiting tasks, not with the queue's length.
    #[default]
    Indexed,
    /// Every waiting task against every agent: the specification and the baseline.
    Scan,
}

/// Limits of distribution.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// Most chats an agent holds at once (open offers count).
    pub max_chats: u32,
    /// How long an agent has to accept an offer, in milliseconds.
    pub offer_timeout_ms: u64,
    /// Missed offers in a row after which an agent is set away; 0 never does.
    pub missed_offers_before_away: u32,
    /// Queue positions are announced at most this often (milliseconds; 0: at every
    /// change). Under load one announcement then covers many decisions: each costs one
    /// pass over the changed queues.
    pub position_interval_ms: u64,
    /// How decisions are found.
    pub strategy: Strategy,
}

/// One agent as the router knows it.
#[derive(Clone, Debug)]
pub struct AgentProfile {
    /// User id.
    pub id: String,
    /// Licensed and enabled for audio/video (can be offered calls).
    pub calls: bool,
}

/// Why an offer was taken back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withdrawn {
    /// Not accepted in time.
    Expired,
    /// The task left the queue: the session ended, was cancelled, or went elsewhere.
    Cancelled,
}

/// What the server has to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Offer `session` to `agent` until `expires_at`.
    Offer {
        /// The task.
        session: SessionId,
        /// User id.
        agent: String,
        /// When the offer lapses.
        expires_at: UnixMillis,
    },
    /// The offer of `session` to `agent` is no longer open.
    Withdraw {
        /// The task.
        session: SessionId,
        /// User id.
        agent: String,
        /// Why.
        why: Withdrawn,
    },
    /// The router changed an agent's presence (missed offers).
    Presence {
        /// User id.
        agent: String,
        /// The new presence.
        presence: Presence,
    },
    /// A waiting session's queue position changed.
    Position {
        /// The task.
        session: SessionId,
        /// 1 is next.
        position: u32,
    },
}

/// Why an accept was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The session is not (or no longer) offered to this agent.
    #[error("this session is not offered to you")]
    NotOffered,
}

/// Order of a queued task: priority (highest first), time queued, arrival number.
type TaskKey = (Reverse<Priority>, UnixMillis, u64);
/// Order of a free agent: idle since (earliest first), index.
type AgentKey = (UnixMillis, u32);

#[derive(Debug)]
struct Agent {
    id: String,
    calls_licensed: bool,
    signed_in: bool,
    presence: Presence,
    /// Chats held plus chat offers open.
    chat_load: u32,
    /// Calls held plus call offers open.
    call_load: u32,
    idle_since: UnixMillis,
    missed: u32,
    /// Sessions the agent holds (accepted).
    held: BTreeSet<SessionId>,
    targets: Vec<usize>,
    /// The key under which the agent sits in its targets' free sets, per kind.
    free_as: [Option<AgentKey>; 2],
}

#[derive(Debug)]
struct Target {
    members: Vec<u32>,
    /// Every queued task (offered ones too): the positions.
    queued: BTreeMap<TaskKey, Queued>,
    /// Queued tasks not on offer: the candidates for distribution.
    /// By kind: a kind nobody is free for costs nothing to skip.
    waiting: [BTreeSet<TaskKey>; 2],
    /// Members who could take a task of each kind now, idle longest first.
    free: [BTreeSet<AgentKey>; 2],
}

#[derive(Debug)]
struct Queued {
    session: SessionId,
    /// The position last announced.
    announced: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Known but not queued (a workflow has not reached Queue Task yet).
    Held,
    Waiting,
    Offered {
        agent: u32,
        expires_at: UnixMillis,
    },
    Assigned {
        agent: u32,
    },
}

#[derive(Debug)]
struct Task {
    target: usize,
    kind: TaskKind,
    priority: Priority,
    key: Option<TaskKey>,
    state: State,
    declined: BTreeSet<u32>,
}

fn kind_index(kind: TaskKind) -> usize {
    match kind {
        TaskKind::Chat => 0,
        TaskKind::Call => 1,
    }
}

/// Queues, agents and offers of one node.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    agents: Vec<Agent>,
    agent_index: HashMap<String, u32>,
    targets: Vec<Target>,
    target_index: HashMap<TargetRef, usize>,
    tasks: HashMap<SessionId, Task>,
    /// Open offers by expiry.
    offers: BTreeSet<(UnixMillis, SessionId)>,
    /// Targets with waiting tasks.
    active: BTreeSet<usize>,
    /// Targets whose positions may have changed.
    dirty: BTreeSet<usize>,
    /// When positions were last announced.
    positions_at: Option<UnixMillis>,
    /// When coalesced position changes are to be announced.
    positions_due: Option<UnixMillis>,
    arrivals: u64,
    out: VecDeque<Output>,
    decisions: u64,
}

impl Router {
    /// A router for these agents and targets (each with the user ids of the members
    /// who can take its chats); a user id not among `agents` is ignored.
    pub fn new(
        config: RouterConfig,
        agents: impl IntoIterator<Item = AgentProfile>,
        targets: impl IntoIterator<Item = (TargetRef, Vec<String>)>,
    ) -> Self {
        let mut router = Self {
            config,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            targets: Vec::new(),
            target_index: HashMap::new(),
            tasks: HashMap::new(),
            offers: BTreeSet::new(),
            active: BTreeSet::new(),
            dirty: BTreeSet::new(),
            positions_at: None,
            positions_due: None,
            arrivals: 0,
            out: VecDeque::new(),
            decisions: 0,
        };
        for p in agents {
            if router.agent_index.contains_key(&p.id) {
                continue;
            }
            let i = u32::try_from(router.agents.len()).unwrap_or(u32::MAX);
            router.agent_index.insert(p.id.clone(), i);
            router.agents.push(Agent {
                id: p.id,
                calls_licensed: p.calls,
                signed_in: false,
                presence: Presence::Offline,
                chat_load: 0,
                call_load: 0,
                idle_since: UnixMillis(0),
                missed: 0,
                held: BTreeSet::new(),
                targets: Vec::new(),
                free_as: [None, None],
            });
        }
        for (key, members) in targets {
            router.target(&key);
            let t = router.target_index[&key];
            for m in members {
                if let Some(&a) = router.agent_index.get(&m)
                    && !router.targets[t].members.contains(&a)
                {
                    router.targets[t].members.push(a);
                    router.agents[a as usize].targets.push(t);
                }
            }
        }
        router
    }

    fn target(&mut self, key: &TargetRef) -> usize {
        if let Some(&t) = self.target_index.get(key) {
            return t;
        }
        let t = self.targets.len();
        self.targets.push(Target {
            members: Vec::new(),
            queued: BTreeMap::new(),
            waiting: [BTreeSet::new(), BTreeSet::new()],
            free: [BTreeSet::new(), BTreeSet::new()],
        });
        self.target_index.insert(key.clone(), t);
        t
    }

    /// Decisions (offers) taken so far.
    pub fn decisions(&self) -> u64 {
        self.decisions
    }

    // ---------------------------------------------------------------- agents

    /// The agent signed in (their first connection) or out (their last one). Signing
    /// out takes back their open offers (not counted as missed) and makes them offline.
    pub fn set_signed_in(&mut self, agent: &str, signed_in: bool, now: UnixMillis) {
        let Some(&a) = self.agent_index.get(agent) else {
            return;
        };
        let ag = &mut self.agents[a as usize];
        if ag.signed_in == signed_in {
            return;
        }
        ag.signed_in = signed_in;
        if !signed_in {
            ag.presence = Presence::Offline;
            let open: Vec<SessionId> = self
                .tasks
                .iter()
                .filter(|(_, t)| matches!(t.state, State::Offered { agent, .. } if agent == a))
                .map(|(s, _)| s.clone())
                .collect();
            for s in open {
                self.unoffer(&s, false);
            }
        }
        self.refresh(a);
        self.settle(now);
    }

    /// Sets an agent's presence. Becoming available starts their idle time and forgives
    /// missed offers.
    pub fn set_presence(&mut self, agent: &str, presence: Presence, now: UnixMillis) {
        let Some(&a) = self.agent_index.get(agent) else {
            return;
        };
        let ag = &mut self.agents[a as usize];
        if presence == Presence::Available && ag.presence != Presence::Available {
            ag.idle_since = now;
            ag.missed = 0;
        }
        ag.presence = presence;
        self.refresh(a);
        self.settle(now);
    }

    /// An agent's presence (`offline` for one not signed in or unknown).
    pub fn presence(&self, agent: &str) -> Presence {
        self.agent_index
            .get(agent)
            .map(|&a| &self.agents[a as usize])
            .filter(|a| a.signed_in)
            .map_or(Presence::Offline, |a| a.presence)
    }

    // ---------------------------------------------------------------- tasks

    /// Registers a session's task without queueing it (its workflow queues it later with
    /// [`Self::enqueue`]).
    pub fn add(&mut self, session: SessionId, target: &TargetRef, kind: TaskKind) {
        let t = self.target(target);
        self.tasks.entry(session).or_insert(Task {
            target: t,
            kind,
            priority: Priority::DEFAULT,
            key: None,
            state: State::Held,
            declined: BTreeSet::new(),
        });
    }

    /// Registers a session an agent already holds (restored after a restart).
    pub fn add_assigned(
        &mut self,
        session: SessionId,
        target: &TargetRef,
        kind: TaskKind,
        agent: &str,
    ) {
        let Some(&a) = self.agent_index.get(agent) else {
            // The agent is gone from the configuration: the session waits again.
            self.add(session.clone(), target, kind);
            return;
        };
        self.add(session.clone(), target, kind);
        if let Some(task) = self.tasks.get_mut(&session)
            && task.state == State::Held
        {
            task.state = State::Assigned { agent: a };
            self.agents[a as usize].held.insert(session);
            self.load(a, kind, 1);
            self.refresh(a);
        }
    }

    /// Queues a registered task with `priority`, or changes the priority of a queued one
    /// (keeping its time in the queue). Its time in the queue starts now if it was not
    /// queued.
    pub fn enqueue(&mut self, session: &SessionId, priority: Priority, now: UnixMillis) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let t = task.target;
        match task.state {
            State::Assigned { .. } => return,
            State::Held => {
                self.arrivals += 1;
                let key = (Reverse(priority), now, self.arrivals);
                task.priority = priority;
                task.key = Some(key);
                task.state = State::Waiting;
                let queued = Queued {
                    session: session.clone(),
                    announced: None,
                };
                self.targets[t].queued.insert(key, queued);
                self.targets[t].waiting[kind_index(task.kind)].insert(key);
                self.active.insert(t);
            }
            State::Waiting | State::Offered { .. } => {
                let Some(old) = task.key else { return };
                let key = (Reverse(priority), old.1, old.2);
                task.priority = priority;
                task.key = Some(key);
                let target = &mut self.targets[t];
                if let Some(queued) = target.queued.remove(&old) {
                    target.queued.insert(key, queued);
                }
                let waiting = &mut target.waiting[kind_index(task.kind)];
                if waiting.remove(&old) {
                    waiting.insert(key);
                }
            }
        }
        self.dirty.insert(t);
        self.settle(now);
    }

    /// Changes a task's priority; a queued task moves to its new place.
    pub fn set_priority(&mut self, session: &SessionId, priority: Priority, now: UnixMillis) {
        match self.tasks.get_mut(session) {
            Some(task) if task.state == State::Held => task.priority = priority,
            Some(_) => self.enqueue(session, priority, now),
            None => {}
        }
    }

    /// Takes a task out of the queue (Cancel Task); an open offer is withdrawn. The task
    /// stays registered and can be queued again.
    pub fn dequeue(&mut self, session: &SessionId, now: UnixMillis) {
        self.unqueue(session);
        self.settle(now);
    }

    /// Hands a task that is not yet assigned to another target (Transfer): it joins the
    /// new target's queue now if it was queued, and no one has declined it there.
    pub fn retarget(&mut self, session: &SessionId, target: &TargetRef, now: UnixMillis) {
        let to = self.target(target);
        let Some(task) = self.tasks.get(session) else {
            return;
        };
        if matches!(task.state, State::Assigned { .. }) {
            return;
        }
        let was_queued = task.state != State::Held;
        let priority = task.priority;
        self.unqueue(session);
        if let Some(task) = self.tasks.get_mut(session) {
            task.target = to;
            task.declined.clear();
        }
        if was_queued {
            self.enqueue(session, priority, now);
        }
        self.settle(now);
    }

    /// The agent accepts an offered task: it leaves the queue and the agent holds it.
    pub fn accept(
        &mut self,
        session: &SessionId,
        agent: &str,
        now: UnixMillis,
    ) -> Result<(), AcceptError> {
        let a = *self.agent_index.get(agent).ok_or(AcceptError::NotOffered)?;
        let task = self.tasks.get_mut(session).ok_or(AcceptError::NotOffered)?;
        let State::Offered {
            agent: to,
            expires_at,
        } = task.state
        else {
            return Err(AcceptError::NotOffered);
        };
        if to != a {
            return Err(AcceptError::NotOffered);
        }
        task.state = State::Assigned { agent: a };
        let t = task.target;
        if let Some(key) = task.key.take() {
            self.targets[t].queued.remove(&key);
        }
        self.offers.remove(&(expires_at, session.clone()));
        self.agents[a as usize].missed = 0;
        self.agents[a as usize].held.insert(session.clone());
        self.dirty.insert(t);
        self.settle(now);
        Ok(())
    }

    /// Puts an assigned task back in the queue, at the back of its priority (the
    /// acceptance could not be stored).
    pub fn requeue(&mut self, session: &SessionId, now: UnixMillis) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let State::Assigned { agent } = task.state else {
            return;
        };
        task.state = State::Held;
        let (kind, priority) = (task.kind, task.priority);
        self.agents[agent as usize].held.remove(session);
        self.load(agent, kind, -1);
        self.refresh(agent);
        self.enqueue(session, priority, now);
    }

    /// The agent declines an offered task: it goes on to the next agent. Returns whether
    /// the offer was open.
    pub fn decline(&mut self, session: &SessionId, agent: &str, now: UnixMillis) -> bool {
        let Some(&a) = self.agent_index.get(agent) else {
            return false;
        };
        if !self.is_offered_to(session, agent) {
            return false;
        }
        self.unoffer(session, true);
        self.agents[a as usize].idle_since = now;
        self.refresh(a);
        self.settle(now);
        true
    }

    /// Whether `session` is offered to `agent` now.
    pub fn is_offered_to(&self, session: &SessionId, agent: &str) -> bool {
        let a = self.agent_index.get(agent);
        self.tasks
            .get(session)
            .is_some_and(|t| matches!(t.state, State::Offered { agent, .. } if Some(&agent) == a))
    }

    /// Sessions `agent` holds.
    pub fn held_by(&self, agent: &str) -> Vec<SessionId> {
        self.agent_index
            .get(agent)
            .map(|&a| self.agents[a as usize].held.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sessions known (queued, offered, held, or waiting for their workflow).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no session is known.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The agent holding `session`, if any.
    pub fn agent_of(&self, session: &SessionId) -> Option<&str> {
        match self.tasks.get(session)?.state {
            State::Assigned { agent } => Some(&self.agents[agent as usize].id),
            _ => None,
        }
    }

    /// The session ended: it leaves the queue (an open offer is withdrawn) or frees its
    /// agent.
    pub fn remove(&mut self, session: &SessionId, now: UnixMillis) {
        self.unqueue(session);
        if let Some(task) = self.tasks.remove(session)
            && let State::Assigned { agent } = task.state
        {
            self.agents[agent as usize].held.remove(session);
            self.load(agent, task.kind, -1);
            if task.kind == TaskKind::Call {
                // Back from a call: idle from now.
                self.agents[agent as usize].idle_since = now;
            }
            self.refresh(agent);
        }
        self.settle(now);
    }

    /// A call started in an assigned chat (the visitor escalated): the agent is in a
    /// call, and takes no other task until [`Self::call_ended`].
    pub fn call_started(&mut self, session: &SessionId, now: UnixMillis) {
        self.switch_kind(session, TaskKind::Call, now);
    }

    /// The call in `session` ended; the chat goes on.
    pub fn call_ended(&mut self, session: &SessionId, now: UnixMillis) {
        self.switch_kind(session, TaskKind::Chat, now);
    }

    fn switch_kind(&mut self, session: &SessionId, kind: TaskKind, now: UnixMillis) {
        // Only a held task changes kind (a call starts once an agent has the chat).
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let State::Assigned { agent } = task.state else {
            return;
        };
        let old = std::mem::replace(&mut task.kind, kind);
        if old == kind {
            return;
        }
        self.load(agent, old, -1);
        self.load(agent, kind, 1);
        if old == TaskKind::Call {
            self.agents[agent as usize].idle_since = now;
        }
        self.refresh(agent);
        self.settle(now);
    }

    // ---------------------------------------------------------------- time

    /// When the next offer expires or coalesced positions are due.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        let offer = self.offers.first().map(|(at, _)| *at);
        match (offer, self.positions_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires the offers due at `now`: each goes back to the queue and on to the next
    /// agent; the agent may be set away. Announces coalesced positions when due.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        if self.positions_due.is_some_and(|at| at <= now) {
            self.announce_positions(now);
        }
        while let Some((at, session)) = self.offers.first().cloned() {
            if at > now {
                break;
            }
            let Some(State::Offered { agent, .. }) = self.tasks.get(&session).map(|t| t.state)
            else {
                self.offers.pop_first();
                continue;
            };
            self.unoffer(&session, true);
            self.out.push_back(Output::Withdraw {
                session,
                agent: self.agents[agent as usize].id.clone(),
                why: Withdrawn::Expired,
            });
            let ag = &mut self.agents[agent as usize];
            ag.missed += 1;
            if self.config.missed_offers_before_away > 0
                && ag.missed >= self.config.missed_offers_before_away
                && ag.presence == Presence::Available
            {
                ag.presence = Presence::Away;
                self.out.push_back(Output::Presence {
                    agent: ag.id.clone(),
                    presence: Presence::Away,
                });
            }
            self.refresh(agent);
        }
        self.settle(now);
    }

    /// The next thing the server has to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---------------------------------------------------------------- views

    /// Whether a chat for `target` would reach someone: a member is signed in and
    /// available (at their chat limit or in a call still counts: the task waits).
    pub fn is_open(&self, target: &TargetRef) -> bool {
        self.target_index.get(target).is_some_and(|&t| {
            self.targets[t].members.iter().any(|&a| {
                let a = &self.agents[a as usize];
                a.signed_in && a.presence == Presence::Available
            })
        })
    }

    /// Members of `target` who could take a chat now, and those signed in who cannot
    /// (busy, away, at their limit, in a call): (available, busy).
    pub fn agent_counts(&self, target: &TargetRef) -> (u32, u32) {
        let Some(&t) = self.target_index.get(target) else {
            return (0, 0);
        };
        let (mut available, mut busy) = (0, 0);
        for &a in &self.targets[t].members {
            let ag = &self.agents[a as usize];
            if !ag.signed_in {
                continue;
            }
            if self.is_free(a, TaskKind::Chat) {
                available += 1;
            } else {
                busy += 1;
            }
        }
        (available, busy)
    }

    /// Tasks in `target`'s queue (offered ones included).
    pub fn queue_len(&self, target: &TargetRef) -> usize {
        self.target_index
            .get(target)
            .map_or(0, |&t| self.targets[t].queued.len())
    }

    /// A task's queue position, if it is queued.
    pub fn position(&self, session: &SessionId) -> Option<u32> {
        let task = self.tasks.get(session)?;
        let key = task.key?;
        let n = self.targets[task.target].queued.range(..key).count();
        u32::try_from(n + 1).ok()
    }

    // ---------------------------------------------------------------- inside

    fn load(&mut self, a: u32, kind: TaskKind, delta: i32) {
        let ag = &mut self.agents[a as usize];
        let load = match kind {
            TaskKind::Chat => &mut ag.chat_load,
            TaskKind::Call => &mut ag.call_load,
        };
        *load = load.saturating_add_signed(delta);
    }

    fn is_free(&self, a: u32, kind: TaskKind) -> bool {
        let ag = &self.agents[a as usize];
        ag.signed_in
            && ag.presence == Presence::Available
            && ag.call_load == 0
            && match kind {
                TaskKind::Chat => ag.chat_load < self.config.max_chats,
                TaskKind::Call => ag.calls_licensed,
            }
    }

    /// Puts agent `a` in or out of its targets' free sets after anything about it changed.
    fn refresh(&mut self, a: u32) {
        for kind in [TaskKind::Chat, TaskKind::Call] {
            let k = kind_index(kind);
            let want = self
                .is_free(a, kind)
                .then_some((self.agents[a as usize].idle_since, a));
            let ag = &mut self.agents[a as usize];
            if ag.free_as[k] == want {
                continue;
            }
            let old = std::mem::replace(&mut ag.free_as[k], want);
            for &t in &ag.targets {
                let free = &mut self.targets[t].free[k];
                if let Some(old) = old {
                    free.remove(&old);
                }
                if let Some(new) = want {
                    free.insert(new);
                }
            }
        }
    }

    /// Takes a task's open offer back (to the queue); `refuse` remembers the agent as
    /// one who declined or missed it.
    fn unoffer(&mut self, session: &SessionId, refuse: bool) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let State::Offered { agent, expires_at } = task.state else {
            return;
        };
        task.state = State::Waiting;
        if refuse {
            task.declined.insert(agent);
            let members = &self.targets[task.target].members;
            if members.iter().all(|m| task.declined.contains(m)) {
                // Everyone had it: a new round rather than a stranded task.
                task.declined.clear();
            }
        }
        let (t, kind) = (task.target, task.kind);
        if let Some(key) = task.key {
            self.targets[t].waiting[kind_index(kind)].insert(key);
            self.active.insert(t);
        }
        self.offers.remove(&(expires_at, session.clone()));
        self.load(agent, kind, -1);
        self.refresh(agent);
    }

    /// Takes a task out of its queue (withdrawing an open offer), back to held.
    fn unqueue(&mut self, session: &SessionId) {
        let Some(task) = self.tasks.get(session) else {
            return;
        };
        if let State::Offered { agent, .. } = task.state {
            self.unoffer(session, false);
            self.out.push_back(Output::Withdraw {
                session: session.clone(),
                agent: self.agents[agent as usize].id.clone(),
                why: Withdrawn::Cancelled,
            });
        }
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        if task.state != State::Waiting {
            return;
        }
        task.state = State::Held;
        let (t, kind) = (task.target, task.kind);
        if let Some(key) = task.key.take() {
            let target = &mut self.targets[t];
            target.queued.remove(&key);
            target.waiting[kind_index(kind)].remove(&key);
        }
        self.dirty.insert(t);
    }

    /// Whether agent `a` may get task `task` now.
    fn eligible(&self, task: &Task, a: u32) -> bool {
        self.is_free(a, task.kind) && !task.declined.contains(&a)
    }

    /// Offers tasks while any can be offered, then announces changed positions.
    fn settle(&mut self, now: UnixMillis) {
        loop {
            let pick = match self.config.strategy {
                Strategy::Indexed => self.pick_indexed(),
                Strategy::Scan => self.pick_scan(),
            };
            let Some((session, a)) = pick else { break };
            self.offer(&session, a, now);
        }
        if self.dirty.is_empty() {
            return;
        }
        // At most one announcement per interval: leading edge, then coalesced.
        let next = self.positions_at.map_or(now, |at| {
            UnixMillis(at.0 + self.config.position_interval_ms)
        });
        if now >= next {
            self.announce_positions(now);
        } else {
            self.positions_due = Some(next);
        }
    }

    /// The best (task, agent) pair, by the ordered indexes.
    fn pick_indexed(&mut self) -> Option<(SessionId, u32)> {
        let mut best: Option<(TaskKey, usize, u32)> = None;
        let mut idle = Vec::new();
        for &t in &self.active {
            let target = &self.targets[t];
            if target.waiting.iter().all(BTreeSet::is_empty) {
                idle.push(t);
                continue;
            }
            for (waiting, free) in target.waiting.iter().zip(&target.free) {
                if free.is_empty() {
                    continue;
                }
                for key in waiting {
                    if best.is_some_and(|(b, ..)| b < *key) {
                        break;
                    }
                    let task = &self.tasks[&target.queued[key].session];
                    let agent = free
                        .iter()
                        .map(|&(_, a)| a)
                        .find(|a| !task.declined.contains(a));
                    if let Some(a) = agent {
                        best = Some((*key, t, a));
                        break;
                    }
                }
            }
        }
        for t in idle {
            self.active.remove(&t);
        }
        let (key, t, a) = best?;
        Some((self.targets[t].queued[&key].session.clone(), a))
    }

    /// The best (task, agent) pair by brute force: every waiting task in order against
    /// every agent.
    fn pick_scan(&self) -> Option<(SessionId, u32)> {
        let mut waiting: Vec<(TaskKey, &SessionId, &Task)> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state == State::Waiting)
            .filter_map(|(s, t)| t.key.map(|k| (k, s, t)))
            .collect();
        waiting.sort_by_key(|(k, ..)| *k);
        for (_, session, task) in waiting {
            let best = self.targets[task.target]
                .members
                .iter()
                .copied()
                .filter(|&a| self.eligible(task, a))
                .min_by_key(|&a| (self.agents[a as usize].idle_since, a));
            if let Some(a) = best {
                return Some((session.clone(), a));
            }
        }
        None
    }

    fn offer(&mut self, session: &SessionId, a: u32, now: UnixMillis) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let expires_at = UnixMillis(now.0 + self.config.offer_timeout_ms);
        task.state = State::Offered {
            agent: a,
            expires_at,
        };
        let (t, kind) = (task.target, task.kind);
        if let Some(key) = task.key {
            self.targets[t].waiting[kind_index(kind)].remove(&key);
        }
        self.offers.insert((expires_at, session.clone()));
        self.load(a, kind, 1);
        // Idle time counts from the last offer: the next task goes to someone else.
        self.agents[a as usize].idle_since = now;
        self.refresh(a);
        self.decisions += 1;
        self.out.push_back(Output::Offer {
            session: session.clone(),
            agent: self.agents[a as usize].id.clone(),
            expires_at,
        });
    }

    /// Announces the positions that changed in the targets whose queues changed.
    fn announce_positions(&mut self, now: UnixMillis) {
        self.positions_due = None;
        self.positions_at = Some(now);
        while let Some(t) = self.dirty.pop_first() {
            for (n, queued) in self.targets[t].queued.values_mut().enumerate() {
                let position = u32::try_from(n + 1).unwrap_or(u32::MAX);
                if queued.announced != Some(position) {
                    queued.announced = Some(position);
                    self.out.push_back(Output::Position {
                        session: queued.session.clone(),
                        position,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
