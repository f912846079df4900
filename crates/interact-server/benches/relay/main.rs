//! Relay benchmark of the Interact server (issue 3). It prints figures; it asserts nothing.
//!
//! ```sh
//! cargo bench -p interact-server --bench relay                       # defaults, ~1 min
//! cargo bench -p interact-server --bench relay -- --pairs 100 --messages 5 --idle 1000
//! ```
//!
//! In one run, on loopback, with every server in a child process of its own:
//!
//! 1. **Baseline**: a bare WebSocket forwarder on the same stack as Interact (axum + tokio)
//!    that forwards each visitor frame to the pair's agent socket and echoes it to the
//!    visitor, without parsing or storing anything. Its sockets are set up as Interact's
//!    (the same read buffer and batched writer).
//! 2. **Interact**: the real server (demo configuration, SQLite file, synthetic agents in
//!    the `support` service). Visitors connect from an allowed origin and start chats; the
//!    agents accept every offer.
//!
//!    Both are driven by the same client code with the same pairs: N visitor sockets and A
//!    agent sockets, each agent holding N/A chats. Two phases each:
//!    - *closed loop*: every visitor sends M messages one at a time, the next when the
//!      previous one is confirmed on the visitor's socket and received on the agent's;
//!      this gives messages/s at saturation;
//!    - *paced*: every visitor sends one message every `--interval` seconds (spread evenly,
//!      so N/interval messages/s in all), `--paced` times; this gives the latency at a
//!      chat-like load.
//!
//!    The relay latency is from the visitor's send to the agent's socket receiving the
//!    message (paced: from the time it was due, if the pair's previous message made it
//!    late).
//! 3. **Idle memory**: K idle connections to a fresh bare forwarder, then K visitors with a
//!    started chat that an agent accepted to a fresh Interact server, all idle (pinging
//!    every 20 s as clients do); each server's resident memory (`VmRSS`) before and after,
//!    per connection. The bare figure is what the WebSocket stack itself costs.
//!
//! It also reports the server process's CPU time per relayed message (closed loop).

mod client;
mod servers;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use client::{Pair, Target};
use servers::ServerProcess;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Result<T> = std::result::Result<T, Error>;

const USAGE: &str = "\
Usage: cargo bench -p interact-server --bench relay -- [OPTIONS]

Options:
  --pairs N              Concurrent visitor-agent pairs (default 1000)
  --messages M           Messages per pair in the closed-loop phase (default 50)
  --agents A             Agent connections; each holds about N/A chats (default 20)
  --interval SECS        Paced phase: each pair sends one message every SECS (default 10;
                         at most 50, below the server's idle timeout)
  --paced P              Paced phase: messages per pair; 0 skips the phase (default 1)
  --idle K               Idle sessions for the memory figure; 0 skips it (default 10000)
  --db-dir DIR           Where the relay phases' SQLite file goes (default: the temp dir)
  --idle-db-dir DIR      Where the idle phase's SQLite file goes (default: /dev/shm if it
                         exists, else the temp dir; the file's pages are not part of the
                         server's resident memory either way)
  --setup-concurrency C  Relay phases: Interact chats started at once during setup
                         (default 8; the idle phase starts them one at a time)
  --postgres             Also relay through Interact on PostgreSQL (a database of its
                         own on INTERACT_TEST_POSTGRES's server, else
                         postgres://postgres@127.0.0.1:5432/postgres), against SQLite
  --cluster              Also relay through three Interact nodes on one PostgreSQL
                         database and NATS (INTERACT_TEST_NATS, else
                         nats://127.0.0.1:4222), agents and visitors spread over the
                         nodes; implies --postgres
  -h, --help             Print this message

Environment:
  RELAY_BENCH_ATTACH=S   Print each server's process id and wait S seconds before its
                         closed loop (to attach a profiler: perf record -g -p PID)
";

/// The command line.
#[derive(Clone, Debug)]
struct Options {
    pairs: usize,
    messages: usize,
    agents: usize,
    interval: f64,
    paced: usize,
    idle: usize,
    db_dir: PathBuf,
    idle_db_dir: PathBuf,
    setup_concurrency: usize,
    postgres: bool,
    cluster: bool,
}

impl Options {
    fn parse(args: &[String]) -> std::result::Result<Option<Self>, String> {
        let shm = Path::new("/dev/shm");
        let mut o = Self {
            pairs: 1000,
            messages: 50,
            agents: 20,
            interval: 10.0,
            paced: 1,
            idle: 10_000,
            db_dir: std::env::temp_dir(),
            idle_db_dir: if shm.is_dir() {
                shm.to_owned()
            } else {
                std::env::temp_dir()
            },
            setup_concurrency: 8,
            postgres: false,
            cluster: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                return Ok(None);
            }
            if flag == "--postgres" {
                o.postgres = true;
                continue;
            }
            if flag == "--cluster" {
                o.postgres = true;
                o.cluster = true;
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .as_str();
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
            let count = || value.parse::<usize>().map_err(|e| bad(&e));
            match flag.as_str() {
                "--pairs" => o.pairs = count()?,
                "--messages" => o.messages = count()?,
                "--agents" => o.agents = count()?,
                "--paced" => o.paced = count()?,
                "--idle" => o.idle = count()?,
                "--setup-concurrency" => o.setup_concurrency = count()?,
                "--interval" => o.interval = value.parse().map_err(|e| bad(&e))?,
                "--db-dir" => o.db_dir = PathBuf::from(value),
                "--idle-db-dir" => o.idle_db_dir = PathBuf::from(value),
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.pairs == 0 || o.agents == 0 || o.setup_concurrency == 0 {
            return Err("--pairs, --agents and --setup-concurrency must be at least 1".into());
        }
        if !(o.interval > 0.0 && o.interval <= 50.0) {
            return Err("--interval must be above 0 and at most 50 seconds".into());
        }
        o.agents = o.agents.min(o.pairs);
        Ok(Some(o))
    }

    /// The command that reproduces this run.
    fn command(&self) -> String {
        format!(
            "cargo bench -p interact-server --bench relay -- --pairs {} --messages {} \
             --agents {} --interval {} --paced {} --idle {}{}{}",
            self.pairs,
            self.messages,
            self.agents,
            self.interval,
            self.paced,
            self.idle,
            if self.postgres && !self.cluster {
                " --postgres"
            } else {
                ""
            },
            if self.cluster { " --cluster" } else { "" },
        )
    }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        return match servers::child_main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("server child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match Options::parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::from)
        .and_then(|rt| rt.block_on(run(&options)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Figures of one phase.
#[derive(Debug, Default)]
struct Phase {
    /// Messages relayed.
    messages: usize,
    /// From the phase's start to its last message's arrival.
    elapsed: Duration,
    /// Relay latencies, sorted.
    latencies: Vec<Duration>,
    /// CPU time the server process used during the phase.
    server_cpu: Duration,
}

impl Phase {
    fn new(latencies: Vec<Vec<Duration>>, elapsed: Duration) -> Self {
        let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
        all.sort_unstable();
        Self {
            messages: all.len(),
            elapsed,
            latencies: all,
            server_cpu: Duration::ZERO,
        }
    }

    fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile.
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// Server CPU time per message relayed.
    fn cpu_per_message(&self) -> Duration {
        self.server_cpu / u32::try_from(self.messages.max(1)).unwrap_or(u32::MAX)
    }
}

/// Figures of one server's relay run.
#[derive(Debug)]
struct Relay {
    setup: Duration,
    closed: Phase,
    paced: Option<Phase>,
}

/// Figures of the idle-memory run.
#[derive(Debug)]
struct Idle {
    sessions: usize,
    setup: Duration,
    before_kib: u64,
    after_kib: u64,
}

impl Idle {
    fn per_session_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.sessions.max(1) as f64
    }
}

async fn run(o: &Options) -> Result<()> {
    let needed = o.pairs.max(o.idle) + o.agents + 200;
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    if limit < needed as u64 {
        return Err(format!(
            "the open-file limit is {limit}; this run needs about {needed} \
             (raise it with `ulimit -n`, or lower --pairs/--idle)"
        )
        .into());
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run it with `cargo bench` for figures");
    }
    println!("Interact relay benchmark\n");
    println!("Reproduce:  {}", o.command());
    println!("Machine:    {}", machine());
    println!(
        "Relay DB:   SQLite (WAL, synchronous=FULL) in {} ({})",
        o.db_dir.display(),
        fs_type(&o.db_dir)
    );
    println!(
        "Sockets:    TCP_NODELAY on both ends (the servers as `interact_server::run` serves); \
         both servers: 4 KiB WebSocket read buffer, queued frames written with one flush"
    );
    println!(
        "Setup:      {} pairs over {} agent connections ({} chats each); closed loop {} \
         messages per pair; paced {} per pair every {} s; {} idle sessions\n",
        o.pairs,
        o.agents,
        o.pairs.div_ceil(o.agents),
        o.messages,
        o.paced,
        o.interval,
        o.idle
    );

    eprintln!("[1/4] relay, bare WebSocket baseline ...");
    let bare = relay(Target::Bare, o, None).await?;
    eprintln!("[2/4] relay, Interact ...");
    let interact = relay(Target::Interact, o, None).await?;
    let postgres = if o.postgres {
        eprintln!("[2b/4] relay, Interact on PostgreSQL ...");
        let db = interact_store_postgres::TestDatabase::create().await?;
        Some(relay(Target::Interact, o, Some(&db.url)).await?)
    } else {
        None
    };
    let cluster = if o.cluster {
        eprintln!("[2c/4] relay, three Interact nodes on PostgreSQL + NATS ...");
        let db = interact_store_postgres::TestDatabase::create().await?;
        let nats =
            std::env::var("INTERACT_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        Some(relay_on(Target::Interact, o, Some(&db.url), Some(&nats), 3).await?)
    } else {
        None
    };
    let idle = if o.idle > 0 {
        eprintln!("[3/4] {} idle bare WebSocket connections ...", o.idle);
        let bare = idle(Target::Bare, o).await?;
        eprintln!("[4/4] {} idle Interact sessions ...", o.idle);
        Some((bare, idle(Target::Interact, o).await?))
    } else {
        None
    };
    report(o, &bare, &interact, idle.as_ref());
    if let Some(pg) = &postgres {
        report_postgres(o, &interact, pg);
    }
    if let Some(cluster) = &cluster {
        report_cluster(o, &interact, postgres.as_ref(), cluster);
    }
    Ok(())
}

/// Resolves with the first agent task that ends (an agent must not end while measuring).
async fn agent_failure(agents: &mut JoinSet<Result<()>>) -> Error {
    match agents.join_next().await {
        Some(Ok(Ok(()))) => "an agent connection stopped".into(),
        Some(Ok(Err(e))) => e,
        Some(Err(e)) => e.into(),
        None => std::future::pending().await,
    }
}

/// Connected agents, their tasks, and the receivers their reports go to (one per pair).
struct Agents {
    tasks: JoinSet<Result<()>>,
    stop: watch::Sender<bool>,
    receivers: Vec<mpsc::UnboundedReceiver<client::Delivered>>,
}

/// `n` agent connections, agent `j` to server `j` modulo their number (the tokens of
/// the first server: the servers of a cluster share one database).
async fn agents(
    target: Target,
    servers: &[ServerProcess],
    n: usize,
    pairs: usize,
) -> Result<Agents> {
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..pairs).map(|_| mpsc::unbounded_channel()).unzip();
    let senders = Arc::new(senders);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for j in 0..n {
        let token = servers[0].ready.tokens.get(j).map_or("", String::as_str);
        let addr = servers[j % servers.len()].ready.addr;
        let ws = client::agent(target, addr, j, token).await?;
        tasks.spawn(client::agent_loop(ws, senders.clone(), stopped.clone()));
    }
    Ok(Agents {
        tasks,
        stop,
        receivers,
    })
}

/// Parked visitors: their keep-alive tasks and the signal that hands them back.
struct Parked {
    tasks: JoinSet<Result<Pair>>,
    stop: watch::Sender<bool>,
}

impl Parked {
    fn new() -> Self {
        Self {
            tasks: JoinSet::new(),
            stop: watch::channel(false).0,
        }
    }

    fn park(&mut self, pair: Pair) {
        self.tasks.spawn(client::park(pair, self.stop.subscribe()));
    }

    async fn take(mut self) -> Result<Vec<Pair>> {
        let _ = self.stop.send(true);
        let mut pairs = Vec::with_capacity(self.tasks.len());
        while let Some(r) = self.tasks.join_next().await {
            pairs.push(r??);
        }
        pairs.sort_by_key(|p| p.index);
        Ok(pairs)
    }
}

/// Where the visitors connect: visitor `i` to address `i` modulo their number.
#[derive(Clone, Copy, Debug)]
struct Endpoint<'a> {
    target: Target,
    addrs: &'a [SocketAddr],
    code: &'a str,
}

/// Starts one visitor per receiver, numbered from `first`, `concurrency` at a time, each
/// until an agent joined its chat, and parks them.
async fn visitors(
    at: Endpoint<'_>,
    first: usize,
    receivers: Vec<mpsc::UnboundedReceiver<client::Delivered>>,
    agents: &mut Agents,
    concurrency: usize,
    parked: &mut Parked,
) -> Result<()> {
    let agent_count = agents.tasks.len();
    let mut setups = futures_util::stream::iter(receivers.into_iter().enumerate())
        .map(|(i, rx)| {
            let addr = at.addrs[(first + i) % at.addrs.len()];
            client::visitor(at.target, addr, at.code, first + i, agent_count, rx)
        })
        .buffer_unordered(concurrency);
    loop {
        let next = tokio::select! {
            next = setups.next() => next,
            e = agent_failure(&mut agents.tasks) => return Err(e),
        };
        match next {
            Some(pair) => parked.park(pair?),
            None => return Ok(()),
        }
    }
}

/// The `--child` arguments of a server.
fn child_args(
    target: Target,
    dir: &Path,
    agents: usize,
    max_chats: usize,
    database: Option<&str>,
    nats: Option<&str>,
) -> Vec<String> {
    match target {
        Target::Bare => vec!["bare".into()],
        Target::Interact => {
            let mut args = vec![
                "interact".into(),
                dir.display().to_string(),
                agents.to_string(),
                max_chats.to_string(),
                // The SQLite file in `dir`, or this PostgreSQL database.
                database.unwrap_or("sqlite").to_owned(),
            ];
            // A node of a cluster on this NATS server.
            args.extend(nats.map(str::to_owned));
            args
        }
    }
}

async fn relay(target: Target, o: &Options, database: Option<&str>) -> Result<Relay> {
    relay_on(target, o, database, None, 1).await
}

/// The relay phases through `nodes` servers (a cluster on `nats` when there are
/// several), agents and visitors spread over them; the servers' CPU is their sum.
async fn relay_on(
    target: Target,
    o: &Options,
    database: Option<&str>,
    nats: Option<&str>,
    nodes: usize,
) -> Result<Relay> {
    let dir = tempfile::tempdir_in(&o.db_dir)?;
    let max_chats = o.pairs.div_ceil(o.agents) + 1;
    let mut servers = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        let args = child_args(target, dir.path(), o.agents, max_chats, database, nats);
        servers.push(ServerProcess::spawn(args).await?);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.ready.addr).collect();
    let code = servers[0].ready.code.clone();
    let cpu_time = |servers: &[ServerProcess]| -> Result<Duration> {
        servers.iter().map(|s| s.cpu_time()).sum()
    };

    let started = Instant::now();
    let mut agents = agents(target, &servers, o.agents, o.pairs).await?;
    let receivers = std::mem::take(&mut agents.receivers);
    let concurrency = match target {
        Target::Interact => o.setup_concurrency,
        Target::Bare => 64,
    };
    let mut parked = Parked::new();
    let at = Endpoint {
        target,
        addrs: &addrs,
        code: &code,
    };
    visitors(at, 0, receivers, &mut agents, concurrency, &mut parked).await?;
    let setup = started.elapsed();

    // Closed loop: M messages per pair, one in flight.
    let pairs = parked.take().await?;
    let messages = o.messages;
    attach_pause(target, &servers[0]).await;
    let cpu = cpu_time(&servers)?;
    let (mut closed, pairs) = phase(pairs, &mut agents, move |mut pair, start| async move {
        tokio::time::sleep_until(start).await;
        let mut lat = Vec::with_capacity(messages);
        for _ in 0..messages {
            lat.push(client::exchange(&mut pair, Instant::now()).await?);
        }
        Ok((pair, lat))
    })
    .await?;

    // Paced: one message per pair every `interval`, spread evenly over the pairs.
    closed.server_cpu = cpu_time(&servers)?.saturating_sub(cpu);
    let paced = if o.paced > 0 {
        let (n, paced, interval) = (o.pairs as f64, o.paced, o.interval);
        let cpu = cpu_time(&servers)?;
        let (mut phase, _) = phase(pairs, &mut agents, move |mut pair, start| async move {
            let mut lat = Vec::with_capacity(paced);
            let mut previous_done = start;
            for k in 0..paced {
                let offset = interval * (k as f64 + pair.index as f64 / n);
                let due = start + Duration::from_secs_f64(offset);
                tokio::time::sleep_until(due).await;
                // Late because the previous message took too long: count from when this
                // one was due. Otherwise from the send (not the timer's own lateness).
                let since = if previous_done > due {
                    due
                } else {
                    Instant::now()
                };
                lat.push(client::exchange(&mut pair, since).await?);
                previous_done = Instant::now();
            }
            Ok((pair, lat))
        })
        .await?;
        phase.server_cpu = cpu_time(&servers)?.saturating_sub(cpu);
        Some(phase)
    } else {
        None
    };

    let _ = agents.stop.send(true);
    while agents.tasks.join_next().await.is_some() {}
    for server in servers {
        server.stop().await;
    }
    drop(dir);
    Ok(Relay {
        setup,
        closed,
        paced,
    })
}

/// With `RELAY_BENCH_ATTACH=SECS` in the environment, prints the server's process id and
/// waits that long before the closed loop, to attach a profiler (`perf record -g -p PID`).
async fn attach_pause(target: Target, server: &ServerProcess) {
    let Some(secs) = std::env::var("RELAY_BENCH_ATTACH")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    else {
        return;
    };
    eprintln!(
        "{target:?} server pid {}: closed loop in {secs} s",
        server.pid()
    );
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

/// Runs `each` for every pair at once (starting shortly), watching the agents; returns
/// the phase's figures and the pairs.
async fn phase<F, Fut>(pairs: Vec<Pair>, agents: &mut Agents, each: F) -> Result<(Phase, Vec<Pair>)>
where
    F: Fn(Pair, Instant) -> Fut,
    Fut: std::future::Future<Output = Result<(Pair, Vec<Duration>)>> + Send + 'static,
{
    let start = Instant::now() + Duration::from_millis(200);
    let mut tasks = JoinSet::new();
    for pair in pairs {
        let fut = each(pair, start);
        tasks.spawn(async move {
            let (pair, lat) = fut.await?;
            Ok::<_, Error>((pair, lat, Instant::now()))
        });
    }
    let mut pairs = Vec::with_capacity(tasks.len());
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut end = start;
    loop {
        let next = tokio::select! {
            next = tasks.join_next() => next,
            e = agent_failure(&mut agents.tasks) => return Err(e),
        };
        let Some(r) = next else { break };
        let (pair, lat, done) = r??;
        end = end.max(done);
        pairs.push(pair);
        latencies.push(lat);
    }
    pairs.sort_by_key(|p| p.index);
    Ok((Phase::new(latencies, end - start), pairs))
}

async fn idle(target: Target, o: &Options) -> Result<Idle> {
    const WARM_UP: usize = 100;
    let dir = tempfile::tempdir_in(&o.idle_db_dir)?;
    let max_chats = (o.idle + WARM_UP).div_ceil(o.agents) + 1;
    let args = child_args(target, dir.path(), o.agents, max_chats, None, None);
    let servers = [ServerProcess::spawn(args).await?];
    let server = &servers[0];
    let addrs = [server.ready.addr];
    let at = Endpoint {
        target,
        addrs: &addrs,
        code: &server.ready.code,
    };
    let (agent_count, concurrency) = match target {
        Target::Interact => (o.agents, 1),
        Target::Bare => (0, 64),
    };
    let mut agents = agents(target, &servers, agent_count, 0).await?;
    let receivers = |n: usize| (0..n).map(|_| mpsc::unbounded_channel().1).collect();
    let mut parked = Parked::new();

    // Warm up (allocator arenas, SQLite caches, the runtime), then measure from there.
    visitors(
        at,
        0,
        receivers(WARM_UP),
        &mut agents,
        concurrency,
        &mut parked,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_kib = server.rss_kib()?;
    let started = Instant::now();
    visitors(
        at,
        WARM_UP,
        receivers(o.idle),
        &mut agents,
        concurrency,
        &mut parked,
    )
    .await?;
    let setup = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_kib = server.rss_kib()?;
    if let Some(r) = parked.tasks.try_join_next() {
        r??;
        return Err("an idle visitor stopped".into());
    }

    let _ = agents.stop.send(true);
    parked.tasks.shutdown().await;
    agents.tasks.shutdown().await;
    let [server] = servers;
    server.stop().await;
    drop(dir);
    Ok(Idle {
        sessions: o.idle,
        setup,
        before_kib,
        after_kib,
    })
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPUs (nproc), {model}, {mem_gib:.1} GiB RAM, Linux {}",
        kernel.trim()
    )
}

/// The file system type of the mount holding `path` (from `/proc/self/mounts`).
fn fs_type(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "unknown file system".into(), |(_, kind)| kind)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "-".into();
    }
    format!("x{:.1}", a.as_secs_f64() / b.as_secs_f64())
}

fn phase_table(title: &str, bare: &Phase, interact: &Phase, with_rate: bool) {
    phase_table_of(
        title,
        ("bare WebSocket", bare),
        ("Interact", interact),
        with_rate,
    );
}

/// A phase's figures for a baseline and a subject, and the subject's ratios to the
/// baseline.
fn phase_table_of(
    title: &str,
    (base_name, bare): (&str, &Phase),
    (name, interact): (&str, &Phase),
    with_rate: bool,
) {
    let us = |d: Duration| format!("{:.0} us", d.as_secs_f64() * 1e6);
    println!("{title}");
    println!(
        "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14}",
        "", "messages", "msgs/s", "p50", "p99", "max", "server CPU/msg"
    );
    for (name, p) in [(base_name, bare), (name, interact)] {
        println!(
            "  {name:<18} {:>9} {:>9.0} {:>9} {:>9} {:>9} {:>14}",
            p.messages,
            p.rate(),
            ms(p.percentile(50.0)),
            ms(p.percentile(99.0)),
            ms(p.max()),
            if with_rate {
                us(p.cpu_per_message())
            } else {
                "-".into()
            },
        );
    }
    // "Interact / bare", "PostgreSQL / SQLite".
    let base_short = base_name.split([' ', ',']).next().unwrap_or(base_name);
    println!(
        "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14}",
        format!("{name} / {base_short}"),
        "",
        if with_rate {
            format!("{:.1}%", 100.0 * interact.rate() / bare.rate().max(1e-9))
        } else {
            "-".into()
        },
        ratio(interact.percentile(50.0), bare.percentile(50.0)),
        ratio(interact.percentile(99.0), bare.percentile(99.0)),
        ratio(interact.max(), bare.max()),
        if with_rate {
            ratio(interact.cpu_per_message(), bare.cpu_per_message())
        } else {
            "-".into()
        },
    );
    println!();
}

/// Interact on PostgreSQL against Interact on SQLite, in the same run.
fn report_postgres(o: &Options, sqlite: &Relay, pg: &Relay) {
    println!(
        "\nInteract on PostgreSQL (a database of its own on the local server) against \
         Interact on SQLite; setup {:.1} s; server CPU is Interact's (PostgreSQL's own \
         process is not counted)\n",
        pg.setup.as_secs_f64()
    );
    phase_table_of(
        &format!(
            "Relay, closed loop: {} pairs, {} messages each, one in flight per pair",
            o.pairs, o.messages
        ),
        ("SQLite", &sqlite.closed),
        ("PostgreSQL", &pg.closed),
        true,
    );
    if let (Some(s), Some(p)) = (&sqlite.paced, &pg.paced) {
        phase_table_of(
            &format!(
                "Relay, paced: {} pairs, one message every {} s",
                o.pairs, o.interval
            ),
            ("SQLite", s),
            ("PostgreSQL", p),
            false,
        );
    }
}

/// Three nodes on PostgreSQL + NATS against one node on SQLite (and on PostgreSQL), in
/// the same run.
fn report_cluster(o: &Options, sqlite: &Relay, pg: Option<&Relay>, cluster: &Relay) {
    println!(
        "\nThree Interact nodes on one PostgreSQL database and NATS (agent j on node j mod 3, \
         visitor i on node i mod 3, so most chats cross nodes) against one node; setup \
         {:.1} s; server CPU is the three nodes' together (PostgreSQL's and NATS's own \
         processes are not counted)\n",
        cluster.setup.as_secs_f64()
    );
    let closed = format!(
        "Relay, closed loop: {} pairs, {} messages each, one in flight per pair",
        o.pairs, o.messages
    );
    phase_table_of(
        &closed,
        ("SQLite, 1 node", &sqlite.closed),
        ("3 nodes", &cluster.closed),
        true,
    );
    if let Some(pg) = pg {
        phase_table_of(
            &closed,
            ("PostgreSQL, 1 node", &pg.closed),
            ("3 nodes", &cluster.closed),
            true,
        );
    }
    if let (Some(s), Some(c)) = (&sqlite.paced, &cluster.paced) {
        phase_table_of(
            &format!(
                "Relay, paced: {} pairs, one message every {} s",
                o.pairs, o.interval
            ),
            ("SQLite, 1 node", s),
            ("3 nodes", c),
            false,
        );
    }
}

fn report(o: &Options, bare: &Relay, interact: &Relay, idle: Option<&(Idle, Idle)>) {
    println!(
        "Setup time: bare {:.1} s, Interact {:.1} s ({} chats started and accepted, {} at a time)\n",
        bare.setup.as_secs_f64(),
        interact.setup.as_secs_f64(),
        o.pairs,
        o.setup_concurrency
    );
    phase_table(
        &format!(
            "Relay, closed loop: {} pairs, {} messages each, one in flight per pair",
            o.pairs, o.messages
        ),
        &bare.closed,
        &interact.closed,
        true,
    );
    if let (Some(b), Some(i)) = (&bare.paced, &interact.paced) {
        phase_table(
            &format!(
                "Relay, paced: {} pairs, each sends one message every {} s ({:.0} messages/s \
                 offered), {} each",
                o.pairs,
                o.interval,
                o.pairs as f64 / o.interval,
                o.paced
            ),
            b,
            i,
            false,
        );
    }
    if let Some((b, i)) = idle {
        println!(
            "Idle: {} connections, then idle (pinging every 20 s); Interact: chats started and \
             accepted by {} agents, DB in {} ({})",
            i.sessions,
            o.agents,
            o.idle_db_dir.display(),
            fs_type(&o.idle_db_dir)
        );
        println!(
            "  {:<20} {:>12} {:>12} {:>12} {:>16}",
            "", "VmRSS before", "after", "setup", "per connection"
        );
        for (name, idle) in [("bare WebSocket", b), ("Interact", i)] {
            println!(
                "  {name:<20} {:>12} {:>12} {:>12} {:>16}",
                format!("{:.1} MiB", idle.before_kib as f64 / 1024.0),
                format!("{:.1} MiB", idle.after_kib as f64 / 1024.0),
                format!("{:.1} s", idle.setup.as_secs_f64()),
                format!("{:.2} KiB", idle.per_session_kib()),
            );
        }
        println!(
            "  {:<20} {:>12} {:>12} {:>12} {:>16}\n",
            "Interact - bare",
            "",
            "",
            "",
            format!("{:.2} KiB", i.per_session_kib() - b.per_session_kib())
        );
    }
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!("Aims (issue 3)");
    let share = 100.0 * interact.closed.rate() / bare.closed.rate().max(1e-9);
    println!(
        "  {:<46} {:>12}  {}",
        "throughput >= 70% of the bare baseline",
        format!("{share:.1}%"),
        verdict(share >= 70.0)
    );
    let p99 = interact.closed.percentile(99.0);
    println!(
        "  {:<46} {:>12}  {}",
        format!("p99 < 10 ms at {} pairs, closed loop", o.pairs),
        ms(p99),
        verdict(p99 < Duration::from_millis(10))
    );
    if let Some(p) = &interact.paced {
        let p99 = p.percentile(99.0);
        println!(
            "  {:<46} {:>12}  {}",
            format!("p99 < 10 ms at {} pairs, paced", o.pairs),
            ms(p99),
            verdict(p99 < Duration::from_millis(10))
        );
    }
    if let Some((_, idle)) = idle {
        let kib = idle.per_session_kib();
        println!(
            "  {:<46} {:>12}  {}",
            format!("< 16 KB per idle session ({} sessions)", idle.sessions),
            format!("{kib:.2} KiB"),
            verdict(kib * 1024.0 < 16_000.0)
        );
    }
}
