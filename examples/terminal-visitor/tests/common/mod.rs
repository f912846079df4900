//! Test harness, after `crates/interact-server/tests/common`: a real server on port 0
//! with the demo configuration and a fresh SQLite file, an agent speaking protocol v1 over
//! a native WebSocket, and the terminal client driven through in-memory pipes.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_sdk::embed::EmbedCode;
use interact_sdk::protocol::{
    AgentHello, ClientFrame, PROTOCOL_VERSION, ServerFrame, decode_server, encode,
};
use interact_sdk::time::UnixMillis;
use interact_server::config::Config;
use interact_server::state::AppState;
use interact_server::store::EmbedCodeRecord;
use interact_server::tenant::TargetRef;
use interact_terminal_visitor::{Driver, Error, Options, Outcome, visitor_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const DEMO: &str = include_str!("../../../../config/demo.toml");
/// An origin the demo Domain Template allows.
pub const ALLOWED: &str = "http://127.0.0.1:8081";
/// Upper bound for anything the tests wait for; never a way to let time pass.
pub const LIMIT: Duration = Duration::from_secs(10);

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
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        Self::start_on(config, "127.0.0.1:0".parse().expect("addr")).await
    }

    /// As [`TestServer::start`], on `addr` (the address of a stopped server, to restart it).
    pub async fn start_on(config: Config, addr: SocketAddr) -> Self {
        let state = interact_server::build_state(config).await.expect("state");
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
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

    /// Creates an embed code for the demo service, bound to the demo template.
    pub async fn embed_code(&self) -> EmbedCode {
        let code = EmbedCode::from_random(interact_server::auth::random_128());
        let record = EmbedCodeRecord {
            code: code.clone(),
            target: TargetRef::Service("support".into()),
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

    /// A sign-in token for `user`, stored as the login endpoint would.
    pub async fn agent_token(&self, user: &str) -> String {
        let token = interact_server::auth::random_token();
        let now = interact_server::state::now();
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

/// An agent connection, played frame by frame.
pub struct AgentClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl AgentClient {
    /// Connects and signs in with `token`; returns the `welcome`.
    pub async fn sign_in(addr: SocketAddr, token: &str) -> (Self, ServerFrame) {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/agent/ws"))
            .await
            .expect("agent connect");
        let mut agent = Self { ws };
        agent
            .send(&ClientFrame::AgentHello(AgentHello {
                protocol: PROTOCOL_VERSION,
                token: token.into(),
                client: None,
                resume: Default::default(),
            }))
            .await;
        let welcome = agent.recv().await;
        (agent, welcome)
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.ws
            .send(Message::Text(encode(frame).into()))
            .await
            .expect("send");
    }

    /// The next protocol frame (skipping pings), within [`LIMIT`].
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            let msg = tokio::time::timeout(LIMIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("stream open")
                .expect("no transport error");
            match msg {
                Message::Text(t) => return decode_server(t.as_str()).expect("valid server frame"),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// Frames until one matches (that one last).
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
}

/// The terminal client running on in-memory pipes: the test types lines and reads what
/// it prints.
pub struct Terminal {
    keyboard: DuplexStream,
    screen: DuplexStream,
    /// Everything printed so far.
    printed: Vec<u8>,
    /// Where the next [`Terminal::expect`] starts looking.
    cursor: usize,
    task: JoinHandle<Result<Outcome, Error>>,
}

impl Terminal {
    /// Starts the client against `addr` with the demo origin.
    pub fn start(addr: SocketAddr, code: &EmbedCode, seed: u64) -> Self {
        let options = Options {
            url: visitor_url(&format!("http://{addr}"), code.as_str()).expect("url"),
            origin: ALLOWED.into(),
            seed,
        };
        let (keyboard, input) = tokio::io::duplex(4096);
        let (output, screen) = tokio::io::duplex(64 * 1024);
        let driver = Driver::new(options, BufReader::new(input), output);
        Self {
            keyboard,
            screen,
            printed: Vec::new(),
            cursor: 0,
            task: tokio::spawn(driver.run()),
        }
    }

    /// Types a line and presses Enter.
    pub async fn type_line(&mut self, line: &str) {
        self.keyboard
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("type");
    }

    /// Waits until `text` is printed after what earlier calls matched; panics with the
    /// transcript after [`LIMIT`].
    pub async fn expect(&mut self, text: &str) {
        let found = tokio::time::timeout(LIMIT, async {
            loop {
                // `cursor` is just after an earlier match, so on a character boundary.
                let unread = String::from_utf8_lossy(&self.printed[self.cursor..]);
                if let Some(at) = unread.find(text) {
                    self.cursor += at + text.len();
                    return;
                }
                let mut buf = [0u8; 4096];
                let n = self.screen.read(&mut buf).await.expect("read screen");
                assert!(n > 0, "the client stopped printing");
                self.printed.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        if found.is_err() {
            panic!(
                "{text:?} not printed within {LIMIT:?}; transcript:\n{}",
                String::from_utf8_lossy(&self.printed)
            );
        }
    }

    /// Waits for the client to stop; returns how, and reads the rest of its output.
    pub async fn finish(mut self) -> (Result<Outcome, Error>, String) {
        let result = tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("the client stops in time")
            .expect("the client does not panic");
        self.screen
            .read_to_end(&mut self.printed)
            .await
            .expect("the rest of the output");
        let transcript = String::from_utf8(self.printed).expect("utf-8 output");
        (result, transcript)
    }
}
