//! Task distribution, sans IO: the queue of every target (service or user), agents'
//! presence and load, offers and their time-outs. The server's node drives it for the
//! live server; simulations and the routing benchmark drive it on a virtual clock.
//!
//! Like the SDK's machines it reads no clock and does no IO: every input carries the
//! time, [`Distributor::poll_timeout`] says when the next offer expires, and what the server
//! must do comes out of [`Distributor::poll_output`].
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

use interact_model::{Priority, TargetRef, UserId};

/// What kind of task a session is for distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Instant Messaging: does not block the agent.
    Chat,
    /// Audio/video: blocks the agent while it lasts.
    Call,
}

/// How [`Distributor`] finds the next decision.
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
pub struct DistributorConfig {
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
    pub id: UserId,
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
        agent: UserId,
        /// When the offer lapses.
        expires_at: UnixMillis,
    },
    /// The offer of `session` to `agent` is no longer open.
    Withdraw {
        /// The task.
        session: SessionId,
        /// User id.
        agent: UserId,
        /// Why.
        why: Withdrawn,
    },
    /// The router changed an agent's presence (missed offers).
    Presence {
        /// User id.
        agent: UserId,
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
    id: UserId,
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
pub struct Distributor {
    config: DistributorConfig,
    agents: Vec<Agent>,
    agent_index: HashMap<UserId, u32>,
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

impl Distributor {
    /// A router for these agents and targets (each with the user ids of the members
    /// who can take its chats); a user id not among `agents` is ignored.
    pub fn new(
        config: DistributorConfig,
        agents: impl IntoIterator<Item = AgentProfile>,
        targets: impl IntoIterator<Item = (TargetRef, Vec<UserId>)>,
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
        // Nothing is queued or signed in yet: taking the directory settles nothing.
        router.set_directory(agents, targets, UnixMillis(0));
        router
    }

    /// Takes a changed directory (the administration changed users, members or
    /// licences): the same arguments as [`new`](Self::new), applied to the running
    /// router. Queued tasks, offers and held sessions stay; each target's members become
    /// the ones given (a new member who is free gets tasks at once), new agents and
    /// targets are added, and an agent no longer listed keeps what it holds but is a
    /// member of nothing, so it gets no more tasks.
    pub fn set_directory(
        &mut self,
        agents: impl IntoIterator<Item = AgentProfile>,
        targets: impl IntoIterator<Item = (TargetRef, Vec<UserId>)>,
        now: UnixMillis,
    ) {
        // Out of every free set: membership changes under them.
        for a in 0..self.agents.len() {
            for k in 0..2 {
                if let Some(key) = self.agents[a].free_as[k].take() {
                    for &t in &self.agents[a].targets {
                        self.targets[t].free[k].remove(&key);
                    }
                }
            }
            self.agents[a].targets.clear();
        }
        for target in &mut self.targets {
            target.members.clear();
        }
        let mut listed = std::collections::HashSet::new();
        for p in agents {
            // The first profile of an id counts.
            if !listed.insert(p.id.clone()) {
                continue;
            }
            match self.agent_index.get(&p.id) {
                Some(&a) => self.agents[a as usize].calls_licensed = p.calls,
                None => {
                    let i = u32::try_from(self.agents.len()).unwrap_or(u32::MAX);
                    self.agent_index.insert(p.id.clone(), i);
                    self.agents.push(Agent {
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
            }
        }
        for (key, members) in targets {
            let t = self.target(&key);
            for m in members {
                if !listed.contains(&m) {
                    continue;
                }
                if let Some(&a) = self.agent_index.get(&m)
                    && !self.targets[t].members.contains(&a)
                {
                    self.targets[t].members.push(a);
                    self.agents[a as usize].targets.push(t);
                }
            }
        }
        for a in 0..self.agents.len() {
            self.refresh(u32::try_from(a).unwrap_or(u32::MAX));
        }
        for (t, target) in self.targets.iter().enumerate() {
            if target.waiting.iter().any(|w| !w.is_empty()) {
                self.active.insert(t);
            }
        }
        self.settle(now);
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
}

mod agents;
mod offers;
mod queues;
mod scan;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
