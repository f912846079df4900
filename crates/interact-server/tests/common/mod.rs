//! Test harness: a real server on port 0 with a fresh SQLite file, and WebSocket clients
//! that speak protocol v1 through the SDK's frame types.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::protocol::{
    AgentHello, ClientFrame, Hello, PROTOCOL_VERSION, Presence, Resume, ServerFrame, decode_server,
    encode,
};
use interact_sdk::time::UnixMillis;
use interact_server::config::Config;
use interact_server::node::state::AppState;
use interact_store::EmbedCodeRecord;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const DEMO: &str = include_str!("../../../../config/demo.toml");
pub const ALLOWED: &str = "http://127.0.0.1:8081";
pub const FOREIGN: &str = "https://evil.example.net";

/// The demo configuration with its database in `dir`.
pub fn config(dir: &Path) -> Config {
    let mut c = Config::parse(DEMO).expect("demo config parses");
    c.validate().expect("demo config is valid");
    c.server.database = dir.join("interact.db");
    c.server.www = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../www"));
    c.server.listen = "127.0.0.1:0".parse().expect("addr");
    c.demo = None;
    c
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let state = interact_server::build_state(config).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(interact_server::run(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }

    /// Creates an embed code for `target` bound to the demo template.
    pub async fn embed_code(&self, target: TargetRef) -> EmbedCode {
        let code = EmbedCode::from_random(interact_server::auth::random_128());
        let record = EmbedCodeRecord {
            code: code.clone(),
            target,
            template: "demo".into(),
            created_at: UnixMillis(1),
            revoked_at: None,
        };
        self.state
            .store
            .create_embed_code(&record)
            .await
            .expect("store code");
        code
    }

    /// Agent `user` signed in over a new connection, available, and confirmed so by the
    /// server.
    pub async fn available_agent(&self, user: &str) -> Client {
        let token = self.agent_token(user).await;
        let mut agent = connect_agent(self.addr).await;
        agent.agent_hello(&token).await;
        agent
            .send(&ClientFrame::SetPresence {
                presence: Presence::Available,
            })
            .await;
        agent
            .recv_until(|f| {
                matches!(
                    f,
                    ServerFrame::Presence {
                        presence: Presence::Available
                    }
                )
            })
            .await;
        agent
    }

    /// A sign-in token for `user`, stored as the login endpoint would.
    pub async fn agent_token(&self, user: &str) -> String {
        let token = interact_server::auth::random_token();
        let now = interact_server::clock::system_now();
        self.state
            .store
            .put_agent_token(
                &interact_server::auth::token_hash(&token),
                user,
                now,
                UnixMillis(now.0 + 3_600_000),
            )
            .await
            .expect("token");
        token
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the visitor WebSocket with an `Origin` header; `Err(status)` if refused.
pub async fn connect_visitor(
    addr: SocketAddr,
    code: &str,
    origin: Option<&str>,
) -> Result<Client, u16> {
    let mut req = format!("ws://{addr}/v1/ws?code={code}")
        .into_client_request()
        .expect("request");
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).expect("header"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(Client { ws }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("connect failed: {e}"),
    }
}

pub async fn connect_agent(addr: SocketAddr) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/agent/ws"))
        .await
        .expect("agent connect");
    Client { ws }
}

pub struct Client {
    pub ws: Ws,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    Code(u16),
    Abrupt,
}

impl Client {
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.ws
            .send(Message::Text(encode(frame).into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send raw");
    }

    /// The next protocol frame (skipping pings), within 5 s.
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("stream open")
                .expect("no transport error");
            match msg {
                Message::Text(t) => return decode_server(t.as_str()).expect("valid server frame"),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// Frames until one matches; panics after 5 s.
    pub async fn recv_until(
        &mut self,
        mut pred: impl FnMut(&ServerFrame) -> bool,
    ) -> Vec<ServerFrame> {
        let mut seen = Vec::new();
        loop {
            let f = self.recv().await;
            let done = pred(&f);
            seen.push(f);
            if done {
                return seen;
            }
        }
    }

    /// Every protocol frame that arrives within `ms` (the connection must stay open).
    pub async fn recv_for(&mut self, ms: u64) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(msg) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match msg {
                Some(Ok(Message::Text(t))) => {
                    frames.push(decode_server(t.as_str()).expect("valid server frame"))
                }
                Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
                Some(Ok(_)) => {}
                other => panic!("the connection failed: {other:?}"),
            }
        }
        frames
    }

    /// Reads until the connection closes; returns the close code and frames before it.
    pub async fn closed(&mut self) -> (Closed, Vec<ServerFrame>) {
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("close within 5 s (after {} frames)", frames.len()))
            {
                Some(Ok(Message::Text(t))) => {
                    frames.push(decode_server(t.as_str()).expect("valid"))
                }
                Some(Ok(Message::Close(Some(c)))) => {
                    return (Closed::Code(u16::from(c.code)), frames);
                }
                Some(Ok(Message::Close(None))) => {
                    return (Closed::Code(u16::from(WsCloseCode::Status)), frames);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (Closed::Abrupt, frames),
            }
        }
    }

    pub async fn hello(&mut self, resume: Option<Resume>) -> ServerFrame {
        self.send(&ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("test".into()),
            resume,
        }))
        .await;
        self.recv().await
    }

    pub async fn agent_hello(&mut self, token: &str) -> ServerFrame {
        self.send(&ClientFrame::AgentHello(AgentHello {
            protocol: PROTOCOL_VERSION,
            token: token.into(),
            client: None,
            resume: Default::default(),
        }))
        .await;
        self.recv().await
    }
}

pub fn mid(s: &str) -> MessageId {
    MessageId::new(s).expect("valid id")
}

pub fn event_seqs(frames: &[ServerFrame], session: &SessionId) -> Vec<Seq> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) if &e.session == session => Some(e.seq),
            _ => None,
        })
        .collect()
}

impl Client {
    /// Sends `start_chat` and waits for `session_started`; returns the session and its
    /// resume token.
    pub async fn start_chat(
        &mut self,
        id: MessageId,
        form: interact_sdk::form::PreChatForm,
    ) -> (SessionId, interact_sdk::ids::ResumeToken) {
        self.send(&ClientFrame::StartChat { id, form }).await;
        let frames = self
            .recv_until(|f| matches!(f, ServerFrame::SessionStarted { .. }))
            .await;
        match frames.last() {
            Some(ServerFrame::SessionStarted {
                session,
                resume_token,
                ..
            }) => (session.clone(), resume_token.clone()),
            other => unreachable!("recv_until ends on session_started, got {other:?}"),
        }
    }
}

/// The server binary in a child process, on the demo configuration with its database in
/// a folder of the test's, a port of its own and nothing on a fixed port (no demo host
/// page, no metrics address). Dropping it kills the process (SIGKILL).
pub struct ServerProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    pub config: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl ServerProcess {
    /// Writes the configuration into `dir`: the demo one on a free port, with the
    /// database `dir/interact.db`, and `[limits]` overridden by `limits` (TOML key =
    /// value lines).
    pub fn write_config(dir: &Path, limits: &str) -> (PathBuf, SocketAddr) {
        let port = free_port();
        let mut config: toml::Table = DEMO.parse().expect("the demo configuration is TOML");
        let server = config["server"].as_table_mut().expect("[server]");
        server.insert("listen".into(), format!("127.0.0.1:{port}").into());
        server.insert("database".into(), "interact.db".into());
        server.insert(
            "www".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../www").into(),
        );
        config.remove("metrics");
        if let Some(demo) = config.get_mut("demo").and_then(|d| d.as_table_mut()) {
            demo.remove("host_listen");
        }
        let overrides: toml::Table = limits.parse().expect("limits are TOML");
        let table = config["limits"].as_table_mut().expect("[limits]");
        table.extend(overrides);
        let path = dir.join("config.toml");
        std::fs::write(&path, toml::to_string(&config).expect("TOML")).expect("write config");
        (path, format!("127.0.0.1:{port}").parse().expect("addr"))
    }

    /// Starts the binary on `config` and waits until it listens on `addr`.
    pub async fn start(config: &Path, addr: SocketAddr) -> Self {
        Self::start_with(config, addr, |c| c).await
    }

    /// [`Self::start`], with the command changed by `f` first (to run it under
    /// `prlimit`, say: the binary's path is the command's last argument then).
    pub async fn start_with(
        config: &Path,
        addr: SocketAddr,
        f: impl FnOnce(std::process::Command) -> std::process::Command,
    ) -> Self {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_interact-server"));
        cmd.args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = f(cmd).spawn().expect("start the server binary");
        let server = Self {
            child,
            addr,
            config: config.to_owned(),
        };
        for _ in 0..400 {
            if TcpStream::connect(addr).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not start listening on {addr}");
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Kills it at once (SIGKILL: no shutdown, nothing flushed beyond what was
    /// committed) and waits until it is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A visitor connection from [`ALLOWED`] that resumes `session` after `last_seq`;
/// panics unless the server welcomes it. Returns the connection and the session's head.
pub async fn resume_visitor(
    addr: SocketAddr,
    code: &str,
    session: &SessionId,
    token: &interact_sdk::ids::ResumeToken,
    last_seq: Seq,
) -> (Client, Seq) {
    let mut v = connect_visitor(addr, code, Some(ALLOWED))
        .await
        .expect("allowed origin");
    let welcome = v
        .hello(Some(Resume {
            session: session.clone(),
            token: token.clone(),
            last_seq,
        }))
        .await;
    match welcome {
        ServerFrame::Welcome {
            session: Some(info),
            ..
        } if info.session == *session => (v, info.head),
        other => panic!("a welcome that resumes {session}: {other:?}"),
    }
}
