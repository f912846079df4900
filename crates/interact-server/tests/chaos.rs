//! Chaos: many chats at once between the SDK's own visitor and agent machines, through a
//! proxy that cuts connections at random, while the server process is killed (SIGKILL)
//! and started again several times, once within moments of every visitor's `start_chat`.
//! At the end nothing is lost, duplicated or reordered, on the wire or in the database,
//! and every visitor has exactly one session. The same with three nodes of a cluster
//! (PostgreSQL and NATS) killed and started again on a seeded random schedule, and with
//! a cluster whose bus loses a quarter of the session events it carries.
//!
//! `INTERACT_CHAOS_VISITORS`, `INTERACT_CHAOS_MESSAGES` and `INTERACT_CHAOS_KILLS` make a
//! longer run (the defaults keep the test command short).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{Party, SessionEvent};
use interact_sdk::time::Instant;
use interact_sdk::{
    Agent, AgentOptions, Error, Event, Input, Output, Visitor, VisitorOptions, VisitorState,
};
use interact_testkit::{
    ALLOWED, DEMO_CODE, ServerProcess, agent_token, process_config, write_config,
};
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The server binary under test.
const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// A TCP proxy that cuts connections.

/// Forwards connections on its own port to one of its upstreams (the next that takes
/// the connection, in turn: a node that is down is skipped) and cuts open ones (both
/// sides, at once) when asked. Counts the cuts.
struct Proxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    cuts: AtomicU64,
}

impl Proxy {
    async fn start(upstreams: Vec<SocketAddr>) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = Arc::new(Self {
            addr: listener.local_addr().expect("addr"),
            conns: Arc::default(),
            cuts: AtomicU64::new(0),
        });
        let p = proxy.clone();
        let upstreams = Arc::new(upstreams);
        let turn = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstreams, turn) = (upstreams.clone(), turn.clone());
                let task = tokio::spawn(async move {
                    let first = turn.fetch_add(1, Ordering::Relaxed) as usize;
                    for i in 0..upstreams.len() {
                        let upstream = upstreams[(first + i) % upstreams.len()];
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
                let mut conns = p.conns.lock().expect("lock");
                conns.retain(|c| !c.is_finished());
                conns.push(task.abort_handle());
            }
        });
        proxy
    }

    /// Cuts one open connection at random.
    fn cut_one(&self, rng: &mut impl Rng) {
        let mut conns = self.conns.lock().expect("lock");
        conns.retain(|c| !c.is_finished());
        if !conns.is_empty() {
            let i = rng.random_range(0..conns.len());
            conns.swap_remove(i).abort();
            self.cuts.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------
// A NATS proxy that loses messages.

/// Forwards NATS client connections to the NATS server at `upstream`, and drops some of
/// the messages the server sends the clients: a `MSG` (or `HMSG`) whose subject ends
/// with `suffix`, with a chance of `per_mille`/1000 (seeded). Everything else passes
/// unchanged. Counts what it dropped and let through.
struct LossyBus {
    addr: SocketAddr,
    dropped: Arc<AtomicU64>,
    passed: Arc<AtomicU64>,
}

impl LossyBus {
    async fn start(upstream: SocketAddr, suffix: &'static str, per_mille: u32, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (dropped, passed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (d, p) = (dropped.clone(), passed.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while let Ok((client, _)) = listener.accept().await {
                n += 1;
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(n));
                let (d, p) = (d.clone(), p.clone());
                tokio::spawn(async move {
                    let (mut client_rx, client_tx) = client.into_split();
                    let (server_rx, mut server_tx) = server.into_split();
                    let up = tokio::io::copy(&mut client_rx, &mut server_tx);
                    let down = lossy_copy(server_rx, client_tx, suffix, per_mille, rng, d, p);
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        Self {
            addr,
            dropped,
            passed,
        }
    }
}

/// Copies the NATS server's protocol to the client op by op, leaving out some messages
/// (see [`LossyBus`]).
async fn lossy_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    suffix: &str,
    per_mille: u32,
    mut rng: rand::rngs::StdRng,
    dropped: Arc<AtomicU64>,
    passed: Arc<AtomicU64>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        let mut at = 0;
        // Whole ops only; a partial one waits for more bytes.
        while let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") {
            let line = &buf[at..at + eol];
            let words: Vec<&[u8]> = line
                .split(|b| *b == b' ')
                .filter(|w| !w.is_empty())
                .collect();
            let payload = match words.first().map(|w| w.to_ascii_uppercase()) {
                Some(op) if op == b"MSG" || op == b"HMSG" => {
                    std::str::from_utf8(words[words.len() - 1])
                        .ok()
                        .and_then(|n| n.parse::<usize>().ok())
                        .map(|n| n + 2)
                }
                _ => None,
            };
            let end = at + eol + 2 + payload.unwrap_or(0);
            if end > buf.len() {
                break;
            }
            let lose = payload.is_some()
                && words.get(1).is_some_and(|s| s.ends_with(suffix.as_bytes()))
                && rng.random_range(0..1000) < per_mille;
            if lose {
                dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                if payload.is_some() {
                    passed.fetch_add(1, Ordering::Relaxed);
                }
                out.extend_from_slice(&buf[at..end]);
            }
            at = end;
        }
        buf.drain(..at);
        to.write_all(&out).await?;
    }
}

// ---------------------------------------------------------------------------------------
// Driving an SDK machine over a real WebSocket.

/// What the driver needs of a visitor or agent machine.
trait Machine {
    fn poll_output(&mut self) -> Output;
    fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), Error>;
    fn handle_timeout(&mut self, now: Instant);
}

impl Machine for Visitor {
    fn poll_output(&mut self) -> Output {
        Visitor::poll_output(self)
    }
    fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), Error> {
        Visitor::handle_input(self, now, input)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Visitor::handle_timeout(self, now)
    }
}

impl Machine for Agent {
    fn poll_output(&mut self) -> Output {
        Agent::poll_output(self)
    }
    fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), Error> {
        Agent::handle_input(self, now, input)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Agent::handle_timeout(self, now)
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Milliseconds since the test began: the machines' clock.
fn clock(origin: std::time::Instant) -> Instant {
    Instant::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX))
}

async fn connect(url: &str, origin: Option<&str>) -> Option<Ws> {
    let mut req = url.into_client_request().ok()?;
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().ok()?);
    }
    tokio::time::timeout(
        Duration::from_secs(3),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .ok()?
    .ok()
    .map(|(ws, _)| ws)
}

/// Runs `m` until `script` says it is done: carries out its outputs on a WebSocket to
/// `url`, feeds it what arrives and its timers, and calls `script` with every event and
/// every 20 ms (for timed actions).
async fn drive<M: Machine>(
    m: &mut M,
    url: &str,
    origin: Option<&str>,
    started: std::time::Instant,
    mut script: impl FnMut(&mut M, Instant, Option<Event>) -> bool,
) {
    let mut ws: Option<Ws> = None;
    loop {
        let deadline = loop {
            match m.poll_output() {
                Output::Connect => {
                    ws = connect(url, origin).await;
                    let input = if ws.is_some() {
                        Input::Connected
                    } else {
                        Input::Disconnected(None)
                    };
                    let _ = m.handle_input(clock(started), input);
                }
                Output::Transmit(text) => {
                    if let Some(w) = &mut ws
                        && w.send(Message::Text(text.into())).await.is_err()
                    {
                        ws = None;
                        let _ = m.handle_input(clock(started), Input::Disconnected(None));
                    }
                }
                Output::Close(code) => {
                    if let Some(mut w) = ws.take() {
                        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                            code: code.code().into(),
                            reason: "".into(),
                        };
                        let _ = w.close(Some(frame)).await;
                    }
                }
                Output::Event(e) => {
                    if script(m, clock(started), Some(e)) {
                        return;
                    }
                }
                Output::Timeout(at) => break at,
            }
        };
        if script(m, clock(started), None) {
            return;
        }
        let wait = Duration::from_millis(
            deadline
                .as_millis()
                .saturating_sub(clock(started).as_millis()),
        )
        .min(Duration::from_millis(20));
        let next = async {
            match &mut ws {
                Some(w) => w.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = next => match msg {
                Some(Ok(Message::Text(t))) => {
                    let _ = m.handle_input(clock(started), Input::Received(t.as_str()));
                }
                Some(Ok(Message::Close(frame))) => {
                    ws = None;
                    let code = frame.map(|f| u16::from(f.code));
                    let _ = m.handle_input(clock(started), Input::Disconnected(code));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    ws = None;
                    let _ = m.handle_input(clock(started), Input::Disconnected(None));
                }
            },
            () = tokio::time::sleep(wait) => m.handle_timeout(clock(started)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The test.

/// Waits until the node at `addr` tells a visitor that the demo code's target can be
/// chatted with now.
async fn until_open(addr: SocketAddr) {
    let since = std::time::Instant::now();
    loop {
        let mut v = interact_testkit::connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
            .await
            .expect("admitted");
        let open = matches!(
            v.hello(None).await,
            interact_sdk::protocol::ServerFrame::Welcome { config: Some(c), .. }
                if c.availability == interact_sdk::config::Availability::Open
        );
        if open {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "node {addr} never said the agent is available"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one visitor saw and did.
#[derive(Debug, Default)]
struct VisitorLog {
    session: Option<SessionId>,
    /// Its own messages, in the order written.
    sent: Vec<MessageId>,
    /// Sequence numbers delivered by the SDK, in delivery order.
    delivered: Vec<u64>,
    /// Its own message ids in the order the timeline delivered them.
    own: Vec<MessageId>,
    /// The agent's message texts in the order the timeline delivered them.
    agent: Vec<String>,
    /// The machine's state and link, last seen (for a failure's report).
    last: String,
}

/// Replies the agent sends in every session it accepts.
const REPLIES: usize = 3;

/// The limits of the chaos runs: nothing in the way of many chats from one address.
const LIMITS: &str = "sessions_per_minute_per_ip = 100000\nframes_per_second = 1000\n\
     messages_per_second_per_session = 1000\nconnections_per_ip = 10000\n\
     max_chats_per_agent = 1000\noffer_timeout_secs = 300\nmissed_offers_before_away = 0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_survive_cuts_and_kills_without_loss_duplicates_or_extra_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &process_config(LIMITS));
    let server = ServerProcess::start(SERVER, &config).await;
    chaos(Chaos {
        servers: vec![server],
        visitors: env_or("INTERACT_CHAOS_VISITORS", 30),
        messages: env_or("INTERACT_CHAOS_MESSAGES", 12),
        kills: env_or("INTERACT_CHAOS_KILLS", 4).max(1),
        cuts: true,
        seed: 99,
    })
    .await;
}

/// The nodes of a cluster test: on one fresh PostgreSQL database and the tests' NATS
/// server.
async fn cluster_nodes(
    n: usize,
    db: &interact_store_postgres::TestDatabase,
    nats: &str,
) -> (Vec<ServerProcess>, Vec<tempfile::TempDir>) {
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = process_config(LIMITS);
        cfg["server"]
            .as_table_mut()
            .expect("[server]")
            .insert("database".into(), db.url.clone().into());
        let mut cluster = toml::Table::new();
        cluster.insert("nats_url".into(), nats.into());
        cfg.insert("cluster".into(), cluster.into());
        let config = write_config(dir.path(), &cfg);
        servers.push(ServerProcess::start(SERVER, &config).await);
        dirs.push(dir);
    }
    (servers, dirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_survive_a_random_schedule_of_node_kills_in_a_cluster() {
    let _one_cluster = CLUSTERS.lock().await;
    let seed = std::env::var("INTERACT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random_range(0..1_000_000u64));
    eprintln!("cluster chaos: seed {seed} (INTERACT_CHAOS_SEED={seed} repeats this run)");
    let db = interact_store_postgres::TestDatabase::create()
        .await
        .expect("a test database");
    let (servers, _dirs) = cluster_nodes(3, &db, &nats_url()).await;
    chaos(Chaos {
        servers,
        visitors: env_or("INTERACT_CLUSTER_CHAOS_VISITORS", 100),
        messages: env_or("INTERACT_CLUSTER_CHAOS_MESSAGES", 5),
        kills: env_or("INTERACT_CLUSTER_CHAOS_KILLS", 4).max(1),
        cuts: true,
        seed,
    })
    .await;
}

/// One cluster of this file at a time: two at once would hold up to 6 nodes' database
/// pools (16 connections each) against PostgreSQL's 100, and share the machine's CPUs.
static CLUSTERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The NATS server of the tests.
fn nats_url() -> String {
    std::env::var("INTERACT_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Three nodes whose bus loses a quarter of the session events it carries (every node
/// hears them through a proxy that drops them at random), and nothing else goes wrong:
/// no cuts, no kills. Agents and visitors sit on different nodes, so their events cross
/// the bus; the clients notice the gaps by `seq` and fetch them, and nothing is lost,
/// duplicated or reordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_lose_nothing_when_the_bus_loses_session_events() {
    let _one_cluster = CLUSTERS.lock().await;
    let db = interact_store_postgres::TestDatabase::create()
        .await
        .expect("a test database");
    let nats = nats_url();
    let upstream = tokio::net::lookup_host(nats.trim_start_matches("nats://"))
        .await
        .expect("the NATS address")
        .next()
        .expect("an address");
    let bus = LossyBus::start(upstream, ".deliver", 250, 11).await;
    let (servers, _dirs) = cluster_nodes(3, &db, &format!("nats://{}", bus.addr)).await;
    chaos(Chaos {
        servers,
        visitors: 20,
        messages: 8,
        kills: 0,
        cuts: false,
        seed: 12,
    })
    .await;
    let (dropped, passed) = (
        bus.dropped.load(Ordering::Relaxed),
        bus.passed.load(Ordering::Relaxed),
    );
    eprintln!("the bus lost {dropped} session events and delivered {passed}");
    assert!(dropped >= 20, "the bus lost only {dropped} session events");
}

/// A chaos run: `visitors` chats of `messages` each with one agent, through a proxy that
/// spreads connections over `servers` and (if `cuts`) cuts them at random, while `kills`
/// times a server picked at random (by `seed`) is killed (SIGKILL) and started again.
struct Chaos {
    servers: Vec<ServerProcess>,
    visitors: usize,
    messages: usize,
    kills: usize,
    cuts: bool,
    seed: u64,
}

async fn chaos(run: Chaos) {
    let Chaos {
        servers,
        visitors,
        messages,
        kills,
        cuts,
        seed,
    } = run;
    // An agent token in the servers' database.
    let token = agent_token(
        servers[0].store().await.as_ref(),
        "alex",
        Duration::from_secs(24 * 3600),
    )
    .await;
    let proxy = Proxy::start(servers.iter().map(|s| s.addr).collect()).await;
    let servers: Vec<Arc<Mutex<Option<ServerProcess>>>> = servers
        .into_iter()
        .map(|s| Arc::new(Mutex::new(Some(s))))
        .collect();
    let started = std::time::Instant::now();
    let go = Arc::new(AtomicBool::new(false));
    let all_done = Arc::new(AtomicBool::new(false));

    // The agent: accepts everything, answers each session REPLIES times. The visitors
    // come once it is available (a widget's configuration says whether anybody is).
    let agent_done = all_done.clone();
    // What the agent saw and did, for a failure's report.
    let offers_seen = Arc::new(AtomicU64::new(0));
    let accepts_sent = Arc::new(AtomicU64::new(0));
    let (seen, sent) = (offers_seen.clone(), accepts_sent.clone());
    let available = Arc::new(AtomicBool::new(false));
    let agent_available = available.clone();
    let agent_url = format!("ws://{}/v1/agent/ws", proxy.addr);
    let agent = tokio::spawn(async move {
        let mut a = Agent::new(
            clock(started),
            AgentOptions {
                seed: 7,
                token,
                client: Some("chaos-agent".into()),
            },
        );
        let mut answered = std::collections::HashSet::new();
        drive(&mut a, &agent_url, None, started, |a, now, e| {
            if let Some(Event::Presence(interact_sdk::protocol::Presence::Available)) = &e {
                agent_available.store(true, Ordering::Relaxed);
            }
            if let Some(Event::Offered(_)) = &e {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(Event::ServerError(err)) = &e {
                eprintln!("agent: the server said {err:?}");
            }
            // Every open offer is taken as soon as the link allows (one that came while
            // the link was down is taken once it is up, as a person would).
            let offered: Vec<SessionId> = a.offers().map(|o| o.session.clone()).collect();
            for session in offered {
                if a.accept(now, &session).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                    // A chat offered again after a node died (and accepted again: the
                    // server answers a repeat accept as the first) is not answered twice,
                    // as a person would not greet the visitor again.
                    if answered.insert(session.clone()) {
                        for n in 0..REPLIES {
                            let _ = a.send_message(now, &session, &format!("reply {n}"));
                        }
                    }
                }
            }
            agent_done.load(Ordering::Relaxed) && !a.has_unsent()
        })
        .await;
    });

    while !available.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every node has heard that the agent is available (in a cluster that takes a moment
    // after the agent's own node knows): the widget's Start is enabled on each. (A
    // widget that was told nobody is available is not told otherwise until it connects
    // again.)
    let addrs: Vec<SocketAddr> = servers
        .iter()
        .filter_map(|s| s.lock().expect("lock").as_ref().map(|s| s.addr))
        .collect();
    for addr in addrs {
        until_open(addr).await;
    }
    // The visitors: start together (the first kill lands among their starts), then write
    // at random moments.
    let url = format!("ws://{}/v1/ws?code={DEMO_CODE}", proxy.addr);
    let mut tasks = Vec::new();
    let logs: Vec<Arc<Mutex<VisitorLog>>> = (0..visitors).map(|_| Arc::default()).collect();
    for (v, log) in logs.iter().enumerate() {
        let url = url.clone();
        let go = go.clone();
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(
                seed.wrapping_mul(1_000_003).wrapping_add(v as u64),
            );
            let mut visitor = Visitor::new(
                clock(started),
                VisitorOptions {
                    seed: 1000 + v as u64,
                    resume: None,
                    client: Some("chaos-visitor".into()),
                },
            );
            let mut started_chat = false;
            let mut next_at = 0u64;
            let l = log.clone();
            drive(
                &mut visitor,
                &url,
                Some(ALLOWED),
                started,
                move |m, now, e| {
                    let mut log = l.lock().expect("lock");
                    log.last = format!("{:?} {:?} unsent={}", m.state(), m.link(), m.has_unsent());
                    match e {
                        Some(Event::Timeline(f)) => {
                            log.delivered.push(f.seq.0);
                            match f.event {
                                SessionEvent::Message {
                                    id,
                                    from: Party::Visitor,
                                    ..
                                } => log.own.push(id),
                                SessionEvent::Message {
                                    from: Party::Agent,
                                    text,
                                    ..
                                } => log.agent.push(text),
                                _ => {}
                            }
                        }
                        Some(Event::SessionStarted(s)) => log.session = Some(s),
                        _ => {}
                    }
                    // Everybody starts at once, when told.
                    // (The SDK refuses while the configuration says nobody is available: the
                    // agent may sign in after this visitor's welcome. A later welcome says
                    // otherwise.)
                    if !started_chat
                        && *m.state() == VisitorState::Form
                        && go.load(Ordering::Relaxed)
                    {
                        started_chat = m
                            .start_chat(
                                now,
                                PreChatForm {
                                    display_name: format!("Visitor {v}"),
                                    email: format!("v{v}@example.com"),
                                    consent: Some("2024-05".into()),
                                    first_message: None,
                                },
                            )
                            .is_ok();
                        next_at = now.as_millis() + rng.random_range(50..300);
                    }
                    let chatting = matches!(
                        m.state(),
                        VisitorState::Queued { .. } | VisitorState::Connected { .. }
                    );
                    if chatting && log.sent.len() < messages && now.as_millis() >= next_at {
                        let text = format!("v{v} m{}", log.sent.len());
                        if let Ok(id) = m.send_message(now, &text) {
                            log.sent.push(id);
                        }
                        next_at = now.as_millis() + rng.random_range(30..250);
                    }
                    // Done: every message written and seen back, and the agent's replies in.
                    log.sent.len() == messages
                        && log.own.len() >= messages
                        && log.agent.len() >= REPLIES
                        && !m.has_unsent()
                },
            )
            .await;
        }));
    }
    // Let every visitor reach its form, then go; the first kill comes 0-60 ms later.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    go.store(true, Ordering::Relaxed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // Cuts go on until a while after the last kill. (A client whose every attempt is cut
    // before its welcome backs off for longer and longer, up to half a minute: that is
    // what it must do, but it would only make the test wait.)
    let cutting = Arc::new(AtomicBool::new(cuts));
    let cutter = {
        let proxy = proxy.clone();
        let cutting = cutting.clone();
        tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 5);
            while cutting.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(rng.random_range(10..40))).await;
                proxy.cut_one(&mut rng);
            }
        })
    };
    for k in 0..kills {
        let pause = if k == 0 {
            rng.random_range(0..60)
        } else {
            rng.random_range(400..1_500)
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let server = &servers[rng.random_range(0..servers.len())];
        let mut s = server.lock().expect("lock").take().expect("the server");
        s.restart().await;
        *server.lock().expect("lock") = Some(s);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    cutting.store(false, Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    for t in tasks {
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            for (v, log) in logs.iter().enumerate() {
                let log = log.lock().expect("lock");
                eprintln!(
                    "visitor {v}: session {:?}, sent {}, own {}, agent {}, last {}",
                    log.session,
                    log.sent.len(),
                    log.own.len(),
                    log.agent.len(),
                    log.last
                );
            }
            panic!(
                "every visitor finishes within 90 s (seed {seed}; the agent saw {} offers and accepted {})",
                offers_seen.load(Ordering::Relaxed),
                accepts_sent.load(Ordering::Relaxed)
            );
        }
    }
    let logs: Vec<VisitorLog> = logs
        .into_iter()
        .map(|l| std::mem::take(&mut *l.lock().expect("lock")))
        .collect();
    all_done.store(true, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(60), agent)
        .await
        .expect("the agent finishes")
        .expect("agent task");
    cutter.abort();

    // On the wire: each visitor's timeline is 1, 2, 3, ... once each; its own messages
    // came back once each, in the order written; the agent's replies once each, in order.
    for (v, log) in logs.iter().enumerate() {
        let n = log.delivered.len() as u64;
        assert_eq!(
            log.delivered,
            (1..=n).collect::<Vec<_>>(),
            "visitor {v}: seqs"
        );
        assert_eq!(log.own, log.sent, "visitor {v}: own messages");
        let replies: Vec<String> = (0..REPLIES).map(|n| format!("reply {n}")).collect();
        assert_eq!(log.agent, replies, "visitor {v}: the agent's replies");
    }
    // In the database: one session per visitor, and the same.
    let config = servers[0]
        .lock()
        .expect("lock")
        .as_ref()
        .expect("the server")
        .config
        .clone();
    let config = interact_server::config::Config::load(&config).expect("the configuration");
    let store = interact_server::open_store(&config.server.database)
        .await
        .expect("the database");
    let sessions = store.open_sessions().await.expect("sessions");
    assert_eq!(
        sessions.len(),
        visitors,
        "one session per visitor: {:?}",
        sessions.iter().map(|s| &s.visitor_name).collect::<Vec<_>>()
    );
    let names: BTreeSet<&str> = sessions.iter().map(|s| s.visitor_name.as_str()).collect();
    assert_eq!(names.len(), visitors, "no visitor has two");
    let by_session: BTreeMap<SessionId, &VisitorLog> = logs
        .iter()
        .map(|l| (l.session.clone().expect("a session"), l))
        .collect();
    for s in &sessions {
        let events = store.events(&s.id).await.expect("events");
        let seqs: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        let stored: Vec<MessageId> = events
            .iter()
            .filter_map(|e| match &e.event {
                SessionEvent::Message {
                    id,
                    from: Party::Visitor,
                    ..
                } => Some(id.clone()),
                _ => None,
            })
            .collect();
        let log = by_session.get(&s.id).expect("the session is a visitor's");
        assert_eq!(stored, log.sent, "{}: stored once each, in order", s.id);
    }
    eprintln!(
        "chaos: {} server(s), {visitors} visitors x {messages} messages, {kills} kills, {} connection cuts, {:.1} s",
        servers.len(),
        proxy.cuts.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    for server in &servers {
        if let Some(s) = server.lock().expect("lock").take() {
            s.kill();
        }
    }
}
