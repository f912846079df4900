//! `cargo xtask cluster`: three nodes of the reference server (a, b and c) on one
//! PostgreSQL database and one NATS bus, behind a small TCP proxy, to try on one machine
//! what several nodes do.
//!
//! Each node gets a configuration file of its own under `data/cluster/`, written at every
//! start from `config/demo.toml` (its ports, the shared database, `[cluster]`, the proxy's
//! URL as `public_url`), and logs to a file beside it. The proxy copies bytes (L4), so
//! WebSockets pass through untouched. It listens on 127.0.0.1:8090 for the server and on
//! 127.0.0.1:8091 for the demo host page, hands each new connection to the next node in
//! turn, prefers the nodes whose `/readyz` says `ready`, and skips a node that refuses the
//! connection: kill one and the next connections (the widget's reconnect among them) go
//! to the others. Ctrl-C stops every node: SIGTERM (they drain), then SIGKILL for any that
//! is still running after a while.

mod config;
mod node;
mod proxy;

use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use self::config::{Demo, create_database, host_of, node_config, proxy_url};
use self::node::{Node, NodeSpec, watch};
use self::proxy::{bind, proxy};
use crate::{cmd, prereq, widget, workspace};

/// The configuration the nodes' files are derived from, relative to the workspace root.
const DEMO_CONFIG: &str = "config/demo.toml";

/// The PostgreSQL database the nodes share (created if it does not exist; never dropped).
const DATABASE: &str = "interact_cluster";

/// Where the nodes' configuration files and logs go, relative to the workspace root
/// (`data/` is git-ignored).
const DIR: &str = "data/cluster";

/// The proxy's address for the server: the nodes' `public_url`.
const PROXY: SocketAddr = loopback(8090);

/// The proxy's address for the demo host page (a stand-in customer website, another
/// origin): each node serves one, the proxy spreads over them too.
const HOST_PROXY: SocketAddr = loopback(8091);

/// The nodes: a name and a base port, which the node listens on; its demo host page is on
/// the next port, its metrics on the one after.
const NODES: [(&str, u16); 3] = [("a", 8100), ("b", 8110), ("c", 8120)];

/// The nodes' `[server] drain_secs`: on SIGTERM a node answers `/readyz` with 503 this
/// long (the proxy stops sending it new connections) before it closes its WebSockets.
const DRAIN_SECS: u16 = 2;

/// The nodes' `[cluster] refresh_secs`: the bus carries changes at once; this bounds a
/// missed announcement.
const REFRESH_SECS: u16 = 10;

/// How long a node has to answer `/readyz` with 200 after it was started.
const START_WITHIN: Duration = Duration::from_secs(60);

/// How long the nodes have to stop after SIGTERM (their drain included) before SIGKILL.
const STOP_WITHIN: Duration = Duration::from_secs(DRAIN_SECS as u64 + 10);

const fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// Builds what `serve` builds, makes sure of PostgreSQL, NATS and the shared database,
/// writes the nodes' configuration files, then runs the nodes and the proxy until Ctrl-C.
pub(crate) fn run() -> Result<()> {
    prereq::ensure_toolchain()?;
    prereq::ensure_test_runner()?;
    prereq::ensure_wasm_opt()?;
    widget::build()?;
    let postgres = prereq::ensure_postgres()?;
    let nats = prereq::ensure_nats()?;
    let database = create_database(&postgres)?;
    // A debug build, as `serve` runs: it compiles much faster than `--release`.
    cmd::run(cmd::cargo().args(["build", "--package", "interact-server"]))?;
    let server = workspace::target_dir()
        .join("debug")
        .join(format!("interact-server{}", std::env::consts::EXE_SUFFIX));

    let demo_path = workspace::root().join(DEMO_CONFIG);
    let demo_text = fs::read_to_string(&demo_path)
        .with_context(|| format!("cannot read {}", demo_path.display()))?;
    let demo = Demo::read(&demo_text)?;
    let dir = workspace::root().join(DIR);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let specs = NODES.map(|(name, port)| NodeSpec::new(name, port));
    for spec in &specs {
        let text = node_config(&demo_text, spec, &database, &nats)?;
        fs::write(spec.config(), text)
            .with_context(|| format!("cannot write {}", spec.config().display()))?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve(&server, &specs, &demo, &database, &nats))
}

/// Starts the nodes one after the other (the first migrates the database), then the proxy;
/// prints what to open and waits for Ctrl-C (or SIGTERM, SIGHUP), then stops the nodes.
async fn serve(
    server: &Path,
    specs: &[NodeSpec],
    demo: &Demo,
    database: &str,
    nats: &str,
) -> Result<()> {
    // Registered before any node starts: a Ctrl-C during the start must not leave nodes
    // behind (they run in process groups of their own, so the terminal does not stop them).
    let mut stop = StopSignals::new()?;
    let server_listener = bind(PROXY).await?;
    let host_listener = bind(HOST_PROXY).await?;

    let starting = async {
        let mut nodes = Vec::new();
        for spec in specs {
            let node = Node::spawn(server, spec.clone())?;
            // Pushed before waiting, so that a failed start also stops it (on drop).
            nodes.push(node);
            if let Some(node) = nodes.last() {
                node.wait_ready().await?;
            }
        }
        Ok::<_, anyhow::Error>(nodes)
    };
    let nodes = tokio::select! {
        nodes = starting => nodes?,
        () = stop.recv() => {
            println!("stopped while starting the nodes");
            return Ok(());
        }
    };
    let cluster = Arc::new(Cluster {
        nodes,
        stopping: AtomicBool::new(false),
    });

    tokio::spawn(proxy(
        server_listener,
        Arc::clone(&cluster),
        "server",
        |spec| spec.listen,
    ));
    tokio::spawn(proxy(
        host_listener,
        Arc::clone(&cluster),
        "host page",
        |spec| spec.host,
    ));
    for index in 0..cluster.nodes.len() {
        tokio::spawn(watch(Arc::clone(&cluster), index));
    }
    print_banner(&cluster, demo, database, nats);

    stop.recv().await;
    println!("\nstopping the nodes (SIGTERM: each drains for {DRAIN_SECS} s, then stops)");
    cluster.stopping.store(true, Ordering::Relaxed);
    cluster.stop().await;
    Ok(())
}

/// The running nodes.
#[derive(Debug)]
struct Cluster {
    nodes: Vec<Node>,
    /// Set on Ctrl-C: the watchers stop reporting the nodes going away.
    stopping: AtomicBool,
}

impl Cluster {
    /// Sends every node that still runs SIGTERM, waits for them to stop (their drain
    /// included) and kills whatever still runs after [`STOP_WITHIN`].
    async fn stop(&self) {
        let running: Vec<bool> = self
            .nodes
            .iter()
            .map(|node| node.try_wait().is_none())
            .collect();
        for (node, running) in self.nodes.iter().zip(&running) {
            if *running {
                node.terminate();
            }
        }
        let deadline = Instant::now() + STOP_WITHIN;
        for (node, running) in self.nodes.iter().zip(running) {
            let name = node.spec.name;
            loop {
                if let Some(status) = node.try_wait() {
                    if running {
                        println!("node {name}: stopped ({status})");
                    } else {
                        println!("node {name}: had already stopped ({status})");
                    }
                    break;
                }
                if Instant::now() >= deadline {
                    node.kill();
                    println!(
                        "node {name}: killed (still running {} s after SIGTERM)",
                        STOP_WITHIN.as_secs()
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The signals that stop the cluster: Ctrl-C, SIGTERM, SIGHUP (the terminal closed).
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers at once (from now on these signals no longer end the process).
    fn new() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let install = |kind| signal(kind).context("cannot install a signal handler");
            Ok(Self {
                interrupt: install(SignalKind::interrupt())?,
                terminate: install(SignalKind::terminate())?,
                hangup: install(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Completes when one of the signals arrives.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

impl fmt::Debug for StopSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StopSignals")
    }
}

fn print_banner(cluster: &Cluster, demo: &Demo, database: &str, nats: &str) {
    let url = proxy_url();
    println!();
    println!(
        "Interact cluster: {} nodes on PostgreSQL (database {DATABASE} at {}) and NATS ({nats})",
        cluster.nodes.len(),
        host_of(database)
    );
    println!("Through the proxy ({PROXY}; each new connection to the next ready node):");
    println!("  Agent console:   {url}/console/");
    match &demo.embed_code {
        Some(code) => println!("  Preview page:    {url}/preview/{code}"),
        None => println!("  Preview page:    {url}/preview/<embed code>"),
    }
    println!("  Demo host page:  http://{HOST_PROXY}/ (a stand-in customer website)");
    println!("  Health:          {url}/healthz and {url}/readyz");
    match (&demo.agent_password, demo.users.is_empty()) {
        (Some(password), false) => println!(
            "  Demo agents:     {} with password {password:?}",
            demo.users.join(", ")
        ),
        (None, false) => println!("  Agents:          {}", demo.users.join(", ")),
        (_, true) => {}
    }
    println!("Nodes (configuration and log in {DIR}/node-<name>.toml and .log):");
    for node in &cluster.nodes {
        let spec = &node.spec;
        println!(
            "  {}  pid {:<7}  http://{}/  (host page http://{}/, metrics http://{}/metrics)",
            spec.name, node.pid, spec.listen, spec.host, spec.metrics
        );
    }
    if let Some(node) = cluster.nodes.first() {
        println!(
            "Failover: `kill -9 {pid}` stops node {name} at once; new connections, the \
             widget's reconnect among them, go to the others. `kill {pid}` drains it first \
             ({DRAIN_SECS} s of /readyz 503).",
            pid = node.pid,
            name = node.spec.name,
        );
    }
    println!("Stop with Ctrl-C (stops every node).");
}
