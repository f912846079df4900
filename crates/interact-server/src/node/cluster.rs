//! Several nodes on one PostgreSQL database and one NATS bus: [`Cluster`], what a node
//! holds of it, and [`run`], its part of the traffic.
//!
//! The database stays the source of truth; the bus carries what is live, and losing a
//! message on it costs time, never data:
//!
//! - **Deliveries** ([`DELIVER`]): a frame for an agent's connections, or for a session's
//!   visitor, wherever they are connected. Every node hears every delivery and passes it
//!   to the connections it holds. A lost one is harmless: clients fetch gaps by `seq`.
//! - **One writer per session.** The node that holds a session in memory owns it, with a
//!   lease in the database (`Store::claim_session`) whose epoch fences its appends: once
//!   another node claims the session, a former owner's late write is refused
//!   (`StoreError::Fenced`) and it drops its copy. A visitor's node claims their session
//!   (a visitor reconnecting elsewhere moves it there, and the new owner rebuilds it from
//!   the database). What other nodes need done in a session (an agent's frames, a queue
//!   position, an offer, an acceptance) goes to its owner ([`ToOwner`], a request on
//!   `interact.node.<id>`); when the owner does not answer, the asking node claims the
//!   session and does it itself.
//! - **One router.** The node that holds a PostgreSQL advisory lock leads: it runs the
//!   distributor, fed by every node ([`RouterInput`]: which agents each node holds and
//!   their presence, every [`HEARTBEAT`] and on every change; tasks as they change), and
//!   rebuilt from the database when it takes over. The lock goes with the leader's
//!   database connection, so a node killed with `kill -9` leaves it to the next within
//!   about a heartbeat. Followers learn who can take chats from the leader's
//!   [`Availability`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use interact_model::TargetRef;
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::protocol::{AgentInfo, ClientFrame, Presence};
use interact_sdk::time::UnixMillis;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::node::state::AppState;

// Subjects, under the cluster's own prefix (`interact.<cluster>.`), so that several
// clusters can share one NATS server.

/// Frames for connections on any node ([`Deliver`]).
pub const DELIVER: &str = "deliver";
/// What the router leader is fed ([`RouterInput`]).
pub const ROUTER: &str = "router";
/// An agent accepts a session: a request to the router leader ([`AcceptRequest`]).
pub const ACCEPT: &str = "router.accept";
/// A node claimed a session ([`Claimed`]): former owners drop their copies.
pub const CLAIMED: &str = "claimed";
/// Who can take chats, from the router leader ([`Availability`]).
pub const AVAILABILITY: &str = "availability";
/// A chat was started from an address ([`Started`]): every node counts it against
/// `sessions_per_minute_per_ip`.
pub const STARTS: &str = "starts";

/// How often a node tells the leader which agents it holds, and the leader tells every
/// node who can take chats.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A node not heard of for this long is gone: its agents are signed out (unless another
/// node holds them too).
pub const NODE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a session's owner waits for the leader to answer a request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a node waits for a session's owner to answer (longer than the owner may
/// wait for the leader on its behalf).
pub const OWNER_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages waiting to go out on the bus before more are dropped (and counted as lost:
/// harmless, see the module's documentation).
const OUTBOX: usize = 65_536;

/// The subject of requests to node `node`.
fn node_subject(node: &str) -> String {
    format!("node.{node}")
}

/// The name of the cluster of the nodes on `database` when `[cluster] name` does not
/// give one: a hash of the database's URL (nodes of one cluster name it alike).
pub fn default_name(database: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(database.as_bytes())[..6])
}

/// A frame for connections on whichever node holds them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deliver {
    /// The node that sent it (which delivered it to its own connections already).
    pub from: String,
    /// To whom, and what.
    pub to: To,
}

/// The addressee and content of a [`Deliver`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum To {
    /// An encoded frame for every connection of an agent.
    Agent {
        /// The agent.
        user: String,
        /// The frame.
        text: String,
    },
    /// An encoded frame for the visitor of a session.
    Visitor {
        /// The session.
        session: SessionId,
        /// The frame.
        text: String,
    },
    /// A replay of a session to every connection of an agent.
    AgentReplay {
        /// The agent.
        user: String,
        /// The session.
        session: SessionId,
        /// From after this event.
        after: Seq,
    },
}

/// What the router leader is fed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RouterInput {
    /// The agents signed in on `node`, with their presence: all of them, every
    /// [`HEARTBEAT`] and whenever one signs in, out, or changes presence.
    Agents {
        /// The node.
        node: String,
        /// Its agents.
        agents: AgentsReport,
    },
    /// An agent opened a connection: the offers open to them are sent again, so that
    /// the new connection has them too (one that was cut may have taken an `accept`
    /// with it).
    Reconnected {
        /// The agent.
        user: String,
    },
    /// A session to route.
    Add {
        /// The session.
        session: SessionId,
        /// Its target.
        target: TargetRef,
        /// Its agent, if one took it.
        agent: Option<String>,
        /// Whether its agent is in a call in it.
        call: bool,
        /// Whether it waits in the queue now (else its workflow enqueues it later).
        queue: bool,
        /// When it was created (its place in the queue).
        created: UnixMillis,
    },
    /// The session ended.
    Remove {
        /// The session.
        session: SessionId,
    },
    /// The session joins the queue (a workflow's Queue Task).
    Enqueue {
        /// The session.
        session: SessionId,
        /// Its priority.
        priority: u8,
        /// Its time in the queue starts then.
        at: UnixMillis,
    },
    /// A queued session's priority changes.
    SetPriority {
        /// The session.
        session: SessionId,
        /// Its priority.
        priority: u8,
    },
    /// The session leaves the queue (Cancel Task).
    Dequeue {
        /// The session.
        session: SessionId,
    },
    /// The session waits for another target (Transfer).
    Retarget {
        /// The session.
        session: SessionId,
        /// The new target.
        target: TargetRef,
    },
    /// A call was accepted in the session.
    CallStarted {
        /// The session.
        session: SessionId,
        /// When.
        at: UnixMillis,
    },
    /// The call in the session ended.
    CallEnded {
        /// The session.
        session: SessionId,
        /// When.
        at: UnixMillis,
    },
    /// An agent declined the session's offer.
    Decline {
        /// The session.
        session: SessionId,
        /// The agent.
        agent: String,
    },
    /// A session its agent accepted goes back to the queue (its `agent_joined` could not
    /// be stored).
    Requeue {
        /// The session.
        session: SessionId,
    },
}

/// An agent accepts a session: asked of the router leader by the session's owner.
#[derive(Debug, Serialize, Deserialize)]
pub struct AcceptRequest {
    /// The session.
    pub session: SessionId,
    /// The agent.
    pub agent: String,
}

/// A node let a chat start from `ip`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Started {
    /// The node (which counted it already).
    pub node: String,
    /// The client's address.
    pub ip: Option<std::net::IpAddr>,
}

/// A node claimed a session.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claimed {
    /// The session.
    pub session: SessionId,
    /// The node.
    pub node: String,
    /// The lease's new epoch.
    pub epoch: u64,
}

/// Who can take chats, per target, from the router leader.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Availability {
    /// The leader.
    pub leader: String,
    /// Per target: whether a chat would reach someone, and the agents who could take one
    /// now and those signed in who cannot.
    pub targets: Vec<(TargetRef, bool, u32, u32)>,
}

/// Work in a session, for its owner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ToOwner {
    /// A session frame of the session's agent, connected to another node.
    Frame {
        /// The session.
        session: SessionId,
        /// The agent.
        agent: AgentInfo,
        /// The frame.
        frame: ClientFrame,
    },
    /// The session's queue position changed.
    Position {
        /// The session.
        session: SessionId,
        /// The position.
        position: u32,
    },
    /// Offer the session to an agent.
    Offer {
        /// The session.
        session: SessionId,
        /// The agent.
        agent: String,
        /// When the offer lapses.
        expires_at: UnixMillis,
        /// Sent before already (the agent opened a connection since): the workflow and
        /// the report heard of it then.
        #[serde(default)]
        again: bool,
    },
    /// An offer of the session lapsed or was declined (its workflow hears of it).
    OfferLapsed {
        /// The session.
        session: SessionId,
    },
    /// An agent accepts the session.
    Accept {
        /// The session.
        session: SessionId,
        /// The agent.
        agent: AgentInfo,
    },
}

impl ToOwner {
    /// The session the work is in.
    pub fn session(&self) -> &SessionId {
        match self {
            Self::Frame { session, .. }
            | Self::Position { session, .. }
            | Self::Offer { session, .. }
            | Self::OfferLapsed { session }
            | Self::Accept { session, .. } => session,
        }
    }
}

/// A node's answer to [`ToOwner`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum OwnerReply {
    /// This node does not hold the session (any more): claim it.
    NotOwner,
    /// Done; these encoded frames are for the connection the work came from.
    Done {
        /// The frames.
        frames: Vec<String>,
    },
}

/// What the leader last heard from a node.
#[derive(Debug)]
struct Report {
    at: Instant,
    agents: AgentsReport,
}

/// The agents signed in on a node, each with their presence if the node knows it (one
/// who just opened a connection there has not said: the router keeps what it knew).
pub type AgentsReport = BTreeMap<String, Option<Presence>>;

/// This node as one of several: its id, the bus, and what it knows of the others.
#[derive(Debug)]
pub struct Cluster {
    /// This node's id, new at every start.
    pub node: String,
    /// `interact.<cluster name>`: what every subject of the cluster starts with.
    prefix: String,
    client: async_nats::Client,
    out: mpsc::Sender<(String, Vec<u8>)>,
    leading: AtomicBool,
    /// From the leader's last [`Availability`].
    availability: RwLock<HashMap<TargetRef, (bool, u32, u32)>>,
    /// What each node last said of its agents (kept by every node, so that a new leader
    /// has it at once).
    reports: Mutex<HashMap<String, Report>>,
    /// Messages dropped because the outbox was full.
    dropped: std::sync::atomic::AtomicU64,
    /// The subscriptions [`run`] reads, made by [`Cluster::subscribe`] before the node
    /// serves anything (so that it misses nothing sent once it is up).
    subscriptions: Mutex<Option<Subscriptions>>,
}

/// What a node of the cluster listens to.
#[derive(Debug)]
struct Subscriptions {
    deliveries: async_nats::Subscriber,
    inputs: async_nats::Subscriber,
    accepts: async_nats::Subscriber,
    claims: async_nats::Subscriber,
    availabilities: async_nats::Subscriber,
    work: async_nats::Subscriber,
    starts: async_nats::Subscriber,
}

impl Cluster {
    /// A node on the bus of `client`, and the task that sends what it publishes, in
    /// order.
    pub fn new(client: async_nats::Client, name: &str) -> std::sync::Arc<Self> {
        let (out, mut rx) = mpsc::channel::<(String, Vec<u8>)>(OUTBOX);
        let node = format!("n{}", hex::encode(&crate::auth::random_128()[..6]));
        let sender = client.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = rx.recv().await {
                if let Err(e) = sender.publish(subject, payload.into()).await {
                    tracing::warn!(error = %e, "a bus message was lost");
                }
            }
        });
        std::sync::Arc::new(Self {
            node,
            prefix: format!("interact.{name}"),
            client,
            out,
            leading: AtomicBool::new(false),
            availability: RwLock::new(HashMap::new()),
            reports: Mutex::new(HashMap::new()),
            dropped: std::sync::atomic::AtomicU64::new(0),
            subscriptions: Mutex::new(None),
        })
    }

    /// Subscribes to what a node listens to; before the node serves anything.
    pub async fn subscribe(&self) -> Result<(), async_nats::SubscribeError> {
        let subscribe = |subject: &str| self.client.subscribe(self.subject(subject));
        let subs = Subscriptions {
            deliveries: subscribe(DELIVER).await?,
            inputs: subscribe(ROUTER).await?,
            accepts: subscribe(ACCEPT).await?,
            claims: subscribe(CLAIMED).await?,
            availabilities: subscribe(AVAILABILITY).await?,
            work: subscribe(&node_subject(&self.node)).await?,
            starts: subscribe(STARTS).await?,
        };
        // The server has them once it answers a round trip.
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "the bus did not confirm the subscriptions");
        }
        *self.subscriptions.lock().unwrap_or_else(|p| p.into_inner()) = Some(subs);
        Ok(())
    }

    /// Publishes `msg` on `subject`, in order with this node's other messages. Never
    /// waits: a full outbox drops the message (the database has what matters).
    pub fn publish<T: Serialize>(&self, subject: &str, msg: &T) {
        let payload = match serde_json::to_vec(msg) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a bus message");
                return;
            }
        };
        if self.out.try_send((self.subject(subject), payload)).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(
                    dropped = n + 1,
                    "the bus's outbox is full: messages dropped (the database has what matters)"
                );
            }
        }
    }

    /// `subject` under the cluster's prefix.
    fn subject(&self, subject: &str) -> String {
        format!("{}.{subject}", self.prefix)
    }

    /// Whether this node leads routing now.
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// What the leader last said of `target`: (open, available, busy); `None` before
    /// this node has heard from a leader.
    pub fn availability(&self, target: &TargetRef) -> Option<(bool, u32, u32)> {
        self.availability
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(target)
            .copied()
    }

    /// The nodes heard of within [`NODE_TIMEOUT`] (this one included once it has been
    /// heard).
    pub fn live_nodes(&self) -> Vec<String> {
        let now = Instant::now();
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, r)| now.duration_since(r.at) < NODE_TIMEOUT)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Asks `node` to do `work` in a session it owns; `None` if it does not answer in
    /// time (it is gone, or there is no such node).
    pub async fn ask_owner(&self, node: &str, work: &ToOwner) -> Option<OwnerReply> {
        let payload = serde_json::to_vec(work).ok()?;
        let asked = self
            .client
            .request(self.subject(&node_subject(node)), payload.into());
        match tokio::time::timeout(OWNER_TIMEOUT, asked).await {
            Ok(Ok(msg)) => serde_json::from_slice(&msg.payload).ok(),
            Ok(Err(e)) => {
                tracing::debug!(%node, error = %e, "a session's owner did not answer");
                None
            }
            Err(_) => None,
        }
    }

    /// Asks the leader to let `agent` take `session`.
    pub async fn ask_accept(&self, session: &SessionId, agent: &str) -> Result<(), String> {
        let request = AcceptRequest {
            session: session.clone(),
            agent: agent.to_owned(),
        };
        let payload = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        let asked = self.client.request(self.subject(ACCEPT), payload.into());
        match tokio::time::timeout(REQUEST_TIMEOUT, asked).await {
            Ok(Ok(msg)) => serde_json::from_slice::<Result<(), String>>(&msg.payload)
                .unwrap_or_else(|e| Err(e.to_string())),
            _ => Err("routing is not available right now; try again".into()),
        }
    }

    /// Keeps what `node` said of its agents; returns what it said before.
    fn report(&self, node: String, agents: AgentsReport) -> Option<AgentsReport> {
        let mut reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        reports
            .insert(
                node,
                Report {
                    at: Instant::now(),
                    agents,
                },
            )
            .map(|r| r.agents)
    }

    /// Whether `user` is signed in on any node heard of lately.
    fn signed_in_anywhere(&self, user: &str) -> bool {
        let now = Instant::now();
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|r| now.duration_since(r.at) < NODE_TIMEOUT && r.agents.contains_key(user))
    }

    /// Forgets the nodes not heard of within [`NODE_TIMEOUT`]; the agents they held.
    fn expire_reports(&self) -> Vec<String> {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|node, r| {
                let live = now.duration_since(r.at) < NODE_TIMEOUT;
                if !live {
                    tracing::info!(%node, "a node went silent");
                    gone.extend(r.agents.keys().cloned());
                }
                live
            });
        gone
    }

    /// Every agent of every node heard of lately, with the presence last reported where
    /// one was.
    fn all_agents(&self) -> AgentsReport {
        let now = Instant::now();
        let mut all = BTreeMap::new();
        for r in self
            .reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|r| now.duration_since(r.at) < NODE_TIMEOUT)
        {
            for (user, presence) in &r.agents {
                let known = all.entry(user.clone()).or_insert(None);
                if presence.is_some() {
                    *known = *presence;
                }
            }
        }
        all
    }
}

/// The leader applies what a node said of its agents: sign-ins, sign-outs, and presence
/// that changed since that node's last report.
fn apply_agents(state: &AppState, c: &Cluster, node: String, agents: AgentsReport) {
    let before = c.report(node, agents.clone()).unwrap_or_default();
    if !c.is_leading() {
        return;
    }
    tracing::debug!(?before, ?agents, "a node's agents");
    let now = state.now();
    for (user, presence) in &agents {
        if !before.contains_key(user) {
            state.hub.route_signed_in(user, true, now);
        }
        if let Some(p) = presence
            && before.get(user) != Some(&Some(*p))
        {
            state.hub.route_presence(user, *p, now);
        }
    }
    for user in before.keys().filter(|u| !agents.contains_key(*u)) {
        left_node(state, c, user, now);
    }
    // Who can take chats may have changed: every node hears it now, not at the next
    // heartbeat.
    c.publish(AVAILABILITY, &availability(state, c));
}

/// The leader hears that `user` has no connection left on a node (it said so, or went
/// silent): the offers made to them there go back to the queue, to be offered again to
/// their connections elsewhere if they have any (else they are signed out).
fn left_node(state: &AppState, c: &Cluster, user: &str, now: UnixMillis) {
    state.hub.route_signed_in(user, false, now);
    if c.signed_in_anywhere(user) {
        state.hub.route_signed_in(user, true, now);
        if let Some(Some(presence)) = c.all_agents().get(user) {
            state.hub.route_presence(user, *presence, now);
        }
    }
}

/// The leader applies a routing input from a node.
fn apply_input(state: &AppState, c: &Cluster, input: RouterInput) {
    if let RouterInput::Agents { node, agents } = input {
        apply_agents(state, c, node, agents);
        return;
    }
    if !c.is_leading() {
        return;
    }
    let hub = &state.hub;
    match input {
        RouterInput::Agents { .. } => {}
        RouterInput::Reconnected { user } => {
            for (session, expires_at) in state.hub.offers_to(&user) {
                let work = ToOwner::Offer {
                    session,
                    agent: user.clone(),
                    expires_at,
                    again: true,
                };
                let state = state.clone();
                tokio::spawn(async move {
                    crate::node::session::at_owner(&state, work).await;
                });
            }
        }
        RouterInput::Add {
            session,
            target,
            agent,
            call,
            queue,
            created,
        } => hub.route_session(session, &target, agent.as_deref(), call, queue, created),
        RouterInput::Remove { session } => hub.session_ended(&session),
        RouterInput::Enqueue {
            session,
            priority,
            at,
        } => hub.enqueue(&session, priority, at),
        RouterInput::SetPriority { session, priority } => hub.set_priority(&session, priority),
        RouterInput::Dequeue { session } => hub.dequeue(&session),
        RouterInput::Retarget { session, target } => hub.retarget(&session, target),
        RouterInput::CallStarted { session, at } => hub.call_started(&session, at),
        RouterInput::CallEnded { session, at } => hub.call_ended(&session, at),
        RouterInput::Decline { session, agent } => {
            if hub.decline(&session, &agent) {
                let state = state.clone();
                tokio::spawn(async move {
                    crate::node::session::at_owner(&state, ToOwner::OfferLapsed { session }).await;
                });
            }
        }
        RouterInput::Requeue { session } => hub.requeue(&session, state.now()),
    }
}

/// The leader takes over: a fresh distributor, rebuilt from the database's open
/// sessions and the agents every node reported.
async fn lead(state: &AppState, c: &Cluster) {
    state.hub.reset_routing();
    c.leading.store(true, Ordering::Release);
    let open = match state.store.open_sessions().await {
        Ok(open) => open,
        Err(e) => {
            tracing::error!(error = %e, "the new router leader cannot read the open sessions");
            Vec::new()
        }
    };
    let n = open.len();
    for record in &open {
        route_record(state, record);
    }
    let now = state.now();
    for (user, presence) in c.all_agents() {
        state.hub.route_signed_in(&user, true, now);
        if let Some(presence) = presence {
            state.hub.route_presence(&user, presence, now);
        }
    }
    tracing::info!(node = %c.node, sessions = n, "this node leads routing now");
    crate::node::session::dispatch(state).await;
}

/// Routes a stored open session here (the router): with its agent, or waiting in the
/// queue since it was created.
fn route_record(state: &AppState, record: &interact_store::SessionRecord) {
    let agent = record.agent_id.as_ref().map(|a| a.as_str());
    state.hub.route_session(
        record.id.clone(),
        &record.target,
        agent,
        false,
        true,
        record.created_at,
    );
}

/// Stops leading (the lock was lost): routing state is dropped, the next leader
/// rebuilds it.
fn step_down(state: &AppState, c: &Cluster) {
    c.leading.store(false, Ordering::Release);
    state.hub.reset_routing();
    tracing::warn!(node = %c.node, "this node no longer leads routing");
}

/// What the leader tells every node of who can take chats.
fn availability(state: &AppState, c: &Cluster) -> Availability {
    let targets = state
        .tenant()
        .services
        .keys()
        .map(|s| TargetRef::Service(s.clone()))
        .chain(
            state
                .tenant()
                .users
                .keys()
                .map(|u| TargetRef::User(u.clone())),
        )
        .map(|t| {
            let open = state.hub.is_open_here(&t);
            let (available, busy) = state.hub.counts_here(&t);
            (t, open, available, busy)
        })
        .collect();
    Availability {
        leader: c.node.clone(),
        targets,
    }
}

/// A node's part of the cluster, for as long as it runs: deliveries to its connections,
/// work for the sessions it owns, its agents' reports, and, while it holds the lock,
/// routing for everyone.
pub async fn run(
    state: AppState,
    c: std::sync::Arc<Cluster>,
    mut lock: Option<Box<dyn Leadership>>,
) {
    let taken = c
        .subscriptions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let subs = match taken {
        Some(subs) => subs,
        None => {
            if let Err(e) = c.subscribe().await {
                tracing::error!(error = %e, "cannot subscribe to the bus: this node works alone");
                return;
            }
            let again = c
                .subscriptions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let Some(subs) = again else { return };
            subs
        }
    };
    let Subscriptions {
        mut deliveries,
        mut inputs,
        mut accepts,
        mut claims,
        mut availabilities,
        mut work,
        mut starts,
    } = subs;
    let mut beat = tokio::time::interval(HEARTBEAT);
    let mut last_sweep = Instant::now();
    let mut offers_before = HashSet::new();
    loop {
        tokio::select! {
            Some(msg) = deliveries.next() => {
                if let Ok(d) = serde_json::from_slice::<Deliver>(&msg.payload)
                    && d.from != c.node
                {
                    state.hub.deliver_here(d.to);
                }
            }
            Some(msg) = inputs.next() => {
                if let Ok(input) = serde_json::from_slice::<RouterInput>(&msg.payload) {
                    apply_input(&state, &c, input);
                    if c.is_leading() {
                        let state = state.clone();
                        tokio::spawn(async move { crate::node::session::dispatch(&state).await });
                    }
                }
            }
            Some(msg) = accepts.next() => {
                if !c.is_leading() {
                    continue;
                }
                let (Some(reply), Ok(req)) =
                    (msg.reply, serde_json::from_slice::<AcceptRequest>(&msg.payload))
                else {
                    continue;
                };
                let answer = state
                    .hub
                    .accept(&req.session, &req.agent, state.now())
                    .map_err(|e| e.to_string());
                if let Ok(payload) = serde_json::to_vec(&answer) {
                    let _ = c.client.publish(reply, payload.into()).await;
                }
                let state = state.clone();
                tokio::spawn(async move { crate::node::session::dispatch(&state).await });
            }
            Some(msg) = starts.next() => {
                if let Ok(s) = serde_json::from_slice::<Started>(&msg.payload)
                    && s.node != c.node
                {
                    state.hub.count_start(s.ip);
                }
            }
            Some(msg) = claims.next() => {
                if let Ok(claim) = serde_json::from_slice::<Claimed>(&msg.payload)
                    && claim.node != c.node
                {
                    state.hub.forget_before(&claim.session, claim.epoch);
                }
            }
            Some(msg) = availabilities.next() => {
                if let Ok(a) = serde_json::from_slice::<Availability>(&msg.payload)
                    && a.leader != c.node
                {
                    let map = a.targets.into_iter().map(|(t, o, av, b)| (t, (o, av, b))).collect();
                    *c.availability.write().unwrap_or_else(|p| p.into_inner()) = map;
                }
            }
            Some(msg) = work.next() => {
                let state = state.clone();
                let c = c.clone();
                tokio::spawn(async move {
                    let Some(reply) = msg.reply else { return };
                    let answer = match serde_json::from_slice::<ToOwner>(&msg.payload) {
                        Ok(w) if state.hub.session(w.session()).is_some() => OwnerReply::Done {
                            frames: crate::node::session::owner_work(&state, w).await,
                        },
                        _ => OwnerReply::NotOwner,
                    };
                    if let Ok(payload) = serde_json::to_vec(&answer) {
                        let _ = c.client.publish(reply, payload.into()).await;
                    }
                });
            }
            _ = beat.tick() => {
                heartbeat(&state, &c, &mut lock).await;
                if c.is_leading() && last_sweep.elapsed() >= SWEEP_ORPHANS {
                    last_sweep = Instant::now();
                    adopt_orphans(&state, &c).await;
                    offer_again(&state, &mut offers_before);
                }
            }
        }
    }
}

/// How often the leader reads the open sessions: to route those it never heard of (a
/// lost message, a node killed before it told), and to adopt those with a workflow run
/// whose owner is gone.
const SWEEP_ORPHANS: Duration = Duration::from_secs(2);

/// A session this young may be on its way to the router still: the sweep leaves it.
const ROUTE_WITHIN_MS: u64 = 2_000;

/// Every [`HEARTBEAT`]: this node's agents to the leader; the leader's lock checked (or
/// taken), silent nodes' agents signed out, and who can take chats told to every node.
async fn heartbeat(state: &AppState, c: &Cluster, lock: &mut Option<Box<dyn Leadership>>) {
    c.publish(
        ROUTER,
        &RouterInput::Agents {
            node: c.node.clone(),
            agents: state.hub.local_agents(),
        },
    );
    if let Some(lock) = lock.as_mut() {
        let held = lock.hold().await;
        match (held, c.is_leading()) {
            (true, false) => lead(state, c).await,
            (false, true) => step_down(state, c),
            _ => {}
        }
    }
    let gone = c.expire_reports();
    if c.is_leading() {
        let now = state.now();
        for user in gone {
            left_node(state, c, &user, now);
        }
        let a = availability(state, c);
        c.publish(AVAILABILITY, &a);
        crate::node::session::dispatch(state).await;
    }
}

/// The leader routes the open sessions it never heard of, and takes the sessions whose
/// workflow run waits on a node that is gone (a timer, a queue position to announce): it
/// claims each, which resumes its run here.
async fn adopt_orphans(state: &AppState, c: &Cluster) {
    let live = c.live_nodes();
    let Ok(open) = state.store.open_sessions().await else {
        return;
    };
    let now = state.now();
    for record in &open {
        if !state.hub.is_routed(&record.id)
            && now.0.saturating_sub(record.created_at.0) > ROUTE_WITHIN_MS
        {
            tracing::info!(session = %record.id, "routing a session the router had not heard of");
            route_record(state, record);
        }
    }
    for record in open {
        if record.agent_id.is_some() || state.hub.session(&record.id).is_some() {
            continue;
        }
        let owner = match state.store.session_owner(&record.id).await {
            Ok(Some((node, _))) => node,
            Ok(None) => continue,
            Err(_) => return,
        };
        if owner == c.node || live.contains(&owner) {
            continue;
        }
        if let Ok(Some(_)) = state.store.workflow_run(&record.id).await {
            tracing::info!(session = %record.id, %owner, "adopting a session whose owner is gone");
            let _ = crate::node::session::get(state, &record.id).await;
        }
    }
}

/// The leader sends again every offer that was open at its last sweep too: an offer's
/// frame may have been lost on the bus, and the agent, who never saw it, would leave the
/// chat waiting until the offer lapsed. The agent's client takes a repeat as the offer it
/// has. `before` holds the offers open at the last sweep.
fn offer_again(state: &AppState, before: &mut HashSet<(SessionId, String)>) {
    let open = state.hub.open_offers();
    let mut now_open = HashSet::with_capacity(open.len());
    for (session, agent, expires_at) in open {
        let key = (session, agent);
        if before.contains(&key) {
            let work = ToOwner::Offer {
                session: key.0.clone(),
                agent: key.1.clone(),
                expires_at,
                again: true,
            };
            let state = state.clone();
            tokio::spawn(async move {
                crate::node::session::at_owner(&state, work).await;
            });
        }
        now_open.insert(key);
    }
    *before = now_open;
}

/// The router's lock: held by one node at a time.
#[async_trait::async_trait]
pub trait Leadership: Send + std::fmt::Debug {
    /// Takes the lock if it is free, or checks that it is still held; whether this node
    /// holds it now.
    async fn hold(&mut self) -> bool;
}

/// The PostgreSQL advisory lock as the router's lock.
#[async_trait::async_trait]
impl Leadership for interact_store_postgres::lock::AdvisoryLock {
    async fn hold(&mut self) -> bool {
        interact_store_postgres::lock::AdvisoryLock::hold(self).await
    }
}

/// The key of the router's advisory lock.
pub const ROUTER_LOCK: i64 = 0x696e_7465_7261_6374; // "interact"
