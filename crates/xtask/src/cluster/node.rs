//! The nodes: their server processes, their `/readyz`, and a watcher that follows both.

use std::fmt;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{Cluster, DIR, START_WITHIN, loopback};
use crate::{cmd, workspace};

/// One node's addresses and files.
#[derive(Debug, Clone)]
pub(super) struct NodeSpec {
    pub(super) name: &'static str,
    /// The server (`[server] listen`).
    pub(super) listen: SocketAddr,
    /// The demo host page (`[demo] host_listen`).
    pub(super) host: SocketAddr,
    /// The metrics (`[metrics] listen`).
    pub(super) metrics: SocketAddr,
}

impl NodeSpec {
    pub(super) fn new(name: &'static str, port: u16) -> Self {
        Self {
            name,
            listen: loopback(port),
            host: loopback(port + 1),
            metrics: loopback(port + 2),
        }
    }

    /// The configuration file, relative to the workspace root.
    pub(super) fn config_relative(&self) -> String {
        format!("{DIR}/node-{}.toml", self.name)
    }

    pub(super) fn config(&self) -> PathBuf {
        workspace::root().join(self.config_relative())
    }

    /// The log file (the node's standard output and error), relative to the workspace root.
    pub(super) fn log_relative(&self) -> String {
        format!("{DIR}/node-{}.log", self.name)
    }

    pub(super) fn log(&self) -> PathBuf {
        workspace::root().join(self.log_relative())
    }
}

/// A node: its server process, and whether the proxy should prefer it.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) spec: NodeSpec,
    pub(super) pid: u32,
    child: Mutex<Child>,
    /// Its `/readyz` said 200 the last time the watcher asked, and it accepted the
    /// proxy's last connection.
    pub(super) ready: AtomicBool,
}

impl Node {
    /// Starts `interact-server serve` with the node's configuration file, logging to its
    /// log file, in a process group of its own.
    pub(super) fn spawn(server: &Path, spec: NodeSpec) -> Result<Self> {
        let log = spec.log();
        let log_file =
            fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = cmd::program_in_root(server);
        command
            // The demo's admin token and `[demo]` section: a demo, so `--demo`.
            .args(["serve", "--demo", "--config"])
            .arg(spec.config())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        // The configuration file says everything (which database and bus, which ports); an
        // INTERACT_* override from the environment would split the cluster.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("INTERACT_") {
                command.env_remove(name);
            }
        }
        // Ctrl-C in the terminal reaches only this process, which stops the nodes in order.
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            command.process_group(0);
        }
        println!(
            "$ {} serve --demo --config {} > {} 2>&1",
            server.display(),
            spec.config_relative(),
            spec.log_relative()
        );
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", server.display()))?;
        Ok(Self {
            spec,
            pid: child.id(),
            child: Mutex::new(child),
            ready: AtomicBool::new(false),
        })
    }

    /// Waits until the node's `/readyz` answers 200; fails, with the end of its log, if it
    /// exits first or takes longer than [`START_WITHIN`].
    pub(super) async fn wait_ready(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                bail!(
                    "node {} exited at start ({status}); the end of {}:\n{}",
                    self.spec.name,
                    self.spec.log_relative(),
                    log_tail(&self.spec.log())
                );
            }
            if let Readiness::Ready = probe(self.spec.listen).await {
                self.ready.store(true, Ordering::Relaxed);
                println!("node {}: ready (pid {})", self.spec.name, self.pid);
                return Ok(());
            }
            if started.elapsed() > START_WITHIN {
                bail!(
                    "node {} did not get ready within {} s; the end of {}:\n{}",
                    self.spec.name,
                    START_WITHIN.as_secs(),
                    self.spec.log_relative(),
                    log_tail(&self.spec.log())
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The exit status, if the process has exited.
    pub(super) fn try_wait(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        child.try_wait().ok().flatten()
    }

    /// Asks the node to stop (SIGTERM; it drains first). Without `kill` (not Unix), kills it.
    pub(super) fn terminate(&self) {
        let sent = cmd::program_in_root("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !sent {
            self.kill();
        }
    }

    /// Kills the node at once (SIGKILL) if it still runs.
    pub(super) fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    /// A node never outlives this command, whatever way it ends.
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines of a log file, for an error message.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// What a node's `/readyz` says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Readiness {
    /// 200.
    Ready,
    /// Another status, or no answer in time (the node is draining, its database or bus is
    /// gone, or it hangs).
    NotReady(String),
    /// The connection failed (the process is gone, or not listening yet).
    Down(String),
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready => f.write_str("ready"),
            Self::NotReady(why) => {
                write!(f, "not ready ({why}): the proxy prefers the others")
            }
            Self::Down(why) => write!(f, "does not answer ({why})"),
        }
    }
}

/// Asks `GET /readyz` of the server at `addr`.
async fn probe(addr: SocketAddr) -> Readiness {
    let answer = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(Duration::from_secs(3), answer).await {
        Err(_) => Readiness::NotReady("no answer to /readyz within 3 s".to_owned()),
        Ok(Err(e)) => Readiness::Down(e.to_string()),
        Ok(Ok(answer)) => {
            let text = String::from_utf8_lossy(&answer);
            let status = text.split_whitespace().nth(1).unwrap_or("no status");
            if status == "200" {
                Readiness::Ready
            } else {
                let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
                Readiness::NotReady(format!("/readyz: {status} {}", body.trim()))
            }
        }
    }
}

/// Follows one node: every second, whether it still runs and what its `/readyz` says;
/// prints each change, and tells the proxy.
pub(super) async fn watch(cluster: Arc<Cluster>, index: usize) {
    let Some(node) = cluster.nodes.get(index) else {
        return;
    };
    let name = node.spec.name;
    let mut last = Readiness::Ready;
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        if cluster.stopping.load(Ordering::Relaxed) {
            return;
        }
        if let Some(status) = node.try_wait() {
            node.ready.store(false, Ordering::Relaxed);
            println!(
                "node {name}: exited ({status}); the proxy sends new connections to the others"
            );
            return;
        }
        let now = probe(node.spec.listen).await;
        node.ready.store(now == Readiness::Ready, Ordering::Relaxed);
        if now != last && !cluster.stopping.load(Ordering::Relaxed) {
            println!("node {name}: {now}");
            last = now;
        }
    }
}
