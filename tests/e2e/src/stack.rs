//! The server and the host pages, each on a loopback port of its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::time::UnixMillis;
use interact_server::config::Config;
use interact_server::node::state::AppState;
use interact_store::EmbedCodeRecord;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The demo configuration, adjusted by [`Stack::start`].
const DEMO: &str = include_str!("../../../config/demo.toml");

/// The workspace's `www` folder (the console, the widget files and package).
pub fn www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../www")
}

/// Fails with what to do if the widget's wasm package has not been built.
pub fn require_widget_package() {
    let wasm = www().join("widget/pkg/interact_widget_bg.wasm");
    assert!(
        wasm.is_file(),
        "{} is missing: build the widget with `cargo xtask widget` (`cargo xtask test` does)",
        wasm.display()
    );
}

/// A running server, a host page on an allowed origin and one on a foreign origin.
#[derive(Debug)]
pub struct Stack {
    /// The server's address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>` of the server (its `public_url`).
    pub server_url: String,
    /// The host page on an origin the code's Domain Template allows.
    pub host_url: String,
    /// The same host page on an origin the template does not list.
    pub foreign_url: String,
    /// The server's state (store, hub, metrics).
    pub state: AppState,
    /// An embed code for the `support` service bound to the `demo` template.
    pub code: EmbedCode,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Runs the server on `listener` until the returned sender fires.
fn serve(listener: TcpListener, state: AppState) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = interact_server::run(listener, state, async move {
            let _ = stopped.await;
        })
        .await;
    });
    (stop, task)
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

impl Stack {
    /// Starts everything; `adjust` may change the configuration first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .try_init();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, server_url) = bind().await;
        let (host, host_url) = bind().await;
        let (foreign, foreign_url) = bind().await;
        let addr = server.local_addr().expect("addr");

        let mut config = Config::parse(DEMO).expect("demo config parses");
        config.server.database = dir.path().join("interact.db");
        config.server.www = www();
        config.server.listen = addr;
        config.server.public_url = server_url.clone();
        config.demo = None;
        for t in &mut config.domain_templates {
            if t.name == "demo" {
                t.origins = vec![server_url.clone(), host_url.clone()];
            }
        }
        adjust(&mut config);
        config.validate().expect("the test configuration is valid");

        let config_copy = config.clone();
        let state = interact_server::build_state(config).await.expect("state");
        let code = EmbedCode::from_random(interact_server::auth::random_128());
        state
            .store
            .create_embed_code(&EmbedCodeRecord {
                code: code.clone(),
                target: TargetRef::Service("support".into()),
                template: "demo".into(),
                created_at: UnixMillis(1),
                revoked_at: None,
            })
            .await
            .expect("store the embed code");

        let (stop, server_task) = serve(server, state.clone());
        let mut tasks = Vec::new();
        for listener in [host, foreign] {
            let custom_ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom-ui");
            let app = interact_server::http::demo::demo_host(&server_url, &code, Some(&custom_ui));
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
        }
        Self {
            addr,
            server_url,
            host_url,
            foreign_url,
            state,
            code,
            config: config_copy,
            stop: Some(stop),
            server: Some(server_task),
            tasks,
            _dir: dir,
        }
    }

    /// The custom-UI example (`examples/custom-ui`) on the host origin, pointed at this
    /// server and its embed code.
    pub fn custom_ui_url(&self) -> String {
        format!(
            "{}/custom/?server={}&code={}",
            self.host_url,
            self.server_url,
            self.code.as_str()
        )
    }

    /// Starts everything with the demo configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A sign-in token for agent `user`, stored as the login endpoint would.
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

    /// Sessions the server has ever created (open ones, in the store).
    pub async fn open_sessions(&self) -> usize {
        self.state
            .store
            .open_sessions()
            .await
            .expect("list sessions")
            .len()
    }

    /// Stops the server (every connection is closed with 1001, as on a real shutdown)
    /// and starts a new one on the same port and database, which restores the open
    /// sessions. The host pages keep running.
    pub async fn restart_server(&mut self) {
        self.stop_server().await;
        self.start_server().await;
    }

    /// Starts the server again after [`stop_server`](Self::stop_server), on the same port
    /// and database, which restores the open sessions.
    pub async fn start_server(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind the same port again");
        let state = interact_server::build_state(self.config.clone())
            .await
            .expect("state after the restart");
        let (stop, task) = serve(listener, state.clone());
        self.state = state;
        self.stop = Some(stop);
        self.server = Some(task);
    }

    /// Stops the server (every connection is closed with 1001, as on a real shutdown); the
    /// host pages keep running. [`start_server`](Self::start_server) brings it back.
    pub async fn stop_server(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }

    /// Stops the server and the host pages.
    pub async fn stop(mut self) {
        self.stop_server().await;
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}
