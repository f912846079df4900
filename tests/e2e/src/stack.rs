//! The server and the host pages, each on a loopback port of its own: the server is the
//! testkit's in-process [`TestServer`]; the host pages are the demo's, on origins of their
//! own.

use std::path::Path;
use std::time::Duration;

use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_server::config::Config;
use interact_testkit::TestServer;
pub use interact_testkit::www;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Fails with what to do if the widget's wasm package has not been built.
pub fn require_widget_package() {
    for module in [
        "interact_widget",
        "interact_widget_frame",
        "interact_widget_call",
    ] {
        let wasm = www().join(format!("widget/pkg/{module}_bg.wasm"));
        assert!(
            wasm.is_file(),
            "{} is missing: build the widget with `cargo xtask widget` (`cargo xtask test` does)",
            wasm.display()
        );
    }
}

/// A running server, a host page on an allowed origin and one on a foreign origin.
#[derive(Debug)]
pub struct Stack {
    /// The server's address.
    pub addr: std::net::SocketAddr,
    /// `http://127.0.0.1:<port>` of the server (its `public_url`).
    pub server_url: String,
    /// The host page on an origin the code's Domain Template allows.
    pub host_url: String,
    /// The same host page on an origin the template does not list.
    pub foreign_url: String,
    /// The server (its state: `stack.server.state`).
    pub server: TestServer,
    /// An embed code for the `support` service bound to the `demo` template.
    pub code: EmbedCode,
    tasks: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

impl Stack {
    /// Starts everything; `adjust` may change the configuration first (the testkit's
    /// demo configuration, its `public_url` the server's and the `demo` template allowing
    /// the server and the host page).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_from(interact_testkit::DEMO, adjust).await
    }

    /// [`start_with`](Self::start_with) from another configuration text (the demo's with
    /// a workflow of the test's, say).
    pub async fn start_from(text: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, server_url) = bind().await;
        let (host, host_url) = bind().await;
        let (foreign, foreign_url) = bind().await;

        let mut config = interact_testkit::config_from(text, dir.path());
        config.server.public_url = server_url.clone();
        for t in &mut config.domain_templates {
            if t.name == "demo" {
                t.origins = vec![server_url.clone(), host_url.clone()];
            }
        }
        adjust(&mut config);
        config.validate().expect("the test configuration is valid");

        let server = TestServer::start_on(server, config).await;
        let code = server
            .embed_code(TargetRef::Service("support".into()))
            .await;
        let mut tasks = Vec::new();
        for listener in [host, foreign] {
            let custom_ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom-ui");
            let app = interact_server::http::demo::demo_host(&server_url, &code, Some(&custom_ui));
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
        }
        Self {
            addr: server.addr,
            server_url,
            host_url,
            foreign_url,
            server,
            code,
            tasks,
            _dir: dir,
        }
    }

    /// Starts everything with the demo configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
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

    /// A signed link to the Preview page of the demo code, as the administration gives one
    /// (`POST /admin/v1/embed-codes/{code}/preview-link`).
    pub async fn preview_link(&self) -> String {
        let state = &self.server.state;
        let (ticket, _) =
            interact_server::preview::issue(state.store.as_ref(), self.code.as_str(), state.now())
                .await
                .expect("a Preview ticket");
        format!(
            "{}/preview/{}?ticket={ticket}",
            self.server_url,
            self.code.as_str()
        )
    }

    /// A sign-in token for agent `user`, stored as the login endpoint would.
    pub async fn agent_token(&self, user: &str) -> String {
        self.server.agent_token(user).await
    }

    /// Sessions the server has ever created (open ones, in the store).
    pub async fn open_sessions(&self) -> usize {
        self.server
            .state
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
        self.server.restart().await;
    }

    /// Starts the server again after [`stop_server`](Self::stop_server), on the same port
    /// and database, which restores the open sessions.
    pub async fn start_server(&mut self) {
        self.server.start_again().await;
    }

    /// Stops the server (every connection is closed with 1001, as on a real shutdown); the
    /// host pages keep running. [`start_server`](Self::start_server) brings it back.
    pub async fn stop_server(&mut self) {
        self.server.shut_down().await;
    }

    /// Stops the server and the host pages.
    pub async fn stop(mut self) {
        self.server.shut_down().await;
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}
