//! The servers under test, each in a child process of its own (the benchmark binary run
//! again with `--child ...`), so that the server's resident memory can be read from
//! `/proc/<pid>/status` apart from the clients', and the clients and the server are
//! separate processes as in production.
//!
//! - `--child interact DIR AGENTS MAX_CHATS DATABASE [NATS]`: the real Interact server
//!   (`build_state` and `run` of the library, as the binary does) on `127.0.0.1:0`, with
//!   the demo configuration, its SQLite file in `DIR` (`DATABASE` is `sqlite`) or the
//!   PostgreSQL database `DATABASE` (a URL), `AGENTS` synthetic agents in the demo's
//!   `support` service, `MAX_CHATS` chats per agent, and the per-address, per-connection
//!   and per-session rate limits raised out of the way; with `NATS`, a node of a cluster
//!   on that NATS server (`[cluster] nats_url`).
//! - `--child bare`: a bare WebSocket forwarder on the same stack (axum + tokio, served by
//!   `axum::serve` like Interact): `/agent?n=J` registers agent socket `J`; every text frame
//!   a `/visitor?agent=J` socket sends is forwarded verbatim to agent socket `J` and echoed
//!   back to the visitor (the bare counterpart of Interact's event to the agent and `ack` to
//!   the visitor). No parsing, no storage. Its sockets are set up as Interact's are (the
//!   same 4 KiB read buffer, the same batched writer), so that the comparison is of what
//!   Interact does on top of the same socket handling.
//!
//! A child prints one JSON line on stdout (its address and, for Interact, an embed code and
//! the agents' sign-in tokens) and exits when its stdin closes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use interact_model::TargetRef;
use interact_server::config::Config;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::Result;

/// What a child prints once it listens.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Ready {
    pub(crate) addr: SocketAddr,
    /// Interact: an embed code of the `support` service bound to the demo template.
    #[serde(default)]
    pub(crate) code: String,
    /// Interact: one sign-in token per synthetic agent.
    #[serde(default)]
    pub(crate) tokens: Vec<String>,
}

/// A server child process. Dropping it kills the child if it is still running.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    pub(crate) ready: Ready,
}

impl ServerProcess {
    /// Starts `current_exe --child <args>` and waits for its ready line.
    pub(crate) async fn spawn(args: Vec<String>) -> Result<Self> {
        tokio::task::spawn_blocking(move || {
            let exe = std::env::current_exe()?;
            let mut child = Command::new(exe)
                .arg("--child")
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            let stdin = child.stdin.take();
            let mut line = String::new();
            let read = child
                .stdout
                .take()
                .map(|out| BufReader::new(out).read_line(&mut line));
            let ready = match read {
                Some(Ok(n)) if n > 0 => serde_json::from_str(&line)
                    .map_err(|e| format!("bad ready line from the server: {e}: {line}"))?,
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("the server child exited before it was ready".into());
                }
            };
            Ok(Self {
                child,
                stdin,
                ready,
            })
        })
        .await?
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's resident set size, in KiB.
    pub(crate) fn rss_kib(&self) -> Result<u64> {
        Ok(interact_testkit::rss_kib(self.child.id())?)
    }

    /// CPU time (user and system, all threads) the child has used so far.
    pub(crate) fn cpu_time(&self) -> Result<Duration> {
        Ok(interact_testkit::cpu_time(self.child.id())?)
    }

    /// Closes the child's stdin (it exits) and waits for it, killing it after 10 s.
    pub(crate) async fn stop(mut self) {
        drop(self.stdin.take());
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The child side: runs the server named by `args` until stdin closes.
pub(crate) fn child_main(args: &[String]) -> Result<()> {
    // Exit as soon as the parent closes our stdin (or dies).
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // The same runtime as the server binary's `#[tokio::main]`.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args {
        [kind, dir, agents, max_chats, database, nats @ ..]
            if kind == "interact" && nats.len() <= 1 =>
        {
            runtime.block_on(interact(
                Path::new(dir),
                agents.parse()?,
                max_chats.parse()?,
                database,
                nats.first().map(String::as_str),
            ))
        }
        [kind] if kind == "bare" => runtime.block_on(bare()),
        _ => Err(format!("bad child arguments: {args:?}").into()),
    }
}

fn announce(ready: &Ready) -> Result<()> {
    println!("{}", serde_json::to_string(ready)?);
    Ok(())
}

/// The id of synthetic agent `j`.
fn agent_id(j: usize) -> String {
    format!("bench-agent-{j}")
}

/// The demo configuration, its database in `dir`, with `agents` synthetic agents in the
/// `support` service and the limits raised so that they do not limit the benchmark.
fn config(dir: &Path, agents: usize, max_chats: usize) -> Result<Config> {
    // The testkit's demo configuration: the database in `dir`, port 0, no `[demo]`.
    let mut c = interact_testkit::config(dir);
    // One address opens every session; the clients send as fast as the server answers.
    c.limits.sessions_per_minute_per_ip = u32::MAX;
    c.limits.frames_per_second = 1_000_000;
    c.limits.messages_per_second_per_session = 1_000_000;
    c.limits.max_chats_per_agent = max_chats;
    // Every client of the benchmark connects from loopback.
    c.limits.connections_per_ip = u32::MAX;
    c.limits.max_connections = u32::MAX;
    c.limits.max_events_per_session = usize::MAX;
    c.limits.max_bytes_per_session = usize::MAX;
    c.limits.replays_per_second = 1_000_000;
    let template = c
        .users
        .iter()
        .find(|u| u.id == "sam")
        .cloned()
        .ok_or("the demo configuration has no user sam")?;
    let support = c
        .services
        .iter()
        .position(|s| s.id == "support")
        .ok_or("the demo configuration has no service support")?;
    for j in 0..agents {
        let mut user = template.clone();
        user.id = agent_id(j).into();
        user.display_name = format!("Bench Agent {j}");
        c.services[support].members.push(user.id.clone());
        c.users.push(user);
    }
    c.validate()?;
    Ok(c)
}

fn set_nodelay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "cannot set TCP_NODELAY");
    }
}

async fn interact(
    dir: &Path,
    agents: usize,
    max_chats: usize,
    database: &str,
    nats: Option<&str>,
) -> Result<()> {
    let mut config = config(dir, agents, max_chats)?;
    if database != "sqlite" {
        config.server.database = interact_server::config::Database::Postgres(database.into());
    }
    config.cluster.nats_url = nats.map(str::to_owned);
    let state = interact_server::build_state(config).await?;
    let store = state.store.as_ref();
    let code =
        interact_testkit::create_embed_code(store, TargetRef::Service("support".into())).await;
    let mut tokens = Vec::with_capacity(agents);
    for j in 0..agents {
        tokens.push(
            interact_testkit::agent_token(store, &agent_id(j), Duration::from_secs(24 * 3600))
                .await,
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    announce(&Ready {
        addr: listener.local_addr()?,
        code: code.as_str().to_owned(),
        tokens,
    })?;
    interact_server::run(listener, state, std::future::pending()).await?;
    Ok(())
}

type Agents = Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<Utf8Bytes>>>>;

#[derive(Debug, Deserialize)]
struct AgentQuery {
    n: u32,
}

#[derive(Debug, Deserialize)]
struct VisitorQuery {
    agent: u32,
}

async fn bare() -> Result<()> {
    let agents: Agents = Arc::default();
    let app = Router::new()
        .route("/agent", get(bare_agent))
        .route("/visitor", get(bare_visitor))
        .with_state(agents);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    announce(&Ready {
        addr: listener.local_addr()?,
        code: String::new(),
        tokens: Vec::new(),
    })?;
    // Served like `interact_server::run` serves Interact: TCP_NODELAY on accepted sockets.
    axum::serve(listener.tap_io(set_nodelay), app).await?;
    Ok(())
}

/// Drains a socket's queue into it: one writer task per socket, and every frame already
/// queued written with one flush, as in Interact (`ws.rs`, `write_loop`).
async fn writer(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::UnboundedReceiver<Utf8Bytes>,
) {
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut batched = 0;
        while let Some(text) = next.take() {
            if sink.feed(Message::Text(text)).await.is_err() {
                return;
            }
            batched += 1;
            if batched < 32 {
                next = rx.try_recv().ok();
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

/// The same socket settings as Interact's (`ws.rs`, `upgrade()`): a 4 KiB read buffer
/// instead of tungstenite's 128 KiB, which it zero-fills before every read.
fn upgrade(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(4 * 1024)
}

async fn bare_agent(
    State(agents): State<Agents>,
    Query(q): Query<AgentQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(ws).on_upgrade(move |socket| async move {
        let (sink, mut stream) = socket.split();
        let (tx, rx) = mpsc::unbounded_channel();
        agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(q.n, tx);
        let task = tokio::spawn(writer(sink, rx));
        // Agents send nothing but keep-alives; read until the socket closes.
        while let Some(Ok(_)) = stream.next().await {}
        agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&q.n);
        task.abort();
    })
}

async fn bare_visitor(
    State(agents): State<Agents>,
    Query(q): Query<VisitorQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(ws).on_upgrade(move |socket| async move {
        let (sink, mut stream) = socket.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(writer(sink, rx));
        let mut agent: Option<mpsc::UnboundedSender<Utf8Bytes>> = None;
        while let Some(Ok(msg)) = stream.next().await {
            let Message::Text(text) = msg else { continue };
            if agent.is_none() {
                agent = agents
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&q.agent)
                    .cloned();
            }
            if let Some(a) = &agent {
                let _ = a.send(text.clone());
            }
            if tx.send(text).is_err() {
                break;
            }
        }
        drop(tx);
        let _ = task.await;
    })
}
