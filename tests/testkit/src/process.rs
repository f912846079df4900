//! The server binary (`interact-server serve`) in a child process: killed with SIGKILL,
//! started again on the same port and database, its memory and CPU time read from
//! `/proc`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interact_server::config::Config;
use interact_store::Store;
use tokio::sync::oneshot;

/// What the server prints on stdout once it listens, before its address.
const LISTENING: &str = "Interact server listening on ";

/// How long the server may take to start listening.
const START_WITHIN: Duration = Duration::from_secs(30);

/// Lines of the server's stderr kept for a failure's message.
const STDERR_TAIL: usize = 40;

/// The server binary in a child process, on a configuration file (see
/// [`process_config`](crate::process_config) and [`write_config`](crate::write_config)).
/// Dropping it kills the process (SIGKILL).
///
/// The binary is the caller's to name: an integration test or benchmark of
/// `interact-server` has it as `env!("CARGO_BIN_EXE_interact-server")`.
///
/// Its log goes to this process's stderr when `RUST_LOG` is set here (at that level);
/// otherwise it logs at `warn`, and the last lines of its stderr are in the panic if it
/// does not start.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Where it listens. A configuration with port 0 is rewritten with the port it got,
    /// so that a restart comes back on the same one.
    pub addr: SocketAddr,
    /// Its configuration file.
    pub config: PathBuf,
    binary: PathBuf,
    /// Its stderr: the last lines, or all of them when started with
    /// [`start_logging`](Self::start_logging).
    log: Arc<Mutex<VecDeque<String>>>,
    /// Its working directory, if not this process's.
    cwd: Option<PathBuf>,
}

impl ServerProcess {
    /// Starts `binary serve --demo --config <config>` and waits until it listens.
    pub async fn start(binary: impl AsRef<Path>, config: &Path) -> Self {
        Self::start_with(binary, config, None, None, &[]).await
    }

    /// As [`start`](Self::start), in the working directory `cwd` (a binary copied into a
    /// folder of its own, say, with nothing of the repository around it).
    pub async fn start_in(binary: impl AsRef<Path>, config: &Path, cwd: &Path) -> Self {
        Self::start_with(binary, config, None, Some(cwd), &[]).await
    }

    /// As [`start`](Self::start), with environment variables `env` set for it (and
    /// `RUST_LOG` at `info` unless `env` sets it), keeping every line of its stderr:
    /// read them with [`log`](Self::log).
    pub async fn start_logging(
        binary: impl AsRef<Path>,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let mut env = env.to_vec();
        if !env.iter().any(|(name, _)| *name == "RUST_LOG") {
            env.push(("RUST_LOG", "info"));
        }
        Self::start_with(binary, config, None, None, &env).await
    }

    /// The lines of its stderr kept so far.
    pub fn log(&self) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        Vec::from(log.clone())
    }

    /// As [`start`](Self::start), with the process set to abort at a crash point
    /// (`INTERACT_CRASH_AT`, see `interact_server::crash`): `point` or `point:n`. Wait for
    /// the abort with [`crashed`](Self::crashed); [`restart`](Self::restart) starts it
    /// again without the crash point.
    pub async fn start_crashing_at(binary: impl AsRef<Path>, config: &Path, point: &str) -> Self {
        Self::start_with(binary, config, Some(point), None, &[]).await
    }

    /// Waits (at most `within`) until the process has exited on its own; panics if it
    /// has not.
    pub async fn crashed(&mut self, within: Duration) {
        let since = std::time::Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        !status.success(),
                        "the server exited normally, not by a crash"
                    );
                    return;
                }
                Ok(None) if since.elapsed() < within => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => panic!("the server did not crash within {within:?}: {other:?}"),
            }
        }
    }

    async fn start_with(
        binary: impl AsRef<Path>,
        config: &Path,
        crash_at: Option<&str>,
        cwd: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Self {
        let binary = binary.as_ref().to_owned();
        let echo = std::env::var_os("RUST_LOG").is_some();
        let keep_all = !env.is_empty();
        let mut cmd = Command::new(&binary);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        // The demo's admin token and `[demo]` section, which only `--demo` allows.
        cmd.args(["serve", "--demo", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The configuration file is the whole configuration: no INTERACT_* variable of the
        // test's environment overrides it.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("INTERACT_") {
                cmd.env_remove(name);
            }
        }
        if !echo {
            cmd.env("RUST_LOG", "warn");
        }
        if let Some(point) = crash_at {
            cmd.env("INTERACT_CRASH_AT", point);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let keep = if keep_all { usize::MAX } else { STDERR_TAIL };
        let stderr = drain_stderr(child.stderr.take().expect("piped stderr"), echo, keep);
        let listening = watch_stdout(child.stdout.take().expect("piped stdout"));
        let addr = match tokio::time::timeout(START_WITHIN, listening).await {
            Ok(Ok(addr)) => addr,
            outcome => {
                let why = match outcome {
                    Ok(_) => "exited",
                    Err(_) => "did not start listening within 30 s",
                };
                let _ = child.kill();
                let status = child.wait();
                // The stderr thread may still be reading what the process left.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let tail = stderr.lock().unwrap_or_else(|p| p.into_inner());
                panic!(
                    "the server ({} on {}) {why} ({status:?}); its stderr ended with:\n{}",
                    binary.display(),
                    config.display(),
                    Vec::from(tail.clone()).join("\n")
                );
            }
        };
        pin_port(config, addr);
        Self {
            child,
            addr,
            config: config.to_owned(),
            binary,
            log: stderr,
            cwd: cwd.map(Path::to_owned),
        }
    }

    /// Kills it (SIGKILL) and starts it again on the same configuration, port and
    /// database.
    pub async fn restart(&mut self) {
        self.kill_now();
        let again =
            Self::start_with(&self.binary, &self.config, None, self.cwd.as_deref(), &[]).await;
        *self = again;
    }

    /// Kills it at once (SIGKILL: no shutdown, nothing flushed beyond what was
    /// committed) and waits until it is gone.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident set size in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid()).expect("the server's resident set size")
    }

    /// The CPU time it has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid()).expect("the server's CPU time")
    }

    /// Its database (the configuration's), opened from this process: to create embed
    /// codes and agent tokens ([`create_embed_code`](crate::create_embed_code),
    /// [`agent_token`](crate::agent_token)) or look at what it stored, while it runs.
    pub async fn store(&self) -> Arc<dyn Store> {
        let config = Config::load(&self.config).expect("the server's configuration");
        interact_server::open_store(&config.server.database)
            .await
            .expect("open the server's database")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Reads the child's stdout on a thread: resolves with the address it prints once it
/// listens, then reads on until the end (so the child never blocks on a full pipe).
fn watch_stdout(stdout: impl Read + Send + 'static) -> oneshot::Receiver<SocketAddr> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix(LISTENING)
                && let Ok(addr) = addr.trim().parse()
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr);
            }
        }
    });
    rx
}

/// Reads the child's stderr on a thread, keeping its last `keep` lines (and printing them
/// when `echo`).
fn drain_stderr(
    stderr: impl Read + Send + 'static,
    echo: bool,
    keep: usize,
) -> Arc<Mutex<VecDeque<String>>> {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let kept = tail.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("{line}");
            }
            let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
            if kept.len() == keep {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    });
    tail
}

/// Writes the port the server got into its configuration file if that says port 0.
fn pin_port(config: &Path, addr: SocketAddr) {
    let text = std::fs::read_to_string(config).expect("read the configuration");
    let mut table: toml::Table = text.parse().expect("the configuration is TOML");
    let Some(server) = table.get_mut("server").and_then(|s| s.as_table_mut()) else {
        return;
    };
    let listen = server.get("listen").and_then(|l| l.as_str());
    let any_port = listen
        .and_then(|l| l.parse::<SocketAddr>().ok())
        .is_some_and(|l| l.port() == 0);
    if any_port {
        server.insert("listen".into(), addr.to_string().into());
        std::fs::write(config, toml::to_string(&table).expect("TOML"))
            .expect("write the configuration");
    }
}

/// The resident set size of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// The CPU time (user and system, all threads) process `pid` has used so far, from
/// `/proc/<pid>/stat` (in clock ticks of 1/100 s, Linux's `USER_HZ`).
pub fn cpu_time(pid: u32) -> std::io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses: state is field 3, utime
    // 14 and stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| std::io::Error::other(format!("a short /proc/{pid}/stat")))
    };
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}
